//! `gcnsim bench`: milliseconds per training epoch by dataset, backend and partition count.
//! Speed targets live here, never in timed tests.

use std::fs;

use anyhow::Context;

use super::info::load_dataset;
use crate::backend::{
    with_backend, with_backend_profiled, Backend, BackendChoice, BackendTask, KernelProfile, MemCategory,
};
use crate::cli::BenchArgs;
use crate::data::Dataset;
use crate::model::{initial_parameters, Operator, Pass, Workspace};
use crate::ps::{EventLog, Optimizer};
use crate::sim::{self, Boundary, RunConfig, TrainTask};

/// The benchmark's large graph: 100k nodes, ~1M undirected edges, 128 dense features.
pub const LARGE_CSBM: &str = "csbm:nodes=100000,avg_degree=20,features=128";

/// One row of `bench.csv`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchRow {
    pub tag: String,
    /// `epoch` (a whole simulated epoch: training, evaluation, the cluster's bookkeeping) or
    /// `step` (`--step`: forward, backward and optimizer step only).
    pub measure: String,
    /// Threads of the CPU backend's pool (the GPU backend's host side uses the same pool).
    pub threads: usize,
    pub dataset: String,
    pub nodes: usize,
    pub edges: usize,
    pub backend: String,
    pub partitions: usize,
    pub boundary: String,
    pub epochs_timed: usize,
    pub ms_per_epoch_median: f64,
    pub ms_per_epoch_mean: f64,
    pub ms_per_epoch_min: f64,
    pub peak_device_mib: f64,
    pub final_test_acc: f64,
}

/// One row of `profile.csv` (`--profile`): a kernel's device time per epoch or step.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProfileRow {
    pub tag: String,
    pub measure: String,
    pub dataset: String,
    pub backend: String,
    pub partitions: usize,
    pub boundary: String,
    pub kernel: String,
    pub dispatches_per_epoch: f64,
    pub device_ms_per_epoch: f64,
    /// Of the device time of every timed kernel.
    pub share: f64,
}

/// What one measurement gives.
struct Measured {
    backend: String,
    /// Wall milliseconds of each timed epoch (or step).
    times: Vec<f64>,
    peak_mib: f64,
    acc: f64,
    /// Kernel times over every epoch run (the untimed warm-up included), with `--profile`.
    profile: Option<KernelProfile>,
    /// Epochs (or steps) run, the warm-up included.
    passes: usize,
}

struct Measure<'a> {
    ds: &'a Dataset,
    cfg: RunConfig,
}

impl BackendTask for Measure<'_> {
    type Output = Measured;

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<Measured> {
        let problem = sim::prepare(self.ds, &self.cfg)?;
        let run = TrainTask {
            problem: &problem,
            config: &self.cfg,
            log: EventLog::new(),
            on_epoch: &mut |_| {},
            persistence: Default::default(),
        }
        .run(b)?;
        // The first epoch compiles pipelines and fills caches: not timed.
        let times: Vec<f64> = run.records.iter().skip(1).map(|r| r.wall_ms).collect();
        Ok(Measured {
            backend: run.backend,
            times,
            peak_mib: run.outcome.peak_bytes as f64 / (1u64 << 20) as f64,
            acc: run.outcome.final_test_acc,
            profile: b.take_kernel_profile(),
            passes: run.records.len(),
        })
    }
}

/// The training step alone, serial: forward and backward on the whole graph with dropout, then
/// the optimizer step, waited for (the GPU's queue drained) before the clock stops.
struct MeasureStep<'a> {
    ds: &'a Dataset,
    cfg: RunConfig,
}

