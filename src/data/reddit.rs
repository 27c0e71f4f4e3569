//! Reddit as PyG and DGL ship it (`reddit.zip`, unpacked):
//!
//! ```text
//! <dir>/reddit_data.npz   feature [N, F] float, label [N] int, node_types [N] 1/2/3 =
//!                         train/valid/test (node_ids [N] ignored)
//! <dir>/reddit_graph.npz  a scipy COO matrix (scipy.sparse.save_npz): row [E], col [E],
//!                         data [E], shape [2] = (N, N), format = b'coo'
//! ```
//!
//! Processing follows PyG's `Reddit.process`: the split from `node_types`, the edges coalesced
//! (sorted, duplicates removed); the values in `data` are not used. gcnsim also drops self-loops
//! (GCN's Â adds its own) and symmetrizes, as for every dataset folder; Reddit's graph is
//! symmetric already, and a warning says so when a file's is not.

use std::path::Path;

use super::npz::{Npz, Number};
use super::{DataError, Dataset, Split};
use crate::graph::Csr;
use crate::tensor::HostMatrix;

pub const DATA: &str = "reddit_data.npz";
pub const GRAPH: &str = "reddit_graph.npz";

/// The layout, as error messages show it.
pub const LAYOUT: &str = "a Reddit folder (as PyG and DGL ship it) holds
  reddit_data.npz    feature [N, F], label [N], node_types [N] (1/2/3 = train/valid/test)
  reddit_graph.npz   the graph as scipy.sparse.save_npz writes a COO matrix (row, col, shape)";

/// Whether `dir` holds Reddit's two files.
pub fn detect(dir: &Path) -> bool {
    dir.join(DATA).is_file() && dir.join(GRAPH).is_file()
}

/// Loads the Reddit folder `dir`; edges in both directions when `symmetrize`.
pub fn load(dir: &Path, symmetrize: bool) -> Result<Dataset, DataError> {
    let data_path = dir.join(DATA);
    let mut data = Npz::open(&data_path)?;
    let features = read_features(&mut data)?;
    let num_nodes = features.rows;
    let labels = read_labels(&mut data, num_nodes)?;
    let split = read_split(&mut data, num_nodes)?;

    let graph_path = dir.join(GRAPH);
    let (pairs, stored) = read_coo(&graph_path, num_nodes)?;
    let directed =
        Csr::from_pairs(num_nodes, num_nodes, pairs, true).map_err(|e| invalid(&graph_path, e.to_string()))?;
    let mut warnings = Vec::new();
    let self_loops_and_duplicates = stored - directed.nnz();
    if self_loops_and_duplicates > 0 {
        warnings.push(format!(
            "{}: {self_loops_and_duplicates} of its {stored} entries were self-loops or duplicates (dropped; GCN's Â adds its own self-loops)",
            graph_path.display()
        ));
    }
    let adjacency = if symmetrize && !is_symmetric(&directed) {
        warnings.push(format!(
            "{}: the graph is not symmetric; gcnsim adds the reverse of every edge",
            graph_path.display()
        ));
        symmetrized(&directed, &graph_path)?
    } else {
        directed
    };
    let num_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    Ok(Dataset { name: "reddit".to_string(), adjacency, features, labels, num_classes, split, warnings })
}

fn read_features(npz: &mut Npz) -> Result<HostMatrix, DataError> {
    let shape = npz.shape("feature")?;
    let [rows, cols] = shape[..] else {
        return Err(invalid(npz.path(), format!("array `feature`: expected shape [N, F], found {shape:?}")));
    };
    if rows == 0 || rows > u32::MAX as usize {
        return Err(invalid(npz.path(), format!("array `feature`: unsupported node count {rows}")));
    }
    let array = npz.read("feature", |v, _| match v {
        Number::Float(x) if x.is_finite() => Ok(x as f32),
        Number::Float(x) => Err(format!("feature is not finite ({x})")),
        other => Err(format!("expected floating-point features, found the integer {other}")),
    })?;
    Ok(HostMatrix::from_vec(rows, cols, array.data))
}

