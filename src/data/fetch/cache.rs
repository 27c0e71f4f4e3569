//! The cache folder: one folder per dataset, and `SHA256SUMS`, the hashes and sizes recorded on
//! first download for files whose hash gcnsim does not know.
//!
//! `SHA256SUMS` holds one line per file, `<sha256> <bytes> <name>/<file>`: the downloads
//! (`ogbn-arxiv/arxiv.zip`, `pubmed/ind.pubmed.allx`) and what was unpacked from an archive
//! (`ogbn-arxiv/raw/edge.csv.gz`). It is rewritten whole, to a temporary name then renamed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::FetchError;

pub const SUMS_FILE: &str = "SHA256SUMS";

/// What is known of one file: its SHA-256 (hex) and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub sha256: String,
    pub bytes: u64,
}

/// The parsed `SHA256SUMS`, keyed by `<name>/<file>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    pub records: BTreeMap<String, Record>,
}

impl Sums {
    /// Reads `<root>/SHA256SUMS` (empty when there is none). A malformed line is an error naming
    /// the line: a hash list that does not parse cannot vouch for anything.
    pub fn load(root: &Path) -> Result<Self, FetchError> {
        let path = root.join(SUMS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(cause) => return Err(FetchError::Io { path, cause }),
        };
        let mut records = BTreeMap::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = || FetchError::Corrupt {
                path: path.clone(),
                message: format!("line {}: expected `<sha256> <bytes> <name>/<file>`, got `{line}`", i + 1),
            };
            let mut parts = line.splitn(3, ' ');
            let (Some(sha), Some(bytes), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad());
            };
            let bytes: u64 = bytes.parse().map_err(|_| bad())?;
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) || key.is_empty() {
                return Err(bad());
            }
            records.insert(key.to_string(), Record { sha256: sha.to_ascii_lowercase(), bytes });
        }
        Ok(Self { records })
    }

    pub fn save(&self, root: &Path) -> Result<(), FetchError> {
        let text: String = self.records.iter().map(|(key, r)| format!("{} {} {key}\n", r.sha256, r.bytes)).collect();
        let path = root.join(SUMS_FILE);
        let tmp = root.join(format!(".{SUMS_FILE}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(|cause| FetchError::Io { path: tmp.clone(), cause })?;
        std::fs::rename(&tmp, &path).map_err(|cause| FetchError::Io { path, cause })
    }

    /// The records of dataset `name` (keys `name/...`), with the key's file part.
    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, &'a Record)> + 'a {
        let prefix = format!("{name}/");
        self.records.iter().filter_map(move |(k, r)| k.strip_prefix(&prefix).map(|file| (file, r)))
    }

    /// Drops dataset `name`'s records except those for `keep` (its downloads: a later download
    /// must still match what the first one recorded).
    pub fn forget(&mut self, name: &str, keep: &[&str]) {
        let prefix = format!("{name}/");
        self.records.retain(|k, _| k.strip_prefix(&prefix).is_none_or(|file| keep.contains(&file)));
    }
}

pub fn key(name: &str, file: &str) -> String {
    format!("{name}/{file}")
}

/// Bytes under `dir` (files, recursively); 0 when it does not exist.
pub fn size_on_disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => size_on_disk(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
pub fn files_under(dir: &Path) -> Result<Vec<String>, FetchError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        let entries = std::fs::read_dir(&here).map_err(|cause| FetchError::Io { path: here.clone(), cause })?;
        for entry in entries {
            let entry = entry.map_err(|cause| FetchError::Io { path: here.clone(), cause })?;
            let child = rel.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(child);
            } else {
                out.push(child.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `1.4 GB`, `81 MB`, `22 kB`: decimal units, as download pages state them.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    for (unit, scale) in UNITS {
        if bytes as f64 >= scale {
            return format!("{:.1} {unit}", bytes as f64 / scale);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_round_trip_and_forget_keeps_downloads() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(Sums::load(root.path()).unwrap(), Sums::default());
        let mut sums = Sums::default();
        let r = |b| Record { sha256: "ab".repeat(32), bytes: b };
        sums.records.insert(key("ogbn-arxiv", "arxiv.zip"), r(10));
        sums.records.insert(key("ogbn-arxiv", "raw/edge.csv.gz"), r(4));
        sums.records.insert(key("reddit", "reddit.zip"), r(7));
        sums.save(root.path()).unwrap();
        let loaded = Sums::load(root.path()).unwrap();
        assert_eq!(loaded, sums);
        assert_eq!(loaded.of("ogbn-arxiv").count(), 2);
        let mut forgotten = loaded.clone();
        forgotten.forget("ogbn-arxiv", &["arxiv.zip"]);
        let keys: Vec<&String> = forgotten.records.keys().collect();
        assert_eq!(keys, ["ogbn-arxiv/arxiv.zip", "reddit/reddit.zip"]);
    }

    #[test]
    fn a_malformed_sums_line_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(SUMS_FILE), format!("{} 3 cora/x\nnot a line\n", "0".repeat(64))).unwrap();
        let e = Sums::load(root.path()).unwrap_err().to_string();
        assert!(e.contains("SHA256SUMS") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn sizes_read_like_download_pages() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(22_119), "22.1 kB");
        assert_eq!(human_bytes(1_380_000_000), "1.4 GB");
    }
}
