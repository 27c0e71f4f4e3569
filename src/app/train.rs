//! `gcnsim train`: one run, printed and optionally written to a folder.

use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;

use super::info::load_dataset;
use crate::backend::{with_backend, BackendChoice};
use crate::cli::{ResumeArgs, TrainArgs};
use crate::data::DatasetSpec;
use crate::graph::local;
use crate::ps::EventLog;
use crate::report::atomic::{write_csv_atomic_without, write_json_atomic};
use crate::report::metrics::metrics_columns_left_out;
use crate::report::metrics::{CommRow, EmbeddingRow, EventRow, MetricsRow, SelectionRow, ShardRow, TimingRow};
use crate::report::output::trace::TraceFile;
use crate::report::output::{Claim, OutputDir, OutputKind};
use crate::report::progress::{EpochProgress, ProgressMode};
use crate::report::summary::RunSummary;
use crate::report::targets::{CurvePoint, Reached, TimeToAccuracy};
use crate::report::{write_csv_atomic, ReportError};
use crate::sim::checkpoint::{self, Checkpoint, CheckpointPlan, Persistence, RunIdentity};
use crate::sim::{self, Problem, RunConfig, TrainTask, TrainedRun};

pub fn train_command(args: &TrainArgs) -> anyhow::Result<()> {
    let (cfg, note) = args.resolved_config().context("invalid options")?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    if args.checkpoint_every.is_some() {
        anyhow::ensure!(
            args.out.is_some(),
            "--checkpoint-every needs --out: checkpoints are written into the run's output folder"
        );
        checkpoint::supported(&cfg).context("invalid options")?;
    }
    // Before any work: a 10-minute run must not find out at the end that it cannot write.
    let output = args.out.as_deref().map(|out| OutputDir::begin(out, OutputKind::Train)).transpose()?;
    // Checked before any work too, and against the output folder (see `TraceFile`).
    let (log, trace) = match &args.trace {
        None => (EventLog::new(), None),
        Some(p) if p.as_os_str() == "-" => (EventLog::with_sink(Box::new(std::io::stdout())), None),
        Some(p) => {
            let (trace, file) = TraceFile::create(p, args.force, output.as_ref())?;
            (EventLog::with_sink(Box::new(BufWriter::new(file))), Some(trace))
        }
    };
    let ds = load_dataset(&args.dataset)?;
    let problem = prepare_with_progress(&ds, &cfg)?;
    println!("{}", settings_line(&cfg));
    let checkpoint = match (args.checkpoint_every, &output) {
        (Some(every), Some(output)) => {
            anyhow::ensure!(every >= 1, "--checkpoint-every: at least 1 epoch");
            let identity = RunIdentity {
                gcnsim_version: env!("CARGO_PKG_VERSION").into(),
                dataset: dataset_for_resume(&args.dataset),
                dataset_fingerprint: ds.fingerprint(),
                backend_choice: args.backend,
                config_json: serde_json::to_string(&cfg).context("encoding the configuration")?,
                checkpoint_every: every,
            };
            Some(CheckpointPlan { path: output.checkpoint_path(checkpoint::FILE_NAME)?, every, identity })
        }
        _ => None,
    };
    let persistence = Persistence { checkpoint, resume: None };
    // The trace on stdout and progress bars on stderr would interleave on a terminal.
    let mode = if args.trace.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        ProgressMode::Quiet
    } else {
        ProgressMode::detect()
    };
    let targets = args.target_acc.as_ref().map(|t| t.0.clone()).unwrap_or_default();
    train_and_write(&problem, &cfg, args.backend, log, mode, output, persistence, trace, &targets)
}

