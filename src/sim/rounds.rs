//! BSP on the simulated cluster. Each round every partition computes its gradient from the same
//! version; the clock says when. The arithmetic is one training pass over all partitions (as
//! the exchange boundary needs), so it is the same whatever the timing: stragglers and failures
//! move time, not numbers. A gradient lost to a failure is recomputed from the same version and
//! clock, which gives the same values, so the simulator charges the lost and the repeated work
//! in time and does the arithmetic once.
//!
//! A round is [`Rounds::round`], one method per step:
//! 1. `return_partitions`: workers back from a failure get their partitions again; every worker
//!    has the version at `weights_at` (the previous round's broadcast);
//! 2. `compute`: the arithmetic of every partition's pass, and the boundary traffic it implies;
//! 3. `pull_embeddings`: each partition's host pulls the embedding rows it reads;
//! 4. `schedule`: each worker computes its partitions one after another (with `exchange`
//!    boundaries: segment by segment, the boundary rows timed as pairwise messages on the
//!    fabric); failures that strike before the round's last gradient is ready are applied in
//!    time order (`failures.rs`): the failed worker's unfinished work is lost and redone, by
//!    itself once it is back (`wait`, or when it re-registers before the server declares it
//!    dead) or by the survivor with the fewest partitions from the moment it is declared dead
//!    (`reassign`); with `exchange` every partition's pass restarts (the layers need each
//!    other's rows);
//! 5. `push`: the gradients travel to the server, aggregated in the topology's order (flat,
//!    Spark tree, binary tree, ring), and the new weights are broadcast;
//! 6. `barrier`: every gradient of the version has arrived; the rest of each worker's time was
//!    waiting;
//! 7. `reduce`, `step`: the server sums the gradients and steps the optimizer;
//! 8. `publish`: the new version exists (older ones are released) and reaches the workers;
//! 9. `record`, `checkpoint`: the round's record, and a checkpoint when one is due.
//!
//! With reassigned partitions, the adopter's gradients use the fabric slots of the partitions
//! (a slight overestimate of its link: it would send their sum once).

mod failures;
mod reduce;
mod schedule;

use std::time::Instant;

use super::checkpoint::RoundsState;
use super::cluster::{Activity, Cluster, FailureSpec, Fate, GradientRecord};
use super::driver::{RoundTraining, SimError, Trainer};
use super::metered::Metered;
use crate::backend::Backend;
use crate::cost::{AggregationSchedule, Fabric, Node, Topology};
use crate::model::partitioned::Traffic;
use crate::ps::shards::ShardPlan;
use crate::ps::{BspBarrier, EventKind};
use schedule::{RoundInputs, Schedule};

/// Worker `h` fetches the whole weight set (`bytes` on the wire), ready at `at`: from the
/// server, or each shard's block from its shard; returns when the last byte arrives.
fn pull_weights(fabric: &mut Fabric, plan: Option<&ShardPlan>, h: usize, at: f64, bytes: u64) -> f64 {
    match plan {
        None => fabric.pull(h, at, bytes).end,
        Some(plan) => (0..plan.shards)
            .filter(|&s| plan.pull_bytes[s] > 0)
            .map(|s| fabric.send(Node::shard(s), Node::Worker(h), at, plan.pull_bytes[s]).end)
            .fold(at, f64::max),
    }
}

/// The aggregate event's detail: the rule, the gradients, the topology, and who attacked how.
pub(crate) fn aggregate_detail<M: Backend>(t: &Trainer<'_, M>, gradients: usize) -> String {
    let mut detail =
        format!("{} over {gradients} gradients, {} topology", t.cfg.parallel.aggregate, t.cfg.cluster.topology);
    if let Some(plan) = t.robust.as_ref().map(|r| r.plan()) {
        if plan.pre != crate::ps::robust::PreAggregation::None {
            detail.push_str(&format!(", pre-aggregated by {}", plan.pre));
        }
        let byzantine = plan.byzantine_workers();
        if !byzantine.is_empty() {
            let ids: Vec<String> = byzantine.iter().map(|i| i.to_string()).collect();
            detail.push_str(&format!(", Byzantine workers {} ({})", ids.join(","), plan.attack));
        }
    }
    detail
}

