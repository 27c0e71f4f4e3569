//! Runs the configurations of an experiment (all, or one shard's) and writes its results folder.
//!
//! Files are written into a staging folder and swapped into place when every run finished and
//! every file is written ([`OutputDir`]), so an interrupted or failed experiment never leaves a
//! half-written results folder and never touches anything but an earlier gcnsim output. Each
//! finished run is kept in the sweep's folder meanwhile ([`Sweep`]), so the same command started
//! again after a kill runs only the runs that had not finished.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;

use super::jobs::Queue;
use super::results::{run_rows, write_results, write_shard, CURVE_FILE};
use super::shard::Shard;
use super::stored::{csv_text, csv_text_without, Identity, StoredRun, Sweep};
use super::{Experiment, RunSpec};
use crate::backend::{resolve, with_backend, Backend, BackendChoice, BackendTask};
use crate::data::Dataset;
use crate::graph::local;
use crate::ps::EventLog;
use crate::report::metrics::{metrics_columns_left_out, CommRow, MetricsRow};
use crate::report::output::{OutputDir, OutputKind};
use crate::report::progress::{ProgressMode, RunsProgress};
use crate::report::rows::{LongCommRow, LongGradientRow, LongMetricsRow, LongWorkerRow, RunRow, RunTimingRow};
use crate::report::targets::{CurvePoint, Reached};
use crate::sim::{self, TrainTask};

/// What an experiment (or a shard of it) wrote.
pub struct ExperimentOutput {
    pub dir: PathBuf,
    pub runs: Vec<RunRow>,
    /// Per run, when it reached each of the experiment's `targets`.
    pub reached: Vec<Vec<Reached>>,
    pub timings: Vec<RunTimingRow>,
    pub backend: String,
    /// Runs executed by this process; the others had finished before it started.
    pub executed: usize,
}

/// How `gcnsim run` runs an experiment.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The backend for every run; `None`: the experiment's.
    pub backend: Option<BackendChoice>,
    pub progress: ProgressMode,
    /// Runs at once; `None`: the cores over each run's threads (the GPU backend: 1).
    pub jobs: Option<usize>,
    /// `--threads` where given: each run's CPU threads.
    pub threads: Option<usize>,
    /// Only this shard's runs, written as a shard folder for `gcnsim merge`.
    pub shard: Option<Shard>,
    /// Discard the runs an interrupted sweep into the same folder finished.
    pub restart: bool,
    /// Write `report.html` into the results folder, last (not into a shard folder).
    pub report: bool,
}

impl RunOptions {
    /// One run at a time, all runs, as before `--jobs` and `--shard`.
    pub fn new(backend: Option<BackendChoice>, progress: ProgressMode) -> Self {
        Self { backend, progress, jobs: Some(1), threads: None, shard: None, restart: false, report: true }
    }
}

/// Runs `exp` and writes `out`, replacing an earlier results folder there only if gcnsim wrote it
/// (see [`OutputDir`]). The destination is checked before the dataset is even loaded.
pub fn run_experiment(
    exp: &Experiment,
    out: &Path,
    backend: Option<BackendChoice>,
    progress: ProgressMode,
) -> anyhow::Result<ExperimentOutput> {
    run_sweep(exp, out, &RunOptions::new(backend, progress))
}

/// [`run_experiment`] with `--jobs`, `--shard` and `--restart`.
pub fn run_sweep(exp: &Experiment, out: &Path, opts: &RunOptions) -> anyhow::Result<ExperimentOutput> {
    let kind = if opts.shard.is_some() { OutputKind::Shard } else { OutputKind::Experiment };
    let output = OutputDir::begin(out, kind)?;
    let spec: crate::data::DatasetSpec = exp.dataset.parse()?;
    let loading = format!("loading dataset `{}`", exp.dataset);
    let ds = crate::report::progress::stage(opts.progress, spec.looks_large(), &loading, || spec.load())
        .with_context(|| loading.clone())?;
    for run in &exp.runs {
        run.config
            .validate_for(ds.num_nodes())
            .with_context(|| format!("experiment {}, run {}", exp.name, run.run_id))?;
    }
    let identity = Identity::new(exp, ds.fingerprint())?;
    let selected: Vec<&RunSpec> = exp.runs.iter().filter(|r| opts.shard.is_none_or(|s| s.holds(r))).collect();
    if let Some(shard) = opts.shard {
        eprintln!("shard {shard}: {} of the {} runs", selected.len(), exp.runs.len());
    }
    let (sweep, kept) = Sweep::open(output.destination(), &identity, opts.restart)?;
    let sweeping = Sweeping { exp, ds: &ds, sweep: &sweep, selected: &selected, opts };
    match sweeping.complete(kept, &identity, output.staging()) {
        Ok((runs, executed)) => {
            let dir = output.commit()?;
            sweep.remove()?;
            let backend = runs.first().map(|r| r.backend.clone()).unwrap_or_default();
            let timings = timings(&runs)?;
            let (runs, reached) = run_rows(&runs, &identity.targets)?;
            Ok(ExperimentOutput { dir, runs, reached, timings, backend, executed })
        }
        Err(e) => {
            // A run that failed fails again (runs are deterministic): nothing is kept.
            let _ = sweep.remove();
            Err(e)
        }
    }
}