/// `gcnsim resume OUT`: continues the run whose checkpoint OUT holds and completes OUT.
pub fn resume_command(args: &ResumeArgs) -> anyhow::Result<()> {
    // Resolved, locked and checked before anything is read from it or removed beside it.
    let claim = Claim::existing(&args.out, OutputKind::Train)?;
    let dir = claim.destination().to_path_buf();
    let path = dir.join(checkpoint::FILE_NAME);
    if !path.exists() {
        let why = if dir.join("metrics.csv").is_file() && !dir.join("INCOMPLETE").exists() {
            "it holds a finished run (metrics.csv): there is nothing to resume"
        } else {
            "the run stopped before its first checkpoint, or was not started with --checkpoint-every; \
             train it again"
        };
        anyhow::bail!("{} has no {}: {why}", dir.display(), checkpoint::FILE_NAME);
    }
    let c = Checkpoint::read(&path)?;
    let id = &c.identity;
    let cfg = RunConfig::from_stored_json(&id.config_json)
        .map_err(|e| anyhow::anyhow!("checkpoint {}: its configuration does not decode: {e}", path.display()))?;
    // The checkpoint is untrusted input: its worker count against the lists it holds before the
    // configuration builds per-worker lists, everything the configuration alone can check before
    // the dataset is loaded, and what the dataset claims before it is generated or read.
    checkpoint::validate::workers_match(&c.state, cfg.parallel.partitions)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    cfg.validate().with_context(|| format!("checkpoint {}: its configuration", path.display()))?;
    checkpoint::supported(&cfg).with_context(|| format!("checkpoint {}: its configuration", path.display()))?;
    let expected = checkpoint::Expected::from_config(&cfg, cfg.parallel.partitions)
        .with_context(|| format!("checkpoint {}: its configuration", path.display()))?;
    checkpoint::validate(&c.state, &expected).with_context(|| format!("checkpoint {}", path.display()))?;
    let spec: DatasetSpec =
        id.dataset.parse().with_context(|| format!("checkpoint {}: its dataset `{}`", path.display(), id.dataset))?;
    checkpoint::validate::declared_dataset(&spec, &id.dataset_fingerprint)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    let output = claim.stage()?;
    let ds =
        load_dataset(&id.dataset).with_context(|| format!("loading the dataset of checkpoint {}", path.display()))?;
    let found = ds.fingerprint();
    anyhow::ensure!(
        found == id.dataset_fingerprint,
        "checkpoint {}: the dataset `{}` now loads as {found}, but the run trained on {}; the resumed run would differ",
        path.display(),
        id.dataset,
        id.dataset_fingerprint
    );
    let problem = prepare_with_progress(&ds, &cfg)?;
    println!(
        "resuming {} after epoch {} of {} (dataset {}, backend {})",
        dir.display(),
        c.state.epoch,
        cfg.train.epochs,
        id.dataset,
        c.state.backend
    );
    let plan = CheckpointPlan {
        path: output.checkpoint_path(checkpoint::FILE_NAME)?,
        every: id.checkpoint_every,
        identity: id.clone(),
    };
    let choice = id.backend_choice;
    let persistence = Persistence { checkpoint: Some(plan), resume: Some(c.state) };
    let mode = ProgressMode::detect();
    // The targets of the interrupted command are not recorded: the default target only.
    train_and_write(&problem, &cfg, choice, EventLog::new(), mode, Some(output), persistence, None, &[])
}

/// A directory given to `--dataset` is recorded as an absolute path, so `resume` finds it from
/// any working directory; names and generator specs are kept as given.
fn dataset_for_resume(dataset: &str) -> String {
    let path = Path::new(dataset);
    match path.is_dir().then(|| std::fs::canonicalize(path)) {
        Some(Ok(abs)) => abs.to_string_lossy().into_owned(),
        _ => dataset.to_string(),
    }
}

/// Trains, prints the outcome and writes the trace file and the output folder (when there are).
#[allow(clippy::too_many_arguments)]
fn train_and_write(
    problem: &Problem,
    cfg: &RunConfig,
    backend: BackendChoice,
    log: EventLog,
    mode: ProgressMode,
    output: Option<OutputDir>,
    persistence: Persistence,
    trace: Option<TraceFile>,
    targets: &[f64],
) -> anyhow::Result<()> {
    let progress = EpochProgress::new(mode, cfg.train.epochs as u64, "train");
    let mut on_epoch = |r: &sim::EpochRecord| progress.epoch(r);
    let task = TrainTask { problem, config: cfg, log, on_epoch: &mut on_epoch, persistence };
    let run = with_backend(backend, task)?;
    progress.finish();
    // The task, and with it the trace's writer, is flushed and gone.
    let trace = trace.map(TraceFile::finish).transpose()?;
    print_outcome(problem, cfg, &run);
    let reached = time_to_accuracy(cfg, &run, targets);
    print_time(&run.outcome, &reached);
    if let Some(output) = output {
        write_run_dir(output.staging(), problem, cfg, &run, &reached)?;
        let dir = output.commit()?;
        println!("wrote {}", dir.display());
    }
    if let Some(trace) = trace {
        println!("wrote {}", trace.display());
    }
    Ok(())
}

