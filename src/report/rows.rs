//! Row types of an experiment's results folder. Plots read these (never live simulator state),
//! so `gcnsim plot` can redraw everything from the CSVs alone.

use super::metrics::MetricsRow;
use crate::graph::local::PartitioningSummary;
use crate::sim::{RunConfig, RunOutcome};

/// `runs.csv`: one row per run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRow {
    /// Unique within the experiment, e.g. `p4-exact-metis-s0`.
    pub run_id: String,
    /// The configuration without the seed: runs with equal labels are seeds of one line.
    pub label: String,
    pub seed: u64,
    pub partitions: usize,
    pub partitioner: String,
    pub boundary: String,
    /// Fraction of boundary nodes kept per epoch (`sample`; 1 otherwise).
    pub sample_rate: f32,
    /// Where accuracies and losses were measured: `full` graph or each worker's `partitions`.
    pub eval: String,
    pub aggregate: String,
    pub keep_versions: bool,
    pub optimizer: String,
    pub epochs_run: u32,
    pub final_train_loss: f64,
    pub final_valid_acc: f64,
    pub final_test_acc: f64,
    pub best_valid_epoch: u32,
    pub best_valid_acc: f64,
    pub test_acc_at_best_valid: f64,
    pub peak_bytes: u64,
    /// Undirected edges between partitions.
    pub edge_cut: usize,
    pub edge_cut_fraction: f64,
    /// Halo nodes summed over partitions (0 for `drop`).
    pub halo_nodes: usize,
    pub replication_factor: f64,
    /// Mean bytes per epoch of training traffic: weight broadcast, gradient push and boundary
    /// exchange (not the one-off halo fetch of `replicate`, in `halo_feature_bytes`).
    pub comm_bytes_per_epoch: f64,
    /// The boundary exchange's share of it (activations forward + gradients back).
    pub boundary_bytes_per_epoch: f64,
    /// Input features fetched once for the halos (`replicate`).
    pub halo_feature_bytes: u64,
    /// The simulated cluster: consistency model (`bsp`, `ssp`, `asp`), SSP's bound (0 otherwise),
    /// aggregation topology, straggler model, failures (`;`-separated), what happens on failure.
    #[serde(default)]
    pub consistency: String,
    #[serde(default)]
    pub staleness: u32,
    #[serde(default)]
    pub topology: String,
    #[serde(default)]
    pub device_profile: String,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub stragglers: String,
    #[serde(default)]
    pub failures: String,
    #[serde(default)]
    pub on_failure: String,
    /// Simulated time of the whole run and per round (P gradients applied), seconds.
    #[serde(default)]
    pub sim_time_s: f64,
    #[serde(default)]
    pub sim_seconds_per_round: f64,
    /// Gradients applied and discarded; mean staleness of the applied ones.
    #[serde(default)]
    pub gradients_applied: u64,
    #[serde(default)]
    pub gradients_discarded: u64,
    #[serde(default)]
    pub mean_staleness: f64,
    #[serde(default)]
    pub max_live_versions: usize,
    /// Byzantine workers (count and ids, `;`-separated), their attack, the pre-aggregation;
    /// detection by the rules that drop rows (Krum, Multi-Krum, and the geometric median and
    /// centered clipping for infinitely far rows; empty for other rules); the Byzantine workers' mean
    /// total weight and the aggregate's mean relative distance from the honest mean.
    #[serde(default)]
    pub byzantine: usize,
    #[serde(default)]
    pub byzantine_workers: String,
    #[serde(default)]
    pub attack: String,
    #[serde(default)]
    pub pre_aggregate: String,
    #[serde(default)]
    pub detection_precision: Option<f64>,
    #[serde(default)]
    pub detection_recall: Option<f64>,
    #[serde(default)]
    pub mean_byzantine_weight: Option<f64>,
    #[serde(default)]
    pub mean_rel_dist_honest: Option<f64>,
    /// The model's input (`dataset` features or `none`), the learnable embedding width (0:
    /// none), and the parameter-server shards.
    #[serde(default)]
    pub features: String,
    #[serde(default)]
    pub embedding_dim: usize,
    #[serde(default)]
    pub servers: usize,
    /// Mean simulated seconds per round of a worker in each state (see `RoundBreakdown`); they
    /// sum to `sim_seconds_per_round`.
    #[serde(default)]
    pub round_compute_s: f64,
    #[serde(default)]
    pub round_exchange_s: f64,
    #[serde(default)]
    pub round_push_s: f64,
    #[serde(default)]
    pub round_server_s: f64,
    #[serde(default)]
    pub round_pull_s: f64,
    #[serde(default)]
    pub round_wait_s: f64,
    /// The default target (97% of the best validation accuracy of the serial run of the same
    /// seed and training settings) and the first epoch, and its simulated time, reaching it;
    /// empty without a serial run or when never reached. Filled where every run is known
    /// (`report::targets`); `epoch_to_acc_T` columns follow for the experiment's `targets`.
    #[serde(default)]
    pub target_acc_default: Option<f64>,
    #[serde(default)]
    pub epoch_to_default: Option<u32>,
    #[serde(default)]
    pub time_to_default_s: Option<f64>,
}

