//! Partitioned BSP training on the simulated parameter server, CPU reference backend.
//! The same checks run on the GPU backend in `tests/gpu.rs`.

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::ps::EventKind;
use gcnsim::sim::RunConfig;

#[test]
fn exact_bsp_equals_serial_on_cora_cpu() {
    let Some(ds) = common::cora() else { return };
    common::exact_bsp_equals_serial(&CpuBackend::new(), &ds);
}

#[test]
fn weight_versions_memory_cpu() {
    common::weight_versions_memory(&CpuBackend::new());
}

/// The protocol as the event log tells it: per epoch, every worker computes from the published
/// version, then aggregate, update, publish the next, release the old.
#[test]
fn event_log_follows_the_bsp_protocol() {
    let ds = common::csbm("csbm:nodes=2000");
    let mut cfg = RunConfig::default();
    cfg.train.epochs = 3;
    cfg.parallel.partitions = 3;
    let (_, log) = common::train(&CpuBackend::new(), &ds, &cfg);
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
