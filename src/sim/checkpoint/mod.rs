//! Checkpoints: the whole state of a BSP run between two rounds — the server's weights and every
//! live version, the optimizer's state and step, the stale boundary buffers, the robust server's
//! centre, the records, events and cluster trace so far, and the simulated cluster (clock, link
//! occupancy, failures handled, straggler draws used). Every random number is a counter-based
//! hash of (seed, epoch, …) or of the straggler draws counted here, so the epoch and those counts
//! are the RNG position. A resumed run continues bit for bit: its `metrics.csv` is byte-identical
//! to an uninterrupted run's.
//!
//! SSP and ASP runs have gradients in flight at every moment; their checkpoints are not built
//! (refused with a message).

pub mod file;
#[cfg(test)]
mod fuzz_tests;
pub mod validate;

use std::path::PathBuf;

pub use file::CheckpointError;
pub use validate::{validate, Expected, InvalidState};

use super::cluster::ClusterTrace;
use super::EpochRecord;
use crate::backend::BackendChoice;
use crate::model::partitioned::StaleState;
use crate::ps::optimizer::OptimizerState;
use crate::ps::weights::StoreState;
use crate::ps::Event;
use crate::tensor::HostMatrix;

/// The checkpoint's name in a run's `--out` folder.
pub const FILE_NAME: &str = "checkpoint.bin";

/// What a checkpoint belongs to; `gcnsim resume` rebuilds the run from it and checks that the
/// dataset it loads is the one trained on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunIdentity {
    pub gcnsim_version: String,
    /// As given to `--dataset`.
    pub dataset: String,
    /// Nodes, edges, features, classes and split sizes of the prepared problem.
    pub dataset_fingerprint: String,
    pub backend_choice: BackendChoice,
    /// The run's [`super::RunConfig`] as JSON (the text `summary.json` holds).
    pub config_json: String,
    pub checkpoint_every: u32,
}

/// The BSP loop's own state between rounds (`sim::rounds`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundsState {
    /// `Fabric::busy_until`: when each link is free.
    pub links: Vec<f64>,
    /// When each worker holds the newest version.
    pub weights_at: Vec<f64>,
    pub assignment: Vec<usize>,
    pub down_until: Vec<Option<f64>>,
    pub registered: Vec<f64>,
    /// Straggler draws each worker has used.
    pub host_steps: Vec<u64>,
    /// Failures of the schedule already applied.
    pub next_failure: usize,
    pub end_time: f64,
    pub down_for_good: Vec<(usize, f64)>,
}

/// Everything a run needs to continue after `epoch` rounds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainerState {
    /// Rounds completed.
    pub epoch: u32,
    /// The backend that computed them (`Backend::describe`): bits differ between backends.
    pub backend: String,
    pub store: StoreState,
    pub optimizer: OptimizerState,
    pub stale: Option<StaleState>,
    pub robust_centre: Option<HostMatrix>,
    /// The embedding table, its optimizer state and its rows' bookkeeping.
    pub embedding: Option<crate::ps::embedding::EmbeddingState>,
    /// With `compress_push`: the workers' error-feedback residuals and PowerSGD's Q.
    #[serde(default)]
    pub push: Option<crate::compress::push::PushState>,
    pub records: Vec<EpochRecord>,
    pub events: Vec<Event>,
    pub trace: ClusterTrace,
    pub start_norm: f32,
    pub max_live_versions: usize,
    pub pair_bytes: Vec<Vec<u64>>,
    pub rounds: RoundsState,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub identity: RunIdentity,
    pub state: TrainerState,
}

impl Checkpoint {
    pub fn read(path: &std::path::Path) -> Result<Self, CheckpointError> {
        let c: Checkpoint = file::read(path)?;
        let ours = env!("CARGO_PKG_VERSION");
        if c.identity.gcnsim_version != ours {
            return Err(CheckpointError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "written by gcnsim {}, this is gcnsim {ours}: resume with the version that wrote it",
                    c.identity.gcnsim_version
                ),
            });
        }
        Ok(c)
    }
}

/// Where and how often a run writes checkpoints.
#[derive(Clone, Debug)]
pub struct CheckpointPlan {
    pub path: PathBuf,
    pub every: u32,
    pub identity: RunIdentity,
}

/// A run's persistence: the checkpoints it writes and the state it resumes from.
#[derive(Clone, Debug, Default)]
pub struct Persistence {
    pub checkpoint: Option<CheckpointPlan>,
    pub resume: Option<TrainerState>,
}

