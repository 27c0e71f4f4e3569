//! Run configuration: CLI flags and experiment files both become one validated [`RunConfig`]
//! before any work starts.

pub use super::options::ConfigError;
use super::options::{defaults_from_clap, invalid};
use crate::compress::{BoundaryCompression, PullCompression, PushCompression};
pub use crate::graph::local::Boundary;
use crate::graph::partition::PartitionerKind;
pub use crate::model::partitioned::EvalMode;
pub use crate::model::ModelSpec;
use crate::ps::{Aggregator, LrSchedule, OptimizerSpec};

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

/// Where the layer-0 input comes from, besides learnable embeddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSource {
    /// The dataset's node features.
    #[default]
    Dataset,
    /// No features: the model reads learnable embeddings alone (needs `embedding_dim`), as for a
    /// graph that has none.
    None,
}

fn parse_model(text: &str) -> Result<ModelSpec, String> {
    text.parse().map_err(|e: crate::spec::SpecError| e.message)
}

fn is_gcn(m: &ModelSpec) -> bool {
    *m == ModelSpec::Gcn
}

/// Keys a model's preset sets unless given.
pub const PRESET_KEYS: &[&str] = &["epochs", "hidden", "lr", "dropout", "weight_decay", "patience"];

impl TrainConfig {
    /// The model's published settings for every key of [`PRESET_KEYS`] not `given`.
    pub fn apply_model_preset(&mut self, given: &dyn Fn(&str) -> bool) {
        let p = self.model.preset();
        if !given("epochs") {
            self.epochs = p.epochs;
        }
        if !given("hidden") {
            self.hidden = p.hidden;
        }
        if !given("lr") {
            self.lr = p.lr;
        }
        if !given("dropout") {
            self.dropout = p.dropout;
        }
        if !given("weight_decay") {
            self.weight_decay = p.weight_decay;
        }
        if !given("patience") {
            self.patience = p.patience;
        }
    }
}

/// Embedding widths beyond this are refused: the table is nodes × width on one device.
pub const MAX_EMBEDDING_DIM: usize = 4096;

/// The model and optimizer (Kipf & Welling's defaults).
/// The model and optimizer (Kipf & Welling's defaults). Also the `train` command's options: the
/// doc comments are its `--help`, the `default_value_t`s the one place defaults are set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Model: gcn (Kipf & Welling), sage[:root=B] (GraphSAGE, mean aggregator), or
    /// gat[:heads=H,out_heads=O,negative_slope=S,attn_dropout=D] (8, 1, 0.2, 0.6). Each model's
    /// published settings (epochs, hidden, lr, dropout, weight_decay, patience) are the
    /// defaults of the options not given.
    #[arg(long, default_value_t = ModelSpec::default(), value_parser = parse_model)]
    #[serde(skip_serializing_if = "is_gcn")]
    pub model: ModelSpec,
    /// Training epochs (1 to 1000000).
    #[arg(long, default_value_t = 200, value_parser = parse_epochs, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Hidden units per hidden layer (at least 1).
    #[arg(long, default_value_t = 16, value_parser = parse_hidden, allow_negative_numbers = true)]
    pub hidden: usize,
    /// Number of GCN layers (2 = Kipf's model; 1 to 64).
    #[arg(long, default_value_t = 2, value_parser = parse_layers, allow_negative_numbers = true)]
    pub layers: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f32,
    /// Dropout rate on the input of every layer.
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f32,
    /// L2 penalty on the first layer's weights (loss += wd · ‖W0‖² / 2); below 1/lr.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f32,
    /// Server optimizer, with optional constants: adam[:beta1=B1,beta2=B2,eps=E] (0.9, 0.999,
    /// 1e-8), sgd, momentum[:mu=M] and nesterov[:mu=M] (0.9), adagrad[:init=A,eps=E] (0.1, 1e-7),
    /// rmsprop[:rho=R,eps=E] (0.9, 1e-7), adamw[:…] (as adam; --weight-decay decoupled),
    /// ftrl[:beta=B,l1=L1] (0, 0; α = --lr, λ2 = --weight-decay).
    #[arg(long, default_value_t = OptimizerSpec::default(), value_parser = parse_optimizer)]
    pub optimizer: OptimizerSpec,
    /// Learning-rate schedule, a factor on --lr by epoch: constant; step[:every=E,gamma=G]
    /// (× G every E epochs; defaults 100, 0.1); cosine[:min=M] (annealed to M·lr at the last
    /// epoch; default 0); each also takes warmup=W (a linear rise over the first W epochs);
    /// warmup:epochs=W is constant:warmup=W.
    #[arg(long, default_value_t = LrSchedule::default(), value_parser = parse_schedule)]
    pub lr_schedule: LrSchedule,
    /// Seed of weights, dropout masks, random partitions and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Kipf's early stopping with this window (10 in the paper): stop when the validation loss
    /// exceeds the mean of the previous WINDOW epochs. Off by default.
    #[arg(long, value_name = "WINDOW")]
    pub early_stopping: Option<usize>,
    /// Stop when neither the validation loss nor the validation accuracy improved on its best
    /// for N epochs (the GAT paper's rule; its default for --model gat: 100). 0 turns it off.
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Row-normalize input features: auto = when all are non-negative.
    #[arg(long, value_enum, default_value_t = FeatureNorm::Auto)]
    pub feature_norm: FeatureNorm,
    /// Input features: the dataset's, or none (then the model reads --embedding-dim alone).
    #[arg(long, value_enum, default_value_t = FeatureSource::Dataset)]
    pub features: FeatureSource,
    /// Learnable node embeddings of this width (0 = none), concatenated to the features. The
    /// table lives on the parameter server (N(0, 1/D) initial rows); each worker pulls the rows
    /// of the nodes its pass reads and pushes the rows its loss reaches; the server updates
    /// those rows only (lazily), with --optimizer and the table's step count. BSP only.
    #[arg(long, value_name = "D", default_value_t = 0)]
    pub embedding_dim: usize,
    /// Weight decay of the embedding rows, applied only to the rows a step updates, in the
    /// optimizer's convention (L2 in the gradient; AdamW decoupled; FTRL's λ2); below 1/lr.
    #[arg(long, default_value_t = 0.0)]
    pub embedding_decay: f32,
    /// Evict an embedding row that no push has updated for K epochs; its next pull
    /// re-initializes it (fresh N(0, 1/D) values, zeroed optimizer state).
    #[arg(long, value_name = "K")]
    pub prune_after: Option<u32>,
}

