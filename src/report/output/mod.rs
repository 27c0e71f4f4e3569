//! Output folders that can never destroy a user's files.
//!
//! Every command that writes a folder (`run`, `train --out`, `resume`) goes through
//! [`OutputDir`]:
//! - [`Claim::new`] resolves the destination once: the parent is made canonical (symbolic links
//!   followed, as the OS follows them), the name is kept (a link named as the destination is
//!   refused, not followed). Every read and write uses that path.
//! - It takes an exclusive lock on `.NAME.lock` beside the destination ([`lock`]), then checks
//!   the destination: it must not exist, be empty, or be an earlier gcnsim output whose marker
//!   vouches for every file in it ([`manifest`]); anything else is refused naming the file, and
//!   so is a destination that contains the working directory. Nothing is removed before this.
//! - [`Claim::stage`] removes staging and aside folders that dead processes left beside the
//!   destination ([`cleanup::remove_abandoned`]) and creates a uniquely named staging folder
//!   beside it (same file system, so the final rename is atomic).
//! - The command writes its files into the staging folder.
//! - [`OutputDir::commit`] writes the marker listing every file in the staging folder and swaps
//!   it into place: the old folder is renamed aside, the new one renamed in, and only then is
//!   the old one deleted (a failure to delete it is a warning: the results are in place). A
//!   failure before leaves the previous results whole.
//! - Dropping an `OutputDir` without committing removes its staging folder; SIGINT and SIGTERM
//!   remove it too ([`cleanup`]).

pub mod cleanup;
pub mod lock;
pub mod manifest;
pub mod trace;

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use manifest::{Marker, Vouch};
pub use manifest::{GCNSIM_NAMES, INCOMPLETE, MARKER};

/// What kind of folder a command writes (recorded in the marker; `gcnsim plot` reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// `gcnsim run`: an experiment's results folder.
    Experiment,
    /// `gcnsim train --out`: one run.
    Train,
    /// `gcnsim run --shard K/N`: a shard's finished runs, for `gcnsim merge`.
    Shard,
    /// `gcnsim compare`: figures and a table of several results folders.
    Compare,
    /// `gcnsim validate`: the clock's predictions against measured kernel times.
    Validation,
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

/// A destination resolved, locked and checked, with no staging folder yet (`resume` reads the
/// checkpoint in between); see the module docs.
#[derive(Debug)]
pub struct Claim {
    dest: PathBuf,
    kind: OutputKind,
    lock: lock::DirLock,
}

impl Claim {
    /// Resolves `path`, creates its parent if missing, takes the lock and checks the destination.
    pub fn new(path: &Path, kind: OutputKind) -> Result<Self, OutputError> {
        let dest = resolve(path)?;
        // A folder refused outright gets no lock file beside it.
        check_destination(&dest)?;
        let parent = dest.parent().expect("a resolved destination has a parent");
        fs::create_dir_all(parent).map_err(io_error(parent, "creating its parent folder"))?;
        Self::locked(dest, kind)
    }

    /// As [`Self::new`] for a destination that must exist already (`resume`).
    pub fn existing(path: &Path, kind: OutputKind) -> Result<Self, OutputError> {
        let dest = resolve(path)?;
        if !dest.is_dir() {
            return Err(OutputError::Refused { path: dest, message: "there is no such folder".into() });
        }
        check_destination(&dest)?;
        Self::locked(dest, kind)
    }

    fn locked(dest: PathBuf, kind: OutputKind) -> Result<Self, OutputError> {
        let lock = lock::DirLock::acquire(&dest)?;
        // Again: another process may have changed it until we held the lock.
        check_destination(&dest)?;
        Ok(Self { dest, kind, lock })
    }

    /// The resolved destination: read from it, nothing else.
    pub fn destination(&self) -> &Path {
        &self.dest
    }

    /// Removes what dead processes left beside the destination and creates the staging folder.
    pub fn stage(self) -> Result<OutputDir, OutputError> {
        for gone in cleanup::remove_abandoned(&self.dest) {
            eprintln!("removed {}, left by a gcnsim process that no longer runs", gone.display());
        }
        let stage = sibling(&self.dest, "staging");
        let registration =
            cleanup::critical(|| fs::create_dir(&stage).map(|()| cleanup::register_folder(stage.clone())))
                .map_err(io_error(&self.dest, "creating a staging folder beside it"))?;
        let Claim { dest, kind, lock } = self;
        let guard = OutputDir { dest, stage, kind, committed: false, _registration: registration, _lock: lock };
        let note = format!(
            "gcnsim is writing here, or was interrupted; the files appear in {} when it completes\n",
            guard.dest.display()
        );
        fs::write(guard.stage.join(INCOMPLETE), note)
            .map_err(io_error(&guard.stage, "writing into the staging folder"))?;
        Ok(guard)
    }
}

