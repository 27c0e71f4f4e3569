//! Command-line interface (clap). Raw arguments become one validated `RunConfig` in `app`.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub use crate::backend::gpu::ResidentSet;
pub use crate::backend::BackendChoice;
use crate::graph::partition::PartitionerKind;
use crate::sim::{Boundary, ByzantineConfig, ClusterConfig, ParallelConfig, RunConfig, TrainConfig};

#[derive(Parser, Debug)]
#[command(name = "gcnsim", version, about = "Simulates parameter-server training of graph convolutional networks (Kipf & Welling) on one GPU", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads of the CPU backend, 1 to 1024 (default: every core). Results are bit-identical at
    /// any count.
    #[arg(long, global = true, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Which workers' buffers stay in GPU memory. `auto`: all while they fit; past device
    /// memory (or --gpu-memory), other workers' buffers move to host memory (the one that ran
    /// last first) and come back when used. `all`: everything, always (an allocation that does not fit is
    /// an error). `one`: only the running worker's graph, features and activations, with
    /// weights and exchange buffers (the memory curve shows the resident set). Streaming never
    /// changes a result.
    #[arg(long, global = true, value_enum, default_value_t = ResidentSet::Auto)]
    pub resident: ResidentSet,
    /// GPU memory budget: the most device bytes the GPU backend keeps live (e.g. 512MiB, 8GiB,
    /// or bytes; 1 byte to 1 PiB). Default: what the device allows. Mapped readback buffers (host memory on
    /// discrete GPUs: the stats readback, the streaming ring, at most an eighth of the budget)
    /// lie outside it, though the memory curves count them as staging.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_bytes)]
    pub gpu_memory: Option<u64>,
    /// Never touch the network: a named dataset (`--dataset citeseer`) must already be in the
    /// cache. GCNSIM_OFFLINE=1 does the same.
    #[arg(long, global = true)]
    pub offline: bool,
}

impl Cli {
    /// Parses the process's arguments (exiting with clap's message on an error), recording
    /// which `train` options were given, not defaulted.
    pub fn parse_tracked() -> Self {
        Self::from_matches(Self::command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    /// As [`Cli::parse_tracked`], from `args` (the first is the program name).
    pub fn try_parse_tracked<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::from_matches(Self::command().try_get_matches_from(args)?)
    }

    fn from_matches(matches: clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut cli = Self::from_arg_matches(&matches)?;
        if let (Command::Train(args), Some(m)) = (&mut cli.command, matches.subcommand_matches("train")) {
            args.given = m
                .ids()
                .filter(|id| matches!(m.value_source(id.as_str()), Some(ValueSource::CommandLine)))
                .map(|id| id.to_string())
                .collect();
        }
        Ok(cli)
    }
}

/// Most CPU threads: more than any machine has cores; rayon would try to start them all.
pub const MAX_THREADS: usize = 1024;
/// Largest `--gpu-memory`: 1 PiB, far beyond any GPU.
pub const MAX_GPU_MEMORY: u64 = 1 << 50;

fn parse_threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_THREADS as i64).contains(&n) => Ok(n as usize),
        Ok(n) => Err(format!("must be between 1 and {MAX_THREADS}, got {n}")),
        Err(_) => Err(format!("`{text}` is not a number of threads (1 to {MAX_THREADS})")),
    }
}

