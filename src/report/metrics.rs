//! Per-epoch CSV rows. `metrics.csv` is deterministic (same config and seed ⇒ same bytes);
//! wall-clock time lives apart in `timing.csv`.

use crate::backend::MemCategory;
use crate::ps::Event;
use crate::sim::EpochRecord;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsRow {
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
    /// Embedding tables (server and pulled rows) and the table's optimizer state (0, or empty
    /// in files written before embeddings existed).
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
    /// Boundary activations sent forward / gradients sent back this epoch (all layers).
    pub comm_boundary_forward_bytes: u64,
    pub comm_boundary_backward_bytes: u64,
    /// Simulated time when the round's last update was published, seconds.
    pub sim_time_s: f64,
    /// Staleness of the gradients applied this round (0 under BSP).
    pub staleness_mean: f64,
    pub staleness_max: u64,
    /// With Byzantine workers or a robust rule: the Byzantine workers' total weight in the
    /// aggregate, and ‖aggregate − honest mean‖ / ‖honest mean‖ (empty otherwise).
    #[serde(default)]
    pub byzantine_weight: Option<f64>,
    #[serde(default)]
    pub agg_rel_dist_honest: Option<f64>,
    /// The learning rate this epoch (empty in files written before schedules existed).
    #[serde(default)]
    pub lr: Option<f64>,
    /// With sharded servers: the busiest shard's bytes (in + out) over the mean (empty otherwise).
    #[serde(default)]
    pub shard_imbalance: Option<f64>,
    /// The weight pulls and gradient pushes before encoding, in f32: the two `comm_broadcast_bytes`
    /// and `comm_gradient_bytes` above are what the links carried, the encoded sizes under
    /// `compress_pull` / `compress_push` (0 in files written before compression existed).
    #[serde(default)]
    pub comm_broadcast_raw_bytes: u64,
    #[serde(default)]
    pub comm_gradient_raw_bytes: u64,
    /// With `compress_push`: ‖decoded − original‖ / ‖original‖ of the round's pushes (empty
    /// otherwise).
    #[serde(default)]
    pub push_rel_error: Option<f64>,
}

impl From<&EpochRecord> for MetricsRow {
    fn from(r: &EpochRecord) -> Self {
        let m = &r.memory;
        Self {
            epoch: r.epoch,
            weight_version: r.version,
            train_loss: r.train_loss,
            train_acc: r.train_acc,
            valid_loss: r.valid_loss,
            valid_acc: r.valid_acc,
            test_loss: r.test_loss,
            test_acc: r.test_acc,
            live_graph_bytes: m.live(MemCategory::Graph),
            live_features_bytes: m.live(MemCategory::Features),
            live_activations_bytes: m.live(MemCategory::Activations),
            live_gradients_bytes: m.live(MemCategory::Gradients),
            live_weights_bytes: m.live(MemCategory::Weights),
            live_optimizer_state_bytes: m.live(MemCategory::OptimizerState),
            live_exchange_bytes: m.live(MemCategory::Exchange),
            live_staging_bytes: m.live(MemCategory::Staging),
            live_embeddings_bytes: m.live(MemCategory::Embeddings),
            live_embedding_state_bytes: m.live(MemCategory::EmbeddingState),
            live_total_bytes: m.live_total(),
            peak_total_bytes: m.peak_total,
            live_weight_versions: r.live_versions,
            comm_broadcast_bytes: r.comm_broadcast_bytes,
            comm_gradient_bytes: r.comm_gradient_bytes,
            comm_halo_bytes: r.comm_halo_bytes,
            comm_boundary_forward_bytes: r.comm_boundary_forward.iter().sum(),
            comm_boundary_backward_bytes: r.comm_boundary_backward.iter().sum(),
            sim_time_s: r.sim_time_s,
            staleness_mean: r.staleness_mean,
            staleness_max: r.staleness_max,
            byzantine_weight: r.aggregation.as_ref().map(|a| a.byzantine_weight),
            agg_rel_dist_honest: r.aggregation.as_ref().map(|a| a.rel_dist_honest),
            lr: Some(r.lr),
            shard_imbalance: (!r.shards.is_empty()).then(|| crate::ps::shards::ShardPlan::imbalance(&r.shards)),
            comm_broadcast_raw_bytes: r.comm_broadcast_raw_bytes,
            comm_gradient_raw_bytes: r.comm_gradient_raw_bytes,
            push_rel_error: r.push_rel_error,
        }
    }
}

/// `selection.csv` of a `train --out` run with Byzantine workers or a robust rule: each
/// worker's weight in each round's aggregate (tidy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SelectionRow {
    pub epoch: u32,
    pub worker: usize,
    pub byzantine: bool,
    pub weight: f64,
    /// Whether the rule kept it: Krum's and Multi-Krum's choice; for the geometric median and
    /// centered clipping false when it was treated as infinitely far (weight 0: a non-finite
    /// gradient, or one beyond f32). Empty for other rules.
    pub selected: Option<bool>,
}

