//! What an interrupted process removes, and what it left behind if it could not.
//!
//! - A registry of this process's staging folders, temporary files and lock files.
//!   [`interrupted`] removes them all and exits. The signal thread calls it; see
//!   `app::signals`. Swaps run inside [`critical`], so an interrupt waits for a swap to finish
//!   and never finds the destination half-swapped.
//! - [`remove_abandoned`]: the `.NAME.staging-PID-…` and `.NAME.old-PID-…` folders beside a
//!   destination whose process no longer runs (killed with SIGKILL, or a failed deletion).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug)]
enum Entry {
    /// A folder this process is filling.
    Folder(PathBuf),
    /// A file this process created (a lock file, a temporary file).
    File(PathBuf),
}

static SWAP: Mutex<()> = Mutex::new(());
static REGISTRY: Mutex<Vec<(u64, Entry)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

fn held<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes its entry from the registry when dropped (the path itself stays).
#[derive(Debug)]
pub struct Registration(u64);

fn register(entry: Entry) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    held(&REGISTRY).push((id, entry));
    Registration(id)
}

/// `dir` (with everything in it) is removed if the process is interrupted.
pub fn register_folder(dir: PathBuf) -> Registration {
    register(Entry::Folder(dir))
}

/// `file` is removed if the process is interrupted.
pub fn register_file(file: PathBuf) -> Registration {
    register(Entry::File(file))
}

impl Drop for Registration {
    fn drop(&mut self) {
        held(&REGISTRY).retain(|(id, _)| *id != self.0);
    }
}

/// Runs `f` with interrupts held off until it returns.
pub fn critical<T>(f: impl FnOnce() -> T) -> T {
    let _swap = held(&SWAP);
    f()
}

/// Removes every registered path and exits with 128 + `signal` (130 for SIGINT, 143 for
/// SIGTERM). Waits for a swap in progress.
pub fn interrupted(signal: i32, name: &str) -> ! {
    let _swap = held(&SWAP);
    let registry = held(&REGISTRY);
    for (_, entry) in registry.iter() {
        match entry {
            Entry::Folder(dir) => {
                if fs::remove_dir_all(dir).is_ok() {
                    eprintln!("removed {}", dir.display());
                }
            }
            Entry::File(file) => {
                let _ = fs::remove_file(file);
            }
        }
    }
    eprintln!("interrupted by {name}; the previous results, if any, are untouched");
    // Without running exit handlers: other threads (a GPU driver's among them) are still at
    // work, and handlers that tear down what they use could crash the exit.
    #[cfg(unix)]
    // SAFETY: `_exit` ends the process at once; nothing of it is used afterwards.
    unsafe {
        libc::_exit(128 + signal)
    }
    #[cfg(not(unix))]
    std::process::exit(128 + signal)
}

/// Whether process `pid` still runs (or may: on platforms where it cannot be asked, yes).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return true };
        if pid <= 0 {
            return true;
        }
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let found = unsafe { libc::kill(pid, 0) } == 0;
        found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes the staging and aside folders that dead gcnsim processes left beside `dest` (an
/// absolute path whose parent exists) and returns them. Only folders named as gcnsim names
/// them and owned by another process id that no longer runs; a staging folder must still hold
/// its INCOMPLETE note.
pub fn remove_abandoned(dest: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else { return removed };
    let name = name.to_string_lossy();
    let tags = [format!(".{name}.staging-"), format!(".{name}.old-")];
    let Ok(entries) = fs::read_dir(parent) else { return removed };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some((tag, rest)) = tags.iter().find_map(|t| file_name.strip_prefix(t.as_str()).map(|r| (t, r))) else {
            continue;
        };
        let Some(Ok(pid)) = rest.split('-').next().map(str::parse::<u32>) else { continue };
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let staging = tag.contains(".staging-");
        let ours_to_remove =
            is_dir && pid != std::process::id() && !alive(pid) && (!staging || path.join(super::INCOMPLETE).is_file());
        if ours_to_remove && fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process id that does not run (the highest a pid can be on Linux, plus one).
    const DEAD: u32 = 4_194_305;

    #[test]
    fn only_dead_processes_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r");
        let me = std::process::id();
        let make = |name: &str, incomplete: bool| {
            let p = dir.path().join(name);
            fs::create_dir(&p).unwrap();
            if incomplete {
                fs::write(p.join(super::super::INCOMPLETE), "").unwrap();
            }
            p
        };
        let dead_stage = make(&format!(".r.staging-{DEAD}-0-1"), true);
        let dead_old = make(&format!(".r.old-{DEAD}-0-1"), false);
        let live_stage = make(&format!(".r.staging-{me}-0-1"), true);
        let finished = make(&format!(".r.staging-{DEAD}-1-1"), false); // no INCOMPLETE: not a staging folder
        let other = make(&format!(".rr.staging-{DEAD}-0-1"), true);
        let mut removed = remove_abandoned(&dest);
        removed.sort();
        let mut want = vec![dead_old, dead_stage];
        want.sort();
        assert_eq!(removed, want);
        assert!(live_stage.is_dir() && finished.is_dir() && other.is_dir());
        assert!(alive(me) && !alive(DEAD));
    }
}
