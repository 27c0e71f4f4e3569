//! Output folders that can never destroy a user's files.
//!
//! Every command that writes a folder (`run`, `train --out`) goes through [`OutputDir`]:
//! - [`OutputDir::begin`] checks the destination *before any work starts*: it must not exist,
//!   be empty, or be an earlier gcnsim output (it holds the [`MARKER`] file gcnsim writes);
//!   anything else is refused, and so is a destination that contains the working directory.
//!   It then creates a uniquely named staging folder beside the destination (so two runs with
//!   the same destination never touch each other's staging folder, and the final rename stays
//!   on one file system).
//! - The command writes its files into the staging folder.
//! - [`OutputDir::commit`] swaps it into place: the old folder is renamed aside, the new one
//!   renamed in, and only then is the old one deleted. A failure at any step leaves the previous
//!   results whole (renamed back when the second rename fails).
//! - Dropping an `OutputDir` without committing removes its staging folder: a failed run leaves
//!   nothing half-written behind.
//!
//! Nothing outside the destination and the staging/aside folders this process created is ever
//! deleted, and the destination only after it was checked again right before the swap.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The file that marks a folder as gcnsim's output. Its content says what wrote it; it carries
/// no timestamp, so re-running a command leaves it byte-identical.
pub const MARKER: &str = ".gcnsim-output";
/// Inside a staging folder until the commit: a folder holding it is not finished.
pub const INCOMPLETE: &str = "INCOMPLETE";

/// What kind of folder a command writes (recorded in the marker; `gcnsim plot` reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// `gcnsim run`: an experiment's results folder.
    Experiment,
    /// `gcnsim train --out`: one run.
    Train,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output folder {path}: {message}")]
    Refused { path: PathBuf, message: String },
    #[error("output folder {path}: {action}: {cause}")]
    Io { path: PathBuf, action: &'static str, cause: io::Error },
}

fn io_error<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> OutputError + 'a {
    move |cause| OutputError::Io { path: path.to_path_buf(), action, cause }
}

/// The steps of [`OutputDir::commit`], for tests that inject a failure between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapStep {
    /// The old folder was renamed aside; the new one is not in place yet.
    AfterAside,
    /// The new folder is in place; the old one (aside) is not deleted yet.
    AfterRenameIn,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct MarkerContent {
    written_by: String,
    kind: OutputKind,
}

/// A destination checked and a staging folder created; see the module docs.
#[derive(Debug)]
pub struct OutputDir {
    dest: PathBuf,
    stage: PathBuf,
    kind: OutputKind,
    committed: bool,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// `.NAME.TAG-PID-N-NANOS`: hidden, beside the destination, unique per process and call.
fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.{tag}-{}-{n}-{nanos}", std::process::id()))
}

impl OutputDir {
    /// Checks `dest` and creates the staging folder (and `dest`'s parent, if missing).
    pub fn begin(dest: &Path, kind: OutputKind) -> Result<Self, OutputError> {
        let dest = absolute(dest)?;
        check_destination(&dest)?;
        let parent = dest.parent().expect("an absolute path with a file name has a parent");
        fs::create_dir_all(parent).map_err(io_error(parent, "creating its parent folder"))?;
        let stage = sibling(&dest, "staging");
        fs::create_dir(&stage).map_err(io_error(&dest, "creating a staging folder beside it"))?;
        let guard = Self { dest, stage, kind, committed: false };
        let note = format!(
            "gcnsim is writing here, or was interrupted; the files appear in {} when it completes\n",
            guard.dest.display()
        );
        fs::write(guard.stage.join(INCOMPLETE), note)
            .map_err(io_error(&guard.stage, "writing into the staging folder"))?;
        Ok(guard)
    }

    /// Where the files go until [`Self::commit`].
    pub fn staging(&self) -> &Path {
        &self.stage
    }

    /// The final folder.
    pub fn destination(&self) -> &Path {
        &self.dest
    }

