//! The problem the workers train on: the network's shape, the partition-major layout and one
//! local graph per partition (`sim::prepare` builds it from a dataset and a config).

use super::{GcnShape, LocalGraph};
use crate::graph::layout::Layout;
use crate::graph::local::PartitionStats;

pub struct Problem {
    pub name: String,
    /// The loaded dataset's content fingerprint ([`crate::data::Dataset::fingerprint`]'s form):
    /// results name the exact data they came from.
    pub dataset_fingerprint: String,
    pub shape: GcnShape,
    /// Partition-major node order: the rows of the exchange buffers.
    pub layout: Layout,
    pub locals: Vec<LocalGraph>,
    /// One entry per partition (also for P = 1).
    pub partitions: Vec<PartitionStats>,
    pub undirected_edges: usize,
    pub row_normalized: bool,
    /// With learnable embeddings: per worker, the local rows it pushes gradients for
    /// (`model::receptive`); empty lists without.
    pub embedding_rows: Vec<Vec<u32>>,
}

impl Problem {
    /// Input-feature bytes fetched from other partitions (once, at set-up).
    pub fn halo_feature_bytes(&self) -> u64 {
        self.partitions.iter().map(|p| p.halo_feature_bytes).sum()
    }
}
