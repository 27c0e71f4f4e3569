//! Loader for the OGB node-property-prediction raw layout.
//!
//! ```text
//! <dir>/raw/edge.csv.gz           src,dst            one line per edge
//! <dir>/raw/node-feat.csv.gz      f1,...,fF          one line per node
//! <dir>/raw/node-label.csv.gz     label              one line per node
//! <dir>/raw/num-node-list.csv.gz  N
//! <dir>/raw/num-edge-list.csv.gz  E                  optional, checked against edge.csv
//! <dir>/split/<name>/{train,valid,test}.csv.gz       one node id per line
//! ```
//!
//! OGB's binary layout (`raw/data.npz` + `raw/node-label.npz`, see [`binary`]) loads too. The
//! other files OGB's loaders leave (`mapping/`, `processed/`, `raw/node_year.csv.gz`) are
//! ignored. A folder that names an OGB graph (`ogbn_arxiv`, `ogbn-products`, or its
//! `RELEASE_v1.txt`; see [`master`]) is read as OGB's master table says: `add_inverse_edge`
//! graphs list each undirected edge once and get its inverse (even when a directed graph is
//! asked for), the split defaults to OGB's, the release goes into the dataset's name, and
//! multi-label or heterogeneous graphs are refused. Any other folder loads as it always did.
//!
//! Every file may also be a plain `.csv`. Files are read streaming (ogbn-arxiv has 1.2M edges and
//! 169k × 128 features), reusing one `ByteRecord`, so nothing is allocated per line. Every
//! problem is reported with the file and, where one applies, the 1-based line.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use csv::ByteRecord;
use flate2::read::GzDecoder;

use super::{lines, DataError, Dataset, Split};
use crate::graph::Csr;
use crate::tensor::HostMatrix;

mod binary;
pub mod master;

use master::OgbGraph;

/// How to read an OGB directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OgbOptions {
    /// Folder under `split/` to use; `None` means "the only one there is".
    pub split: Option<String>,
    /// Make the graph undirected (GCN needs a symmetric Â).
    pub symmetrize: bool,
}

impl Default for OgbOptions {
    fn default() -> Self {
        Self { split: None, symmetrize: true }
    }
}

/// The layout, as error messages show it.
pub const LAYOUT: &str = "a dataset folder in the OGB raw layout holds
  raw/edge.csv.gz            src,dst per line
  raw/node-feat.csv.gz       one line of F numbers per node
  raw/node-label.csv.gz      one integer label per line
  raw/num-node-list.csv.gz   one line: the node count
  split/NAME/{train,valid,test}.csv.gz   node ids, one per line
(plain .csv works too; OGB's binary raw/data.npz + raw/node-label.npz instead of the raw/ CSV
files; RELEASE_v*.txt, mapping/ and processed/ as OGB leaves them)";

/// Loads the dataset in `dir` (see the module docs for the layout).
pub fn load(dir: &Path, opts: &OgbOptions) -> Result<Dataset, DataError> {
    check_layout(dir)?;
    let folder = dataset_name(dir);
    let identity = master::identify(dir, &folder)?;
    if let Some(graph) = identity.graph {
        refuse_unsupported(dir, graph)?;
    }
    // OGB's loader adds the inverse of every edge where its master table says so; gcnsim does
    // the same even when asked for the directed graph.
    let add_inverse_edge = identity.graph.is_some_and(|g| g.add_inverse_edge);
    let raw = dir.join("raw");
    let parts = if is_binary(&raw) {
        binary::read(&raw, opts.symmetrize)?
    } else {
        read_csv_parts(&raw, opts.symmetrize || add_inverse_edge)?
    };
    let Parts { num_nodes, labels, unlabeled, features, adjacency, edge_count, mut warnings } = parts;

    let num_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let wanted = opts.split.as_deref().or_else(|| default_split(dir, identity.graph));
    let split = read_split(&split_dir(dir, wanted)?, num_nodes)?;
    warnings.extend(check_unlabeled(dir, &unlabeled, &split)?);
    let name = match identity.graph {
        Some(graph) => {
            warnings.extend(identity.release_warnings(graph, dir));
            warnings.extend(size_warnings(dir, graph, num_nodes, edge_count));
            warnings.extend(edge_notes(graph, &adjacency, edge_count, opts.symmetrize));
            identity.dataset_name(graph)
        }
        None => folder,
    };
    Ok(Dataset { name, adjacency, features, labels, num_classes, split, warnings })
}

/// The arrays of a folder, before the adjacency and the split are built.
struct Parts {
    num_nodes: usize,
    labels: Vec<u32>,
    /// Nodes without a label (NaN in `node-label.npz`), given 0.
    unlabeled: Vec<u32>,
    features: HostMatrix,
    /// Symmetric where asked, no self-loops, no duplicates.
    adjacency: Csr,
    /// Edges as the file lists them (`num-edge-list`'s count).
    edge_count: u64,
    warnings: Vec<String>,
}

/// `raw/data.npz` without an `edge.csv[.gz]`: OGB's binary layout.
fn is_binary(raw: &Path) -> bool {
    raw.join(binary::DATA).is_file() && find_file(raw, "edge").is_err()
}

fn read_csv_parts(raw: &Path, symmetrize: bool) -> Result<Parts, DataError> {
    let num_nodes = read_node_count(&find_file(raw, "num-node-list")?)?;
    // The declared count is a claim, not a size to allocate: the label and feature files must
    // bear it out line by line before anything proportional to it (adjacency offsets, split
    // flags) exists, so a 1 KB folder declaring 4 billion nodes is refused, not allocated.
    let labels = read_labels(&find_file(raw, "node-label")?, num_nodes)?;
    let features = read_features(&find_file(raw, "node-feat")?, num_nodes)?;

    let edge_path = find_file(raw, "edge")?;
    let (adjacency, edge_lines) = read_adjacency(&edge_path, num_nodes, symmetrize)?;
    let counted = check_edge_count(raw, &edge_path, edge_lines)?;
    let mut warnings = Vec::new();
    if edge_lines == 0 && !counted {
        warnings.push(format!(
            "{} has no edges (and there is no num-edge-list file to confirm it): the GCN sees every node alone",
            edge_path.display()
        ));
    }
    Ok(Parts { num_nodes, labels, unlabeled: Vec::new(), features, adjacency, edge_count: edge_lines, warnings })
}

