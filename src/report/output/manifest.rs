//! The marker `.gcnsim-output`: what wrote a folder and every file it wrote there (its manifest).
//!
//! A folder is gcnsim's to replace only if everything in it is vouched for by its marker:
//! - a marker with a `files` list vouches for exactly those top-level files;
//! - an old marker (written before gcnsim kept a list; the committed results carry them) vouches
//!   only for top-level files named as gcnsim names its outputs ([`GCNSIM_NAMES`]);
//! - a marker that is not gcnsim's JSON (e.g. `touch .gcnsim-output`) vouches for nothing.
//!
//! A temporary file `.NAME.tmp-PID` (an atomic write cut short by a kill) is vouched for when
//! `NAME` is. Folders and symbolic links inside the folder never are.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::{io_error, OutputError, OutputKind};

/// The file that marks a folder as gcnsim's output. It carries no timestamp, so re-running a
/// command leaves it byte-identical.
pub const MARKER: &str = ".gcnsim-output";
/// Inside a staging folder until the commit, and in a folder holding a run's checkpoints.
pub const INCOMPLETE: &str = "INCOMPLETE";
/// A marker is a few hundred bytes; a bigger one is not gcnsim's (and `/dev/zero` is not read).
const MARKER_LIMIT: u64 = 1 << 20;

/// Every name gcnsim gives a file in its output folders: what an old marker vouches for.
pub const GCNSIM_NAMES: &[&str] = &[
    INCOMPLETE,
    "checkpoint.bin",
    // `gcnsim run`
    "experiment.resolved.toml",
    "runs.csv",
    "env.json",
    // both
    "metrics.csv",
    "comm.csv",
    "timing.csv",
    "workers.csv",
    "gradients.csv",
    // `gcnsim train --out`
    "events.csv",
    "selection.csv",
    "embeddings.csv",
    "shards.csv",
    "summary.json",
    // figures (`run`, `plot`)
    "convergence.png",
    "convergence.svg",
    "memory.png",
    "memory.svg",
    "partitions.png",
    "partitions.svg",
    "time.png",
    "time.svg",
    "timeline.png",
    "timeline.svg",
    "staleness.png",
    "staleness.svg",
    "robustness.png",
    "robustness.svg",
    "optimizers.png",
    "optimizers.svg",
    // the page (`run`, `merge`, `report`)
    "report.html",
];

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Marker {
    pub written_by: String,
    pub kind: OutputKind,
    /// Every file gcnsim wrote into the folder, sorted; absent in markers written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeSet<String>>,
}

impl Marker {
    pub fn new(kind: OutputKind, files: BTreeSet<String>) -> Self {
        Self { written_by: format!("gcnsim {}", env!("CARGO_PKG_VERSION")), kind, files: Some(files) }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("the marker serializes") + "\n"
    }

    /// Writes the marker into `dir` atomically (a reader sees the old list or the new one).
    pub fn write(&self, dir: &Path) -> Result<(), OutputError> {
        let path = dir.join(MARKER);
        crate::report::atomic::write_atomic(&path, |w| w.write_all(self.to_text().as_bytes())).map_err(|e| {
            OutputError::Io { path: dir.to_path_buf(), action: "writing its marker", cause: io::Error::other(e) }
        })
    }
}

/// What a folder's marker says.
#[derive(Debug)]
pub(super) enum Vouch {
    /// No marker.
    None,
    /// A marker gcnsim did not write: vouches for nothing.
    Forged,
    /// A marker written before manifests: vouches for [`GCNSIM_NAMES`].
    Old(OutputKind),
    Listed(OutputKind, BTreeSet<String>),
}

impl Vouch {
    pub fn read(dir: &Path) -> Result<Self, OutputError> {
        let path = dir.join(MARKER);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vouch::None),
            Err(e) => return Err(OutputError::Io { path, action: "inspecting it", cause: e }),
        };
        if !meta.is_file() {
            return Ok(Vouch::Forged);
        }
        let mut text = String::new();
        let read = fs::File::open(&path).and_then(|f| f.take(MARKER_LIMIT + 1).read_to_string(&mut text));
        match read {
            Ok(n) if n as u64 <= MARKER_LIMIT => {}
            Ok(_) => return Ok(Vouch::Forged),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Vouch::Forged),
            Err(e) => return Err(OutputError::Io { path, action: "reading it", cause: e }),
        }
        Ok(match serde_json::from_str::<Marker>(&text) {
            Err(_) => Vouch::Forged,
            Ok(Marker { kind, files: None, .. }) => Vouch::Old(kind),
            Ok(Marker { kind, files: Some(files), .. }) => Vouch::Listed(kind, files),
        })
    }

    pub fn kind(&self) -> Option<OutputKind> {
        match self {
            Vouch::Old(kind) | Vouch::Listed(kind, _) => Some(*kind),
            Vouch::None | Vouch::Forged => None,
        }
    }

    fn vouches_for(&self, name: &str) -> bool {
        if name == MARKER {
            return !matches!(self, Vouch::None);
        }
        match self {
            Vouch::None | Vouch::Forged => false,
            Vouch::Old(_) => GCNSIM_NAMES.contains(&name),
            Vouch::Listed(_, files) => files.contains(name),
        }
    }

    /// `name` itself, or the temporary file of an atomic write of it (`.NAME.tmp-PID`).
    fn vouches_for_entry(&self, name: &str) -> bool {
        let temp_of = name
            .strip_prefix('.')
            .and_then(|rest| rest.rsplit_once(".tmp-"))
            .filter(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            .map(|(file, _)| file);
        self.vouches_for(name) || temp_of.is_some_and(|f| self.vouches_for(f))
    }
}