/// The BSP loop: the cluster's state between rounds (what a checkpoint keeps) and the server's.
struct Rounds<'t, 'a, 'm, B: Backend> {
    t: &'t mut Trainer<'a, Metered<'m, B>>,
    cluster: Cluster,
    fabric: Fabric,
    shards: Option<ShardPlan>,
    /// The failure schedule in time order; those before `next_failure` are applied.
    failures: Vec<FailureSpec>,
    next_failure: usize,
    /// When each worker holds the newest version.
    weights_at: Vec<f64>,
    /// The worker that hosts each partition.
    assignment: Vec<usize>,
    /// Per worker: down until then (infinity: for good), or up.
    down_until: Vec<Option<f64>>,
    /// When each worker last registered with the server (its heartbeats count from there).
    registered: Vec<f64>,
    /// Straggler draws each worker has used.
    host_steps: Vec<u64>,
    /// Workers that failed for good, and when.
    down_for_good: Vec<(usize, f64)>,
    /// When the last round's version was published.
    end_time: f64,
    barrier: BspBarrier,
    /// Per layer: the partial sums of the reduction tree's inner levels.
    partials: Vec<Vec<Vec<B::Matrix>>>,
    /// Bytes of one boundary row, per layer.
    widths: Vec<u64>,
}

/// One round, as its steps hand it on.
struct Round {
    /// The round (1-based, as the event log and the records count) and its gradients' clock.
    epoch: u32,
    clock: u32,
    /// The version every partition computes from.
    version: u64,
    started: Instant,
    /// When each worker held `version` at the round's start.
    weights_at: Vec<f64>,
    embedding_pruned: u64,
    /// Seconds per segment per partition (one segment without exchange).
    segments: Vec<Vec<f64>>,
    /// Boundary bytes between segments: `volumes[k][src][dst]`.
    volumes: Vec<Vec<Vec<u64>>>,
    traffic: Traffic,
    /// Per partition: it (re)starts computing no earlier.
    not_before: Vec<f64>,
    /// Spans a worker is down or re-registering this round: never `wait` in its timeline.
    occupied: Vec<(usize, f64, f64)>,
    /// Work lost to failures: (worker, activity, start, end, partition).
    lost: Vec<(usize, Activity, f64, f64, usize)>,
    /// Per worker: the spans it computes, exchanges, pushes, or is down.
    busy: Vec<Vec<(f64, f64)>>,
}

/// The network side of a round's aggregation: when the sum exists, when the new version is
/// published, when each worker holds it, and the messages.
struct Aggregated {
    schedule: AggregationSchedule,
    published: f64,
}

pub(crate) fn run<B: Backend>(
    t: &mut Trainer<'_, Metered<'_, B>>,
    resumed: Option<(u32, RoundsState)>,
) -> Result<f64, SimError> {
    let epochs = t.cfg.train.epochs as u32;
    let mut rounds = Rounds::new(t);
    let first_epoch = match resumed {
        Some((epoch, state)) => {
            rounds.restore(state)?;
            epoch
        }
        None => {
            rounds.pull_initial();
            0
        }
    };
    for e in first_epoch..epochs {
        let stop = rounds.round(e)?;
        rounds.t.b.mark_first_round();
        if stop {
            break;
        }
    }
    Ok(rounds.finish())
}

