//! Writes a [`Dataset`] in the OGB raw layout that [`super::ogb`] reads, so a generated graph (or
//! any other dataset gcnsim loads) becomes a folder other tools, and gcnsim's own loader, read:
//!
//! ```text
//! <dir>/raw/edge.csv.gz                   src,dst   each undirected edge once (src < dst)
//! <dir>/raw/node-feat.csv.gz              f1,...,fF one line per node
//! <dir>/raw/node-label.csv.gz             label
//! <dir>/raw/num-node-list.csv.gz          N
//! <dir>/raw/num-edge-list.csv.gz          E
//! <dir>/split/<split>/{train,valid,test}.csv.gz
//! ```
//!
//! Features are written in Rust's shortest round-trip form, so loading the folder again gives
//! the same bits. Everything is written into a staging folder beside `<dir>` that is renamed into
//! place at the end: an error (or a kill) never leaves a half-written dataset at `<dir>`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use rayon::prelude::*;

use super::{DataError, Dataset};

/// Rows formatted per parallel block: large enough to amortize the hand-off, small enough that a
/// batch of blocks stays a few MiB.
const BLOCK_ROWS: usize = 1 << 14;

/// Lines the export writes in all (the progress total).
pub fn total_lines(ds: &Dataset) -> u64 {
    let split = ds.split.train.len() + ds.split.valid.len() + ds.split.test.len();
    (ds.num_undirected_edges() + 2 * ds.num_nodes() + split + 2) as u64
}

/// Writes `ds` into the new folder `dir` (which must not exist, or be empty), calling `progress`
/// with the number of lines written so far. The split goes to `split/<split_name>/`.
pub fn export(ds: &Dataset, dir: &Path, split_name: &str, progress: &(dyn Fn(u64) + Sync)) -> Result<(), DataError> {
    check_target(dir, split_name)?;
    let staging = Staging::new(dir)?;
    write_all(ds, &staging.path, split_name, progress)?;
    staging.commit(dir)
}

fn check_target(dir: &Path, split_name: &str) -> Result<(), DataError> {
    let invalid = |message: String| Err(DataError::Invalid { path: dir.to_owned(), message });
    if split_name.is_empty() || split_name.contains(['/', '\\']) || split_name.starts_with('.') {
        return invalid(format!("split name `{split_name}` must be a plain folder name"));
    }
    if dir.is_file() {
        return invalid("exists and is a file".to_string());
    }
    let non_empty = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if non_empty {
        return invalid("exists and is not empty; export writes a new folder".to_string());
    }
    Ok(())
}

fn write_all(ds: &Dataset, root: &Path, split_name: &str, progress: &(dyn Fn(u64) + Sync)) -> Result<(), DataError> {
    let raw = root.join("raw");
    let split = root.join("split").join(split_name);
    for d in [&raw, &split] {
        std::fs::create_dir_all(d).map_err(|cause| DataError::Io { path: d.clone(), cause })?;
    }
    let mut done = 0u64;
    let mut tick = |lines: u64| {
        done += lines;
        progress(done);
    };
    write_lines(&raw.join("num-node-list.csv.gz"), [ds.num_nodes().to_string()], &mut tick)?;
    write_lines(&raw.join("num-edge-list.csv.gz"), [ds.num_undirected_edges().to_string()], &mut tick)?;
    write_edges(ds, &raw.join("edge.csv.gz"), &mut tick)?;
    write_lines(&raw.join("node-label.csv.gz"), ds.labels.iter().map(u32::to_string), &mut tick)?;
    write_features(ds, &raw.join("node-feat.csv.gz"), &mut tick)?;
    for (stem, ids) in [("train", &ds.split.train), ("valid", &ds.split.valid), ("test", &ds.split.test)] {
        write_lines(&split.join(format!("{stem}.csv.gz")), ids.iter().map(u32::to_string), &mut tick)?;
    }
    Ok(())
}

/// A gzip file being written; `finish` flushes it and reports errors with the path.
struct GzFile {
    path: PathBuf,
    out: GzEncoder<BufWriter<File>>,
}

impl GzFile {
    fn create(path: &Path) -> Result<Self, DataError> {
        let file = File::create(path).map_err(|cause| DataError::Io { path: path.to_owned(), cause })?;
        // Level 1: the files are large and written once; a higher level costs several times the
        // time for a few percent.
        let out = GzEncoder::new(BufWriter::with_capacity(1 << 20, file), flate2::Compression::fast());
        Ok(Self { path: path.to_owned(), out })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        self.out.write_all(bytes).map_err(|cause| DataError::Io { path: self.path.clone(), cause })
    }

    fn finish(self) -> Result<(), DataError> {
        let path = self.path;
        let io = |cause| DataError::Io { path: path.clone(), cause };
        let file = self.out.finish().map_err(io)?.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    }
}

fn write_lines(
    path: &Path,
    lines: impl IntoIterator<Item = String>,
    tick: &mut impl FnMut(u64),
) -> Result<(), DataError> {
    let mut file = GzFile::create(path)?;
    let mut count = 0u64;
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
        count += 1;
        if text.len() >= 1 << 20 {
            file.write(text.as_bytes())?;
            text.clear();
            tick(std::mem::take(&mut count));
        }
    }
    file.write(text.as_bytes())?;
    tick(count);
    file.finish()
}

