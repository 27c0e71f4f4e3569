//! Run configuration: CLI flags and experiment files both become one validated [`RunConfig`]
//! before any work starts.

use crate::backend::ReduceOrder;
use crate::graph::partition::PartitionerKind;
use crate::ps::{Aggregation, OptimizerKind};

/// Whether input features are row-normalized (Kipf's `preprocess_features`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FeatureNorm {
    /// Row-normalize when every feature is non-negative (bag-of-words, as Kipf); leave
    /// signed features (e.g. Gaussian CSBM features) as they are, since their rows can sum to ~0.
    #[default]
    Auto,
    /// Always row-normalize.
    Row,
    /// Use the features as loaded.
    None,
}

/// What a partition does with edges that leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// Each partition also holds its L-hop in-neighbourhood (halo) with the full graph's
    /// normalization: owned outputs equal the full-graph outputs.
    #[default]
    Exact,
    /// Each partition trains on its induced subgraph, normalized on that subgraph (Cluster-GCN).
    Drop,
}

/// The model and optimizer (Kipf & Welling's defaults).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    pub hidden: usize,
    pub layers: usize,
    pub lr: f32,
    pub dropout: f32,
    /// L2 penalty on the first layer's weights (loss += wd · ‖W0‖² / 2).
    pub weight_decay: f32,
    pub optimizer: OptimizerKind,
    pub seed: u64,
    /// Kipf's rule: after this many epochs, stop when the validation loss exceeds the mean of
    /// the previous this-many epochs. `None`: train all epochs.
    pub early_stopping: Option<usize>,
    pub feature_norm: FeatureNorm,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 200,
            hidden: 16,
            layers: 2,
            lr: 0.01,
            dropout: 0.5,
            weight_decay: 5e-4,
            optimizer: OptimizerKind::Adam,
            seed: 0,
            early_stopping: None,
            feature_norm: FeatureNorm::Auto,
        }
    }
}

/// How the simulated cluster is laid out.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParallelConfig {
    pub partitions: usize,
    pub partitioner: PartitionerKind,
    pub boundary: Boundary,
    pub aggregate: Aggregation,
    pub reduce: ReduceOrder,
    /// Never release old weight versions (shows the leak).
    pub keep_versions: bool,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        Self {
            partitions: 1,
            partitioner: PartitionerKind::Metis,
            boundary: Boundary::Exact,
            aggregate: Aggregation::Weighted,
            reduce: ReduceOrder::Flat,
            keep_versions: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    pub train: TrainConfig,
    pub parallel: ParallelConfig,
}

/// Every epoch keeps a record in memory (and a row per CSV): a million is far beyond any GCN
/// schedule and still fits.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Deeper GCNs oversmooth long before this; it bounds per-layer bookkeeping.
pub const MAX_LAYERS: usize = 64;

/// An impossible configuration, naming the key.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("config key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_string(), message: message.into() }
}

impl RunConfig {
    /// Checks what can be checked without the dataset.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.train;
        if !(1..=MAX_EPOCHS).contains(&t.epochs) {
            return Err(invalid("epochs", format!("must be between 1 and {MAX_EPOCHS}, got {}", t.epochs)));
        }
        if !(1..=MAX_LAYERS).contains(&t.layers) {
            return Err(invalid("layers", format!("must be between 1 and {MAX_LAYERS}, got {}", t.layers)));
        }
        if t.hidden == 0 {
            return Err(invalid("hidden", "must be at least 1"));
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(invalid("lr", format!("must be a positive number, got {}", t.lr)));
        }
        if !(0.0..1.0).contains(&t.dropout) {
            return Err(invalid("dropout", format!("must be in [0, 1), got {}", t.dropout)));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(invalid("weight_decay", format!("must be ≥ 0, got {}", t.weight_decay)));
        }
        if t.early_stopping == Some(0) {
            return Err(invalid("early_stopping", "the window must be at least 1 epoch"));
        }
        if self.parallel.partitions == 0 {
            return Err(invalid("partitions", "must be at least 1 (1 = serial training)"));
        }
        Ok(())
    }

    /// Checks against the dataset's size.
    pub fn validate_for(&self, num_nodes: usize) -> Result<(), ConfigError> {
        self.validate()?;
        if self.parallel.partitions > num_nodes {
            return Err(invalid(
                "partitions",
                format!(
                    "{} partitions for {} nodes: every partition needs at least one node",
                    self.parallel.partitions, num_nodes
                ),
            ));
        }
        Ok(())
    }
}

impl RunConfig {
    /// A readable name of the configuration without the seed: "serial", "P=4 exact metis", …
    pub fn label(&self) -> String {
        self.label_with(|_| false)
    }

    /// [`Self::label`], also naming every key for which `varies(key)` (the keys an experiment
    /// grid varies), and the parallel keys that differ from their defaults.
    pub fn label_with(&self, varies: impl Fn(&str) -> bool) -> String {
        let p = &self.parallel;
        let mut parts = Vec::new();
        if p.partitions == 1 {
            parts.push("serial".to_string());
        } else {
            parts.push(format!("P={}", p.partitions));
            parts.push(format!("{:?}", p.boundary).to_lowercase());
            parts.push(format!("{:?}", p.partitioner).to_lowercase());
            if varies("aggregate") || p.aggregate != Aggregation::Weighted {
                parts.push(format!("{:?}", p.aggregate).to_lowercase());
            }
            if varies("reduce") || p.reduce != ReduceOrder::Flat {
                parts.push(format!("{:?}-reduce", p.reduce).to_lowercase());
            }
        }
        if p.keep_versions || varies("keep_versions") {
            parts.push(if p.keep_versions { "keep_versions".into() } else { "release".into() });
        }
        let t = &self.train;
        for (key, value) in [
            ("epochs", t.epochs.to_string()),
            ("hidden", t.hidden.to_string()),
            ("layers", t.layers.to_string()),
            ("lr", t.lr.to_string()),
            ("dropout", t.dropout.to_string()),
            ("weight_decay", t.weight_decay.to_string()),
            ("optimizer", format!("{:?}", t.optimizer).to_lowercase()),
        ] {
            if varies(key) {
                parts.push(format!("{key}={value}"));
            }
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_impossible_values_naming_the_key() {
        let mut c = RunConfig::default();
        assert!(c.validate().is_ok());
        c.parallel.partitions = 0;
        assert_eq!(c.validate().unwrap_err().key, "partitions");
        c.parallel.partitions = 5;
        assert_eq!(c.validate_for(4).unwrap_err().key, "partitions");
        c.train.dropout = 1.0;
        assert_eq!(c.validate().unwrap_err().key, "dropout");
    }
}
