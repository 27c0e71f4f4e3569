//! `gcnsim train`: one run, printed and optionally written to a folder.

use std::path::Path;

use anyhow::Context;
use indicatif::ProgressBar;

use super::backend::{with_backend, BackendTask};
use super::info::load_dataset;
use crate::backend::Backend;
use crate::cli::TrainArgs;
use crate::graph::halo;
use crate::ps::{Event, EventLog};
use crate::report::metrics::{EventRow, MetricsRow, TimingRow};
use crate::report::summary::RunSummary;
use crate::report::{atomic::write_json_atomic, progress, write_csv_atomic, ReportError};
use crate::sim::{self, EpochRecord, Problem, RunConfig, RunOutcome};

/// Everything one run produced.
pub struct TrainedRun {
    pub backend: String,
    pub records: Vec<EpochRecord>,
    pub outcome: RunOutcome,
    pub events: Vec<Event>,
}

/// One training run on the chosen backend.
pub struct TrainTask<'a> {
    pub problem: &'a Problem,
    pub config: &'a RunConfig,
    pub trace: bool,
    pub bar: Option<&'a ProgressBar>,
}

impl BackendTask for TrainTask<'_> {
    type Output = TrainedRun;

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<TrainedRun> {
        let mut log = EventLog::new(self.trace);
        let bar = self.bar;
        let (records, outcome) = sim::run(b, self.problem, self.config, &mut log, &mut |r| {
            if let Some(bar) = bar {
                bar.set_position(r.epoch as u64);
                bar.set_message(format!("loss {:.4} valid {:.3} test {:.3}", r.train_loss, r.valid_acc, r.test_acc));
            }
        })?;
        Ok(TrainedRun { backend: b.describe(), records, outcome, events: log.events().to_vec() })
    }
}

pub fn train_command(args: &TrainArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    cfg.validate().context("invalid options")?;
    let ds = load_dataset(&args.dataset)?;
    let problem = sim::prepare(&ds, &cfg).context("preparing the problem")?;
    let bar = if args.trace { ProgressBar::hidden() } else { progress::epoch_bar(cfg.train.epochs as u64, "train") };
    let run =
        with_backend(args.backend, TrainTask { problem: &problem, config: &cfg, trace: args.trace, bar: Some(&bar) })?;
    bar.finish_and_clear();
    print_outcome(&problem, &cfg, &run);
    if let Some(out) = &args.out {
        write_run_dir(out, &problem, &cfg, &run).with_context(|| format!("writing results to {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
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
}

/// `metrics.csv` (deterministic), `timing.csv` (wall clock), `events.csv`, `summary.json`.
pub fn write_run_dir(dir: &Path, problem: &Problem, cfg: &RunConfig, run: &TrainedRun) -> Result<(), ReportError> {
    let metrics: Vec<MetricsRow> = run.records.iter().map(MetricsRow::from).collect();
    let timing: Vec<TimingRow> = run.records.iter().map(TimingRow::from).collect();
    let events: Vec<EventRow> = run.events.iter().map(EventRow::from).collect();
    write_csv_atomic(&dir.join("metrics.csv"), &metrics)?;
    write_csv_atomic(&dir.join("timing.csv"), &timing)?;
    write_csv_atomic(&dir.join("events.csv"), &events)?;
    write_json_atomic(&dir.join("summary.json"), &summary(problem, cfg, run))
}

pub fn summary(problem: &Problem, cfg: &RunConfig, run: &TrainedRun) -> RunSummary {
    let nodes: usize = problem.partitions.iter().map(|p| p.owned).sum();
    RunSummary {
        gcnsim_version: env!("CARGO_PKG_VERSION"),
        dataset: problem.name.clone(),
        backend: run.backend.clone(),
        config: cfg.clone(),
        seed: cfg.train.seed,
        features_row_normalized: problem.row_normalized,
        parameters: problem.shape.parameter_count(),
        outcome: run.outcome.clone(),
        partitioning: halo::summarize(&problem.partitions, nodes, problem.undirected_edges),
        partitions: problem.partitions.clone(),
    }
}
