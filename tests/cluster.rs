//! The simulated cluster end to end: consistency models, stragglers, failures, versions.

mod common;

use common::csbm;
use gcnsim::backend::cpu::CpuBackend;
use gcnsim::ps::{EventKind, EventLog};
use gcnsim::sim::cluster::{Fate, GradientAccounting};
use gcnsim::sim::{self, Boundary, Consistency, EpochRecord, OnFailure, RunConfig, RunOutcome};

fn config(p: usize, boundary: Boundary, epochs: usize) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.train.epochs = epochs;
    cfg.parallel.partitions = p;
    cfg.parallel.boundary = boundary;
    cfg
}

fn run(ds: &gcnsim::data::Dataset, cfg: &RunConfig) -> (Vec<EpochRecord>, RunOutcome, EventLog) {
    let problem = sim::prepare(ds, cfg).unwrap();
    let mut log = EventLog::default();
    let (records, outcome) = sim::run(&CpuBackend::new(), &problem, cfg, &mut log, &mut |_| {}).unwrap();
    (records, outcome, log)
}

fn learning_columns(r: &EpochRecord) -> [f64; 6] {
    [r.train_loss, r.train_acc, r.valid_loss, r.valid_acc, r.test_loss, r.test_acc]
}

#[test]
fn ssp_with_bound_zero_is_bsp_bit_for_bit() {
    let ds = csbm("csbm:nodes=2000");
    for boundary in [Boundary::Replicate, Boundary::Drop] {
        let bsp = config(4, boundary, 30);
        let mut ssp = bsp.clone();
        ssp.cluster.consistency = Consistency::Ssp;
        ssp.cluster.staleness = 0;
        // Stragglers move the event order of SSP, never its arithmetic when S = 0.
        ssp.cluster.stragglers = "bernoulli:p=0.3,factor=5".into();
        let (a, _, _) = run(&ds, &bsp);
        let (b, o, _) = run(&ds, &ssp);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(learning_columns(x), learning_columns(y), "{boundary:?} round {}", x.epoch);
        }
        assert_eq!(o.gradients.max_staleness, 0);
    }
}

#[test]
fn bsp_arithmetic_ignores_stragglers_and_failures_but_time_does_not() {
    let ds = csbm("csbm:nodes=2000");
    for boundary in [Boundary::Exchange, Boundary::Replicate] {
        let plain = config(4, boundary, 25);
        let mut slowed = plain.clone();
        slowed.cluster.stragglers = "fixed:worker=2,factor=4".into();
        slowed.cluster.fail = vec!["worker=1,at=0.0005,down=0.002".into()];
        let (a, oa, _) = run(&ds, &plain);
        let (b, ob, log) = run(&ds, &slowed);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(learning_columns(x), learning_columns(y), "{boundary:?} round {}", x.epoch);
        }
        assert!(ob.sim_time_s > oa.sim_time_s + 0.002, "{boundary:?}: {} vs {}", ob.sim_time_s, oa.sim_time_s);
        assert!(log.events().iter().any(|e| e.kind == EventKind::Fail));
        let g = &ob.gradients;
        assert_eq!(g.applied, 25 * 4);
        assert_eq!(g.computed, g.applied + g.discarded);
        assert!(a.windows(2).all(|w| w[0].sim_time_s < w[1].sim_time_s), "simulated time moves forward");
    }
}

#[test]
fn ssp_keeps_at_most_s_plus_2_versions_alive_over_200_rounds() {
    let ds = csbm("csbm:nodes=2000");
    for s in [1u32, 3] {
        let mut cfg = config(6, Boundary::Drop, 200);
        cfg.cluster.consistency = Consistency::Ssp;
        cfg.cluster.staleness = s;
        cfg.cluster.stragglers = "bernoulli:p=0.2,factor=8".into();
        let (records, o, log) = run(&ds, &cfg);
        assert_eq!(records.len(), 200);
        assert!(o.max_live_versions <= s as usize + 2, "S={s}: {} versions alive", o.max_live_versions);
        assert!(o.max_live_versions >= 2, "stragglers make workers read older versions");
        assert!(o.gradients.max_staleness <= s as u64 && o.gradients.max_staleness >= 1, "{:?}", o.gradients);
        assert!(records.iter().all(|r| r.live_versions <= s as usize + 2));
        // Versions are released as their last reader pushes: far fewer alive than published.
        let published = log.events().iter().filter(|e| e.kind == EventKind::Publish).count();
        let released = log.events().iter().filter(|e| e.kind == EventKind::Release).count();
        assert!(published - released <= s as usize + 2, "{published} published, {released} released");
    }
}