/// Graphs of OGB's table that gcnsim cannot train: heterogeneous or multi-label ones.
fn refuse_unsupported(dir: &Path, graph: &OgbGraph) -> Result<(), DataError> {
    let why = if graph.hetero {
        format!("{} is a heterogeneous graph (several node and edge types); gcnsim trains on one node type", graph.name)
    } else if graph.tasks > 1 {
        format!(
            "{} is multi-label {} ({} tasks, one label column each); gcnsim trains single-label classification",
            graph.name, graph.task, graph.tasks
        )
    } else {
        return Ok(());
    };
    Err(DataError::Invalid { path: dir.to_owned(), message: why })
}

/// With several split folders and none named, the one OGB's master table uses (`time` for
/// ogbn-arxiv), if the folder has it.
fn default_split(dir: &Path, graph: Option<&OgbGraph>) -> Option<&'static str> {
    let graph = graph?;
    dir.join("split").join(graph.split).is_dir().then_some(graph.split)
}

/// Nodes without a label are fine outside the split (ogbn-papers100M labels 1.5% of its
/// nodes); one inside it would be trained or scored on a made-up class.
fn check_unlabeled(dir: &Path, unlabeled: &[u32], split: &Split) -> Result<Option<String>, DataError> {
    if unlabeled.is_empty() {
        return Ok(None);
    }
    for (name, ids) in [("train", &split.train), ("valid", &split.valid), ("test", &split.test)] {
        if let Some(id) = unlabeled.iter().find(|id| ids.binary_search(id).is_ok()) {
            let message = format!("node {id} is in the {name} split but has no label (NaN in raw/{})", binary::LABELS);
            return Err(DataError::Invalid { path: dir.join("split"), message });
        }
    }
    Ok(Some(format!("{} nodes have no label (NaN); none of them is in the split", unlabeled.len())))
}

/// A folder under an OGB graph's name whose sizes are not the published ones: a subset, or
/// another graph. Said, not refused.
fn size_warnings(dir: &Path, graph: &OgbGraph, nodes: usize, edges: u64) -> Option<String> {
    (nodes as u64 != graph.nodes || edges != graph.edges).then(|| {
        format!(
            "{}: {} has {} nodes and {} edges in OGB's release, this folder {nodes} and {edges}: a subset, or another graph under its name",
            dir.display(),
            graph.name,
            graph.nodes,
            graph.edges
        )
    })
}

/// How the edge file became gcnsim's graph, where that is worth saying: a directed OGB graph
/// made undirected, or lines that were duplicates or self-loops.
fn edge_notes(graph: &OgbGraph, adjacency: &Csr, edge_lines: u64, symmetrize: bool) -> Option<String> {
    if !graph.add_inverse_edge {
        let undirected = adjacency.nnz() / 2;
        return symmetrize.then(|| {
            format!(
                "{} is directed in OGB (add_inverse_edge = False): gcnsim adds the reverse of each of its {edge_lines} edges for GCN, {undirected} undirected edges in all",
                graph.name
            )
        });
    }
    // add_inverse_edge: each line is one undirected edge, so the counts agree unless lines repeat.
    let undirected = adjacency.nnz() as u64 / 2;
    (undirected != edge_lines).then(|| {
        format!(
            "{} lists {edge_lines} edges (each once, add_inverse_edge = True); {} of them were duplicates or self-loops, {undirected} undirected edges remain",
            graph.name,
            edge_lines.saturating_sub(undirected)
        )
    })
}

/// A folder with `raw/` and `split/`; anything else gets the layout in its error.
fn check_layout(dir: &Path) -> Result<(), DataError> {
    let invalid = |message: String| Err(DataError::Invalid { path: dir.to_path_buf(), message });
    if dir.is_file() {
        return invalid(format!("is a file, not a dataset folder; {LAYOUT}"));
    }
    for sub in ["raw", "split"] {
        if !dir.join(sub).is_dir() {
            return invalid(format!("has no {sub}/ folder; {LAYOUT}"));
        }
    }
    Ok(())
}

/// The folder's own name ("cora"), resolving `.` and friends through the file system.
fn dataset_name(dir: &Path) -> String {
    let canonical = || dir.canonicalize().ok()?.file_name().map(|n| n.to_os_string());
    let name = dir.file_name().map(|n| n.to_os_string()).or_else(canonical);
    name.map_or_else(|| "dataset".to_string(), |n| n.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------------------------------------
// Files and records
// ---------------------------------------------------------------------------------------------

/// `<dir>/<stem>.csv.gz`, else `<dir>/<stem>.csv`; the error names both paths it tried.
fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{stem}.csv.gz"));
    let plain = dir.join(format!("{stem}.csv"));
    if gz.is_file() {
        return Ok(gz);
    }
    if plain.is_file() {
        return Ok(plain);
    }
    let message = format!("file not found (also tried {})", plain.display());
    Err(DataError::Io { path: gz, cause: std::io::Error::new(std::io::ErrorKind::NotFound, message) })
}

fn open(path: &Path) -> Result<Box<dyn Read + Send>, DataError> {
    let file = File::open(path).map_err(|cause| DataError::Io { path: path.to_owned(), cause })?;
    let buffered = BufReader::with_capacity(1 << 16, file);
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(GzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Calls `visit(record, line)` for every non-empty line of `path`; a message returned by `visit`
/// becomes a [`DataError::Parse`] at that line. Returns the number of records.
fn for_each_record(
    path: &Path,
    mut visit: impl FnMut(&ByteRecord, u64) -> Result<(), String>,
) -> Result<u64, DataError> {
    // `flexible`: a wrong column count is reported by the callers, with their own wording.
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(1 << 16).from_reader(open(path)?);
    let mut record = ByteRecord::new();
    let mut count = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(count),
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e, count)),
        }
        let line = record.position().map_or(count + 1, |p| p.line());
        visit(&record, line).map_err(|message| DataError::Parse { path: path.to_owned(), line, message })?;
        count += 1;
    }
}

