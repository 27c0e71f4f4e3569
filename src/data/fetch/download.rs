//! One file over HTTP(S) into a local file, hashed as it arrives: redirects followed, timeouts
//! on connecting and on every read, retries with exponential backoff on transient failures (a
//! dropped connection, a truncated body, a 5xx) but not on answers that will not change (a 404,
//! a size that contradicts what is known).

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::cache::Record;
use super::progress::Progress;
use super::FetchError;

pub struct Http {
    agent: ureq::Agent,
    /// Further attempts after the first.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

enum Failure {
    /// Worth another attempt.
    Transient(FetchError),
    Permanent(FetchError),
}

impl Http {
    pub fn new(retries: u32, backoff: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .max_redirects(10)
            // Statuses are judged here: a 404 is final, a 503 worth a retry.
            .http_status_as_error(false)
            .user_agent(concat!("gcnsim/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent: ureq::Agent::new_with_config(config), retries, backoff }
    }

    /// Downloads `url` into `dest` (replaced). `bytes` is the size the file must have where it
    /// is known. Returns the SHA-256 and size of what arrived.
    pub fn download(
        &self,
        url: &str,
        file: &str,
        dest: &Path,
        bytes: Option<u64>,
        progress: &mut dyn Progress,
    ) -> Result<Record, FetchError> {
        let mut attempt = 0;
        loop {
            let result = self.attempt(url, file, dest, bytes, progress);
            progress.finish();
            match result {
                Ok(record) => return Ok(record),
                Err(Failure::Permanent(e)) => return Err(e),
                Err(Failure::Transient(e)) if attempt >= self.retries => return Err(gave_up(e, attempt + 1)),
                Err(Failure::Transient(_)) => {
                    std::thread::sleep(self.backoff * 2u32.saturating_pow(attempt));
                    attempt += 1;
                }
            }
        }
    }

    fn attempt(
        &self,
        url: &str,
        file: &str,
        dest: &Path,
        bytes: Option<u64>,
        progress: &mut dyn Progress,
    ) -> Result<Record, Failure> {
        let http = |message: String| FetchError::Http { file: file.to_string(), url: url.to_string(), message };
        let response = self.agent.get(url).call().map_err(|e| match e {
            ureq::Error::BadUri(_) => Failure::Permanent(http(e.to_string())),
            _ => Failure::Transient(http(e.to_string())),
        })?;
        let status = response.status();
        if !status.is_success() {
            let message = format!("HTTP {status}");
            let retry = status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408;
            return Err(if retry { Failure::Transient(http(message)) } else { Failure::Permanent(http(message)) });
        }
        let announced = response.body().content_length();
        if let (Some(expected), Some(got)) = (bytes, announced) {
            if expected != got {
                return Err(Failure::Permanent(FetchError::Size { file: file.to_string(), expected, got }));
            }
        }
        progress.start(file, announced.or(bytes));
        let reader = response.into_body().into_reader();
        let got = copy_hashed(reader, dest, &mut |n| progress.advance(n)).map_err(|e| match e {
            CopyError::Write(cause) => Failure::Permanent(FetchError::Io { path: dest.to_owned(), cause }),
            CopyError::Read { copied, .. } => Failure::Transient(http(match announced {
                Some(total) => format!("the transfer broke after {copied} of {total} bytes"),
                None => format!("the transfer broke after {copied} bytes"),
            })),
        })?;
        if let Some(total) = announced.filter(|&total| total != got.bytes) {
            let message = format!("the transfer ended after {} of {total} bytes", got.bytes);
            return Err(Failure::Transient(http(message)));
        }
        if let Some(expected) = bytes.filter(|&expected| expected != got.bytes) {
            return Err(Failure::Permanent(FetchError::Size { file: file.to_string(), expected, got: got.bytes }));
        }
        Ok(got)
    }
}

/// Says how many attempts a transient failure survived.
fn gave_up(e: FetchError, attempts: u32) -> FetchError {
    match e {
        FetchError::Http { file, url, message } if attempts > 1 => {
            FetchError::Http { file, url, message: format!("{message} (gave up after {attempts} attempts)") }
        }
        other => other,
    }
}

/// Why [`copy_hashed`] stopped.
pub(super) enum CopyError {
    /// Reading the source failed (for a download: the network side) after `copied` bytes.
    Read { copied: u64, cause: std::io::Error },
    /// Creating, writing or syncing the destination failed.
    Write(std::io::Error),
}

/// Copies `reader` into a new file at `dest`, hashing what passes and telling `on_chunk` each
/// chunk's size; the file is synced before its record is returned.
pub(super) fn copy_hashed(
    mut reader: impl Read,
    dest: &Path,
    on_chunk: &mut dyn FnMut(u64),
) -> Result<Record, CopyError> {
    let mut out = std::fs::File::create(dest).map_err(CopyError::Write)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(cause) => return Err(CopyError::Read { copied: total, cause }),
        };
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        hasher.update(&buf[..n]);
        total += n as u64;
        on_chunk(n as u64);
    }
    out.sync_all().map_err(CopyError::Write)?;
    Ok(Record { sha256: hex(&hasher.finalize()), bytes: total })
}

pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 and size of a local file.
pub fn hash_file(path: &Path) -> Result<Record, FetchError> {
    let io = |cause| FetchError::Io { path: path.to_owned(), cause };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut hasher).map_err(io)?;
    Ok(Record { sha256: hex(&hasher.finalize()), bytes })
}