fn read_labels(npz: &mut Npz, num_nodes: usize) -> Result<Vec<u32>, DataError> {
    check_per_node(npz, "label", num_nodes)?;
    let array = npz.read("label", |v, _| match v {
        Number::Float(_) => Err(format!("expected integer labels, found {v}")),
        _ => match v.as_i64() {
            Some(y) if (0..super::ogb::MAX_CLASSES as i64).contains(&y) => Ok(y as u32),
            _ => Err(format!("label {v} is not a class id (0..{})", super::ogb::MAX_CLASSES)),
        },
    })?;
    Ok(array.data)
}

/// `node_types`: 1 = train, 2 = valid, 3 = test, for every node.
fn read_split(npz: &mut Npz, num_nodes: usize) -> Result<Split, DataError> {
    check_per_node(npz, "node_types", num_nodes)?;
    let mut split = Split::default();
    npz.read("node_types", |v, i| {
        let node = i as u32;
        match v.as_i64() {
            Some(1) => split.train.push(node),
            Some(2) => split.valid.push(node),
            Some(3) => split.test.push(node),
            _ => return Err(format!("node type {v} is not 1, 2 or 3 (train, valid, test)")),
        }
        Ok(())
    })?;
    for (name, ids) in [("train", &split.train), ("valid", &split.valid), ("test", &split.test)] {
        if ids.is_empty() {
            return Err(invalid(npz.path(), format!("array `node_types`: no node has the {name} type")));
        }
    }
    Ok(split)
}

/// A one-dimensional array of one entry per node.
fn check_per_node(npz: &mut Npz, key: &str, num_nodes: usize) -> Result<(), DataError> {
    let shape = npz.shape(key)?;
    if shape[..] != [num_nodes] {
        let message =
            format!("array `{key}`: expected shape [{num_nodes}] (one per row of `feature`), found {shape:?}");
        return Err(invalid(npz.path(), message));
    }
    Ok(())
}

/// The (row, col) pairs of scipy's COO file and how many entries it stores.
fn read_coo(path: &Path, num_nodes: usize) -> Result<(Vec<(u32, u32)>, usize), DataError> {
    let mut npz = Npz::open(path)?;
    let format = npz.read_bytes("format")?;
    if format != b"coo" {
        let message = format!(
            "array `format`: the matrix is stored as `{}`, gcnsim reads scipy's `coo` (as Reddit ships it)",
            String::from_utf8_lossy(&format)
        );
        return Err(invalid(path, message));
    }
    let shape = npz.read("shape", |v, _| v.as_i64().ok_or_else(|| format!("expected an integer, found {v}")))?;
    if shape.data[..] != [num_nodes as i64, num_nodes as i64] {
        let message =
            format!("array `shape`: the matrix is {:?}, but reddit_data.npz has {num_nodes} nodes", shape.data);
        return Err(invalid(path, message));
    }
    let row_shape = npz.shape("row")?;
    let entries = match row_shape[..] {
        [e] => e,
        _ => return Err(invalid(path, format!("array `row`: expected shape [E], found {row_shape:?}"))),
    };
    for key in ["col", "data"] {
        let shape = npz.shape(key)?;
        if shape[..] != [entries] {
            let message = format!("array `{key}`: shape {shape:?}, but `row` has shape [{entries}]");
            return Err(invalid(path, message));
        }
    }
    if entries > u32::MAX as usize / 2 {
        return Err(invalid(path, format!("array `row`: {entries} entries are too many for u32 offsets")));
    }
    let rows = npz.read("row", |v, _| node_id(v, num_nodes))?.data;
    let cols = npz.read("col", |v, _| node_id(v, num_nodes))?.data;
    Ok((rows.into_iter().zip(cols).collect(), entries))
}

fn node_id(v: Number, num_nodes: usize) -> Result<u32, String> {
    match v {
        Number::Float(_) => Err(format!("expected integer node ids, found {v}")),
        _ => match v.as_i64() {
            Some(id) if id >= 0 && (id as u64) < num_nodes as u64 => Ok(id as u32),
            _ => Err(format!("node id {v} out of range (the graph has {num_nodes} nodes)")),
        },
    }
}

