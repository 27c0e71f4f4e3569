//! `--trace FILE`: checked before the run, written to a temporary file, renamed into place when
//! the run completes.
//!
//! - An existing FILE is replaced only if it is an earlier gcnsim trace (its first line is a
//!   trace line) or empty, or with `--force`; a folder never.
//! - A FILE inside the output folder would be deleted with the previous results when the new
//!   folder is swapped in: it is written into the new folder instead, which must then be its
//!   parent, under a name gcnsim does not write itself.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{cleanup, io_error, resolve, OutputDir, OutputError, GCNSIM_NAMES, MARKER};

#[derive(Debug, thiserror::Error)]
#[error("--trace {path}: {message}")]
pub struct TraceError {
    path: PathBuf,
    message: String,
}

/// The trace file of a run: a temporary file until [`TraceFile::finish`].
#[derive(Debug)]
pub struct TraceFile {
    tmp: PathBuf,
    target: PathBuf,
    /// Where the user finds it once the run completed (`target` may lie in the staging folder).
    shown: PathBuf,
    done: bool,
    _registration: cleanup::Registration,
}

/// Whether `path` (an existing regular file) starts like a trace gcnsim writes:
/// `[    0.000000 s | round    1] publish v0`, or is empty.
fn is_earlier_trace(path: &Path) -> io::Result<bool> {
    let mut head = Vec::new();
    File::open(path)?.take(256).read_to_end(&mut head)?;
    let head = String::from_utf8_lossy(&head);
    let first = head.lines().next().unwrap_or("");
    Ok(head.is_empty()
        || first.starts_with('[')
            && first.contains(" s | round ")
            && first.split_once("] ").is_some_and(|(_, w)| !w.is_empty()))
}

impl TraceFile {
    /// Checks `path` against what exists and against `out` (the run's output folder), and opens
    /// the temporary file the trace is written to.
    pub fn create(path: &Path, force: bool, out: Option<&OutputDir>) -> Result<(Self, File), TraceError> {
        let refuse = |message: String| TraceError { path: path.to_path_buf(), message };
        let resolved = resolve(path).map_err(|e| refuse(e.to_string()))?;
        let name = resolved.file_name().expect("resolved").to_string_lossy().into_owned();
        let target = match out.map(|o| (o, resolved.strip_prefix(o.destination()))) {
            Some((_, Ok(rest))) if rest.as_os_str().is_empty() => {
                return Err(refuse("it is the output folder itself; name a file".into()))
            }
            Some((o, Ok(rest))) => {
                if rest.components().count() > 1 {
                    return Err(refuse(format!(
                        "it lies in a subfolder of the output folder {}, which is replaced as a whole; \
                         name a file directly in it, or outside it",
                        o.destination().display()
                    )));
                }
                if name == MARKER || GCNSIM_NAMES.contains(&name.as_str()) {
                    return Err(refuse(format!(
                        "gcnsim writes its own {name} into the output folder; name another file"
                    )));
                }
                // Into the new folder: the old one, with any earlier trace, is replaced by it.
                o.staging().join(&name)
            }
            _ => {
                match fs::symlink_metadata(&resolved) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(refuse(format!("inspecting it: {e}"))),
                    Ok(m) if m.is_dir() => return Err(refuse("it is a folder; name a file".into())),
                    Ok(_) if force => {}
                    Ok(m) => {
                        let earlier = m.is_file()
                            && is_earlier_trace(&resolved).map_err(|e| refuse(format!("reading it: {e}")))?;
                        if !earlier {
                            return Err(refuse(
                                "it exists and is not a gcnsim trace, so gcnsim will not overwrite it; name a new \
                                 file, or add --force to replace it"
                                    .into(),
                            ));
                        }
                    }
                }
                resolved.clone()
            }
        };
        let tmp = crate::report::atomic::temp_name(&target);
        let (file, registration) =
            cleanup::critical(|| File::create(&tmp).map(|f| (f, cleanup::register_file(tmp.clone()))))
                .map_err(|e| refuse(format!("creating {}: {e}", tmp.display())))?;
        Ok((Self { tmp, target, shown: resolved, done: false, _registration: registration }, file))
    }

    /// Renames the complete trace into place (after its writer was flushed and dropped);
    /// returns where the user finds it.
    pub fn finish(mut self) -> Result<PathBuf, OutputError> {
        File::open(&self.tmp).and_then(|f| f.sync_all()).map_err(io_error(&self.tmp, "syncing the trace"))?;
        fs::rename(&self.tmp, &self.target).map_err(io_error(&self.target, "moving the trace into place"))?;
        self.done = true;
        Ok(self.shown.clone())
    }
}

impl Drop for TraceFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_earlier_traces_and_empty_files_count_as_traces() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            fs::write(&p, text).unwrap();
            p
        };
        let trace = "[    0.000000 s | round    1] publish v0\n[    0.000000 s | round    1] worker 0 pulled v0\n";
        assert!(is_earlier_trace(&file("t", trace)).unwrap());
        assert!(is_earlier_trace(&file("e", "")).unwrap());
        assert!(!is_earlier_trace(&file("d", "draft\n")).unwrap());
        assert!(!is_earlier_trace(&file("b", "[ s | round ]")).unwrap());
    }

    #[test]
    fn an_existing_file_is_refused_unless_forced_and_a_refusal_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious.txt");
        fs::write(&precious, "draft\n").unwrap();
        let err = TraceFile::create(&precious, false, None).unwrap_err().to_string();
        assert!(err.contains("not a gcnsim trace") && err.contains("--force"), "{err}");
        assert_eq!(fs::read_to_string(&precious).unwrap(), "draft\n");
        let (trace, file) = TraceFile::create(&precious, true, None).unwrap();
        drop(file);
        drop(trace); // a failed run: the temporary file goes, the file stays
        assert_eq!(fs::read_to_string(&precious).unwrap(), "draft\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