fn csv_error(path: &Path, error: csv::Error, records_so_far: u64) -> DataError {
    let line = error.position().map_or(records_so_far + 1, |p| p.line());
    match error.into_kind() {
        csv::ErrorKind::Io(cause) => {
            let gz = path.extension().is_some_and(|e| e == "gz");
            if gz && matches!(cause.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::UnexpectedEof) {
                let message = format!("{cause} (is it really a gzip file? plain text files must end in .csv)");
                return DataError::Parse { path: path.to_owned(), line, message };
            }
            DataError::Io { path: path.to_owned(), cause }
        }
        other => DataError::Parse { path: path.to_owned(), line, message: format!("{other:?}") },
    }
}

fn expect_fields(record: &ByteRecord, expected: usize, what: &str) -> Result<(), String> {
    if record.len() == expected {
        Ok(())
    } else {
        Err(format!("expected {expected} field(s) ({what}), found {}", record.len()))
    }
}

/// Field `i` (0-based) as trimmed text.
fn bytes_str(bytes: &[u8], i: usize) -> Result<&str, String> {
    std::str::from_utf8(bytes).map(str::trim).map_err(|_| format!("field {}: not valid UTF-8", i + 1))
}

fn parse_field<T: FromStr>(record: &ByteRecord, i: usize, kind: &str) -> Result<T, String> {
    parse_bytes(record.get(i).unwrap_or_default(), i, kind)
}

fn parse_bytes<T: FromStr>(bytes: &[u8], i: usize, kind: &str) -> Result<T, String> {
    let text = bytes_str(bytes, i)?;
    text.parse().map_err(|_| format!("field {}: expected {kind}, found `{text}`", i + 1))
}

/// A non-negative integer that fits in u32 (labels, node ids, counts).
fn parse_index(record: &ByteRecord, i: usize, what: &str) -> Result<u32, String> {
    index_from_bytes(record.get(i).unwrap_or_default(), i, what)
}

fn index_from_bytes(bytes: &[u8], i: usize, what: &str) -> Result<u32, String> {
    let value: i64 = parse_bytes(bytes, i, "an integer")?;
    if value < 0 {
        return Err(format!("negative {what} {value}"));
    }
    u32::try_from(value).map_err(|_| format!("{what} {value} is too large"))
}

fn parse_node_id(record: &ByteRecord, i: usize, num_nodes: usize) -> Result<u32, String> {
    node_id_from_bytes(record.get(i).unwrap_or_default(), i, num_nodes)
}

fn node_id_from_bytes(bytes: &[u8], i: usize, num_nodes: usize) -> Result<u32, String> {
    let id = index_from_bytes(bytes, i, "node id")?;
    if id as usize >= num_nodes {
        return Err(format!("node id {id} out of range (the graph has {num_nodes} nodes)"));
    }
    Ok(id)
}

/// Parses the records of `path` in parallel blocks (see [`lines`]): `parse_line` adds one line
/// to its block's `B`; `merge(block, items, records_before)` takes each block's `B` in file
/// order. With `limit = (n, what)`, a record past the `n`-th is refused. Returns the number of
/// records.
fn parse_file<B: Default + Send>(
    path: &Path,
    parse_line: impl Fn(&[u8], &mut B) -> Result<(), String> + Sync,
    mut merge: impl FnMut(&lines::Block, B, u64) -> Result<(), DataError>,
    limit: Option<(usize, &str)>,
) -> Result<u64, DataError> {
    let mut records = 0u64;
    let parse = |block: &lines::Block| {
        let mut items = B::default();
        let (records, error) = lines::for_each_line(&block.text, |_, line| parse_line(line, &mut items));
        lines::Parsed { items, records, error }
    };
    let merge_block = |block: &lines::Block, parsed: lines::Parsed<B>| {
        // The declared count is checked before an error further on, as the sequential reader did.
        if let Some((max, what)) = limit {
            let allowed = max as u64 - records;
            if parsed.records > allowed || (parsed.error.is_some() && parsed.records == allowed) {
                let line = block.line_of_record(allowed);
                return Err(DataError::Parse { path: path.to_owned(), line, message: past_declared(max, what) });
            }
        }
        // The records before an error are merged first: the merge may find an earlier problem
        // (a block's first row against line 1).
        merge(block, parsed.items, records)?;
        if let Some((within, message)) = parsed.error {
            return Err(DataError::Parse { path: path.to_owned(), line: block.line(within), message });
        }
        records += parsed.records;
        Ok(())
    };
    let io_error = |cause: std::io::Error, line: u64| csv_error(path, csv::Error::from(cause), line.saturating_sub(1));
    lines::parse_parallel(path, open(path)?, parse, merge_block, io_error)?;
    Ok(records)
}

// ---------------------------------------------------------------------------------------------
// The individual files
// ---------------------------------------------------------------------------------------------

fn read_single_count(path: &Path, what: &str) -> Result<u64, DataError> {
    let mut value = None;
    let lines = for_each_record(path, |record, _| {
        expect_fields(record, 1, what)?;
        value = Some(parse_field::<u64>(record, 0, "a non-negative integer")?);
        Ok(())
    })?;
    match value {
        Some(v) if lines == 1 => Ok(v),
        _ => Err(DataError::Invalid {
            path: path.to_owned(),
            message: format!("expected exactly one line ({what}), found {lines}"),
        }),
    }
}

fn read_node_count(path: &Path) -> Result<usize, DataError> {
    let n = read_single_count(path, "the node count")?;
    // Node ids are u32 throughout gcnsim.
    if n == 0 || n > u32::MAX as u64 {
        return Err(DataError::Invalid { path: path.to_owned(), message: format!("unsupported node count {n}") });
    }
    Ok(n as usize)
}

/// The adjacency of the edge file (both directions when `symmetrize`; self-loops and duplicates
/// dropped) and the number of edge lines.
fn read_adjacency(path: &Path, num_nodes: usize, symmetrize: bool) -> Result<(Csr, u64), DataError> {
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let per_edge = if symmetrize { 2 } else { 1 };
    let parse_line = |line: &[u8], out: &mut Vec<(u32, u32)>| {
        let mut fields = lines::fields(line);
        let (Some(a), Some(b), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!("expected 2 field(s) (source,target), found {}", lines::fields(line).count()));
        };
        out.push((node_id_from_bytes(a, 0, num_nodes)?, node_id_from_bytes(b, 1, num_nodes)?));
        Ok(())
    };
    let merge = |block: &lines::Block, items: Vec<(u32, u32)>, before: u64| {
        // Csr offsets are u32; stop before they would wrap.
        if (pairs.len() + items.len()) * per_edge > u32::MAX as usize {
            let line = block.line_of_record((u32::MAX as usize / per_edge - pairs.len()) as u64);
            let message = "too many edges for u32 adjacency offsets".to_string();
            return Err(DataError::Parse { path: path.to_owned(), line, message });
        }
        debug_assert_eq!(before as usize, pairs.len());
        pairs.extend(items);
        Ok(())
    };
    let lines = parse_file(path, parse_line, merge, None)?;
    Ok((Csr::from_pairs_bucketed(num_nodes, &pairs, symmetrize), lines))
}

