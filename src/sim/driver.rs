//! The driver: sets up the workers, the parameter server and the simulated cluster, then hands
//! the run to the consistency model's loop: [`super::rounds`] (BSP: every round all workers
//! compute from one version, in any aggregation topology and boundary mode) or
//! [`super::relaxed`] (SSP, ASP: an event queue of pulls, computations and pushes).
//!
//! Either way the arithmetic runs on the backend and the simulated clock only decides its
//! order: compute times come from the roofline of the kernels the backend actually runs
//! ([`super::metered::Metered`]), network times from the α-β fabric (`cost::Fabric`).
//! Evaluation is the simulator's measurement, not the cluster's work: it takes no simulated time.

use std::time::Instant;

use super::checkpoint::{CheckpointError, CheckpointPlan, Persistence, RoundsState, TrainerState};
use super::cluster::{Cluster, ClusterTrace, ComputeTime, GradientAccounting};
use super::config::RunConfig;
use super::metered::Metered;
use super::problem::Problem;
use super::record::{EpochRecord, RunOutcome};
use crate::backend::snapshot::RestoreError;
use crate::backend::{stat, Backend, BackendError, KernelClass, MemCategory, ReduceOrder, Shape, Work, STATS_WIDTH};
use crate::compress::push::{encoded_set_bytes, pull_set_bytes, PushEncoder, WeightPull};
use crate::cost::KernelCost;
use crate::model::{initial_parameters, PartitionedModel};
use crate::ps::embedding::{EmbeddingSettings, EmbeddingTable, WorkerRows};
use crate::ps::robust::{RobustError, RobustOutcome, RobustServer};
use crate::ps::shards::{ShardPlan, ShardTraffic};
use crate::ps::{EventKind, EventLog, Optimizer, PsError, WeightStore};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] super::ConfigError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Protocol(#[from] PsError),
    #[error(transparent)]
    Partition(#[from] crate::graph::partition::PartitionError),
    #[error(transparent)]
    TooLarge(#[from] crate::graph::csr::TooLarge),
    #[error(transparent)]
    Memory(#[from] super::budget::MemoryError),
    #[error("robust aggregation: {0}")]
    Robust(#[from] RobustError),
    #[error("training diverged at round {epoch}: the training loss is {loss}")]
    Diverged { epoch: u32, loss: f64 },
    /// Bounds on every input keep the clock finite; this guard turns a breach into a message
    /// naming the keys that feed the clock instead of a panic deep in the cost model.
    #[error(
        "the simulated clock became {time} s at round {epoch} ({what}); the keys that set it are {keys}: use \
         physically meaningful values"
    )]
    Clock { epoch: u32, what: &'static str, time: f64, keys: &'static str },
    #[error("the simulated cluster stalled after {rounds} rounds at {time:.6} s: no worker can make progress")]
    Stalled { rounds: usize, time: f64 },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("resuming from the checkpoint: {0}")]
    Restore(#[from] RestoreError),
    #[error("resuming from the checkpoint: {0}")]
    InvalidCheckpoint(#[from] super::checkpoint::InvalidState),
}

/// Every key whose value reaches the simulated clock.
pub(crate) const CLOCK_KEYS: &str =
    "device_profile, server_profile, compute_time, network, stragglers, fail, heartbeat and heartbeat_timeout";

/// Stats slots: worker i's evaluation pass in slot i; ‖W0‖² of the evaluated version in slot P,
/// of version 0 in P + 1; training passes from P + 2 on.
pub(crate) fn eval_slot(i: usize) -> usize {
    i
}

/// What every loop shares: the model, the parameter server's state, the log and the records.
pub(crate) struct Trainer<'a, M: Backend> {
    pub b: &'a M,
    pub problem: &'a Problem,
    pub cfg: &'a RunConfig,
    pub cluster: Cluster,
    pub model: PartitionedModel<M>,
    pub store: WeightStore<M>,
    pub optimizer: Optimizer<M>,
    pub aggregated: Vec<M::Matrix>,
    pub grad_scales: Vec<f32>,
    pub agg_weights: Vec<f32>,
    pub stats: M::Stats,
    /// Bytes of one weight set (a pull or a push) in f32.
    pub set_bytes: u64,
    /// Bytes of one worker's gradient set and of one weight set on the wire (`set_bytes`, or
    /// the encoded sizes under `compress_push` / `compress_pull`).
    pub push_bytes: u64,
    pub pull_bytes: u64,
    /// With `compress_push`: the workers' encoders (compression happens on the worker, before
    /// the server, a Byzantine attack included, sees the gradient).
    pub push: Option<PushEncoder<M>>,
    /// With `compress_pull`: the copy of the weights the workers compute from.
    pub pull: Option<WeightPull<M>>,
    pub log: &'a mut EventLog,
    pub trace: ClusterTrace,
    pub records: Vec<EpochRecord>,
    pub on_epoch: &'a mut dyn FnMut(&EpochRecord),
    /// Σ‖p‖² of the decayed tensors (‖W0‖² for the GCN) of the version the current round started
    /// from (the weight-decay term of its training loss).
    pub start_norm: f32,
    /// The parameter tensors weight decay applies to, and where the stats slots for the norms
    /// of all but the first begin (see [`stage_norm`]).
    pub decayed: Vec<usize>,
    pub norm_slots: usize,
    pub max_live_versions: usize,
    pub stopped_early: bool,
    /// Boundary bytes partition q sent partition p, summed over rounds.
    pub pair_bytes: Vec<Vec<u64>>,
    /// With Byzantine workers or a robust rule: the server that combines the gradients.
    pub robust: Option<RobustServer<M>>,
    /// Where and how often to write checkpoints.
    pub checkpoint: Option<CheckpointPlan>,
    /// With `embedding_dim`: the server's embedding table.
    pub embedding: Option<EmbeddingTable<M>>,
    /// With `servers` > 1: which shard holds what.
    pub shards: Option<ShardPlan>,
}

/// One round's training side, for its record.
pub(crate) struct RoundTraining<'s> {
    pub epoch: u32,
    /// The version the round started from.
    pub version: u64,
    /// Stats slots of the training passes applied this round, in summation order.
    pub train_slots: &'s [usize],
    pub sim_time_s: f64,
    /// Staleness of each gradient applied this round.
    pub staleness: &'s [u64],
    pub pulls: u64,
    pub pushes: u64,
    pub boundary_forward: Vec<u64>,
    pub boundary_backward: Vec<u64>,
    /// Embedding rows evicted and re-initialized at the start of the round.
    pub embedding_pruned: u64,
    /// With sharded servers: each shard's bytes this round.
    pub shards: Vec<ShardTraffic>,
    pub started: Instant,
}

impl<'a, M: Backend> Trainer<'a, M> {
    pub fn workers(&self) -> usize {
        self.problem.locals.len()
    }

    /// Seconds the server spends combining `inputs` gradients and stepping the optimizer.
    pub fn update_time(&self, inputs: usize) -> f64 {
        let (dense, embedding) = self.update_time_parts(inputs);
        dense + embedding
    }

    /// Each shard's update time: its share of the dense work (by bytes held) and of the
    /// embedding rows stepped; one entry without sharding.
    pub fn shard_update_times(&self, inputs: usize) -> Vec<f64> {
        let (dense, embedding) = self.update_time_parts(inputs);
        let Some(plan) = &self.shards else { return vec![dense + embedding] };
        let rows: u64 = plan.embedding_updated.iter().sum();
        (0..plan.shards)
            .map(|s| {
                let dense_share = plan.dense_bytes[s] as f64 / self.set_bytes.max(1) as f64;
                let rows_share = if rows > 0 { plan.embedding_updated[s] as f64 / rows as f64 } else { 0.0 };
                dense * dense_share + embedding * rows_share
            })
            .collect()
    }

    /// (dense weights, embedding table) seconds of [`Self::update_time`].
    fn update_time_parts(&self, inputs: usize) -> (f64, f64) {
        let d = &self.cluster.server;
        let steps: f64 = self
            .aggregated
            .iter()
            .map(|g| {
                let n = g.len();
                let step = crate::ps::optimizer::kernel_step(&self.cfg.train.optimizer, self.cfg.train.lr, 0.0, 1);
                d.work_time(
                    &Work::new(KernelClass::Optimizer, KernelCost::optimizer_step(n, &step)).named("optimizer_step"),
                )
            })
            .sum();
        let combine: f64 = match &self.robust {
            // The attack is the attackers' work, not the server's: it costs the server nothing.
            Some(r) => {
                let d_total: usize = self.aggregated.iter().map(|g| g.len()).sum();
                d.work_time(&Work::new(KernelClass::Robust, r.plan().server_cost(d_total)))
            }
            None => self
                .aggregated
                .iter()
                .map(|g| {
                    let work = Work::new(KernelClass::Reduction, KernelCost::weighted_sum(inputs, g.len()));
                    d.work_time(&work.named("weighted_sum"))
                })
                .sum(),
        };
        let embedding =
            self.embedding.as_ref().map_or(0.0, |e| d.work_time(&Work::new(KernelClass::Optimizer, e.update_cost())));
        (steps + combine, embedding)
    }

    /// `aggregated` from one gradient set per partition (`grads[q]`, every partition in order):
    /// the robust server when there is one, else the linear rule summed in the configured order.
    pub fn combine(&mut self, grads: &[&[M::Matrix]], weights: &[f32], epoch: u32) -> Result<(), SimError> {
        let b = self.b;
        b.attribute(None);
        match self.robust.as_mut() {
            Some(r) => r.combine(b, grads, self.cfg.train.seed, epoch, &mut self.aggregated)?,
            None => {
                for (l, out) in self.aggregated.iter_mut().enumerate() {
                    let layer: Vec<&M::Matrix> = grads.iter().map(|g| &g[l]).collect();
                    b.weighted_sum(&layer, weights, ReduceOrder::Flat, out);
                }
            }
        }
        Ok(())
    }

    /// `aggregated = Σ weights[k] · grads[k]` (or the robust server's combination, `grads` then
    /// being every partition's in order), then one optimizer step (its learning rate times
    /// `lr_scale`), then publishes the next version and releases what nobody reads.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        grads: &[&[M::Matrix]],
        weights: &[f32],
        lr_scale: f32,
        time: f64,
        epoch: u32,
        detail: String,
    ) -> Result<u64, SimError> {
        let b = self.b;
        let before = self.store.current().0;
        self.combine(grads, weights, epoch.saturating_sub(1))?;
        self.log.push(time, epoch, EventKind::Aggregate, before, None, detail);
        self.optimizer.step_scaled(b, self.store.master_mut(), &self.aggregated, lr_scale, epoch);
        let optimizer = self.optimizer.describe(epoch);
        let detail = if lr_scale == 1.0 { optimizer } else { format!("{optimizer}, lr × {lr_scale}") };
        self.log.push(time, epoch, EventKind::Update, before, None, detail);
        self.publish(time, epoch)
    }

    pub fn publish(&mut self, time: f64, epoch: u32) -> Result<u64, SimError> {
        let v = self.store.publish(self.b)?;
        let detail = format!("{} bytes", self.set_bytes);
        self.log.push(time, epoch, EventKind::Publish, v, None, detail);
        self.release(time, epoch);
        Ok(v)
    }

    /// Frees every version nobody reads any more.
    pub fn release(&mut self, time: f64, epoch: u32) {
        self.max_live_versions = self.max_live_versions.max(self.store.live_versions().len());
        for released in self.store.release_unread() {
            self.log.push(time, epoch, EventKind::Release, released, None, format!("{} bytes", self.set_bytes));
        }
    }

    /// Everything the run needs to continue after `epoch` rounds; `rounds` is the BSP loop's own.
    pub fn save(&self, epoch: u32, rounds: RoundsState) -> Result<TrainerState, SimError> {
        let b = self.b;
        Ok(TrainerState {
            epoch,
            backend: b.describe(),
            store: self.store.save(b)?,
            optimizer: self.optimizer.save(b)?,
            stale: self.model.save(b)?,
            robust_centre: self.robust.as_ref().map(|r| r.save(b)).transpose()?.flatten(),
            embedding: self.embedding.as_ref().map(|e| e.save(b)).transpose()?,
            push: self.push.as_ref().map(|p| p.save(b)).transpose()?,
            records: self.records.clone(),
            events: self.log.events().to_vec(),
            trace: self.trace.clone(),
            start_norm: self.start_norm,
            max_live_versions: self.max_live_versions,
            pair_bytes: self.pair_bytes.clone(),
            rounds,
        })
    }

    /// Writes a checkpoint after round `epoch` when the plan says so (never after the last).
    pub fn maybe_checkpoint(&self, epoch: u32, rounds: impl FnOnce() -> RoundsState) -> Result<(), SimError> {
        let Some(plan) = &self.checkpoint else { return Ok(()) };
        if !epoch.is_multiple_of(plan.every) || epoch as usize >= self.cfg.train.epochs {
            return Ok(());
        }
        let state = self.save(epoch, rounds())?;
        let checkpoint = super::checkpoint::Checkpoint { identity: plan.identity.clone(), state };
        super::checkpoint::file::write(&plan.path, &checkpoint)?;
        Ok(())
    }

    /// Puts a checkpoint's state in place of the freshly set-up one; returns the BSP loop's state.
    fn restore(&mut self, s: TrainerState) -> Result<RoundsState, SimError> {
        let b = self.b;
        if s.backend != b.describe() {
            return Err(SimError::Config(super::ConfigError {
                key: "backend".into(),
                message: format!(
                    "the checkpoint was computed on {}, this run would continue on {}: the results would not be                      bit-identical; resume with the backend that wrote it",
                    s.backend,
                    b.describe()
                ),
            }));
        }
        self.store.restore(b, &s.store)?;
        self.optimizer.restore(b, &s.optimizer)?;
        self.model.restore(b, s.stale.as_ref())?;
        if let Some(r) = self.robust.as_mut() {
            r.restore(b, s.robust_centre.as_ref())?;
        }
        restore_optional("embedding tables", self.embedding.as_mut(), s.embedding.as_ref(), |table, state| {
            Ok(table.restore(b, state)?)
        })?;
        restore_optional("push encoder states", self.push.as_mut(), s.push.as_ref(), |push, state| {
            Ok(push.restore(b, state)?)
        })?;
        b.flush()?;
        self.records = s.records;
        self.log.restore(s.events);
        self.trace = s.trace;
        self.start_norm = s.start_norm;
        self.max_live_versions = s.max_live_versions;
        self.pair_bytes = s.pair_bytes;
        Ok(s.rounds)
    }

    /// Evaluates the newest version, reads the stats back, and records the round; `true` when
    /// the run is over (all epochs, or early stopping).
    pub fn finish_round(&mut self, round: RoundTraining) -> Result<bool, SimError> {
        let b = self.b;
        let p = self.workers();
        let (_, weights) = self.store.current();
        // The evaluation reads the updated table (a measurement: no traffic is charged).
        if let Some(table) = &self.embedding {
            self.model.pull_embeddings(b, table.table());
        }
        self.model.evaluate(b, weights, self.cfg.parallel.eval, &mut self.stats, eval_slot);
        stage_norm(b, &mut self.stats, weights, &self.decayed, p, self.norm_slots);
        b.attribute(None);
        let values = b.read_stats(&self.stats)?;
        let mut record = self.record(&values, &round);
        if let Some(r) = &self.robust {
            record.aggregation = r.read(b)?;
        }
        record.embedding = self.embedding.as_ref().map(|e| e.counts(round.embedding_pruned));
        record.shards = round.shards;
        record.comm_boundary_forward = round.boundary_forward;
        record.comm_boundary_backward = round.boundary_backward;
        record.push_rel_error = self.push.as_mut().map(|p| p.take_rel_error(b)).transpose()?;
        self.start_norm = read_norm(&values, &self.decayed, p, self.norm_slots);
        if !record.train_loss.is_finite() {
            return Err(SimError::Diverged { epoch: record.epoch, loss: record.train_loss });
        }
        if !record.sim_time_s.is_finite() {
            return Err(SimError::Clock {
                epoch: record.epoch,
                what: "the round's end",
                time: record.sim_time_s,
                keys: CLOCK_KEYS,
            });
        }
        (self.on_epoch)(&record);
        self.records.push(record);
        if let Some(window) = self.cfg.train.early_stopping {
            if kipf_early_stop(&self.records, window) {
                self.stopped_early = true;
                return Ok(true);
            }
        }
        if let Some(patience) = self.cfg.train.patience.filter(|&p| p > 0) {
            if patience_stop(&self.records, patience) {
                self.stopped_early = true;
                return Ok(true);
            }
        }
        Ok(self.records.len() >= self.cfg.train.epochs)
    }

    fn record(&self, values: &[f32], round: &RoundTraining) -> EpochRecord {
        let p = self.workers();
        let wd = self.cfg.train.weight_decay as f64;
        // Sums in a fixed order (so deterministic): training passes in the order given, workers'
        // evaluations in worker order.
        let train =
            |offset: usize| -> f64 { round.train_slots.iter().map(|&s| values[s * STATS_WIDTH + offset] as f64).sum() };
        let eval = |offset: usize| -> f64 { (0..p).map(|i| values[eval_slot(i) * STATS_WIDTH + offset] as f64).sum() };
        let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
        let decay = |norm: f32| 0.5 * wd * norm as f64;
        let next_norm = read_norm(values, &self.decayed, p, self.norm_slots);
        let applied = round.staleness.len().max(1) as f64;
        EpochRecord {
            epoch: round.epoch,
            version: round.version,
            train_loss: ratio(train(stat::TRAIN + stat::LOSS), train(stat::TRAIN + stat::COUNT))
                + decay(self.start_norm),
            train_acc: ratio(train(stat::TRAIN + stat::CORRECT), train(stat::TRAIN + stat::COUNT)),
            valid_loss: ratio(eval(stat::VALID + stat::LOSS), eval(stat::VALID + stat::COUNT)) + decay(next_norm),
            valid_acc: ratio(eval(stat::VALID + stat::CORRECT), eval(stat::VALID + stat::COUNT)),
            test_loss: ratio(eval(stat::TEST + stat::LOSS), eval(stat::TEST + stat::COUNT)),
            test_acc: ratio(eval(stat::TEST + stat::CORRECT), eval(stat::TEST + stat::COUNT)),
            memory: self.b.memory().snapshot(),
            comm_broadcast_bytes: round.pulls * self.pull_bytes,
            comm_gradient_bytes: round.pushes * self.push_bytes,
            comm_broadcast_raw_bytes: round.pulls * self.set_bytes,
            comm_gradient_raw_bytes: round.pushes * self.set_bytes,
            push_rel_error: None,
            comm_halo_bytes: if round.epoch == 1 { self.problem.halo_feature_bytes() } else { 0 },
            comm_boundary_forward: Vec::new(),
            comm_boundary_backward: Vec::new(),
            live_versions: self.store.live_versions().len(),
            wall_ms: round.started.elapsed().as_secs_f64() * 1e3,
            sim_time_s: round.sim_time_s,
            staleness_mean: round.staleness.iter().sum::<u64>() as f64 / applied,
            staleness_max: round.staleness.iter().copied().max().unwrap_or(0),
            aggregation: None,
            lr: self.optimizer.lr_at(round.epoch) as f64,
            embedding: None,
            shards: Vec::new(),
        }
    }
}