impl BackendTask for MeasureStep<'_> {
    type Output = Measured;

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<Measured> {
        let problem = sim::prepare(self.ds, &self.cfg)?;
        let train = &self.cfg.train;
        let graph = &problem.locals[0];
        let mut ws = Workspace::new(b, graph, &problem.shape, train.dropout, "bench")?;
        let mut weights = initial_parameters(&problem.shape.plan(), train.seed)
            .iter()
            .enumerate()
            .map(|(l, w)| b.upload(w, MemCategory::Weights, &format!("bench/w{l}")))
            .collect::<Result<Vec<_>, _>>()?;
        let decay = (0..weights.len()).map(|l| if l == 0 { train.weight_decay } else { 0.0 }).collect();
        let mut optimizer =
            Optimizer::new(b, train.optimizer, train.lr, decay, &weights)?.scheduled(train.lr_schedule, train.epochs);
        let mut stats = b.alloc_stats(1, "bench/stats")?;
        let grad_scale = 1.0 / ws.num_train().max(1) as f32;
        let mut times = Vec::with_capacity(train.epochs);
        let mut last = Vec::new();
        for epoch in 0..train.epochs as u32 {
            let started = std::time::Instant::now();
            let pass = Pass::Train { seed: train.seed, epoch };
            ws.run(b, &weights, pass, Operator::Train, grad_scale, &mut stats, 0);
            optimizer.step(b, &mut weights, ws.weight_grads(), epoch + 1);
            b.flush()?;
            last = b.read_stats(&stats)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        // Training accuracy of the last step's forward pass: a sanity check that it learned.
        let (correct, count) = (
            last[crate::backend::stat::TRAIN + crate::backend::stat::CORRECT],
            last[crate::backend::stat::TRAIN + crate::backend::stat::COUNT],
        );
        let acc = if count > 0.0 { (correct / count) as f64 } else { 0.0 };
        // The first step compiles pipelines and fills caches: not timed.
        let passes = times.len();
        times.remove(0);
        Ok(Measured {
            backend: crate::backend::label(b),
            times,
            peak_mib: b.memory().snapshot().peak_total as f64 / (1u64 << 20) as f64,
            acc,
            profile: b.take_kernel_profile(),
            passes,
        })
    }
}

pub fn bench_command(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.epochs >= 1, "--epochs must be at least 1 (timed epochs per measurement)");
    anyhow::ensure!(!args.partitions.contains(&0), "--partitions: every count must be at least 1");
    anyhow::ensure!(
        !args.step || args.partitions == [1],
        "--step times the serial training step; it takes no --partitions other than 1"
    );
    let specs: Vec<String> =
        if args.dataset.is_empty() { vec!["cora".into(), LARGE_CSBM.into()] } else { args.dataset.clone() };
    let mut rows = Vec::new();
    let mut profiles = Vec::new();
    for spec in &specs {
        let ds = match load_dataset(spec) {
            Ok(ds) => ds,
            Err(e) if args.dataset.is_empty() && spec == "cora" => {
                eprintln!("skipping cora: {e:#}");
                continue;
            }
            Err(e) => return Err(e),
        };
        for &backend in &args.backends {
            for &p in &args.partitions {
                let boundaries: Vec<Boundary> =
                    if p == 1 { vec![Boundary::default()] } else { args.boundaries.clone() };
                for boundary in boundaries {
                    let mut cfg = RunConfig::default();
                    cfg.train.epochs = args.epochs + 1;
                    cfg.parallel.partitions = p;
                    cfg.parallel.boundary = boundary;
                    cfg.parallel.sample_rate = if boundary == Boundary::Sample { args.sample_rate } else { 1.0 };
                    let measured = match (args.step, args.profile) {
                        (true, false) => with_backend(backend, MeasureStep { ds: &ds, cfg }),
                        (true, true) => with_backend_profiled(backend, MeasureStep { ds: &ds, cfg }),
                        (false, false) => with_backend(backend, Measure { ds: &ds, cfg }),
                        (false, true) => with_backend_profiled(backend, Measure { ds: &ds, cfg }),
                    }
                    .with_context(|| format!("{spec} on {backend:?} with P={p}"))?;
                    let (name, times, peak, acc) =
                        (&measured.backend, &measured.times, measured.peak_mib, measured.acc);
                    let row = bench_row(args, &ds, spec, name, p, boundary, times, peak, acc);
                    println!(
                        "{:<44} {:<10} P={:<3} {:<6} {:>10.2} ms/{} (median of {}, min {:.2}), peak {:.1} MiB",
                        spec,
                        short_backend(backend, name),
                        p,
                        row.boundary,
                        row.ms_per_epoch_median,
                        row.measure,
                        row.epochs_timed,
                        row.ms_per_epoch_min,
                        peak
                    );
                    if args.profile {
                        profiles.extend(profile_rows(args, &row, &measured));
                    }
                    rows.push(row);
                }
            }
        }
    }
    append_rows(&args.out, "bench.csv", &rows)?;
    if !profiles.is_empty() {
        append_rows(&args.out, "profile.csv", &profiles)?;
    }
    Ok(())
}

