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
    let mut exp = Experiment::load(&args.experiment)?;
    if let Some(targets) = &args.target_acc {
        exp.targets = targets.0.clone();
    }
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
    print_table(&output, &exp.targets);
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

/// The summary table: a row per run, named by what differs between the configurations (the
/// complete run ids are in runs.csv), with the time to the default target and to each target.
fn print_table(output: &crate::experiment::runner::ExperimentOutput, targets: &[f64]) {
    let (labels, shared) = short_labels(&output.runs.iter().map(|r| r.label.as_str()).collect::<Vec<_>>());
    if !shared.is_empty() {
        println!("every partitioned run: {}", shared.join(" "));
    }
    let names: Vec<String> = labels.iter().zip(&output.runs).map(|(l, r)| format!("{l} s{}", r.seed)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).clamp(3, 60);
    let mut head =
        format!("{:<width$} {:>6} {:>8} {:>10} {:>14}", "run", "epochs", "test acc", "ms/round", "to default");
    for t in targets {
        head.push_str(&format!(" {:>14}", format!("to {t}")));
    }
    println!("{head} {:>9}", "ms/epoch");
    let reached = |epoch: Option<u32>, time: Option<f64>| match (epoch, time) {
        (Some(e), Some(t)) => format!("{:.2} ms e{e}", t * 1e3),
        _ => "-".to_string(),
    };
    for (i, (r, t)) in output.runs.iter().zip(&output.timings).enumerate() {
        let mut line = format!(
            "{:<width$} {:>6} {:>8.4} {:>10.4} {:>14}",
            names[i],
            r.epochs_run,
            r.final_test_acc,
            r.sim_seconds_per_round * 1e3,
            reached(r.epoch_to_default, r.time_to_default_s)
        );
        for x in output.reached.get(i).into_iter().flatten() {
            line.push_str(&format!(" {:>14}", reached(x.epoch, x.time_s)));
        }
        println!("{line} {:>9.2}", t.ms_per_epoch);
    }
    println!("to default: simulated time and epoch to 97% of the serial run's best validation accuracy (same seed)");
}

/// Each label without the words every partitioned run's label shares (`P=8 exchange metis`
/// among runs that all use P = 8 and metis reads `exchange`), and those words. A label left
/// empty keeps its full text.
fn short_labels(labels: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut partitioned: Vec<&str> = labels.iter().copied().filter(|l| !l.starts_with("serial")).collect();
    partitioned.sort_unstable();
    partitioned.dedup();
    let mut shared: Vec<&str> = match partitioned.as_slice() {
        [] | [_] => Vec::new(),
        [first, ..] => first.split(' ').filter(|w| partitioned.iter().all(|l| l.split(' ').any(|x| x == *w))).collect(),
    };
    // A label made only of shared words would print as nothing.
    if labels.iter().any(|l| l.split(' ').all(|w| shared.contains(&w))) {
        shared.clear();
    }
    let short = labels
        .iter()
        .map(|l| {
            let short: Vec<&str> = l.split(' ').filter(|w| !shared.contains(w)).collect();
            if short.is_empty() {
                l.to_string()
            } else {
                short.join(" ")
            }
        })
        .collect();
    (short, shared.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::short_labels;

    #[test]
    fn short_labels_keep_the_words_that_differ() {
        let labels = ["serial", "P=8 exchange metis bsp", "P=8 drop metis bsp", "P=8 drop metis bsp"];
        let (short, shared) = short_labels(&labels);
        assert_eq!(short, ["serial", "exchange", "drop", "drop"]);
        assert_eq!(shared, ["P=8", "metis", "bsp"]);
        let (short, shared) = short_labels(&["P=2 drop", "P=2 drop", "P=2 drop exact"]);
        assert_eq!(
            (short, shared.len()),
            (vec!["P=2 drop".to_string(), "P=2 drop".into(), "P=2 drop exact".into()], 0)
        );
        assert!(short_labels(&["serial lr=5", "P=2 lr=5"]).1.is_empty(), "one partitioned configuration");
        assert!(short_labels(&[]).0.is_empty());
    }
}