#[test]
fn asp_applies_every_push_and_staleness_shows() {
    let ds = csbm("csbm:nodes=2000");
    let mut cfg = config(4, Boundary::Drop, 40);
    cfg.cluster.consistency = Consistency::Asp;
    cfg.cluster.stragglers = "fixed:worker=0,factor=6".into();
    let (records, o, _) = run(&ds, &cfg);
    assert_eq!(records.len(), 40);
    assert_eq!(o.gradients.applied, 40 * 4, "a round is P applied gradients");
    assert!(o.gradients.max_staleness >= 3, "the slow worker's gradients are stale: {:?}", o.gradients);
    let last = records.last().unwrap();
    assert!(last.test_acc > 0.6, "ASP still learns: {}", last.test_acc);
    // The slow worker contributes fewer gradients.
    let by = |w: usize| o.trace.gradients.iter().filter(|g| g.partition == w && g.fate == Fate::Applied).count();
    assert!(by(0) * 3 < by(1), "{} vs {}", by(0), by(1));
}

#[test]
fn a_failure_is_detected_in_time_and_accounted_under_ssp_and_asp() {
    let ds = csbm("csbm:nodes=2000");
    for (consistency, on_failure) in [
        (Consistency::Ssp, OnFailure::Wait),
        (Consistency::Ssp, OnFailure::Reassign),
        (Consistency::Asp, OnFailure::Reassign),
    ] {
        let mut cfg = config(4, Boundary::Drop, 60);
        cfg.cluster.consistency = consistency;
        if consistency == Consistency::Ssp {
            cfg.cluster.staleness = 2;
        }
        let (clean, _, _) = run(&ds, &cfg);
        cfg.cluster.fail = vec!["worker=2,at=0.001,down=0.01".into()];
        cfg.cluster.on_failure = on_failure;
        let (h, timeout) = (cfg.cluster.heartbeat, cfg.cluster.heartbeat_timeout);
        let (records, o, log) = run(&ds, &cfg);
        assert_eq!(records.len(), 60, "the run completes");
        let f = &o.failures[0];
        let detected = f.detected_s.expect("down longer than the timeout: detected");
        assert!(detected >= 0.001 + timeout && detected <= 0.001 + timeout + h, "{consistency:?}: {detected}");
        let acc = GradientAccounting::of(&o.trace.gradients);
        assert_eq!(acc, o.gradients);
        assert_eq!(acc.computed, acc.applied + acc.discarded);
        assert!(acc.discarded >= 1, "the failed worker's gradient in flight is discarded");
        // SSP's updates are per clock, so a failure moves time far more than arithmetic; ASP's
        // update order itself changes with the failure, so its trajectory wanders more.
        let gap = (records.last().unwrap().test_acc - clean.last().unwrap().test_acc).abs();
        let limit = if consistency == Consistency::Asp { 0.04 } else { 0.01 };
        assert!(gap <= limit, "{consistency:?} {on_failure:?}: test accuracy moved {gap}");
        let dead = log.events().iter().find(|e| e.kind == EventKind::Dead).expect("a dead event");
        assert_eq!((dead.worker, dead.time_s), (Some(2), detected));
        if on_failure == OnFailure::Reassign {
            assert!(log.events().iter().any(|e| e.kind == EventKind::Reassign && e.time_s == detected));
        }
    }
}

