//! Device state copied to the host and back, for checkpoints: the server's weights and optimizer
//! state, the stale boundary buffers, the robust server's centre.

use super::{Backend, BackendError, MemCategory, Shape};
use crate::tensor::HostMatrix;

/// A checkpoint's matrices that do not fit the run being restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{what}: the checkpoint holds a {}×{} matrix, this run a {}×{} one", got.0, got.1, expected.0, expected.1)]
    Shape { what: String, expected: (usize, usize), got: (usize, usize) },
    #[error("{what}: the checkpoint holds {got}, this run needs {expected}")]
    Count { what: String, expected: usize, got: usize },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Every matrix of `ms` on the host.
pub fn download_all<B: Backend>(b: &B, ms: &[B::Matrix]) -> Result<Vec<HostMatrix>, BackendError> {
    ms.iter().map(|m| b.download(m)).collect()
}

/// Overwrites `dst` with `host` through a temporary upload (freed before this returns), after
/// checking the shape; `what` names the matrix in the error.
pub fn overwrite<B: Backend>(b: &B, dst: &mut B::Matrix, host: &HostMatrix, what: &str) -> Result<(), RestoreError> {
    if (dst.rows(), dst.cols()) != (host.rows, host.cols) || host.data.len() != host.rows * host.cols {
        return Err(RestoreError::Shape {
            what: what.to_string(),
            expected: (dst.rows(), dst.cols()),
            got: (host.rows, host.cols),
        });
    }
    let staged = b.upload(host, MemCategory::Staging, "checkpoint/restore")?;
    b.copy(&staged, dst);
    Ok(())
}

/// [`overwrite`] for a list, which must have the same length.
pub fn overwrite_all<B: Backend>(
    b: &B,
    dst: &mut [B::Matrix],
    host: &[HostMatrix],
    what: &str,
) -> Result<(), RestoreError> {
    if dst.len() != host.len() {
        return Err(RestoreError::Count { what: what.to_string(), expected: dst.len(), got: host.len() });
    }
    for (i, (d, h)) in dst.iter_mut().zip(host).enumerate() {
        overwrite(b, d, h, &format!("{what}[{i}]"))?;
    }
    Ok(())
}