/// Checkpoints are taken between BSP rounds: other consistency models are refused, naming the key.
pub fn supported(cfg: &super::RunConfig) -> Result<(), super::ConfigError> {
    let consistency = cfg.cluster.consistency;
    if consistency == super::Consistency::Bsp {
        return Ok(());
    }
    Err(super::ConfigError {
        key: "checkpoint_every".into(),
        message: format!(
            "checkpoints are taken between BSP rounds; under {} gradients are in flight at every moment and their \
             checkpoints are not built",
            consistency.name()
        ),
    })
}

impl Persistence {
    pub fn is_none(&self) -> bool {
        self.checkpoint.is_none() && self.resume.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::data::DatasetSpec;
    use crate::graph::partition::PartitionerKind;
    use crate::ps::EventLog;
    use crate::sim::{self, Boundary, RunConfig, RunOutcome};

    fn identity(cfg: &RunConfig, every: u32) -> RunIdentity {
        RunIdentity {
            gcnsim_version: env!("CARGO_PKG_VERSION").into(),
            dataset: "csbm:nodes=2000".into(),
            dataset_fingerprint: String::new(),
            backend_choice: BackendChoice::Cpu,
            config_json: serde_json::to_string(cfg).unwrap(),
            checkpoint_every: every,
        }
    }

    fn without_wall_time(records: Vec<EpochRecord>) -> Vec<EpochRecord> {
        records.into_iter().map(|r| EpochRecord { wall_ms: 0.0, ..r }).collect()
    }

    type Run = (Vec<EpochRecord>, RunOutcome, Vec<Event>);

    fn run(cfg: &RunConfig, persistence: Persistence) -> Run {
        let ds = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
        let problem = sim::prepare(&ds, cfg).unwrap();
        let mut log = EventLog::new();
        let (records, mut outcome) =
            sim::run_persistent(&CpuBackend::new(), &problem, cfg, &mut log, &mut |_| {}, persistence).unwrap();
        outcome.mean_epoch_ms = 0.0;
        (without_wall_time(records), outcome, log.into_events())
    }

    /// Runs `cfg` whole, writing a checkpoint after round `at` (the only one: `at` > epochs / 2),
    /// then resumes from that checkpoint: the records, events, cluster trace and outcome are equal.
    fn resumes_identically(name: &str, cfg: &RunConfig, at: u32) -> TrainerState {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let plan = CheckpointPlan { path: path.clone(), every: at, identity: identity(cfg, at) };
        let whole = run(cfg, Persistence { checkpoint: Some(plan.clone()), resume: None });
        let plain = run(cfg, Persistence::default());
        assert_eq!(whole, plain, "{name}: writing checkpoints changed the run");
        let c = Checkpoint::read(&path).unwrap();
        assert_eq!(c.state.epoch, at, "{name}");
        assert_eq!(c.state.records.len(), at as usize, "{name}");
        let resumed = run(cfg, Persistence { checkpoint: Some(plan), resume: Some(c.state.clone()) });
        assert_eq!(resumed.0, whole.0, "{name}: records differ after resuming");
        assert_eq!(resumed.2, whole.2, "{name}: events differ after resuming");
        // The per-class kernel seconds count what this process ran: after a resume, only the
        // rounds since it (a measurement aid for `validate`, not a result).
        let (mut resumed_outcome, mut whole_outcome) = (resumed.1.clone(), whole.1.clone());
        assert!(
            resumed_outcome.compute_by_class.values().sum::<f64>()
                < whole_outcome.compute_by_class.values().sum::<f64>()
        );
        resumed_outcome.compute_by_class.clear();
        whole_outcome.compute_by_class.clear();
        resumed_outcome.compute_by_op_after_first_round.clear();
        whole_outcome.compute_by_op_after_first_round.clear();
        assert_eq!(resumed_outcome, whole_outcome, "{name}: outcome differs after resuming");
        assert_eq!(whole.0.len(), cfg.train.epochs, "{name}");
        c.state
    }

    fn config(p: usize, boundary: Boundary) -> RunConfig {
        let mut cfg = RunConfig::default();
        cfg.train.epochs = 12;
        cfg.parallel.partitions = p;
        cfg.parallel.boundary = boundary;
        cfg.parallel.partitioner = PartitionerKind::Random;
        cfg
    }

    #[test]
    fn resumed_runs_equal_uninterrupted_ones() {
        resumes_identically("serial", &config(1, Boundary::Exchange), 7);
        resumes_identically("exchange", &config(4, Boundary::Exchange), 7);
        let mut stale = config(3, Boundary::Stale);
        stale.train.lr_schedule = "cosine:warmup=3".parse().unwrap();
        stale.train.optimizer = crate::ps::OptimizerKind::Momentum.into();
        let state = resumes_identically("stale, momentum, cosine", &stale, 7);
        assert!(state.stale.is_some_and(|s| s.rows_ready && s.grads_ready));
        let mut kept = config(3, Boundary::Replicate);
        kept.parallel.keep_versions = true;
        let state = resumes_identically("replicate, every version kept", &kept, 8);
        assert_eq!(state.store.versions.len(), 9, "versions 0–8 are live");
        let mut cluster = config(4, Boundary::Drop);
        cluster.cluster.stragglers = "bernoulli:p=0.3,factor=5".into();
        cluster.cluster.fail = vec!["worker=1,at=0.0005,down=0.002".into(), "worker=2,at=0.02".into()];
        cluster.cluster.on_failure = crate::sim::OnFailure::Reassign;
        let state = resumes_identically("stragglers and failures", &cluster, 7);
        // The first failure struck before the checkpoint; the schedule resumes after it.
        assert_eq!((state.trace.failures.len(), state.rounds.next_failure), (1, 1));
        assert!(state.rounds.host_steps.iter().all(|&s| s >= 7));
        let mut robust = config(5, Boundary::Replicate);
        robust.parallel.aggregate = "centered_clipping".parse().unwrap();
        robust.byzantine.byzantine = 1;
        robust.byzantine.attack = "gaussian".parse().unwrap();
        let state = resumes_identically("Byzantine worker, centered clipping", &robust, 9);
        let mut compressed = config(4, Boundary::Drop);
        compressed.parallel.compress_push = "qsgd:levels=4".parse().unwrap();
        compressed.parallel.compress_pull = crate::compress::PullCompression::Fp16;
        resumes_identically("stateless push codec, fp16 pulls", &compressed, 7);
        compressed.parallel.compress_push = "topk:ratio=0.05,ef".parse().unwrap();
        let ef = resumes_identically("top-k with error feedback", &compressed, 7);
        assert_eq!(ef.push.as_ref().map(|p| (p.residuals.len(), p.q.len())), Some((8, 0)), "4 workers × 2 tensors");
        compressed.parallel.compress_push = "powersgd:rank=1,ef".parse().unwrap();
        let powersgd = resumes_identically("PowerSGD with error feedback", &compressed, 7);
        let push = powersgd.push.expect("the checkpoint holds the encoders' state");
        assert!(push.residuals.len() == push.q.len() && !push.q.is_empty());
        assert!(state.robust_centre.is_some());
        // Embeddings with pruning: rows evicted before the checkpoint (rounds 4, 7) and after it (round 10).
        let mut embedded = config(3, Boundary::Exchange);
        embedded.train.embedding_dim = 8;
        embedded.train.prune_after = Some(3);
        embedded.train.optimizer = crate::ps::OptimizerKind::Adagrad.into();
        embedded.cluster.servers = 3;
        let state = resumes_identically("embeddings pruned after 3 epochs, 3 server shards", &embedded, 7);
        assert_eq!(state.rounds.links.len(), 2 * 3 + 2 * 3, "worker links and each shard's");
        let table = state.embedding.expect("the checkpoint holds the embedding table");
        assert!(table.generation.contains(&2), "rows re-initialized twice before the checkpoint");
        assert_eq!(table.step, 7);
    }

    /// The edited checkpoints (and more), each refused by `validate` naming its field,
    /// and through `run_persistent` as an error, never a panic.
    #[test]
    fn hostile_checkpoints_are_refused_by_field() {
        let mut cfg = config(4, Boundary::Drop);
        cfg.cluster.fail = vec!["worker=1,at=0.0005,down=0.002".into(), "worker=2,at=0.02".into()];
        cfg.cluster.on_failure = crate::sim::OnFailure::Reassign;
        let good = resumes_identically("for hostile edits", &cfg, 7);
        let expected = Expected::from_config(&cfg, 4).unwrap();
        validate(&good, &expected).unwrap();
        type Edit = fn(&mut TrainerState);
        let edits: [(&str, Edit, &str); 17] = [
            ("store.versions", |s| s.store.versions.clear(), "live versions []"),
            ("pair_bytes", |s| s.pair_bytes.clear(), "0 entries, but the run has 4"),
            ("records", |s| s.epoch = 2, "one record per round"),
            ("epoch", |s| s.epoch = 1000, "1000 rounds done"),
            ("epoch", |s| s.epoch = u32::MAX, "4294967295 rounds done"),
            ("rounds.assignment[1]", |s| s.rounds.assignment[1] = 7, "worker 7, but the run has 4 workers (0..4)"),
            ("rounds.down_for_good[0]", |s| s.rounds.down_for_good.push((9, 0.1)), "worker 9"),
            ("rounds.weights_at[2]", |s| s.rounds.weights_at[2] = f64::NAN, "time NaN s"),
            ("rounds.links", |s| s.rounds.links.pop().map_or((), drop), "9 entries"),
            ("rounds.end_time", |s| s.rounds.end_time = f64::INFINITY, "time inf s"),
            ("store.master[0]", |s| s.store.master[0].rows += 1, "matrix holding"),
            ("store.master[1]", |s| s.store.master[1].data[0] = f32::INFINITY, "value 0 is inf"),
            ("optimizer.step", |s| s.optimizer.step = 3, "once per round"),
            ("records[3].epoch", |s| s.records[3].epoch = 9, "epoch 9"),
            ("rounds.host_steps", |s| s.rounds.host_steps[0] = u64::MAX, "straggler draws"),
            ("trace.intervals[0].worker", |s| s.trace.intervals[0].worker = 4, "worker 4"),
            ("trace.gradients[0].applied_to", |s| s.trace.gradients[0].staleness = Some(u64::MAX), "staleness"),
        ];
        for (field, edit, needle) in edits {
            let mut s = good.clone();
            edit(&mut s);
            let e = validate(&s, &expected).expect_err(field).to_string();
            assert!(e.contains(&format!("`{field}` is inconsistent")) && e.contains(needle), "{field}: {e}");
        }
        // The stored length lowered below the rounds done.
        let mut shorter = cfg.clone();
        shorter.train.epochs = 7;
        let e = validate(&good, &Expected::from_config(&shorter, 4).unwrap()).unwrap_err().to_string();
        assert!(e.contains("`epoch`") && e.contains("7 epochs"), "{e}");
        // A stored configuration of 10^14 workers: refused by the lists the state holds, and
        // resolving it for the expectations does not overflow.
        let mut many = cfg.clone();
        many.parallel.partitions = usize::MAX / 2 + 7;
        let e = validate::workers_match(&good, many.parallel.partitions).unwrap_err().to_string();
        assert!(e.contains("`rounds.weights_at`") && e.contains("4 entries"), "{e}");
        assert!(validate::workers_match(&good, 4).is_ok());
        let x = Expected::from_config(&many, many.parallel.partitions).unwrap();
        assert!(validate(&good, &x).unwrap_err().to_string().contains("`rounds"));
        // A worker registered after a failure still to come (the heartbeat's precondition).
        let mut late = good.clone();
        late.rounds.registered[2] = 0.5;
        let e = validate(&late, &expected).unwrap_err().to_string();
        assert!(e.contains("`rounds.registered[2]`"), "{e}");
        // Through the driver: an error naming the field, not "holds 4, needs 4".
        let mut s = good.clone();
        s.rounds.assignment[1] = 7;
        let ds = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
        let problem = sim::prepare(&ds, &cfg).unwrap();
        let persistence = Persistence { checkpoint: None, resume: Some(s) };
        let e = sim::run_persistent(&CpuBackend::new(), &problem, &cfg, &mut EventLog::new(), &mut |_| {}, persistence)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`rounds.assignment[1]`") && e.contains("worker 7") && !e.contains("needs 4"), "{e}");
    }

    #[test]
    fn relaxed_consistency_refuses_checkpoints() {
        let mut cfg = config(3, Boundary::Drop);
        cfg.cluster.consistency = crate::sim::Consistency::Asp;
        let ds = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
        let problem = sim::prepare(&ds, &cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let plan = CheckpointPlan { path: dir.path().join(FILE_NAME), every: 2, identity: identity(&cfg, 2) };
        let persistence = Persistence { checkpoint: Some(plan), resume: None };
        let e = sim::run_persistent(&CpuBackend::new(), &problem, &cfg, &mut EventLog::new(), &mut |_| {}, persistence)
            .unwrap_err()
            .to_string();
        assert!(e.contains("checkpoint_every") && e.contains("asp"), "{e}");
    }
}
