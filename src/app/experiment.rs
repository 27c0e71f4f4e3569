//! `gcnsim run` and `gcnsim plot`.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{PlotArgs, RunArgs};
use crate::experiment::{run_experiment, Experiment};
use crate::report::output::lock::DirLock;
use crate::report::output::{record_written, resolve};
use crate::report::plots;
use crate::report::progress::ProgressMode;

pub fn run_command(args: &RunArgs) -> anyhow::Result<()> {
    let exp = Experiment::load(&args.experiment)?;
    for note in &exp.notes {
        eprintln!("note: {}: {note}", args.experiment.display());
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    println!("experiment {}: {} runs on {}", exp.name, exp.runs.len(), exp.dataset);
    let started = std::time::Instant::now();
    let output = run_experiment(&exp, &out, args.backend, ProgressMode::detect())
        .with_context(|| format!("experiment {}", args.experiment.display()))?;
    println!("{:<40} {:>8} {:>10} {:>10}", "run", "epochs", "test acc", "ms/epoch");
    for (r, t) in output.runs.iter().zip(&output.timings) {
        println!("{:<40} {:>8} {:>10.4} {:>10.2}", r.run_id, r.epochs_run, r.final_test_acc, t.ms_per_epoch);
    }
    println!("backend {} | {:.1} s | wrote {}", output.backend, started.elapsed().as_secs_f64(), output.dir.display());
    Ok(())
}

pub fn plot_command(args: &PlotArgs) -> anyhow::Result<()> {
    // One path, locked: no `run` or `train --out` swaps the folder while its figures are drawn.
    let dir = resolve(&args.results)?;
    anyhow::ensure!(dir.is_dir(), "{}: there is no such folder", args.results.display());
    let _lock = DirLock::acquire(&dir)?;
    let written = plots::redraw(&dir)?;
    record_written(&dir, &written)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}