/// The model and the settings it trains with (its preset where no flag was given).
fn settings_line(cfg: &RunConfig) -> String {
    let t = &cfg.train;
    let stop = match (t.patience, t.early_stopping) {
        (Some(p), _) => format!(" (patience {p})"),
        (None, Some(w)) => format!(" (early stopping {w})"),
        (None, None) => String::new(),
    };
    format!(
        "model {} | epochs {}{stop} | hidden {} | layers {} | lr {} | dropout {} | weight decay {} | optimizer {}",
        t.model, t.epochs, t.hidden, t.layers, t.lr, t.dropout, t.weight_decay, t.optimizer
    )
}

fn print_outcome(problem: &Problem, cfg: &RunConfig, run: &TrainedRun) {
    let o = &run.outcome;
    let chance = 1.0 / problem.shape.classes as f64;
    println!(
        "dataset {} | backend {} | partitions {} | seed {}",
        problem.name, run.backend, cfg.parallel.partitions, cfg.train.seed
    );
    println!(
        "epochs {}{} | final train loss {:.4} | valid acc {:.4} | test acc {:.4} (chance {:.4})",
        o.epochs_run,
        if o.stopped_early { " (early stop)" } else { "" },
        o.final_train_loss,
        o.final_valid_acc,
        o.final_test_acc,
        chance
    );
    println!(
        "best valid acc {:.4} at epoch {} | test acc there {:.4}",
        o.best_valid_acc, o.best_valid_epoch, o.test_acc_at_best_valid
    );
    println!("{:.2} ms/epoch | peak device memory {:.2} MiB", o.mean_epoch_ms, o.peak_bytes as f64 / (1 << 20) as f64);
    if let Some(s) = &o.streaming {
        println!(
            "streamed: {} evictions, {} restores | {:.1} MiB to host, {:.1} MiB to device | {} ring drains",
            s.evictions,
            s.restores,
            s.bytes_to_host as f64 / (1 << 20) as f64,
            s.bytes_to_device as f64 / (1 << 20) as f64,
            s.ring_drains
        );
    }
    let g = &o.gradients;
    println!(
        "simulated {:.6} s ({:.3} ms per round) | gradients: {} applied, {} discarded, mean staleness {:.2}",
        o.sim_time_s,
        o.sim_seconds_per_round * 1e3,
        g.applied,
        g.discarded,
        g.mean_staleness
    );
    if let Some(r) = &o.robust {
        let workers: Vec<String> = r.byzantine_workers.iter().map(|w| w.to_string()).collect();
        let share = |v: Option<f64>| v.map_or("n/a (the rule drops no rows)".to_string(), |v| format!("{v:.3}"));
        println!(
            "byzantine workers [{}] | detection precision {} recall {} | mean byzantine weight {:.4}",
            workers.join(", "),
            share(r.detection_precision),
            share(r.detection_recall),
            r.mean_byzantine_weight
        );
    }
    for f in &o.failures {
        let detected =
            f.detected_s.map_or("not detected (back first)".to_string(), |d| format!("declared dead at {d:.6} s"));
        println!("worker {} failed at {:.6} s: {detected}", f.worker, f.failed_s);
    }
}