    /// Makes the destination hold a run's checkpoints while it trains: creates it (marked as
    /// gcnsim's, so the commit may replace it) and a note saying what it holds; returns the
    /// checkpoint's path. The commit replaces the folder, checkpoint included, with the results.
    pub fn checkpoint_path(&self, file_name: &str) -> Result<PathBuf, OutputError> {
        let dest = &self.dest;
        check_destination(dest)?;
        fs::create_dir_all(dest).map_err(io_error(dest, "creating it for checkpoints"))?;
        if !dest.join(MARKER).is_file() {
            let marker = MarkerContent { written_by: format!("gcnsim {}", env!("CARGO_PKG_VERSION")), kind: self.kind };
            let marker = serde_json::to_string_pretty(&marker).expect("the marker serializes");
            fs::write(dest.join(MARKER), marker + "\n").map_err(io_error(dest, "writing the marker"))?;
        }
        let note = format!(
            "A gcnsim run writes its checkpoints here ({file_name}). If it was interrupted, `gcnsim resume {}` \
             continues it; when it completes, its results replace this folder. Other files here are from an earlier run.\n",
            dest.display()
        );
        fs::write(dest.join(INCOMPLETE), note).map_err(io_error(dest, "writing the INCOMPLETE note"))?;
        Ok(dest.join(file_name))
    }

    /// Moves the staging folder into place (see the module docs); returns the destination.
    pub fn commit(self) -> Result<PathBuf, OutputError> {
        self.commit_with(|_| Ok(()))
    }

    /// [`Self::commit`] with a hook run after each swap step; an error from the hook acts like
    /// a failure of that step (tests use it to check that old results survive).
    pub fn commit_with(mut self, mut hook: impl FnMut(SwapStep) -> io::Result<()>) -> Result<PathBuf, OutputError> {
        let marker = MarkerContent { written_by: format!("gcnsim {}", env!("CARGO_PKG_VERSION")), kind: self.kind };
        let marker = serde_json::to_string_pretty(&marker).expect("the marker serializes");
        fs::write(self.stage.join(MARKER), marker + "\n").map_err(io_error(&self.stage, "writing the marker"))?;
        fs::remove_file(self.stage.join(INCOMPLETE)).map_err(io_error(&self.stage, "clearing INCOMPLETE"))?;
        // Checked again: the folder may have changed since `begin`.
        check_destination(&self.dest)?;
        let aside = if self.dest.exists() {
            let aside = sibling(&self.dest, "old");
            fs::rename(&self.dest, &aside).map_err(io_error(&self.dest, "moving the previous results aside"))?;
            Some(aside)
        } else {
            None
        };
        let rename_in = hook(SwapStep::AfterAside).and_then(|()| fs::rename(&self.stage, &self.dest));
        if let Err(cause) = rename_in {
            if let Some(aside) = &aside {
                // Put the previous results back; if even that fails, say where they are.
                if let Err(e) = fs::rename(aside, &self.dest) {
                    return Err(OutputError::Refused {
                        path: self.dest.clone(),
                        message: format!(
                            "moving the new results in failed ({cause}) and moving the previous results back failed \
                             ({e}); the previous results are whole in {}",
                            aside.display()
                        ),
                    });
                }
            }
            return Err(OutputError::Io { path: self.dest.clone(), action: "moving the new results in", cause });
        }
        self.committed = true;
        hook(SwapStep::AfterRenameIn).map_err(io_error(&self.dest, "after moving the new results in"))?;
        if let Some(aside) = aside {
            // Ours alone: renamed aside by this process after the check above.
            fs::remove_dir_all(&aside).map_err(io_error(&aside, "deleting the previous results"))?;
        }
        Ok(self.dest.clone())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            // Our own staging folder: nothing half-written is left behind.
            let _ = fs::remove_dir_all(&self.stage);
        }
    }
}

