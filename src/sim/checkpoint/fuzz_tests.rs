//! The checkpoint fuzz target: real payloads of five configurations, mutated at byte level and
//! at field level (decode, mutate fields, encode), go through what `gcnsim resume` does (decode,
//! stored configuration, validate, declared dataset, fingerprint, resume). Every case either is
//! refused with an error or resumes to a run whose records are 1..epochs in order; an unchanged
//! payload resumes to exactly the uninterrupted run. The checksum is not in the way: the payload
//! is decoded directly, as if its CRC had been recomputed.
//!
//! `cargo test` runs 300 cases of each; `GCNSIM_FUZZ_CASES=1000000 cargo test --release --lib
//! checkpoint_fuzz_long -- --ignored --nocapture` is the long run (both targets, in parallel).
//! Add `--config 'profile.release.package.gcnsim.overflow-checks=true'` to catch the integer
//! overflows a debug build would panic on (only gcnsim is rebuilt); the long runs were made so.

use std::sync::OnceLock;

use super::*;
use crate::backend::cpu::CpuBackend;
use crate::data::{Dataset, DatasetSpec};
use crate::fuzz::{self, Mutator, Outcome};
use crate::graph::partition::PartitionerKind;
use crate::ps::EventLog;
use crate::sim::{self, Boundary, Problem, RunConfig};

const DATASET: &str = "csbm:nodes=800,valid=200,test=300";
const EPOCHS: usize = 8;
const AT: u32 = 5;

struct Target {
    name: &'static str,
    cfg: RunConfig,
    problem: Problem,
    payload: Vec<u8>,
    /// The uninterrupted run's records (wall time zeroed).
    whole: Vec<EpochRecord>,
}

struct Targets {
    ds: Dataset,
    targets: Vec<Target>,
}

fn config(p: usize, boundary: Boundary) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.train.epochs = EPOCHS;
    cfg.parallel.partitions = p;
    cfg.parallel.boundary = boundary;
    cfg.parallel.partitioner = PartitionerKind::Random;
    cfg
}

fn configs() -> Vec<(&'static str, RunConfig)> {
    let exchange = config(4, Boundary::Exchange);
    let mut stale = config(3, Boundary::Stale);
    stale.parallel.keep_versions = true;
    stale.train.optimizer = crate::ps::OptimizerKind::Momentum.into();
    let mut cluster = config(4, Boundary::Drop);
    cluster.cluster.stragglers = "bernoulli:p=0.3,factor=5".into();
    cluster.cluster.fail = vec!["worker=1,at=0.0005,down=0.002".into(), "worker=2,at=0.02".into()];
    cluster.cluster.on_failure = crate::sim::OnFailure::Reassign;
    let mut robust = config(5, Boundary::Replicate);
    robust.parallel.aggregate = "centered_clipping".parse().unwrap();
    robust.byzantine.byzantine = 1;
    robust.byzantine.attack = "gaussian".parse().unwrap();
    let mut embedded = config(3, Boundary::Exchange);
    embedded.train.embedding_dim = 8;
    embedded.train.prune_after = Some(3);
    embedded.train.optimizer = crate::ps::OptimizerKind::Adagrad.into();
    embedded.cluster.servers = 2;
    vec![
        ("exchange", exchange),
        ("stale, every version kept", stale),
        ("stragglers and failures", cluster),
        ("Byzantine, centered clipping", robust),
        ("embeddings, 2 shards", embedded),
    ]
}

fn without_wall_time(records: Vec<EpochRecord>) -> Vec<EpochRecord> {
    records.into_iter().map(|r| EpochRecord { wall_ms: 0.0, ..r }).collect()
}

