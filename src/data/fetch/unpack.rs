//! A downloaded zip into a staging folder, its single top-level folder stripped (OGB's
//! `arxiv.zip` holds `arxiv/raw/...`; gcnsim's cache keeps `<root>/ogbn-arxiv/raw/...`). Entry
//! names that would leave the folder (`../x`, `/etc/x`) are refused, and every entry must
//! unpack to the size it declares.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::cache::Record;
use super::download::{copy_hashed, CopyError};
use super::FetchError;

/// The most an archive may unpack to: far above ogbn-products' (about 3 GB) and Reddit's, far
/// below what would fill a disk by surprise.
pub const MAX_UNPACKED_BYTES: u64 = 64 << 30;

/// Unpacks `zip_path` into `dest` (which exists). Returns each file written, as its path
/// relative to `dest` (with `/`), with its SHA-256 and size.
pub fn unzip(zip_path: &Path, dest: &Path) -> Result<Vec<(String, Record)>, FetchError> {
    unzip_at_most(zip_path, dest, MAX_UNPACKED_BYTES)
}

/// [`unzip`], refusing an archive whose entries declare more than `max_bytes` in all.
fn unzip_at_most(zip_path: &Path, dest: &Path, max_bytes: u64) -> Result<Vec<(String, Record)>, FetchError> {
    let fail = |message: String| FetchError::Corrupt { path: zip_path.to_owned(), message };
    let file = std::fs::File::open(zip_path).map_err(|cause| FetchError::Io { path: zip_path.to_owned(), cause })?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| fail(e.to_string()))?;
    let mut names = Vec::with_capacity(archive.len());
    let mut declared_total = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| fail(e.to_string()))?;
        let name = entry.enclosed_name().ok_or_else(|| fail(format!("entry `{}` leaves the folder", entry.name())))?;
        declared_total = declared_total.saturating_add(entry.size());
        names.push((name, entry.is_dir()));
    }
    if declared_total > max_bytes {
        return Err(fail(format!("its entries declare {declared_total} bytes, more than the {max_bytes} allowed")));
    }
    let strip = common_top_folder(&names);
    let mut written = Vec::new();
    for (i, (name, is_dir)) in names.iter().enumerate() {
        let rel = match &strip {
            Some(top) => name.strip_prefix(top).unwrap_or(name).to_owned(),
            None => name.clone(),
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        let io = |cause| FetchError::Io { path: target.clone(), cause };
        if *is_dir {
            std::fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut entry = archive.by_index(i).map_err(|e| fail(format!("entry `{}`: {e}", name.display())))?;
        let declared = entry.size();
        // Never more than declared (plus one byte, to notice): an entry cannot outgrow the check.
        let bounded = (&mut entry).take(declared.saturating_add(1));
        let record = copy_hashed(bounded, &target, &mut |_| {}).map_err(|e| match e {
            CopyError::Read { cause, .. } => fail(format!("entry `{}`: {cause}", name.display())),
            CopyError::Write(cause) => FetchError::Io { path: target.clone(), cause },
        })?;
        if record.bytes != declared {
            return Err(fail(format!(
                "entry `{}` unpacked to {} bytes, declared {declared}",
                name.display(),
                record.bytes
            )));
        }
        written.push((rel.to_string_lossy().replace('\\', "/"), record));
    }
    Ok(written)
}

/// The folder every entry lies in, when there is exactly one and no file beside it.
fn common_top_folder(names: &[(PathBuf, bool)]) -> Option<PathBuf> {
    let mut top: Option<PathBuf> = None;
    for (name, is_dir) in names {
        let mut parts = name.components();
        let first = PathBuf::from(parts.next()?.as_os_str());
        if parts.next().is_none() && !is_dir {
            return None; // a file at the top level
        }
        match &top {
            None => top = Some(first),
            Some(t) if *t == first => {}
            Some(_) => return None,
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let mut w = zip::ZipWriter::new(std::fs::File::create(tmp.path()).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, data) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, options).unwrap();
            } else {
                w.start_file(*name, options).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap();
        tmp
    }

    #[test]
    fn a_single_top_folder_is_stripped() {
        let z = zip_of(&[("arxiv/", b""), ("arxiv/raw/edge.csv", b"0,1\n"), ("arxiv/RELEASE_v1.txt", b"v1")]);
        let dest = tempfile::tempdir().unwrap();
        let written = unzip(z.path(), dest.path()).unwrap();
        let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["raw/edge.csv", "RELEASE_v1.txt"]);
        assert_eq!(std::fs::read(dest.path().join("raw/edge.csv")).unwrap(), b"0,1\n");
        assert_eq!(written[0].1.bytes, 4);
    }

    #[test]
    fn files_at_the_top_stay_where_they_are() {
        let z = zip_of(&[("reddit_data.npz", b"a"), ("reddit_graph.npz", b"bc")]);
        let dest = tempfile::tempdir().unwrap();
        unzip(z.path(), dest.path()).unwrap();
        assert!(dest.path().join("reddit_data.npz").is_file() && dest.path().join("reddit_graph.npz").is_file());
    }

    #[test]
    fn an_archive_declaring_more_than_the_limit_is_refused_before_writing() {
        let z = zip_of(&[("a/x", &[7u8; 600]), ("a/y", &[8u8; 500])]);
        let dest = tempfile::tempdir().unwrap();
        let e = unzip_at_most(z.path(), dest.path(), 1000).unwrap_err().to_string();
        assert!(e.contains("1100 bytes") && e.contains("1000 allowed"), "{e}");
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
        assert_eq!(unzip_at_most(z.path(), dest.path(), 1100).unwrap().len(), 2);
    }

    #[test]
    fn entries_leaving_the_folder_and_broken_archives_are_refused() {
        let z = zip_of(&[("../evil.txt", b"x")]);
        let dest = tempfile::tempdir().unwrap();
        let e = unzip(z.path(), dest.path()).unwrap_err().to_string();
        assert!(e.contains("leaves the folder") && e.contains("evil"), "{e}");
        let junk = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(junk.path(), b"PK\x03\x04 not really").unwrap();
        let e = unzip(junk.path(), dest.path()).unwrap_err().to_string();
        assert!(e.contains(&junk.path().display().to_string()), "{e}");
    }
}
