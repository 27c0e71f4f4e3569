//! Partitioned BSP training on the simulated parameter server, CPU reference backend.
//! The same checks run on the GPU backend in `tests/gpu.rs`.

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::graph::partition::PartitionerKind;
use gcnsim::ps::EventKind;
use gcnsim::sim::{Boundary, RunConfig};

const BOTH: [PartitionerKind; 2] = [PartitionerKind::Metis, PartitionerKind::Random];

/// Boundary exchange is serial training at 1-hop cost: 200 epochs, dropout on, P = 2, 8, 64,
/// METIS and random partitions, 2 and 3 layers, loss within 1e-5 relative at every epoch.
#[test]
fn exchange_equals_serial_on_cora_cpu() {
    let Some(ds) = common::cora() else { return };
    for layers in [2, 3] {
        common::partitioned_equals_serial(
            &CpuBackend::new(),
            &ds,
            Boundary::Exchange,
            &BOTH,
            &[2, 8, 64],
            200,
            layers,
            1e-5,
        );
    }
}

/// Replicated L-hop halos are serial training too (no communication, redundant compute).
#[test]
fn replicate_equals_serial_on_cora_cpu() {
    let Some(ds) = common::cora() else { return };
    common::partitioned_equals_serial(&CpuBackend::new(), &ds, Boundary::Replicate, &BOTH, &[2, 8], 100, 2, 1e-5);
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
        log.events().iter().map(|e| (e.kind, e.version, e.worker)).collect();
    let mut want = vec![(EventKind::Publish, 0, None)];
    // The workers register, then receive version 0 (later versions arrive with the broadcast).
    want.extend((0..3).map(|w| (EventKind::Register, 0, Some(w))));
    want.extend((0..3).map(|w| (EventKind::Pull, 0, Some(w))));
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

/// With dropout off, an evaluation computes exactly the next training pass's forward (same
/// weights, same operator under `exchange` and `replicate`); the training pass takes it instead
/// of recomputing it, one forward saved per round after the first, and the run is the same as
/// one that recomputes: every record (simulated time included, since the evaluation's forward
/// kernels are charged as the training forward's) and every event. `drop` trains on another
/// graph than it evaluates on, so it reuses nothing; embedding rows re-initialized by pruning
/// make the forward stale, so those rounds recompute it.
#[test]
fn training_reuses_the_evaluation_forward_without_dropout() {
    use gcnsim::ps::EventLog;
    let ds = common::csbm("csbm:nodes=2000");
    let run = |cfg: &RunConfig| {
        let problem = gcnsim::sim::prepare(&ds, cfg).unwrap();
        let mut log = EventLog::default();
        let (records, outcome) = gcnsim::sim::run(&CpuBackend::new(), &problem, cfg, &mut log, &mut |_| {}).unwrap();
        let records: Vec<_> = records.into_iter().map(|r| gcnsim::sim::EpochRecord { wall_ms: 0.0, ..r }).collect();
        (records, outcome.forwards_reused, log.into_events())
    };
    for (p, boundary, embedding_dim, prune_after, expected) in [
        (1, Boundary::Exchange, 0, None, 29),
        (4, Boundary::Exchange, 8, None, 29),
        // Rows pruned at rounds 5, 9, …, 29: those 7 rounds recompute.
        (4, Boundary::Exchange, 8, Some(4), 29 - 7),
        (3, Boundary::Replicate, 0, None, 29),
        (4, Boundary::Drop, 0, None, 0),
    ] {
        let mut cfg = RunConfig::default();
        (cfg.train.epochs, cfg.train.dropout) = (30, 0.0);
        (cfg.train.embedding_dim, cfg.train.prune_after) = (embedding_dim, prune_after);
        (cfg.parallel.partitions, cfg.parallel.boundary) = (p, boundary);
        let reused = run(&cfg);
        cfg.parallel.recompute_forward = true;
        let recomputed = run(&cfg);
        let name = format!("P = {p} {boundary:?}, embedding {embedding_dim}, prune {prune_after:?}");
        assert_eq!(reused.0, recomputed.0, "{name}: records differ");
        assert_eq!(reused.2, recomputed.2, "{name}: events differ");
        assert_eq!((reused.1, recomputed.1), (expected, 0), "{name}: forwards reused");
    }
}
