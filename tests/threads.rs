//! The CPU backend splits its work into fixed chunks, never by thread count: training gives
//! bit-identical metrics on 1, 2 and 4 threads.

mod common;

use common::csbm;
use gcnsim::backend::cpu::CpuBackend;
use gcnsim::ps::EventLog;
use gcnsim::sim::{self, Boundary, EpochRecord, RunConfig};

fn train_on(threads: usize, ds: &gcnsim::data::Dataset, cfg: &RunConfig) -> Vec<EpochRecord> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let problem = sim::prepare(ds, cfg).unwrap();
        let (records, _) = sim::run(&CpuBackend::new(), &problem, cfg, &mut EventLog::default(), &mut |_| {}).unwrap();
        records.into_iter().map(|r| EpochRecord { wall_ms: 0.0, ..r }).collect()
    })
}

#[test]
fn metrics_are_bit_identical_at_1_2_and_4_threads() {
    // Large enough that SpMM and the matmuls take the parallel path (features 128, 20k nodes).
    let ds = csbm("csbm:nodes=20000,avg_degree=10,features=128");
    for (p, boundary) in [(1, Boundary::Exchange), (4, Boundary::Exchange)] {
        let mut cfg = RunConfig::default();
        cfg.train.epochs = 6;
        cfg.parallel.partitions = p;
        cfg.parallel.boundary = boundary;
        let one = train_on(1, &ds, &cfg);
        for threads in [2, 4] {
            assert_eq!(train_on(threads, &ds, &cfg), one, "P = {p}: {threads} threads differ from 1");
        }
    }
}
