//! Which reader a dataset folder needs, from the files it holds. Each format answers "is this
//! mine?" from file names alone; a folder that is no known format gets every layout gcnsim
//! reads in its error.

use std::path::{Path, PathBuf};

use super::ogb::{self, OgbOptions};
use super::{planetoid, reddit, DataError, Dataset};

/// The on-disk formats gcnsim reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OGB's node-property-prediction folder (`raw/`, `split/`), CSV or `raw/data.npz`.
    Ogb,
    /// Planetoid's `ind.NAME.*` pickles, in the folder or its `raw/` (PyG's `Cora/` folder).
    Planetoid,
    /// `reddit_data.npz` + `reddit_graph.npz`, as PyG and DGL ship Reddit.
    Reddit,
}

/// Tells the format of `dir` from the files in it.
pub fn detect(dir: &Path) -> Result<Format, DataError> {
    if reddit::detect(dir) {
        return Ok(Format::Reddit);
    }
    // A split/ folder makes it OGB's even next to stray Planetoid files.
    if !dir.join("split").is_dir() && planetoid_dir(dir).is_some() {
        return Ok(Format::Planetoid);
    }
    if dir.join("raw").is_dir() || dir.join("split").is_dir() {
        // The OGB reader names what is missing from an incomplete OGB folder.
        return Ok(Format::Ogb);
    }
    let what = if dir.is_file() { "is a file, not a dataset folder" } else { "is no dataset folder gcnsim knows" };
    Err(DataError::Invalid { path: dir.to_owned(), message: format!("{what}; {}", layouts()) })
}

/// Every layout gcnsim reads, for error messages.
pub fn layouts() -> String {
    format!("gcnsim reads\n- {}\n- {}\n- {}", ogb::LAYOUT, planetoid::LAYOUT, reddit::LAYOUT)
}

/// Detects the format of `dir` and loads it; `split` picks a folder under an OGB folder's
/// `split/`. Graphs are symmetrized (GCN needs an undirected Â).
pub fn load(dir: &Path, split: Option<&str>) -> Result<Dataset, DataError> {
    match detect(dir)? {
        Format::Ogb => ogb::load(dir, &OgbOptions { split: split.map(str::to_string), symmetrize: true }),
        Format::Reddit => {
            if let Some(name) = split {
                let message = format!("a Reddit folder has one split (node_types), not `{name}`");
                return Err(DataError::Invalid { path: dir.to_owned(), message });
            }
            reddit::load(dir, true)
        }
        Format::Planetoid => {
            if split.is_some() {
                let message = "holds Planetoid files, which have one split (the public one): drop `:split=`";
                return Err(DataError::Invalid { path: dir.to_owned(), message: message.to_string() });
            }
            planetoid::load(&planetoid_dir(dir).unwrap_or_else(|| dir.to_owned()), None)
        }
    }
}

/// `dir` or `dir/raw`, whichever holds some `ind.NAME.graph` file.
pub fn planetoid_dir(dir: &Path) -> Option<PathBuf> {
    let has_graph = |d: &Path| {
        let entries = std::fs::read_dir(d).into_iter().flatten().flatten();
        entries
            .into_iter()
            .any(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("ind.") && n.ends_with(".graph")))
    };
    [dir.to_path_buf(), dir.join("raw")].into_iter().find(|d| has_graph(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_folder_lists_every_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("graph.txt"), "0 1\n").unwrap();
        let message = load(dir.path(), None).unwrap_err().to_string();
        for part in
            ["no dataset folder gcnsim knows", "raw/edge.csv.gz", "raw/data.npz", "reddit_data.npz", "reddit_graph.npz"]
        {
            assert!(message.contains(part), "`{message}` should mention `{part}`");
        }
        let file = load(&dir.path().join("graph.txt"), None).unwrap_err().to_string();
        assert!(file.contains("is a file") && file.contains("reddit_graph.npz"), "{file}");
    }

    #[test]
    fn formats_are_told_apart_by_their_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("raw")).unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Format::Ogb);
        // An OGB folder missing split/ says so, with the OGB layout.
        let message = load(dir.path(), None).unwrap_err().to_string();
        assert!(message.contains("no split/ folder"), "{message}");
        std::fs::write(dir.path().join(reddit::DATA), "").unwrap();
        std::fs::write(dir.path().join(reddit::GRAPH), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap(), Format::Reddit);
        let split = load(dir.path(), Some("time")).unwrap_err().to_string();
        assert!(split.contains("one split") && split.contains("`time`"), "{split}");
    }
}
