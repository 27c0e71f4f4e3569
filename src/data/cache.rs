//! A binary cache of a loaded dataset folder, so the second load of a large graph reads a few
//! arrays instead of re-parsing gigabytes of CSV.gz.
//!
//! The cache lives in `<dir>/.gcnsim-cache/load-<options>.bin` and is keyed by the identity of
//! every source file under `<dir>` (relative name, size, modification time), the folder's name,
//! the load options and [`FORMAT_VERSION`]: touching, replacing, adding or removing any file
//! makes it stale. The file ends with a CRC-32 of everything before it and stores the dataset's
//! [`Dataset::fingerprint`], which is recomputed on reading: a stale, truncated or corrupted
//! cache is never trusted, only rebuilt. Every length is checked against the bytes left before
//! anything of that size is allocated. The cache is written to a temporary file and renamed; a
//! folder that cannot be written, or is marked read-only (a shared dataset folder), goes without.
//!
//! Layout (little-endian): `MAGIC`, the key (u64 length + UTF-8), then the arrays, each a u64
//! element count and its elements, then the CRC-32.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{DataError, Dataset, Split};
use crate::graph::Csr;
use crate::tensor::HostMatrix;

/// The cache folder inside a dataset folder (skipped when listing the source files).
pub const CACHE_DIR: &str = ".gcnsim-cache";
/// Bumped whenever the layout below or a reader's output changes.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"GCNSIMDC";

/// Loads the dataset folder `dir` through its cache: from the cache when it is current and
/// sound, else with `load` (then writing the cache where the folder allows). `options` names
/// what else shapes the result (the split, symmetrizing) and becomes part of the key.
pub fn load_cached(
    dir: &Path,
    options: &str,
    load: impl FnOnce() -> Result<Dataset, DataError>,
) -> Result<Dataset, DataError> {
    // The arrays are stored as they lie in memory.
    if cfg!(target_endian = "big") {
        return load();
    }
    let Ok(key) = cache_key(dir, options) else {
        return load();
    };
    let path = cache_path(dir, options);
    if let Ok(ds) = read(&path, &key) {
        return Ok(ds);
    }
    let ds = load()?;
    // A cache that cannot be written (full disk, no permission) costs only speed. A folder
    // without write permission is left alone even where the user could write it anyway (root):
    // a shared, read-only dataset folder stays as it is.
    let read_only = std::fs::metadata(dir).is_ok_and(|m| m.permissions().readonly());
    if !read_only {
        let _ = write(&path, &key, &ds);
    }
    Ok(ds)
}

/// `<dir>/.gcnsim-cache/load-<crc of options>.bin`.
pub fn cache_path(dir: &Path, options: &str) -> PathBuf {
    dir.join(CACHE_DIR).join(format!("load-{:08x}.bin", crc32fast::hash(options.as_bytes())))
}

/// Every regular file under `dir` but the cache, as `name size mtime_ns` lines, sorted; with the
/// folder's name, the options and the format version.
fn cache_key(dir: &Path, options: &str) -> std::io::Result<String> {
    let mut files = Vec::new();
    list_files(dir, Path::new(""), &mut files)?;
    files.sort();
    let name = dir.canonicalize()?.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(format!("gcnsim dataset cache v{FORMAT_VERSION}\nname {name}\noptions {options}\n{}", files.join("\n")))
}