/// Most simulated workers a run may have: the simulator keeps P × P traffic and distance
/// matrices, and one machine simulates every worker.
pub const MAX_PARTITIONS: usize = 4096;

/// How the simulated cluster is laid out; also `train`'s options, like [`TrainConfig`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct ParallelConfig {
    /// Number of simulated workers (graph partitions), 1 to 4096; 1 = serial training.
    #[arg(long, default_value_t = 1)]
    pub partitions: usize,
    /// How nodes are assigned to partitions.
    #[arg(long, value_enum, default_value_t = PartitionerKind::Metis)]
    pub partitioner: PartitionerKind,
    /// Edges leaving a partition (see the book's boundary-modes chapter: exchange equals serial training at 1-hop
    /// cost; replicate (old name: exact) keeps L-hop halos; drop trains on induced subgraphs;
    /// stale and sample are PipeGCN's and BNS-GCN's variants of exchange). Left unset where
    /// exchange is refused (ssp, asp, Byzantine workers, robust rules), the run uses replicate.
    #[arg(long, value_enum, default_value_t = Boundary::Exchange)]
    pub boundary: Boundary,
    /// Fraction of boundary nodes kept per epoch with `--boundary sample` (BNS-GCN's p; refused
    /// with any other boundary).
    #[arg(long, default_value_t = 1.0)]
    pub sample_rate: f32,
    /// Where accuracies and losses are measured: the whole graph, or each worker's partition.
    #[arg(long, value_enum, default_value_t = EvalMode::Full)]
    pub eval: EvalMode,
    /// How the P gradients combine: weighted by training-node share (= serial gradient), mean,
    /// sum; or a robust rule on the workers' mean gradients: median, trimmed_mean[:f=F],
    /// krum[:f=F], multi_krum[:f=F,m=M], geometric_median[:nu=X,tol=X,iters=N] (smoothed
    /// Weiszfeld; defaults 1e-6, 1e-6, 5), centered_clipping[:tau=X,iters=N] (defaults 100, 1);
    /// iters 1 to 1000.
    #[arg(long, default_value_t = Aggregator::default(), value_parser = parse_aggregator)]
    pub aggregate: Aggregator,
    /// Never release old weight versions (shows the leak in the memory curve).
    #[arg(long)]
    pub keep_versions: bool,
    /// Recompute every training forward, also where the last evaluation computed it (dropout 0
    /// with exchange or replicate boundaries); the results are the same, for comparisons.
    #[arg(long)]
    pub recompute_forward: bool,
    /// Codec of the boundary rows sent forward each layer with `--boundary exchange`:
    /// none|fp16|int8|int4|int2|1bit, `:ef` for an error-feedback residual per row on the sender
    /// (int: AdaQP's per-row scale and zero point with stochastic rounding; 1bit: Sylvie's, one
    /// scale per side of zero). The exchange bytes are the encoded sizes.
    #[arg(long, default_value_t = BoundaryCompression::default(), value_parser = parse_boundary_codec)]
    #[serde(skip_serializing_if = "BoundaryCompression::is_none")]
    pub compress_boundary: BoundaryCompression,
    /// Codec of the boundary gradients sent back each layer (as --compress-boundary).
    #[arg(long, default_value_t = BoundaryCompression::default(), value_parser = parse_boundary_codec)]
    #[serde(skip_serializing_if = "BoundaryCompression::is_none")]
    pub compress_boundary_grad: BoundaryCompression,
    /// Codec of each worker's gradient push, per parameter tensor: none|fp16|topk:ratio=R|
    /// randk:ratio=R|qsgd:levels=S|signsgd|powersgd:rank=R, `,ef` for error feedback (a residual
    /// per worker and tensor). Encoded on the worker, before a Byzantine worker's attack (which
    /// replaces or edits the decoded gradient at the server: an attacker sends what it likes).
    /// The push bytes are the encoded sizes. Flat topology.
    #[arg(long, default_value_t = PushCompression::default(), value_parser = parse_push_codec)]
    #[serde(skip_serializing_if = "PushCompression::is_none")]
    pub compress_push: PushCompression,
    /// Codec of the weights the server sends the workers: none or fp16 (the workers compute
    /// from the half-precision weights; the server keeps f32 masters).
    #[arg(long, default_value_t = PullCompression::default(), value_parser = parse_pull_codec)]
    #[serde(skip_serializing_if = "PullCompression::is_none")]
    pub compress_pull: PullCompression,
}

