//! Reader for the Planetoid raw files (Cora, Citeseer, PubMed as PyG and Kipf's GCN download
//! them): a folder holding `ind.NAME.{x,y,tx,ty,allx,ally,graph,test.index}`.
//!
//! The seven pickles are read by the bounded unpickler ([`super::pickle`]); `test.index` is text,
//! one node id per line. The processing is Kipf's `load_data` and PyG's `read_planetoid_data`:
//!
//! - nodes `0..|allx|` are the rows of `allx`/`ally`; the test nodes are `test.index`, and row
//!   `i` of `tx`/`ty` belongs to node `test.index[i]` (both put the rows back in that order);
//! - the node count is `max(test.index) + 1`. Citeseer's test ids skip 15 ids in that range
//!   (isolated nodes without features): as both do, those nodes get zero feature rows and, as
//!   PyG does (`argmax` of a zero one-hot row), label 0; they are in no split, so the label is
//!   never trained or scored. A warning counts them;
//! - labels are the argmax of the one-hot rows of `ally`/`ty` (the first maximum);
//! - the public split: train = the first `|y|` nodes, validation the next 500, test the
//!   `test.index` nodes;
//! - `graph` (node → neighbour list) is symmetrized, with self-loops and duplicate edges
//!   removed (PyG removes them too; Kipf's networkx graph drops duplicates only).
//!
//! Node order: gcnsim keeps the Planetoid order above (PyG's), unchanged. It is the order of
//! the files, so a node id means the same here as in PyG and in Kipf's code, and the public
//! split stays three ranges plus `test.index`. `shared/datasets/cora` (OGB layout) uses the very
//! same order, so both folders give the same dataset, fingerprint included (a test checks it).
//!
//! Refused, with the file and what is wrong: pickles outside what the unpickler accepts (by
//! opcode, global, byte offset), shapes that disagree between files, test ids that do not start
//! right after `allx`, duplicate test ids, node ids in `graph` outside the node range,
//! non-finite features, more left-out test ids than listed ones, and a dense feature matrix over
//! [`MAX_DENSE_CELLS`].

use std::path::{Path, PathBuf};

use super::pickle::{self, Limits, Pickled};
use super::{DataError, Dataset, Split};
use crate::bounded;
use crate::graph::Csr;
use crate::tensor::HostMatrix;

/// The eight file suffixes of a Planetoid dataset (`ind.NAME.<suffix>`).
pub const SUFFIXES: [&str; 8] = ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"];

/// The layout, as error messages show it.
pub const LAYOUT: &str = "a Planetoid folder (PyG's Cora/raw, CiteSeer/raw, PubMed/raw) holds
  ind.NAME.x, ind.NAME.y, ind.NAME.tx, ind.NAME.ty, ind.NAME.allx, ind.NAME.ally,
  ind.NAME.graph, ind.NAME.test.index
(DIR:name=NAME picks one where a folder holds several)";

/// Validation nodes of the public split, right after the training nodes.
pub const VALID_NODES: usize = 500;

/// Bound on one pickle file (PubMed's largest is 0.4 MB).
const FILE_LIMIT: u64 = 1 << 30;
/// Bound on `test.index`.
const INDEX_LIMIT: u64 = 64 << 20;
/// Bound on the cells of a dense matrix (features or one-hot labels): 1 GiB of f32.
pub const MAX_DENSE_CELLS: usize = 1 << 28;

/// The NAMEs for which `dir` holds all eight files, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("ind.")?.strip_suffix(".graph").map(str::to_string))
        .filter(|name| SUFFIXES.iter().all(|s| file(dir, name, s).is_file()))
        .collect();
    names.sort();
    names
}

fn file(dir: &Path, name: &str, suffix: &str) -> PathBuf {
    dir.join(format!("ind.{name}.{suffix}"))
}

/// Loads the Planetoid dataset `name` (or the only one) in `dir`.
pub fn load(dir: &Path, name: Option<&str>) -> Result<Dataset, DataError> {
    let name = choose_name(dir, name)?;
    let path = |suffix: &str| file(dir, &name, suffix);
    let x = read_matrix(&path("x"))?;
    let y = read_matrix(&path("y"))?;
    let allx = read_matrix(&path("allx"))?;
    let ally = read_matrix(&path("ally"))?;
    let tx = read_matrix(&path("tx"))?;
    let ty = read_matrix(&path("ty"))?;
    let test = read_test_index(&path("test.index"))?;
    let shapes = Shapes::check(&path, [&x, &y, &allx, &ally, &tx, &ty], &test)?;
    let graph = read_graph(&path("graph"))?;
    let adjacency = adjacency(&path("graph"), &graph, shapes.nodes)?;
    let features = features(&allx, &tx, &test, shapes.nodes);
    let labels = labels(&ally, &ty, &test, shapes.nodes);
    let split = Split {
        train: (0..y.rows as u32).collect(),
        valid: (y.rows as u32..(y.rows + VALID_NODES) as u32).collect(),
        test: sorted(&test),
    };
    let mut warnings = Vec::new();
    if shapes.padded > 0 {
        warnings.push(format!(
            "{}: {} ids in the test range are missing from test.index (isolated nodes): they get zero \
             features and label 0, in no split, as in PyG",
            path("test.index").display(),
            shapes.padded
        ));
    }
    Ok(Dataset { name, adjacency, features, labels, num_classes: ally.cols, split, warnings })
}

