//! `gcnsim data fetch`: the named datasets (Planetoid's Cora, Citeseer and PubMed, OGB's
//! ogbn-arxiv and ogbn-products, Reddit), downloaded from where PyG, DGL and OGB download them,
//! checked against SHA-256s, unpacked and kept in a cache folder, `<root>/<name>/`.
//!
//! A fetch is atomic: each file is downloaded to a temporary file in the cache root and
//! verified, an archive is unpacked into a staging folder, and only a complete folder is renamed
//! into place; any failure removes what it made. A folder that exists is therefore complete,
//! and fetching it again makes no request (it is verified against `SHA256SUMS` instead).

pub mod cache;
pub mod download;
pub mod progress;
pub mod registry;
#[doc(hidden)]
pub mod testserver;
mod unpack;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cache::{Record, Sums};
use download::Http;
use progress::Progress;
use registry::{Entry, Layout};

/// Where datasets are cached and how they may be fetched.
#[derive(Clone, Debug)]
pub struct Settings {
    pub root: PathBuf,
    /// `GCNSIM_DATASET_MIRROR`: every file is fetched from `<mirror>/<file name>` instead.
    pub mirror: Option<String>,
    /// Refuse the network: only what is cached can be used.
    pub offline: bool,
    /// Further attempts after a transient failure, and the first wait (doubled each time).
    pub retries: u32,
    pub backoff: Duration,
}

/// Set by the command line's `--offline`; `GCNSIM_OFFLINE=1` does the same.
static OFFLINE: AtomicBool = AtomicBool::new(false);

pub fn set_offline(offline: bool) {
    OFFLINE.store(offline, Ordering::Relaxed);
}

impl Settings {
    pub fn new(root: PathBuf) -> Self {
        Self { root, mirror: None, offline: false, retries: 3, backoff: Duration::from_secs(1) }
    }

    /// `$GCNSIM_DATA_DIR` (else the platform cache folder, `~/.cache/gcnsim/datasets` on
    /// Linux), `$GCNSIM_DATASET_MIRROR`, and `--offline` or `GCNSIM_OFFLINE=1`.
    pub fn from_env() -> Result<Self, FetchError> {
        let root = match std::env::var_os("GCNSIM_DATA_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => dirs::cache_dir().ok_or(FetchError::NoCacheDir)?.join("gcnsim").join("datasets"),
        };
        let mirror = std::env::var("GCNSIM_DATASET_MIRROR").ok().filter(|m| !m.trim().is_empty());
        let offline_env = std::env::var("GCNSIM_OFFLINE").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
        Ok(Self { mirror, offline: offline_env || OFFLINE.load(Ordering::Relaxed), ..Self::new(root) })
    }

    fn url(&self, remote: &registry::Remote) -> String {
        match &self.mirror {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), remote.file),
            None => remote.url.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unknown dataset `{name}`; gcnsim can fetch {}", registry::names().join(", "))]
    UnknownName { name: String },
    #[error(
        "dataset `{name}` is not in the cache ({}) and the network is off (--offline or GCNSIM_OFFLINE=1); \
         fetch it with `gcnsim data fetch {name}`",
        dir.display()
    )]
    Offline { name: String, dir: PathBuf },
    #[error("{file}: {url}: {message}")]
    Http { file: String, url: String, message: String },
    #[error("{file}: SHA-256 mismatch: expected {expected}, got {got}")]
    Hash { file: String, expected: String, got: String },
    #[error("{file}: size mismatch: expected {expected} bytes, got {got}")]
    Size { file: String, expected: u64, got: u64 },
    #[error("{file}: the server sent an empty file (no dataset file is empty); nothing was cached")]
    Empty { file: String },
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("no cache folder: set GCNSIM_DATA_DIR (the platform has no cache directory, e.g. HOME is unset)")]
    NoCacheDir,
}

/// Makes sure dataset `name` is in the cache and returns its folder: verified if it is there,
/// downloaded (announced on `progress` first) if not.
pub fn fetch(name: &str, settings: &Settings, progress: &mut dyn Progress) -> Result<PathBuf, FetchError> {
    let entry = registry::find(name).ok_or_else(|| FetchError::UnknownName { name: name.to_string() })?;
    let dir = settings.root.join(name);
    if dir.is_dir() {
        verify_cached(entry, &settings.root)?;
        return Ok(dir);
    }
    if settings.offline {
        return Err(FetchError::Offline { name: name.to_string(), dir });
    }
    let root = &settings.root;
    std::fs::create_dir_all(root).map_err(|cause| FetchError::Io { path: root.clone(), cause })?;
    let mut sums = Sums::load(root)?;
    progress.announce(&announcement(entry, settings));
    let staging = Scratch(root.join(format!(".staging-{name}-{}", std::process::id())));
    std::fs::create_dir_all(&staging.0).map_err(|cause| FetchError::Io { path: staging.0.clone(), cause })?;
    let http = Http::new(settings.retries, settings.backoff);
    let mut records = Vec::new();
    for remote in entry.remotes {
        let known = sums.records.get(&cache::key(name, remote.file));
        let tmp = Scratch(root.join(format!(".download-{}-{}", std::process::id(), remote.file)));
        let bytes = remote.bytes.or(known.map(|r| r.bytes));
        let got = http.download(&settings.url(remote), remote.file, &tmp.0, bytes, progress)?;
        check(remote.file, &got, remote.sha256, known)?;
        records.push((cache::key(name, remote.file), got));
        match entry.layout {
            Layout::Files => rename(&tmp.0, &staging.0.join(remote.file))?,
            Layout::Zip => {
                let unpacked = unpack::unzip(&tmp.0, &staging.0)?;
                records.extend(unpacked.into_iter().map(|(rel, r)| (cache::key(name, &rel), r)));
            }
        }
    }
    // Another process may have completed the same fetch meanwhile: its folder is as good.
    if std::fs::rename(&staging.0, &dir).is_err() && !dir.is_dir() {
        rename(&staging.0, &dir)?;
    }
    sums.records.extend(records);
    sums.save(root)?;
    Ok(dir)
}

