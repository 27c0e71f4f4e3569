//! The GCN of Kipf & Welling (2017), written once over [`crate::backend::Backend`].
//!
//! Layer l: `H_d = dropout(H_l)`, `support = H_d · W_l`, `Z_l = Â · support`,
//! `H_{l+1} = ReLU(Z_l)` (no activation on the last layer: its Z is the logits).

pub mod gcn;
pub mod init;
pub mod partitioned;
pub mod problem;
pub mod receptive;

pub use gcn::{GcnWorkspace, Operator, Pass};
pub use init::glorot_uniform;
// The local graph a worker trains on lives in `graph` (the partitioning builds it).
pub use crate::graph::input::{self, InputFeatures, LocalGraph, Neighbourhood};
pub use partitioned::{EvalMode, PartitionedGcn, Traffic};
pub use problem::Problem;

/// Shape of the network.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GcnShape {
    /// Input feature columns (0 with `features = none`).
    pub in_features: usize,
    /// Width of the learnable node embedding concatenated to the features (0: none).
    pub embedding_dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub classes: usize,
}

impl GcnShape {
    /// (fan_in, fan_out) of every layer: F + D → hidden → … → hidden → C.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        (0..self.layers)
            .map(|l| {
                let fan_in = if l == 0 { self.in_features + self.embedding_dim } else { self.hidden };
                let fan_out = if l + 1 == self.layers { self.classes } else { self.hidden };
                (fan_in, fan_out)
            })
            .collect()
    }

    /// Number of f32 parameters.
    pub fn parameter_count(&self) -> usize {
        self.layer_dims().iter().map(|(i, o)| i * o).sum()
    }
}
