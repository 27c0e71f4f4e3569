//! The models (Kipf & Welling's GCN, GraphSAGE, GAT), written once over
//! [`crate::backend::Backend`]: a workspace per worker shares the input, projection,
//! activation and loss (`workspace`); each model is one module behind [`layer::LayerOps`] and
//! [`layer::Architecture`] (`models`).
//!
//! Layer l: `H_d = dropout(H_l)`, `P = H_d · W_l`, `Z_l` from the rows of P the layer's
//! operator gathers (the GCN: `Z_l = Â · P`), `H_{l+1} = act(Z_l)` (no activation on the last
//! layer: its Z is the logits).

pub mod init;
pub mod layer;
pub mod models;
pub mod partitioned;
pub mod problem;
pub mod receptive;
pub mod workspace;

pub use init::initial_parameters;
pub use models::ModelSpec;
pub use workspace::{Operator, Pass, Workspace};
// The local graph a worker trains on lives in `graph` (the partitioning builds it).
pub use crate::graph::input::{self, InputFeatures, LocalGraph, Neighbourhood};
pub use partitioned::{EvalMode, PartitionedModel, Traffic};
pub use problem::Problem;

/// Shape of the network.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GcnShape {
    /// Which model (its layers' structure; `hidden` is per head for GAT).
    pub model: ModelSpec,
    /// Input feature columns (0 with `features = none`).
    pub in_features: usize,
    /// Width of the learnable node embedding concatenated to the features (0: none).
    pub embedding_dim: usize,
    pub hidden: usize,
    pub layers: usize,
    pub classes: usize,
}

impl GcnShape {
    /// The model's layers (parameter tensors and widths).
    pub fn plan(&self) -> Vec<layer::LayerPlan> {
        self.model.architecture().plan(self)
    }

    /// Width of the rows each layer's exchange moves per boundary row.
    pub fn exchange_widths(&self) -> Vec<usize> {
        self.plan().iter().map(|p| p.exchange).collect()
    }

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
        self.plan().iter().flat_map(|p| &p.params).map(|t| t.rows * t.cols).sum()
    }
}