/// `path` made absolute without resolving symbolic links in its last component (a link named
/// as the destination is refused by `check_destination`, not followed).
fn absolute(path: &Path) -> Result<PathBuf, OutputError> {
    let refuse = |message: &str| OutputError::Refused { path: path.to_path_buf(), message: message.to_string() };
    if path.as_os_str().is_empty() {
        return Err(refuse("the path is empty"));
    }
    let cwd = std::env::current_dir().map_err(io_error(path, "reading the working directory"))?;
    let joined = cwd.join(path);
    // Resolve `.` and `..` lexically, so `--out .` is the working directory itself.
    let mut clean = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !clean.pop() {
                    return Err(refuse("the path leaves the file system root"));
                }
            }
            other => clean.push(other),
        }
    }
    if clean.file_name().is_none() {
        return Err(refuse("the file system root cannot be an output folder"));
    }
    // The parent may itself be a link (e.g. /tmp): resolve it so the containment check below
    // compares real paths.
    let parent = clean.parent().expect("has a file name").to_path_buf();
    let parent = parent.canonicalize().unwrap_or(parent);
    Ok(parent.join(clean.file_name().expect("checked")))
}

/// Refuses a destination that is not ours to replace.
fn check_destination(dest: &Path) -> Result<(), OutputError> {
    let refuse = |message: String| Err(OutputError::Refused { path: dest.to_path_buf(), message });
    if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize()) {
        if cwd.starts_with(dest) {
            return refuse(
                "it contains the working directory; name a new folder, e.g. --out results/my-run".to_string(),
            );
        }
    }
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::Io { path: dest.to_path_buf(), action: "inspecting it", cause: e }),
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link; name the folder it points to, or a new folder".to_string());
    }
    if !meta.is_dir() {
        return refuse("it exists and is not a folder; name a new folder".to_string());
    }
    let mut entries = fs::read_dir(dest).map_err(io_error(dest, "listing it"))?;
    if entries.next().is_none() || dest.join(MARKER).is_file() {
        return Ok(());
    }
    refuse(format!(
        "it is not empty and was not written by gcnsim (it has no {MARKER} file), so gcnsim will not replace it; \
         name a new folder, or empty or remove this one yourself"
    ))
}