#[test]
fn stragglers_slow_bsp_more_than_ssp_and_asp() {
    let ds = csbm("csbm:nodes=2000");
    let per_round = |consistency: Consistency, stragglers: &str| {
        let mut cfg = config(8, Boundary::Drop, 80);
        cfg.cluster.consistency = consistency;
        cfg.cluster.staleness = 3;
        cfg.cluster.stragglers = stragglers.into();
        let (_, o, _) = run(&ds, &cfg);
        o.sim_seconds_per_round
    };
    let slow = "bernoulli:p=0.1,factor=8";
    let (bsp, ssp, asp) =
        (per_round(Consistency::Bsp, slow), per_round(Consistency::Ssp, slow), per_round(Consistency::Asp, slow));
    eprintln!("per round with stragglers: bsp {bsp:.3e} ssp(3) {ssp:.3e} asp {asp:.3e}");
    assert!(ssp <= 0.6 * bsp && asp <= 0.6 * bsp, "bsp {bsp} ssp {ssp} asp {asp}");
    let (bsp, ssp) = (per_round(Consistency::Bsp, "none"), per_round(Consistency::Ssp, "none"));
    eprintln!("per round without: bsp {bsp:.3e} ssp(3) {ssp:.3e}");
    assert!((ssp / bsp - 1.0).abs() <= 0.1, "bsp {bsp} ssp {ssp}");
}

#[test]
fn same_seed_same_trace() {
    let ds = csbm("csbm:nodes=2000");
    let mut cfg = config(4, Boundary::Drop, 20);
    cfg.cluster.consistency = Consistency::Asp;
    cfg.cluster.stragglers = "lognormal:sigma=0.5".into();
    cfg.cluster.fail = vec!["worker=3,at=0.0008,down=0.003".into()];
    let (a, oa, la) = run(&ds, &cfg);
    let (b, ob, lb) = run(&ds, &cfg);
    let strip = |rs: &[EpochRecord]| rs.iter().map(|r| EpochRecord { wall_ms: 0.0, ..r.clone() }).collect::<Vec<_>>();
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(oa.trace, ob.trace);
    assert_eq!(la.events(), lb.events());
}

/// Per worker, the timeline covers time from 0 without a gap, and a worker does one thing at a
/// time, except that a push travels while the worker computes another partition it hosts.
fn assert_timelines_tile(o: &RunOutcome, what: &str) {
    use gcnsim::sim::cluster::Activity;
    let intervals = o.trace.sorted_intervals();
    let workers = intervals.iter().map(|w| w.worker + 1).max().unwrap_or(0);
    let tol = 1e-15;
    for h in 0..workers {
        let mine: Vec<_> = intervals.iter().filter(|w| w.worker == h).collect();
        assert!(!mine.is_empty(), "{what}: worker {h} has no interval");
        assert_eq!(mine[0].start_s, 0.0, "{what}: worker {h} starts at {}", mine[0].start_s);
        let mut covered = 0.0f64;
        for w in &mine {
            assert!(w.start_s <= covered + tol, "{what}: worker {h} idle in [{covered}, {}]", w.start_s);
            covered = covered.max(w.end_s);
        }
        let solo: Vec<_> = mine.iter().filter(|w| w.activity != Activity::Push).collect();
        for pair in solo.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(b.start_s >= a.end_s - tol, "{what}: worker {h}: {a:?} overlaps {b:?}");
        }
        for push in mine.iter().filter(|w| w.activity == Activity::Push) {
            for other in mine.iter().filter(|w| !std::ptr::eq(*w, push)) {
                let overlap = other.start_s < push.end_s - tol && push.start_s < other.end_s - tol;
                let concurrent = other.activity == Activity::Compute && other.partition != push.partition;
                assert!(!overlap || concurrent, "{what}: worker {h}: {push:?} overlaps {other:?}");
            }
        }
    }
}

#[test]
fn every_worker_timeline_tiles_time() {
    let ds = csbm("csbm:nodes=2000");
    for consistency in [Consistency::Bsp, Consistency::Ssp, Consistency::Asp] {
        for (boundary, on_failure) in [
            (Boundary::Drop, OnFailure::Reassign),
            (Boundary::Drop, OnFailure::Wait),
            (Boundary::Exchange, OnFailure::Wait),
        ] {
            if consistency != Consistency::Bsp && boundary == Boundary::Exchange {
                continue;
            }
            let mut cfg = config(4, boundary, 30);
            cfg.cluster.consistency = consistency;
            cfg.cluster.stragglers = "bernoulli:p=0.2,factor=5".into();
            cfg.cluster.fail = vec!["worker=1,at=0.001,down=0.008".into()];
            cfg.cluster.on_failure = on_failure;
            let (_, o, _) = run(&ds, &cfg);
            assert_timelines_tile(&o, &format!("{consistency:?} {boundary:?} {on_failure:?}"));
        }
    }
}