/// `timing.csv` of an experiment: wall-clock figures, the only ones that differ between
/// identical re-runs (plots never read them).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunTimingRow {
    pub run_id: String,
    /// Mean over epochs, the first (shader compilation, caches) left out.
    pub ms_per_epoch: f64,
    /// The whole run: preparation, training, evaluation.
    pub seconds: f64,
}

impl RunRow {
    pub fn new(
        run_id: &str,
        label: &str,
        c: &RunConfig,
        o: &RunOutcome,
        summary: &PartitioningSummary,
        metrics: &[MetricsRow],
    ) -> Self {
        let epochs = metrics.len().max(1) as f64;
        let boundary: u64 =
            metrics.iter().map(|m| m.comm_boundary_forward_bytes + m.comm_boundary_backward_bytes).sum();
        let weights: u64 = metrics.iter().map(|m| m.comm_broadcast_bytes + m.comm_gradient_bytes).sum();
        let halo = metrics.iter().map(|m| m.comm_halo_bytes).sum();
        let name = |v: String| v.to_lowercase();
        Self {
            run_id: run_id.to_string(),
            label: label.to_string(),
            seed: c.train.seed,
            partitions: c.parallel.partitions,
            partitioner: name(format!("{:?}", c.parallel.partitioner)),
            boundary: c.parallel.boundary.name().to_string(),
            sample_rate: c.parallel.sample_rate,
            eval: name(format!("{:?}", c.parallel.eval)),
            aggregate: c.parallel.aggregate.to_string(),
            keep_versions: c.parallel.keep_versions,
            optimizer: c.train.optimizer.to_string(),
            epochs_run: o.epochs_run,
            final_train_loss: o.final_train_loss,
            final_valid_acc: o.final_valid_acc,
            final_test_acc: o.final_test_acc,
            best_valid_epoch: o.best_valid_epoch,
            best_valid_acc: o.best_valid_acc,
            test_acc_at_best_valid: o.test_acc_at_best_valid,
            peak_bytes: o.peak_bytes,
            edge_cut: summary.edge_cut,
            edge_cut_fraction: summary.edge_cut_fraction,
            halo_nodes: summary.halo_nodes,
            replication_factor: summary.replication_factor,
            comm_bytes_per_epoch: (weights + boundary) as f64 / epochs,
            boundary_bytes_per_epoch: boundary as f64 / epochs,
            halo_feature_bytes: halo,
            consistency: c.cluster.consistency.name().to_string(),
            staleness: if c.cluster.consistency == crate::sim::Consistency::Ssp { c.cluster.staleness } else { 0 },
            topology: c.cluster.topology.clone(),
            device_profile: c.cluster.device_profile.clone(),
            network: c.cluster.network.clone(),
            stragglers: c.cluster.stragglers.clone(),
            failures: c.cluster.fail.join(";"),
            on_failure: name(format!("{:?}", c.cluster.on_failure)),
            sim_time_s: o.sim_time_s,
            sim_seconds_per_round: o.sim_seconds_per_round,
            gradients_applied: o.gradients.applied,
            gradients_discarded: o.gradients.discarded,
            mean_staleness: o.gradients.mean_staleness,
            max_live_versions: o.max_live_versions,
            byzantine: c.byzantine.byzantine,
            byzantine_workers: o
                .robust
                .as_ref()
                .map(|r| r.byzantine_workers.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(";"))
                .unwrap_or_default(),
            attack: c.byzantine.attack.to_string(),
            pre_aggregate: c.byzantine.pre_aggregate.to_string(),
            detection_precision: o.robust.as_ref().and_then(|r| r.detection_precision),
            detection_recall: o.robust.as_ref().and_then(|r| r.detection_recall),
            mean_byzantine_weight: o.robust.as_ref().map(|r| r.mean_byzantine_weight),
            mean_rel_dist_honest: o.robust.as_ref().map(|r| r.mean_rel_dist_honest),
            features: name(format!("{:?}", c.train.features)),
            embedding_dim: c.train.embedding_dim,
            servers: c.cluster.servers,
            round_compute_s: o.time_breakdown.compute_s,
            round_exchange_s: o.time_breakdown.exchange_s,
            round_push_s: o.time_breakdown.push_s,
            round_server_s: o.time_breakdown.server_s,
            round_pull_s: o.time_breakdown.pull_s,
            round_wait_s: o.time_breakdown.wait_s,
            target_acc_default: None,
            epoch_to_default: None,
            time_to_default_s: None,
        }
    }