/// `123`, `64KiB`, `512MiB`, `8GiB`, `1TiB` (binary), or `500MB`, `2GB` (decimal); at least one
/// byte, at most [`MAX_GPU_MEMORY`].
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        u => return Err(format!("unknown unit `{u}` in `{text}` (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size (e.g. 512MiB)"))?;
    let bytes = value * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("`{text}`: a size must be at least one byte"));
    }
    if bytes > MAX_GPU_MEMORY as f64 {
        return Err(format!("`{text}`: a size must be at most 1 PiB ({MAX_GPU_MEMORY} bytes)"));
    }
    Ok(bytes as u64)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a GCN (serial with --partitions 1, else BSP over simulated workers) and report convergence.
    Train(Box<TrainArgs>),
    /// Run every configuration of an experiment file (TOML) and write results and plots.
    Run(RunArgs),
    /// Continue a `train --out OUT --checkpoint-every N` run that was interrupted, from its last
    /// checkpoint, and complete OUT (its metrics.csv is byte-identical to an uninterrupted run's).
    Resume(ResumeArgs),
    /// Merge the shard folders of one experiment (`run --shard K/N`) into the results folder one
    /// machine would have written, figures included; refuses shards of different experiments,
    /// commits or datasets, and missing or duplicated runs.
    Merge(MergeArgs),
    /// Redraw every plot of a results folder (`run` or `train --out`) from its CSVs, without
    /// training.
    Plot(PlotArgs),
    /// Overlay several results folders (`run` and `train --out`, one dataset) in one set of
    /// figures and a table (compare.csv), configurations labelled by what differs between them.
    Compare(CompareArgs),
    /// Write one self-contained HTML page (no network, no server) of a results folder (`run`,
    /// `merge` or `train --out`): description, configuration, provenance, the runs table
    /// (sortable), every figure, the time per round and, for cluster runs, a worker timeline.
    Report(ReportArgs),
    /// Print statistics of a dataset: nodes, edges, features, classes, splits, degrees.
    DatasetInfo(DatasetArgs),
    /// Print per-partition statistics: owned nodes, edge cut, halo per hop, replication, balance.
    PartitionInfo(PartitionInfoArgs),
    /// Datasets: fetch, list and remove the named ones (cora, citeseer, pubmed, ogbn-arxiv,
    /// ogbn-products, reddit) in the cache ($GCNSIM_DATA_DIR, else ~/.cache/gcnsim/datasets);
    /// export any dataset in the OGB raw layout.
    #[command(subcommand)]
    Data(DataCommand),
    /// List the GPU adapters wgpu can see.
    Devices,
    /// Measure milliseconds per training epoch for each backend and append them to
    /// target/bench/bench.csv (or --out DIR).
    Bench(BenchArgs),
    /// Measure each kernel class (SpMM, matmul, element-wise, reductions, optimizer, attention,
    /// robust rules) over a range of shapes on this machine's backend, fit each class's rates and
    /// write them as a device profile (`--device-profile FILE`), printing the fit's residuals.
    Calibrate(CalibrateArgs),
    /// Run each configuration of experiment files twice, with compute time modelled on a device
    /// profile and measured on the chosen backend, and report the model's error per configuration
    /// and kernel class (validation.csv, a figure, geometric-mean error, worst error, Kendall τ).
    Validate(ValidateArgs),
    /// Print a shell completion script to stdout, e.g.
    /// `gcnsim completions bash > ~/.local/share/bash-completion/completions/gcnsim`.
    Completions(CompletionsArgs),
    /// Write the CLI reference (DIR/docs/src/cli.md) and the man pages (DIR/docs/man/) from
    /// these definitions; DIR is the repository root.
    #[command(hide = true)]
    GenerateDocs(GenerateDocsArgs),
}

#[derive(Subcommand, Debug, Clone)]
pub enum DataCommand {
    /// Download a named dataset from where PyG, DGL and OGB get it (or $GCNSIM_DATASET_MIRROR/
    /// <file>), check every file's SHA-256, unpack it into the cache. A cached dataset is
    /// verified instead, without a request.
    Fetch(FetchArgs),
    /// The named datasets: which are cached, their size on disk and their download size.
    List,
    /// Delete a named dataset from the cache (the hashes recorded for its downloads stay).
    Remove(RemoveArgs),
    /// Write a dataset (a folder gcnsim loads, a name, or `csbm[:key=value,...]`) into the new
    /// folder DIR in the OGB raw layout (raw/*.csv.gz, split/NAME/*.csv.gz), each undirected edge
    /// once. DIR appears only when complete.
    Export(ExportArgs),
}

