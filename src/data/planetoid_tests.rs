use super::*;
use crate::data::pickle::tests::P;
use crate::data::testdata;

/// The eight files of a small dataset `name` (3 features, 2 classes): 2 training nodes, allx of
/// 502 rows, test ids 503, 502, 505 (504 left out, as Citeseer leaves ids out).
struct Tiny {
    allx_rows: usize,
    tx_cols: i64,
    test_index: String,
    graph: Vec<(i64, Vec<i64>)>,
    tx_value: f32,
}

impl Default for Tiny {
    fn default() -> Self {
        Self {
            allx_rows: 502,
            tx_cols: 3,
            test_index: "503\n502\n505\n".into(),
            graph: vec![(0, vec![1, 1, 0]), (2, vec![503]), (505, vec![502])],
            tx_value: 7.0,
        }
    }
}

/// A csr_matrix whose row r has value r+1 in column r % cols.
fn csr_rows(rows: usize, cols: i64, value: impl Fn(usize) -> f32) -> P {
    let indptr: Vec<i32> = (0..=rows as i32).collect();
    let indices: Vec<i32> = (0..rows).map(|r| (r % cols as usize) as i32).collect();
    let data: Vec<f32> = (0..rows).map(value).collect();
    P::new().csr((rows as i64, cols), &indptr, &indices, &data)
}

/// A one-hot label array; row r has class r % 2.
fn one_hot(rows: usize) -> P {
    let raw: Vec<u8> =
        (0..rows).flat_map(|r| [(r % 2 == 0) as i32, (r % 2 == 1) as i32]).flat_map(i32::to_le_bytes).collect();
    P::new().array(&[rows as i64, 2], "i4", "<", |p| p.bstr(&raw))
}

fn graph(lists: &[(i64, Vec<i64>)]) -> P {
    let mut p = P::new().global("collections", "defaultdict").global("__builtin__", "list").op(0x85).op(b'R');
    p = p.op(b'(');
    for (k, v) in lists {
        p = p.int(*k).op(b']');
        if !v.is_empty() {
            p = v.iter().fold(p.op(b'('), |p, &x| p.int(x)).op(b'e');
        }
    }
    p.op(b'u')
}

impl Tiny {
    fn write(&self, dir: &Path, name: &str) {
        let tx_value = self.tx_value;
        let files: [(&str, Vec<u8>); 7] = [
            ("x", csr_rows(2, 3, |r| r as f32 + 1.0).stop()),
            ("y", one_hot(2).stop()),
            ("allx", csr_rows(self.allx_rows, 3, |r| r as f32 + 1.0).stop()),
            ("ally", one_hot(self.allx_rows).stop()),
            ("tx", csr_rows(3, self.tx_cols, |r| tx_value + r as f32).stop()),
            ("ty", one_hot(3).stop()),
            ("graph", graph(&self.graph).stop()),
        ];
        for (suffix, bytes) in files {
            std::fs::write(file(dir, name, suffix), bytes).unwrap();
        }
        std::fs::write(file(dir, name, "test.index"), &self.test_index).unwrap();
    }

    fn load(&self) -> Result<Dataset, DataError> {
        let dir = tempfile::tempdir().unwrap();
        self.write(dir.path(), "tiny");
        load(dir.path(), None)
    }