    /// Serial training (P = 1) is drawn distinctly in the plots.
    pub fn is_serial(&self) -> bool {
        self.partitions == 1
    }
}

/// `metrics.csv`: tidy long format, one row per run × epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LongMetricsRow {
    pub run_id: String,
    pub label: String,
    pub seed: u64,
    pub partitions: usize,
    pub keep_versions: bool,
    pub epoch: u32,
    pub weight_version: u64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub valid_loss: f64,
    pub valid_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    pub live_graph_bytes: u64,
    pub live_features_bytes: u64,
    pub live_activations_bytes: u64,
    pub live_gradients_bytes: u64,
    pub live_weights_bytes: u64,
    pub live_optimizer_state_bytes: u64,
    pub live_exchange_bytes: u64,
    pub live_staging_bytes: u64,
    #[serde(default)]
    pub live_embeddings_bytes: u64,
    #[serde(default)]
    pub live_embedding_state_bytes: u64,
    pub live_total_bytes: u64,
    pub peak_total_bytes: u64,
    pub live_weight_versions: usize,
    pub comm_broadcast_bytes: u64,
    pub comm_gradient_bytes: u64,
    pub comm_halo_bytes: u64,
    pub comm_boundary_forward_bytes: u64,
    pub comm_boundary_backward_bytes: u64,
    #[serde(default)]
    pub sim_time_s: f64,
    #[serde(default)]
    pub staleness_mean: f64,
    #[serde(default)]
    pub staleness_max: u64,
    #[serde(default)]
    pub byzantine_weight: Option<f64>,
    #[serde(default)]
    pub agg_rel_dist_honest: Option<f64>,
    #[serde(default)]
    pub lr: Option<f64>,
    #[serde(default)]
    pub shard_imbalance: Option<f64>,
    #[serde(default)]
    pub comm_broadcast_raw_bytes: u64,
    #[serde(default)]
    pub comm_gradient_raw_bytes: u64,
    #[serde(default)]
    pub push_rel_error: Option<f64>,
}

