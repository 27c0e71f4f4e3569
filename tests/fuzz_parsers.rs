//! Fuzz targets for the parsers of untrusted input: spec strings (every grammar), experiment
//! files, dataset folders and npz files (Reddit's). Each case mutates a valid input
//! (`gcnsim::fuzz`), parses it and asserts: no panic, and either an error or a result that is
//! consistent (a spec round-trips through its written form; an experiment has runs with distinct
//! ids; a dataset's parts agree in size).
//!
//! `cargo test` runs a bounded number of cases; `GCNSIM_FUZZ_CASES=N` sets the count of every
//! target (long runs: `GCNSIM_FUZZ_CASES=1000000 cargo test --release --test fuzz_parsers`), and
//! `GCNSIM_FUZZ_REPLAY=i` replays case `i` of a failing target.

use std::collections::HashSet;
use std::fmt::{Debug, Display};
use std::path::Path;
use std::str::FromStr;

use gcnsim::cost::Topology;
use gcnsim::data::{ogb, reddit, Dataset, DatasetSpec};
use gcnsim::experiment::Experiment;
use gcnsim::fuzz::{self, Mutator, Outcome};
use gcnsim::ps::robust::{Attack, PreAggregation, RobustRule};
use gcnsim::ps::{Aggregator, LrSchedule, OptimizerSpec};
use gcnsim::sim::cluster::{FailureSpec, Stragglers};

/// One grammar: its name and valid specs to mutate.
type Grammar = (&'static str, &'static [&'static str]);

/// A mutated spec either fails to parse or parses to a value whose written form parses back to
/// the same value, and writes the same text again.
fn round_trip_case<T>(m: &mut Mutator, seeds: &[&str]) -> Outcome
where
    T: FromStr + Display + PartialEq + Debug,
{
    let seed = *m.pick(seeds);
    let text = m.havoc_text(seed, 4);
    let Ok(value) = text.parse::<T>() else { return Outcome::refused("does not parse") };
    let written = value.to_string();
    let again =
        written.parse::<T>().unwrap_or_else(|_| panic!("`{text}` parsed, but its written form `{written}` does not"));
    assert_eq!(again, value, "`{text}` → `{written}` parses to another value");
    assert_eq!(again.to_string(), written, "`{written}` is not written the same way twice");
    Outcome::Accepted
}

fn fuzz_grammar<T>(grammar: Grammar, cases: u64)
where
    T: FromStr + Display + PartialEq + Debug,
{
    let (name, seeds) = grammar;
    let report =
        fuzz::run_cases(&format!("spec strings: {name}"), cases, 0x5bec, |_, m| round_trip_case::<T>(m, seeds));
    assert!(report.accepted > 0, "{name}: no mutant parsed; the seeds or the mutator are broken");
}

const RULES: &[&str] = &[
    "median",
    "trimmed_mean:f=2",
    "krum:f=2",
    "multi_krum:f=1,m=4",
    "geometric_median:nu=0.001,tol=0,iters=10",
    "centered_clipping:tau=0.5,iters=3",
];
const AGGREGATORS: &[&str] = &["weighted", "mean", "sum", "krum:f=2", "geometric_median:iters=5"];
const PRE_AGGREGATIONS: &[&str] = &["none", "nnm:f=2", "bucketing:s=3"];
const ATTACKS: &[&str] = &[
    "none",
    "sign_flip:of=own",
    "scaled:factor=-10,of=mean",
    "gaussian:sigma=0.1",
    "zero",
    "alie:z=1.5",
    "ipm:eps=10",
    "mimic:target=1",
    "label_flip",
];
const OPTIMIZERS: &[&str] = &[
    "sgd",
    "adam:beta1=0.8,eps=0.001",
    "momentum:mu=0.5",
    "rmsprop:rho=0.5,eps=0.25",
    "ftrl:beta=1,l1=0.01",
    "adagrad:init=0",
];
const SCHEDULES: &[&str] =
    &["constant", "constant:warmup=5", "cosine:min=0.1,warmup=10", "step:every=10,gamma=0.5,warmup=4"];
const STRAGGLERS: &[&str] = &["none", "bernoulli:p=0.1,factor=8", "fixed:worker=2,factor=3", "lognormal:sigma=0.5"];
const FAILURES: &[&str] = &["worker=3,at=0.5,down=0.25", "worker=1,at=2"];
const TOPOLOGIES: &[&str] = &["flat", "ring", "tree", "tree:depth=3"];
const DATASETS: &[&str] = &[
    "csbm",
    "csbm:nodes=1000,classes=4,homophily=0.9,seed=3",
    "csbm:avg_degree=2.5,signal=0.1,train_per_class=3,valid=7,test=9,features=3",
    "cora:split=planetoid",
    "data/planetoid:name=citeseer",
];

fn every_grammar(cases: u64) {
    fuzz_grammar::<RobustRule>(("rules", RULES), cases);
    fuzz_grammar::<Aggregator>(("aggregators", AGGREGATORS), cases);
    fuzz_grammar::<PreAggregation>(("pre-aggregations", PRE_AGGREGATIONS), cases);
    fuzz_grammar::<Attack>(("attacks", ATTACKS), cases);
    fuzz_grammar::<OptimizerSpec>(("optimizers", OPTIMIZERS), cases);
    fuzz_grammar::<LrSchedule>(("schedules", SCHEDULES), cases);
    fuzz_grammar::<Stragglers>(("stragglers", STRAGGLERS), cases);
    fuzz_grammar::<FailureSpec>(("failures", FAILURES), cases);
    fuzz_grammar::<Topology>(("topologies", TOPOLOGIES), cases);
    fuzz_grammar::<DatasetSpec>(("datasets", DATASETS), cases);
}

#[test]
fn spec_strings_never_panic_and_round_trip() {
    every_grammar(fuzz::case_count(3000));
}

/// The shipped experiment files, mutated as text. A parsed experiment has at least one run, and
/// no two runs share an id or a configuration.
#[test]
fn experiment_files_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, String)> = std::fs::read_dir(root.join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    // Relative profile paths in the files resolve from the project root.
    std::env::set_current_dir(root).unwrap();
    let report = fuzz::run_cases("experiment files", fuzz::case_count(150), 0xe4e, |_, m| {
        let (name, text) = m.pick(&files).clone();
        let text = m.havoc_text(&text, 3);
        let Ok(exp) = Experiment::parse(&text, Path::new(&name)) else { return Outcome::refused("refused") };
        assert!(!exp.runs.is_empty(), "{name}: an experiment with no runs");
        let ids: HashSet<&str> = exp.runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids.len(), exp.runs.len(), "{name}: two runs share an id");
        Outcome::Accepted
    });
    assert!(report.accepted > 0, "no mutant parsed");
}