    fn error(&self) -> String {
        self.load().map(|_| ()).unwrap_err().to_string()
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{message}` should mention `{part}`");
    }
}

#[test]
fn a_small_dataset_follows_kipf_and_pyg() {
    let ds = Tiny::default().load().unwrap();
    assert_eq!(ds.name, "tiny");
    assert_eq!(ds.num_nodes(), 506);
    assert_eq!((ds.features.cols, ds.num_classes), (3, 2));
    // allx row r: value r+1 in column r % 3.
    assert_eq!(ds.features.row(4), &[0.0, 5.0, 0.0]);
    // tx row i belongs to node test.index[i]; node 504 is padded with zeros.
    assert_eq!(ds.features.row(503), &[7.0, 0.0, 0.0]);
    assert_eq!(ds.features.row(502), &[0.0, 8.0, 0.0]);
    assert_eq!(ds.features.row(505), &[0.0, 0.0, 9.0]);
    assert_eq!(ds.features.row(504), &[0.0, 0.0, 0.0]);
    assert_eq!(&ds.labels[500..], &[0, 1, 1, 0, 0, 0]);
    assert_eq!(ds.split.train, vec![0, 1]);
    assert_eq!(ds.split.valid, (2..502).collect::<Vec<u32>>());
    assert_eq!(ds.split.test, vec![502, 503, 505]);
    // Symmetrized; the self-loop 0-0 and the duplicate 0-1 are gone.
    assert!(ds.adjacency.is_symmetric());
    assert_eq!(ds.num_undirected_edges(), 3);
    assert_eq!(ds.adjacency.row(0), &[1]);
    assert_eq!(ds.adjacency.row(503), &[2]);
    assert_eq!(ds.warnings.len(), 1);
    assert_mentions(&ds.warnings[0], &["ind.tiny.test.index", "1 ids", "label 0"]);
}

#[test]
fn names_are_chosen_or_listed() {
    let dir = tempfile::tempdir().unwrap();
    Tiny::default().write(dir.path(), "one");
    Tiny::default().write(dir.path(), "two");
    std::fs::write(dir.path().join("ind.three.graph"), b"").unwrap();
    assert_eq!(names_in(dir.path()), vec!["one", "two"]);
    let ambiguous = load(dir.path(), None).unwrap_err().to_string();
    assert_mentions(&ambiguous, &["several Planetoid datasets (one, two)", ":name=NAME"]);
    assert_eq!(load(dir.path(), Some("two")).unwrap().name, "two");
    let missing = load(dir.path(), Some("three")).unwrap_err().to_string();
    assert_mentions(&missing, &["no Planetoid dataset `three`", "x,y,tx,ty,allx,ally,test.index", "one, two"]);
    let empty = tempfile::tempdir().unwrap();
    assert_mentions(
        &load(empty.path(), None).unwrap_err().to_string(),
        &["no complete Planetoid dataset", "ind.NAME.ally"],
    );
}

#[test]
fn inconsistent_files_are_refused_naming_the_file() {
    let cols = Tiny { tx_cols: 4, ..Tiny::default() }.error();
    assert_mentions(&cols, &["ind.tiny.tx", "4 feature columns, but allx has 3"]);
    let start = Tiny { test_index: "504\n505\n506\n".into(), ..Tiny::default() }.error();
    assert_mentions(&start, &["ind.tiny.test.index", "start at 504", "502 rows"]);
    let dup = Tiny { test_index: "502\n503\n502\n".into(), ..Tiny::default() }.error();
    assert_mentions(&dup, &["ind.tiny.test.index:3", "duplicate node id 502"]);
    let text = Tiny { test_index: "502\nfive\n503\n".into(), ..Tiny::default() }.error();
    assert_mentions(&text, &["ind.tiny.test.index:2", "`five`"]);
    let count = Tiny { test_index: "502\n503\n".into(), ..Tiny::default() }.error();
    assert_mentions(&count, &["ind.tiny.tx", "3 rows, but test.index has 2 ids"]);
    let gaps = Tiny { test_index: "502\n503\n4000000000\n".into(), ..Tiny::default() }.error();
    assert_mentions(&gaps, &["ind.tiny.test.index", "leave out", "more than the 3"]);
    let small = Tiny { allx_rows: 400, test_index: "400\n401\n402\n".into(), ..Tiny::default() }.error();
    assert_mentions(&small, &["ind.tiny.allx", "|y| + 500 = 502", "allx has 400"]);
    let far = Tiny { graph: vec![(0, vec![506])], ..Tiny::default() }.error();
    assert_mentions(&far, &["ind.tiny.graph", "node id 506 is outside the 506 nodes"]);
    let negative = Tiny { graph: vec![(-1, vec![1])], ..Tiny::default() }.error();
    assert_mentions(&negative, &["ind.tiny.graph", "node id -1"]);
    let nan = Tiny { tx_value: f32::NAN, ..Tiny::default() }.error();
    assert_mentions(&nan, &["ind.tiny.tx", "row 0, column 0", "not finite"]);
}

#[test]
fn a_broken_pickle_names_the_file_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    Tiny::default().write(dir.path(), "tiny");
    let mut bytes = std::fs::read(file(dir.path(), "tiny", "ally")).unwrap();
    bytes[2] = b'i';
    std::fs::write(file(dir.path(), "tiny", "ally"), &bytes).unwrap();
    let message = load(dir.path(), None).unwrap_err().to_string();
    assert_mentions(&message, &["ind.tiny.ally: byte 2: INST: is not supported"]);
    std::fs::write(file(dir.path(), "tiny", "ally"), P::new().global("os", "system").stop()).unwrap();
    let message = load(dir.path(), None).unwrap_err().to_string();
    assert_mentions(&message, &["ind.tiny.ally: byte 2: GLOBAL: `os.system` is not allowed"]);
    std::fs::write(file(dir.path(), "tiny", "ally"), graph(&[]).stop()).unwrap();
    assert_mentions(&load(dir.path(), None).unwrap_err().to_string(), &["ind.tiny.ally", "a dict, not a matrix"]);
    std::fs::write(file(dir.path(), "tiny", "allx"), csr_rows(1, 1 << 30, |_| 1.0).stop()).unwrap();
    assert_mentions(&load(dir.path(), None).unwrap_err().to_string(), &["ind.tiny.allx", "cell limit"]);
}

/// Cora from the Planetoid files: the published counts.
#[test]
fn planetoid_cora_has_the_published_counts() {
    let Some(dir) = testdata::dataset_dir("planetoid-cora") else { return };
    let ds = load(&dir, None).unwrap();
    assert_eq!(ds.name, "cora");
    assert_eq!((ds.num_nodes(), ds.num_undirected_edges()), (2708, 5278));
    assert_eq!((ds.features.cols, ds.num_classes), (1433, 7));
    let split = &ds.split;
    assert_eq!((split.train.len(), split.valid.len(), split.test.len()), (140, 500, 1000));
    assert_eq!((split.test[0], split.test[999]), (1708, 2707));
    assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
}

/// The acceptance check: the same nodes, edges, features, labels and split as the OGB-layout
/// Cora in `shared/datasets/cora`, in the same node order (so the fingerprints agree too).
#[test]
fn planetoid_cora_equals_the_ogb_layout_cora() {
    let (Some(planetoid), Some(ogb)) = (testdata::dataset_dir("planetoid-cora"), testdata::dataset_dir("cora")) else {
        return;
    };
    let p = load(&planetoid, None).unwrap();
    let o = crate::data::ogb::load(&ogb, &crate::data::ogb::OgbOptions::default()).unwrap();
    assert_eq!(p.num_nodes(), o.num_nodes());
    assert_eq!(p.num_classes, o.num_classes);
    assert_eq!(p.adjacency, o.adjacency, "edge sets");
    assert_eq!(p.features, o.features, "features");
    assert_eq!(p.labels, o.labels, "labels");
    assert_eq!(p.split, o.split, "split");
    assert_eq!(p.fingerprint(), o.fingerprint());
}

/// Fuzz target: one or two of the eight files of [`Tiny`] mutated at byte level, then loaded.
/// A loaded dataset has one feature row and label per node, labels below its class count, a
/// square symmetric adjacency and disjoint splits of its nodes.
#[test]
fn mutated_planetoid_folders_are_refused_or_consistent() {
    use crate::fuzz::{self, Outcome};
    let template = tempfile::tempdir().unwrap();
    Tiny::default().write(template.path(), "tiny");
    let originals: Vec<(String, Vec<u8>)> = SUFFIXES
        .iter()
        .map(|s| (format!("ind.tiny.{s}"), std::fs::read(file(template.path(), "tiny", s)).unwrap()))
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let report = fuzz::run_cases("planetoid folders", fuzz::case_count(300), 0x91a_e701d, |case, m| {
        let dir = scratch.path().join(case.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let mutated: Vec<usize> = (0..1 + m.below(2)).map(|_| m.below(originals.len())).collect();
        for (i, (name, bytes)) in originals.iter().enumerate() {
            let mut bytes = bytes.clone();
            if mutated.contains(&i) {
                m.havoc(&mut bytes, &[], 3);
            }
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let loaded = load(&dir, None);
        std::fs::remove_dir_all(&dir).unwrap();
        let Ok(ds) = loaded else { return Outcome::refused("refused") };
        let n = ds.num_nodes();
        assert_eq!((ds.labels.len(), ds.features.rows), (n, n));
        assert!(ds.labels.iter().all(|&y| (y as usize) < ds.num_classes));
        assert!(ds.adjacency.is_symmetric() && ds.adjacency.col_idx.iter().all(|&c| (c as usize) < n));
        let mut seen = std::collections::HashSet::new();
        for id in ds.split.train.iter().chain(&ds.split.valid).chain(&ds.split.test) {
            assert!((*id as usize) < n && seen.insert(*id), "split id {id}");
        }
        Outcome::Accepted
    });
    assert!(report.accepted > 0 && report.refused > 0, "{report}");
}
