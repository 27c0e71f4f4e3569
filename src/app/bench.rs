//! `gcnsim bench`: milliseconds per training epoch by dataset, backend and partition count.
//! Speed targets live here, never in timed tests.

use std::fs;

use anyhow::Context;

use super::info::load_dataset;
use crate::backend::{with_backend, Backend, BackendChoice, BackendTask};
use crate::cli::BenchArgs;
use crate::data::Dataset;
use crate::ps::EventLog;
use crate::sim::{self, Boundary, RunConfig, TrainTask};

/// The benchmark's large graph: 100k nodes, ~1M undirected edges, 128 dense features.
pub const LARGE_CSBM: &str = "csbm:nodes=100000,avg_degree=20,features=128";

/// One row of `bench.csv`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchRow {
    pub tag: String,
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

struct Measure<'a> {
    ds: &'a Dataset,
    cfg: RunConfig,
}

impl BackendTask for Measure<'_> {
    type Output = (String, Vec<f64>, f64, f64);

    fn run<B: Backend>(self, b: &B) -> anyhow::Result<(String, Vec<f64>, f64, f64)> {
        let problem = sim::prepare(self.ds, &self.cfg)?;
        let run =
            TrainTask { problem: &problem, config: &self.cfg, log: EventLog::new(), on_epoch: &mut |_| {} }.run(b)?;
        // The first epoch compiles pipelines and fills caches: not timed.
        let times: Vec<f64> = run.records.iter().skip(1).map(|r| r.wall_ms).collect();
        Ok((run.backend, times, run.outcome.peak_bytes as f64 / (1u64 << 20) as f64, run.outcome.final_test_acc))
    }
}

pub fn bench_command(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.epochs >= 1, "--epochs must be at least 1 (timed epochs per measurement)");
    anyhow::ensure!(!args.partitions.contains(&0), "--partitions: every count must be at least 1");
    let specs: Vec<String> =
        if args.dataset.is_empty() { vec!["cora".into(), LARGE_CSBM.into()] } else { args.dataset.clone() };
    let mut rows = Vec::new();
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
                    let (name, times, peak, acc) = with_backend(backend, Measure { ds: &ds, cfg })
                        .with_context(|| format!("{spec} on {backend:?} with P={p}"))?;
                    let row = bench_row(args, &ds, spec, &name, p, boundary, &times, peak, acc);
                    println!(
                        "{:<44} {:<10} P={:<3} {:<6} {:>10.2} ms/epoch (median of {}, min {:.2}), peak {:.1} MiB",
                        spec,
                        short_backend(backend, &name),
                        p,
                        row.boundary,
                        row.ms_per_epoch_median,
                        row.epochs_timed,
                        row.ms_per_epoch_min,
                        peak
                    );
                    rows.push(row);
                }
            }
        }
    }
    append_rows(args, &rows)
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

/// Appends to `bench.csv` (header once), so measurements from several machines accumulate.
fn append_rows(args: &BenchArgs, rows: &[BenchRow]) -> anyhow::Result<()> {
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("bench.csv");
    let existing = fs::read(&path).unwrap_or_default();
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
