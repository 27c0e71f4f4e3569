//! Acceptance: Kipf & Welling's GCN on Cora (Planetoid split), standard hyperparameters,
//! 200 epochs, CPU reference backend: mean test accuracy over seeds 0-9 ≥ 80.5% (paper: 81.5%),
//! from the OGB-layout folder and from the Planetoid raw files alike.

use gcnsim::backend::cpu::CpuBackend;
use gcnsim::data::{ogb, planetoid, testdata, Dataset};
use gcnsim::ps::EventLog;
use gcnsim::sim::{self, RunConfig};

/// Mean final test accuracy of seeds 0-9 with the default (Kipf's) configuration.
fn mean_test_accuracy(ds: &Dataset) -> f64 {
    let mut accs = Vec::new();
    for seed in 0..10 {
        let mut cfg = RunConfig::default();
        cfg.train.seed = seed;
        let problem = sim::prepare(ds, &cfg).unwrap();
        let b = CpuBackend::new();
        let (_, outcome) = sim::run(&b, &problem, &cfg, &mut EventLog::default(), &mut |_| {}).unwrap();
        eprintln!(
            "seed {seed}: final test acc {:.4}, at best valid (epoch {}) {:.4}, {:.2} ms/epoch",
            outcome.final_test_acc, outcome.best_valid_epoch, outcome.test_acc_at_best_valid, outcome.mean_epoch_ms
        );
        accs.push(outcome.final_test_acc);
    }
    let mean = accs.iter().sum::<f64>() / accs.len() as f64;
    let sd = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (accs.len() - 1) as f64).sqrt();
    eprintln!("{}: mean test accuracy over seeds 0-9: {mean:.4} ± {sd:.4} (sample sd)", ds.name);
    assert!(mean >= 0.805, "mean test accuracy {mean:.4} < 0.805 ({accs:?})");
    mean
}

#[test]
fn cora_mean_test_accuracy_over_ten_seeds() {
    let Some(dir) = testdata::dataset_dir("cora") else { return };
    let ds = ogb::load(&dir, &ogb::OgbOptions::default()).expect("Cora loads");
    mean_test_accuracy(&ds);
}

#[test]
fn planetoid_cora_mean_test_accuracy_over_ten_seeds() {
    let Some(dir) = testdata::dataset_dir("planetoid-cora") else { return };
    let ds = planetoid::load(&dir, None).expect("Planetoid Cora loads");
    mean_test_accuracy(&ds);
}