/// Prints the kernels' device time per epoch (slowest first) and returns them as rows.
fn profile_rows(args: &BenchArgs, row: &BenchRow, m: &Measured) -> Vec<ProfileRow> {
    let Some(profile) = &m.profile else {
        println!("  (no kernel times: --profile needs the GPU backend on an adapter with timestamp queries)");
        return Vec::new();
    };
    let passes = m.passes.max(1) as f64;
    let total: f64 = profile.kernels.iter().map(|k| k.device_ns).sum();
    println!(
        "  {:<28} {:>12} {:>14} {:>7}",
        "kernel",
        format!("calls/{}", row.measure),
        format!("ms/{}", row.measure),
        "share"
    );
    let rows: Vec<ProfileRow> = profile
        .kernels
        .iter()
        .map(|k| ProfileRow {
            tag: args.tag.clone(),
            measure: row.measure.clone(),
            dataset: row.dataset.clone(),
            backend: row.backend.clone(),
            partitions: row.partitions,
            boundary: row.boundary.clone(),
            kernel: k.kernel.to_string(),
            dispatches_per_epoch: k.dispatches as f64 / passes,
            device_ms_per_epoch: k.device_ns / passes / 1e6,
            share: if total > 0.0 { k.device_ns / total } else { 0.0 },
        })
        .collect();
    for r in &rows {
        println!(
            "  {:<28} {:>12.1} {:>14.3} {:>6.1}%",
            r.kernel,
            r.dispatches_per_epoch,
            r.device_ms_per_epoch,
            100.0 * r.share
        );
    }
    println!(
        "  {:<28} {:>12} {:>14.3}   (device time of the timed kernels; wall time per {} above)",
        "total",
        "",
        total / passes / 1e6,
        row.measure,
    );
    rows
}

#[allow(clippy::too_many_arguments)]
fn bench_row(
    args: &BenchArgs,
    ds: &Dataset,
    spec: &str,
    backend: &str,
    p: usize,
    boundary: Boundary,
    times: &[f64],
    peak: f64,
    acc: f64,
) -> BenchRow {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    BenchRow {
        tag: args.tag.clone(),
        measure: if args.step { "step" } else { "epoch" }.into(),
        threads: rayon::current_num_threads(),
        dataset: spec.to_string(),
        nodes: ds.num_nodes(),
        edges: ds.num_undirected_edges(),
        backend: backend.to_string(),
        partitions: p,
        boundary: match boundary {
            _ if p == 1 => "serial".into(),
            Boundary::Sample => format!("sample R={}", args.sample_rate),
            other => other.name().to_string(),
        },
        epochs_timed: times.len(),
        ms_per_epoch_median: sorted[sorted.len() / 2],
        ms_per_epoch_mean: times.iter().sum::<f64>() / times.len() as f64,
        ms_per_epoch_min: sorted[0],
        peak_device_mib: peak,
        final_test_acc: acc,
    }
}

fn short_backend(choice: BackendChoice, name: &str) -> String {
    match choice {
        BackendChoice::Cpu => "cpu".into(),
        _ => name.split_whitespace().next().unwrap_or("gpu").to_string(),
    }
}

/// Appends to `OUT/file` (header once), so measurements from several machines accumulate.
fn append_rows<T: serde::Serialize>(out: &std::path::Path, file: &str, rows: &[T]) -> anyhow::Result<()> {
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(file);
    let existing = fs::read(&path).unwrap_or_default();
    if let (Some(first), Some(existing_header)) = (rows.first(), String::from_utf8_lossy(&existing).lines().next()) {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(first)?;
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = String::from_utf8(bytes)?;
        let header = text.lines().next().unwrap_or_default();
        anyhow::ensure!(
            existing_header == header,
            "{} has other columns than this gcnsim writes ({existing_header:?}, not {header:?}); move it aside or use another --out",
            path.display()
        );
    }
    let mut buf = Vec::new();
    {
        let mut w = csv::WriterBuilder::new().has_headers(existing.is_empty()).from_writer(&mut buf);
        for r in rows {
            w.serialize(r)?;
        }
        w.flush()?;
    }
    crate::report::write_atomic(&path, |w| {
        w.write_all(&existing)?;
        w.write_all(&buf)
    })?;
    println!("appended {} rows to {}", rows.len(), path.display());
    Ok(())
}