/// `num-edge-list` is optional; when present it must agree with the edge file. Returns whether
/// it was there.
fn check_edge_count(raw: &Path, edge_path: &Path, edge_lines: u64) -> Result<bool, DataError> {
    let Ok(count_path) = find_file(raw, "num-edge-list") else {
        return Ok(false);
    };
    let declared = read_single_count(&count_path, "the edge count")?;
    if declared != edge_lines {
        let message = format!("declares {declared} edges but {} has {edge_lines} lines", edge_path.display());
        return Err(DataError::Invalid { path: count_path, message });
    }
    Ok(true)
}

/// One block's feature rows: their values and the width of the block's first row.
#[derive(Default)]
struct FeatureBlock {
    values: Vec<f32>,
    width: usize,
}

fn read_features(path: &Path, num_nodes: usize) -> Result<HostMatrix, DataError> {
    // Grows as rows arrive (never reserved from the declared count, which is untrusted).
    let mut data: Vec<f32> = Vec::new();
    let mut width = 0usize;
    // Each block checks its rows against its own first row; the merge checks that row against
    // line 1.
    let parse_line = |line: &[u8], block: &mut FeatureBlock| {
        let start = block.values.len();
        for (i, field) in lines::fields(line).enumerate() {
            let value: f32 = parse_bytes(field, i, "a number")?;
            if !value.is_finite() {
                return Err(format!("field {}: feature is not finite ({value})", i + 1));
            }
            block.values.push(value);
        }
        let found = block.values.len() - start;
        if start == 0 {
            block.width = found;
        } else if found != block.width {
            return Err(format!("expected {} features (as on line 1), found {found}", block.width));
        }
        Ok(())
    };
    let merge = |block: &lines::Block, rows: FeatureBlock, before: u64| {
        if rows.values.is_empty() {
            return Ok(());
        }
        if before == 0 {
            width = rows.width;
        } else if rows.width != width {
            let message = format!("expected {width} features (as on line 1), found {}", rows.width);
            return Err(DataError::Parse { path: path.to_owned(), line: block.line_of_record(0), message });
        }
        data.extend_from_slice(&rows.values);
        Ok(())
    };
    let rows = parse_file(path, parse_line, merge, Some((num_nodes, "feature rows")))?;
    check_row_count(path, rows, num_nodes, "feature rows")?;
    Ok(HostMatrix::from_vec(num_nodes, width, data))
}

/// Class ids are small dense integers; one above this is a malformed file, not 4 billion classes.
pub const MAX_CLASSES: u32 = 1 << 16;

fn read_labels(path: &Path, num_nodes: usize) -> Result<Vec<u32>, DataError> {
    let mut labels = Vec::new();
    let rows = for_each_record(path, |record, _| {
        if labels.len() == num_nodes {
            return Err(past_declared(num_nodes, "labels"));
        }
        expect_fields(record, 1, "one label per node; gcnsim trains single-label classification")?;
        let label = parse_index(record, 0, "label")?;
        if label >= MAX_CLASSES {
            return Err(format!(
                "label {label} is too large: class ids must be below {MAX_CLASSES} (dense small integers 0, 1, …, C−1)"
            ));
        }
        labels.push(label);
        Ok(())
    })?;
    check_row_count(path, rows, num_nodes, "labels")?;
    Ok(labels)
}

/// The message for a line beyond the count `num-node-list` declares.
fn past_declared(num_nodes: usize, what: &str) -> String {
    format!("more {what} than the {num_nodes} nodes num-node-list declares")
}

fn check_row_count(path: &Path, rows: u64, num_nodes: usize, what: &str) -> Result<(), DataError> {
    if rows == num_nodes as u64 {
        return Ok(());
    }
    let message = format!("has {rows} {what} but num-node-list says {num_nodes} nodes");
    Err(DataError::Invalid { path: path.to_owned(), message })
}

// ---------------------------------------------------------------------------------------------
// Splits
// ---------------------------------------------------------------------------------------------

/// `split/<wanted>`, or the only folder under `split/`.
fn split_dir(dir: &Path, wanted: Option<&str>) -> Result<PathBuf, DataError> {
    let root = dir.join("split");
    let available = list_subdirs(&root)?;
    let invalid = |message: String| DataError::Invalid { path: root.clone(), message };
    let listing = || {
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    };
    match wanted {
        Some(name) if available.iter().any(|a| a == name) => Ok(root.join(name)),
        Some(name) => Err(invalid(format!("no split named `{name}`; available: {}", listing()))),
        None if available.len() == 1 => Ok(root.join(&available[0])),
        None if available.is_empty() => Err(invalid("no split folders".to_string())),
        None => Err(invalid(format!("several splits, name one of: {}", listing()))),
    }
}