/// A small valid OGB folder's files (name, text), as `ogb`'s own tests write them.
const DATASET_FILES: &[(&str, &str)] = &[
    ("raw/edge.csv", "0,1\n1,2\n2,1\n3,4\n4,5\n"),
    ("raw/node-feat.csv", "1.0,0\n0,1\n0.5,-2e-1\n0,0\n1,1\n2,0.5\n"),
    ("raw/node-label.csv", "0\n1\n1\n0\n2\n1\n"),
    ("raw/num-node-list.csv", "6\n"),
    ("raw/num-edge-list.csv", "5\n"),
    ("split/s/train.csv", "1\n0\n4\n"),
    ("split/s/valid.csv", "2\n"),
    ("split/s/test.csv", "3\n5\n"),
];

/// Mutates one or two files of the folder (headers and rows alike) and loads it. A loaded
/// dataset has one label and one feature row per node, a square adjacency over its nodes, labels
/// below its class count and disjoint splits of its nodes.
#[test]
fn dataset_folders_never_panic() {
    let scratch = tempfile::tempdir().unwrap();
    let report = fuzz::run_cases("dataset folders", fuzz::case_count(500), 0xda7a, |case, m| {
        let dir = scratch.path().join(case.to_string());
        let mutated: Vec<usize> = (0..1 + m.below(2)).map(|_| m.below(DATASET_FILES.len())).collect();
        for (i, (name, text)) in DATASET_FILES.iter().enumerate() {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = if mutated.contains(&i) { m.havoc_text(text, 3) } else { text.to_string() };
            std::fs::write(path, text).unwrap();
        }
        let loaded = ogb::load(&dir, &ogb::OgbOptions::default());
        std::fs::remove_dir_all(&dir).unwrap();
        let Ok(ds) = loaded else { return Outcome::refused("refused") };
        assert_consistent(&ds);
        Outcome::Accepted
    });
    assert!(report.accepted > 0, "no mutant loaded");
}