impl SelectionRow {
    pub fn of(r: &EpochRecord, byzantine: &[usize]) -> Vec<SelectionRow> {
        let Some(a) = &r.aggregation else { return Vec::new() };
        a.weights
            .iter()
            .enumerate()
            .map(|(worker, &weight)| SelectionRow {
                epoch: r.epoch,
                worker,
                byzantine: byzantine.contains(&worker),
                weight,
                selected: a.selected.as_ref().map(|s| s[worker]),
            })
            .collect()
    }
}

/// `embeddings.csv` of a `train --out` run with `--embedding-dim`: each round's embedding
/// traffic and table changes (see `ps::embedding::EmbeddingCounts`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddingRow {
    pub epoch: u32,
    pub pulled_rows: u64,
    pub pull_bytes: u64,
    pub pushed_rows: u64,
    pub push_bytes: u64,
    pub updated_rows: u64,
    pub pruned_rows: u64,
    /// Bytes of the table and of its optimizer state on the device (with every worker's pulled rows).
    pub live_embeddings_bytes: u64,
    pub live_embedding_state_bytes: u64,
}

impl EmbeddingRow {
    pub fn of(r: &EpochRecord) -> Option<Self> {
        let e = r.embedding.as_ref()?;
        Some(Self {
            epoch: r.epoch,
            pulled_rows: e.pulled_rows,
            pull_bytes: e.pull_bytes,
            pushed_rows: e.pushed_rows,
            push_bytes: e.push_bytes,
            updated_rows: e.updated_rows,
            pruned_rows: e.pruned_rows,
            live_embeddings_bytes: r.memory.live(MemCategory::Embeddings),
            live_embedding_state_bytes: r.memory.live(MemCategory::EmbeddingState),
        })
    }
}

/// `shards.csv` of a `train --out` run with `--servers` > 1: each shard's bytes in (gradient
/// blocks and embedding rows pushed to it) and out (weight blocks and embedding rows pulled from
/// it) per round (tidy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardRow {
    pub epoch: u32,
    pub shard: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl ShardRow {
    pub fn of(r: &EpochRecord) -> Vec<Self> {
        r.shards
            .iter()
            .enumerate()
            .map(|(shard, t)| Self { epoch: r.epoch, shard, bytes_in: t.bytes_in, bytes_out: t.bytes_out })
            .collect()
    }
}

/// `comm.csv`: boundary traffic per epoch, layer and direction (tidy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommRow {
    pub epoch: u32,
    pub layer: usize,
    /// `forward` (activations to the partitions that need them) or `backward` (gradients back
    /// to the owners).
    pub direction: &'static str,
    pub bytes: u64,
}

impl CommRow {
    /// The rows of one epoch record (none without exchange).
    pub fn of(r: &EpochRecord) -> Vec<CommRow> {
        let rows = |direction: &'static str, per_layer: &[u64]| -> Vec<CommRow> {
            per_layer
                .iter()
                .enumerate()
                .map(|(layer, &bytes)| CommRow { epoch: r.epoch, layer, direction, bytes })
                .collect()
        };
        let mut out = rows("forward", &r.comm_boundary_forward);
        out.extend(rows("backward", &r.comm_boundary_backward));
        out
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimingRow {
    pub epoch: u32,
    pub wall_ms: f64,
}

impl From<&EpochRecord> for TimingRow {
    fn from(r: &EpochRecord) -> Self {
        Self { epoch: r.epoch, wall_ms: r.wall_ms }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EventRow {
    pub seq: u64,
    /// Simulated time, seconds.
    pub time_s: f64,
    /// The round (evaluation) the event belongs to.
    pub epoch: u32,
    pub event: String,
    pub version: u64,
    pub worker: Option<usize>,
    pub detail: String,
}

impl From<&Event> for EventRow {
    fn from(e: &Event) -> Self {
        let event = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        Self {
            seq: e.seq,
            time_s: e.time_s,
            epoch: e.epoch,
            event,
            version: e.version,
            worker: e.worker,
            detail: e.detail.clone(),
        }
    }
}

/// `metrics.csv`'s columns that only compressed pushes and pulls fill (without them the raw
/// bytes are the bytes carried and there is no decoding error).
pub const PUSH_PULL_COMPRESSION_COLUMNS: [&str; 3] =
    ["comm_broadcast_raw_bytes", "comm_gradient_raw_bytes", "push_rel_error"];

/// The columns to leave out of a `metrics.csv` holding the runs of `configs`: the compression
/// columns where none of them compresses its pushes or pulls, so the files of uncompressed runs
/// are what they were before compression existed; none otherwise.
pub fn metrics_columns_left_out<'a>(
    configs: impl IntoIterator<Item = &'a crate::sim::RunConfig>,
) -> &'static [&'static str] {
    let compressed =
        configs.into_iter().any(|c| !c.parallel.compress_push.is_none() || !c.parallel.compress_pull.is_none());
    if compressed {
        &[]
    } else {
        &PUSH_PULL_COMPRESSION_COLUMNS
    }
}
