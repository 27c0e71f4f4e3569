//! Shared by the end-to-end tests: datasets and backend-generic acceptance checks.
#![allow(dead_code)]

use gcnsim::backend::{Backend, MemCategory};
use gcnsim::data::{ogb, testdata, Dataset, DatasetSpec};
use gcnsim::graph::partition::PartitionerKind;
use gcnsim::ps::{EventKind, EventLog};
use gcnsim::sim::{self, Boundary, EpochRecord, RunConfig};

pub fn cora() -> Option<Dataset> {
    let dir = testdata::dataset_dir("cora")?;
    Some(ogb::load(&dir, &ogb::OgbOptions::default()).expect("Cora loads"))
}

pub fn csbm(spec: &str) -> Dataset {
    spec.parse::<DatasetSpec>().unwrap().load().unwrap()
}

pub fn train<B: Backend>(b: &B, ds: &Dataset, cfg: &RunConfig) -> (Vec<EpochRecord>, EventLog) {
    let problem = sim::prepare(ds, cfg).unwrap();
    let mut log = EventLog::default();
    let (records, _) = sim::run(b, &problem, cfg, &mut log, &mut |_| {}).unwrap();
    (records, log)
}

/// Worst relative gap of the per-epoch training loss (dropout on) between serial training and
/// `boundary` over P ∈ `parts` with each partitioner, asserted ≤ `tol` at every
/// epoch; also the final test accuracies. Returns the worst gap seen.
#[allow(clippy::too_many_arguments)]
pub fn partitioned_equals_serial<B: Backend>(
    b: &B,
    ds: &Dataset,
    boundary: Boundary,
    partitioners: &[PartitionerKind],
    parts: &[usize],
    epochs: usize,
    layers: usize,
    tol: f64,
) -> f64 {
    let mut cfg = RunConfig::default();
    cfg.train.epochs = epochs;
    cfg.train.layers = layers;
    partitioned_equals_serial_from(b, ds, &cfg, boundary, partitioners, parts, tol)
}

/// [`partitioned_equals_serial`] from `base` (its parallel keys replaced).
pub fn partitioned_equals_serial_from<B: Backend>(
    b: &B,
    ds: &Dataset,
    base: &RunConfig,
    boundary: Boundary,
    partitioners: &[PartitionerKind],
    parts: &[usize],
    tol: f64,
) -> f64 {
    let mut cfg = base.clone();
    let layers = cfg.train.layers;
    let (serial, _) = train(b, ds, &cfg);
    let mut worst_all = 0.0f64;
    for &partitioner in partitioners {
        for &p in parts {
            cfg.parallel.partitions = p;
            cfg.parallel.partitioner = partitioner;
            cfg.parallel.boundary = boundary;
            let (bsp, _) = train(b, ds, &cfg);
            assert_eq!(bsp.len(), serial.len());
            let mut worst = 0.0f64;
            for (s, r) in serial.iter().zip(&bsp) {
                let rel = (s.train_loss - r.train_loss).abs() / s.train_loss.abs();
                worst = worst.max(rel);
                assert!(
                    rel <= tol,
                    "{boundary:?} {partitioner:?} P={p} L={layers} epoch {}: loss {} vs serial {} (relative {rel:.2e})",
                    s.epoch,
                    r.train_loss,
                    s.train_loss
                );
            }
            let (sa, ra) = (serial.last().unwrap().test_acc, bsp.last().unwrap().test_acc);
            eprintln!(
                "{boundary:?} {partitioner:?} P={p} L={layers}: worst relative loss gap {worst:.2e}, test acc {ra:.4} vs serial {sa:.4}"
            );
            assert!((sa - ra).abs() <= 0.003, "{partitioner:?} P={p}: test acc {ra} vs serial {sa}");
            worst_all = worst_all.max(worst);
        }
    }
    worst_all
}

/// Live weight bytes: constant with release (master + one published version), growing by one
/// weight set per epoch with keep_versions.
pub fn weight_versions_memory<B: Backend>(b: &B) {
    let ds = csbm("csbm:nodes=2000");
    let mut cfg = RunConfig::default();
    cfg.train.epochs = 200;
    cfg.parallel.partitions = 2;
    let set_bytes = {
        let shape = sim::prepare(&ds, &cfg).unwrap().shape;
        4 * shape.parameter_count() as u64
    };
    for keep in [false, true] {
        cfg.parallel.keep_versions = keep;
        let (records, log) = train(b, &ds, &cfg);
        for r in &records {
            let weights = r.memory.live(MemCategory::Weights);
            // Master copy + the newest version, + every older one when kept.
            let want = if keep { (2 + r.epoch as u64) * set_bytes } else { 2 * set_bytes };
            assert_eq!(weights, want, "keep_versions={keep} epoch {}", r.epoch);
        }
        let releases = log.events().iter().filter(|e| e.kind == EventKind::Release).count();
        assert_eq!(releases, if keep { 0 } else { 200 });
    }
    // Everything a run allocated is gone; a backend may keep its reusable scratch (staging).
    let after = b.memory().snapshot();
    for c in MemCategory::ALL.into_iter().filter(|&c| c != MemCategory::Staging) {
        assert_eq!(after.live(c), 0, "{} bytes still live after the runs", c.name());
    }
}

/// (optimizer, learning rate) for Cora, as the README states them: each picked on seed 0 from
/// two to five values tried (the README lists them).
pub const CORA_LEARNING_RATES: [(gcnsim::ps::OptimizerKind, f32); 8] = [
    (gcnsim::ps::OptimizerKind::Adam, 0.01),
    (gcnsim::ps::OptimizerKind::Sgd, 5.0),
    (gcnsim::ps::OptimizerKind::Momentum, 1.0),
    (gcnsim::ps::OptimizerKind::Nesterov, 1.0),
    (gcnsim::ps::OptimizerKind::Adagrad, 2.0),
    (gcnsim::ps::OptimizerKind::Rmsprop, 0.01),
    (gcnsim::ps::OptimizerKind::Adamw, 0.01),
    (gcnsim::ps::OptimizerKind::Ftrl, 0.2),
];