/// Whether `a` equals its transpose. A counting-sort transpose and two comparisons stream
/// through memory; `Csr::is_symmetric`'s binary search per entry took most of the load time on
/// a Reddit-sized graph.
fn is_symmetric(a: &Csr) -> bool {
    let t = a.transpose();
    t.row_ptr == a.row_ptr && t.col_idx == a.col_idx
}

/// `a` with the reverse of every entry added.
fn symmetrized(a: &Csr, path: &Path) -> Result<Csr, DataError> {
    let mut pairs = Vec::with_capacity(2 * a.nnz());
    for r in 0..a.rows {
        for &c in a.row(r) {
            pairs.push((r as u32, c));
            pairs.push((c, r as u32));
        }
    }
    Csr::from_pairs(a.rows, a.cols, pairs, true).map_err(|e| invalid(path, e.to_string()))
}

fn invalid(path: &Path, message: String) -> DataError {
    DataError::Invalid { path: path.to_owned(), message }
}

#[cfg(test)]
mod tests {
    use super::super::npz::fixtures::{npy_bytes, write_npz, Arr, Entry};
    use super::*;

    /// A 5-node Reddit: edges 0-1, 1-2, 3-4 in both directions, plus a self-loop and a
    /// duplicate; 3 features; 2 classes; types train 0,1 / valid 2 / test 3,4.
    struct Reddit {
        feature: Vec<f32>,
        feature_shape: Vec<u64>,
        label: Vec<i64>,
        node_types: Vec<i32>,
        row: Vec<i32>,
        col: Vec<i32>,
        shape: Vec<i64>,
        format: &'static [u8],
    }

    impl Default for Reddit {
        fn default() -> Self {
            Self {
                feature: (0..15).map(|i| i as f32 / 4.0).collect(),
                feature_shape: vec![5, 3],
                label: vec![0, 1, 1, 0, 1],
                node_types: vec![1, 1, 2, 3, 3],
                row: vec![0, 1, 1, 2, 3, 4, 2, 0],
                col: vec![1, 0, 2, 1, 4, 3, 2, 1],
                shape: vec![5, 5],
                format: b"coo",
            }
        }
    }

    impl Reddit {
        fn write(&self, dir: &Path) {
            let feature = Arr("feature", self.feature_shape.clone(), self.feature.clone());
            let label = Arr("label", vec![self.label.len() as u64], self.label.clone());
            let types = Arr("node_types", vec![self.node_types.len() as u64], self.node_types.clone());
            let ids = Arr("node_ids", vec![5], (0..5i64).collect());
            write_npz(&dir.join(DATA), &[&feature, &label, &types, &ids], false);
            self.write_graph(dir, &[]);
        }

        /// The graph file, with `extra` raw members (hostile ones) replacing those named alike.
        fn write_graph(&self, dir: &Path, extra: &[(&str, Vec<u8>)]) {
            let path = dir.join(GRAPH);
            let data = vec![1.0f32; self.row.len()];
            let arrays: Vec<(&str, Box<dyn Entry>)> = vec![
                ("row", Box::new(Arr("row", vec![self.row.len() as u64], self.row.clone()))),
                ("col", Box::new(Arr("col", vec![self.col.len() as u64], self.col.clone()))),
                ("data", Box::new(Arr("data", vec![data.len() as u64], data))),
                ("shape", Box::new(Arr("shape", vec![2], self.shape.clone()))),
            ];
            let header = format!("{{'descr': '|S{}', 'fortran_order': False, 'shape': (), }}", self.format.len());
            let mut raw: Vec<(&str, Vec<u8>)> = vec![("format", npy_bytes(&header, self.format))];
            raw.extend(extra.iter().cloned());
            // Typed members first, then the raw ones (scipy's order does not matter to readers).
            let typed: Vec<&dyn Entry> = arrays
                .iter()
                .filter(|(name, _)| !extra.iter().any(|(e, _)| e == name))
                .map(|(_, a)| a.as_ref())
                .collect();
            write_mixed(&path, &typed, &raw);
        }

