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
    write_csv_atomic_without(path, rows, &[])
}

/// [`write_csv_atomic`] less the columns named in `drop` (header and every row): columns that
/// only an optional feature fills stay out of the files of runs without it, so those files are
/// what they were before the feature existed.
pub fn write_csv_atomic_without<R: serde::Serialize>(
    path: &Path,
    rows: &[R],
    drop: &[&str],
) -> Result<(), ReportError> {
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        for r in rows {
            w.serialize(r).map_err(|cause| ReportError::Csv { path: path.to_path_buf(), cause })?;
        }
        w.flush().map_err(io_err(path))?;
    }
    let buf = without_columns(&buf, drop).map_err(|cause| ReportError::Csv { path: path.to_path_buf(), cause })?;
    write_atomic(path, |w| w.write_all(&buf))
}

/// CSV text (with a header) less the columns named in `drop`; unchanged when none is present.
pub fn without_columns(csv_text: &[u8], drop: &[&str]) -> Result<Vec<u8>, csv::Error> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(csv_text);
    let mut records = r.records();
    let Some(header) = records.next().transpose()? else { return Ok(csv_text.to_vec()) };
    let keep: Vec<usize> = (0..header.len()).filter(|&i| !drop.contains(&&header[i])).collect();
    if keep.len() == header.len() {
        return Ok(csv_text.to_vec());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(keep.iter().map(|&i| &header[i]))?;
    for record in records {
        let record = record?;
        w.write_record(keep.iter().map(|&i| &record[i]))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
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
    #[test]
    fn without_columns_drops_the_named_columns_from_header_and_rows() {
        let text = b"a,b,c\n1,2,3\n4,\"x,y\",6\n";
        let out = super::without_columns(text, &["b"]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,c\n1,3\n4,6\n");
        assert_eq!(super::without_columns(text, &["z"]).unwrap(), text.to_vec());
        assert_eq!(super::without_columns(b"", &["a"]).unwrap(), Vec::<u8>::new());
    }

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