impl LongMetricsRow {
    pub fn new(run: &RunRow, m: &MetricsRow) -> Self {
        Self {
            run_id: run.run_id.clone(),
            label: run.label.clone(),
            seed: run.seed,
            partitions: run.partitions,
            keep_versions: run.keep_versions,
            epoch: m.epoch,
            weight_version: m.weight_version,
            train_loss: m.train_loss,
            train_acc: m.train_acc,
            valid_loss: m.valid_loss,
            valid_acc: m.valid_acc,
            test_loss: m.test_loss,
            test_acc: m.test_acc,
            live_graph_bytes: m.live_graph_bytes,
            live_features_bytes: m.live_features_bytes,
            live_activations_bytes: m.live_activations_bytes,
            live_gradients_bytes: m.live_gradients_bytes,
            live_weights_bytes: m.live_weights_bytes,
            live_optimizer_state_bytes: m.live_optimizer_state_bytes,
            live_exchange_bytes: m.live_exchange_bytes,
            live_staging_bytes: m.live_staging_bytes,
            live_embeddings_bytes: m.live_embeddings_bytes,
            live_embedding_state_bytes: m.live_embedding_state_bytes,
            live_total_bytes: m.live_total_bytes,
            peak_total_bytes: m.peak_total_bytes,
            live_weight_versions: m.live_weight_versions,
            comm_broadcast_bytes: m.comm_broadcast_bytes,
            comm_gradient_bytes: m.comm_gradient_bytes,
            comm_halo_bytes: m.comm_halo_bytes,
            comm_boundary_forward_bytes: m.comm_boundary_forward_bytes,
            comm_boundary_backward_bytes: m.comm_boundary_backward_bytes,
            sim_time_s: m.sim_time_s,
            staleness_mean: m.staleness_mean,
            staleness_max: m.staleness_max,
            byzantine_weight: m.byzantine_weight,
            agg_rel_dist_honest: m.agg_rel_dist_honest,
            lr: m.lr,
            shard_imbalance: m.shard_imbalance,
            comm_broadcast_raw_bytes: m.comm_broadcast_raw_bytes,
            comm_gradient_raw_bytes: m.comm_gradient_raw_bytes,
            push_rel_error: m.push_rel_error,
        }
    }
}

/// `comm.csv` of an experiment: boundary traffic per run, epoch, layer and direction.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LongCommRow {
    pub run_id: String,
    pub epoch: u32,
    pub layer: usize,
    pub direction: &'static str,
    pub bytes: u64,
}

/// `workers.csv` of an experiment: every worker interval of every run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LongWorkerRow {
    pub run_id: String,
    pub worker: usize,
    pub activity: crate::sim::cluster::Activity,
    pub start_s: f64,
    pub end_s: f64,
    pub partition: Option<usize>,
    pub clock: Option<u32>,
    pub version: Option<u64>,
}

impl LongWorkerRow {
    pub fn new(run_id: &str, w: &crate::sim::cluster::WorkerInterval) -> Self {
        Self {
            run_id: run_id.to_string(),
            worker: w.worker,
            activity: w.activity,
            start_s: w.start_s,
            end_s: w.end_s,
            partition: w.partition,
            clock: w.clock,
            version: w.version,
        }
    }
}

/// `gradients.csv` of an experiment: the fate of every gradient of every run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LongGradientRow {
    pub run_id: String,
    pub partition: usize,
    pub worker: usize,
    pub clock: u32,
    pub computed_from: u64,
    pub applied_to: Option<u64>,
    pub staleness: Option<u64>,
    pub fate: crate::sim::cluster::Fate,
    pub reason: String,
    pub time_s: f64,
}

impl LongGradientRow {
    pub fn new(run_id: &str, g: &crate::sim::cluster::GradientRecord) -> Self {
        Self {
            run_id: run_id.to_string(),
            partition: g.partition,
            worker: g.worker,
            clock: g.clock,
            computed_from: g.computed_from,
            applied_to: g.applied_to,
            staleness: g.staleness,
            fate: g.fate,
            reason: g.reason.clone(),
            time_s: g.time_s,
        }
    }
}