#[derive(Args, Debug, Clone)]
pub struct FetchArgs {
    /// cora, citeseer, pubmed, ogbn-arxiv, ogbn-products or reddit.
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// List the named datasets instead (as `gcnsim data list`).
    #[arg(long, conflicts_with = "name")]
    pub list: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RemoveArgs {
    /// The dataset's name.
    pub name: String,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// The dataset, as for `train --dataset`.
    pub dataset: String,
    /// The folder to create (it must not exist, or be empty).
    pub dir: PathBuf,
    /// The folder under split/ that holds train, valid and test.
    #[arg(long, default_value = "default")]
    pub split: String,
}

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateDocsArgs {
    /// The repository root (docs/ is written below it).
    pub dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct DatasetArgs {
    /// A dataset folder: OGB raw layout (raw/*.csv[.gz] or raw/data.npz, split/<name>/*.csv[.gz]),
    /// Planetoid files (ind.NAME.*; `DIR:name=NAME` picks one) or Reddit's npz files; a bare name
    /// looked up under $GCNSIM_DATA_DIR (a name `gcnsim data fetch` knows is fetched on first use);
    /// or `csbm[:key=value,...]` for a generated graph
    /// (keys: nodes, classes, avg_degree, homophily, features, signal, seed, train_per_class, valid, test).
    #[arg(default_value = "csbm")]
    pub dataset: String,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Dataset: an OGB-layout directory, a folder of Planetoid files (`DIR[:name=NAME]`), a name under
    /// $GCNSIM_DATA_DIR, or `csbm[:key=value,...]`.
    #[arg(long, default_value = "csbm")]
    pub dataset: String,
    #[command(flatten)]
    pub train: TrainConfig,
    #[command(flatten)]
    pub parallel: ParallelConfig,
    #[command(flatten)]
    pub cluster: ClusterConfig,
    #[command(flatten)]
    pub byzantine: ByzantineConfig,
    /// Retired (the summation order follows --topology); kept only to say so.
    #[arg(long, hide = true, value_parser = retired_reduce)]
    pub reduce: Option<String>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Print the parameter-server protocol (publish, compute, aggregate, update, release), one
    /// line per event, to stdout or to FILE. FILE is written when the run completes; an existing
    /// FILE is replaced only if it is an earlier trace (or with --force). A FILE directly inside
    /// --out DIR is written into the new DIR.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub trace: Option<PathBuf>,
    /// Replace an existing --trace FILE even if it is not an earlier gcnsim trace.
    #[arg(long)]
    pub force: bool,
    /// Write metrics.csv, timing.csv, events.csv and summary.json into this folder (created; an
    /// existing folder is replaced only if it is empty or an earlier gcnsim output holding only
    /// files gcnsim wrote). It is checked, and locked against other gcnsim processes, before
    /// training starts.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write a checkpoint into the --out folder every N epochs (BSP runs): weights, optimizer
    /// state, epoch, versions, simulated clock; `gcnsim resume DIR` continues an interrupted run.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u32>,
    /// Accuracy targets (0 < T ≤ 1, comma-separated): print, and write to summary.json, the
    /// first epoch and the simulated time at which validation accuracy reaches each.
    #[arg(long, value_name = "T,...", value_parser = parse_targets)]
    pub target_acc: Option<Targets>,
    /// The options given on the command line (clap ids = config keys), not defaulted; filled
    /// by [`Cli::parse_tracked`].
    #[arg(skip)]
    pub given: Vec<String>,
}

fn retired_reduce(_: &str) -> Result<String, String> {
    Err(format!(
        "--reduce {}",
        crate::sim::config::retired("reduce").unwrap_or_default().replace("`topology`", "--topology")
    ))
}

#[derive(Args, Debug, Clone)]
pub struct ResumeArgs {
    /// The --out folder of the interrupted run (it holds checkpoint.bin).
    pub out: PathBuf,
}

impl TrainArgs {
    /// The configuration as given, before [`TrainArgs::resolved_config`]'s choices.
    pub fn config(&self) -> RunConfig {
        RunConfig {
            train: self.train.clone(),
            parallel: self.parallel.clone(),
            cluster: self.cluster.clone(),
            byzantine: self.byzantine.clone(),
        }
    }

    pub fn was_given(&self, key: &str) -> bool {
        self.given.iter().any(|k| k == key)
    }

    /// The run's configuration: options given where they do not apply are refused, and a
    /// boundary the user did not choose is chosen for the run (the note says which, to print
    /// once). The result is what summaries and checkpoints record.
    pub fn resolved_config(&self) -> Result<(RunConfig, Option<String>), crate::sim::ConfigError> {
        let mut cfg = self.config();
        cfg.train.apply_model_preset(&|key| self.was_given(key));
        let note = if self.was_given("boundary") { None } else { cfg.choose_boundary() };
        cfg.check_given(&|key| self.was_given(key))?;
        cfg.validate()?;
        Ok((cfg, note))
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
    /// Runs at once in this process (default: the cores over --threads, 1 without --threads or
    /// on a GPU). The files are the same bytes at any N; a run starts only while the runs in
    /// progress and its memory estimate fit in the available memory.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Run only shard K of N (from 1) and write a shard folder (default
    /// results/<name>.shard-K-of-N) for `gcnsim merge`. Without it, SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT (a Slurm job array), or JOB_COMPLETION_INDEX with --shards (a
    /// Kubernetes Indexed Job), choose the shard.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// How many shards a Kubernetes Indexed Job runs (its completions); JOB_COMPLETION_INDEX
    /// names this process's.
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<usize>,
    /// Start from zero: discard the runs that an interrupted run into the same folder finished
    /// (by default they are kept and only the others run).
    #[arg(long)]
    pub restart: bool,
    /// Do not write report.html (the results page) into the results folder.
    #[arg(long)]
    pub no_report: bool,
    /// Accuracy targets (0 < T ≤ 1, comma-separated) for runs.csv's `epoch_to_acc_T` and
    /// `time_to_acc_T_s` columns; replaces the experiment's `targets`.
    #[arg(long, value_name = "T,...", value_parser = parse_targets)]
    pub target_acc: Option<Targets>,
}

/// `--target-acc`'s accuracies, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Targets(pub Vec<f64>);

fn parse_targets(text: &str) -> Result<Targets, String> {
    crate::report::targets::parse_targets(text).map(Targets)
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// The results folder to write.
    pub out: PathBuf,
    /// The shard folders, every shard of the experiment once.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Do not write report.html (the results page) into the results folder.
    #[arg(long)]
    pub no_report: bool,
}

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// A results folder written by `gcnsim run` (it holds runs.csv) or `gcnsim train --out`
    /// (it holds summary.json).
    pub results: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Results folders written by `gcnsim run` or `gcnsim train --out`, of one dataset.
    #[arg(required = true, num_args = 1..)]
    pub results: Vec<PathBuf>,
    /// The folder to write compare.csv and the figures into (replaced as a whole: an earlier
    /// comparison's, or empty, or new).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// A results folder written by `gcnsim run`, `gcnsim merge` or `gcnsim train --out`.
    pub results: PathBuf,
    /// Where to write the page (default: RESULTS/report.html).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value_t = Boundary::Exchange)]
    pub boundary: Boundary,
    /// GCN layers: the halo depth of `replicate`, the number of exchanges per pass.
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Hidden units: the width of the rows exchanged by every layer but the last.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug, Clone)]
pub struct CalibrateArgs {
    /// The device profile to write (TOML); its file stem names the profile.
    #[arg(long, value_name = "PROFILE.toml")]
    pub out: PathBuf,
    /// Backend whose kernels are measured: `cpu` (host time of each call) or `gpu` (the wgpu
    /// backend on the best adapter, software included: device time from timestamp queries).
    #[arg(long, value_enum, default_value_t = CalibrateBackend::Cpu)]
    pub backend: CalibrateBackend,
    /// Fewer and smaller shapes, timed briefly (seconds instead of minutes; for tests).
    #[arg(long)]
    pub quick: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ValidateArgs {
    /// Experiment files, or folders of them (every `*.toml`), whose configurations are checked.
    #[arg(required = true, num_args = 1..)]
    pub experiments: Vec<PathBuf>,
    /// The device profile whose predictions are checked: a preset or a file from `gcnsim calibrate`.
    #[arg(long)]
    pub profile: String,
    /// Folder for validation.csv, validation.png/svg, summary.txt and a copy of the profile.
    #[arg(long, default_value = "results/validation")]
    pub out: PathBuf,
    /// Backend of the measured runs: `cpu` (host time of each kernel) or `gpu` (device time from
    /// timestamp queries). The modelled runs charge the same kernels whichever it is, and run on
    /// the CPU backend.
    #[arg(long, value_enum, default_value_t = CalibrateBackend::Cpu)]
    pub backend: CalibrateBackend,
}

/// The backend `calibrate` and `validate` measure.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalibrateBackend {
    /// The ndarray reference backend.
    Cpu,
    /// The wgpu backend on the best adapter (software adapters included); needs timestamp
    /// queries inside passes and encoders.
    Gpu,
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
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![Boundary::Exchange])]
    pub boundaries: Vec<Boundary>,
    /// Fraction of boundary nodes kept per epoch by `--boundaries sample`.
    #[arg(long, default_value_t = 0.1)]
    pub sample_rate: f32,
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
    /// Time the training step alone instead of the whole epoch: serial forward, backward and
    /// optimizer step on the whole graph, with no evaluation pass and no simulated cluster
    /// (the quantity `scripts/compare_numpy.py` compares with a NumPy/SciPy GCN). Needs P = 1.
    #[arg(long)]
    pub step: bool,
    /// Also time every kernel on the device (GPU backend, adapters with timestamp queries):
    /// prints device milliseconds per epoch by kernel and appends them to OUT/profile.csv.
    /// Profiling waits for each submission, so the wall times of a profiled run run high.
    #[arg(long)]
    pub profile: bool,
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert!(parse_bytes("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("MiB").unwrap_err().contains("not a size"));
        assert!(parse_bytes("0").is_err());
        let e = parse_bytes("18446744073709551615").unwrap_err();
        assert!(e.contains("at most 1 PiB"), "{e}");
        assert_eq!(parse_bytes("1TiB"), Ok(1 << 40));
        assert!(parse_bytes("1125899906842624").is_ok());
        assert!(parse_bytes("1125899906842625").is_err());
    }

    #[test]
    fn threads_are_bounded() {
        use super::parse_threads;
        assert_eq!(parse_threads("4"), Ok(4));
        for bad in ["0", "100000", "-3"] {
            assert!(parse_threads(bad).unwrap_err().contains("between 1 and 1024"), "{bad}");
        }
        assert!(parse_threads("many").is_err());
    }
}
