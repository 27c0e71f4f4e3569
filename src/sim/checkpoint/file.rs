//! The checkpoint file: a fixed header (magic, format version, payload length, CRC-32 of the
//! payload) and the payload (bincode: f32 and f64 values bit-exact, infinities included).
//! Written to a temporary file beside the target, synced, then renamed over it, so a crash at
//! any moment leaves the previous checkpoint or the new one, never a mixture.

use std::fs;
use std::io::{Read, Write};

use bincode::Options;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GCNSIMCK";
/// Bumped whenever the payload's layout changes, or the meaning of a setting a run resumes
/// with (3: `sign_flip` and `scaled` transform the honest mean unless `of=own`; 4: the
/// geometric median starts at the coordinate-wise median and gives far or non-finite rows no
/// weight, centered clipping likewise, and `reduce` gave way to `topology`): older files are
/// refused by name rather than resumed into a different run.
pub const FORMAT_VERSION: u32 = 4;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("checkpoint {path}: {action}: {cause}")]
    Io { path: PathBuf, action: &'static str, cause: std::io::Error },
}

fn invalid(path: &Path, message: impl Into<String>) -> CheckpointError {
    CheckpointError::Invalid { path: path.to_path_buf(), message: message.into() }
}

/// Writes `value` to `path` atomically (temporary file, fsync, rename, fsync of the folder).
pub fn write<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CheckpointError> {
    let io = |action: &'static str| move |cause| CheckpointError::Io { path: path.to_path_buf(), action, cause };
    let payload = encode(value).map_err(|e| invalid(path, format!("cannot encode the state: {e}")))?;
    let bytes = framed(&payload);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io("creating its temporary file"))?;
        f.write_all(&bytes).map_err(io("writing its temporary file"))?;
        f.sync_all().map_err(io("syncing its temporary file"))?;
        fs::rename(&tmp, path).map_err(io("renaming its temporary file over it"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename is durable once the folder is synced (not possible on every platform).
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads and checks a file [`write`] wrote: every way it can be damaged is an error naming it.
/// The payload is read only once the header's length matches the file's, so a file that is not a
/// checkpoint (a device, a huge file) is refused before it is read; it decodes with a byte limit
/// (no length field can make the decoder allocate more than the file holds) and no trailing bytes.
pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CheckpointError> {
    let io = |action: &'static str| move |cause| CheckpointError::Io { path: path.to_path_buf(), action, cause };
    let mut file = fs::File::open(path).map_err(io("reading it"))?;
    let size = file.metadata().map_err(io("reading its metadata"))?.len();
    let mut header = Vec::with_capacity(HEADER_LEN);
    (&mut file).take(HEADER_LEN as u64).read_to_end(&mut header).map_err(io("reading it"))?;
    if header.len() < HEADER_LEN {
        if !header.starts_with(&MAGIC[..header.len().min(MAGIC.len())]) {
            return Err(invalid(path, "not a gcnsim checkpoint (no GCNSIMCK header)"));
        }
        return Err(invalid(
            path,
            format!("truncated: {} bytes, shorter than the {HEADER_LEN}-byte header", header.len()),
        ));
    }
    if &header[..8] != MAGIC {
        return Err(invalid(path, "not a gcnsim checkpoint (no GCNSIMCK header)"));
    }
    let u32_at = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
    let version = u32_at(8);
    if version != FORMAT_VERSION {
        return Err(invalid(
            path,
            format!("format version {version}; this gcnsim reads version {FORMAT_VERSION} (resume with the gcnsim that wrote it)"),
        ));
    }
    let declared = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    let stored_crc = u32_at(20);
    let held = size.saturating_sub(HEADER_LEN as u64);
    if held != declared {
        let what = if held < declared { "truncated" } else { "has trailing bytes" };
        return Err(invalid(
            path,
            format!("{what}: the header declares {declared} payload bytes, the file holds {held}"),
        ));
    }
    let mut payload = Vec::with_capacity(declared.min(1 << 30) as usize);
    // One byte more than declared tells a file that grew since its size was read.
    file.take(declared + 1).read_to_end(&mut payload).map_err(io("reading it"))?;
    if payload.len() as u64 != declared {
        return Err(invalid(
            path,
            format!("changed while read: the header declares {declared} payload bytes, {} were read", payload.len()),
        ));
    }
    let crc = crc32fast::hash(&payload);
    if crc != stored_crc {
        return Err(invalid(
            path,
            format!("checksum mismatch (stored {stored_crc:08x}, computed {crc:08x}): the file is corrupted"),
        ));
    }
    decode(&payload).map_err(|e| invalid(path, format!("cannot decode the state: {e}")))
}

/// The options [`write`] encodes with (bincode's `serialize`: fixed-width little-endian
/// integers), decoding with a byte limit of the payload's length and no trailing bytes.
fn options(limit: u64) -> impl bincode::Options {
    bincode::DefaultOptions::new().with_fixint_encoding().with_little_endian().with_limit(limit).reject_trailing_bytes()
}

/// Decodes a payload (without the header) as [`read`] does.
pub fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, bincode::Error> {
    options(payload.len() as u64).deserialize(payload)
}

/// Encodes a payload as [`write`] does.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, bincode::Error> {
    bincode::serialize(value)
}

/// A whole file's bytes for `payload` (header with its length and checksum, then the payload).
pub fn framed(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct State {
        epoch: u32,
        values: Vec<f64>,
        maybe: Vec<Option<f64>>,
        name: String,
    }

    fn state() -> State {
        State {
            epoch: 7,
            values: vec![0.1, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-310],
            maybe: vec![None, Some(f64::INFINITY)],
            name: "run".into(),
        }
    }

    #[test]
    fn round_trips_bit_exactly_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        write(&path, &state()).unwrap();
        let back: State = read(&path).unwrap();
        assert_eq!(back, state());
        assert!(back.values.iter().zip(&state().values).all(|(a, b)| a.to_bits() == b.to_bits()));
        let newer = State { epoch: 8, ..state() };
        write(&path, &newer).unwrap();
        assert_eq!(read::<State>(&path).unwrap().epoch, 8);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["checkpoint.bin"], "no temporary file left behind");
    }

    #[test]
    fn damaged_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        write(&path, &state()).unwrap();
        let good = fs::read(&path).unwrap();
        let expect = |bytes: &[u8], needle: &str| {
            fs::write(&path, bytes).unwrap();
            let e = read::<State>(&path).unwrap_err().to_string();
            assert!(e.contains("checkpoint.bin") && e.contains(needle), "{needle}: {e}");
        };
        expect(&good[..good.len() - 3], "truncated");
        expect(&good[..10], "truncated");
        expect(b"", "truncated");
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x10;
        expect(&flipped, "checksum mismatch");
        let mut longer = good.clone();
        longer.push(0);
        expect(&longer, "trailing bytes");
        expect(b"metrics,epoch\n1,2,3,4,5,6,7,8,9,10,11,12,13", "not a gcnsim checkpoint");
        let mut version = good.clone();
        version[8] = 9;
        expect(&version, "format version 9");
        // A payload with a valid checksum that does not decode as the state.
        let mut other = good[..HEADER_LEN].to_vec();
        let payload = [1u8, 2, 3];
        other[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        other[20..24].copy_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        other.extend_from_slice(&payload);
        expect(&other, "cannot decode");
        let e = read::<State>(&dir.path().join("absent.bin")).unwrap_err().to_string();
        assert!(e.contains("absent.bin") && e.contains("reading it"), "{e}");
    }
}