/// What [`check`] found in an existing folder.
#[derive(Debug)]
pub(super) struct Owned {
    /// The vouched-for files present (temporary files excluded).
    pub files: BTreeSet<String>,
}

/// Checks that every entry of the existing folder `dir` is vouched for by its marker (see the
/// module docs); `None` for an empty folder.
pub(super) fn check(dir: &Path) -> Result<Option<Owned>, OutputError> {
    let refuse = |message: String| Err(OutputError::Refused { path: dir.to_path_buf(), message });
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir, "listing it"))? {
        let entry = entry.map_err(io_error(dir, "listing it"))?;
        let kind = entry.file_type().map_err(io_error(dir, "listing it"))?;
        names.push((entry.file_name().to_string_lossy().into_owned(), kind));
    }
    if names.is_empty() {
        return Ok(None);
    }
    let vouch = Vouch::read(dir)?;
    if matches!(vouch, Vouch::None) {
        return refuse(format!(
            "it is not empty and was not written by gcnsim (it has no {MARKER} file), so gcnsim will not replace it; \
             name a new folder, or empty or remove this one yourself"
        ));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut files = BTreeSet::new();
    for (name, kind) in names {
        if name == MARKER {
            continue;
        }
        if !(kind.is_file() && vouch.vouches_for_entry(&name)) {
            let why = match &vouch {
                Vouch::Forged => format!("its {MARKER} is not a marker gcnsim wrote"),
                Vouch::Old(_) => format!("not a name gcnsim writes, and its {MARKER} lists no files"),
                _ if !kind.is_file() => "gcnsim writes only files here".to_string(),
                _ => format!("its {MARKER} does not list it"),
            };
            return refuse(format!(
                "it holds {name}, which gcnsim did not write ({why}), so gcnsim will not replace the folder; \
                 move that file away, or name a new folder"
            ));
        }
        if vouch.vouches_for(&name) {
            files.insert(name);
        }
    }
    Ok(Some(Owned { files }))
}

/// The top-level files of a staging folder gcnsim filled: the manifest it commits with.
pub(super) fn list_files(dir: &Path) -> Result<BTreeSet<String>, OutputError> {
    let mut files = BTreeSet::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir, "listing it"))? {
        let entry = entry.map_err(io_error(dir, "listing it"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != MARKER && name != INCOMPLETE {
            files.insert(name);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn refusal(dir: &Path) -> String {
        check(dir).unwrap_err().to_string()
    }

    #[test]
    fn a_listed_marker_vouches_for_its_files_alone() {
        let marker = Marker::new(OutputKind::Train, ["metrics.csv".to_string()].into()).to_text();
        let dir = folder(&[(MARKER, &marker), ("metrics.csv", "1"), (".metrics.csv.tmp-42", "")]);
        let owned = check(dir.path()).unwrap().unwrap();
        assert_eq!(Vouch::read(dir.path()).unwrap().kind(), Some(OutputKind::Train));
        assert_eq!(owned.files, ["metrics.csv".to_string()].into());
        // A gcnsim name that the list does not hold is not vouched for.
        fs::write(dir.path().join("summary.json"), "{}").unwrap();
        assert!(refusal(dir.path()).contains("summary.json"));
    }

    #[test]
    fn an_old_marker_vouches_for_gcnsim_names_only() {
        let old = "{\n  \"written_by\": \"gcnsim 0.1.0\",\n  \"kind\": \"experiment\"\n}\n";
        let dir = folder(&[(MARKER, old), ("runs.csv", "x"), ("convergence.png", "x")]);
        assert_eq!(check(dir.path()).unwrap().unwrap().files.len(), 2);
        fs::write(dir.path().join("thesis.tex"), "precious").unwrap();
        let err = refusal(dir.path());
        assert!(err.contains("thesis.tex") && err.contains("lists no files"), "{err}");
    }

    #[test]
    fn a_forged_marker_vouches_for_nothing() {
        for forged in ["", "not json", "{\"files\": [\"thesis.tex\"]}"] {
            let dir = folder(&[(MARKER, forged), ("metrics.csv", "x")]);
            let err = refusal(dir.path());
            assert!(err.contains("metrics.csv") && err.contains("not a marker gcnsim wrote"), "{forged}: {err}");
        }
        // A marker alone is fine: there is nothing to lose.
        let dir = folder(&[(MARKER, "")]);
        assert!(check(dir.path()).unwrap().is_some());
    }

    #[test]
    fn folders_and_links_inside_are_never_vouched_for() {
        let marker = Marker::new(OutputKind::Train, ["sub".to_string(), "link".to_string()].into()).to_text();
        let dir = folder(&[(MARKER, &marker)]);
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(refusal(dir.path()).contains("holds sub"));
        fs::remove_dir(dir.path().join("sub")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
            assert!(refusal(dir.path()).contains("holds link"));
        }
    }
}
