//! Which OGB graph a folder holds, and what OGB's master table (`ogb/nodeproppred/master.csv`)
//! says about it: the release, whether `edge.csv` lists each edge once (`add_inverse_edge`),
//! the split folder, the task, and the published sizes.
//!
//! A folder is recognised by its name as OGB's loaders leave it (`ogbn_arxiv`, `ogbn_arxiv_pyg`),
//! or as people shorten it (`ogbn-arxiv`, `arxiv`), else by the release note OGB ships in it
//! (`RELEASE_v1.txt`: `# Release note for ogbn-arxiv` / `### v1: DATE`). A folder that is
//! neither is not an OGB graph gcnsim knows, and loads as a plain OGB-layout folder.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::DataError;

/// One row of OGB's node-property-prediction master table (the columns gcnsim uses), with the
/// sizes the OGB paper publishes (`edges` = lines of `edge.csv`, i.e. `num-edge-list`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OgbGraph {
    pub name: &'static str,
    pub version: u32,
    /// `edge.csv` holds each undirected edge once; OGB's loader adds the inverse of each.
    pub add_inverse_edge: bool,
    pub tasks: u32,
    pub classes: u32,
    pub task: &'static str,
    pub split: &'static str,
    pub hetero: bool,
    /// `raw/data.npz` + `raw/node-label.npz` instead of CSV files.
    pub binary: bool,
    pub nodes: u64,
    pub edges: u64,
}

/// OGB's master table for `ogbn-*` (master.csv as of OGB 1.3).
pub const MASTER: [OgbGraph; 5] = [
    OgbGraph {
        name: "ogbn-proteins",
        version: 1,
        add_inverse_edge: true,
        tasks: 112,
        classes: 2,
        task: "binary classification",
        split: "species",
        hetero: false,
        binary: false,
        nodes: 132_534,
        edges: 39_561_252,
    },
    OgbGraph {
        name: "ogbn-products",
        version: 1,
        add_inverse_edge: true,
        tasks: 1,
        classes: 47,
        task: "multiclass classification",
        split: "sales_ranking",
        hetero: false,
        binary: false,
        nodes: 2_449_029,
        edges: 61_859_140,
    },
    OgbGraph {
        name: "ogbn-arxiv",
        version: 1,
        add_inverse_edge: false,
        tasks: 1,
        classes: 40,
        task: "multiclass classification",
        split: "time",
        hetero: false,
        binary: false,
        nodes: 169_343,
        edges: 1_166_243,
    },
    OgbGraph {
        name: "ogbn-mag",
        version: 2,
        add_inverse_edge: false,
        tasks: 1,
        classes: 349,
        task: "multiclass classification",
        split: "time",
        hetero: true,
        binary: false,
        nodes: 1_939_743,
        edges: 21_111_007,
    },
    OgbGraph {
        name: "ogbn-papers100M",
        version: 1,
        add_inverse_edge: false,
        tasks: 1,
        classes: 172,
        task: "multiclass classification",
        split: "time",
        hetero: false,
        binary: true,
        nodes: 111_059_956,
        edges: 1_615_685_872,
    },
];

/// What a folder says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub graph: Option<&'static OgbGraph>,
    /// From `RELEASE_v<N>.txt`.
    pub release: Option<u32>,
    /// The date on the release note's `### vN: DATE` line.
    pub release_date: Option<String>,
    pub release_file: Option<PathBuf>,
}

/// The graph named `name` in any of its spellings: `ogbn-arxiv`, `ogbn_arxiv`, `ogbn_arxiv_pyg`,
/// `arxiv`, `papers100M-bin` (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static OgbGraph> {
    let lower = name.trim().to_ascii_lowercase().replace('_', "-");
    let lower = lower.strip_suffix("-pyg").or_else(|| lower.strip_suffix("-dgl")).unwrap_or(&lower);
    let short = lower.strip_prefix("ogbn-").unwrap_or(lower);
    let short = short.strip_suffix("-bin").unwrap_or(short);
    MASTER.iter().find(|g| g.name["ogbn-".len()..].eq_ignore_ascii_case(short))
}

/// Reads the folder's name and its release note (if any) to tell which OGB graph it holds.
pub fn identify(dir: &Path, folder_name: &str) -> Result<Identity, DataError> {
    let mut identity = Identity { graph: by_name(folder_name), ..Identity::default() };
    let Some((path, version)) = release_file(dir)? else {
        return Ok(identity);
    };
    let note = read_note(&path)?;
    let noted = note.lines().find_map(|l| l.trim().strip_prefix("# Release note for ")).and_then(by_name);
    identity.graph = identity.graph.or(noted);
    let prefix = format!("### v{version}:");
    identity.release_date =
        note.lines().find_map(|l| l.trim().strip_prefix(prefix.as_str())).map(|d| d.trim().to_string());
    identity.release = Some(version);
    identity.release_file = Some(path);
    Ok(identity)
}

