//! Command-line interface (clap). Raw arguments become one validated `RunConfig` in `app`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::backend::BackendChoice;
use crate::backend::ReduceOrder;
use crate::graph::partition::PartitionerKind;
use crate::ps::{Aggregation, OptimizerKind};
use crate::sim::{Boundary, FeatureNorm, ParallelConfig, RunConfig, TrainConfig};

#[derive(Parser, Debug)]
#[command(name = "gcnsim", version, about = "Simulates parameter-server training of graph convolutional networks (Kipf & Welling) on one GPU", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a GCN (serial with --partitions 1, else BSP over simulated workers) and report convergence.
    Train(TrainArgs),
    /// Run every configuration of an experiment file (TOML) and write results and plots.
    Run(RunArgs),
    /// Redraw every plot of a results folder from its CSVs, without training.
    Plot(PlotArgs),
    /// Print statistics of a dataset: nodes, edges, features, classes, splits, degrees.
    DatasetInfo(DatasetArgs),
    /// Print per-partition statistics: owned nodes, edge cut, halo per hop, replication, balance.
    PartitionInfo(PartitionInfoArgs),
    /// List the GPU adapters wgpu can see.
    Devices,
    /// Measure milliseconds per training epoch for each backend and write results/bench/.
    Bench(BenchArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DatasetArgs {
    /// A directory in OGB raw layout (raw/*.csv[.gz], split/<name>/*.csv[.gz]), a bare name looked
    /// up under $GCNSIM_DATA_DIR, or `csbm[:key=value,...]` for a generated graph
    /// (keys: nodes, classes, avg_degree, homophily, features, signal, seed, train_per_class, valid, test).
    #[arg(default_value = "csbm")]
    pub dataset: String,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Dataset: an OGB-layout directory, a name under $GCNSIM_DATA_DIR, or `csbm[:key=value,...]`.
    #[arg(long, default_value = "csbm")]
    pub dataset: String,
    /// Training epochs.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Hidden units per hidden layer.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    /// Number of GCN layers (2 = Kipf's model).
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f32,
    /// Dropout rate on the input of every layer.
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f32,
    /// L2 weight decay on the first layer's weights.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f32,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Seed of weights, dropout masks and random partitions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Kipf's early stopping with this window (10 in the paper): stop when the validation loss
    /// exceeds the mean of the previous WINDOW epochs. Off by default.
    #[arg(long, value_name = "WINDOW")]
    pub early_stopping: Option<usize>,
    /// Row-normalize input features: auto = when all are non-negative.
    #[arg(long, value_enum, default_value_t = FeatureNorm::Auto)]
    pub feature_norm: FeatureNorm,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Number of simulated workers (graph partitions); 1 = serial training.
    #[arg(long, default_value_t = 1)]
    pub partitions: usize,
    /// How nodes are assigned to partitions.
    #[arg(long, value_enum, default_value_t = PartitionerKind::Metis)]
    pub partitioner: PartitionerKind,
    /// Edges leaving a partition: exact = keep an L-hop halo (equals serial training with
    /// weighted aggregation); drop = train on the induced subgraph (Cluster-GCN).
    #[arg(long, value_enum, default_value_t = Boundary::Exact)]
    pub boundary: Boundary,
    /// How the P gradients combine: weighted by training-node share (= serial gradient), mean, sum.
    #[arg(long, value_enum, default_value_t = Aggregation::Weighted)]
    pub aggregate: Aggregation,
    /// Summation order of the gradient reduction: flat, or a binary tree (treeReduce).
    #[arg(long, value_enum, default_value_t = ReduceOrder::Flat)]
    pub reduce: ReduceOrder,
    /// Never release old weight versions (shows the leak in the memory curve).
    #[arg(long)]
    pub keep_versions: bool,
    /// Print the parameter-server protocol (publish, compute, aggregate, update, release), one
    /// line per event, to stdout or to FILE.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub trace: Option<PathBuf>,
    /// Write metrics.csv, timing.csv, events.csv and summary.json into this folder (created; an
    /// existing folder is replaced only if it is empty or an earlier gcnsim output). It is
    /// checked before training starts.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl TrainArgs {
    pub fn config(&self) -> RunConfig {
        RunConfig {
            train: TrainConfig {
                epochs: self.epochs,
                hidden: self.hidden,
                layers: self.layers,
                lr: self.lr,
                dropout: self.dropout,
                weight_decay: self.weight_decay,
                optimizer: self.optimizer,
                seed: self.seed,
                early_stopping: self.early_stopping,
                feature_norm: self.feature_norm,
            },
            parallel: ParallelConfig {
                partitions: self.partitions,
                partitioner: self.partitioner,
                boundary: self.boundary,
                aggregate: self.aggregate,
                reduce: self.reduce,
                keep_versions: self.keep_versions,
            },
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Experiment file (TOML), e.g. experiments/quickstart.toml.
    pub experiment: PathBuf,
    /// Results folder; default results/<experiment name>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute backend for every run.
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
}

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// A results folder written by `gcnsim run`.
    pub results: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct PartitionInfoArgs {
    /// Dataset, as for `train`.
    #[arg(default_value = "csbm")]
    pub dataset: String,
    #[arg(long, default_value_t = 4)]
    pub partitions: usize,
    #[arg(long, value_enum, default_value_t = PartitionerKind::Metis)]
    pub partitioner: PartitionerKind,
    #[arg(long, value_enum, default_value_t = Boundary::Exact)]
    pub boundary: Boundary,
    /// GCN layers: the halo depth of `exact`.
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Datasets to time (repeatable); default: cora (if found) and csbm with 100k nodes / ~1M edges.
    #[arg(long)]
    pub dataset: Vec<String>,
    /// Backends to time.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![BackendChoice::Cpu, BackendChoice::Gpu])]
    pub backends: Vec<BackendChoice>,
    /// Partition counts to time (BSP, metis).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize])]
    pub partitions: Vec<usize>,
    /// Boundary modes to time when P > 1.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Boundary::Exact])]
    pub boundaries: Vec<Boundary>,
    /// Timed epochs per measurement (after one warm-up epoch).
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Output folder; results are appended to OUT/bench.csv (one row per measurement). The
    /// default lies in the build folder, which git ignores; the committed measurements in
    /// results/bench were made with `--out results/bench`.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
    /// A free-text tag stored with each row (e.g. the machine).
    #[arg(long, default_value = "")]
    pub tag: String,
}
