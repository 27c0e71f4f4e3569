//! Which workers' buffers stay on the device (`--resident`), so that P partitions of a graph
//! larger than device memory still train.
//!
//! Every buffer a worker's workspace allocates (its graph, features, activations, gradients)
//! joins that worker's *group* (`Backend::residency_group`); everything else (weights,
//! optimizer state, exchange buffers, scratch) is pinned. The recorder makes every buffer a
//! command uses resident before recording the command ([`Pager`](super::pager::Pager) decides what leaves):
//!
//! - [`ResidentSet::All`]: nothing moves; an allocation that does not fit is an error.
//! - [`ResidentSet::One`]: when a command uses a worker's buffer, every other worker's buffers
//!   leave the device, so at most one worker's working set (plus the pinned buffers) is live.
//! - [`ResidentSet::Auto`]: everything stays while it fits; an allocation that does not (the
//!   device reports out of memory, or the `--gpu-memory` budget is reached) first evicts the
//!   most recently used other worker (see [`Pager::victim`](super::pager::Pager::victim)), and retries.
//!
//! Eviction reads a buffer back through a fixed staging ring (a mapped buffer of at most
//! [`RING_BYTES`](super::pager::RING_BYTES), drained by a submission and a wait each time it fills) into host memory;
//! a restore writes the host copy into fresh device memory ahead of the next submission. A
//! buffer no command wrote since its last restore (graphs, features) keeps its host copy and
//! leaves without any transfer. Streaming moves bytes, never changes them: results are
//! bit-identical to `all`, and the memory curves count only resident bytes.

use std::sync::OnceLock;

/// `--resident`: which workers' buffers stay on the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentSet {
    /// Everything while it fits; past device memory (or `--gpu-memory`), other workers'
    /// buffers move to host memory, the one that ran last first.
    #[default]
    Auto,
    /// Everything, always; an allocation past device memory is an error.
    All,
    /// Only the working set of the worker whose kernels run (and the pinned buffers).
    One,
}

impl ResidentSet {
    pub fn name(self) -> &'static str {
        match self {
            ResidentSet::Auto => "auto",
            ResidentSet::All => "all",
            ResidentSet::One => "one",
        }
    }
}

/// The GPU backend's memory policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Residency {
    pub set: ResidentSet,
    /// Most live device bytes (`--gpu-memory`), on top of what the device itself allows.
    pub budget: Option<u64>,
}

static PROCESS_DEFAULT: OnceLock<Residency> = OnceLock::new();

impl Residency {
    /// What `GpuBackend::new` uses: set once per process by the command line (like
    /// `--threads`), else the default (auto, no budget).
    pub fn process_default() -> Self {
        PROCESS_DEFAULT.get().copied().unwrap_or_default()
    }

    /// Sets [`Self::process_default`]; only the first call counts.
    pub fn set_process_default(self) -> bool {
        PROCESS_DEFAULT.set(self).is_ok()
    }
}