/// `RELEASE_v<N>.txt` with the highest N in `dir`.
fn release_file(dir: &Path) -> Result<Option<(PathBuf, u32)>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| DataError::Io { path: dir.to_owned(), cause })?;
    let mut best: Option<(PathBuf, u32)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let version = name.strip_prefix("RELEASE_v").and_then(|r| r.strip_suffix(".txt")).and_then(|v| v.parse().ok());
        if let Some(v) = version {
            if best.as_ref().is_none_or(|(_, b)| v > *b) {
                best = Some((entry.path(), v));
            }
        }
    }
    Ok(best)
}

/// The release note's first 4 KiB (it is two lines; a huge file is not read whole).
fn read_note(path: &Path) -> Result<String, DataError> {
    let file = std::fs::File::open(path).map_err(|cause| DataError::Io { path: path.to_owned(), cause })?;
    let mut bytes = Vec::new();
    file.take(4096).read_to_end(&mut bytes).map_err(|cause| DataError::Io { path: path.to_owned(), cause })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl Identity {
    /// `ogbn-arxiv (OGB release v1, 2020-10-27)`, `ogbn-arxiv` without a release note.
    pub fn dataset_name(&self, graph: &OgbGraph) -> String {
        match (self.release, &self.release_date) {
            (Some(v), Some(date)) if !date.is_empty() => format!("{} (OGB release v{v}, {date})", graph.name),
            (Some(v), _) => format!("{} (OGB release v{v})", graph.name),
            (None, _) => graph.name.to_string(),
        }
    }

    /// Notes on the release: none found, or not the one OGB's master table names.
    pub fn release_warnings(&self, graph: &OgbGraph, dir: &Path) -> Vec<String> {
        match self.release {
            None => vec![format!(
                "{}: no RELEASE_v*.txt, so the OGB release of {} is unknown (OGB's current one is v{})",
                dir.display(),
                graph.name,
                graph.version
            )],
            Some(v) if v != graph.version => vec![format!(
                "{}: release v{v} of {}, but OGB's master table names v{} (OGB's own loader would download it again)",
                dir.display(),
                graph.name,
                graph.version
            )],
            Some(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_every_spelling() {
        for name in ["ogbn_arxiv", "ogbn-arxiv", "arxiv", "ARXIV", "ogbn_arxiv_pyg"] {
            assert_eq!(by_name(name).map(|g| g.name), Some("ogbn-arxiv"), "{name}");
        }
        assert_eq!(by_name("ogbn_papers100M").map(|g| g.name), Some("ogbn-papers100M"));
        assert_eq!(by_name("papers100M-bin").map(|g| g.name), Some("ogbn-papers100M"));
        assert_eq!(by_name("products").map(|g| g.add_inverse_edge), Some(true));
        assert_eq!(by_name("ogbn_arxiv").map(|g| g.add_inverse_edge), Some(false));
        for other in ["cora", "ogbn-", "", "arxiv2", "ogbl-collab"] {
            assert_eq!(by_name(other), None, "{other}");
        }
    }

    #[test]
    fn the_release_note_names_the_graph_and_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let none = identify(dir.path(), "data").unwrap();
        assert_eq!(none, Identity::default());
        std::fs::write(dir.path().join("RELEASE_v1.txt"), "# Release note for ogbn-products\n\n### v1: 2020-06-10")
            .unwrap();
        let found = identify(dir.path(), "data").unwrap();
        let graph = found.graph.unwrap();
        assert_eq!(
            (graph.name, found.release, found.release_date.as_deref()),
            ("ogbn-products", Some(1), Some("2020-06-10"))
        );
        assert_eq!(found.dataset_name(graph), "ogbn-products (OGB release v1, 2020-06-10)");
        assert!(found.release_warnings(graph, dir.path()).is_empty());
        // The folder's name wins over the note; a later release file wins over an earlier one.
        std::fs::write(dir.path().join("RELEASE_v2.txt"), "anything").unwrap();
        let named = identify(dir.path(), "ogbn_arxiv").unwrap();
        assert_eq!(
            (named.graph.unwrap().name, named.release, named.release_date.as_deref()),
            ("ogbn-arxiv", Some(2), None)
        );
        let warning = named.release_warnings(named.graph.unwrap(), dir.path()).join("");
        assert!(warning.contains("release v2 of ogbn-arxiv") && warning.contains("names v1"), "{warning}");
    }
}
