//! Live-bytes accounting per category: every backend allocation registers here, and the
//! memory curves of a run come from snapshots of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemCategory {
    Graph,
    Features,
    Activations,
    Gradients,
    Weights,
    OptimizerState,
    /// Boundary-exchange buffers: rows in flight between partitions.
    Exchange,
    Staging,
    /// Learnable node-embedding tables: the server's and every worker's pulled rows.
    Embeddings,
    /// The embedding table's optimizer state (its own slots, row for row).
    EmbeddingState,
}

impl MemCategory {
    pub const COUNT: usize = 10;
    pub const ALL: [MemCategory; Self::COUNT] = [
        MemCategory::Graph,
        MemCategory::Features,
        MemCategory::Activations,
        MemCategory::Gradients,
        MemCategory::Weights,
        MemCategory::OptimizerState,
        MemCategory::Exchange,
        MemCategory::Staging,
        MemCategory::Embeddings,
        MemCategory::EmbeddingState,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MemCategory::Graph => "graph",
            MemCategory::Features => "features",
            MemCategory::Activations => "activations",
            MemCategory::Gradients => "gradients",
            MemCategory::Weights => "weights",
            MemCategory::OptimizerState => "optimizer_state",
            MemCategory::Exchange => "exchange",
            MemCategory::Staging => "staging",
            MemCategory::Embeddings => "embeddings",
            MemCategory::EmbeddingState => "embedding_state",
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryTracker {
    live: [AtomicU64; MemCategory::COUNT],
    peak_total: AtomicU64,
}

/// Counts of one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemorySnapshot {
    pub live: [u64; MemCategory::COUNT],
    pub peak_total: u64,
}

impl MemorySnapshot {
    pub fn live(&self, c: MemCategory) -> u64 {
        self.live[c as usize]
    }
    pub fn live_total(&self) -> u64 {
        self.live.iter().sum()
    }
}

impl MemoryTracker {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers `bytes` as live until the returned guard drops.
    pub fn track(self: &Arc<Self>, category: MemCategory, bytes: u64) -> MemGuard {
        self.live[category as usize].fetch_add(bytes, Ordering::Relaxed);
        let total: u64 = self.live.iter().map(|a| a.load(Ordering::Relaxed)).sum();
        self.peak_total.fetch_max(total, Ordering::Relaxed);
        MemGuard { tracker: Arc::clone(self), category, bytes }
    }

    /// Bytes live now, over every category.
    pub fn live_total(&self) -> u64 {
        self.live.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }

    pub fn snapshot(&self) -> MemorySnapshot {
        let mut live = [0u64; MemCategory::COUNT];
        for (dst, src) in live.iter_mut().zip(&self.live) {
            *dst = src.load(Ordering::Relaxed);
        }
        MemorySnapshot { live, peak_total: self.peak_total.load(Ordering::Relaxed) }
    }

    /// Starts a new peak window at the current live total.
    pub fn reset_peak(&self) {
        let total: u64 = self.live.iter().map(|a| a.load(Ordering::Relaxed)).sum();
        self.peak_total.store(total, Ordering::Relaxed);
    }
}

/// Keeps an allocation counted; uncounts it on drop.
#[derive(Debug)]
pub struct MemGuard {
    tracker: Arc<MemoryTracker>,
    category: MemCategory,
    bytes: u64,
}

impl MemGuard {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn category(&self) -> MemCategory {
        self.category
    }
}

impl Drop for MemGuard {
    fn drop(&mut self) {
        self.tracker.live[self.category as usize].fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_live_and_peak() {
        let t = MemoryTracker::new();
        let a = t.track(MemCategory::Weights, 100);
        let b = t.track(MemCategory::Graph, 50);
        assert_eq!(t.snapshot().live_total(), 150);
        drop(a);
        let s = t.snapshot();
        assert_eq!(s.live(MemCategory::Weights), 0);
        assert_eq!(s.live(MemCategory::Graph), 50);
        assert_eq!(s.peak_total, 150);
        drop(b);
        assert_eq!(t.snapshot().live_total(), 0);
    }
}
