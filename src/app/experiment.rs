//! `gcnsim run`, `gcnsim merge`, `gcnsim plot` and `gcnsim report`.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{MergeArgs, PlotArgs, ReportArgs, RunArgs};
use crate::experiment::merge::merge_shards;
use crate::experiment::{run_sweep, shard, Experiment, RunOptions};
use crate::report::output::lock::DirLock;
use crate::report::output::{record_written, resolve};
use crate::report::plots;
use crate::report::progress::ProgressMode;

pub fn run_command(args: &RunArgs, threads: Option<usize>) -> anyhow::Result<()> {
    let exp = Experiment::load(&args.experiment)?;
    for note in &exp.notes {
        eprintln!("note: {}: {note}", args.experiment.display());
    }
    let explicit = args.shard.as_deref().map(str::parse).transpose().map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
    let shard = shard::choose(explicit, args.shards, |name| std::env::var(name).ok()).map_err(anyhow::Error::msg)?;
    if let Some((_, Some(from))) = &shard {
        eprintln!("{from}");
    }
    let shard = shard.map(|(s, _)| s);
    let default_out = match shard {
        Some(s) => format!("{}.shard-{}-of-{}", exp.name, s.index, s.count),
        None => exp.name.clone(),
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(default_out));
    println!("experiment {}: {} runs on {}", exp.name, exp.runs.len(), exp.dataset);
    let started = std::time::Instant::now();
    let opts = RunOptions {
        backend: args.backend,
        progress: ProgressMode::detect(),
        jobs: args.jobs.map(|j| j as usize),
        threads,
        shard,
        restart: args.restart,
        report: !args.no_report,
    };
    let output = run_sweep(&exp, &out, &opts).with_context(|| format!("experiment {}", args.experiment.display()))?;
    println!("{:<40} {:>8} {:>10} {:>10}", "run", "epochs", "test acc", "ms/epoch");
    for (r, t) in output.runs.iter().zip(&output.timings) {
        println!("{:<40} {:>8} {:>10.4} {:>10.2}", r.run_id, r.epochs_run, r.final_test_acc, t.ms_per_epoch);
    }
    println!(
        "backend {} | {} runs, {} run now | {:.1} s | wrote {}",
        output.backend,
        output.runs.len(),
        output.executed,
        started.elapsed().as_secs_f64(),
        output.dir.display()
    );
    Ok(())
}

pub fn merge_command(args: &MergeArgs) -> anyhow::Result<()> {
    let (dir, runs) = merge_shards(&args.out, &args.shards, !args.no_report)?;
    println!("merged {runs} runs from {} shards into {}", args.shards.len(), dir.display());
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

pub fn report_command(args: &ReportArgs) -> anyhow::Result<()> {
    let dir = resolve(&args.results)?;
    anyhow::ensure!(dir.is_dir(), "{}: there is no such folder", args.results.display());
    // The default page lies in the folder: locked, and added to its manifest, as `plot` does.
    let _lock = if args.out.is_none() { Some(DirLock::acquire(&dir)?) } else { None };
    let written = crate::report::html::write_report(&dir, args.out.as_deref())?;
    if args.out.is_none() {
        record_written(&dir, std::slice::from_ref(&written))?;
    }
    println!("wrote {}", written.display());
    Ok(())
}
