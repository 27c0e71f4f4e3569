//! Sharded parameter servers (`--servers S`): the shards split the traffic and the update, not
//! the arithmetic.

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::sim::{Boundary, EpochRecord, RunConfig};

fn config(servers: usize) -> RunConfig {
    let mut cfg = RunConfig::default();
    (cfg.train.epochs, cfg.train.embedding_dim) = (15, 8);
    (cfg.parallel.partitions, cfg.parallel.boundary) = (6, Boundary::Exchange);
    cfg.cluster.servers = servers;
    cfg
}

/// Every round's per-shard bytes sum to the round's total traffic with the server (weights
/// pulled, gradients pushed, embedding rows both ways); the losses and accuracies are those of
/// one server, bit for bit; more shards finish the same rounds sooner (the server's incast is
/// split over their links).
#[test]
fn shards_split_traffic_not_numbers() {
    let ds = common::csbm("csbm:nodes=4000");
    let (one, _) = common::train(&CpuBackend::new(), &ds, &config(1));
    assert!(one.iter().all(|r| r.shards.is_empty()));
    let mut previous_time = one.last().unwrap().sim_time_s;
    for servers in [2, 3, 5] {
        let (sharded, _) = common::train(&CpuBackend::new(), &ds, &config(servers));
        for (a, b) in one.iter().zip(&sharded) {
            let same = EpochRecord { sim_time_s: a.sim_time_s, wall_ms: a.wall_ms, shards: Vec::new(), ..b.clone() };
            assert_eq!(&same, a, "S = {servers}, epoch {}: sharding changed a number", a.epoch);
            assert_eq!(b.shards.len(), servers);
            let per_shard: u64 = b.shards.iter().map(|s| s.bytes_in + s.bytes_out).sum();
            let e = b.embedding.as_ref().unwrap();
            let total = b.comm_broadcast_bytes + b.comm_gradient_bytes + e.pull_bytes + e.push_bytes;
            assert_eq!(per_shard, total, "S = {servers}, epoch {}", b.epoch);
            let imbalance = gcnsim::ps::shards::ShardPlan::imbalance(&b.shards);
            assert!((1.0..1.2).contains(&imbalance), "S = {servers}: imbalance {imbalance}");
        }
        let time = sharded.last().unwrap().sim_time_s;
        eprintln!("S = {servers}: {time:.6} s simulated for 15 rounds");
        assert!(time < previous_time, "S = {servers}: {time} s, no faster than {previous_time} s");
        previous_time = time;
    }
}

/// A worker that fails and comes back pulls every shard's block again (its re-registration is
/// in the log); the run completes with one server's numbers.
#[test]
fn a_failed_worker_rejoins_a_sharded_server() {
    let ds = common::csbm("csbm:nodes=4000");
    let with_failure = |servers| {
        let mut cfg = config(servers);
        cfg.parallel.boundary = Boundary::Drop;
        cfg.cluster.fail = vec!["worker=2,at=0.0005,down=0.001".into()];
        cfg
    };
    let (one, _) = common::train(&CpuBackend::new(), &ds, &with_failure(1));
    let (three, log) = common::train(&CpuBackend::new(), &ds, &with_failure(3));
    assert_eq!(one.last().unwrap().test_acc, three.last().unwrap().test_acc);
    assert!(log
        .events()
        .iter()
        .any(|e| e.kind == gcnsim::ps::EventKind::Register && e.worker == Some(2) && e.time_s > 0.0));
}
