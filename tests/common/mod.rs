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

/// With halos and weighted aggregation BSP training is the serial training: the per-epoch
/// training loss (dropout on) agrees to 1e-4 relative at every epoch.
pub fn exact_bsp_equals_serial<B: Backend>(b: &B, ds: &Dataset) {
    let mut cfg = RunConfig::default();
    cfg.train.epochs = 100;
    let (serial, _) = train(b, ds, &cfg);
    for partitioner in [PartitionerKind::Metis, PartitionerKind::Random] {
        for p in [2, 4, 8] {
            cfg.parallel.partitions = p;
            cfg.parallel.partitioner = partitioner;
            cfg.parallel.boundary = Boundary::Exact;
            let (bsp, _) = train(b, ds, &cfg);
            assert_eq!(bsp.len(), serial.len());
            let mut worst = 0.0f64;
            for (s, r) in serial.iter().zip(&bsp) {
                let rel = (s.train_loss - r.train_loss).abs() / s.train_loss.abs();
                worst = worst.max(rel);
                assert!(
                    rel <= 1e-4,
                    "{partitioner:?} P={p} epoch {}: loss {} vs serial {}",
                    s.epoch,
                    r.train_loss,
                    s.train_loss
                );
            }
            let (sa, ra) = (serial.last().unwrap().test_acc, bsp.last().unwrap().test_acc);
            eprintln!("{partitioner:?} P={p}: worst relative loss gap {worst:.2e}, test acc {ra:.4} vs serial {sa:.4}");
            assert!((sa - ra).abs() <= 0.003, "{partitioner:?} P={p}: test acc {ra} vs serial {sa}");
        }
    }
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