fn list_subdirs(root: &Path) -> Result<Vec<String>, DataError> {
    let io_error = |cause| DataError::Io { path: root.to_owned(), cause };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        if entry.path().is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn read_split(dir: &Path, num_nodes: usize) -> Result<Split, DataError> {
    // Which file claimed each node so far (index into `paths` + 1; 0 = none).
    let mut owner = vec![0u8; num_nodes];
    let mut paths = Vec::new();
    let mut sets = Vec::new();
    for (index, stem) in ["train", "valid", "test"].into_iter().enumerate() {
        let path = find_file(dir, stem)?;
        sets.push(read_split_file(&path, index as u8 + 1, &mut owner, &paths)?);
        paths.push(path);
    }
    let test = sets.pop().unwrap_or_default();
    let valid = sets.pop().unwrap_or_default();
    let train = sets.pop().unwrap_or_default();
    Ok(Split { train, valid, test })
}

/// Sorted ids of one split file. `owner` records which file took each node, so a node in two
/// files (or twice in one) is caught on the line where it reappears.
fn read_split_file(path: &Path, code: u8, owner: &mut [u8], earlier: &[PathBuf]) -> Result<Vec<u32>, DataError> {
    let mut ids = Vec::new();
    for_each_record(path, |record, _| {
        expect_fields(record, 1, "one node id per line")?;
        let id = parse_node_id(record, 0, owner.len())?;
        match owner[id as usize] {
            0 => owner[id as usize] = code,
            c if c == code => return Err(format!("duplicate node id {id}")),
            c => return Err(format!("node id {id} is also in {}", earlier[c as usize - 1].display())),
        }
        ids.push(id);
        Ok(())
    })?;
    if ids.is_empty() {
        return Err(DataError::Invalid { path: path.to_owned(), message: "split file is empty".to_string() });
    }
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A 4-node graph: path 0-1-2 plus the isolated node 3, 2 features, 2 classes.
    struct Files {
        edges: String,
        feats: String,
        labels: String,
        nodes: String,
        num_edges: Option<String>,
        train: String,
        valid: String,
        test: String,
    }

    impl Default for Files {
        fn default() -> Self {
            Self {
                edges: "0,1\n1,2\n2,1\n".into(),
                feats: "1.0,0\n0,1\n0.5,-2e-1\n0,0\n".into(),
                labels: "0\n1\n1\n0\n".into(),
                nodes: "4\n".into(),
                num_edges: Some("3\n".into()),
                train: "1\n0\n".into(),
                valid: "2\n".into(),
                test: "3\n".into(),
            }
        }
    }

    fn write(path: &Path, text: &str, gzip: bool) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if gzip {
            let file = File::create(path.with_extension("csv.gz")).unwrap();
            let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            enc.write_all(text.as_bytes()).unwrap();
            enc.finish().unwrap();
        } else {
            std::fs::write(path.with_extension("csv"), text).unwrap();
        }
    }

    impl Files {
        fn write_to(&self, dir: &Path, gzip: bool) {
            let raw = dir.join("raw");
            let split = dir.join("split").join("s");
            write(&raw.join("edge"), &self.edges, gzip);
            write(&raw.join("node-feat"), &self.feats, gzip);
            write(&raw.join("node-label"), &self.labels, gzip);
            write(&raw.join("num-node-list"), &self.nodes, gzip);
            if let Some(e) = &self.num_edges {
                write(&raw.join("num-edge-list"), e, gzip);
            }
            write(&split.join("train"), &self.train, gzip);
            write(&split.join("valid"), &self.valid, gzip);
            write(&split.join("test"), &self.test, gzip);
        }

        fn load(&self) -> Result<Dataset, DataError> {
            let dir = tempfile::tempdir().unwrap();
            self.write_to(dir.path(), false);
            load(dir.path(), &OgbOptions::default())
        }

        /// The error's Display string; panics if loading succeeded.
        fn error(&self) -> String {
            match self.load() {
                Ok(_) => panic!("expected an error"),
                Err(e) => e.to_string(),
            }
        }
    }

    fn assert_mentions(message: &str, parts: &[&str]) {
        for part in parts {
            assert!(message.contains(part), "`{message}` should mention `{part}`");
        }
    }

    #[test]
    fn loads_plain_csv() {
        let ds = Files::default().load().unwrap();
        assert_eq!(ds.num_nodes(), 4);
        assert_eq!(ds.num_undirected_edges(), 2);
        assert!(ds.adjacency.is_symmetric());
        assert_eq!(ds.adjacency.row(1), &[0, 2]);
        assert_eq!(ds.features.cols, 2);
        assert_eq!(ds.features.row(2), &[0.5, -0.2]);
        assert_eq!(ds.labels, vec![0, 1, 1, 0]);
        assert_eq!(ds.num_classes, 2);
        assert_eq!(ds.split, Split { train: vec![0, 1], valid: vec![2], test: vec![3] });
    }

    #[test]
    fn loads_gzip_and_matches_plain() {
        let files = Files::default();
        let (gz, plain) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        files.write_to(gz.path(), true);
        files.write_to(plain.path(), false);
        let a = load(gz.path(), &OgbOptions::default()).unwrap();
        let b = load(plain.path(), &OgbOptions::default()).unwrap();
        assert_eq!(a.adjacency, b.adjacency);
        assert_eq!(a.features, b.features);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.split, b.split);
    }

    #[test]
    fn gzip_errors_carry_line_numbers() {
        let files = Files { edges: "0,1\n1,x\n".into(), ..Files::default() };
        let dir = tempfile::tempdir().unwrap();
        files.write_to(dir.path(), true);
        let message = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
        assert_mentions(&message, &["edge.csv.gz", ":2:", "`x`"]);
    }

    #[test]
    fn directed_keeps_direction_but_drops_self_loops_and_duplicates() {
        let files = Files { edges: "0,1\n0,1\n1,1\n2,1\n".into(), num_edges: None, ..Files::default() };
        let dir = tempfile::tempdir().unwrap();
        files.write_to(dir.path(), false);
        let ds = load(dir.path(), &OgbOptions { symmetrize: false, ..OgbOptions::default() }).unwrap();
        assert_eq!(ds.adjacency.nnz(), 2);
        assert_eq!(ds.adjacency.row(0), &[1]);
        assert_eq!(ds.adjacency.row(1), &[] as &[u32]);
        assert_eq!(ds.adjacency.row(2), &[1]);
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        Files::default().write_to(dir.path(), false);
        std::fs::remove_file(dir.path().join("raw/node-label.csv")).unwrap();
        let message = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
        assert_mentions(&message, &["raw/node-label.csv.gz", "raw/node-label.csv)", "not found"]);
    }

    #[test]
    fn edge_line_with_wrong_column_count() {
        let one = Files { edges: "0,1\n2\n".into(), ..Files::default() }.error();
        assert_mentions(&one, &["edge.csv", ":2:", "expected 2 field(s)", "found 1"]);
        let three = Files { edges: "0,1,2\n".into(), ..Files::default() }.error();
        assert_mentions(&three, &["edge.csv", ":1:", "found 3"]);
    }

    #[test]
    fn feature_line_with_different_width() {
        let message = Files { feats: "1,0\n0,1\n0,1,2\n0,0\n".into(), ..Files::default() }.error();
        assert_mentions(&message, &["node-feat.csv", ":3:", "expected 2 features", "found 3"]);
    }

    #[test]
    fn non_numeric_fields() {
        let feat = Files { feats: "1,0\n0,abc\n0,1\n0,0\n".into(), ..Files::default() }.error();
        assert_mentions(&feat, &["node-feat.csv", ":2:", "field 2", "`abc`"]);
        let label = Files { labels: "0\n1\none\n0\n".into(), ..Files::default() }.error();
        assert_mentions(&label, &["node-label.csv", ":3:", "`one`"]);
        let count = Files { nodes: "four\n".into(), ..Files::default() }.error();
        assert_mentions(&count, &["num-node-list.csv", ":1:", "`four`"]);
    }

    #[test]
    fn node_id_out_of_range_in_edges_and_splits() {
        let edge = Files { edges: "0,1\n1,4\n".into(), ..Files::default() }.error();
        assert_mentions(&edge, &["edge.csv", ":2:", "node id 4 out of range", "4 nodes"]);
        let split = Files { test: "3\n9\n".into(), ..Files::default() }.error();
        assert_mentions(&split, &["split/s/test.csv", ":2:", "node id 9 out of range"]);
    }

    #[test]
    fn negative_label_and_node_id() {
        let label = Files { labels: "0\n-1\n1\n0\n".into(), ..Files::default() }.error();
        assert_mentions(&label, &["node-label.csv", ":2:", "negative label -1"]);
        let edge = Files { edges: "0,1\n-2,1\n".into(), ..Files::default() }.error();
        assert_mentions(&edge, &["edge.csv", ":2:", "negative node id -2"]);
        let split = Files { train: "-1\n".into(), ..Files::default() }.error();
        assert_mentions(&split, &["train.csv", ":1:", "negative node id -1"]);
    }

    #[test]
    fn label_and_feature_counts_must_match_node_count() {
        let labels = Files { labels: "0\n1\n1\n".into(), ..Files::default() }.error();
        assert_mentions(&labels, &["node-label.csv", "3 labels", "4 nodes"]);
        let feats = Files { feats: "1,0\n0,1\n0,1\n0,0\n1,1\n".into(), ..Files::default() }.error();
        assert_mentions(&feats, &["node-feat.csv:5", "more feature rows", "4 nodes"]);
        let labels = Files { labels: "0\n1\n1\n0\n1\n".into(), ..Files::default() }.error();
        assert_mentions(&labels, &["node-label.csv:5", "more labels", "4 nodes"]);
    }

    #[test]
    fn a_declared_node_count_is_borne_out_before_anything_of_its_size_is_allocated() {
        // Before the fix, 50M nodes aborted reserving 50M feature rows and u32::MAX allocated
        // 17 GB of adjacency offsets; now the label file refuses the claim at its end.
        for declared in ["50000000", "4294967295"] {
            let files = Files { nodes: format!("{declared}\n"), ..Files::default() };
            let started = std::time::Instant::now();
            let message = files.error();
            assert_mentions(&message, &["node-label.csv", "4 labels", declared]);
            assert!(started.elapsed().as_secs() < 5, "{declared}: {:?}", started.elapsed());
        }
    }

    #[test]
    fn edge_count_must_match_num_edge_list() {
        let message = Files { num_edges: Some("5\n".into()), ..Files::default() }.error();
        assert_mentions(&message, &["num-edge-list.csv", "declares 5 edges", "edge.csv has 3 lines"]);
    }

    #[test]
    fn nan_and_inf_features_are_rejected() {
        for bad in ["nan", "inf", "-inf", "NaN"] {
            let feats = format!("1,0\n0,1\n0,{bad}\n0,0\n");
            let message = Files { feats, ..Files::default() }.error();
            assert_mentions(&message, &["node-feat.csv", ":3:", "not finite"]);
        }
    }

    #[test]
    fn empty_split_file() {
        let message = Files { valid: String::new(), ..Files::default() }.error();
        assert_mentions(&message, &["valid.csv", "empty"]);
    }

    #[test]
    fn overlapping_splits_name_both_files() {
        let message = Files { test: "3\n1\n".into(), ..Files::default() }.error();
        assert_mentions(&message, &["test.csv:2:", "node id 1", "train.csv"]);
    }

    #[test]
    fn duplicate_id_within_a_split() {
        let message = Files { train: "0\n1\n0\n".into(), ..Files::default() }.error();
        assert_mentions(&message, &["train.csv:3:", "duplicate node id 0"]);
    }

    #[test]
    fn errors_deep_in_large_files_name_their_line() {
        // Enough rows for several parallel blocks; the bad row lies far from the first block.
        let rows = 200_000;
        let line = |i: usize| format!("{i}.5,{}\n", i % 7);
        let mut feats: String = (0..rows).map(line).collect();
        let labels: String = (0..rows).map(|i| format!("{}\n", i % 2)).collect();
        let base = Files {
            nodes: format!("{rows}\n"),
            labels,
            edges: (1..rows).map(|i| format!("{},{i}\n", i - 1)).collect(),
            num_edges: None,
            ..Files::default()
        };
        let bad_width = feats.replacen(&line(150_000), &format!("150000.5,{},1\n", 150_000 % 7), 1);
        let message = Files { feats: bad_width, ..base_clone(&base) }.error();
        assert_mentions(&message, &["node-feat.csv:150001:", "expected 2 features", "found 3"]);
        let bad_value = feats.replacen("180000.5,", "oops,", 1);
        let message = Files { feats: bad_value, ..base_clone(&base) }.error();
        assert_mentions(&message, &["node-feat.csv:180001:", "field 1", "`oops`"]);
        let bad_edge = base.edges.replacen("170000,170001\n", "170000,x\n", 1);
        let message = Files { edges: bad_edge, feats: feats.clone(), ..base_clone(&base) }.error();
        assert_mentions(&message, &["edge.csv:170001:", "`x`"]);
        // One row too many is refused at its own line, after the rows the count allows.
        feats.push_str("1,2\n");
        let message = Files { feats: feats.clone(), ..base_clone(&base) }.error();
        assert_mentions(&message, &[&format!("node-feat.csv:{}:", rows + 1), "more feature rows"]);
        feats.truncate(feats.len() - 4);
        let ds = Files { feats, ..base }.load().unwrap();
        assert_eq!(ds.features.row(123_456), &[123_456.5, (123_456 % 7) as f32]);
        assert_eq!(ds.num_undirected_edges(), rows - 1);
    }

    fn base_clone(f: &Files) -> Files {
        Files {
            edges: f.edges.clone(),
            feats: f.feats.clone(),
            labels: f.labels.clone(),
            nodes: f.nodes.clone(),
            num_edges: f.num_edges.clone(),
            train: f.train.clone(),
            valid: f.valid.clone(),
            test: f.test.clone(),
        }
    }

    #[test]
    fn split_folder_selection() {
        let dir = tempfile::tempdir().unwrap();
        Files::default().write_to(dir.path(), false);
        for stem in ["train", "valid", "test"] {
            let from = dir.path().join("split/s").join(format!("{stem}.csv"));
            let to = dir.path().join("split/other").join(format!("{stem}.csv"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, to).unwrap();
        }
        let ambiguous = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
        assert_mentions(&ambiguous, &["split", "other, s"]);
        let missing = OgbOptions { split: Some("nope".into()), ..OgbOptions::default() };
        assert_mentions(&load(dir.path(), &missing).unwrap_err().to_string(), &["`nope`", "other, s"]);
        let chosen = OgbOptions { split: Some("other".into()), ..OgbOptions::default() };
        assert_eq!(load(dir.path(), &chosen).unwrap().split.train, vec![0, 1]);
    }

    /// `Files::default()` in a folder named `name`, with OGB's release note, and the `mapping/`,
    /// `processed/` and `raw/node_year` files OGB's loaders leave (which gcnsim ignores).
    fn ogb_folder(root: &Path, name: &str, files: &Files) -> PathBuf {
        let dir = root.join(name);
        files.write_to(&dir, true);
        let graph = master::by_name(name).map_or("ogbn-unknown", |g| g.name);
        std::fs::write(dir.join("RELEASE_v1.txt"), format!("# Release note for {graph}\n\n### v1: 2020-06-10"))
            .unwrap();
        for junk in ["mapping/nodeidx2paperid.csv.gz", "processed/geometric_data_processed.pt", "raw/node_year.csv.gz"]
        {
            std::fs::create_dir_all(dir.join(junk).parent().unwrap()).unwrap();
            std::fs::write(dir.join(junk), "not read").unwrap();
        }
        dir
    }

    #[test]
    fn an_ogb_folder_loads_as_ogb_leaves_it_with_its_release_in_the_name() {
        let root = tempfile::tempdir().unwrap();
        let dir = ogb_folder(root.path(), "ogbn_arxiv", &Files::default());
        let ds = load(&dir, &OgbOptions::default()).unwrap();
        assert_eq!(ds.name, "ogbn-arxiv (OGB release v1, 2020-06-10)");
        assert_eq!(ds.num_undirected_edges(), 2);
        assert!(ds.adjacency.is_symmetric());
        let warnings = ds.warnings.join("\n");
        assert_mentions(&warnings, &["169343 nodes and 1166243 edges in OGB's release", "this folder 4 and 3"]);
        assert_mentions(
            &warnings,
            &["ogbn-arxiv is directed in OGB (add_inverse_edge = False)", "each of its 3 edges", "2 undirected"],
        );
        // Directed, as OGB gives it: edge.csv as is.
        let directed = load(&dir, &OgbOptions { symmetrize: false, ..OgbOptions::default() }).unwrap();
        assert_eq!(directed.adjacency.nnz(), 3);
        assert!(!directed.warnings.iter().any(|w| w.contains("directed in OGB")));
    }

    #[test]
    fn add_inverse_edge_graphs_list_each_edge_once_and_get_its_inverse() {
        let root = tempfile::tempdir().unwrap();
        // ogbn-products: each undirected edge on one line, num-edge-list counting lines.
        let files = Files { edges: "0,1\n1,2\n".into(), num_edges: Some("2\n".into()), ..Files::default() };
        let dir = ogb_folder(root.path(), "ogbn-products", &files);
        for symmetrize in [true, false] {
            let ds = load(&dir, &OgbOptions { symmetrize, ..OgbOptions::default() }).unwrap();
            assert!(ds.name.starts_with("ogbn-products (OGB release v1"), "{}", ds.name);
            assert_eq!(ds.adjacency.nnz(), 4, "symmetrize {symmetrize}");
            assert!(ds.adjacency.is_symmetric());
            assert_eq!(crate::data::info::DatasetInfo::of(&ds).undirected_edges, 2);
            // Two lines, two undirected edges: nothing to say about the edges.
            assert!(!ds.warnings.iter().any(|w| w.contains("duplicates")), "{:?}", ds.warnings);
        }
        // num-edge-list counts lines, not directed entries.
        let doubled = Files { edges: "0,1\n1,2\n".into(), num_edges: Some("4\n".into()), ..Files::default() };
        let dir = ogb_folder(root.path(), "products", &doubled);
        assert_mentions(
            &load(&dir, &OgbOptions::default()).unwrap_err().to_string(),
            &["declares 4 edges", "has 2 lines"],
        );
        // A line given in both directions is one undirected edge, and said so.
        let both = Files { edges: "0,1\n1,0\n1,2\n".into(), num_edges: Some("3\n".into()), ..Files::default() };
        let dir = ogb_folder(root.path(), "ogbn_products_pyg", &both);
        let ds = load(&dir, &OgbOptions::default()).unwrap();
        assert_eq!(ds.num_undirected_edges(), 2);
        assert_mentions(&ds.warnings.join("\n"), &["lists 3 edges", "1 of them were duplicates", "2 undirected"]);
    }

    #[test]
    fn the_release_note_alone_names_the_graph_and_unknown_folders_keep_their_name() {
        let root = tempfile::tempdir().unwrap();
        let dir = ogb_folder(root.path(), "data", &Files::default());
        std::fs::write(dir.join("RELEASE_v1.txt"), "# Release note for ogbn-arxiv\n\n### v1: 2020-06-10").unwrap();
        assert!(load(&dir, &OgbOptions::default()).unwrap().name.starts_with("ogbn-arxiv"));
        std::fs::remove_file(dir.join("RELEASE_v1.txt")).unwrap();
        let plain = load(&dir, &OgbOptions::default()).unwrap();
        assert_eq!((plain.name.as_str(), plain.warnings.len()), ("data", 0));
        // Named, but without a release note: loads, and says the release is unknown.
        let named = root.path().join("arxiv");
        std::fs::rename(&dir, &named).unwrap();
        let ds = load(&named, &OgbOptions::default()).unwrap();
        assert_eq!(ds.name, "ogbn-arxiv");
        assert_mentions(&ds.warnings.join("\n"), &["no RELEASE_v*.txt", "unknown"]);
    }

    #[test]
    fn the_split_defaults_to_ogbs_when_there_are_several() {
        let root = tempfile::tempdir().unwrap();
        let dir = ogb_folder(root.path(), "ogbn_arxiv", &Files::default());
        std::fs::rename(dir.join("split/s"), dir.join("split/time")).unwrap();
        std::fs::create_dir_all(dir.join("split/other")).unwrap();
        assert_eq!(load(&dir, &OgbOptions::default()).unwrap().split.train, vec![0, 1]);
        let other = OgbOptions { split: Some("other".into()), ..OgbOptions::default() };
        assert_mentions(&load(&dir, &other).unwrap_err().to_string(), &["split/other/train.csv.gz", "not found"]);
    }

    #[test]
    fn multi_label_and_heterogeneous_graphs_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let proteins = ogb_folder(root.path(), "ogbn_proteins", &Files::default());
        let message = load(&proteins, &OgbOptions::default()).unwrap_err().to_string();
        assert_mentions(&message, &["ogbn_proteins", "multi-label", "112 tasks", "single-label"]);
        let mag = ogb_folder(root.path(), "ogbn_mag", &Files::default());
        assert_mentions(&load(&mag, &OgbOptions::default()).unwrap_err().to_string(), &["heterogeneous"]);
        // Unnamed, a multi-column label file is refused at its first line.
        let labels = Files { labels: "0,1\n1,0\n1,1\n0,0\n".into(), ..Files::default() }.error();
        assert_mentions(&labels, &["node-label.csv:1:", "found 2", "single-label"]);
    }

    mod binary_layout {
        use super::*;
        use crate::data::npz::fixtures::{write_npz, Arr};

        /// OGB's binary layout of the 4-node test graph: `data.npz` and `node-label.npz`.
        fn write_binary(dir: &Path, edge_index: Vec<i64>, num_edges: i64, labels: Vec<f64>) {
            let raw = dir.join("raw");
            std::fs::create_dir_all(&raw).unwrap();
            let edges = edge_index.len() as u64 / 2;
            let feat = Arr("node_feat", vec![4, 2], vec![1.0f32, 0.0, 0.0, 1.0, 0.5, -0.2, 0.0, 0.0]);
            let index = Arr("edge_index", vec![2, edges], edge_index);
            let nodes = Arr("num_nodes_list", vec![1], vec![4i64]);
            let count = Arr("num_edges_list", vec![1], vec![num_edges]);
            let year = Arr("node_year", vec![4, 1], vec![2019i64; 4]);
            write_npz(&raw.join("data.npz"), &[&index, &feat, &nodes, &count, &year], true);
            write_npz(&raw.join("node-label.npz"), &[&Arr("node_label", vec![4, 1], labels)], true);
            let split = Files::default();
            write(&dir.join("split/time/train"), &split.train, true);
            write(&dir.join("split/time/valid"), &split.valid, true);
            write(&dir.join("split/time/test"), &split.test, true);
        }

        #[test]
        fn data_npz_loads_like_the_csv_files() {
            let (csv, npz) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            Files::default().write_to(csv.path(), true);
            write_binary(npz.path(), vec![0, 1, 2, 1, 2, 1], 3, vec![0.0, 1.0, 1.0, 0.0]);
            let (a, b) =
                (load(csv.path(), &OgbOptions::default()).unwrap(), load(npz.path(), &OgbOptions::default()).unwrap());
            assert_eq!(a.adjacency, b.adjacency);
            assert_eq!(a.features, b.features);
            assert_eq!((a.labels, a.num_classes), (b.labels, b.num_classes));
            assert_eq!(a.split, b.split);
        }

        #[test]
        fn nan_labels_are_allowed_only_outside_the_split() {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("ogbn_papers100M");
            write_binary(&dir, vec![0, 1, 1, 2], 2, vec![0.0, 1.0, 1.0, 0.0]);
            // Node 3 is the test split's only node: give it no label.
            let nan = vec![0.0, 1.0, 1.0, f64::NAN];
            write_npz(&dir.join("raw/node-label.npz"), &[&Arr("node_label", vec![4, 1], nan)], false);
            let message = load(&dir, &OgbOptions::default()).unwrap_err().to_string();
            assert_mentions(&message, &["node 3 is in the test split but has no label"]);
            write(&dir.join("split/time/test"), "2\n", true);
            write(&dir.join("split/time/valid"), "0\n", true);
            write(&dir.join("split/time/train"), "1\n", true);
            let ds = load(&dir, &OgbOptions::default()).unwrap();
            assert_eq!(ds.labels, vec![0, 1, 1, 0]);
            assert_mentions(&ds.warnings.join("\n"), &["1 nodes have no label", "ogbn-papers100M has 111059956 nodes"]);
        }

        #[test]
        fn hostile_data_npz_is_refused_with_the_file_and_key() {
            let dir = tempfile::tempdir().unwrap();
            write_binary(dir.path(), vec![0, 1, 2, 1, 2, 1], 4, vec![0.0, 1.0, 1.0, 0.0]);
            let count = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
            assert_mentions(&count, &["data.npz", "`num_edges_list` declares 4 edges", "`edge_index` has 3"]);
            write_binary(dir.path(), vec![0, 1, 2, 1, 9, 1], 3, vec![0.0, 1.0, 1.0, 0.0]);
            let range = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
            assert_mentions(&range, &["data.npz", "`edge_index`", "element 4", "node id 9 out of range"]);
            write_binary(dir.path(), vec![0, 1, 2, 1, 2, 1], 3, vec![0.0, 1.5, 1.0, 0.0]);
            let label = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
            assert_mentions(&label, &["node-label.npz", "`node_label`", "element 1", "label 1.5"]);
            let multi = vec![0.0; 8];
            write_npz(&dir.path().join("raw/node-label.npz"), &[&Arr("node_label", vec![4, 2], multi)], false);
            let multi = load(dir.path(), &OgbOptions::default()).unwrap_err().to_string();
            assert_mentions(&multi, &["node-label.npz", "2 labels per node", "single-label"]);
        }
    }
}
