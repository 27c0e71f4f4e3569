//! Time to accuracy and the breakdown of a round, end to end: the columns of `runs.csv` that a
//! real small experiment writes agree with a computation from its `metrics.csv`, and bad
//! targets are refused naming the key or flag.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// Serial and P = 2 over two seeds, with targets one run reaches early and one nobody reaches.
const EXPERIMENT: &str = r#"
name = "tta"
dataset = "csbm:nodes=600,avg_degree=6,features=16,valid=100,test=200"
backend = "cpu"
targets = [0.3, 1]
[base]
epochs = 12
[grid]
partitions = [1, 2]
seed = [0, 1]
"#;

fn gcnsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().unwrap()
}

type Row = HashMap<String, String>;

fn rows(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| headers.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.into(), v.into())).collect())
        .collect()
}

fn num(r: &Row, key: &str) -> f64 {
    r[key].parse().unwrap_or_else(|_| panic!("{key} = {:?}", r[key]))
}

/// The first (epoch, sim_time_s) of `curve` with valid_acc ≥ target, as the cells hold them.
fn first(curve: &[&Row], target: f64) -> (String, Option<f64>) {
    match curve.iter().find(|m| num(m, "valid_acc") >= target) {
        Some(m) => (m["epoch"].clone(), Some(num(m, "sim_time_s"))),
        None => (String::new(), None),
    }
}

fn time_cell(r: &Row, key: &str) -> Option<f64> {
    (!r[key].is_empty()).then(|| num(r, key))
}

#[test]
fn time_to_accuracy_columns_agree_with_metrics_csv() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tta.toml");
    fs::write(&exp, EXPERIMENT).unwrap();
    let out = dir.path().join("out");
    let o = gcnsim(&["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = rows(&out.join("runs.csv"));
    let metrics = rows(&out.join("metrics.csv"));
    assert_eq!(runs.len(), 4);
    let header: Vec<String> =
        csv::Reader::from_path(out.join("runs.csv")).unwrap().headers().unwrap().iter().map(String::from).collect();
    let tail: Vec<&str> = header.iter().rev().take(13).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "round_compute_s",
            "round_exchange_s",
            "round_push_s",
            "round_server_s",
            "round_pull_s",
            "round_wait_s",
            "target_acc_default",
            "epoch_to_default",
            "time_to_default_s",
            "epoch_to_acc_0.3",
            "time_to_acc_0.3_s",
            "epoch_to_acc_1",
            "time_to_acc_1_s",
        ]
    );
    let curve = |id: &str| -> Vec<&Row> { metrics.iter().filter(|m| m["run_id"] == id).collect() };
    for r in &runs {
        let serial = runs.iter().find(|s| s["partitions"] == "1" && s["seed"] == r["seed"]).unwrap();
        let best = curve(&serial["run_id"]).iter().map(|m| num(m, "valid_acc")).fold(f64::MIN, f64::max);
        let target = 0.97 * best;
        assert_eq!(num(r, "target_acc_default"), target, "{}", r["run_id"]);
        let c = curve(&r["run_id"]);
        let (epoch, time) = first(&c, target);
        assert_eq!(
            (r["epoch_to_default"].clone(), time_cell(r, "time_to_default_s")),
            (epoch, time),
            "{}",
            r["run_id"]
        );
        let (epoch, time) = first(&c, 0.3);
        assert!(!epoch.is_empty(), "{} reaches 0.3", r["run_id"]);
        assert_eq!((r["epoch_to_acc_0.3"].clone(), time_cell(r, "time_to_acc_0.3_s")), (epoch, time));
        assert_eq!((r["epoch_to_acc_1"].as_str(), r["time_to_acc_1_s"].as_str()), ("", ""), "never reached: empty");
        // The breakdown tiles each round.
        let parts: f64 = ["compute", "exchange", "push", "server", "pull", "wait"]
            .iter()
            .map(|s| num(r, &format!("round_{s}_s")))
            .sum();
        let per_round = num(r, "sim_seconds_per_round");
        assert!(per_round > 0.0 && (parts - per_round).abs() <= 1e-9 * per_round, "{parts} vs {per_round}");
        assert!(num(r, "round_compute_s") > 0.0 && num(r, "round_server_s") > 0.0);
        if r["partitions"] == "1" {
            assert_eq!(num(r, "round_wait_s"), 0.0, "a serial round has no barrier to wait at");
        }
    }
    assert!(out.join("breakdown.png").is_file() && out.join("breakdown.svg").is_file());
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(printed.contains("to default") && printed.contains("to 0.3"), "{printed}");
}

#[test]
fn bad_targets_are_refused_naming_the_key_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("bad.toml");
    fs::write(&exp, EXPERIMENT.replace("targets = [0.3, 1]", "targets = [0.3, 1.5]")).unwrap();
    let o = gcnsim(&["run", exp.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("targets") && e.contains("1.5"), "{e}");
    for bad in ["0", "x", "0.5,2"] {
        let o = gcnsim(&["train", "--epochs", "1", "--target-acc", bad]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains("--target-acc"), "{bad}: {e}");
    }
}
