//! Whole-file writes: a file appears complete or not at all.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}: {cause}")]
    Csv { path: PathBuf, cause: csv::Error },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// A row that does not parse: `line` is 1-based and counts the header.
    #[error("{path}:{line}: {message}")]
    Parse { path: PathBuf, line: u64, message: String },
    #[error("{path}: drawing failed: {message}")]
    Plot { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |cause| ReportError::Io { path: path.to_path_buf(), cause }
}

/// Writes `path` through `fill` into a sibling temporary file, then renames it into place.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), ReportError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = temp_name(path);
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ReportError::Io { path: path.to_path_buf(), cause: e });
    }
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// One CSV of `rows`, written atomically.
pub fn write_csv_atomic<R: serde::Serialize>(path: &Path, rows: &[R]) -> Result<(), ReportError> {
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        for r in rows {
            w.serialize(r).map_err(|cause| ReportError::Csv { path: path.to_path_buf(), cause })?;
        }
        w.flush().map_err(io_err(path))?;
    }
    write_atomic(path, |w| w.write_all(&buf))
}

/// Pretty JSON, written atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ReportError::Format { path: path.to_path_buf(), message: e.to_string() })?;
    write_atomic(path, |w| writeln!(w, "{text}"))
}

/// `dir/.name.tmp-PID`: hidden, and unique per process.
pub fn temp_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        let err = write_atomic(&path, |_| Err(std::io::Error::other("boom")));
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no file, no temporary left");
        write_atomic(&path, |w| w.write_all(b"ok")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "ok");
    }
}
