//! `gcnsim validate`: runs every configuration of one or more experiment files twice, once
//! charged by the device profile's model (on the CPU backend: the charged work is a function of
//! the ops' shapes, the same on every backend) and once by each kernel's measured time on the
//! chosen backend (`--backend`: host time on the CPU, device time on the GPU), and reports how far the model's compute time per round is from the measurement: per
//! configuration and kernel class (`validation.csv`), as a figure, and as the geometric-mean
//! error, the worst error and Kendall's τ of the two orderings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::GpuBackend;
use crate::backend::{Backend, BackendTask, KernelClass};
use crate::cli::{CalibrateBackend, ValidateArgs};
use crate::cost::DeviceProfile;
use crate::experiment::{Experiment, RunSpec};
use crate::ps::EventLog;
use crate::report::atomic::write_atomic;
use crate::report::output::{OutputDir, OutputKind};
use crate::report::plots::{write_validation, ValidationPoint};
use crate::sim::calibrate::agreement::{kendall_tau, worst_error};
use crate::sim::calibrate::geomean_error;
use crate::sim::cluster::ComputeTime;
use crate::sim::metered::OpKey;
use crate::sim::{self, TrainTask};

/// Each op's calls and seconds over the compared rounds, divided by their number: per round.
type PerOp = BTreeMap<OpKey, PerRound>;

/// One op's calls and seconds per round.
#[derive(Clone, Copy, Debug, Default)]
struct PerRound {
    calls: f64,
    seconds: f64,
}

/// How often each configuration's measured run repeats: at least `min` times, more while the
/// measured compute per round summed over the runs is under `enough_seconds`, at most `max`.
/// A configuration whose rounds take seconds runs once; one of a millisecond, `max` times.
struct Repeats {
    min: usize,
    max: usize,
    enough_seconds: f64,
}

const MEASURED_RUNS: Repeats = Repeats { min: 1, max: 5, enough_seconds: 1.0 };

/// One configuration: what it is, and predicted and measured compute per round, op by op.
struct Compared {
    experiment: String,
    spec: RunSpec,
    nodes: usize,
    predicted: PerOp,
    measured: PerOp,
}

impl Compared {
    fn total(per_op: &PerOp) -> f64 {
        per_op.values().map(|t| t.seconds).sum()
    }

    fn class(per_op: &PerOp, class: KernelClass) -> f64 {
        per_op.iter().filter(|((c, _), _)| *c == class).map(|(_, t)| t.seconds).sum()
    }
}