impl<'t, 'a, 'm, B: Backend> Rounds<'t, 'a, 'm, B> {
    /// The loop before its first round: every worker hosts its own partition.
    fn new(t: &'t mut Trainer<'a, Metered<'m, B>>) -> Self {
        let p = t.workers();
        let cluster = t.cluster.clone();
        let mut failures = cluster.failures.clone();
        failures.sort_by(|a, b| a.at.total_cmp(&b.at).then(a.worker.cmp(&b.worker)));
        let widths = t.problem.shape.exchange_widths().iter().map(|&w| 4 * w as u64).collect();
        Self {
            fabric: Fabric::sharded(&cluster.network, p, cluster.servers),
            shards: t.shards.clone(),
            failures,
            next_failure: 0,
            weights_at: vec![0.0; p],
            assignment: (0..p).collect(),
            down_until: vec![None; p],
            registered: vec![0.0; p],
            host_steps: vec![0; p],
            down_for_good: Vec::new(),
            end_time: 0.0,
            barrier: BspBarrier::new(p, t.store.current().0),
            partials: (0..t.aggregated.len()).map(|_| Vec::new()).collect(),
            widths,
            cluster,
            t,
        }
    }

    fn p(&self) -> usize {
        self.assignment.len()
    }

    /// Round zero: every worker pulls the initial weights (from the server, or each shard's
    /// block from its shard; with a ring, every worker initialises them from the seed itself).
    fn pull_initial(&mut self) {
        let (p, bytes) = (self.p(), self.t.pull_bytes);
        self.weights_at = match &self.shards {
            Some(plan) => (0..p).map(|h| pull_weights(&mut self.fabric, Some(plan), h, 0.0, bytes)).collect(),
            None => match self.fabric.broadcast(self.cluster.topology, 0.0, bytes) {
                Some(s) => s.received,
                None => vec![0.0; p],
            },
        };
        for (h, &w) in self.weights_at.iter().enumerate() {
            self.t.trace.interval(h, Activity::Pull, 0.0, w, Some((h, 0, 0)));
            self.t.log.push(w, 0, EventKind::Pull, 0, Some(h), String::new());
        }
    }

    /// Continues from a checkpoint's state.
    fn restore(&mut self, s: RoundsState) -> Result<(), SimError> {
        let p = self.p();
        // `checkpoint::validate` checked every field against this run before the restore;
        // this guard only keeps the loop's indexing safe should a caller skip it.
        let fits = [s.weights_at.len(), s.assignment.len(), s.down_until.len(), s.registered.len(), s.host_steps.len()]
            .iter()
            .all(|&n| n == p)
            && s.assignment.iter().all(|&h| h < p)
            && s.down_for_good.iter().all(|&(h, _)| h < p)
            && s.next_failure <= self.failures.len()
            && self.fabric.restore_busy_until(&s.links);
        if !fits {
            return Err(SimError::InvalidCheckpoint(super::checkpoint::InvalidState {
                field: "rounds".into(),
                message: format!("its per-worker lists or worker ids do not fit this run's {p} workers"),
            }));
        }
        self.weights_at = s.weights_at;
        self.assignment = s.assignment;
        self.down_until = s.down_until;
        self.registered = s.registered;
        self.host_steps = s.host_steps;
        self.next_failure = s.next_failure;
        self.end_time = s.end_time;
        self.down_for_good = s.down_for_good;
        Ok(())
    }

    /// Round `e + 1`, step by step; true when training stops after it.
    fn round(&mut self, e: u32) -> Result<bool, SimError> {
        let started = Instant::now();
        self.t.b.memory().reset_peak();
        self.return_partitions(e + 1);
        let mut r = self.compute(e, started)?;
        self.pull_embeddings(&mut r);
        let sched = self.schedule(&mut r)?;
        let agg = self.push(&mut r, &sched);
        self.barrier(&mut r, &sched, agg.published)?;
        self.reduce(&r, agg.schedule.reduced)?;
        self.step(&r, agg.schedule.reduced);
        self.publish(&r, &agg)?;
        let done = self.record(&r, agg.published)?;
        if !done {
            self.checkpoint(r.epoch)?;
        }
        Ok(done)
    }

    /// Workers back from a failure by the round's start get their partitions again.
    fn return_partitions(&mut self, epoch: u32) {
        let round_start = self.weights_at.iter().copied().fold(f64::INFINITY, f64::min);
        for h in 0..self.p() {
            let Some(back) = self.down_until[h].filter(|&back| back <= round_start) else { continue };
            self.down_until[h] = None;
            // Partition h is worker h's own.
            if self.assignment[h] != h {
                let version = self.t.store.current().0;
                let detail = format!("partition {h} back to worker {h}");
                self.t.log.push(back, epoch, EventKind::Reassign, version, Some(h), detail);
                self.assignment[h] = h;
            }
        }
    }

