//! Learnable node embeddings on the parameter server (`--embedding-dim`), CPU reference backend:
//! partitioned training equals serial training, a graph without features still learns, and
//! rows the loss never reaches are pruned on schedule. The GPU run is in `tests/gpu.rs`.

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::graph::partition::PartitionerKind;
use gcnsim::sim::{self, Boundary, FeatureSource, RunConfig};

fn embedded(dim: usize, epochs: usize) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.train.embedding_dim = dim;
    cfg.train.epochs = epochs;
    cfg
}

/// Each embedding row is pushed by the worker whose loss reaches it and stepped once by the
/// server: exchange (each row from its owner) and replicate (halo rows summed over workers) give
/// serial training's loss at every epoch.
#[test]
fn partitioned_embeddings_equal_serial_on_cora() {
    let Some(ds) = common::cora() else { return };
    let base = embedded(16, 100);
    let both = [PartitionerKind::Metis, PartitionerKind::Random];
    let worst = common::partitioned_equals_serial_from(
        &CpuBackend::new(),
        &ds,
        &base,
        Boundary::Exchange,
        &both,
        &[2, 8],
        1e-5,
    );
    eprintln!("exchange: worst relative loss gap {worst:.2e}");
    let worst = common::partitioned_equals_serial_from(
        &CpuBackend::new(),
        &ds,
        &base,
        Boundary::Replicate,
        &[PartitionerKind::Metis],
        &[4],
        1e-5,
    );
    eprintln!("replicate: worst relative loss gap {worst:.2e}");
}

/// `--features none --embedding-dim 64` on the CSBM default (5 classes, chance 0.2): the graph
/// and the labels alone, through learned embeddings, classify test nodes well above chance,
/// serial and on 4 exchanging workers alike.
#[test]
fn csbm_without_features_learns_from_embeddings() {
    let ds = common::csbm("csbm");
    let mut cfg = embedded(64, 200);
    cfg.train.features = FeatureSource::None;
    let (serial, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    let acc = serial.last().unwrap().test_acc;
    eprintln!("features none, embedding 64, serial: test accuracy {acc:.4}");
    assert!(acc >= 0.75, "test accuracy {acc} (chance 0.2)");
    cfg.parallel.partitions = 4;
    let (partitioned, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    let p4 = partitioned.last().unwrap().test_acc;
    assert!((p4 - acc).abs() <= 0.003, "P = 4 exchange: {p4} vs serial {acc}");
}

/// Rows outside every worker's 2-hop reach of a training node get no push; with
/// `prune_after = 5` they are evicted and re-initialized at rounds 6, 11, 16, …; reached rows
/// never are. Counts per round: pulled = every node (each by its owner), pushed = updated = the
/// reach.
#[test]
fn unreached_rows_are_pruned_every_k_epochs() {
    let ds = common::csbm("csbm:nodes=3000,train_per_class=4,avg_degree=3");
    let mut cfg = embedded(8, 20);
    cfg.train.prune_after = Some(5);
    cfg.parallel.partitions = 3;
    let problem = sim::prepare(&ds, &cfg).unwrap();
    let reach: usize = problem.embedding_rows.iter().map(|r| r.len()).sum();
    assert!(reach > 0 && reach < ds.num_nodes(), "reach {reach} of {}", ds.num_nodes());
    let (records, _) = common::train(&CpuBackend::new(), &ds, &cfg);
    for r in &records {
        let e = r.embedding.as_ref().expect("embedding counts every round");
        let pruned_here = if r.epoch > 1 && (r.epoch - 1) % 5 == 0 { (ds.num_nodes() - reach) as u64 } else { 0 };
        assert_eq!(e.pruned_rows, pruned_here, "epoch {}", r.epoch);
        assert_eq!(
            (e.pulled_rows, e.pushed_rows, e.updated_rows),
            (3000, reach as u64, reach as u64),
            "epoch {}",
            r.epoch
        );
        assert_eq!(e.pull_bytes, 3000 * 8 * 4);
        assert_eq!(e.push_bytes, reach as u64 * 9 * 4);
    }
}