/// Each configuration run whole, writing one checkpoint after round `AT`.
fn targets() -> &'static Targets {
    static TARGETS: OnceLock<Targets> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let ds = DATASET.parse::<DatasetSpec>().unwrap().load().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let targets = configs()
            .into_iter()
            .map(|(name, cfg)| {
                let problem = sim::prepare(&ds, &cfg).unwrap();
                let path = dir.path().join(format!("{}.bin", name.len()));
                let identity = RunIdentity {
                    gcnsim_version: env!("CARGO_PKG_VERSION").into(),
                    dataset: DATASET.into(),
                    dataset_fingerprint: ds.fingerprint(),
                    backend_choice: BackendChoice::Cpu,
                    config_json: serde_json::to_string(&cfg).unwrap(),
                    checkpoint_every: AT,
                };
                let plan = CheckpointPlan { path: path.clone(), every: AT, identity };
                let persistence = Persistence { checkpoint: Some(plan), resume: None };
                let (records, _) = sim::run_persistent(
                    &CpuBackend::new(),
                    &problem,
                    &cfg,
                    &mut EventLog::new(),
                    &mut |_| {},
                    persistence,
                )
                .unwrap();
                let bytes = std::fs::read(&path).unwrap();
                let payload = bytes[24..].to_vec();
                assert_eq!(file::framed(&payload), bytes, "the header is 24 bytes");
                Target { name, cfg, problem, payload, whole: without_wall_time(records) }
            })
            .collect();
        Targets { ds, targets }
    })
}

/// A short label of an error: the checkpoint field it names (indices dropped), else its start.
fn label(e: &str) -> String {
    if let Some(start) = e.find("the checkpoint's `") {
        let rest = &e[start + 18..];
        let field = &rest[..rest.find('`').unwrap_or(rest.len())];
        let mut out = String::new();
        let mut depth = 0;
        for c in field.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        return format!("validate: {}", out.split(' ').next().unwrap_or(""));
    }
    let cut: String = e.chars().take_while(|c| !c.is_ascii_digit() && *c != ':').take(48).collect();
    cut.trim().to_string()
}

/// What `gcnsim resume` does with a payload, without files: refused, or resumed and checked.
fn resume(t: &Target, ds: &Dataset, payload: &[u8]) -> Outcome {
    let c: Checkpoint = match file::decode(payload) {
        Ok(c) => c,
        Err(_) => return Outcome::refused("decode"),
    };
    let id = &c.identity;
    if id.gcnsim_version != env!("CARGO_PKG_VERSION") {
        return Outcome::refused("gcnsim version");
    }
    let Ok(cfg) = RunConfig::from_stored_json(&id.config_json) else {
        return Outcome::refused("configuration json");
    };
    if let Err(e) = validate::workers_match(&c.state, cfg.parallel.partitions) {
        return Outcome::refused(label(&e.to_string()));
    }
    if cfg.validate().is_err() || supported(&cfg).is_err() {
        return Outcome::refused("configuration");
    }
    let expected = match Expected::from_config(&cfg, cfg.parallel.partitions) {
        Ok(x) => x,
        Err(_) => return Outcome::refused("configuration"),
    };
    if let Err(e) = validate(&c.state, &expected) {
        return Outcome::refused(label(&e.to_string()));
    }
    let Ok(spec) = id.dataset.parse::<DatasetSpec>() else { return Outcome::refused("dataset spec") };
    if let Err(e) = validate::declared_dataset(&spec, &id.dataset_fingerprint) {
        return Outcome::refused(label(&e.to_string()));
    }
    let loaded;
    let ds = if id.dataset == DATASET {
        ds
    } else {
        match spec.load() {
            Ok(d) => {
                loaded = d;
                &loaded
            }
            Err(_) => return Outcome::refused("dataset load"),
        }
    };
    if ds.fingerprint() != id.dataset_fingerprint {
        return Outcome::refused("dataset fingerprint");
    }
    if id.backend_choice != BackendChoice::Cpu {
        // Another backend would resume bit-differently; the driver refuses it by name.
        return Outcome::refused("backend choice");
    }
    let prepared;
    let problem = if cfg == t.cfg {
        &t.problem
    } else {
        match sim::prepare(ds, &cfg) {
            Ok(p) => {
                prepared = p;
                &prepared
            }
            Err(e) => return Outcome::refused(label(&e.to_string())),
        }
    };
    let epochs = cfg.train.epochs;
    let persistence = Persistence { checkpoint: None, resume: Some(c.state) };
    match sim::run_persistent(&CpuBackend::new(), problem, &cfg, &mut EventLog::new(), &mut |_| {}, persistence) {
        Err(e) => Outcome::refused(label(&e.to_string())),
        Ok((records, outcome)) => {
            let numbers: Vec<u32> = records.iter().map(|r| r.epoch).collect();
            let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
            assert_eq!(numbers, expected, "{}: records out of order", t.name);
            assert!(
                records.len() == epochs || outcome.stopped_early,
                "{}: {} records of {epochs} epochs without an early stop",
                t.name,
                records.len()
            );
            if payload == t.payload.as_slice() {
                assert!(without_wall_time(records) == t.whole, "{}: the unchanged payload resumed differently", t.name);
            }
            Outcome::Accepted
        }
    }
}

