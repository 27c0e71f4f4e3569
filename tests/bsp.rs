//! Partitioned BSP training on the simulated parameter server.

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::backend::{Backend, MemCategory};
use gcnsim::data::{ogb, testdata, Dataset, DatasetSpec};
use gcnsim::graph::partition::PartitionerKind;
use gcnsim::ps::{EventKind, EventLog};
use gcnsim::sim::{self, Boundary, EpochRecord, RunConfig};

fn cora() -> Option<Dataset> {
    let dir = testdata::dataset_dir("cora")?;
    Some(ogb::load(&dir, &ogb::OgbOptions::default()).expect("Cora loads"))
}

fn train<B: Backend>(b: &B, ds: &Dataset, cfg: &RunConfig) -> (Vec<EpochRecord>, EventLog) {
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

#[test]
fn exact_bsp_equals_serial_on_cora_cpu() {
    let Some(ds) = cora() else { return };
    exact_bsp_equals_serial(&CpuBackend::new(), &ds);
}

/// Live weight bytes: constant with release (master + one published version), growing by one
/// weight set per epoch with keep_versions.
pub fn weight_versions_memory<B: Backend>(b: &B) {
    let ds: Dataset = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
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
    assert_eq!(b.memory().snapshot().live_total(), 0, "every buffer is released after the runs");
}

#[test]
fn weight_versions_memory_cpu() {
    weight_versions_memory(&CpuBackend::new());
}

/// The protocol as the event log tells it: per epoch, every worker computes from the published
/// version, then aggregate, update, publish the next, release the old.
#[test]
fn event_log_follows_the_bsp_protocol() {
    let ds: Dataset = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
    let mut cfg = RunConfig::default();
    cfg.train.epochs = 3;
    cfg.parallel.partitions = 3;
    let (_, log) = train(&CpuBackend::new(), &ds, &cfg);
    let kinds: Vec<(EventKind, u64, Option<usize>)> =
        log.events().iter().map(|e| (e.kind.clone(), e.version, e.worker)).collect();
    let mut want = vec![(EventKind::Publish, 0, None)];
    for v in 0..3u64 {
        want.extend((0..3).map(|w| (EventKind::Compute, v, Some(w))));
        want.extend([
            (EventKind::Aggregate, v, None),
            (EventKind::Update, v, None),
            (EventKind::Publish, v + 1, None),
            (EventKind::Release, v, None),
        ]);
    }
    assert_eq!(kinds, want);
}