        fn load(&self) -> Result<Dataset, DataError> {
            let dir = tempfile::tempdir().unwrap();
            self.write(dir.path());
            load(dir.path(), true)
        }

        fn error(&self) -> String {
            self.load().expect_err("expected an error").to_string()
        }
    }

    fn write_mixed(path: &Path, typed: &[&dyn Entry], raw: &[(&str, Vec<u8>)]) {
        use std::io::Write;
        let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
        let options = npyz::zip::write::FileOptions::default().compression_method(npyz::zip::CompressionMethod::Stored);
        for entry in typed {
            entry.write_into(&mut npz, options);
        }
        for (name, bytes) in raw {
            npz.zip_writer().start_file(format!("{name}.npy"), options).unwrap();
            npz.zip_writer().write_all(bytes).unwrap();
        }
        npz.zip_writer().finish().unwrap();
    }

    fn assert_mentions(message: &str, parts: &[&str]) {
        for part in parts {
            assert!(message.contains(part), "`{message}` should mention `{part}`");
        }
    }

    #[test]
    fn loads_features_labels_split_and_a_coalesced_graph() {
        let ds = Reddit::default().load().unwrap();
        assert_eq!(ds.name, "reddit");
        assert_eq!(ds.num_nodes(), 5);
        assert_eq!((ds.features.rows, ds.features.cols), (5, 3));
        assert_eq!(ds.features.row(1), &[0.75, 1.0, 1.25]);
        assert_eq!(ds.labels, vec![0, 1, 1, 0, 1]);
        assert_eq!(ds.num_classes, 2);
        assert_eq!(ds.split, Split { train: vec![0, 1], valid: vec![2], test: vec![3, 4] });
        assert_eq!(ds.num_undirected_edges(), 3);
        assert!(ds.adjacency.is_symmetric());
        assert_eq!(ds.adjacency.row(1), &[0, 2]);
        assert_eq!(ds.warnings.len(), 1, "{:?}", ds.warnings);
        assert_mentions(&ds.warnings[0], &["reddit_graph.npz", "2 of its 8 entries", "self-loops or duplicates"]);
    }

    #[test]
    fn a_one_directional_graph_is_symmetrized_with_a_warning() {
        let files = Reddit { row: vec![0, 1, 3], col: vec![1, 2, 4], ..Reddit::default() };
        let ds = files.load().unwrap();
        assert!(ds.adjacency.is_symmetric());
        assert_eq!(ds.num_undirected_edges(), 3);
        assert!(ds.warnings.iter().any(|w| w.contains("not symmetric")), "{:?}", ds.warnings);
        let dir = tempfile::tempdir().unwrap();
        files.write(dir.path());
        assert_eq!(load(dir.path(), false).unwrap().adjacency.nnz(), 3);
    }