/// Runs the whole training. `on_epoch` sees every record as it is made (progress bars, traces).
pub fn run<B: Backend>(
    b: &B,
    problem: &Problem,
    cfg: &RunConfig,
    events: &mut EventLog,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(Vec<EpochRecord>, RunOutcome), SimError> {
    run_persistent(b, problem, cfg, events, on_epoch, Persistence::default())
}

/// [`run`], writing checkpoints and/or continuing from one (see [`super::checkpoint`]).
pub fn run_persistent<B: Backend>(
    b: &B,
    problem: &Problem,
    cfg: &RunConfig,
    events: &mut EventLog,
    on_epoch: &mut dyn FnMut(&EpochRecord),
    persistence: Persistence,
) -> Result<(Vec<EpochRecord>, RunOutcome), SimError> {
    cfg.validate()?;
    let p = problem.locals.len();
    let cluster = cfg.cluster.resolve(p)?;
    if !persistence.is_none() {
        super::checkpoint::supported(cfg)?;
    }
    if persistence.checkpoint.as_ref().is_some_and(|c| c.every == 0) {
        return Err(super::ConfigError { key: "checkpoint_every".into(), message: "must be at least 1".into() }.into());
    }
    let device_bytes = estimated_device_bytes::<B>(problem, cfg);
    super::budget::check(problem, cfg, device_bytes, b.memory_budget())?;
    let meter = meter(b, &cluster, p)?;
    let mut trainer = trainer(&meter, problem, cfg, cluster, events, on_epoch, persistence.checkpoint)?;
    trainer.publish_first()?;
    let resumed = match persistence.resume {
        Some(state) => Some(resume(&mut trainer, state)?),
        None => None,
    };
    let sim_end = match trainer.cluster.consistency {
        super::Consistency::Bsp => super::rounds::run(&mut trainer, resumed)?,
        _ => super::relaxed::run(&mut trainer)?,
    };
    let mut outcome = outcome(trainer, b, sim_end);
    meter.settled()?;
    outcome.1.compute_by_class = meter.class_totals();
    outcome.1.compute_by_op_after_first_round = meter.op_totals_after_first_round();
    Ok(outcome)
}

/// The backend as the cluster's devices see it: every kernel timed by the roofline, or
/// (`compute_time = measured`) by the wall clock as it runs (CPU backend) or by the device's
/// timestamps around its commands (GPU backend).
fn meter<'b, B: Backend>(b: &'b B, cluster: &Cluster, p: usize) -> Result<Metered<'b, B>, SimError> {
    let metered = Metered::new(b, cluster.device.clone(), p);
    match cluster.compute_time {
        ComputeTime::Model => Ok(metered),
        ComputeTime::Measured if b.runs_when_called() => Ok(metered.measuring()),
        ComputeTime::Measured => match b.device_timing() {
            Ok(()) => Ok(metered.measuring()),
            Err(why) => Err(super::ConfigError {
                key: "compute_time".into(),
                message: format!(
                    "measured compute time times each kernel on the device, but {why}; use the CPU backend, \
                     or compute_time = model"
                ),
            }
            .into()),
        },
    }
}