/// `name` if its eight files are there, else the only complete set; errors list what is there.
fn choose_name(dir: &Path, name: Option<&str>) -> Result<String, DataError> {
    let found = names_in(dir);
    let listing = if found.is_empty() { "none".to_string() } else { found.join(", ") };
    let invalid = |message: String| Err(DataError::Invalid { path: dir.to_path_buf(), message });
    match name {
        Some(n) if found.iter().any(|f| f == n) => Ok(n.to_string()),
        Some(n) => {
            let missing: Vec<&str> = SUFFIXES.iter().copied().filter(|s| !file(dir, n, s).is_file()).collect();
            invalid(format!(
                "no Planetoid dataset `{n}` (missing ind.{n}.{{{}}}); complete ones here: {listing}",
                missing.join(",")
            ))
        }
        None => match found.as_slice() {
            [only] => Ok(only.clone()),
            [] => invalid(format!("holds no complete Planetoid dataset; {LAYOUT}")),
            _ => invalid(format!("holds several Planetoid datasets ({listing}): name one with DIR:name=NAME")),
        },
    }
}

/// A dense row-major matrix read from a pickle.
struct Dense {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Dense {
    fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

fn invalid(path: &Path, message: String) -> DataError {
    DataError::Invalid { path: path.to_owned(), message }
}

fn unpickle(path: &Path) -> Result<Pickled, DataError> {
    let bytes = bounded::read(path, FILE_LIMIT).map_err(|cause| DataError::Io { path: path.to_owned(), cause })?;
    pickle::unpickle(&bytes, &Limits::for_input(bytes.len())).map_err(|e| invalid(path, e.to_string()))
}

/// A csr_matrix or a 2-D array, dense, every value finite.
fn read_matrix(path: &Path) -> Result<Dense, DataError> {
    let (rows, cols, data) = match unpickle(path)? {
        Pickled::Csr(m) => {
            check_cells(path, m.rows, m.cols)?;
            (m.rows, m.cols, m.to_dense())
        }
        Pickled::Array(a) if a.shape.len() == 2 => {
            check_cells(path, a.shape[0], a.shape[1])?;
            (a.shape[0], a.shape[1], a.to_f32())
        }
        Pickled::Array(a) => return Err(invalid(path, format!("a {}-D array, not a matrix", a.shape.len()))),
        Pickled::IntLists(_) => return Err(invalid(path, "a dict, not a matrix (csr_matrix or 2-D array)".into())),
    };
    if let Some(at) = data.iter().position(|v| !v.is_finite()) {
        let (r, c) = (at / cols.max(1), at % cols.max(1));
        return Err(invalid(path, format!("row {r}, column {c}: value {} is not finite", data[at])));
    }
    Ok(Dense { rows, cols, data })
}

fn check_cells(path: &Path, rows: usize, cols: usize) -> Result<(), DataError> {
    match rows.checked_mul(cols) {
        Some(cells) if cells <= MAX_DENSE_CELLS => Ok(()),
        _ => Err(invalid(path, format!("a {rows} × {cols} matrix exceeds the {MAX_DENSE_CELLS}-cell limit"))),
    }
}

fn read_graph(path: &Path) -> Result<Vec<(i64, Vec<i64>)>, DataError> {
    match unpickle(path)? {
        Pickled::IntLists(lists) => Ok(lists),
        _ => Err(invalid(path, "expected a dict of node id → neighbour ids".into())),
    }
}

/// One node id per line, no id twice.
fn read_test_index(path: &Path) -> Result<Vec<u32>, DataError> {
    let text =
        bounded::read_to_string(path, INDEX_LIMIT).map_err(|cause| DataError::Io { path: path.to_owned(), cause })?;
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let parse = |message: String| DataError::Parse { path: path.to_owned(), line: i as u64 + 1, message };
        let id: u32 = line.trim().parse().map_err(|_| parse(format!("expected a node id, found `{}`", line.trim())))?;
        if !seen.insert(id) {
            return Err(parse(format!("duplicate node id {id}")));
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(invalid(path, "no test node ids".into()));
    }
    Ok(ids)
}

/// The sizes the files must agree on.
struct Shapes {
    nodes: usize,
    /// Ids in `|allx|..nodes` that `test.index` leaves out (Citeseer's isolated nodes).
    padded: usize,
}

impl Shapes {
    fn check(path: &dyn Fn(&str) -> PathBuf, m: [&Dense; 6], test: &[u32]) -> Result<Shapes, DataError> {
        let [x, y, allx, ally, tx, ty] = m;
        let fail = |suffix: &str, message: String| Err(invalid(&path(suffix), message));
        for (suffix, other) in [("x", x), ("tx", tx)] {
            if other.cols != allx.cols {
                return fail(suffix, format!("{} feature columns, but allx has {}", other.cols, allx.cols));
            }
        }
        if ally.cols == 0 || ally.cols > super::ogb::MAX_CLASSES as usize {
            return fail("ally", format!("{} label columns (classes)", ally.cols));
        }
        for (suffix, other) in [("y", y), ("ty", ty)] {
            if other.cols != ally.cols {
                return fail(suffix, format!("{} label columns, but ally has {}", other.cols, ally.cols));
            }
        }
        let row_pairs =
            [("y", y.rows, "x", x.rows), ("ally", ally.rows, "allx", allx.rows), ("ty", ty.rows, "tx", tx.rows)];
        for (a, a_rows, b, b_rows) in row_pairs {
            if a_rows != b_rows {
                return fail(a, format!("{a_rows} rows, but ind.*.{b} has {b_rows}"));
            }
        }
        if tx.rows != test.len() {
            return fail("tx", format!("{} rows, but test.index has {} ids", tx.rows, test.len()));
        }
        if y.rows + VALID_NODES > allx.rows {
            let message = format!(
                "the public split needs |y| + {VALID_NODES} = {} labelled nodes, allx has {}",
                y.rows + VALID_NODES,
                allx.rows
            );
            return fail("allx", message);
        }
        let (min, max) = (test.iter().min().copied().unwrap_or(0), test.iter().max().copied().unwrap_or(0));
        if min as usize != allx.rows {
            let message = format!("test ids start at {min}; Planetoid's test nodes follow allx's {} rows", allx.rows);
            return fail("test.index", message);
        }
        let nodes = max as usize + 1;
        let padded = nodes - allx.rows - test.len();
        // Citeseer leaves out 15 of 1015; more gaps than ids would be ids invented by the file.
        if padded > test.len() {
            let message =
                format!("test ids leave out {padded} ids of {min}..={max}, more than the {} they list", test.len());
            return fail("test.index", message);
        }
        check_cells(&path("tx"), nodes, allx.cols)?;
        Ok(Shapes { nodes, padded })
    }
}

/// `allx` rows, then row `i` of `tx` at node `test[i]`; padded nodes stay zero.
fn features(allx: &Dense, tx: &Dense, test: &[u32], nodes: usize) -> HostMatrix {
    let mut features = HostMatrix::zeros(nodes, allx.cols);
    features.data[..allx.data.len()].copy_from_slice(&allx.data);
    for (i, &node) in test.iter().enumerate() {
        features.row_mut(node as usize).copy_from_slice(tx.row(i));
    }
    features
}

/// The first maximum of a one-hot row (0 for a zero row, as PyG's `max(dim=1)`).
fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best as u32
}

fn labels(ally: &Dense, ty: &Dense, test: &[u32], nodes: usize) -> Vec<u32> {
    let mut labels = vec![0u32; nodes];
    for (r, label) in labels.iter_mut().enumerate().take(ally.rows) {
        *label = argmax(ally.row(r));
    }
    for (i, &node) in test.iter().enumerate() {
        labels[node as usize] = argmax(ty.row(i));
    }
    labels
}

fn adjacency(path: &Path, graph: &[(i64, Vec<i64>)], nodes: usize) -> Result<Csr, DataError> {
    let node = |id: i64| {
        u32::try_from(id).ok().filter(|&v| (v as usize) < nodes).ok_or_else(|| {
            invalid(path, format!("node id {id} is outside the {nodes} nodes that the features and test.index give"))
        })
    };
    let total: usize = graph.iter().map(|(_, v)| v.len()).sum();
    if total.saturating_mul(2) > u32::MAX as usize {
        return Err(invalid(path, "too many edges for u32 adjacency offsets".into()));
    }
    let mut pairs = Vec::with_capacity(2 * total);
    for (key, neighbours) in graph {
        let src = node(*key)?;
        for &dst in neighbours {
            let dst = node(dst)?;
            pairs.push((src, dst));
            pairs.push((dst, src));
        }
    }
    Csr::from_pairs(nodes, nodes, pairs, true).map_err(|e| invalid(path, e.to_string()))
}

fn sorted(ids: &[u32]) -> Vec<u32> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

#[cfg(test)]
#[path = "planetoid_tests.rs"]
mod tests;
