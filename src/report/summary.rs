//! `summary.json` of one training run.

use crate::graph::local::{PartitionStats, PartitioningSummary};
use crate::sim::{RunConfig, RunOutcome};

#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    pub gcnsim_version: &'static str,
    pub dataset: String,
    /// Sizes and checksum of the data trained on (see `Dataset::fingerprint`).
    pub dataset_fingerprint: String,
    pub backend: String,
    pub config: RunConfig,
    pub seed: u64,
    pub features_row_normalized: bool,
    pub parameters: usize,
    pub outcome: RunOutcome,
    pub partitioning: PartitioningSummary,
    pub partitions: Vec<PartitionStats>,
    /// When validation accuracy first reached the default target (a serial run: 97% of its own
    /// best) and each `--target-acc`.
    pub time_to_accuracy: super::targets::TimeToAccuracy,
}