fn index(m: &mut Mutator, len: usize) -> Option<usize> {
    (len > 0).then(|| m.below(len))
}

/// A worker id: mostly near the run's, sometimes far.
fn id(m: &mut Mutator) -> usize {
    if m.chance(0.8) {
        m.below(8)
    } else {
        m.interesting_u64() as usize
    }
}

fn f64_value(m: &mut Mutator, old: f64) -> f64 {
    match m.below(3) {
        0 => m.interesting_f64(),
        1 => old * (1.0 + (m.below(5) as f64 - 2.0) * 1e-3),
        _ => old + m.interesting_f64().abs().min(1.0),
    }
}

fn matrix(m: &mut Mutator, h: &mut HostMatrix) {
    match m.below(4) {
        0 => h.rows = h.rows.wrapping_add(m.below(3)).wrapping_sub(1),
        1 => h.cols = if m.chance(0.5) { m.interesting_u64() as usize } else { h.cols.wrapping_add(1) },
        2 => {
            if let Some(i) = index(m, h.data.len()) {
                h.data[i] = m.interesting_f32();
            }
        }
        _ => {
            let n = m.below(h.data.len() + 1);
            h.data.truncate(n);
        }
    }
}

/// One field-level mutation of a decoded checkpoint (22 kinds).
fn mutate_field(m: &mut Mutator, c: &mut Checkpoint) -> &'static str {
    let s = &mut c.state;
    let r = &mut s.rounds;
    match m.below(22) {
        0 => {
            s.epoch = if m.chance(0.5) {
                m.interesting_u64() as u32
            } else {
                s.epoch.wrapping_add(m.below(3) as u32).wrapping_sub(1)
            };
            "epoch"
        }
        1 => {
            match (m.below(4), index(m, s.records.len())) {
                (0, Some(i)) => drop(s.records.remove(i)),
                (1, Some(i)) => s.records.insert(i, s.records[i].clone()),
                (2, Some(i)) => s.records[i].sim_time_s = f64_value(m, s.records[i].sim_time_s),
                (_, Some(i)) => s.records[i].version = m.interesting_u64(),
                _ => {}
            }
            "records"
        }
        2 => {
            let n = s.store.versions.len();
            match (m.below(4), index(m, n)) {
                (0, _) => s.store.versions.clear(),
                (1, Some(i)) => s.store.versions[i].0 = m.interesting_u64(),
                (2, Some(i)) => s.store.versions.push(s.store.versions[i].clone()),
                (_, Some(i)) => {
                    if let Some(l) = index(m, s.store.versions[i].1.len()) {
                        matrix(m, &mut s.store.versions[i].1[l]);
                    }
                }
                _ => {}
            }
            "store.versions"
        }
        3 => {
            s.store.next_version = m.interesting_u64();
            "store.next_version"
        }
        4 => {
            if let Some(l) = index(m, s.store.master.len()) {
                if m.chance(0.2) {
                    s.store.master.remove(l);
                } else {
                    matrix(m, &mut s.store.master[l]);
                }
            }
            "store.master"
        }
        5 => {
            if m.chance(0.3) {
                s.optimizer.step = m.interesting_u64() as u32;
            } else if let Some(l) = index(m, s.optimizer.slots.len()) {
                match index(m, s.optimizer.slots[l].len()) {
                    Some(k) if m.chance(0.8) => matrix(m, &mut s.optimizer.slots[l][k]),
                    _ => s.optimizer.slots[l].push(HostMatrix::zeros(2, 3)),
                }
            }
            "optimizer"
        }
        6 => {
            match s.stale.as_mut() {
                Some(st) => match m.below(4) {
                    0 => st.current = id(m),
                    1 => st.grads.truncate(m.below(3)),
                    2 => st.rows_ready = !st.rows_ready,
                    _ => {
                        if let Some(l) = index(m, st.rows.len()) {
                            matrix(m, &mut st.rows[l]);
                        } else {
                            s.stale = None;
                        }
                    }
                },
                None => {
                    s.stale = Some(crate::model::partitioned::StaleState {
                        rows: vec![HostMatrix::zeros(1, 1)],
                        grads: Vec::new(),
                        current: 0,
                        rows_ready: true,
                        grads_ready: true,
                    })
                }
            }
            "stale"
        }
        7 => {
            match s.robust_centre.as_mut() {
                Some(h) if m.chance(0.7) => matrix(m, h),
                Some(_) => s.robust_centre = None,
                None => s.robust_centre = Some(HostMatrix::zeros(1, m.below(4))),
            }
            "robust_centre"
        }
        8 => {
            match s.embedding.as_mut() {
                Some(e) => match m.below(5) {
                    0 => e.step = m.interesting_u64() as u32,
                    1 => matrix(m, &mut e.table),
                    2 => {
                        if let Some(i) = index(m, e.last_touch.len()) {
                            e.last_touch[i] = m.interesting_u64() as u32;
                        }
                    }
                    3 => {
                        e.generation.pop();
                    }
                    _ => {
                        if let Some(k) = index(m, e.slots.len()) {
                            matrix(m, &mut e.slots[k]);
                        } else {
                            s.embedding = None;
                        }
                    }
                },
                None => {
                    s.embedding = Some(crate::ps::embedding::EmbeddingState {
                        table: HostMatrix::zeros(3, 2),
                        slots: Vec::new(),
                        step: s.epoch,
                        last_touch: vec![0; 3],
                        generation: vec![0; 3],
                    })
                }
            }
            "embedding"
        }
        9 => {
            if let Some(i) = index(m, s.events.len()) {
                match m.below(5) {
                    0 => drop(s.events.remove(i)),
                    1 => s.events[i].seq = m.interesting_u64(),
                    2 => s.events[i].worker = Some(id(m)),
                    3 => s.events[i].time_s = f64_value(m, s.events[i].time_s),
                    _ => s.events[i].epoch = m.interesting_u64() as u32,
                }
            }
            "events"
        }
        10 => {
            let tr = &mut s.trace;
            match m.below(7) {
                6 => {
                    if let Some(i) = index(m, tr.gradients.len()) {
                        tr.gradients[i].staleness = Some(m.interesting_u64());
                    }
                }
                0 => {
                    if let Some(i) = index(m, tr.intervals.len()) {
                        tr.intervals[i].worker = id(m);
                    }
                }
                1 => {
                    if let Some(i) = index(m, tr.intervals.len()) {
                        tr.intervals[i].partition = Some(id(m));
                    }
                }
                2 => {
                    if let Some(i) = index(m, tr.intervals.len()) {
                        tr.intervals[i].end_s = f64_value(m, tr.intervals[i].end_s);
                    }
                }
                3 => {
                    if let Some(i) = index(m, tr.gradients.len()) {
                        tr.gradients[i].partition = id(m);
                    }
                }
                4 => {
                    tr.failures.pop();
                }
                _ => {
                    if let Some(i) = index(m, tr.failures.len()) {
                        tr.failures[i].detected_s = Some(m.interesting_f64());
                    }
                }
            }
            "trace"
        }
        11 => {
            s.start_norm = m.interesting_f32();
            "start_norm"
        }
        12 => {
            s.max_live_versions = s.max_live_versions.wrapping_add(m.below(5)).wrapping_sub(2);
            "max_live_versions"
        }
        13 => {
            match (m.below(3), index(m, s.pair_bytes.len())) {
                (0, _) => s.pair_bytes.clear(),
                (1, Some(q)) => drop(s.pair_bytes[q].pop()),
                (_, Some(q)) => {
                    if let Some(d) = index(m, s.pair_bytes[q].len()) {
                        s.pair_bytes[q][d] = m.interesting_u64();
                    }
                }
                _ => {}
            }
            "pair_bytes"
        }
        14 => {
            match (m.below(3), index(m, r.links.len())) {
                (0, _) => drop(r.links.pop()),
                (1, _) => r.links.push(0.0),
                (_, Some(i)) => r.links[i] = f64_value(m, r.links[i]),
                _ => {}
            }
            "rounds.links"
        }
        15 => {
            let v = if m.chance(0.5) { &mut r.weights_at } else { &mut r.registered };
            if let Some(h) = index(m, v.len()) {
                v[h] = f64_value(m, v[h]);
            } else {
                v.push(0.0);
            }
            "rounds.weights_at/registered"
        }
        16 => {
            r.end_time = f64_value(m, r.end_time);
            "rounds.end_time"
        }
        17 => {
            if let Some(q) = index(m, r.assignment.len()) {
                if m.chance(0.1) {
                    r.assignment.remove(q);
                } else {
                    r.assignment[q] = id(m);
                }
            }
            "rounds.assignment"
        }
        18 => {
            if let Some(h) = index(m, r.down_until.len()) {
                r.down_until[h] = match m.below(3) {
                    0 => None,
                    1 => Some(f64::INFINITY),
                    _ => Some(m.interesting_f64()),
                };
            }
            "rounds.down_until"
        }
        19 => {
            if let Some(h) = index(m, r.host_steps.len()) {
                r.host_steps[h] = if m.chance(0.5) { m.interesting_u64() } else { r.host_steps[h].wrapping_add(1) };
            }
            "rounds.host_steps"
        }
        20 => {
            match m.below(3) {
                0 => r.next_failure = m.interesting_u64() as usize,
                1 => r.down_for_good.push((id(m), m.interesting_f64())),
                _ => drop(r.down_for_good.pop()),
            }
            "rounds.next_failure/down_for_good"
        }
        _ => {
            let id = &mut c.identity;
            match m.below(5) {
                0 => id.dataset = m.mutate_text(&id.dataset),
                1 => id.config_json = m.havoc_text(&id.config_json, 3),
                2 => id.dataset_fingerprint = m.mutate_text(&id.dataset_fingerprint),
                3 => id.checkpoint_every = m.interesting_u64() as u32,
                _ => s.backend = m.mutate_text(&s.backend),
            }
            "identity"
        }
    }
}

