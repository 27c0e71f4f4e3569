//! Boundary modes on Cora (CPU backend): what each costs in accuracy, and what the exchange
//! moves. The per-epoch equality of `exchange` with serial training is in `tests/bsp.rs`.

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::graph::partition::PartitionerKind;
use gcnsim::model::Neighbourhood;
use gcnsim::sim::{self, Boundary, EvalMode, RunConfig};

/// Final test accuracy, mean over seeds 0–2.
fn mean_test_acc(ds: &gcnsim::data::Dataset, cfg: &RunConfig) -> f64 {
    let mut cfg = cfg.clone();
    let accs: Vec<f64> = (0..3)
        .map(|seed| {
            cfg.train.seed = seed;
            common::train(&CpuBackend::new(), ds, &cfg).0.last().unwrap().test_acc
        })
        .collect();
    accs.iter().sum::<f64>() / accs.len() as f64
}

fn partitioned(p: usize, partitioner: PartitionerKind, boundary: Boundary) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.parallel.partitions = p;
    cfg.parallel.partitioner = partitioner;
    cfg.parallel.boundary = boundary;
    cfg
}

/// PipeGCN's one-epoch-stale boundary and BNS-GCN's 10% boundary sample keep serial accuracy on
/// Cora with 8 METIS partitions (within 1 and 2 points, mean of 3 seeds).
#[test]
fn stale_and_sampled_boundaries_keep_serial_accuracy() {
    let Some(ds) = common::cora() else { return };
    let serial = mean_test_acc(&ds, &RunConfig::default());
    let stale = mean_test_acc(&ds, &partitioned(8, PartitionerKind::Metis, Boundary::Stale));
    let mut sample = partitioned(8, PartitionerKind::Metis, Boundary::Sample);
    sample.parallel.sample_rate = 0.1;
    let sampled = mean_test_acc(&ds, &sample);
    eprintln!("Cora, P=8 METIS, mean of seeds 0-2: serial {serial:.4}, stale {stale:.4}, sample R=0.1 {sampled:.4}");
    assert!((stale - serial).abs() <= 0.01, "stale {stale:.4} vs serial {serial:.4}");
    assert!((sampled - serial).abs() <= 0.02, "sample R=0.1 {sampled:.4} vs serial {serial:.4}");
}

/// Dropping the boundary costs little when the trained weights are evaluated on the full
/// graph: random partitions, P = 2 (they cut half the edges). Evaluated on the partitions
/// instead, the same training scores much lower.
#[test]
fn drop_evaluated_on_the_full_graph() {
    let Some(ds) = common::cora() else { return };
    let mut cfg = partitioned(2, PartitionerKind::Random, Boundary::Drop);
    let full = mean_test_acc(&ds, &cfg);
    cfg.parallel.eval = EvalMode::Partitions;
    let parts = mean_test_acc(&ds, &cfg);
    eprintln!("Cora, drop, random P=2, mean of seeds 0-2: full-graph evaluation {full:.4}, per-partition {parts:.4}");
    assert!(full >= 0.78, "full-graph evaluation {full:.4} < 0.78");
    assert!(parts < full - 0.02, "per-partition evaluation {parts:.4} is not lower than full-graph {full:.4}");
}

/// `sample` with rate 1 keeps every boundary row: it is `exchange`, bit for bit.
#[test]
fn sample_at_rate_one_is_exchange() {
    let ds = common::csbm("csbm:nodes=2000");
    let mut cfg = partitioned(4, PartitionerKind::Random, Boundary::Exchange);
    cfg.train.epochs = 20;
    let (a, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    cfg.parallel.boundary = Boundary::Sample;
    cfg.parallel.sample_rate = 1.0;
    let (b, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.train_loss.to_bits(), y.train_loss.to_bits(), "epoch {}", x.epoch);
        assert_eq!(x.comm_boundary_forward, y.comm_boundary_forward);
    }
}

/// The measured traffic is the closed form: per layer and direction, Σ over partitions of
/// boundary nodes × the layer's width × 4 bytes; `sample` moves about the rate of it; modes
/// without exchange move none.
#[test]
fn exchange_traffic_is_boundary_nodes_times_width() {
    let ds = common::csbm("csbm:nodes=3000");
    let mut cfg = partitioned(4, PartitionerKind::Metis, Boundary::Exchange);
    cfg.train.epochs = 3;
    cfg.train.layers = 3;
    cfg.train.hidden = 24;
    let problem = sim::prepare(&ds, &cfg).unwrap();
    let boundary: u64 = problem
        .locals
        .iter()
        .map(|g| match &g.neighbourhood {
            Neighbourhood::Exchange { boundary } => boundary.len() as u64,
            _ => panic!("exchange keeps a boundary"),
        })
        .sum();
    assert_eq!(boundary, problem.partitions.iter().map(|s| s.boundary_nodes as u64).sum::<u64>());
    let widths = [24u64, 24, ds.num_classes as u64];
    let (records, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    for r in &records {
        let want: Vec<u64> = widths.iter().map(|w| boundary * w * 4).collect();
        assert_eq!(r.comm_boundary_forward, want);
        assert_eq!(r.comm_boundary_backward, want);
    }
    cfg.parallel.boundary = Boundary::Sample;
    cfg.parallel.sample_rate = 0.3;
    let (records, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    let full = boundary * widths[0] * 4;
    for r in &records {
        let frac = r.comm_boundary_forward[0] as f64 / full as f64;
        assert!((0.25..0.35).contains(&frac), "sample moved {frac} of the boundary rows");
    }
    cfg.parallel.sample_rate = 1.0; // only `sample` has a rate
    for mode in [Boundary::Replicate, Boundary::Drop] {
        cfg.parallel.boundary = mode;
        let (records, _) = common::train(&CpuBackend::new(), &ds, &cfg);
        assert!(records.iter().all(|r| r.comm_boundary_forward.iter().all(|&b| b == 0)), "{mode:?}");
    }
}