    /// The arithmetic: every partition's training pass from the current version, and the
    /// boundary rows the passes exchange.
    fn compute(&mut self, e: u32, started: Instant) -> Result<Round, SimError> {
        let (version, embedding_pruned, segments) = self.train(e)?;
        let t = &mut *self.t;
        let traffic = t.model.traffic(t.problem, t.cfg.train.seed, e, t.cfg.parallel.sample_rate);
        let volumes = if segments.len() > 1 { self.exchange_volumes(&traffic) } else { Vec::new() };
        let row_bytes: u64 = self.widths.iter().map(|w| 2 * w).sum();
        for (q, row) in traffic.rows.iter().enumerate() {
            for (dst, r) in row.iter().enumerate() {
                self.t.pair_bytes[q][dst] += r * row_bytes;
            }
        }
        let p = self.p();
        Ok(Round {
            epoch: e + 1,
            clock: e,
            version,
            started,
            weights_at: self.weights_at.clone(),
            embedding_pruned,
            segments,
            volumes,
            traffic,
            not_before: vec![0.0; p],
            occupied: (0..p).filter_map(|h| self.down_until[h].map(|back| (h, f64::NEG_INFINITY, back))).collect(),
            lost: Vec::new(),
            busy: vec![Vec::new(); p],
        })
    }

    /// Every partition's training pass (pulling the embedding rows it reads, after evicted rows
    /// are re-initialized): the version, the rows pruned, and the seconds per segment.
    fn train(&mut self, e: u32) -> Result<(u64, u64, Vec<Vec<f64>>), SimError> {
        let (t, p, epoch) = (&mut *self.t, self.assignment.len(), e + 1);
        let b = t.b;
        let embedding_pruned = match t.embedding.as_mut() {
            Some(table) => {
                let pruned = table.begin_round(b, epoch)?;
                t.model.pull_embeddings(b, table.table());
                pruned
            }
            None => 0,
        };
        if embedding_pruned > 0 {
            t.model.invalidate_forward();
        }
        let (version, master) = t.store.current();
        let weights = match t.pull.as_mut() {
            Some(pull) => pull.pull(b, master),
            None => master,
        };
        let all: Vec<&[B::Matrix]> = vec![weights; p];
        // With a reused forward, the last evaluation's forward kernels are this pass's.
        let evaluation = b.take_segments();
        if t.model.reuses_forward() {
            b.put_segments(evaluation);
        }
        let (seed, sample_rate) = (t.cfg.train.seed, t.cfg.parallel.sample_rate);
        t.model.train(b, &all, seed, e, sample_rate, &t.grad_scales, &mut t.stats, |i| p + 2 + i);
        if t.embedding.is_some() {
            t.model.stage_embedding_pushes(b);
        }
        // Each worker encodes its push on its own clock, after its backward pass.
        if let Some(push) = t.push.as_mut() {
            for q in 0..p {
                push.encode_set(b, q, t.model.workers[q].weight_grads(), e)?;
            }
        }
        let segments = b.take_segments();
        if let Some(&bad) = segments.iter().flatten().find(|s| !s.is_finite()) {
            let keys = "device_profile and compute_time";
            return Err(SimError::Clock { epoch, what: "a worker's compute time", time: bad, keys });
        }
        Ok((version, embedding_pruned, segments))
    }

    /// Boundary bytes between the segments of an exchange pass: forward layer by layer, then
    /// backward.
    fn exchange_volumes(&self, traffic: &Traffic) -> Vec<Vec<Vec<u64>>> {
        let layers = self.t.cfg.train.layers;
        let widths = &self.widths;
        (0..layers)
            .chain((0..layers).rev())
            .map(|l| traffic.rows.iter().map(|row| row.iter().map(|r| r * widths[l]).collect()).collect())
            .collect()
    }

