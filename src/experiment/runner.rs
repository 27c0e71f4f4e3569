//! Runs every configuration of an experiment on one backend and writes its results folder.
//!
//! Files are written into a staging folder and swapped into place when every run finished and
//! every file is written ([`OutputDir`]), so an interrupted or failed experiment never leaves a
//! half-written results folder and never touches anything but an earlier gcnsim output.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::Experiment;
use crate::backend::{with_backend, Backend, BackendChoice, BackendTask};
use crate::data::Dataset;
use crate::graph::local;
use crate::ps::EventLog;
use crate::report::metrics::{CommRow, MetricsRow};
use crate::report::output::{OutputDir, OutputKind};
use crate::report::progress::{ProgressMode, RunsProgress};
use crate::report::provenance::SourceState;
use crate::report::rows::{LongCommRow, LongGradientRow, LongMetricsRow, LongWorkerRow, RunRow, RunTimingRow};
use crate::report::{atomic::write_json_atomic, write_atomic, write_csv_atomic};
use crate::sim::{self, TrainTask};

/// What an experiment wrote.
pub struct ExperimentOutput {
    pub dir: PathBuf,
    pub runs: Vec<RunRow>,
    pub timings: Vec<RunTimingRow>,
    pub backend: String,
}

/// `env.json`: what made the results. Nothing here changes when the same commit re-runs the
/// experiment on the same kind of machine, so a re-run leaves it byte-identical; wall-clock
/// figures live in `timing.csv`.
#[derive(serde::Serialize)]
struct EnvInfo {
    gcnsim_version: &'static str,
    /// The last commit that changed gcnsim's sources or experiment files.
    source_commit: Option<String>,
    /// Whether those files had uncommitted changes when the experiment ran.
    source_dirty: Option<bool>,
    backend: String,
    os: &'static str,
    arch: &'static str,
    dataset: String,
    /// Sizes and checksum of the loaded data (see `Dataset::fingerprint`): the exact data the
    /// results came from, whatever folder or name `dataset` resolved to.
    dataset_fingerprint: String,
    seeds: Vec<u64>,
    runs: usize,
}

struct ExperimentTask<'a> {
    exp: &'a Experiment,
    ds: &'a Dataset,
    progress: ProgressMode,
}

struct TaskOutput {
    backend: String,
    runs: Vec<RunRow>,
    metrics: Vec<LongMetricsRow>,
    comm: Vec<LongCommRow>,
    workers: Vec<LongWorkerRow>,
    gradients: Vec<LongGradientRow>,
    timings: Vec<RunTimingRow>,
}

impl BackendTask for ExperimentTask<'_> {
    type Output = TaskOutput;

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<TaskOutput> {
        let progress = RunsProgress::new(self.progress, self.exp.runs.len() as u64);
        let (mut runs, mut metrics, mut comm, mut timings) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut workers, mut gradients) = (Vec::new(), Vec::new());
        for spec in &self.exp.runs {
            let started = Instant::now();
            let epochs = progress.start_run(&spec.run_id, spec.config.train.epochs as u64);
            let problem = sim::prepare(self.ds, &spec.config).with_context(|| format!("run {}", spec.run_id))?;
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
            let summary = local::summarize(&problem.partitions, self.ds.num_nodes(), self.ds.num_undirected_edges());
            let o = &trained.outcome;
            let rows: Vec<MetricsRow> = trained.records.iter().map(MetricsRow::from).collect();
            let row = RunRow::new(&spec.run_id, &spec.label, &spec.config, o, &summary, &rows);
            metrics.extend(rows.iter().map(|m| LongMetricsRow::new(&row, m)));
            comm.extend(trained.records.iter().flat_map(CommRow::of).map(|c| LongCommRow {
                run_id: spec.run_id.clone(),
                epoch: c.epoch,
                layer: c.layer,
                direction: c.direction,
                bytes: c.bytes,
            }));
            workers.extend(o.trace.sorted_intervals().iter().map(|w| LongWorkerRow::new(&spec.run_id, w)));
            gradients.extend(o.trace.gradients.iter().map(|g| LongGradientRow::new(&spec.run_id, g)));
            let timing = RunTimingRow {
                run_id: spec.run_id.clone(),
                ms_per_epoch: o.mean_epoch_ms,
                seconds: started.elapsed().as_secs_f64(),
            };
            progress.finish_run(
                epochs,
                &format!(
                    "{}: {} epochs, test acc {:.4}, {:.2} ms/epoch",
                    spec.run_id, o.epochs_run, o.final_test_acc, timing.ms_per_epoch
                ),
            );
            runs.push(row);
            timings.push(timing);
        }
        progress.finish();
        Ok(TaskOutput { backend: crate::backend::label(b), runs, metrics, comm, workers, gradients, timings })
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
    let output = OutputDir::begin(out, OutputKind::Experiment)?;
    let spec: crate::data::DatasetSpec = exp.dataset.parse()?;
    let loading = format!("loading dataset `{}`", exp.dataset);
    let ds = crate::report::progress::stage(progress, spec.looks_large(), &loading, || spec.load())
        .with_context(|| loading.clone())?;
    for run in &exp.runs {
        run.config
            .validate_for(ds.num_nodes())
            .with_context(|| format!("experiment {}, run {}", exp.name, run.run_id))?;
    }
    let out = with_backend(backend.unwrap_or(exp.backend), ExperimentTask { exp, ds: &ds, progress })?;
    write_results(output.staging(), exp, &out, &ds.fingerprint())?;
    let dir = output.commit()?;
    Ok(ExperimentOutput { dir, runs: out.runs, timings: out.timings, backend: out.backend })
}

fn write_results(dir: &Path, exp: &Experiment, out: &TaskOutput, dataset_fingerprint: &str) -> anyhow::Result<()> {
    let (backend, runs, metrics, timings) = (&out.backend, &out.runs, &out.metrics, &out.timings);
    let resolved = toml::to_string_pretty(exp).context("serializing the resolved experiment")?;
    write_atomic(&dir.join("experiment.resolved.toml"), |w| w.write_all(resolved.as_bytes()))?;
    write_csv_atomic(&dir.join("runs.csv"), runs)?;
    let no_metrics = Vec::new();
    let (metrics, traces) = if exp.per_epoch {
        write_csv_atomic(&dir.join("metrics.csv"), metrics)?;
        write_csv_atomic(&dir.join("comm.csv"), &out.comm)?;
        if exp.traces {
            write_csv_atomic(&dir.join("workers.csv"), &out.workers)?;
            write_csv_atomic(&dir.join("gradients.csv"), &out.gradients)?;
            (metrics, crate::report::plots::Traces { workers: &out.workers, gradients: &out.gradients })
        } else {
            (metrics, crate::report::plots::Traces::default())
        }
    } else {
        (&no_metrics, crate::report::plots::Traces::default())
    };
    write_csv_atomic(&dir.join("timing.csv"), timings)?;
    let source = SourceState::of_this_build();
    let env = EnvInfo {
        gcnsim_version: env!("CARGO_PKG_VERSION"),
        source_commit: source.as_ref().map(|s| s.commit.clone()),
        source_dirty: source.as_ref().map(|s| s.dirty),
        backend: backend.to_string(),
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        dataset: exp.dataset.clone(),
        dataset_fingerprint: dataset_fingerprint.to_string(),
        seeds: exp.seeds(),
        runs: runs.len(),
    };
    write_json_atomic(&dir.join("env.json"), &env)?;
    crate::report::plots::draw_all_titled(dir, &exp.name, runs, metrics, traces)?;
    Ok(())
}