    #[test]
    fn the_same_files_deflated_load_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let files = Reddit::default();
        let feature = Arr("feature", files.feature_shape.clone(), files.feature.clone());
        let label = Arr("label", vec![5], files.label.clone());
        let types = Arr("node_types", vec![5], files.node_types.clone());
        write_npz(&dir.path().join(DATA), &[&feature, &label, &types], true);
        files.write_graph(dir.path(), &[]);
        let compressed = load(dir.path(), true).unwrap();
        let stored = files.load().unwrap();
        assert_eq!(compressed.features, stored.features);
        assert_eq!(compressed.adjacency, stored.adjacency);
        assert_eq!(compressed.split, stored.split);
    }

    #[test]
    fn node_types_outside_one_to_three_are_refused() {
        for bad in [0, 4, -1] {
            let message = Reddit { node_types: vec![1, 1, 2, bad, 3], ..Reddit::default() }.error();
            assert_mentions(&message, &["reddit_data.npz", "`node_types`", "element 3", &format!("node type {bad}")]);
        }
        let no_valid = Reddit { node_types: vec![1, 1, 3, 3, 3], ..Reddit::default() }.error();
        assert_mentions(&no_valid, &["`node_types`", "no node has the valid type"]);
    }

    #[test]
    fn out_of_range_node_ids_are_refused() {
        let high = Reddit { col: vec![1, 0, 2, 1, 4, 3, 2, 5], ..Reddit::default() }.error();
        assert_mentions(&high, &["reddit_graph.npz", "array `col`", "element 7", "node id 5 out of range", "5 nodes"]);
        let negative = Reddit { row: vec![0, 1, 1, 2, 3, 4, 2, -1], ..Reddit::default() }.error();
        assert_mentions(&negative, &["array `row`", "node id -1 out of range"]);
    }

    #[test]
    fn mismatched_lengths_are_refused() {
        let labels = Reddit { label: vec![0, 1, 1, 0], ..Reddit::default() }.error();
        assert_mentions(&labels, &["reddit_data.npz", "array `label`", "expected shape [5]", "[4]"]);
        let types = Reddit { node_types: vec![1, 1, 2, 3, 3, 3], ..Reddit::default() }.error();
        assert_mentions(&types, &["array `node_types`", "[6]"]);
        let cols = Reddit { col: vec![1, 0, 2], ..Reddit::default() }.error();
        assert_mentions(&cols, &["reddit_graph.npz", "array `col`", "shape [3]", "[8]"]);
        let shape = Reddit { shape: vec![6, 6], ..Reddit::default() }.error();
        assert_mentions(&shape, &["array `shape`", "[6, 6]", "5 nodes"]);
        let features = Reddit { feature_shape: vec![15], ..Reddit::default() }.error();
        assert_mentions(&features, &["array `feature`", "expected shape [N, F]"]);
    }

    #[test]
    fn wrong_dtypes_and_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = Reddit::default();
        files.write(dir.path());
        // Float labels and integer features.
        let feature = Arr("feature", vec![5, 3], (0..15i64).collect());
        let label = Arr("label", vec![5], vec![0.0f32, 1.0, 1.0, 0.0, 1.0]);
        let types = Arr("node_types", vec![5], files.node_types.clone());
        write_npz(&dir.path().join(DATA), &[&feature, &label, &types], false);
        let message = load(dir.path(), true).unwrap_err().to_string();
        assert_mentions(&message, &["array `feature`", "expected floating-point features"]);
        let feature = Arr("feature", vec![5, 3], files.feature.clone());
        write_npz(&dir.path().join(DATA), &[&feature, &label, &types], false);
        let message = load(dir.path(), true).unwrap_err().to_string();
        assert_mentions(&message, &["array `label`", "expected integer labels"]);
        // A complex `row`, and a CSR matrix instead of COO.
        files.write(dir.path());
        let complex = npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (8,), }", &[0; 64]);
        files.write_graph(dir.path(), &[("row", complex)]);
        let message = load(dir.path(), true).unwrap_err().to_string();
        assert_mentions(&message, &["reddit_graph.npz", "array `row`", "unsupported dtype <c8"]);
        Reddit { format: b"csr", ..Reddit::default() }.write_graph(dir.path(), &[]);
        let message = load(dir.path(), true).unwrap_err().to_string();
        assert_mentions(&message, &["array `format`", "`csr`", "coo"]);
    }

    #[test]
    fn a_hostile_header_claiming_a_trillion_features_is_refused_not_allocated() {
        let dir = tempfile::tempdir().unwrap();
        let files = Reddit::default();
        files.write(dir.path());
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }";
        let label = Arr("label", vec![5], files.label.clone());
        let types = Arr("node_types", vec![5], files.node_types.clone());
        let data = dir.path().join(DATA);
        write_mixed(&data, &[&label, &types], &[("feature", npy_bytes(header, &[0; 64]))]);
        let started = std::time::Instant::now();
        let message = load(dir.path(), true).unwrap_err().to_string();
        assert_mentions(&message, &["reddit_data.npz", "array `feature`", "shape [1000000, 1000000]", "holds at most"]);
        assert!(started.elapsed().as_secs() < 2);
    }
}