/// Each run's `timing.csv` row, for `gcnsim run` to print.
fn timings(runs: &[StoredRun]) -> anyhow::Result<Vec<RunTimingRow>> {
    let mut timings = Vec::new();
    for r in runs {
        let text = r.files.get("timing.csv").map(String::as_str).unwrap_or_default();
        timings.extend(super::results::read_rows::<RunTimingRow>(text)?);
    }
    Ok(timings)
}

/// One sweep in progress.
struct Sweeping<'a> {
    exp: &'a Experiment,
    ds: &'a Dataset,
    sweep: &'a Sweep,
    selected: &'a [&'a RunSpec],
    opts: &'a RunOptions,
}

impl Sweeping<'_> {
    /// Runs what `kept` lacks and writes the results (or the shard) into `staging`; the runs in
    /// order and how many ran now.
    fn complete(
        &self,
        mut kept: HashMap<String, StoredRun>,
        identity: &Identity,
        staging: &Path,
    ) -> anyhow::Result<(Vec<StoredRun>, usize)> {
        kept.retain(|id, _| self.selected.iter().any(|r| &r.run_id == id));
        let pending: Vec<&RunSpec> = self.selected.iter().copied().filter(|r| !kept.contains_key(&r.run_id)).collect();
        if !kept.is_empty() {
            eprintln!(
                "resuming {}: {} of {} runs finished earlier; running the other {} (--restart runs all)",
                self.exp.name,
                kept.len(),
                self.selected.len(),
                pending.len()
            );
        }
        let progress = RunsProgress::new(self.opts.progress, self.selected.len() as u64);
        progress.skip(kept.len() as u64);
        let ran = self.execute(&pending, &progress)?;
        progress.finish();
        let executed = ran.len();
        kept.extend(ran.into_iter().map(|r| (r.run_id.clone(), r)));
        let runs: Vec<StoredRun> = self
            .selected
            .iter()
            .map(|r| kept.remove(&r.run_id).expect("every selected run finished or was kept"))
            .collect();
        match self.opts.shard {
            Some(shard) => write_shard(staging, identity, shard, &runs)?,
            None => write_results(staging, identity, &runs, self.opts.report)?,
        }
        Ok((runs, executed))
    }

    /// Runs `pending`, `--jobs` at a time; each finished run is kept in the sweep folder.
    fn execute(&self, pending: &[&RunSpec], progress: &RunsProgress) -> anyhow::Result<Vec<StoredRun>> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let choice = self.opts.backend.unwrap_or(self.exp.backend);
        let done = Mutex::new(Vec::new());
        if self.opts.jobs == Some(1) {
            let queue = Queue::new(pending, None);
            with_backend(choice, Worker { s: self, queue: &queue, progress, done: &done })?;
            return Ok(done.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
        let choice = resolve(choice);
        let plan = Plan::new(self.opts, choice, pending.len());
        plan.announce(choice);
        let queue = Queue::new(pending, crate::host::available_bytes().map(u128::from));
        let worker = || Worker { s: self, queue: &queue, progress, done: &done };
        match plan.threads {
            // One at a time: on this thread and the process's pool, as without --jobs.
            None => with_backend(choice, worker())?,
            Some(threads) => std::thread::scope(|scope| -> anyhow::Result<()> {
                let handles: Vec<_> = (0..plan.jobs)
                    .map(|_| {
                        scope.spawn(|| {
                            // The main thread's stack size: a run's recursion (METIS) sees the same.
                            rayon::ThreadPoolBuilder::new()
                                .num_threads(threads)
                                .stack_size(8 << 20)
                                .build()
                                .map_err(|e| anyhow::anyhow!("a pool of {threads} threads for a run: {e}"))?
                                .install(|| with_backend(choice, worker()))
                        })
                    })
                    .collect();
                let results: Vec<anyhow::Result<()>> = handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect();
                results.into_iter().collect()
            })?,
        }
        Ok(done.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How many runs at once, with how many CPU threads each.
struct Plan {
    jobs: usize,
    /// Each run's own pool; `None`: the process's pool (`--threads`).
    threads: Option<usize>,
    cores: usize,
}

impl Plan {
    fn new(opts: &RunOptions, choice: BackendChoice, runs: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_run = opts.threads.unwrap_or(cores);
        // One GPU: runs on it compete for the device, so one at a time unless asked.
        let default = if choice == BackendChoice::Cpu { (cores / per_run).max(1) } else { 1 };
        let jobs = opts.jobs.unwrap_or(default).clamp(1, runs.max(1));
        let threads = (jobs > 1).then(|| opts.threads.unwrap_or((cores / jobs).max(1)));
        Plan { jobs, threads, cores }
    }

    fn announce(&self, choice: BackendChoice) {
        let Some(threads) = self.threads else { return };
        if choice == BackendChoice::Cpu {
            eprintln!(
                "running {} runs at a time, {threads} CPU thread{} each, on {} cores",
                self.jobs,
                if threads == 1 { "" } else { "s" },
                self.cores
            );
            if self.jobs * threads > self.cores {
                eprintln!(
                    "warning: {} runs × {threads} threads exceed the {} cores: the runs compete for them (lower \
                     --jobs or --threads)",
                    self.jobs, self.cores
                );
            }
        } else {
            eprintln!("running {} runs at a time, each on a GPU device of its own", self.jobs);
        }
    }
}

/// One job thread's work on its own backend: the queue's runs until it is empty.
struct Worker<'s, 'a> {
    s: &'s Sweeping<'a>,
    queue: &'s Queue<'s>,
    progress: &'s RunsProgress,
    done: &'s Mutex<Vec<StoredRun>>,
}

impl BackendTask for Worker<'_, '_> {
    type Output = ();

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<()> {
        while let Some(spec) = self.queue.next() {
            let stored = self.run_one(b, spec).and_then(|stored| {
                self.s.sweep.store(&stored)?;
                Ok(stored)
            });
            match stored {
                Ok(stored) => self.done.lock().unwrap_or_else(|e| e.into_inner()).push(stored),
                Err(e) => {
                    self.queue.fail();
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Worker<'_, '_> {
    fn run_one<B: Backend>(&self, b: &B, spec: &RunSpec) -> anyhow::Result<StoredRun> {
        let (ds, exp) = (self.s.ds, self.s.exp);
        let started = Instant::now();
        let epochs = self.progress.start_run(&spec.run_id, spec.config.train.epochs as u64);
        let problem = sim::prepare(ds, &spec.config).with_context(|| format!("run {}", spec.run_id))?;
        let admitted = self.queue.admit(sim::driver::estimated_device_bytes::<B>(&problem, &spec.config));
        let mut on_epoch = |r: &sim::EpochRecord| epochs.epoch(r);
        let trained = TrainTask {
            problem: &problem,
            config: &spec.config,
            log: EventLog::new(),
            on_epoch: &mut on_epoch,
            persistence: Default::default(),
        }
        .run(b)
        .with_context(|| format!("run {}", spec.run_id))?;
        let summary = local::summarize(&problem.partitions, ds.num_nodes(), ds.num_undirected_edges());
        let o = &trained.outcome;
        let rows: Vec<MetricsRow> = trained.records.iter().map(MetricsRow::from).collect();
        let row = RunRow::new(&spec.run_id, &spec.label, &spec.config, o, &summary, &rows);
        let mut files = std::collections::BTreeMap::new();
        files.insert("runs.csv".to_string(), csv_text(std::slice::from_ref(&row))?);
        let curve: Vec<CurvePoint> = rows
            .iter()
            .map(|m| CurvePoint { epoch: m.epoch, valid_acc: m.valid_acc, sim_time_s: m.sim_time_s })
            .collect();
        files.insert(CURVE_FILE.to_string(), csv_text(&curve)?);
        if exp.per_epoch {
            let metrics: Vec<LongMetricsRow> = rows.iter().map(|m| LongMetricsRow::new(&row, m)).collect();
            let comm: Vec<LongCommRow> = trained
                .records
                .iter()
                .flat_map(CommRow::of)
                .map(|c| LongCommRow {
                    run_id: spec.run_id.clone(),
                    epoch: c.epoch,
                    layer: c.layer,
                    direction: c.direction,
                    bytes: c.bytes,
                })
                .collect();
            // One experiment, one set of columns: left out only where no run of it compresses.
            let left_out = metrics_columns_left_out(exp.runs.iter().map(|r| &r.config));
            files.insert("metrics.csv".to_string(), csv_text_without(&metrics, left_out)?);
            files.insert("comm.csv".to_string(), csv_text(&comm)?);
            if exp.traces {
                let workers: Vec<LongWorkerRow> =
                    o.trace.sorted_intervals().iter().map(|w| LongWorkerRow::new(&spec.run_id, w)).collect();
                let gradients: Vec<LongGradientRow> =
                    o.trace.gradients.iter().map(|g| LongGradientRow::new(&spec.run_id, g)).collect();
                files.insert("workers.csv".to_string(), csv_text(&workers)?);
                files.insert("gradients.csv".to_string(), csv_text(&gradients)?);
            }
        }
        let timing = RunTimingRow {
            run_id: spec.run_id.clone(),
            ms_per_epoch: o.mean_epoch_ms,
            seconds: (started.elapsed().saturating_sub(admitted.waited)).as_secs_f64(),
        };
        files.insert("timing.csv".to_string(), csv_text(std::slice::from_ref(&timing))?);
        drop(admitted);
        self.progress.finish_run(
            epochs,
            &format!(
                "{}: {} epochs, test acc {:.4}, {:.2} ms/epoch",
                spec.run_id, o.epochs_run, o.final_test_acc, timing.ms_per_epoch
            ),
        );
        Ok(StoredRun { run_id: spec.run_id.clone(), backend: crate::backend::label(b), files })
    }
}