    /// Embedding rows: each partition's host pulls them once it holds the weights, before
    /// computing (full-batch: the same rows every round), from the server or from each shard
    /// its rows.
    fn pull_embeddings(&mut self, r: &mut Round) {
        let Some(table) = &self.t.embedding else { return };
        for q in 0..self.p() {
            let h = self.assignment[q];
            let per_shard = match &self.shards {
                Some(plan) => plan.embedding_pull[q].clone(),
                None => vec![table.pull_bytes(q)],
            };
            for (s, &bytes) in per_shard.iter().enumerate().filter(|(_, &b)| b > 0) {
                let m = self.fabric.send(Node::shard(s), Node::Worker(h), self.weights_at[h], bytes);
                self.t.trace.interval(h, Activity::Pull, m.start, m.end, Some((q, r.clock, r.version)));
                r.not_before[q] = r.not_before[q].max(m.end);
            }
        }
    }

    /// The round's timing: when each worker computes, with the failures that strike before the
    /// last gradient is ready applied in time order (each moves the schedule, so it is redone).
    fn schedule(&mut self, r: &mut Round) -> Result<Schedule, SimError> {
        let sched = loop {
            let s = schedule::schedule(&self.inputs(r), &self.cluster.stragglers, &self.fabric);
            let end = s.ready.iter().copied().fold(0.0, f64::max);
            let Some(f) = self.failures.get(self.next_failure).filter(|f| f.at < end).copied() else { break s };
            self.next_failure += 1;
            self.fail(r, &s, f)?;
        };
        self.fabric = sched.fabric.clone();
        for (h, n) in sched.steps.iter().enumerate() {
            self.host_steps[h] += n;
        }
        // The work lost to failures, then the work that counted.
        for (w, a, s0, e0, q) in std::mem::take(&mut r.lost).into_iter().chain(sched.intervals.iter().copied()) {
            self.t.trace.interval(w, a, s0, e0, Some((q, r.clock, r.version)));
            r.busy[w].push((s0, e0));
        }
        Ok(sched)
    }

    fn inputs<'r>(&'r self, r: &'r Round) -> RoundInputs<'r> {
        RoundInputs {
            seed: self.t.cfg.train.seed,
            assignment: &self.assignment,
            weights_at: &self.weights_at,
            not_before: &r.not_before,
            segments: &r.segments,
            volumes: &r.volumes,
            host_steps: &self.host_steps,
        }
    }

    /// The gradients travel to the server: sparse embedding pushes first, then the dense
    /// gradients on the same link, aggregated and the new weights broadcast in the topology
    /// (sharded: flat, each shard its blocks).
    fn push(&mut self, r: &mut Round, sched: &Schedule) -> Aggregated {
        let p = self.p();
        let ready = self.push_embeddings(sched);
        let (schedule, published) = match &self.shards {
            Some(plan) => self.fabric.aggregate_sharded_encoded(
                &ready,
                &plan.push_bytes,
                &plan.pull_bytes,
                &self.t.shard_update_times(p),
            ),
            None => {
                let update = self.t.update_time(p);
                let (push, pull) = (self.t.push_bytes, self.t.pull_bytes);
                let agg = self.fabric.aggregate_encoded(self.cluster.topology, &ready, push, pull, update);
                let published = agg.reduced + update;
                (agg, published)
            }
        };
        self.t.trace.server_busy(schedule.reduced, published);
        for q in 0..p {
            let (h, end) = (self.assignment[q], self.push_end(&schedule, q));
            self.t.trace.interval(h, Activity::Push, sched.ready[q], end, Some((q, r.clock, r.version)));
            r.busy[h].push((sched.ready[q], end));
        }
        Aggregated { schedule, published }
    }