fn list_files(root: &Path, rel: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = rel.join(entry.file_name());
        if name.as_os_str() == CACHE_DIR {
            continue;
        }
        // Follows links, as the loaders do.
        let meta = std::fs::metadata(entry.path())?;
        if meta.is_dir() {
            list_files(root, &name, out)?;
        } else {
            let mtime = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            out.push(format!("{} {} {mtime}", name.display(), meta.len()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Writes the cache atomically: a temporary file in the cache folder, synced, then renamed.
pub fn write(path: &Path, key: &str, ds: &Dataset) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let temp =
        folder.join(format!(".tmp-{}-{}", std::process::id(), path.file_name().unwrap_or_default().to_string_lossy()));
    let result = write_file(&temp, key, ds).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_file(temp: &Path, key: &str, ds: &Dataset) -> std::io::Result<()> {
    let mut w =
        CrcWriter { out: BufWriter::with_capacity(1 << 20, File::create(temp)?), crc: crc32fast::Hasher::new() };
    w.put(MAGIC)?;
    w.bytes(key.as_bytes())?;
    w.bytes(ds.name.as_bytes())?;
    w.words(&[
        ds.num_classes as u64,
        ds.adjacency.rows as u64,
        ds.adjacency.cols as u64,
        ds.features.rows as u64,
        ds.features.cols as u64,
    ])?;
    w.array(&ds.adjacency.row_ptr)?;
    w.array(&ds.adjacency.col_idx)?;
    w.array(&ds.adjacency.values)?;
    w.array(&ds.features.data)?;
    w.array(&ds.labels)?;
    for part in [&ds.split.train, &ds.split.valid, &ds.split.test] {
        w.array(part)?;
    }
    w.words(&[ds.warnings.len() as u64])?;
    for warning in &ds.warnings {
        w.bytes(warning.as_bytes())?;
    }
    w.bytes(ds.fingerprint().as_bytes())?;
    let crc = w.crc.clone().finalize();
    let mut out = w.out;
    out.write_all(&crc.to_le_bytes())?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

struct CrcWriter<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> CrcWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.out.write_all(bytes)
    }

    fn words(&mut self, words: &[u64]) -> std::io::Result<()> {
        words.iter().try_for_each(|w| self.put(&w.to_le_bytes()))
    }

    fn bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.words(&[bytes.len() as u64])?;
        self.put(bytes)
    }

    fn array<T: bytemuck::Pod>(&mut self, items: &[T]) -> std::io::Result<()> {
        self.words(&[items.len() as u64])?;
        self.put(bytemuck::cast_slice(items))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Why a cache file was not used (never shown as an error: the dataset is loaded instead).
#[derive(Debug, thiserror::Error)]
pub enum CacheMiss {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

fn invalid<T>(message: impl Into<String>) -> Result<T, CacheMiss> {
    Err(CacheMiss::Invalid(message.into()))
}

/// Reads the cache at `path` if it is for `key`, complete and sound.
pub fn read(path: &Path, key: &str) -> Result<Dataset, CacheMiss> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut r = CrcReader {
        inp: BufReader::with_capacity(1 << 20, file),
        crc: crc32fast::Hasher::new(),
        left: len.saturating_sub(4),
    };
    let mut magic = [0u8; 8];
    r.take(&mut magic)?;
    if &magic != MAGIC {
        return invalid("not a gcnsim dataset cache");
    }
    if r.string()? != key {
        return invalid("stale: the source files changed");
    }
    let ds = read_arrays(&mut r)?;
    let stored_fingerprint = r.string()?;
    if r.left != 0 {
        return invalid("trailing bytes");
    }
    let expected = r.crc.clone().finalize();
    let mut crc = [0u8; 4];
    r.inp.read_exact(&mut crc)?;
    if u32::from_le_bytes(crc) != expected {
        return invalid("checksum mismatch");
    }
    if ds.fingerprint() != stored_fingerprint {
        return invalid("fingerprint mismatch");
    }
    Ok(ds)
}

fn read_arrays<R: Read>(r: &mut CrcReader<R>) -> Result<Dataset, CacheMiss> {
    let name = r.string()?;
    let [classes, rows, cols, feat_rows, feat_cols] = [r.word()?, r.word()?, r.word()?, r.word()?, r.word()?];
    let row_ptr = r.array::<u32>()?;
    let col_idx = r.array::<u32>()?;
    let values = r.array::<f32>()?;
    let data = r.array::<f32>()?;
    let labels = r.array::<u32>()?;
    let (train, valid, test) = (r.array::<u32>()?, r.array::<u32>()?, r.array::<u32>()?);
    let warnings = (0..r.word()?.min(r.left / 8)).map(|_| r.string()).collect::<Result<Vec<_>, _>>()?;
    let size = |x: u64| usize::try_from(x).map_err(|_| CacheMiss::Invalid("size out of range".into()));
    let (rows, cols, feat_rows, feat_cols) = (size(rows)?, size(cols)?, size(feat_rows)?, size(feat_cols)?);
    // The shapes must agree with the arrays before anything indexes them; the fingerprint check
    // then vouches for the contents.
    let consistent = row_ptr.len() == rows + 1
        && row_ptr.last().is_some_and(|&n| n as usize == col_idx.len())
        && (values.is_empty() || values.len() == col_idx.len())
        && feat_rows.checked_mul(feat_cols) == Some(data.len())
        && labels.len() == rows
        && feat_rows == rows;
    if !consistent {
        return invalid("inconsistent shapes");
    }
    Ok(Dataset {
        name,
        adjacency: Csr { rows, cols, row_ptr, col_idx, values },
        features: HostMatrix::from_vec(feat_rows, feat_cols, data),
        labels,
        num_classes: size(classes)?,
        split: Split { train, valid, test },
        warnings,
    })
}

struct CrcReader<R: Read> {
    inp: R,
    crc: crc32fast::Hasher,
    /// Bytes left before the trailing CRC: no length may claim more.
    left: u64,
}

impl<R: Read> CrcReader<R> {
    fn take(&mut self, buf: &mut [u8]) -> Result<(), CacheMiss> {
        if buf.len() as u64 > self.left {
            return invalid("truncated");
        }
        self.inp.read_exact(buf)?;
        self.crc.update(buf);
        self.left -= buf.len() as u64;
        Ok(())
    }

    fn word(&mut self) -> Result<u64, CacheMiss> {
        let mut b = [0u8; 8];
        self.take(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// `count` elements of `T`, refused before allocating if the file cannot hold them.
    fn array<T: bytemuck::Pod + bytemuck::Zeroable>(&mut self) -> Result<Vec<T>, CacheMiss> {
        let count = self.word()?;
        let bytes = count.checked_mul(std::mem::size_of::<T>() as u64).filter(|&b| b <= self.left);
        let Some(bytes) = bytes else {
            return invalid("an array is longer than the file");
        };
        let mut items = vec![T::zeroed(); bytes as usize / std::mem::size_of::<T>()];
        self.take(bytemuck::cast_slice_mut(&mut items))?;
        Ok(items)
    }

    fn string(&mut self) -> Result<String, CacheMiss> {
        String::from_utf8(self.array::<u8>()?).or_else(|_| invalid("a string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::data::ogb::{self, OgbOptions};
    use crate::data::{export, DatasetSpec};

    /// A small exported CSBM folder and the dataset it holds.
    fn folder() -> (tempfile::TempDir, PathBuf, Dataset) {
        let spec: DatasetSpec =
            "csbm:nodes=600,classes=3,features=4,train_per_class=3,valid=40,test=50".parse().unwrap();
        let ds = spec.load().unwrap();
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("g");
        export::export(&ds, &dir, "s", &|_| {}).unwrap();
        (root, dir, ds)
    }

    fn load(dir: &Path) -> Result<Dataset, DataError> {
        load_cached(dir, "split=None", || ogb::load(dir, &OgbOptions::default()))
    }

    fn assert_identical(a: &Dataset, b: &Dataset) {
        let bits = |m: &HostMatrix| m.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(a.name, b.name);
        assert_eq!(a.adjacency, b.adjacency);
        assert_eq!(bits(&a.features), bits(&b.features));
        assert_eq!((a.features.rows, a.features.cols), (b.features.rows, b.features.cols));
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.num_classes, b.num_classes);
        assert_eq!(a.split, b.split);
        assert_eq!(a.warnings, b.warnings);
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn the_second_load_comes_from_the_cache_bit_identical() {
        let (_root, dir, _) = folder();
        let parsed = load(&dir).unwrap();
        let path = cache_path(&dir, "split=None");
        assert!(path.is_file());
        let key = cache_key(&dir, "split=None").unwrap();
        let cached = read(&path, &key).unwrap();
        assert_identical(&cached, &parsed);
        assert_identical(&load(&dir).unwrap(), &parsed);
        // Nothing but the cache is left in its folder (no temporary file).
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn a_changed_source_file_makes_the_cache_stale() {
        let (_root, dir, _) = folder();
        load(&dir).unwrap();
        let key = cache_key(&dir, "split=None").unwrap();
        // Another label file of another size: the key changes, the cache is refused and rebuilt.
        let labels = dir.join("raw/node-label.csv.gz");
        let text: String = (0..600).map(|i| format!("{}\n", i % 2)).collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        std::fs::write(&labels, enc.finish().unwrap()).unwrap();
        let new_key = cache_key(&dir, "split=None").unwrap();
        assert_ne!(key, new_key);
        let miss = read(&cache_path(&dir, "split=None"), &new_key).unwrap_err().to_string();
        assert!(miss.contains("stale"), "{miss}");
        let reloaded = load(&dir).unwrap();
        assert_eq!(reloaded.num_classes, 2);
        assert_identical(&read(&cache_path(&dir, "split=None"), &new_key).unwrap(), &reloaded);
    }

    #[test]
    fn truncated_or_corrupted_caches_are_never_trusted() {
        let (_root, dir, ds) = folder();
        load(&dir).unwrap();
        let path = cache_path(&dir, "split=None");
        let key = cache_key(&dir, "split=None").unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for cut in [0, 5, 8, 100, good.len() / 2, good.len() - 1] {
            cases.push(good[..cut].to_vec());
        }
        for at in [9, 40, good.len() / 3, good.len() - 10, good.len() - 2] {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            cases.push(bad);
        }
        // A huge array length must be refused before it is allocated.
        let mut huge = good.clone();
        let first_array = 8 + 8 + key.len() + 8 + ds.name.len() + 5 * 8;
        huge[first_array..first_array + 8].copy_from_slice(&(u64::MAX / 8).to_le_bytes());
        cases.push(huge);
        for (i, bytes) in cases.iter().enumerate() {
            std::fs::write(&path, bytes).unwrap();
            assert!(read(&path, &key).is_err(), "case {i} was trusted");
            // The loader falls back to the files and rewrites a sound cache.
            assert_identical(&load(&dir).unwrap(), &ogb::load(&dir, &OgbOptions::default()).unwrap());
            assert_eq!(std::fs::read(&path).unwrap(), good, "case {i}");
        }
    }

    #[test]
    fn an_unwritable_cache_folder_loads_without_a_cache() {
        let (_root, dir, ds) = folder();
        // A file where the cache folder would go: the cache cannot be made, the load still works.
        std::fs::write(dir.join(CACHE_DIR), "not a folder").unwrap();
        assert_eq!(load(&dir).unwrap().fingerprint(), ds.fingerprint());
        assert!(dir.join(CACHE_DIR).is_file());
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_folder_loads_without_a_cache() {
        use std::os::unix::fs::PermissionsExt;
        let (_root, dir, ds) = folder();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let loaded = load(&dir);
        let cached = dir.join(CACHE_DIR).exists();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(loaded.unwrap().fingerprint(), ds.fingerprint());
        // Even root, who could write there, leaves a read-only folder alone.
        assert!(!cached);
    }
}