/// What is about to be downloaded, how much, from where: said before it starts.
fn announcement(entry: &Entry, settings: &Settings) -> String {
    let (bytes, exact) = entry.download_bytes();
    let size = if exact { cache::human_bytes(bytes) } else { format!("about {}", cache::human_bytes(bytes)) };
    let from = match &settings.mirror {
        Some(mirror) => format!("mirror {mirror}"),
        None => entry.source.to_string(),
    };
    let files = entry.remotes.len();
    let noun = if files == 1 { "file" } else { "files" };
    format!(
        "fetching {}: {files} {noun}, {size}, from {from} into {}",
        entry.name,
        settings.root.join(entry.name).display()
    )
}

/// `got` against the compiled-in SHA-256 where there is one, else against what an earlier
/// download recorded, if any.
fn check(file: &str, got: &Record, compiled: Option<&str>, recorded: Option<&Record>) -> Result<(), FetchError> {
    // Where no hash is known the first download is recorded as the truth: an empty answer (a
    // misconfigured mirror) must not become it.
    if got.bytes == 0 {
        return Err(FetchError::Empty { file: file.to_string() });
    }
    let expected = compiled.map(str::to_string).or(recorded.map(|r| r.sha256.clone()));
    if let Some(expected) = expected.filter(|e| !e.eq_ignore_ascii_case(&got.sha256)) {
        return Err(FetchError::Hash { file: file.to_string(), expected, got: got.sha256.clone() });
    }
    if let Some(r) = recorded.filter(|r| r.bytes != got.bytes) {
        return Err(FetchError::Size { file: file.to_string(), expected: r.bytes, got: got.bytes });
    }
    Ok(())
}

/// Datasets up to this size are re-hashed on every use; larger ones have their sizes checked
/// (hashing ogbn-products' 3 GB would cost seconds on every run).
const HASH_ON_USE_LIMIT: u64 = 256 << 20;

/// Checks a cached folder against what its fetch recorded (and the compiled-in hashes). A
/// folder with no records was not made by `gcnsim data fetch` (a user's own copy under
/// `$GCNSIM_DATA_DIR`): it is used as it is.
pub fn verify_cached(entry: &Entry, root: &Path) -> Result<(), FetchError> {
    let sums = Sums::load(root)?;
    let dir = root.join(entry.name);
    let downloads: Vec<&str> = entry.remotes.iter().map(|r| r.file).collect();
    let kept = |file: &str| entry.layout == Layout::Files || !downloads.contains(&file);
    let records: Vec<(&str, &Record)> = sums.of(entry.name).filter(|(file, _)| kept(file)).collect();
    let total: u64 = records.iter().map(|(_, r)| r.bytes).sum();
    for (file, recorded) in &records {
        let path = dir.join(file);
        let bytes = std::fs::metadata(&path).map_err(|cause| FetchError::Io { path: path.clone(), cause })?.len();
        let label = path.display().to_string();
        if bytes != recorded.bytes {
            return Err(FetchError::Size { file: label, expected: recorded.bytes, got: bytes });
        }
        if total <= HASH_ON_USE_LIMIT {
            let compiled = entry.remotes.iter().find(|r| r.file == *file).and_then(|r| r.sha256);
            check(&label, &download::hash_file(&path)?, compiled, Some(recorded))?;
        }
    }
    Ok(())
}

/// One named dataset as `gcnsim data list` shows it.
#[derive(Clone, Debug)]
pub struct Listing {
    pub name: &'static str,
    pub dir: PathBuf,
    /// Bytes on disk when cached.
    pub cached: Option<u64>,
    pub download_bytes: u64,
    pub download_exact: bool,
    pub source: &'static str,
}

pub fn list(root: &Path) -> Vec<Listing> {
    registry::ENTRIES
        .iter()
        .map(|e| {
            let dir = root.join(e.name);
            let (download_bytes, download_exact) = e.download_bytes();
            let cached = dir.is_dir().then(|| cache::size_on_disk(&dir));
            Listing { name: e.name, dir, cached, download_bytes, download_exact, source: e.source }
        })
        .collect()
}

/// Removes dataset `name` from the cache; returns the bytes freed (`None`: it was not there).
/// The hashes recorded for its downloads stay, so a later download must match them.
pub fn remove(name: &str, root: &Path) -> Result<Option<u64>, FetchError> {
    let entry = registry::find(name).ok_or_else(|| FetchError::UnknownName { name: name.to_string() })?;
    let dir = root.join(name);
    if !dir.is_dir() {
        return Ok(None);
    }
    let bytes = cache::size_on_disk(&dir);
    // Renamed first, so that no reader ever sees a half-deleted folder.
    let doomed = Scratch(root.join(format!(".removing-{name}-{}", std::process::id())));
    rename(&dir, &doomed.0)?;
    drop(doomed);
    let mut sums = Sums::load(root)?;
    let downloads: Vec<&str> = entry.remotes.iter().map(|r| r.file).collect();
    sums.forget(name, &downloads);
    sums.save(root)?;
    Ok(Some(bytes))
}

fn rename(from: &Path, to: &Path) -> Result<(), FetchError> {
    std::fs::rename(from, to).map_err(|cause| FetchError::Io { path: to.to_owned(), cause })
}

/// A temporary file or folder, removed when dropped (on success it has been renamed away).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[cfg(test)]
mod tests;
