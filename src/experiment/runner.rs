//! Runs every configuration of an experiment on one backend and writes its results folder.
//!
//! Files are staged in a hidden sibling folder marked incomplete and swapped into place when
//! every run finished and every file is written, so an interrupted experiment never leaves a
//! half-written results folder (the staging folder says `INCOMPLETE`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::MultiProgress;

use super::Experiment;
use crate::app::backend::{with_backend, BackendTask};
use crate::app::train::TrainTask;
use crate::backend::Backend;
use crate::cli::BackendChoice;
use crate::data::Dataset;
use crate::graph::halo;
use crate::report::metrics::MetricsRow;
use crate::report::rows::{LongMetricsRow, RunRow};
use crate::report::{atomic::write_json_atomic, progress, write_atomic, write_csv_atomic};
use crate::sim;

/// What an experiment wrote.
pub struct ExperimentOutput {
    pub dir: PathBuf,
    pub runs: Vec<RunRow>,
    pub backend: String,
}

#[derive(serde::Serialize)]
struct EnvInfo {
    gcnsim_version: &'static str,
    git_commit: Option<String>,
    backend: String,
    os: &'static str,
    arch: &'static str,
    cpus: usize,
    dataset: String,
    seeds: Vec<u64>,
    runs: usize,
}

struct ExperimentTask<'a> {
    exp: &'a Experiment,
    ds: &'a Dataset,
    show_progress: bool,
}

impl BackendTask for ExperimentTask<'_> {
    type Output = (String, Vec<RunRow>, Vec<LongMetricsRow>);

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<Self::Output> {
        let multi = MultiProgress::new();
        if !self.show_progress {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let overall = multi.add(progress::runs_bar(self.exp.runs.len() as u64));
        let (mut runs, mut metrics) = (Vec::new(), Vec::new());
        for spec in &self.exp.runs {
            overall.set_message(spec.run_id.clone());
            let bar = multi.add(progress::epoch_bar(spec.config.train.epochs as u64, &spec.run_id));
            let problem = sim::prepare(self.ds, &spec.config).with_context(|| format!("run {}", spec.run_id))?;
            let trained = TrainTask { problem: &problem, config: &spec.config, trace: false, bar: Some(&bar) }
                .run(b)
                .with_context(|| format!("run {}", spec.run_id))?;
            bar.finish_and_clear();
            multi.remove(&bar);
            let summary = halo::summarize(&problem.partitions, self.ds.num_nodes(), self.ds.num_undirected_edges());
            let (c, o) = (&spec.config, &trained.outcome);
            let name = |v: String| v.to_lowercase();
            let row = RunRow {
                run_id: spec.run_id.clone(),
                label: spec.label.clone(),
                seed: c.train.seed,
                partitions: c.parallel.partitions,
                partitioner: name(format!("{:?}", c.parallel.partitioner)),
                boundary: name(format!("{:?}", c.parallel.boundary)),
                aggregate: name(format!("{:?}", c.parallel.aggregate)),
                reduce: name(format!("{:?}", c.parallel.reduce)),
                keep_versions: c.parallel.keep_versions,
                optimizer: name(format!("{:?}", c.train.optimizer)),
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
                ms_per_epoch: o.mean_epoch_ms,
            };
            metrics.extend(trained.records.iter().map(|r| LongMetricsRow::new(&row, &MetricsRow::from(r))));
            runs.push(row);
            overall.inc(1);
        }
        overall.finish_and_clear();
        Ok((b.describe(), runs, metrics))
    }
}

/// Runs `exp` and writes `out` (replacing an earlier results folder of the same name).
pub fn run_experiment(
    exp: &Experiment,
    out: &Path,
    backend: Option<BackendChoice>,
    show_progress: bool,
) -> anyhow::Result<ExperimentOutput> {
    let spec: crate::data::DatasetSpec = exp.dataset.parse()?;
    let ds = spec.load().with_context(|| format!("loading dataset `{}`", exp.dataset))?;
    for run in &exp.runs {
        run.config
            .validate_for(ds.num_nodes())
            .with_context(|| format!("experiment {}, run {}", exp.name, run.run_id))?;
    }
    let stage = staging_dir(out);
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    write_atomic(&stage.join("INCOMPLETE"), |w| {
        writeln!(
            w,
            "experiment {} is running or was interrupted; results appear in {} when it completes",
            exp.name,
            out.display()
        )
    })?;

    let (backend_name, runs, metrics) =
        with_backend(backend.unwrap_or(exp.backend), ExperimentTask { exp, ds: &ds, show_progress })?;

    write_results(&stage, exp, &backend_name, &runs, &metrics)?;
    fs::remove_file(stage.join("INCOMPLETE")).context("clearing the INCOMPLETE marker")?;
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    fs::rename(&stage, out).with_context(|| format!("moving results into {}", out.display()))?;
    Ok(ExperimentOutput { dir: out.to_path_buf(), runs, backend: backend_name })
}

fn write_results(
    dir: &Path,
    exp: &Experiment,
    backend: &str,
    runs: &[RunRow],
    metrics: &[LongMetricsRow],
) -> anyhow::Result<()> {
    let resolved = toml::to_string_pretty(exp).context("serializing the resolved experiment")?;
    write_atomic(&dir.join("experiment.resolved.toml"), |w| w.write_all(resolved.as_bytes()))?;
    write_csv_atomic(&dir.join("runs.csv"), runs)?;
    write_csv_atomic(&dir.join("metrics.csv"), metrics)?;
    let env = EnvInfo {
        gcnsim_version: env!("CARGO_PKG_VERSION"),
        git_commit: git_commit(),
        backend: backend.to_string(),
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        dataset: exp.dataset.clone(),
        seeds: exp.seeds(),
        runs: runs.len(),
    };
    write_json_atomic(&dir.join("env.json"), &env)?;
    crate::report::plots::draw_all_titled(dir, &exp.name, runs, metrics)?;
    Ok(())
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `parent/.NAME.incomplete`: hidden beside the final folder, so the final rename stays on one
/// file system.
pub fn staging_dir(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "results".into());
    out.with_file_name(format!(".{name}.incomplete"))
}
