//! Which workers' buffers stay on the device (`--resident`), so that P partitions of a graph
//! larger than device memory still train.
//!
//! Every buffer a worker's workspace allocates (its graph, features, activations, gradients)
//! joins that worker's *group* (`Backend::residency_group`); everything else (weights,
//! optimizer state, exchange buffers, scratch) is pinned. The recorder makes every buffer a
//! command uses resident before recording the command ([`Pager`] decides what leaves):
//!
//! - [`ResidentSet::All`]: nothing moves; an allocation that does not fit is an error.
//! - [`ResidentSet::One`]: when a command uses a worker's buffer, every other worker's buffers
//!   leave the device, so at most one worker's working set (plus the pinned buffers) is live.
//! - [`ResidentSet::Auto`]: everything stays while it fits; an allocation that does not (the
//!   device reports out of memory, or the `--gpu-memory` budget is reached) first evicts the
//!   most recently used other worker (see [`Pager::victim`]), and retries.
//!
//! Eviction reads a buffer back through a fixed staging ring (a mapped buffer of at most
//! [`RING_BYTES`], drained by a submission and a wait each time it fills) into host memory;
//! a restore writes the host copy into fresh device memory ahead of the next submission. A
//! buffer no command wrote since its last restore (graphs, features) keeps its host copy and
//! leaves without any transfer. Streaming moves bytes, never changes them: results are
//! bit-identical to `all`, and the memory curves count only resident bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use super::alloc::{Allocator, Page};

/// Most bytes of the staging ring that evictions read back through.
pub const RING_BYTES: u64 = 64 << 20;

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

/// What streaming did since the backend was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamingStats {
    /// Buffers moved to host memory.
    pub evictions: u64,
    /// Buffers made resident again.
    pub restores: u64,
    /// Bytes read back from the device (evicted buffers that had been written).
    pub bytes_to_host: u64,
    /// Bytes written to the device by restores.
    pub bytes_to_device: u64,
    /// Times the staging ring was drained (a submission and a wait each).
    pub ring_drains: u64,
}

/// The eviction policy's state.
#[derive(Debug, Default)]
pub struct Pager {
    set: ResidentSet,
    tick: u64,
    /// Per group, the tick of the last command that used one of its buffers.
    last_use: BTreeMap<u32, u64>,
    pub stats: StreamingStats,
}

impl Pager {
    pub fn new(residency: &Residency) -> Self {
        Self { set: residency.set, ..Self::default() }
    }

    pub fn set(&self) -> ResidentSet {
        self.set
    }

    /// A command uses buffers of `groups`.
    pub fn touch(&mut self, groups: &[u32]) {
        self.tick += 1;
        for &g in groups {
            self.last_use.insert(g, self.tick);
        }
    }

    /// Under [`ResidentSet::One`], every resident buffer of a group other than `using`'s.
    pub(super) fn others(&self, alloc: &Allocator, using: &[u32]) -> Vec<Arc<Page>> {
        if self.set != ResidentSet::One || using.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (g, pages) in alloc.groups() {
            if !using.contains(&g) {
                out.extend(pages.into_iter().filter(|p| p.resident()));
            }
        }
        out
    }

    /// The resident buffers of the *most* recently used group not in `protect` (to make room
    /// for an allocation that did not fit), or `None` when no such group holds device memory.
    /// Workers run in a fixed cycle (0, 1, …, P−1 in every phase), so the worker that ran last
    /// before the current one is the one needed last; least-recently-used would evict the next
    /// worker every time (measured: 20% more evictions on a 4-worker CSBM under a budget).
    pub(super) fn victim(&self, alloc: &Allocator, protect: &[u32]) -> Option<Vec<Arc<Page>>> {
        alloc
            .groups()
            .into_iter()
            .filter(|(g, _)| !protect.contains(g))
            .map(|(g, pages)| (g, pages.into_iter().filter(|p| p.resident()).collect::<Vec<_>>()))
            .filter(|(_, pages)| !pages.is_empty())
            .max_by_key(|(g, _)| (self.last_use.get(g).copied().unwrap_or(0), std::cmp::Reverse(*g)))
            .map(|(_, pages)| pages)
    }
}