fn parse_boundary_codec(s: &str) -> Result<BoundaryCompression, String> {
    s.parse().map_err(|e: crate::spec::SpecError| e.to_string())
}

fn parse_push_codec(s: &str) -> Result<PushCompression, String> {
    s.parse().map_err(|e: crate::spec::SpecError| e.to_string())
}

fn parse_pull_codec(s: &str) -> Result<PullCompression, String> {
    s.parse().map_err(|e: crate::spec::SpecError| e.to_string())
}

/// An integer in `min..=max`, with the same message as [`RunConfig::validate`], also for a
/// negative number (which clap would otherwise take for an unknown flag).
fn count_in(text: &str, min: usize, max: usize) -> Result<usize, String> {
    let range = if max == usize::MAX { format!("at least {min}") } else { format!("between {min} and {max}") };
    match text.trim().parse::<i128>() {
        Ok(n) if n >= min as i128 && n <= max as i128 => Ok(n as usize),
        Ok(n) => Err(format!("must be {range}, got {n}")),
        Err(_) => Err(format!("must be an integer {range}, got `{text}`")),
    }
}

fn parse_epochs(s: &str) -> Result<usize, String> {
    count_in(s, 1, MAX_EPOCHS)
}

fn parse_layers(s: &str) -> Result<usize, String> {
    count_in(s, 1, MAX_LAYERS)
}

fn parse_hidden(s: &str) -> Result<usize, String> {
    count_in(s, 1, usize::MAX)
}

fn parse_optimizer(s: &str) -> Result<OptimizerSpec, String> {
    s.parse().map_err(|e: crate::spec::SpecError| e.to_string())
}

fn parse_schedule(s: &str) -> Result<LrSchedule, String> {
    s.parse().map_err(|e: crate::spec::SpecError| e.to_string())
}

fn parse_aggregator(s: &str) -> Result<Aggregator, String> {
    s.parse().map_err(|e: crate::ps::robust::RobustError| e.to_string())
}

impl Default for TrainConfig {
    fn default() -> Self {
        defaults_from_clap()
    }
}

impl Default for ParallelConfig {
    fn default() -> Self {
        defaults_from_clap()
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    pub train: TrainConfig,
    pub parallel: ParallelConfig,
    #[serde(default)]
    pub cluster: super::ClusterConfig,
    #[serde(default)]
    pub byzantine: super::ByzantineConfig,
}

/// Keys that earlier versions had, with what replaced them: an experiment file or flag that sets
/// one is refused with this message rather than as an unknown key.
pub const RETIRED_KEYS: &[(&str, &str)] = &[(
    "reduce",
    "was retired: the summation order of the gradients follows `topology` (flat and ring sum in worker order, \
     tree and binary_tree level by level); remove it and set topology instead",
)];

/// The message for a retired key, if `key` is one.
pub fn retired(key: &str) -> Option<&'static str> {
    RETIRED_KEYS.iter().find(|(k, _)| *k == key).map(|(_, m)| *m)
}

impl RunConfig {
    /// A configuration stored by an earlier run (a checkpoint's JSON). Retired keys at the value
    /// that is now the only behaviour are dropped (`reduce = flat`: flat topologies still sum in
    /// worker order); any other value of them cannot resume to the same numbers and is refused.
    /// Keys that had no effect where they were set (and are refused now) are reset, which
    /// changes nothing in the resumed run.
    pub fn from_stored_json(text: &str) -> Result<RunConfig, String> {
        let mut cfg = Self::decode_stored(text)?;
        let d = super::ClusterConfig::default();
        if cfg.parallel.boundary != Boundary::Sample {
            cfg.parallel.sample_rate = 1.0;
        }
        if cfg.cluster.consistency != super::Consistency::Ssp {
            cfg.cluster.staleness = d.staleness;
        }
        if cfg.cluster.consistency == super::Consistency::Bsp {
            cfg.cluster.staleness_lr = false;
        }
        Ok(cfg)
    }

