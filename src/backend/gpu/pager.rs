//! The eviction policy of [`super::residency`]: which buffers leave the device, and what
//! streaming moved. Above the allocator (it walks the allocator's groups); the recorder drives it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::alloc::{Allocator, Page};
use super::residency::{Residency, ResidentSet};

/// Most bytes of the staging ring that evictions read back through.
pub const RING_BYTES: u64 = 64 << 20;

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