fn bytes_case(targets: &Targets, case: u64, m: &mut Mutator) -> Outcome {
    let t = &targets.targets[(case % targets.targets.len() as u64) as usize];
    // Case 0 of each configuration: the unchanged payload.
    if case < targets.targets.len() as u64 {
        return resume(t, &targets.ds, &t.payload);
    }
    let mut payload = t.payload.clone();
    let corpus: Vec<&[u8]> = targets.targets.iter().map(|t| t.payload.as_slice()).collect();
    m.havoc(&mut payload, &corpus, 4);
    resume(t, &targets.ds, &payload)
}

fn fields_case(targets: &Targets, case: u64, m: &mut Mutator) -> Outcome {
    let t = &targets.targets[(case % targets.targets.len() as u64) as usize];
    let mut c: Checkpoint = file::decode(&t.payload).unwrap();
    for _ in 0..1 + m.below(3) {
        mutate_field(m, &mut c);
    }
    resume(t, &targets.ds, &file::encode(&c).unwrap())
}

#[test]
fn mutated_checkpoint_bytes_resume_consistently_or_are_refused() {
    let targets = targets();
    let report =
        fuzz::run_cases("checkpoint bytes", fuzz::case_count(300), 0xc4ec_b175, |case, m| bytes_case(targets, case, m));
    assert!(report.accepted >= targets.targets.len() as u64, "the unchanged payloads resume: {report}");
    assert!(report.refused > report.cases / 10, "the mutations reach the checks: {report}");
}