pub fn validate_command(args: &ValidateArgs) -> anyhow::Result<()> {
    let profile: DeviceProfile = args.profile.parse().with_context(|| format!("--profile {}", args.profile))?;
    let mut files = Vec::new();
    for path in &args.experiments {
        if path.is_dir() {
            files.extend(experiment_files(path)?)
        } else {
            files.push(path.clone())
        }
    }
    anyhow::ensure!(!files.is_empty(), "no experiment files in {}", args.experiments[0].display());
    let experiments = files
        .iter()
        .map(|p| Experiment::load(p).with_context(|| format!("experiment {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let output = OutputDir::begin(&args.out, OutputKind::Validation)?;
    let (compared, measured_on) = match args.backend {
        CalibrateBackend::Cpu => compare_all(&experiments, &args.profile, &CpuBackend::new())?,
        CalibrateBackend::Gpu => {
            let gpu = GpuBackend::new().context("--backend gpu")?;
            // Refused before the first run, naming the adapter and the flag.
            gpu.device_timing()
                .map_err(|why| anyhow::anyhow!("--backend gpu: validate measures each kernel, but {why}"))?;
            compare_all(&experiments, &args.profile, &gpu)?
        }
    };
    anyhow::ensure!(!compared.is_empty(), "the experiments have no runs to validate");
    let summary = write_outputs(output.staging(), &compared, &profile, &measured_on)?;
    let dir = output.commit()?;
    println!("{summary}");
    println!("wrote {}", dir.display());
    Ok(())
}

/// Every experiment's configurations, measured on `measure`; and what `measure` is.
fn compare_all<B: Backend>(
    experiments: &[Experiment],
    profile: &str,
    measure: &B,
) -> anyhow::Result<(Vec<Compared>, String)> {
    eprintln!("measuring on {}", measure.describe());
    let mut compared = Vec::new();
    for exp in experiments {
        compared.extend(compare_experiment(exp, profile, measure)?);
    }
    Ok((compared, measure.describe()))
}

fn compare_experiment<B: Backend>(exp: &Experiment, profile: &str, measure: &B) -> anyhow::Result<Vec<Compared>> {
    let spec: crate::data::DatasetSpec = exp.dataset.parse()?;
    let ds = spec.load().with_context(|| format!("loading dataset `{}`", exp.dataset))?;
    let per_round = |run: &RunSpec, compute_time: ComputeTime| -> anyhow::Result<PerOp> {
        let mut config = run.config.clone();
        config.cluster.compute_time = compute_time;
        if compute_time == ComputeTime::Model {
            config.cluster.device_profile = profile.to_string();
        }
        let problem = sim::prepare(&ds, &config).with_context(|| format!("run {}", run.run_id))?;
        let task = TrainTask {
            problem: &problem,
            config: &config,
            log: EventLog::new(),
            on_epoch: &mut |_| {},
            persistence: Default::default(),
        };
        let trained = match compute_time {
            ComputeTime::Measured => task.run(measure),
            ComputeTime::Model => task.run(&CpuBackend::new()),
        }
        .with_context(|| format!("run {}", run.run_id))?;
        let outcome = &trained.outcome;
        // The rounds after the first (cold caches, first touches of fresh buffers) are what
        // a profile predicts; every validation run has at least two.
        anyhow::ensure!(
            outcome.epochs_run >= 2 && !outcome.compute_by_op_after_first_round.is_empty(),
            "run {}: validation needs at least two bulk-synchronous rounds (epochs ≥ 2, \
             consistency bsp, no early stop)",
            run.run_id
        );
        let rounds = (outcome.epochs_run - 1) as f64;
        Ok(outcome
            .compute_by_op_after_first_round
            .iter()
            .map(|(op, t)| (*op, PerRound { calls: t.calls as f64 / rounds, seconds: t.seconds / rounds }))
            .collect())
    };

    // One measured run of a few rounds swings by tens of percent on a busy or cold machine (a page
    // fault, another process on the shared cache): cheap configurations are measured again, in
    // later passes over the experiment rather than back to back (a disturbance that lasts a
    // moment then spoils one of a configuration's runs, not all of them), and the run of median
    // total is kept.
    let mut measured: Vec<Vec<PerOp>> = Vec::new();
    for run in &exp.runs {
        measured.push(vec![per_round(run, ComputeTime::Measured)?]);
    }
    for _pass in 1..MEASURED_RUNS.max {
        for (run, runs) in exp.runs.iter().zip(&mut measured) {
            if runs.len() < MEASURED_RUNS.min
                || runs.iter().map(Compared::total).sum::<f64>() < MEASURED_RUNS.enough_seconds
            {
                runs.push(per_round(run, ComputeTime::Measured)?);
            }
        }
    }
    let mut out = Vec::new();
    for (run, mut runs) in exp.runs.iter().zip(measured) {
        runs.sort_by(|a, b| Compared::total(a).total_cmp(&Compared::total(b)));
        let measured = runs.swap_remove(runs.len() / 2);
        let predicted = per_round(run, ComputeTime::Model)?;
        let c =
            Compared { experiment: exp.name.clone(), spec: run.clone(), nodes: ds.num_nodes(), predicted, measured };
        let (p, m) = (Compared::total(&c.predicted), Compared::total(&c.measured));
        eprintln!(
            "{:<40} {:<48} predicted {:>9.3} ms  measured {:>9.3} ms  {:>+6.1}%",
            c.experiment,
            run.run_id,
            p * 1e3,
            m * 1e3,
            (p / m - 1.0) * 100.0
        );
        out.push(c);
    }
    Ok(out)
}

/// Writes validation.csv, the figure and a copy of the profile into `dir`; returns the summary.
/// `measured_on` is the measuring backend's description (adapter and driver on the GPU).
fn write_outputs(
    dir: &Path,
    compared: &[Compared],
    profile: &DeviceProfile,
    measured_on: &str,
) -> anyhow::Result<String> {
    let mut csv = String::from(
        "experiment,run_id,label,model,nodes,partitions,boundary,hidden,epochs,predicted_s_per_round,\
         measured_s_per_round,error",
    );
    for class in KernelClass::ALL {
        csv.push_str(&format!(",predicted_{class}_s,measured_{class}_s"));
    }
    csv.push_str(",measured_on\n");
    // Quoted: an adapter's description has commas.
    let measured_on_cell = format!("\"{}\"", measured_on.replace('"', "\"\""));
    let mut points = Vec::new();
    for c in compared {
        let (p, m) = (Compared::total(&c.predicted), Compared::total(&c.measured));
        let cfg = &c.spec.config;
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{p},{m},{}",
            c.experiment,
            c.spec.run_id,
            c.spec.label,
            cfg.train.model,
            c.nodes,
            cfg.parallel.partitions,
            format!("{:?}", cfg.parallel.boundary).to_lowercase(),
            cfg.train.hidden,
            cfg.train.epochs,
            p / m - 1.0
        ));
        for class in KernelClass::ALL {
            csv.push_str(&format!(",{},{}", Compared::class(&c.predicted, class), Compared::class(&c.measured, class)));
        }
        csv.push_str(&format!(",{measured_on_cell}\n"));
        points.push(ValidationPoint { group: cfg.train.model.to_string(), predicted_s: p, measured_s: m });
    }
    write_atomic(&dir.join("validation.csv"), |w| w.write_all(csv.as_bytes()))?;
    write_atomic(&dir.join("kernels.csv"), |w| w.write_all(kernels_csv(compared).as_bytes()))?;
    let pairs: Vec<(f64, f64)> = points.iter().map(|p| (p.predicted_s, p.measured_s)).collect();
    let (predicted, measured): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    let tau = kendall_tau(&predicted, &measured);
    let summary = format!(
        "{} configurations on profile {}, measured on {measured_on}: geometric-mean error {:.1}%, worst {:.1}%, \
         Kendall τ {}",
        pairs.len(),
        profile.name,
        geomean_error(pairs.iter().copied()) * 100.0,
        worst_error(pairs.iter().copied()) * 100.0,
        tau.map_or("undefined (fewer than two distinct values)".to_string(), |t| format!("{t:.3}"))
    );
    let title = format!("compute time per round on {}: predicted against measured", profile.name);
    write_validation(dir, &title, &points)?;
    let profile_text = profile.to_file_text();
    write_atomic(&dir.join("profile.toml"), |w| w.write_all(profile_text.as_bytes()))?;
    let summary = format!("{summary}\n\n{}", op_table(compared));
    write_atomic(&dir.join("summary.txt"), |w| writeln!(w, "{summary}"))?;
    Ok(summary)
}

/// `kernels.csv`: every configuration's ops, with calls, predicted and measured seconds per round.
fn kernels_csv(compared: &[Compared]) -> String {
    let mut csv =
        String::from("experiment,run_id,class,op,calls_per_round,predicted_s_per_round,measured_s_per_round\n");
    for c in compared {
        for (key, m) in &c.measured {
            let p = c.predicted.get(key).map_or(0.0, |t| t.seconds);
            csv.push_str(&format!(
                "{},{},{},{},{},{p},{}\n",
                c.experiment, c.spec.run_id, key.0, key.1, m.calls, m.seconds
            ));
        }
    }
    csv
}

/// Each op over every configuration: its share of the measured time, and the geometric mean,
/// lowest and highest of predicted / measured across configurations. Which kernels a profile
/// misses, and how.
fn op_table(compared: &[Compared]) -> String {
    let measured_total: f64 = compared.iter().map(|c| Compared::total(&c.measured)).sum();
    let mut ratios: BTreeMap<OpKey, (f64, Vec<f64>)> = BTreeMap::new();
    for c in compared {
        for (key, m) in &c.measured {
            let p = c.predicted.get(key).map_or(0.0, |t| t.seconds);
            let entry = ratios.entry(*key).or_default();
            entry.0 += m.seconds;
            if p > 0.0 && m.seconds > 0.0 {
                entry.1.push(p / m.seconds);
            }
        }
    }
    let mut table =
        format!("{:<12} {:<34} {:>7} {:>9} {:>7} {:>7}\n", "class", "op", "share", "pred/meas", "lowest", "highest");
    for ((class, op), (seconds, r)) in &ratios {
        let geomean = (r.iter().map(|x| x.ln()).sum::<f64>() / r.len().max(1) as f64).exp();
        let (lo, hi) = r.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        table.push_str(&format!(
            "{:<12} {:<34} {:>6.1}% {:>9.2} {:>7.2} {:>7.2}\n",
            class.name(),
            op,
            100.0 * seconds / measured_total,
            geomean,
            lo,
            hi
        ));
    }
    table
}

/// The experiment files (`*.toml`) of `dir`, sorted.
fn experiment_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
