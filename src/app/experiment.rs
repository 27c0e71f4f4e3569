//! `gcnsim run`: an experiment file to a results folder.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{PlotArgs, RunArgs};
use crate::experiment::{run_experiment, Experiment};
use crate::report::plots;

pub fn run_command(args: &RunArgs) -> anyhow::Result<()> {
    let exp = Experiment::load(&args.experiment)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    println!("experiment {}: {} runs on {}", exp.name, exp.runs.len(), exp.dataset);
    let started = std::time::Instant::now();
    let output = run_experiment(&exp, &out, args.backend, true)
        .with_context(|| format!("experiment {}", args.experiment.display()))?;
    println!("{:<32} {:>8} {:>10} {:>10}", "run", "epochs", "test acc", "ms/epoch");
    for r in &output.runs {
        println!("{:<32} {:>8} {:>10.4} {:>10.2}", r.run_id, r.epochs_run, r.final_test_acc, r.ms_per_epoch);
    }
    println!("backend {} | {:.1} s | wrote {}", output.backend, started.elapsed().as_secs_f64(), output.dir.display());
    Ok(())
}

pub fn plot_command(args: &PlotArgs) -> anyhow::Result<()> {
    let (runs, metrics) = plots::read_results(&args.results)?;
    anyhow::ensure!(!runs.is_empty(), "{}: runs.csv has no runs", args.results.display());
    // Titles name the experiment, as when `run` drew them; the folder name if it can't be read.
    let name = std::fs::read_to_string(args.results.join("experiment.resolved.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string));
    let written = match name {
        Some(name) => plots::draw_all_titled(&args.results, &name, &runs, &metrics)?,
        None => plots::draw_all(&args.results, &runs, &metrics)?,
    };
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}