#[test]
fn mutated_checkpoint_fields_resume_consistently_or_are_refused() {
    let targets = targets();
    let report = fuzz::run_cases("checkpoint fields", fuzz::case_count(300), 0x00f1_e1d5, |case, m| {
        fields_case(targets, case, m)
    });
    assert!(report.refused > report.cases / 2, "most field edits are refused: {report}");
    assert!(report.refusals.keys().filter(|k| k.starts_with("validate: ")).count() >= 10, "{report}");
}

/// The long runs: `GCNSIM_FUZZ_CASES=1000000 cargo test --release --lib checkpoint_fuzz_long --
/// --ignored --nocapture` (each target that many cases; progress on stderr every minute).
#[test]
#[ignore]
fn checkpoint_fuzz_long_bytes() {
    let targets = targets();
    let n = fuzz::case_count(1_000_000);
    let report = fuzz::run_cases("checkpoint bytes (long)", n, 0x0010_c4ec, |case, m| bytes_case(targets, case, m));
    println!("{report}");
}

#[test]
#[ignore]
fn checkpoint_fuzz_long_fields() {
    let targets = targets();
    let n = fuzz::case_count(1_000_000);
    let report = fuzz::run_cases("checkpoint fields (long)", n, 0x0010_f1e1, |case, m| fields_case(targets, case, m));
    println!("{report}");
}
