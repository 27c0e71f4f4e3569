//! One process per output folder: an exclusive advisory lock on `.NAME.lock` beside it.
//!
//! The lock (std's `File::try_lock`: `flock` on Unix) is released by the OS when the process
//! ends, however it ends; the file holds the owner's process id for the message a second process
//! prints. The owner removes the file when done. A process that opened the file just before its
//! removal may lock the removed file, so a lock counts only if the path still names the file
//! that was locked; otherwise it tries again.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::{cleanup, io_error, OutputError};

#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    // Dropped after the file is removed (see `Drop`): the lock goes with it.
    file: Option<File>,
    _registration: cleanup::Registration,
}

/// `.NAME.lock` beside `dest`.
pub fn lock_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.lock"))
}

impl DirLock {
    /// Takes the lock of `dest` (whose parent exists) or says which process holds it.
    pub fn acquire(dest: &Path) -> Result<Self, OutputError> {
        let path = lock_path(dest);
        for _ in 0..16 {
            // Created and registered together, so an interrupt never leaves an unregistered file.
            let (file, registration) = cleanup::critical(|| {
                let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path);
                file.map(|f| (f, cleanup::register_file(path.clone())))
            })
            .map_err(io_error(dest, "creating its lock file beside it"))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    drop(registration); // the file is the holder's, not ours to remove
                    return Err(in_use(dest, &file));
                }
                Err(fs::TryLockError::Error(e)) => {
                    drop(registration);
                    return Err(OutputError::Io { path: dest.to_path_buf(), action: "locking it", cause: e });
                }
            }
            if !same_file(&file, &path) {
                drop(registration);
                continue;
            }
            let mut file = file;
            let _ = file.set_len(0).and_then(|()| write!(file, "{}", std::process::id()));
            return Ok(Self { path, file: Some(file), _registration: registration });
        }
        Err(OutputError::Refused {
            path: dest.to_path_buf(),
            message: format!("its lock file {} keeps changing; is another gcnsim starting?", path.display()),
        })
    }
}

fn in_use(dest: &Path, mut file: &File) -> OutputError {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.take(32).read_to_string(&mut text));
    let holder = match text.trim().parse::<u32>() {
        Ok(pid) => format!("process {pid}"),
        Err(_) => "another process".to_string(),
    };
    OutputError::Refused {
        path: dest.to_path_buf(),
        message: format!("it is in use by {holder} (another gcnsim writing it); wait until it ends"),
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    true
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked (see the module docs), then unlocked by closing it.
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_the_file_goes_with_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r");
        let first = DirLock::acquire(&dest).unwrap();
        assert_eq!(fs::read_to_string(lock_path(&dest)).unwrap(), std::process::id().to_string());
        let err = DirLock::acquire(&dest).unwrap_err().to_string();
        assert!(err.contains(&format!("in use by process {}", std::process::id())), "{err}");
        assert!(lock_path(&dest).is_file(), "the holder's file stays");
        drop(first);
        assert!(!lock_path(&dest).exists());
        let _again = DirLock::acquire(&dest).unwrap();
    }
}
