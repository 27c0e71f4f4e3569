//! What a run produces: one record per epoch and the outcome.

use crate::backend::MemorySnapshot;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: u32,
    /// The weight version the gradients were computed from.
    pub version: u64,
    /// Training pass (dropout on) over owned training nodes, weight decay term included.
    pub train_loss: f64,
    pub train_acc: f64,
    /// Evaluation pass (dropout off) with the updated weights.
    pub valid_loss: f64,
    pub valid_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    /// Live bytes at the end of the epoch, and the peak during it.
    pub memory: MemorySnapshot,
    /// Simulated traffic of this epoch.
    pub comm_broadcast_bytes: u64,
    pub comm_gradient_bytes: u64,
    pub comm_halo_bytes: u64,
    /// The weight pulls and gradient pushes before encoding (f32): equal to the two above
    /// without `compress_pull` / `compress_push`, which make those the encoded sizes.
    #[serde(default)]
    pub comm_broadcast_raw_bytes: u64,
    #[serde(default)]
    pub comm_gradient_raw_bytes: u64,
    /// With `compress_push`: ‖decoded − original‖ / ‖original‖ over the round's pushed gradients
    /// (every worker's matrices together; the original is the gradient the worker computed,
    /// before its error-feedback residual is added).
    #[serde(default)]
    pub push_rel_error: Option<f64>,
    /// Boundary rows moved by this epoch's training, bytes per layer: activations forward,
    /// gradients back (empty without exchange).
    pub comm_boundary_forward: Vec<u64>,
    pub comm_boundary_backward: Vec<u64>,
    /// Weight versions alive at the end of the epoch.
    pub live_versions: usize,
    /// Wall-clock time; not part of the deterministic metrics.
    pub wall_ms: f64,
    /// Simulated time when the round's last update was published, seconds.
    pub sim_time_s: f64,
    /// Staleness (version applied to − version computed from) of the round's gradients.
    pub staleness_mean: f64,
    pub staleness_max: u64,
    /// With Byzantine workers or a robust rule: the round's selection and distances.
    pub aggregation: Option<crate::ps::robust::RoundDiagnostics>,
    /// The server's learning rate this epoch (`--lr` × the schedule; before staleness scaling).
    pub lr: f64,
    /// With `embedding_dim`: the round's embedding traffic and table changes.
    #[serde(default)]
    pub embedding: Option<crate::ps::embedding::EmbeddingCounts>,
    /// With sharded servers: each shard's bytes in and out this round (empty otherwise).
    #[serde(default)]
    pub shards: Vec<crate::ps::shards::ShardTraffic>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunOutcome {
    pub epochs_run: u32,
    pub stopped_early: bool,
    /// 1-based epoch of the best validation accuracy (the first one reaching it).
    pub best_valid_epoch: u32,
    #[serde(with = "crate::report::nonfinite")]
    pub best_valid_acc: f64,
    #[serde(with = "crate::report::nonfinite")]
    pub test_acc_at_best_valid: f64,
    #[serde(with = "crate::report::nonfinite")]
    pub final_train_loss: f64,
    #[serde(with = "crate::report::nonfinite")]
    pub final_valid_acc: f64,
    #[serde(with = "crate::report::nonfinite")]
    pub final_test_acc: f64,
    pub peak_bytes: u64,
    /// Wall clock: kept out of `summary.json` (deterministic); `timing.csv` has it.
    #[serde(skip)]
    pub mean_epoch_ms: f64,
    /// Training forwards taken from the previous evaluation (dropout 0, exchange or replicate):
    /// work saved, not a result, so kept out of `summary.json`.
    #[serde(skip)]
    pub forwards_reused: u32,
    /// What the GPU backend moved between device and host memory (`--resident`), when it
    /// moved anything: how the run was carried out, not a result, so kept out of `summary.json`.
    #[serde(skip)]
    pub streaming: Option<crate::backend::gpu::StreamingStats>,
    /// `[q][p]`: mean bytes per epoch partition q sent partition p in boundary exchanges (both
    /// directions, all layers); empty without exchange.
    #[serde(default)]
    pub exchange_bytes_per_epoch: Vec<Vec<f64>>,
    /// Simulated time at the end of the run, and per round (P gradients applied).
    #[serde(default, with = "crate::report::nonfinite")]
    pub sim_time_s: f64,
    #[serde(default, with = "crate::report::nonfinite")]
    pub sim_seconds_per_round: f64,
    /// Mean simulated seconds per round of a worker in each state (they sum to
    /// `sim_seconds_per_round`).
    #[serde(default)]
    pub time_breakdown: crate::sim::cluster::RoundBreakdown,
    /// The most weight versions alive at once.
    #[serde(default)]
    pub max_live_versions: usize,
    /// Every gradient computed: applied, or discarded with a reason.
    #[serde(default)]
    pub gradients: crate::sim::cluster::GradientAccounting,
    /// Each failure: when it happened, when the server noticed, when the worker came back.
    #[serde(default)]
    pub failures: Vec<crate::sim::cluster::FailureRecord>,
    /// Byzantine workers and the robust rule: who attacked, selections, detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust: Option<crate::ps::robust::RobustOutcome>,
    /// Worker intervals and gradient fates (`workers.csv`, `gradients.csv`).
    #[serde(skip)]
    pub trace: crate::sim::cluster::ClusterTrace,
    /// Seconds the workers' kernels were charged per kernel class (modelled, or measured with
    /// `compute_time = measured`) by this process: the whole run, or after a resume the rounds
    /// since it. What `gcnsim validate` compares; not a result.
    #[serde(skip)]
    pub compute_by_class: std::collections::BTreeMap<crate::backend::KernelClass, f64>,
    /// Calls and seconds per op in the rounds after this process's first (BSP only: the first
    /// round pays for cold caches and first touches), over `epochs_run − 1` rounds of a run not
    /// resumed. What `gcnsim validate` compares op by op; empty for one round.
    #[serde(skip)]
    pub compute_by_op_after_first_round:
        std::collections::BTreeMap<crate::sim::metered::OpKey, crate::sim::metered::OpTotal>,
}

impl RunOutcome {
    pub fn from_records(records: &[EpochRecord], stopped_early: bool) -> Self {
        let last = records.last().expect("a run has at least one epoch");
        let best = records.iter().fold(&records[0], |best, r| if r.valid_acc > best.valid_acc { r } else { best });
        // The first epoch pays set-up costs (shader compilation, caches): leave it out of the mean.
        let timed = if records.len() > 1 { &records[1..] } else { records };
        Self {
            epochs_run: last.epoch,
            stopped_early,
            best_valid_epoch: best.epoch,
            best_valid_acc: best.valid_acc,
            test_acc_at_best_valid: best.test_acc,
            final_train_loss: last.train_loss,
            final_valid_acc: last.valid_acc,
            final_test_acc: last.test_acc,
            peak_bytes: records.iter().map(|r| r.memory.peak_total).max().unwrap_or(0),
            mean_epoch_ms: timed.iter().map(|r| r.wall_ms).sum::<f64>() / timed.len() as f64,
            forwards_reused: 0,
            streaming: None,
            exchange_bytes_per_epoch: Vec::new(),
            sim_time_s: last.sim_time_s,
            sim_seconds_per_round: last.sim_time_s / records.len() as f64,
            time_breakdown: Default::default(),
            max_live_versions: records.iter().map(|r| r.live_versions).max().unwrap_or(0),
            gradients: Default::default(),
            failures: Vec::new(),
            robust: None,
            trace: Default::default(),
            compute_by_class: Default::default(),
            compute_by_op_after_first_round: Default::default(),
        }
    }
}