    fn decode_stored(text: &str) -> Result<RunConfig, String> {
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if let Some(parallel) = value.get_mut("parallel").and_then(|p| p.as_object_mut()) {
            match parallel.remove("reduce") {
                None => {}
                Some(serde_json::Value::String(order)) if order == "flat" => {}
                Some(other) => {
                    return Err(format!(
                        "key `reduce` = {other}: {} (only `flat` resumes to the same numbers)",
                        retired("reduce").unwrap_or_default()
                    ))
                }
            }
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}

/// Every epoch keeps a record in memory (and a row per CSV): a million is far beyond any GCN
/// schedule and still fits.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Deeper GCNs oversmooth long before this; it bounds per-layer bookkeeping.
pub const MAX_LAYERS: usize = 64;

/// Decay below 1/lr: with it, an SGD step scales the weights by 1 − lr·decay, which must stay
/// positive; at lr·decay ≥ 1 the decay alone zeroes or flips them, and values like 1e38 overflow
/// the gradient to infinity with every optimizer.
fn check_decay(key: &str, decay: f32, lr: f32) -> Result<(), ConfigError> {
    if decay as f64 * lr as f64 >= 1.0 {
        return Err(invalid(
            key,
            format!(
                "must be below 1/lr = {} (lr = {lr}): lr · {key} must stay below 1, got {}",
                1.0 / lr,
                crate::cost::readable(decay as f64)
            ),
        ));
    }
    Ok(())
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
        t.lr_schedule.check(t.epochs).map_err(|m| invalid("lr_schedule", m))?;
        if !(0.0..1.0).contains(&t.dropout) {
            return Err(invalid("dropout", format!("must be in [0, 1), got {}", t.dropout)));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(invalid("weight_decay", format!("must be ≥ 0, got {}", t.weight_decay)));
        }
        check_decay("weight_decay", t.weight_decay, t.lr)?;
        if t.embedding_dim > MAX_EMBEDDING_DIM {
            return Err(invalid(
                "embedding_dim",
                format!("must be at most {MAX_EMBEDDING_DIM}, got {}", t.embedding_dim),
            ));
        }
        if t.features == FeatureSource::None && t.embedding_dim == 0 {
            return Err(invalid("features", "`none` leaves the model no input: set embedding_dim to at least 1"));
        }
        if !(t.embedding_decay.is_finite() && t.embedding_decay >= 0.0) {
            return Err(invalid("embedding_decay", format!("must be ≥ 0, got {}", t.embedding_decay)));
        }
        check_decay("embedding_decay", t.embedding_decay, t.lr)?;
        if t.embedding_dim == 0 && t.embedding_decay > 0.0 {
            return Err(invalid("embedding_decay", "applies to embedding rows: set embedding_dim too"));
        }
        match t.prune_after {
            Some(0) => return Err(invalid("prune_after", "must be at least 1 epoch")),
            Some(_) if t.embedding_dim == 0 => {
                return Err(invalid("prune_after", "prunes embedding rows: set embedding_dim too"))
            }
            _ => {}
        }
        if t.early_stopping == Some(0) {
            return Err(invalid("early_stopping", "the window must be at least 1 epoch"));
        }
        if self.parallel.partitions == 0 {
            return Err(invalid("partitions", "must be at least 1 (1 = serial training)"));
        }
        if self.parallel.partitions > MAX_PARTITIONS {
            // Checked before anything sizes per-worker lists (Byzantine flags, traffic and
            // distance matrices of P × P) from it.
            return Err(invalid(
                "partitions",
                format!("{} simulated workers; at most {MAX_PARTITIONS}", self.parallel.partitions),
            ));
        }
        let rate = self.parallel.sample_rate;
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(invalid("sample_rate", format!("must be in (0, 1], got {rate}")));
        }
        if rate != 1.0 && self.parallel.boundary != Boundary::Sample {
            return Err(invalid(
                "sample_rate",
                format!(
                    "applies to boundary = sample only, but boundary = {}; set boundary = sample or leave the rate",
                    self.parallel.boundary.name()
                ),
            ));
        }
        self.check_staleness()?;
        let cluster = self.cluster.resolve(self.parallel.partitions)?;
        if cluster.consistency != super::Consistency::Bsp
            && self.parallel.boundary.exchanges()
            && self.parallel.partitions > 1
        {
            return Err(invalid(
                "consistency",
                format!(
                    "{} lets workers compute from different versions at different times, but boundary = {} \
                     exchanges rows between all workers in every layer; use boundary = replicate or drop",
                    cluster.consistency.name(),
                    self.parallel.boundary.name()
                ),
            ));
        }
        self.check_compression(&cluster)?;
        self.check_compression_wired()?;
        let robust = self.robust_plan_with(&cluster)?;
        if cluster.servers > 1 && robust.is_some() {
            return Err(invalid(
                "servers",
                "robust rules and Byzantine workers need every gradient whole at one server; use servers = 1",
            ));
        }
        if t.embedding_dim > 0 {
            let refuse = |key: &str, why: &str| {
                Err(invalid(
                    key,
                    format!("embedding tables are built for BSP rounds with a linear aggregate on a server; {why}"),
                ))
            };
            if cluster.consistency != super::Consistency::Bsp {
                return refuse(
                    "consistency",
                    &format!("{} is not supported with embedding_dim", cluster.consistency.name()),
                );
            }
            if cluster.topology == crate::cost::Topology::Ring {
                return refuse("topology", "a ring all-reduce has no server to hold the table");
            }
            if robust.is_some() {
                return refuse("aggregate", "Byzantine workers and robust rules are not supported with embedding_dim");
            }
        }
        Ok(())
    }