    /// When each partition's update can start: its gradient is ready and its embedding pushes
    /// (if any) have reached the server or their shards.
    fn push_embeddings(&mut self, sched: &Schedule) -> Vec<f64> {
        let Some(table) = &self.t.embedding else { return sched.ready.clone() };
        (0..self.p())
            .map(|q| {
                let per_shard = match &self.shards {
                    Some(plan) => plan.embedding_push[q].clone(),
                    None => vec![table.push_bytes(q)],
                };
                let from = Node::Worker(self.assignment[q]);
                per_shard
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b > 0)
                    .map(|(s, &bytes)| self.fabric.send(from, Node::shard(s), sched.ready[q], bytes).end)
                    .fold(sched.ready[q], f64::max)
            })
            .collect()
    }

    /// A push lasts until its message reaches the server (flat), or until the aggregate exists
    /// (trees, ring: the worker takes part in the reduction until then).
    fn push_end(&self, agg: &AggregationSchedule, q: usize) -> f64 {
        agg.messages
            .iter()
            .filter(|m| m.from == Node::Worker(q) && !matches!(m.to, Node::Worker(_)))
            .filter(|_| self.cluster.topology == Topology::Flat)
            .map(|m| m.end)
            .reduce(f64::max)
            .unwrap_or(agg.reduced)
    }

    /// Every partition's gradient of the round's version arrives (its compute event at the time
    /// it was ready); whatever else a worker did until the new version's publication was
    /// waiting.
    fn barrier(&mut self, r: &mut Round, sched: &Schedule, published: f64) -> Result<(), SimError> {
        for q in 0..self.p() {
            self.barrier.arrive(q, r.version)?;
            let detail = self.compute_detail(q, &r.traffic);
            let h = self.assignment[q];
            self.t.log.push(sched.ready[q], r.epoch, EventKind::Compute, r.version, Some(h), detail);
        }
        for &(h, s0, e0) in &r.occupied {
            r.busy[h].push((s0, e0));
        }
        self.wait(r, published);
        self.barrier.advance()?;
        Ok(())
    }

    /// The compute event's detail: the rows partition `q`'s pass covered.
    fn compute_detail(&self, q: usize, traffic: &Traffic) -> String {
        let w = &self.t.model.workers[q];
        let owned = self.t.problem.locals[q].num_owned;
        if self.t.model.trains_with_exchange() {
            let received: u64 = traffic.rows.iter().map(|r| r[q]).sum();
            format!(
                "partition {q}: {owned} owned + {received} boundary rows received per layer, {} training",
                w.num_train()
            )
        } else {
            let halo = w.num_rows() + w.boundary_len() - owned;
            format!("partition {q}: {owned} owned + {halo} halo nodes, {} training", w.num_train())
        }
    }

    /// Whatever else a worker does between holding this round's weights and the next
    /// version's publication is waiting: for a restart, for the barrier, for the update.
    fn wait(&mut self, r: &mut Round, published: f64) {
        for (h, spans) in r.busy.iter_mut().enumerate() {
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut cursor = r.weights_at[h];
            for &(s0, e0) in spans.iter() {
                if s0 > cursor {
                    self.t.trace.interval(h, Activity::Wait, cursor, s0, None);
                }
                cursor = cursor.max(e0);
            }
            if published > cursor {
                self.t.trace.interval(h, Activity::Wait, cursor, published, None);
            }
        }
    }

    /// The server sums the gradients, all applied to the version they were computed from: in
    /// the topology's order, or (Byzantine rows, robust rules) every row at the server.
    fn reduce(&mut self, r: &Round, reduced: f64) -> Result<(), SimError> {
        for q in 0..self.p() {
            self.t.trace.gradients.push(GradientRecord {
                partition: q,
                worker: self.assignment[q],
                clock: r.clock,
                computed_from: r.version,
                applied_to: Some(r.version),
                staleness: Some(0),
                fate: Fate::Applied,
                reason: String::new(),
                time_s: reduced,
            });
        }
        let (t, p) = (&mut *self.t, self.assignment.len());
        let b = t.b;
        // What the server received: the decoded pushes, or the gradients themselves.
        let grads: Vec<&[B::Matrix]> = match t.push.as_ref() {
            Some(push) => push.sets(),
            None => t.model.workers.iter().map(|w| w.weight_grads()).collect(),
        };
        b.attribute(None);
        match t.robust.as_mut() {
            // The topology is flat.
            Some(server) => server.combine(b, &grads, t.cfg.train.seed, r.clock, &mut t.aggregated)?,
            None => {
                for (l, out) in t.aggregated.iter_mut().enumerate() {
                    let layer: Vec<&B::Matrix> = grads.iter().map(|g| &g[l]).collect();
                    let topology = self.cluster.topology;
                    reduce::reduce_in_topology(b, topology, &layer, &t.agg_weights, &mut self.partials[l], out, l)?;
                }
            }
        }
        let detail = aggregate_detail(t, p);
        t.log.push(reduced, r.epoch, EventKind::Aggregate, r.version, None, detail);
        Ok(())
    }

    /// The optimizer steps the master weights, and the embedding table the rows pushed.
    fn step(&mut self, r: &Round, reduced: f64) {
        let t = &mut *self.t;
        let (b, epoch) = (t.b, r.epoch);
        t.optimizer.step(b, t.store.master_mut(), &t.aggregated, epoch);
        t.log.push(reduced, epoch, EventKind::Update, r.version, None, t.optimizer.describe(epoch));
        if let Some(table) = t.embedding.as_mut() {
            table.apply(b, &t.model.embedding_pushes(), t.optimizer.lr_at(epoch), epoch);
            let counts = table.counts(r.embedding_pruned);
            let detail = format!(
                "embedding table: {} rows stepped from {} pushed rows, {} re-initialized",
                counts.updated_rows, counts.pushed_rows, counts.pruned_rows
            );
            t.log.push(reduced, epoch, EventKind::Update, r.version, None, detail);
        }
    }

    /// The new version exists (versions nobody reads are released) and reaches every worker
    /// up by then, a worker back from a failure included.
    fn publish(&mut self, r: &Round, agg: &Aggregated) -> Result<(), SimError> {
        let published = agg.published;
        self.t.publish(published, r.epoch)?;
        self.weights_at = agg.schedule.weights_at.clone();
        for (h, &w) in self.weights_at.iter().enumerate() {
            if self.down_until[h].is_none_or(|back| back <= published) {
                self.t.trace.interval(h, Activity::Pull, published.min(w), w, Some((h, r.clock + 1, r.version + 1)));
            }
        }
        self.end_time = published;
        Ok(())
    }

    /// The round's record (evaluation, metrics, early stopping); true when training stops.
    fn record(&mut self, r: &Round, published: f64) -> Result<bool, SimError> {
        let p = self.p();
        let train_slots: Vec<usize> = (0..p).map(|i| p + 2 + i).collect();
        let staleness = vec![0u64; p];
        self.t.finish_round(RoundTraining {
            epoch: r.epoch,
            version: r.version,
            train_slots: &train_slots,
            sim_time_s: published,
            staleness: &staleness,
            pulls: p as u64,
            pushes: p as u64,
            boundary_forward: r.traffic.forward.clone(),
            boundary_backward: r.traffic.backward.clone(),
            embedding_pruned: r.embedding_pruned,
            shards: self.shards.as_ref().map_or_else(Vec::new, |plan| plan.round_traffic(p)),
            started: r.started,
        })
    }

    /// A checkpoint after round `epoch` when one is due, with the loop's own state.
    fn checkpoint(&self, epoch: u32) -> Result<(), SimError> {
        self.t.maybe_checkpoint(epoch, || RoundsState {
            links: self.fabric.busy_until(),
            weights_at: self.weights_at.clone(),
            assignment: self.assignment.clone(),
            down_until: self.down_until.clone(),
            registered: self.registered.clone(),
            host_steps: self.host_steps.clone(),
            next_failure: self.next_failure,
            end_time: self.end_time,
            down_for_good: self.down_for_good.clone(),
        })
    }

    /// Workers down for good stay down to the end; the simulated time the run ends.
    fn finish(self) -> f64 {
        for (h, at) in self.down_for_good {
            self.t.trace.interval(h, Activity::Down, at, self.end_time.max(at), None);
        }
        self.end_time
    }
}