/// Formats blocks of rows in parallel (`format(block)` for block indices `0..blocks`), writing
/// them in order; a batch of a few blocks per thread is in memory at a time.
fn write_blocks(
    path: &Path,
    blocks: usize,
    format: impl Fn(usize) -> (Vec<u8>, u64) + Sync,
    tick: &mut impl FnMut(u64),
) -> Result<(), DataError> {
    let mut file = GzFile::create(path)?;
    let batch = 4 * rayon::current_num_threads().max(1);
    for start in (0..blocks).step_by(batch) {
        let end = (start + batch).min(blocks);
        let texts: Vec<(Vec<u8>, u64)> = (start..end).into_par_iter().map(&format).collect();
        for (text, lines) in texts {
            file.write(&text)?;
            tick(lines);
        }
    }
    file.finish()
}

/// Each undirected edge once, as `u,v` with `u < v`, in row order.
fn write_edges(ds: &Dataset, path: &Path, tick: &mut impl FnMut(u64)) -> Result<(), DataError> {
    let a = &ds.adjacency;
    let blocks = a.rows.div_ceil(BLOCK_ROWS);
    let format = |b: usize| {
        let mut text = Vec::new();
        let mut lines = 0u64;
        for u in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(a.rows) {
            for &v in a.row(u).iter().filter(|&&v| v as usize > u) {
                let _ = writeln!(text, "{u},{v}");
                lines += 1;
            }
        }
        (text, lines)
    };
    write_blocks(path, blocks, format, tick)
}

fn write_features(ds: &Dataset, path: &Path, tick: &mut impl FnMut(u64)) -> Result<(), DataError> {
    let f = &ds.features;
    let blocks = f.rows.div_ceil(BLOCK_ROWS);
    let format = |b: usize| {
        let mut text = Vec::new();
        let rows = b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(f.rows);
        let lines = rows.len() as u64;
        for r in rows {
            for (i, x) in f.row(r).iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                // `{}` is the shortest text that parses back to the same f32.
                let _ = write!(text, "{sep}{x}");
            }
            text.push(b'\n');
        }
        (text, lines)
    };
    write_blocks(path, blocks, format, tick)
}

/// The staging folder beside the target; removed on drop unless committed.
struct Staging {
    path: PathBuf,
    committed: bool,
}

impl Staging {
    fn new(dir: &Path) -> Result<Self, DataError> {
        let name = dir.file_name().map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned());
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let path = parent.join(format!(".{name}.gcnsim-export-{}", std::process::id()));
        // A leftover of a killed export with the same pid is ours to replace.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|cause| DataError::Io { path: path.clone(), cause })?;
        Ok(Self { path, committed: false })
    }

    /// Renames the staging folder to `dir` (an empty `dir` is replaced).
    fn commit(mut self, dir: &Path) -> Result<(), DataError> {
        if dir.is_dir() {
            // Only an empty folder gets here (`check_target`); remove_dir refuses anything else.
            std::fs::remove_dir(dir).map_err(|cause| DataError::Io { path: dir.to_owned(), cause })?;
        }
        std::fs::rename(&self.path, dir).map_err(|cause| DataError::Io { path: dir.to_owned(), cause })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ogb::{self, OgbOptions};
    use crate::data::DatasetSpec;

    fn csbm() -> Dataset {
        let spec: DatasetSpec =
            "csbm:nodes=700,classes=3,features=5,train_per_class=4,valid=50,test=60".parse().unwrap();
        spec.load().unwrap()
    }

    #[test]
    fn export_then_load_gives_the_same_dataset() {
        let ds = csbm();
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("g");
        let seen = std::sync::atomic::AtomicU64::new(0);
        export(&ds, &dir, "s", &|n| seen.store(n, std::sync::atomic::Ordering::Relaxed)).unwrap();
        assert_eq!(seen.into_inner(), total_lines(&ds));
        let back = ogb::load(&dir, &OgbOptions::default()).unwrap();
        assert_eq!(back.fingerprint(), ds.fingerprint());
        assert_eq!(back.adjacency, ds.adjacency);
        let bits = |m: &crate::tensor::HostMatrix| m.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.features), bits(&ds.features));
        assert_eq!((back.labels, back.split, back.num_classes), (ds.labels, ds.split, ds.num_classes));
        // Nothing but the dataset is left beside it.
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("g")]);
    }

    #[test]
    fn a_failed_export_leaves_nothing() {
        let ds = csbm();
        let root = tempfile::tempdir().unwrap();
        let taken = root.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        std::fs::write(taken.join("x"), "keep").unwrap();
        let message = export(&ds, &taken, "s", &|_| {}).unwrap_err().to_string();
        assert!(message.contains("not empty"), "{message}");
        assert_eq!(std::fs::read_to_string(taken.join("x")).unwrap(), "keep");
        // A split name that is not a folder name is refused before anything is written.
        let bad = export(&ds, &root.path().join("new"), "../up", &|_| {}).unwrap_err().to_string();
        assert!(bad.contains("plain folder name"), "{bad}");
        // A write error midway (the staging folder's parent vanishes) removes the staging folder.
        let gone = root.path().join("gone/inner/g");
        let failed = export(&ds, &gone, "s", &|n| {
            if n > 2 {
                let _ = std::fs::remove_dir_all(root.path().join("gone"));
            }
        });
        assert!(failed.is_err());
        assert!(!gone.exists());
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("taken")]);
    }
}