/// The workers and the parameter server (weights, optimizer, robust rule, embedding table,
/// shards), before version 0 exists.
fn trainer<'a, M: Backend>(
    m: &'a M,
    problem: &'a Problem,
    cfg: &'a RunConfig,
    cluster: Cluster,
    events: &'a mut EventLog,
    on_epoch: &'a mut dyn FnMut(&EpochRecord),
    checkpoint: Option<CheckpointPlan>,
) -> Result<Trainer<'a, M>, SimError> {
    let (t, par, p) = (&cfg.train, &cfg.parallel, problem.locals.len());
    let model = PartitionedModel::new(m, problem, par.boundary, t.dropout)?;
    let init = initial_parameters(&problem.shape.plan(), t.seed);
    let store = WeightStore::new(m, &init, par.keep_versions)?;
    let params: Vec<_> = problem.shape.plan().into_iter().flat_map(|l| l.params).collect();
    let layer_decay: Vec<f32> = params.iter().map(|q| if q.decay { t.weight_decay } else { 0.0 }).collect();
    let decayed: Vec<usize> = (0..params.len()).filter(|&k| params[k].decay).collect();
    let optimizer =
        Optimizer::new(m, t.optimizer, t.lr, layer_decay, store.master())?.scheduled(t.lr_schedule, t.epochs);
    let aggregated = init
        .iter()
        .enumerate()
        .map(|(l, w)| m.alloc(w.rows, w.cols, MemCategory::Gradients, &format!("ps/aggregated_dW{l}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut model = model;
    // With fp16 pulls the training forward runs on other weights than the evaluation's.
    if par.recompute_forward || !par.compress_pull.is_none() {
        model.recompute_forward();
    }
    let train_counts: Vec<usize> = model.workers.iter().map(|w| w.num_train()).collect();
    let (grad_scales, agg_weights) = par.aggregate.loss_weighting(&train_counts, model.trains_with_exchange());
    let shapes: Vec<(usize, usize)> = init.iter().map(|w| (w.rows, w.cols)).collect();
    let robust = robust_server(m, cfg, problem, &mut model, &shapes, &agg_weights)?;
    let embedding_pushed = embedding_pushed(problem);
    let embedding = embedding_table(m, cfg, problem, &embedding_pushed, &agg_weights)?;
    let set_bytes = store.set_bytes();
    let (push_bytes, pull_bytes) = match (par.compress_push.is_none(), par.compress_pull.is_none()) {
        (true, true) => (set_bytes, set_bytes),
        _ => (encoded_set_bytes(&par.compress_push, &shapes), pull_set_bytes(&par.compress_pull, &shapes)),
    };
    let shards = (cluster.servers > 1).then(|| {
        let plan =
            shard_plan(cluster.servers, problem, &shapes, t.embedding_dim, embedding.is_some(), &embedding_pushed);
        if push_bytes == set_bytes && pull_bytes == set_bytes {
            plan
        } else {
            plan.encoded(push_bytes, pull_bytes)
        }
    });
    let push = match par.compress_push.is_none() {
        true => None,
        false => {
            let bsp = cluster.consistency == super::Consistency::Bsp;
            Some(PushEncoder::new(m, par.compress_push, &shapes, p, t.seed, bsp)?)
        }
    };
    let pull = WeightPull::new(m, par.compress_pull, &shapes)?;
    let train_slots = super::relaxed::train_slot_capacity(&cluster, p);
    let norm_slots = p + 2 + train_slots;
    let stats = m.alloc_stats(norm_slots + 2 * decayed.len().saturating_sub(1), "ps/stats")?;
    Ok(Trainer {
        b: m,
        problem,
        cfg,
        cluster,
        model,
        store,
        optimizer,
        aggregated,
        grad_scales,
        agg_weights,
        stats,
        set_bytes,
        push_bytes,
        pull_bytes,
        push,
        pull,
        log: events,
        trace: ClusterTrace::default(),
        records: Vec::new(),
        on_epoch,
        start_norm: 0.0,
        decayed,
        norm_slots,
        max_live_versions: 0,
        stopped_early: false,
        pair_bytes: vec![vec![0; p]; p],
        robust,
        checkpoint,
        embedding,
        shards,
    })
}

/// With Byzantine workers or a robust rule: the server that combines the gradients (a
/// label-flipping attack poisons its workers' labels here).
fn robust_server<M: Backend>(
    m: &M,
    cfg: &RunConfig,
    problem: &Problem,
    model: &mut PartitionedModel<M>,
    shapes: &[(usize, usize)],
    agg_weights: &[f32],
) -> Result<Option<RobustServer<M>>, SimError> {
    match cfg.robust_plan()? {
        Some(plan) => {
            if plan.attack == crate::ps::robust::Attack::LabelFlip {
                model.flip_labels(m, problem, &plan.byzantine_workers())?;
            }
            Ok(Some(RobustServer::new(m, plan, shapes, agg_weights)?))
        }
        None => Ok(None),
    }
}

/// Per worker, the global ids of the embedding rows it pushes.
fn embedding_pushed(problem: &Problem) -> Vec<Vec<u32>> {
    problem
        .locals
        .iter()
        .zip(&problem.embedding_rows)
        .map(|(g, rows)| rows.iter().map(|&r| g.node_ids[r as usize]).collect())
        .collect()
}

/// With `embedding_dim`: the server's embedding table, each worker pulling the rows of its
/// nodes and pushing `pushed`.
fn embedding_table<M: Backend>(
    m: &M,
    cfg: &RunConfig,
    problem: &Problem,
    pushed: &[Vec<u32>],
    agg_weights: &[f32],
) -> Result<Option<EmbeddingTable<M>>, SimError> {
    let Some(settings) = embedding_settings(cfg) else { return Ok(None) };
    let workers: Vec<WorkerRows> = problem
        .locals
        .iter()
        .zip(pushed)
        .zip(agg_weights)
        .map(|((g, pushed), &weight)| WorkerRows { pulled: &g.node_ids, pushed, weight })
        .collect();
    Ok(Some(EmbeddingTable::new(m, settings, problem.layout.order.len(), &workers)?))
}

/// Which of `servers` shards holds which weight blocks and embedding rows.
fn shard_plan(
    servers: usize,
    problem: &Problem,
    layers: &[(usize, usize)],
    embedding_dim: usize,
    embedded: bool,
    embedding_pushed: &[Vec<u32>],
) -> ShardPlan {
    let no_rows: Vec<&[u32]> = vec![&[]; problem.locals.len()];
    let (pulled, pushed): (Vec<&[u32]>, Vec<&[u32]>) = if embedded {
        (
            problem.locals.iter().map(|g| g.node_ids.as_slice()).collect(),
            embedding_pushed.iter().map(|r| r.as_slice()).collect(),
        )
    } else {
        (no_rows.clone(), no_rows)
    };
    ShardPlan::new(servers, layers, embedding_dim, &pulled, &pushed)
}

impl<M: Backend> Trainer<'_, M> {
    /// Version 0 exists (with ‖W0‖², the first round's weight-decay term) and every worker
    /// registers.
    fn publish_first(&mut self) -> Result<(), SimError> {
        let (m, p, set_bytes) = (self.b, self.workers(), self.set_bytes);
        let v0 = self.store.publish(m)?;
        self.log.push(0.0, 0, EventKind::Publish, v0, None, format!("{set_bytes} bytes"));
        {
            let (_, w) = self.store.current();
            let extra = self.norm_slots + self.decayed.len().saturating_sub(1);
            stage_norm(m, &mut self.stats, w, &self.decayed, p + 1, extra);
        }
        let first = m.read_stats(&self.stats)?;
        let extra = self.norm_slots + self.decayed.len().saturating_sub(1);
        self.start_norm = read_norm(&first, &self.decayed, p + 1, extra);
        for w in 0..p {
            self.log.push(0.0, 0, EventKind::Register, v0, Some(w), String::new());
        }
        Ok(())
    }
}

/// A checkpoint's state restored into `trainer`, after every invariant of it is checked
/// (untrusted input); the rounds done and the BSP loop's own state.
fn resume<M: Backend>(trainer: &mut Trainer<'_, M>, state: TrainerState) -> Result<(u32, RoundsState), SimError> {
    let (cfg, p) = (trainer.cfg, trainer.workers());
    let mut expected = super::checkpoint::Expected::from_config(cfg, p)?;
    expected.stale = Some(trainer.model.keeps_stale_state());
    expected.centre = Some(trainer.robust.as_ref().is_some_and(|r| r.keeps_centre()));
    expected.embedding_rows = trainer.embedding.is_some().then_some(trainer.problem.layout.order.len());
    super::checkpoint::validate(&state, &expected)?;
    Ok((state.epoch, trainer.restore(state)?))
}

/// The run's records and outcome, from the trainer after its last round.
fn outcome<B: Backend, M: Backend>(trainer: Trainer<'_, M>, b: &B, sim_end: f64) -> (Vec<EpochRecord>, RunOutcome) {
    let forwards_reused = trainer.model.forwards_reused();
    let workers = trainer.workers();
    let Trainer { records, trace, max_live_versions, stopped_early, pair_bytes, robust, .. } = trainer;
    let mut outcome = RunOutcome::from_records(&records, stopped_early);
    outcome.robust = robust.map(|r| RobustOutcome::of(r.plan(), records.iter().filter_map(|r| r.aggregation.as_ref())));
    let rounds = records.len().max(1) as f64;
    outcome.exchange_bytes_per_epoch =
        pair_bytes.iter().map(|row| row.iter().map(|&v| v as f64 / rounds).collect()).collect();
    outcome.sim_time_s = sim_end;
    outcome.time_breakdown = crate::sim::cluster::RoundBreakdown::of(&trace, workers, sim_end, records.len());
    outcome.max_live_versions = max_live_versions;
    outcome.forwards_reused = forwards_reused;
    outcome.streaming = b.streaming_stats().filter(|s| s.evictions > 0);
    outcome.gradients = GradientAccounting::of(&trace.gradients);
    outcome.failures = trace.failures.clone();
    outcome.trace = trace;
    (records, outcome)
}

/// The memory estimate a run checks before it allocates: its workers', exchange's, server's and
/// embedding table's bytes on `B`'s device (`gcnsim run --jobs` admits runs by it).
pub fn estimated_device_bytes<B: Backend>(problem: &Problem, cfg: &RunConfig) -> u128 {
    super::budget::device_bytes::<B>(problem, cfg.parallel.boundary)
        + super::budget::embedding_bytes(problem, embedding_settings(cfg).as_ref())
}

/// The embedding table's settings, `None` without embeddings.
fn embedding_settings(cfg: &RunConfig) -> Option<EmbeddingSettings> {
    let t = &cfg.train;
    (t.embedding_dim > 0).then_some(EmbeddingSettings {
        dim: t.embedding_dim,
        seed: t.seed,
        optimizer: t.optimizer,
        decay: t.embedding_decay,
        prune_after: t.prune_after,
    })
}

/// Kipf's rule: after `window` epochs, stop when the validation loss exceeds the mean of the
/// previous `window` epochs.
fn kipf_early_stop(records: &[EpochRecord], window: usize) -> bool {
    let n = records.len();
    if n <= window {
        return false;
    }
    let previous = &records[n - 1 - window..n - 1];
    let mean = previous.iter().map(|r| r.valid_loss).sum::<f64>() / window as f64;
    records[n - 1].valid_loss > mean
}

/// Σ‖p‖² of the `decayed` tensors of `weights` into stats: the first into `slot` (the only one
/// for the GCN), the others into the slots from `extra` on.
fn stage_norm<M: Backend>(
    b: &M,
    stats: &mut M::Stats,
    weights: &[M::Matrix],
    decayed: &[usize],
    slot: usize,
    extra: usize,
) {
    for (k, &t) in decayed.iter().enumerate() {
        b.sum_squares(&weights[t], stats, if k == 0 { slot } else { extra + k - 1 });
    }
}

/// The norm [`stage_norm`] wrote, summed in tensor order.
fn read_norm(values: &[f32], decayed: &[usize], slot: usize, extra: usize) -> f32 {
    (0..decayed.len()).map(|k| values[(if k == 0 { slot } else { extra + k - 1 }) * STATS_WIDTH + stat::AUX]).sum()
}

/// The GAT paper's rule: stop once `patience` epochs in a row neither reached the best
/// validation accuracy so far nor the lowest validation loss (ties count as reaching them).
fn patience_stop(records: &[EpochRecord], patience: usize) -> bool {
    let (mut best_acc, mut best_loss, mut since) = (f64::NEG_INFINITY, f64::INFINITY, 0usize);
    for r in records {
        if r.valid_acc >= best_acc || r.valid_loss <= best_loss {
            best_acc = best_acc.max(r.valid_acc);
            best_loss = best_loss.min(r.valid_loss);
            since = 0;
        } else {
            since += 1;
        }
    }
    since >= patience
}

/// Restores an optional part of the trainer from its optional saved state: both present or both
/// absent, else the checkpoint belongs to another configuration.
fn restore_optional<T, S>(
    what: &str,
    part: Option<&mut T>,
    state: Option<&S>,
    restore: impl FnOnce(&mut T, &S) -> Result<(), SimError>,
) -> Result<(), SimError> {
    match (part, state) {
        (Some(part), Some(state)) => restore(part, state),
        (None, None) => Ok(()),
        (part, state) => Err(SimError::Restore(RestoreError::Count {
            what: what.into(),
            expected: usize::from(part.is_some()),
            got: usize::from(state.is_some()),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::MemorySnapshot;
    use crate::data::DatasetSpec;
    use crate::ps::OptimizerKind;

    fn record(epoch: u32, valid_loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            version: epoch as u64 - 1,
            train_loss: 1.0,
            train_acc: 0.0,
            valid_loss,
            valid_acc: 0.0,
            test_loss: 0.0,
            test_acc: 0.0,
            memory: MemorySnapshot::default(),
            comm_broadcast_bytes: 0,
            comm_gradient_bytes: 0,
            comm_broadcast_raw_bytes: 0,
            comm_gradient_raw_bytes: 0,
            push_rel_error: None,
            comm_halo_bytes: 0,
            comm_boundary_forward: Vec::new(),
            comm_boundary_backward: Vec::new(),
            live_versions: 1,
            wall_ms: 0.0,
            sim_time_s: 0.0,
            staleness_mean: 0.0,
            staleness_max: 0,
            lr: 0.01,
            aggregation: None,
            embedding: None,
            shards: Vec::new(),
        }
    }

    #[test]
    fn patience_rule_counts_epochs_without_either_improvement() {
        let mut records: Vec<EpochRecord> = (1..=5).map(|e| record(e, 1.0 / e as f64)).collect();
        assert!(!patience_stop(&records, 2));
        // Worse loss, same accuracy (0.0 ties the best): still improving.
        records.push(record(6, 2.0));
        assert!(!patience_stop(&records, 1));
        let mut worse = record(7, 3.0);
        worse.valid_acc = -1.0;
        records.push(worse.clone());
        assert!(!patience_stop(&records, 2));
        worse.epoch = 8;
        records.push(worse);
        assert!(patience_stop(&records, 2));
        assert!(!patience_stop(&records, 3));
    }

    #[test]
    fn kipf_early_stopping_rule() {
        // Falling validation loss: never stop.
        let falling: Vec<EpochRecord> = (1..=30).map(|e| record(e, 2.0 - e as f64 * 0.01)).collect();
        assert!((11..=30).all(|n| !kipf_early_stop(&falling[..n], 10)));
        // Not before the window is full, even if the loss jumps.
        let mut jump: Vec<EpochRecord> = (1..=10).map(|e| record(e, 1.0)).collect();
        jump.push(record(11, 1.0));
        assert!(!kipf_early_stop(&jump[..10], 10));
        // Above the mean of the previous 10: stop.
        jump.push(record(12, 1.01));
        assert!(kipf_early_stop(&jump, 10));
    }

    #[test]
    fn early_stopping_ends_a_run_and_sgd_trains() {
        let ds = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
        let mut cfg = RunConfig::default();
        cfg.train.epochs = 300;
        cfg.train.early_stopping = Some(10);
        let problem = super::super::prepare(&ds, &cfg).unwrap();
        let (records, outcome) =
            run(&CpuBackend::new(), &problem, &cfg, &mut EventLog::default(), &mut |_| {}).unwrap();
        assert!(outcome.stopped_early && records.len() < 300, "ran {} epochs", records.len());
        assert!(kipf_early_stop(&records, 10));

        cfg.train.early_stopping = None;
        cfg.train.epochs = 100;
        cfg.train.optimizer = OptimizerKind::Sgd.into();
        cfg.train.lr = 0.5;
        let (records, outcome) =
            run(&CpuBackend::new(), &problem, &cfg, &mut EventLog::default(), &mut |_| {}).unwrap();
        assert!(records.last().unwrap().train_loss < 0.8 * records[0].train_loss, "SGD did not reduce the loss");
        assert!(outcome.final_test_acc > 0.6, "SGD test accuracy {} (chance 0.2)", outcome.final_test_acc);
    }
}