/// Removes the staging folders a killed gcnsim left beside `dest` (`resume` calls it): only
/// folders named as [`OutputDir::begin`] names them, still holding the [`INCOMPLETE`] note, whose
/// process no longer runs. Linux only (it asks /proc); elsewhere nothing is removed.
pub fn remove_abandoned_staging(dest: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let (Ok(dest), true) = (absolute(dest), Path::new("/proc/self").exists()) else { return removed };
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else { return removed };
    let prefix = format!(".{}.staging-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(parent) else { return removed };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|rest| rest.split('-').next()) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let path = entry.path();
        let abandoned = pid != std::process::id()
            && !Path::new("/proc").join(pid.to_string()).exists()
            && path.is_dir()
            && path.join(INCOMPLETE).is_file();
        if abandoned && fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// The kind of gcnsim output in `dir`, if it is one.
pub fn output_kind(dir: &Path) -> Option<OutputKind> {
    let text = fs::read_to_string(dir.join(MARKER)).ok()?;
    serde_json::from_str::<MarkerContent>(&text).ok().map(|m| m.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_with(dir: &Path, dest: &str, file: &str, text: &str) -> OutputDir {
        let out = OutputDir::begin(&dir.join(dest), OutputKind::Experiment).unwrap();
        fs::write(out.staging().join(file), text).unwrap();
        out
    }

    fn siblings(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn writes_new_and_replaces_earlier_output() {
        let dir = tempfile::tempdir().unwrap();
        let dest = stage_with(dir.path(), "r", "a.csv", "1").commit().unwrap();
        assert_eq!(fs::read_to_string(dest.join("a.csv")).unwrap(), "1");
        assert_eq!(output_kind(&dest), Some(OutputKind::Experiment));
        assert!(!dest.join(INCOMPLETE).exists());
        stage_with(dir.path(), "r", "b.csv", "2").commit().unwrap();
        assert!(!dest.join("a.csv").exists() && dest.join("b.csv").is_file(), "replaced as a whole");
        assert_eq!(siblings(dir.path()), ["r"], "no staging or aside folder left");
    }

    #[test]
    fn refuses_foreign_folders_files_and_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("mine");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("thesis.tex"), "precious").unwrap();
        let err = OutputDir::begin(&foreign, OutputKind::Train).unwrap_err().to_string();
        assert!(err.contains("not written by gcnsim") && err.contains("new folder"), "{err}");
        assert_eq!(fs::read_to_string(foreign.join("thesis.tex")).unwrap(), "precious");
        fs::write(dir.path().join("file"), "x").unwrap();
        let err = OutputDir::begin(&dir.path().join("file"), OutputKind::Train).unwrap_err().to_string();
        assert!(err.contains("not a folder"), "{err}");
        // An empty folder is fine.
        fs::create_dir(dir.path().join("empty")).unwrap();
        OutputDir::begin(&dir.path().join("empty"), OutputKind::Train).unwrap();
        // A folder that contains the working directory never is.
        let cwd = std::env::current_dir().unwrap();
        let err = OutputDir::begin(&cwd, OutputKind::Train).unwrap_err().to_string();
        assert!(err.contains("working directory"), "{err}");
        let err = OutputDir::begin(Path::new(".."), OutputKind::Train).unwrap_err().to_string();
        assert!(err.contains("working directory"), "{err}");
        assert!(OutputDir::begin(Path::new("/"), OutputKind::Train).is_err());
    }

    #[test]
    fn a_folder_changed_since_begin_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r");
        let out = stage_with(dir.path(), "r", "a.csv", "1");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("notes.txt"), "mine").unwrap();
        assert!(out.commit().is_err());
        assert_eq!(fs::read_to_string(dest.join("notes.txt")).unwrap(), "mine");
        assert_eq!(siblings(dir.path()), ["r"], "the staging folder is cleaned up");
    }

    #[test]
    fn failures_between_swap_steps_keep_the_previous_results_whole() {
        let dir = tempfile::tempdir().unwrap();
        stage_with(dir.path(), "r", "a.csv", "old").commit().unwrap();
        let dest = dir.path().join("r");
        let fail =
            |at: SwapStep| move |step: SwapStep| if step == at { Err(io::Error::other("injected")) } else { Ok(()) };
        // Between "old aside" and "new in": the old folder is put back.
        let err = stage_with(dir.path(), "r", "a.csv", "new").commit_with(fail(SwapStep::AfterAside)).unwrap_err();
        assert!(err.to_string().contains("injected"), "{err}");
        assert_eq!(fs::read_to_string(dest.join("a.csv")).unwrap(), "old");
        assert_eq!(siblings(dir.path()), ["r"]);
        // After "new in", before the old one is deleted: the new results are in place and whole.
        let _ = stage_with(dir.path(), "r", "a.csv", "new").commit_with(fail(SwapStep::AfterRenameIn));
        assert_eq!(fs::read_to_string(dest.join("a.csv")).unwrap(), "new");
        // The previous results are still whole, aside.
        let aside: Vec<String> = siblings(dir.path()).into_iter().filter(|n| n.starts_with(".r.old-")).collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(fs::read_to_string(dir.path().join(&aside[0]).join("a.csv")).unwrap(), "old");
    }

    #[test]
    fn concurrent_runs_have_their_own_staging_folders_and_failures_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let a = stage_with(dir.path(), "r", "a.csv", "a");
        let b = stage_with(dir.path(), "r", "b.csv", "b");
        assert_ne!(a.staging(), b.staging());
        drop(a); // a failed run
        assert!(b.staging().join("b.csv").is_file(), "the other run's staging folder is untouched");
        b.commit().unwrap();
        assert_eq!(siblings(dir.path()), ["r"]);
    }
}