/// A destination checked and locked, and a staging folder created; see the module docs.
#[derive(Debug)]
pub struct OutputDir {
    dest: PathBuf,
    stage: PathBuf,
    kind: OutputKind,
    committed: bool,
    // Dropped after `Drop::drop` removed the staging folder, so an interrupt meanwhile still finds it.
    _registration: cleanup::Registration,
    _lock: lock::DirLock,
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
    /// [`Claim::new`] and [`Claim::stage`]: for commands that read nothing from the destination.
    pub fn begin(path: &Path, kind: OutputKind) -> Result<Self, OutputError> {
        Claim::new(path, kind)?.stage()
    }

    /// Where the files go until [`Self::commit`].
    pub fn staging(&self) -> &Path {
        &self.stage
    }

    /// The final folder (resolved).
    pub fn destination(&self) -> &Path {
        &self.dest
    }

    /// Makes the destination hold a run's checkpoints while it trains: creates it, marks it as
    /// gcnsim's with `file_name` and the INCOMPLETE note added to its manifest, and writes the
    /// note; returns the checkpoint's path. The commit replaces the folder, checkpoint included.
    pub fn checkpoint_path(&self, file_name: &str) -> Result<PathBuf, OutputError> {
        let dest = &self.dest;
        let files = match check_destination(dest)? {
            Some(owned) => owned.files,
            None => Default::default(),
        };
        fs::create_dir_all(dest).map_err(io_error(dest, "creating it for checkpoints"))?;
        let mut files = files;
        files.extend([file_name.to_string(), INCOMPLETE.to_string()]);
        // The marker first: every file written after it is on its list.
        Marker::new(self.kind, files).write(dest)?;
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
        fs::remove_file(self.stage.join(INCOMPLETE)).map_err(io_error(&self.stage, "clearing INCOMPLETE"))?;
        let files = manifest::list_files(&self.stage)?;
        let marker = Marker::new(self.kind, files).to_text();
        fs::write(self.stage.join(MARKER), marker).map_err(io_error(&self.stage, "writing the marker"))?;
        // Checked again: the user may have changed the folder since `begin`.
        check_destination(&self.dest)?;
        let aside = cleanup::critical(|| self.swap(&mut hook))?;
        hook(SwapStep::AfterRenameIn).map_err(io_error(&self.dest, "after moving the new results in"))?;
        if let Some(aside) = aside {
            // Ours alone: renamed aside by this process after the check above.
            if let Err(e) = fs::remove_dir_all(&aside) {
                eprintln!(
                    "warning: the new results are in {}, but deleting the previous results in {} failed: {e}; \
                     the next gcnsim run into {} removes it",
                    self.dest.display(),
                    aside.display(),
                    self.dest.display()
                );
            }
        }
        Ok(self.dest.clone())
    }

