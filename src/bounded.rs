//! Reading files that users or checkpoints name, with a size bound: a path such as `/dev/zero`
//! or a multi-gigabyte file given where a small TOML file belongs is an error, not a read until
//! memory runs out.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The bound for small configuration files (device and network profiles, experiment files).
pub const CONFIG_FILE_LIMIT: u64 = 4 << 20;

/// Reads at most `limit` bytes of `path`; a longer file (or an endless one) is an
/// `InvalidData` error saying so. The error carries no path: callers wrap it with theirs.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file of exactly `limit` bytes from a longer one.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {} limit for this kind of file", describe_bytes(limit)),
        ));
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {}", e.utf8_error())))
}

fn describe_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n}-byte")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_past_the_bound_and_endless_ones_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.toml");
        std::fs::write(&path, "name = \"x\"\n").unwrap();
        assert_eq!(read_to_string(&path, 11).unwrap(), "name = \"x\"\n");
        let e = read(&path, 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("10-byte limit"), "{e}");
        if Path::new("/dev/zero").exists() {
            let e = read_to_string(Path::new("/dev/zero"), CONFIG_FILE_LIMIT).unwrap_err();
            assert!(e.to_string().contains("4 MiB limit"), "{e}");
        }
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(read_to_string(&path, 10).unwrap_err().to_string().contains("not UTF-8"));
    }
}