/// `tests/golden/lockstep_bsp.csv` holds the learning columns of `metrics.csv` as written by the
/// driver before the simulated cluster (commit afd35b2: workers ran one after another, with no
/// clock), for `gcnsim train --epochs 40 --backend cpu ARGS`. The event-driven BSP driver must
/// reproduce them byte for byte, with or without stragglers and as SSP with S = 0.
#[test]
fn bsp_reproduces_the_lockstep_driver_bit_for_bit() {
    use std::collections::BTreeMap;
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/lockstep_bsp.csv");
    let mut reader = csv::Reader::from_path(golden).unwrap();
    let mut expected: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        expected.entry(row[0].to_string()).or_default().push(row.iter().skip(1).map(str::to_string).collect());
    }
    assert_eq!(expected.len(), 8, "{golden}");
    let columns = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "test_loss", "test_acc"];
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (k, (args, rows)) in expected.iter().enumerate() {
        // `--reduce tree` is retired; at P = 3 its pairwise order ((g0 + g1) + g2) is the one
        // `--topology binary_tree` sums in (and flat too), so the learning columns are the same.
        let args = args.replace("--reduce tree", "--topology binary_tree");
        let mut args: Vec<String> = args.split(' ').map(str::to_string).collect();
        if let Some(i) = args.iter().position(|a| a == "cora") {
            let Some(dir) = gcnsim::data::testdata::dataset_dir("cora") else { continue };
            args[i] = dir.to_string_lossy().into_owned();
        }
        // Independent partitions also run with stragglers and as SSP(0): time moves, arithmetic not.
        let independent = args.iter().any(|a| a == "replicate" || a == "drop");
        let variants: &[&[&str]] = if independent {
            &[&[], &["--stragglers", "bernoulli:p=0.3,factor=6"], &["--consistency", "ssp", "--staleness", "0"]]
        } else {
            &[&[]]
        };
        for (v, extra) in variants.iter().enumerate() {
            let out = tmp.path().join(format!("run-{k}-{v}"));
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_gcnsim"))
                .args(["train", "--epochs", "40", "--backend", "cpu", "--out", out.to_str().unwrap()])
                .args(&args)
                .args(*extra)
                .output()
                .unwrap();
            assert!(o.status.success(), "{args:?} {extra:?}: {}", String::from_utf8_lossy(&o.stderr));
            let mut reader = csv::Reader::from_path(out.join("metrics.csv")).unwrap();
            let headers = reader.headers().unwrap().clone();
            let index: Vec<usize> =
                columns.iter().map(|c| headers.iter().position(|h| h == *c).expect("column")).collect();
            let got: Vec<Vec<String>> = reader
                .records()
                .map(|r| {
                    let r = r.unwrap();
                    index.iter().map(|&i| r[i].to_string()).collect()
                })
                .collect();
            assert_eq!(got.len(), rows.len(), "{args:?} {extra:?}");
            for (g, want) in got.iter().zip(rows) {
                assert_eq!(g, want, "{args:?} {extra:?}: epoch {}", want[0]);
            }
            compared += 1;
        }
    }
    assert!(compared >= 8, "only {compared} runs compared");
}

/// `compute_time = measured` times each kernel as the CPU backend runs it: BSP's arithmetic is
/// unchanged, the clock follows this machine.
#[test]
fn measured_compute_time_moves_the_clock_not_the_arithmetic() {
    use gcnsim::sim::cluster::ComputeTime;
    let ds = csbm("csbm:nodes=2000");
    let model = config(4, Boundary::Replicate, 10);
    let mut measured = model.clone();
    measured.cluster.compute_time = ComputeTime::Measured;
    let (a, oa, _) = run(&ds, &model);
    let (b, ob, _) = run(&ds, &measured);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(learning_columns(x), learning_columns(y), "round {}", x.epoch);
    }
    assert!(ob.sim_time_s > 0.0 && ob.sim_time_s != oa.sim_time_s, "{} vs {}", ob.sim_time_s, oa.sim_time_s);
    let computes = ob.trace.intervals.iter().filter(|w| w.activity == gcnsim::sim::cluster::Activity::Compute);
    assert!(computes.clone().count() >= 40 && computes.clone().all(|w| w.end_s > w.start_s));
    assert!(measured.label().contains("measured"), "{}", measured.label());
}