/// One label and one feature row per node, a square adjacency over its nodes, labels below the
/// class count, disjoint splits of its nodes.
fn assert_consistent(ds: &Dataset) {
    let n = ds.num_nodes();
    assert_eq!(ds.labels.len(), n);
    assert_eq!(ds.features.rows, n);
    assert_eq!(ds.features.data.len(), n * ds.features.cols);
    assert_eq!((ds.adjacency.rows, ds.adjacency.cols), (n, n));
    assert!(ds.adjacency.col_idx.iter().all(|&c| (c as usize) < n));
    assert!(ds.labels.iter().all(|&y| (y as usize) < ds.num_classes));
    let mut seen = HashSet::new();
    for id in ds.split.train.iter().chain(&ds.split.valid).chain(&ds.split.test) {
        assert!((*id as usize) < n && seen.insert(*id), "split id {id}");
    }
}

/// One array as `np.save` writes it.
fn npy<T: npyz::AutoSerialize + Clone>(shape: &[u64], data: &[T]) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut writer = npyz::WriteOptions::new().default_dtype().shape(shape).writer(&mut bytes).begin_nd().unwrap();
    writer.extend(data.iter().cloned()).unwrap();
    writer.finish().unwrap();
    bytes.into_inner()
}

/// `.npy` members zipped as `np.savez` does (stored).
fn zipped(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = npyz::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = npyz::zip::write::FileOptions::default().compression_method(npyz::zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// An archive's arrays: (name, `.npy` bytes).
type Members = Vec<(&'static str, Vec<u8>)>;

/// A 6-node Reddit: (file name, its arrays).
fn reddit_members() -> Vec<(&'static str, Members)> {
    let features: Vec<f32> = (0..18).map(|i| i as f32 / 8.0).collect();
    let data = vec![
        ("feature", npy(&[6, 3], &features)),
        ("label", npy(&[6], &[0i64, 1, 1, 0, 2, 1])),
        ("node_types", npy(&[6], &[1u8, 1, 2, 3, 3, 1])),
        ("node_ids", npy(&[6], &[0i64, 1, 2, 3, 4, 5])),
    ];
    let (row, col) = ([0i32, 1, 1, 2, 3, 4, 5, 5], [1i32, 0, 2, 1, 4, 3, 5, 0]);
    let format = {
        let mut bytes = npy(&[], &[0u8]);
        // `|S3` b'coo', as scipy writes it: patch the header (same length) and the byte.
        let at = bytes.windows(5).position(|w| w == b"'|u1'").expect("npyz writes u8 as |u1");
        bytes[at..at + 5].copy_from_slice(b"'|S3'");
        bytes.pop();
        bytes.extend_from_slice(b"coo");
        bytes
    };
    let graph = vec![
        ("row", npy(&[8], &row)),
        ("col", npy(&[8], &col)),
        ("data", npy(&[8], &[1.0f32; 8])),
        ("shape", npy(&[2], &[6i64, 6])),
        ("format", format),
    ];
    vec![(reddit::DATA, data), (reddit::GRAPH, graph)]
}

/// Reddit's two files, mutated: mostly one array's `.npy` bytes (header or data), zipped again so
/// the mutation reaches npyz's header parser and gcnsim's bounds; sometimes the archive's bytes.
#[test]
fn npz_files_never_panic() {
    let members = reddit_members();
    let valid = tempfile::tempdir().unwrap();
    for (file, arrays) in &members {
        std::fs::write(valid.path().join(file), zipped(arrays)).unwrap();
    }
    assert_consistent(&reddit::load(valid.path(), true).expect("the unmutated files load"));
    let scratch = tempfile::tempdir().unwrap();
    let report = fuzz::run_cases("npz files", fuzz::case_count(500), 0x6e92, |case, m| {
        let dir = scratch.path().join(case.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let target = m.below(members.len());
        let whole_archive = m.chance(0.2);
        for (i, (file, arrays)) in members.iter().enumerate() {
            let mut arrays = arrays.clone();
            if i == target && !whole_archive {
                let k = m.below(arrays.len());
                m.havoc(&mut arrays[k].1, &[], 3);
            }
            let mut bytes = zipped(&arrays);
            if i == target && whole_archive {
                m.havoc(&mut bytes, &[], 3);
            }
            std::fs::write(dir.join(file), bytes).unwrap();
        }
        let loaded = reddit::load(&dir, true);
        std::fs::remove_dir_all(&dir).unwrap();
        let Ok(ds) = loaded else { return Outcome::refused("refused") };
        assert_consistent(&ds);
        Outcome::Accepted
    });
    assert!(report.accepted > 0, "no mutant loaded");
}