    /// The codecs only where something crosses the network that they can encode.
    fn check_compression(&self, cluster: &super::cluster::Cluster) -> Result<(), ConfigError> {
        let p = &self.parallel;
        let boundary =
            [("compress_boundary", p.compress_boundary), ("compress_boundary_grad", p.compress_boundary_grad)];
        let pushes = [("compress_push", !p.compress_push.is_none()), ("compress_pull", !p.compress_pull.is_none())];
        for (key, codec) in boundary {
            if codec.is_none() {
                continue;
            }
            if p.partitions < 2 {
                return Err(invalid(key, "a serial run exchanges no boundary rows: set partitions to at least 2"));
            }
            if p.boundary != Boundary::Exchange {
                return Err(invalid(
                    key,
                    format!(
                        "encodes the rows boundary = exchange sends every layer, but boundary = {}; set boundary = \
                         exchange or compress_boundary(_grad) = none",
                        p.boundary.name()
                    ),
                ));
            }
        }
        for (key, set) in pushes {
            if !set {
                continue;
            }
            if p.partitions < 2 {
                return Err(invalid(key, "a serial run has no parameter server to push to or pull from"));
            }
            if cluster.topology != crate::cost::Topology::Flat {
                return Err(invalid(
                    key,
                    format!(
                        "encodes what one worker sends one server (or shard) whole, but topology = {} sums partial \
                         gradients on the way; use topology = flat",
                        cluster.topology
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The codecs the driver does not encode yet are refused, not ignored: a run must do what
    /// its configuration says (issue #30 wires them one direction at a time; the push and the
    /// pull are wired, the boundary rows not yet).
    fn check_compression_wired(&self) -> Result<(), ConfigError> {
        let p = &self.parallel;
        for (key, set) in [
            ("compress_boundary", !p.compress_boundary.is_none()),
            ("compress_boundary_grad", !p.compress_boundary_grad.is_none()),
        ] {
            if set {
                return Err(invalid(key, "is not yet applied by the training driver in this version; use none"));
            }
        }
        Ok(())
    }

    /// `staleness` and `staleness_lr` only where they act: a bound other than the default
    /// outside SSP, or one no clock can reach, is a mistake to report, not to ignore.
    fn check_staleness(&self) -> Result<(), ConfigError> {
        let c = &self.cluster;
        let default = super::ClusterConfig::default().staleness;
        if c.consistency != super::Consistency::Ssp && c.staleness != default {
            return Err(invalid(
                "staleness",
                format!("applies to consistency = ssp only, but consistency = {}", c.consistency.name()),
            ));
        }
        // The default bound in a short run is not the user's mistake.
        if c.staleness != default {
            self.check_staleness_binds()?;
        }
        if c.consistency == super::Consistency::Bsp && c.staleness_lr {
            return Err(invalid(
                "staleness_lr",
                "bsp applies only fresh gradients (staleness 0), so the scaling never acts; use ssp or asp",
            ));
        }
        Ok(())
    }

    /// For a run whose boundary the user did not choose: the default `exchange` where the run
    /// allows it, else `replicate`, the best of the modes every consistency model and robust rule
    /// accepts (no edge lost, gradients independent per worker; `drop` loses the cut edges).
    /// Returns the note to show once, `None` when the default stands.
    pub fn choose_boundary(&mut self) -> Option<String> {
        let p = &self.parallel;
        if p.partitions < 2 || p.boundary != Boundary::Exchange {
            return None;
        }
        let why = if self.cluster.consistency != super::Consistency::Bsp {
            format!("consistency = {}", self.cluster.consistency.name())
        } else if self.byzantine.active(p.aggregate) {
            if self.byzantine.byzantine > 0 {
                "Byzantine workers".to_string()
            } else {
                format!("aggregate = {}", p.aggregate)
            }
        } else {
            return None;
        };
        self.parallel.boundary = Boundary::Replicate;
        Some(format!(
            "boundary not set: {why} refuses the default `exchange`, so the run uses `replicate` (each worker \
             holds its L-hop halo; no edge is lost); set boundary to choose another"
        ))
    }

    /// Checks options the user gave explicitly (`given(key)`): a value equal to the default is
    /// still a mistake where the key does not apply. Experiment grids cross keys freely, so this
    /// is for the command line.
    pub fn check_given(&self, given: &dyn Fn(&str) -> bool) -> Result<(), ConfigError> {
        if given("staleness") && self.cluster.consistency != super::Consistency::Ssp {
            return Err(invalid(
                "staleness",
                format!("applies to consistency = ssp only, but consistency = {}", self.cluster.consistency.name()),
            ));
        }
        if given("staleness") {
            self.check_staleness_binds()?;
        }
        if given("sample_rate") && self.parallel.boundary != Boundary::Sample {
            return Err(invalid(
                "sample_rate",
                format!("applies to boundary = sample only, but boundary = {}", self.parallel.boundary.name()),
            ));
        }
        Ok(())
    }

    /// Under SSP, a bound of `epochs` or more never binds: no clock is that far ahead.
    fn check_staleness_binds(&self) -> Result<(), ConfigError> {
        let (c, epochs) = (&self.cluster, self.train.epochs);
        if c.consistency == super::Consistency::Ssp && c.staleness as usize >= epochs {
            return Err(invalid(
                "staleness",
                format!(
                    "a bound of {} never binds in a run of {epochs} epochs: use at most {} (or consistency = asp)",
                    c.staleness,
                    epochs.saturating_sub(1)
                ),
            ));
        }
        Ok(())
    }

    /// The server's plan for Byzantine workers and robust aggregation; `None` for plain runs.
    pub fn robust_plan(&self) -> Result<Option<crate::ps::robust::RobustPlan>, ConfigError> {
        self.robust_plan_with(&self.cluster.resolve(self.parallel.partitions)?)
    }

    fn robust_plan_with(
        &self,
        cluster: &super::cluster::Cluster,
    ) -> Result<Option<crate::ps::robust::RobustPlan>, ConfigError> {
        self.byzantine.resolve(&super::byzantine::Context {
            workers: self.parallel.partitions,
            seed: self.train.seed,
            aggregate: self.parallel.aggregate,
            consistency: cluster.consistency,
            boundary: self.parallel.boundary,
            flat_topology: cluster.topology == crate::cost::Topology::Flat,
        })
    }

    /// The same training with keys that do not apply reset to their defaults, so equal runs
    /// compare equal: serial runs have no partitioning, and only `sample` has a rate.
    pub fn normalized(mut self) -> Self {
        if self.parallel.partitions == 1 {
            self.parallel = ParallelConfig {
                keep_versions: self.parallel.keep_versions,
                recompute_forward: self.parallel.recompute_forward,
                ..ParallelConfig::default()
            };
        }
        if self.parallel.boundary != Boundary::Sample {
            self.parallel.sample_rate = 1.0;
        }
        self.cluster = self.cluster.normalized();
        self
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
        if varies("model") || self.train.model != ModelSpec::Gcn {
            parts.push(self.train.model.to_string());
        }
        if p.partitions == 1 {
            parts.push("serial".to_string());
        } else {
            parts.push(format!("P={}", p.partitions));
            if p.boundary == Boundary::Sample {
                parts.push(format!("sample R={}", p.sample_rate));
            } else {
                parts.push(p.boundary.name().to_string());
            }
            parts.push(format!("{:?}", p.partitioner).to_lowercase());
            if varies("eval") || p.eval != EvalMode::Full {
                parts.push(format!("eval={:?}", p.eval).to_lowercase());
            }
            if varies("aggregate") || p.aggregate != Aggregator::default() {
                parts.push(p.aggregate.to_string());
            }
        }
        parts.extend(self.cluster.label_parts(&varies));
        parts.extend(self.byzantine.label_parts(&varies));
        if p.keep_versions || varies("keep_versions") {
            parts.push(if p.keep_versions { "keep_versions".into() } else { "release".into() });
        }
        if p.recompute_forward || varies("recompute_forward") {
            parts.push(if p.recompute_forward { "recompute_forward".into() } else { "reuse_forward".into() });
        }
        for (key, value, none) in [
            ("compress_boundary", p.compress_boundary.to_string(), p.compress_boundary.is_none()),
            ("compress_boundary_grad", p.compress_boundary_grad.to_string(), p.compress_boundary_grad.is_none()),
            ("compress_push", p.compress_push.to_string(), p.compress_push.is_none()),
            ("compress_pull", p.compress_pull.to_string(), p.compress_pull.is_none()),
        ] {
            if !none || varies(key) {
                parts.push(format!("{key}={value}"));
            }
        }
        let t = &self.train;
        if t.features == FeatureSource::None {
            parts.push("features=none".into());
        }
        if t.embedding_dim > 0 || varies("embedding_dim") {
            parts.push(format!("emb={}", t.embedding_dim));
        }
        for (key, value) in [
            ("epochs", t.epochs.to_string()),
            ("hidden", t.hidden.to_string()),
            ("layers", t.layers.to_string()),
            ("lr", t.lr.to_string()),
            ("dropout", t.dropout.to_string()),
            ("weight_decay", t.weight_decay.to_string()),
            ("optimizer", t.optimizer.to_string()),
            ("lr_schedule", t.lr_schedule.to_string()),
            ("embedding_decay", t.embedding_decay.to_string()),
            ("prune_after", t.prune_after.map_or("never".into(), |k| k.to_string())),
            ("patience", t.patience.map_or("none".into(), |k| k.to_string())),
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
    fn defaults_are_kipfs() {
        let t = TrainConfig::default();
        assert_eq!((t.epochs, t.hidden, t.layers, t.lr, t.dropout, t.weight_decay), (200, 16, 2, 0.01, 0.5, 5e-4));
        assert_eq!(ParallelConfig::default().boundary, Boundary::Exchange);
    }

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

    #[test]
    fn compression_is_refused_where_nothing_it_encodes_is_sent() {
        let int8 = |c: &mut RunConfig| c.parallel.compress_boundary = "int8".parse().unwrap();
        let e = refused(&|c| int8(c));
        assert!(e.key == "compress_boundary" && e.message.contains("serial"), "{e}");
        let e = refused(&|c| {
            (c.parallel.partitions, c.parallel.boundary) = (2, Boundary::Replicate);
            c.parallel.compress_boundary_grad = "1bit:ef".parse().unwrap();
        });
        assert!(e.key == "compress_boundary_grad" && e.message.contains("boundary = replicate"), "{e}");
        let e = refused(&|c| {
            c.parallel.partitions = 2;
            c.parallel.compress_push = "topk:ratio=0.1,ef".parse().unwrap();
            c.cluster.topology = "ring".into();
        });
        assert!(e.key == "compress_push" && e.message.contains("topology = ring"), "{e}");
        let e = refused(&|c| c.parallel.compress_pull = PullCompression::Fp16);
        assert_eq!(e.key, "compress_pull", "{e}");
        let mut wired = RunConfig::default();
        wired.parallel.partitions = 4;
        wired.parallel.compress_push = "topk:ratio=0.01,ef".parse().unwrap();
        wired.parallel.compress_pull = PullCompression::Fp16;
        wired.validate().unwrap();
        let mut ok = RunConfig::default();
        ok.parallel.partitions = 4;
        int8(&mut ok);
        ok.parallel.compress_push = "powersgd:rank=2".parse().unwrap();
        ok.parallel.compress_pull = PullCompression::Fp16;
        ok.check_compression(&ok.cluster.resolve(4).unwrap()).unwrap();
        let e = ok.validate().unwrap_err();
        assert!(e.key == "compress_boundary" && e.message.contains("not yet applied"), "{e}");
        assert!(ok.label().contains("compress_boundary=int8 compress_push=powersgd:rank=2 compress_pull=fp16"));
        // The codecs' keys are written only when set, so a run without them stores what it did.
        let text = toml::to_string(&RunConfig::default()).unwrap();
        assert!(!text.contains("compress"), "{text}");
        let text = toml::to_string(&ok).unwrap();
        assert!(text.contains("compress_push = \"powersgd:rank=2\""), "{text}");
        assert_eq!(toml::from_str::<RunConfig>(&text).unwrap(), ok);
    }

    fn refused(f: &dyn Fn(&mut RunConfig)) -> ConfigError {
        let mut c = RunConfig::default();
        f(&mut c);
        c.validate().unwrap_err()
    }

    #[test]
    fn options_that_do_not_apply_are_refused_naming_the_key() {
        use crate::sim::Consistency;
        let e = refused(&|c| (c.train.epochs, c.cluster.staleness) = (3, 1000));
        assert_eq!(e.key, "staleness", "{e}");
        assert!(e.message.contains("ssp only"), "{e}");
        let e = refused(&|c| {
            (c.train.epochs, c.cluster.staleness, c.cluster.consistency) = (3, 1000, Consistency::Ssp);
            (c.parallel.partitions, c.parallel.boundary) = (2, Boundary::Drop);
        });
        assert!(e.key == "staleness" && e.message.contains("never binds") && e.message.contains("at most 2"), "{e}");
        let e = refused(&|c| {
            (c.cluster.staleness, c.cluster.consistency) = (7, Consistency::Asp);
            (c.parallel.partitions, c.parallel.boundary) = (2, Boundary::Drop);
        });
        assert_eq!(e.key, "staleness", "{e}");
        let e = refused(&|c| c.cluster.staleness_lr = true);
        assert_eq!(e.key, "staleness_lr", "{e}");
        let e = refused(&|c| (c.parallel.partitions, c.parallel.sample_rate) = (2, 0.5));
        assert!(e.key == "sample_rate" && e.message.contains("boundary = sample"), "{e}");
        let e = refused(&|c| c.train.weight_decay = 1e38);
        assert!(e.key == "weight_decay" && e.message.contains("1/lr = 100"), "{e}");
        let e = refused(&|c| (c.train.lr, c.train.weight_decay) = (0.5, 2.0));
        assert_eq!(e.key, "weight_decay", "{e}");
        let e = refused(&|c| (c.train.embedding_dim, c.train.embedding_decay) = (8, 200.0));
        assert_eq!(e.key, "embedding_decay", "{e}");
        let e = refused(&|c| {
            (c.cluster.consistency, c.parallel.partitions) = (Consistency::Ssp, 2);
        });
        assert!(e.key == "consistency" && e.message.contains("boundary = exchange"), "{e}");
        // The limits themselves are accepted.
        let mut ok = RunConfig::default();
        (ok.train.lr, ok.train.weight_decay) = (0.5, 1.99);
        (ok.parallel.partitions, ok.parallel.boundary, ok.parallel.sample_rate) = (2, Boundary::Sample, 0.5);
        assert!(ok.validate().is_ok());
        (ok.cluster.consistency, ok.cluster.staleness, ok.train.epochs) = (Consistency::Ssp, 4, 5);
        ok.parallel.boundary = Boundary::Drop;
        ok.parallel.sample_rate = 1.0;
        assert!(ok.validate().is_ok(), "{:?}", ok.validate());
        // Given explicitly, even at the default value.
        let given = |key: &str| key == "staleness";
        assert_eq!(RunConfig::default().check_given(&given).unwrap_err().key, "staleness");
        let given = |key: &str| key == "sample_rate";
        assert_eq!(RunConfig::default().check_given(&given).unwrap_err().key, "sample_rate");
    }

    #[test]
    fn an_unset_boundary_becomes_replicate_where_exchange_is_refused() {
        use crate::sim::Consistency;
        let mut plain = RunConfig::default();
        plain.parallel.partitions = 4;
        assert_eq!(plain.clone().choose_boundary(), None);
        for edit in [
            &|c: &mut RunConfig| c.cluster.consistency = Consistency::Ssp,
            &|c: &mut RunConfig| c.cluster.consistency = Consistency::Asp,
            &|c: &mut RunConfig| c.byzantine.byzantine = 1,
            &|c: &mut RunConfig| c.parallel.aggregate = "median".parse().unwrap(),
        ] as [&dyn Fn(&mut RunConfig); 4]
        {
            let mut c = plain.clone();
            edit(&mut c);
            assert!(c.validate().is_err(), "exchange is refused");
            let note = c.choose_boundary().expect("a note");
            assert!(note.contains("replicate") && note.contains("exchange"), "{note}");
            assert_eq!(c.parallel.boundary, Boundary::Replicate);
            assert!(c.validate().is_ok(), "{:?}", c.validate());
        }
        // An explicit choice and serial runs are left alone.
        let mut drop = plain.clone();
        (drop.parallel.boundary, drop.cluster.consistency) = (Boundary::Drop, Consistency::Ssp);
        assert_eq!(drop.choose_boundary(), None);
        let mut serial = RunConfig::default();
        serial.cluster.consistency = Consistency::Ssp;
        assert_eq!(serial.choose_boundary(), None);
    }

    #[test]
    fn the_retired_reduce_key_is_named_and_old_stored_configs_load() {
        assert!(retired("reduce").unwrap().contains("topology"));
        assert_eq!(retired("topology"), None);
        let mut stored = serde_json::to_value(RunConfig::default()).unwrap();
        stored["parallel"]["reduce"] = "flat".into();
        let cfg = RunConfig::from_stored_json(&stored.to_string()).unwrap();
        assert_eq!(cfg, RunConfig::default());
        stored["parallel"]["reduce"] = "tree".into();
        let e = RunConfig::from_stored_json(&stored.to_string()).unwrap_err();
        assert!(e.contains("`reduce`") && e.contains("tree") && e.contains("only `flat`"), "{e}");
        // Keys without effect where an earlier version accepted them are reset.
        stored["parallel"]["reduce"] = "flat".into();
        (stored["parallel"]["sample_rate"], stored["cluster"]["staleness"]) = (0.5.into(), 9.into());
        stored["cluster"]["staleness_lr"] = true.into();
        let cfg = RunConfig::from_stored_json(&stored.to_string()).unwrap();
        assert_eq!(cfg, RunConfig::default());
        // Without the key, as this version stores it.
        let now = serde_json::to_string(&RunConfig::default()).unwrap();
        assert!(!now.contains("reduce"), "{now}");
        assert_eq!(RunConfig::from_stored_json(&now).unwrap(), RunConfig::default());
    }

    #[test]
    fn negative_and_huge_counts_get_the_range_message() {
        assert_eq!(parse_epochs("-5").unwrap_err(), format!("must be between 1 and {MAX_EPOCHS}, got -5"));
        assert_eq!(parse_epochs("200"), Ok(200));
        assert!(parse_layers("65").unwrap_err().contains("between 1 and 64"));
        assert!(parse_hidden("0").unwrap_err().contains("at least 1"));
        assert!(parse_hidden("x").unwrap_err().contains("an integer"));
    }

    #[test]
    fn embedding_options_are_checked() {
        assert_eq!(refused(&|c| c.train.features = FeatureSource::None).key, "features");
        assert_eq!(refused(&|c| c.train.prune_after = Some(3)).key, "prune_after");
        assert_eq!(refused(&|c| c.train.embedding_decay = 0.1).key, "embedding_decay");
        assert_eq!(refused(&|c| c.train.embedding_dim = MAX_EMBEDDING_DIM + 1).key, "embedding_dim");
        let with = |f: &dyn Fn(&mut RunConfig)| {
            refused(&|c: &mut RunConfig| {
                c.train.embedding_dim = 8;
                f(c)
            })
        };
        assert_eq!(with(&|c| c.train.prune_after = Some(0)).key, "prune_after");
        assert_eq!(with(&|c| c.train.embedding_decay = -1.0).key, "embedding_decay");
        let e = with(&|c| {
            c.parallel.partitions = 3;
            c.parallel.boundary = Boundary::Drop;
            c.cluster.consistency = crate::sim::Consistency::Ssp;
        });
        assert_eq!(e.key, "consistency", "{e}");
        let e = with(&|c| {
            c.parallel.partitions = 3;
            c.parallel.boundary = Boundary::Replicate;
            c.parallel.aggregate = "median".parse().unwrap();
        });
        assert_eq!(e.key, "aggregate", "{e}");
        let e = refused(&|c| c.cluster.servers = 0);
        assert_eq!(e.key, "servers", "{e}");
        let e = refused(&|c| (c.cluster.servers, c.cluster.topology) = (2, "tree".into()));
        assert_eq!(e.key, "servers", "{e}");
        let e = refused(&|c| {
            (c.cluster.servers, c.cluster.consistency, c.parallel.partitions) = (2, crate::sim::Consistency::Asp, 3);
            c.parallel.boundary = Boundary::Drop;
        });
        assert_eq!(e.key, "servers", "{e}");
        let e = refused(&|c| {
            (c.cluster.servers, c.parallel.partitions, c.parallel.boundary) = (2, 3, Boundary::Replicate);
            c.parallel.aggregate = "median".parse().unwrap();
        });
        assert_eq!(e.key, "servers", "{e}");
        let mut ok = RunConfig::default();
        (ok.train.embedding_dim, ok.train.features, ok.train.prune_after) = (8, FeatureSource::None, Some(4));
        assert!(ok.validate().is_ok());
        assert!(ok.label().contains("features=none") && ok.label().contains("emb=8"), "{}", ok.label());
    }
}
