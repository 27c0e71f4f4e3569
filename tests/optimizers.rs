//! Every optimizer trains Kipf's GCN on Cora (200 epochs, CPU backend, the model otherwise
//! unchanged) to a mean test accuracy ≥ 0.78 over seeds 0–2, with the learning rate stated here
//! (and in the README).

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::sim::RunConfig;

#[test]
fn every_optimizer_trains_cora() {
    let Some(ds) = common::cora() else { return };
    let mut failed = Vec::new();
    for (kind, lr) in common::CORA_LEARNING_RATES {
        let accs: Vec<f64> = (0..3)
            .map(|seed| {
                let mut cfg = RunConfig::default();
                (cfg.train.optimizer, cfg.train.lr, cfg.train.seed) = (kind, lr, seed);
                let (records, _) = common::train(&CpuBackend::new(), &ds, &cfg);
                records.last().unwrap().test_acc
            })
            .collect();
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        eprintln!("{kind:?} lr {lr}: mean test accuracy {mean:.4} ({accs:?})");
        if mean < 0.78 {
            failed.push(format!("{kind:?} lr {lr}: {mean:.4}"));
        }
    }
    assert!(failed.is_empty(), "below 0.78: {failed:?}");
}
