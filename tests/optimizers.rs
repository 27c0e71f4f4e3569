//! Every optimizer trains Kipf's GCN on Cora (200 epochs, CPU backend, the model otherwise
//! unchanged) to a mean test accuracy ≥ 0.78 over seeds 0–2, with the learning rate stated here
//! (and in the README).

mod common;

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::ps::OptimizerKind;
use gcnsim::sim::RunConfig;

#[test]
fn every_optimizer_trains_cora() {
    let Some(ds) = common::cora() else { return };
    let mut failed = Vec::new();
    for (kind, lr) in common::CORA_LEARNING_RATES {
        let accs: Vec<f64> = (0..3)
            .map(|seed| {
                let mut cfg = RunConfig::default();
                (cfg.train.optimizer, cfg.train.lr, cfg.train.seed) = (kind.into(), lr, seed);
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

/// Schedules train Cora as well, and the `lr` the records carry is `--lr` × the schedule's
/// factor at each epoch: SGD with momentum (rate 1) under a cosine decay after a 10-epoch
/// warm-up, and Adam halved every 50 epochs.
#[test]
fn scheduled_runs_train_cora_at_the_scheduled_rate() {
    let Some(ds) = common::cora() else { return };
    for (kind, lr, schedule) in
        [(OptimizerKind::Momentum, 1.0, "cosine:warmup=10"), (OptimizerKind::Adam, 0.01, "step:every=50,gamma=0.5")]
    {
        let mut cfg = RunConfig::default();
        (cfg.train.optimizer, cfg.train.lr) = (kind.into(), lr);
        cfg.train.lr_schedule = schedule.parse().unwrap();
        let (records, _) = common::train(&CpuBackend::new(), &ds, &cfg);
        let s = cfg.train.lr_schedule;
        for r in &records {
            assert_eq!(r.lr, s.lr(lr, r.epoch, 200) as f64, "{schedule}, epoch {}", r.epoch);
        }
        assert_eq!(records[0].lr, if schedule.starts_with("cosine") { 0.1f32 } else { 0.01 } as f64);
        let acc = records.last().unwrap().test_acc;
        eprintln!("{kind:?} lr {lr} {schedule}: test accuracy {acc:.4}");
        assert!(acc >= 0.78, "{kind:?} lr {lr} {schedule}: test accuracy {acc}");
    }
}