    /// Renames the old folder aside and the staging folder in; returns the aside folder.
    fn swap(&mut self, hook: &mut impl FnMut(SwapStep) -> io::Result<()>) -> Result<Option<PathBuf>, OutputError> {
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
                    // They are the only copy now: out of the way of `cleanup::remove_abandoned`,
                    // which removes `.old-` folders of dead processes.
                    let kept = sibling(&self.dest, "kept");
                    let aside = if fs::rename(aside, &kept).is_ok() { &kept } else { aside };
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
        Ok(aside)
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

/// `path` made absolute once and for all: its parent canonical, as the OS resolves it (so
/// `link/../run` is the `run` beside the link's target, where reading it would look), the last
/// component kept as named (a link there is refused by `check_destination`, not followed).
/// A parent that does not exist yet is resolved from its deepest existing ancestor.
pub fn resolve(path: &Path) -> Result<PathBuf, OutputError> {
    let refuse = |message: &str| OutputError::Refused { path: path.to_path_buf(), message: message.to_string() };
    if path.as_os_str().is_empty() {
        return Err(refuse("the path is empty"));
    }
    let cwd = std::env::current_dir().map_err(io_error(path, "reading the working directory"))?;
    let joined = cwd.join(path);
    let resolved = match joined.components().next_back() {
        Some(Component::Normal(name)) => {
            resolve_folder(joined.parent().expect("a path ending in a name has a parent"), path)?.join(name)
        }
        // `.`, `..`: the folder they name exists; it is named by its canonical path.
        _ => joined.canonicalize().map_err(io_error(path, "resolving it"))?,
    };
    if resolved.parent().is_none() {
        return Err(refuse("the file system root cannot be an output folder"));
    }
    Ok(resolved)
}

/// The canonical form of `dir`, whose trailing components may not exist yet.
fn resolve_folder(dir: &Path, named: &Path) -> Result<PathBuf, OutputError> {
    for existing in dir.ancestors() {
        let Ok(canonical) = existing.canonicalize() else { continue };
        let rest = dir.strip_prefix(existing).expect("an ancestor is a prefix");
        if rest.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(OutputError::Refused {
                path: named.to_path_buf(),
                message: format!("`..` follows {}, which does not exist", existing.display()),
            });
        }
        return Ok(canonical.join(rest));
    }
    Err(OutputError::Refused { path: named.to_path_buf(), message: "no part of it exists".into() })
}

/// Refuses a destination that is not ours to replace; what it holds if it is an earlier output.
fn check_destination(dest: &Path) -> Result<Option<manifest::Owned>, OutputError> {
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
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(OutputError::Io { path: dest.to_path_buf(), action: "inspecting it", cause: e }),
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link; name the folder it points to, or a new folder".to_string());
    }
    if !meta.is_dir() {
        return refuse("it exists and is not a folder; name a new folder".to_string());
    }
    manifest::check(dest)
}

/// Adds `written` (files just written into the existing folder `dir`, e.g. by `gcnsim plot`)
/// to its manifest. A folder without a gcnsim marker is left unmarked; an old marker becomes a
/// list of the gcnsim-named files present.
pub fn record_written(dir: &Path, written: &[PathBuf]) -> Result<(), OutputError> {
    let (kind, mut files) = match Vouch::read(dir)? {
        Vouch::None | Vouch::Forged => return Ok(()),
        Vouch::Listed(kind, files) => (kind, files),
        Vouch::Old(kind) => {
            let present = GCNSIM_NAMES.iter().filter(|n| dir.join(n).is_file()).map(|n| n.to_string());
            (kind, present.collect())
        }
    };
    files.extend(written.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()));
    Marker::new(kind, files).write(dir)
}

/// The kind of gcnsim output in `dir`, if it is one.
pub fn output_kind(dir: &Path) -> Option<OutputKind> {
    Vouch::read(dir).ok()?.kind()
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
    fn one_process_at_a_time_and_failures_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let a = stage_with(dir.path(), "r", "a.csv", "a");
        let err = OutputDir::begin(&dir.path().join("r"), OutputKind::Train).unwrap_err().to_string();
        assert!(err.contains("in use by process"), "{err}");
        assert_eq!(siblings(dir.path()).len(), 2, "the lock file and a's staging folder, nothing of the refused one");
        drop(a); // a failed run
        assert!(siblings(dir.path()).is_empty(), "its staging folder and lock file are gone");
        stage_with(dir.path(), "r", "b.csv", "b").commit().unwrap();
        assert_eq!(siblings(dir.path()), ["r"]);
    }

    #[test]
    fn the_parent_is_resolved_as_the_os_resolves_it() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        fs::create_dir_all(real.join("deep/inner")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(real.join("deep/inner"), real.join("link")).unwrap();
            assert_eq!(resolve(&real.join("link/../run")).unwrap(), real.join("deep/run"));
            // A link named as the destination is kept (and refused by the check), not followed.
            assert_eq!(resolve(&real.join("link")).unwrap(), real.join("link"));
        }
        assert_eq!(resolve(&real.join("new/a/b")).unwrap(), real.join("new/a/b"));
        assert!(resolve(&real.join("new/../b")).unwrap_err().to_string().contains("does not exist"));
        assert_eq!(resolve(&real.join("deep/inner/..")).unwrap(), real.join("deep"));
    }
}