/// `metrics.csv` (deterministic), `comm.csv` (boundary traffic per layer and direction),
/// `timing.csv` (wall clock), `events.csv`, `workers.csv` (every worker interval of the simulated
/// cluster), `gradients.csv` (every gradient's fate), `summary.json`; with Byzantine workers or a robust rule
/// also `selection.csv` (each worker's weight in each round's aggregate); with embeddings also
/// `embeddings.csv` (each round's rows pulled, pushed, updated and pruned); with sharded servers
/// also `shards.csv` (each shard's bytes in and out per round; their imbalance is a column of
/// `metrics.csv`).
pub fn write_run_dir(
    dir: &Path,
    problem: &Problem,
    cfg: &RunConfig,
    run: &TrainedRun,
    reached: &TimeToAccuracy,
) -> Result<(), ReportError> {
    let metrics: Vec<MetricsRow> = run.records.iter().map(MetricsRow::from).collect();
    let timing: Vec<TimingRow> = run.records.iter().map(TimingRow::from).collect();
    let events: Vec<EventRow> = run.events.iter().map(EventRow::from).collect();
    let comm: Vec<CommRow> = run.records.iter().flat_map(CommRow::of).collect();
    write_csv_atomic_without(&dir.join("metrics.csv"), &metrics, metrics_columns_left_out([cfg]))?;
    write_csv_atomic(&dir.join("comm.csv"), &comm)?;
    write_csv_atomic(&dir.join("timing.csv"), &timing)?;
    write_csv_atomic(&dir.join("events.csv"), &events)?;
    write_csv_atomic(&dir.join("workers.csv"), &run.outcome.trace.sorted_intervals())?;
    write_csv_atomic(&dir.join("gradients.csv"), &run.outcome.trace.gradients)?;
    if let Some(robust) = &run.outcome.robust {
        let rows: Vec<SelectionRow> =
            run.records.iter().flat_map(|r| SelectionRow::of(r, &robust.byzantine_workers)).collect();
        write_csv_atomic(&dir.join("selection.csv"), &rows)?;
    }
    if cfg.train.embedding_dim > 0 {
        let rows: Vec<EmbeddingRow> = run.records.iter().filter_map(EmbeddingRow::of).collect();
        write_csv_atomic(&dir.join("embeddings.csv"), &rows)?;
    }
    if cfg.cluster.servers > 1 {
        let rows: Vec<ShardRow> = run.records.iter().flat_map(ShardRow::of).collect();
        write_csv_atomic(&dir.join("shards.csv"), &rows)?;
    }
    write_json_atomic(&dir.join("summary.json"), &summary(problem, cfg, run, reached.clone()))
}

pub fn summary(problem: &Problem, cfg: &RunConfig, run: &TrainedRun, reached: TimeToAccuracy) -> RunSummary {
    let nodes: usize = problem.partitions.iter().map(|p| p.owned).sum();
    RunSummary {
        gcnsim_version: env!("CARGO_PKG_VERSION"),
        dataset: problem.name.clone(),
        dataset_fingerprint: problem.dataset_fingerprint.clone(),
        backend: run.backend.clone(),
        config: cfg.clone(),
        seed: cfg.train.seed,
        features_row_normalized: problem.row_normalized,
        parameters: problem.shape.parameter_count(),
        outcome: run.outcome.clone(),
        partitioning: local::summarize(&problem.partitions, nodes, problem.undirected_edges),
        partitions: problem.partitions.clone(),
        time_to_accuracy: reached,
    }
}

/// The run's time to accuracy. A serial run is its own reference for the default target; a
/// partitioned `train` has no serial run to refer to (`gcnsim run` pairs them), so no default.
fn time_to_accuracy(cfg: &RunConfig, run: &TrainedRun, targets: &[f64]) -> TimeToAccuracy {
    let curve: Vec<CurvePoint> = run.records.iter().map(CurvePoint::of).collect();
    let serial_best = (cfg.parallel.partitions == 1).then_some(run.outcome.best_valid_acc);
    TimeToAccuracy::of(&curve, serial_best, targets)
}

/// Normalizes, partitions and lays out the graph, with progress on a graph of a million nodes or
/// more (METIS alone takes minutes there).
fn prepare_with_progress(ds: &crate::data::Dataset, cfg: &RunConfig) -> anyhow::Result<Problem> {
    let large = ds.num_nodes() >= 1_000_000;
    let what = format!("partitioning {} nodes into {} parts", ds.num_nodes(), cfg.parallel.partitions);
    crate::report::progress::stage(ProgressMode::detect(), large, &what, || sim::prepare(ds, cfg))
        .context("preparing the problem")
}

/// The time to each target, and what a simulated round is made of.
fn print_time(o: &crate::sim::RunOutcome, reached: &TimeToAccuracy) {
    let line = |what: String, r: &Reached| match (r.epoch, r.time_s) {
        (Some(e), Some(t)) => println!("{what}: epoch {e}, simulated {t:.6} s"),
        _ => println!("{what}: not reached in {} epochs", o.epochs_run),
    };
    match &reached.default {
        Some(r) => line(format!("time to 97% of best valid acc ({:.4})", r.target), r),
        None => println!(
            "time to the default target: needs a serial run of the same seed (`gcnsim run` pairs them); --target-acc \
             sets targets"
        ),
    }
    for r in &reached.targets {
        line(format!("time to valid acc {}", r.target), r);
    }
    let b = &o.time_breakdown;
    let parts: Vec<String> = b.states().iter().map(|(name, s)| format!("{name} {:.4}", s * 1e3)).collect();
    println!("a round, ms per worker: {} (sum {:.4})", parts.join(" | "), b.total() * 1e3);
}
