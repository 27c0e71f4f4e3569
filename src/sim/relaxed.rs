//! SSP and ASP on the simulated cluster: a discrete-event loop of worker and server actors.
//!
//! A worker repeatedly takes the partition it hosts with the lowest clock, pulls the newest
//! version (waiting first, under SSP, until that version is at most S clocks behind the
//! partition's clock), computes the gradient (the arithmetic runs on the backend when the
//! weights arrive; the roofline times it and stragglers stretch it), and pushes it through the
//! server's shared link. The server admits each push against the clock table (a gradient staler
//! than the bound or out of order is discarded with the reason), then
//! - SSP: once every partition's gradient of the oldest open clock is in, combines them in
//!   partition order (for S = 0 exactly BSP's arithmetic) and makes one new version;
//! - ASP: applies every push on its own, scaled by its partition's share, each making a version.
//!
//! The server applies one update at a time, each taking the roofline time of its reduction and
//! optimizer step on the server's device, and answers each worker's requests in order: under
//! ASP a worker's next pull waits until its previous push has been applied. A round — the unit of `metrics.csv` — is one clock (SSP) or P applied
//! gradients (ASP), evaluated when it completes. Events at the same time run in worker order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Instant;

use super::cluster::{detection_time, Activity, Cluster, Consistency, FailureRecord, Fate, GradientRecord, OnFailure};
use super::driver::{RoundTraining, SimError, Trainer};
use super::metered::Metered;
use crate::backend::{Backend, MemCategory, Shape};
use crate::cost::Fabric;
use crate::ps::{ClockTable, EventKind};

/// Training-pass stats slots (and pending gradient sets) the loop may need at once: gradients in
/// flight (one per worker), pending under SSP (at most S + 1 clocks per partition), and those
/// applied in the current round (P), with P to spare.
pub(crate) fn train_slot_capacity(cluster: &Cluster, p: usize) -> usize {
    match cluster.consistency {
        Consistency::Bsp => p,
        Consistency::Ssp => p * (cluster.bound.unwrap_or(0) as usize + 4),
        Consistency::Asp => 4 * p,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ev {
    PullDone { h: usize, generation: u64 },
    ComputeDone { h: usize, generation: u64 },
    PushArrive { h: usize, generation: u64 },
    Applied,
    Fail(usize),
    Back(usize),
    Detect(usize),
}

#[derive(Debug, PartialEq)]
struct Timed {
    time: f64,
    /// Ties: lower worker first (the server after the workers), then insertion order.
    worker: usize,
    seq: u64,
    ev: Ev,
}

impl Eq for Timed {}

impl Ord for Timed {
    fn cmp(&self, o: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for the earliest first.
        o.time.total_cmp(&self.time).then(o.worker.cmp(&self.worker)).then(o.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Timed {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Timed>,
    seq: u64,
}

impl Queue {
    fn at(&mut self, time: f64, worker: usize, ev: Ev) {
        self.seq += 1;
        self.heap.push(Timed { time, worker, seq: self.seq, ev });
    }
}

#[derive(Clone, Copy, Debug)]
struct Step {
    q: usize,
    clock: u32,
    version: u64,
    pull_start: f64,
    pull_end: f64,
    compute_end: f64,
    /// The pending gradient set holding its result, once computed.
    entry: Option<usize>,
}

struct Host {
    alive: bool,
    /// Bumped on failure and re-registration: events of an earlier life are ignored.
    generation: u64,
    step: Option<Step>,
    wait_since: Option<f64>,
    steps: u64,
    registered: f64,
}

/// A gradient waiting for (or in) an update.
#[derive(Clone, Copy, Debug)]
struct Pending {
    q: usize,
    host: usize,
    clock: u32,
    version: u64,
    entry: usize,
}

/// Gradient sets (and their stats slots) of computed, not yet applied gradients.
struct Pool<M: Backend> {
    sets: Vec<(Vec<M::Matrix>, usize)>,
    free: Vec<usize>,
    /// Applied this round: their stats are read at the round's end, then they are reused.
    retired: Vec<usize>,
    capacity: usize,
    first_slot: usize,
}

impl<M: Backend> Pool<M> {
    fn take(&mut self, b: &M, shapes: &[(usize, usize)]) -> Result<usize, SimError> {
        if let Some(i) = self.free.pop() {
            return Ok(i);
        }
        let k = self.sets.len();
        if k >= self.capacity {
            return Err(SimError::Backend(crate::backend::BackendError::Device(format!(
                "internal: more than {} gradients pending at once",
                self.capacity
            ))));
        }
        let set = shapes
            .iter()
            .enumerate()
            .map(|(l, &(r, c))| b.alloc(r, c, MemCategory::Gradients, &format!("ps/pending{k}/dW{l}")))
            .collect::<Result<Vec<_>, _>>()?;
        self.sets.push((set, self.first_slot + k));
        Ok(k)
    }
}

struct Loop<'t, 'a, B: Backend> {
    t: &'t mut Trainer<'a, Metered<'a, B>>,
    q: Queue,
    fabric: Fabric,
    hosts: Vec<Host>,
    assignment: Vec<usize>,
    busy: Vec<bool>,
    /// ASP: per worker, pushes admitted but not yet applied.
    unapplied: Vec<usize>,
    return_home: Vec<bool>,
    table: ClockTable,
    pool: Pool<Metered<'a, B>>,
    pending: BTreeMap<u32, Vec<Pending>>,
    jobs: VecDeque<Vec<Pending>>,
    applying: Option<Vec<Pending>>,
    shapes: Vec<(usize, usize)>,
    // The current round.
    round_version: u64,
    round_slots: Vec<usize>,
    round_staleness: Vec<u64>,
    round_pulls: u64,
    round_pushes: u64,
    round_started: Instant,
    applied_in_round: usize,
    done: bool,
    now: f64,
}

impl<'t, 'a, B: Backend> Loop<'t, 'a, B> {
    fn p(&self) -> usize {
        self.assignment.len()
    }

    fn epoch(&self) -> u32 {
        self.t.records.len() as u32 + 1
    }

    fn discard(&mut self, step: &Step, host: usize, reason: &str) {
        let t = &mut *self.t;
        t.trace.gradients.push(GradientRecord {
            partition: step.q,
            worker: host,
            clock: step.clock,
            computed_from: step.version,
            applied_to: None,
            staleness: None,
            fate: Fate::Discarded,
            reason: reason.to_string(),
            time_s: self.now,
        });
        let epoch = self.t.records.len() as u32 + 1;
        self.t.log.push(
            self.now,
            epoch,
            EventKind::Discard,
            step.version,
            Some(host),
            format!("partition {}: {reason}", step.q),
        );
        if let Some(e) = step.entry {
            self.pool.free.push(e);
        }
    }

    fn cluster(&self) -> &Cluster {
        &self.t.cluster
    }

    /// Starts `h`'s next step if it is alive, idle, hosts a partition that is free, and (SSP)
    /// the newest version is fresh enough for that partition's clock.
    fn try_start(&mut self, h: usize) {
        if self.done || !self.hosts[h].alive || self.hosts[h].step.is_some() {
            return;
        }
        let p = self.p();
        let Some(q) = (0..p)
            .filter(|&q| self.assignment[q] == h && !self.busy[q] && !self.return_home[q])
            .min_by_key(|&q| (self.table.clock_of(q), q))
        else {
            // Nothing to compute yet (its partition is still with the worker that adopted it).
            self.hosts[h].wait_since.get_or_insert(self.now);
            return;
        };
        let clock = self.table.clock_of(q);
        let version = self.t.store.current().0;
        // The server answers a worker's requests in order: its pull waits for its last push.
        if !self.table.may_read(clock, version) || self.unapplied[h] > 0 {
            self.hosts[h].wait_since.get_or_insert(self.now);
            return;
        }
        if let Some(since) = self.hosts[h].wait_since.take() {
            self.t.trace.interval(h, Activity::Wait, since, self.now, None);
        }
        self.t.store.acquire(version);
        let pulled = self.fabric.pull(h, self.now, self.t.pull_bytes).end;
        self.round_pulls += 1;
        self.busy[q] = true;
        self.hosts[h].step =
            Some(Step { q, clock, version, pull_start: self.now, pull_end: pulled, compute_end: pulled, entry: None });
        let generation = self.hosts[h].generation;
        self.q.at(pulled, h, Ev::PullDone { h, generation });
    }

    fn try_start_all(&mut self) {
        for h in 0..self.p() {
            self.try_start(h);
        }
    }

    /// The weights arrived: the arithmetic of the step, timed by the roofline.
    fn compute(&mut self, h: usize) -> Result<(), SimError> {
        let mut step = self.hosts[h].step.expect("a pull completes a step");
        let t = &mut *self.t;
        let b = t.b;
        let entry = self.pool.take(b, &self.shapes)?;
        let slot = self.pool.sets[entry].1;
        let master = t.store.weights(step.version).expect("a version being read is live");
        let weights = match t.pull.as_mut() {
            Some(pull) => pull.pull(b, master),
            None => master,
        };
        b.take_segments();
        t.model.train_one(b, step.q, weights, t.cfg.train.seed, step.clock, t.grad_scales[step.q], &mut t.stats, slot);
        // The worker encodes its push on its own clock; the pending set holds what the server
        // decodes.
        if let Some(push) = t.push.as_mut() {
            let grads = t.model.workers[step.q].weight_grads();
            push.encode(b, step.q, grads, step.clock, &mut self.pool.sets[entry].0)?;
        }
        let seconds: f64 = b.take_segments().iter().map(|seg| seg[step.q]).sum();
        if t.push.is_none() {
            for (l, g) in t.model.workers[step.q].weight_grads().iter().enumerate() {
                b.copy(g, &mut self.pool.sets[entry].0[l]);
            }
        }
        b.attribute(None);
        let factor = self.t.cluster.stragglers.factor(self.t.cfg.train.seed, h, self.hosts[h].steps);
        self.hosts[h].steps += 1;
        step.entry = Some(entry);
        step.compute_end = self.now + seconds * factor;
        if !step.compute_end.is_finite() {
            let (epoch, keys) = (self.epoch(), "device_profile, compute_time and stragglers");
            return Err(SimError::Clock { epoch, what: "a worker's compute end", time: step.compute_end, keys });
        }
        self.hosts[h].step = Some(step);
        self.t.log.push(
            step.compute_end,
            self.epoch(),
            EventKind::Compute,
            step.version,
            Some(h),
            format!(
                "partition {} clock {}{}",
                step.q,
                step.clock,
                if factor != 1.0 { format!(", {factor:.2}× slower") } else { String::new() }
            ),
        );
        let generation = self.hosts[h].generation;
        self.q.at(step.compute_end, h, Ev::ComputeDone { h, generation });
        Ok(())
    }

    fn push_arrived(&mut self, h: usize) {
        let step = self.hosts[h].step.take().expect("a push ends a step");
        let (q, e) = (step.q, self.epoch());
        for (a, s0, e0) in [
            (Activity::Pull, step.pull_start, step.pull_end),
            (Activity::Compute, step.pull_end, step.compute_end),
            (Activity::Push, step.compute_end, self.now),
        ] {
            self.t.trace.interval(h, a, s0, e0, Some((q, step.clock, step.version)));
        }
        self.t.log.push(
            self.now,
            e,
            EventKind::Push,
            step.version,
            Some(h),
            format!("partition {q} clock {}", step.clock),
        );
        self.round_pushes += 1;
        self.busy[q] = false;
        self.t.store.release_reader(step.version);
        match self.table.admit(q, step.clock, step.version) {
            Err(err) => self.discard(&step, h, &err.to_string()),
            Ok(()) => {
                let entry = step.entry.expect("a pushed gradient was computed");
                let pending = Pending { q, host: h, clock: step.clock, version: step.version, entry };
                if self.cluster().consistency == Consistency::Asp {
                    self.unapplied[h] += 1;
                    self.jobs.push_back(vec![pending]);
                } else {
                    self.pending.entry(step.clock).or_default().push(pending);
                    while let Some(clock) = self.table.take_complete() {
                        let mut job = self.pending.remove(&clock).expect("a complete clock has its gradients");
                        job.sort_by_key(|g| g.q);
                        self.jobs.push_back(job);
                    }
                }
            }
        }
        self.t.release(self.now, e);
        if self.return_home[q] {
            self.return_home[q] = false;
            self.assignment[q] = q;
            self.t.log.push(
                self.now,
                e,
                EventKind::Reassign,
                step.version,
                Some(q),
                format!("partition {q} back to worker {q}"),
            );
            self.try_start(q);
        }
        self.start_job();
        self.try_start(h);
    }

    fn start_job(&mut self) {
        if self.applying.is_some() || self.done {
            return;
        }
        if let Some(job) = self.jobs.pop_front() {
            let seconds = self.t.update_time(job.len());
            self.t.trace.server_busy(self.now, self.now + seconds);
            self.applying = Some(job);
            self.q.at(self.now + seconds, usize::MAX, Ev::Applied);
        }
    }

    fn applied(&mut self) -> Result<(), SimError> {
        let job = self.applying.take().expect("an update was running");
        let before = self.t.store.current().0;
        let staleness: Vec<u64> = job.iter().map(|g| before - g.version).collect();
        let lr_scale = if self.t.cluster.staleness_lr {
            let mean = staleness.iter().sum::<u64>() as f64 / staleness.len() as f64;
            (1.0 / (1.0 + mean)) as f32
        } else {
            1.0
        };
        let weights: Vec<f32> = job.iter().map(|g| self.t.agg_weights[g.q]).collect();
        let e = self.epoch();
        let mut detail = match self.cluster().consistency {
            Consistency::Asp => format!("partition {} alone (asp), staleness {}", job[0].q, staleness[0]),
            _ => format!(
                "clock {} over {} gradients (ssp, S = {})",
                job[0].clock,
                job.len(),
                self.cluster().bound.unwrap_or(0)
            ),
        };
        if self.t.robust.is_some() {
            detail = format!("{detail}: {}", super::rounds::aggregate_detail(self.t, job.len()));
        }
        {
            let sets = &self.pool.sets;
            // The robust server takes every partition's gradient in partition order.
            let mut order: Vec<usize> = (0..job.len()).collect();
            if self.t.robust.is_some() {
                order.sort_by_key(|&k| job[k].q);
                debug_assert!(
                    order.iter().enumerate().all(|(q, &k)| job[k].q == q),
                    "SSP applies one gradient per partition"
                );
            }
            let grads: Vec<&[<Metered<'a, B> as Backend>::Matrix]> =
                order.iter().map(|&k| sets[job[k].entry].0.as_slice()).collect();
            let weights: Vec<f32> = order.iter().map(|&k| weights[k]).collect();
            // `apply` needs the trainer mutably and the pool's buffers immutably: they are apart.
            self.t.apply(&grads, &weights, lr_scale, self.now, e, detail)?;
        }
        for (g, &s) in job.iter().zip(&staleness) {
            if self.t.cluster.consistency == Consistency::Asp {
                self.unapplied[g.host] -= 1;
            }
            self.t.trace.gradients.push(GradientRecord {
                partition: g.q,
                worker: g.host,
                clock: g.clock,
                computed_from: g.version,
                applied_to: Some(before),
                staleness: Some(s),
                fate: Fate::Applied,
                reason: String::new(),
                time_s: self.now,
            });
            self.round_slots.push(self.pool.sets[g.entry].1);
            self.round_staleness.push(s);
            self.pool.retired.push(g.entry);
        }
        self.applied_in_round += job.len();
        let round_size = self.p();
        if self.applied_in_round >= round_size {
            self.end_round()?;
        }
        self.start_job();
        self.try_start_all();
        Ok(())
    }

    fn end_round(&mut self) -> Result<(), SimError> {
        let slots = std::mem::take(&mut self.round_slots);
        let staleness = std::mem::take(&mut self.round_staleness);
        let done = self.t.finish_round(RoundTraining {
            embedding_pruned: 0,
            shards: Vec::new(),
            epoch: self.epoch(),
            version: self.round_version,
            train_slots: &slots,
            sim_time_s: self.now,
            staleness: &staleness,
            pulls: self.round_pulls,
            pushes: self.round_pushes,
            boundary_forward: Vec::new(),
            boundary_backward: Vec::new(),
            started: self.round_started,
        })?;
        self.pool.free.append(&mut self.pool.retired);
        self.applied_in_round = 0;
        self.round_pulls = 0;
        self.round_pushes = 0;
        self.round_version = self.t.store.current().0;
        self.round_started = Instant::now();
        self.t.b.memory().reset_peak();
        self.done = done;
        Ok(())
    }

    fn fail(&mut self, idx: usize) {
        let f = self.cluster().failures[idx];
        let (h, e) = (f.worker, self.epoch());
        let version = self.t.store.current().0;
        self.t.log.push(
            self.now,
            e,
            EventKind::Fail,
            version,
            Some(h),
            f.back_at().map_or("for good".into(), |b| format!("back at {b:.6} s")),
        );
        if let Some(step) = self.hosts[h].step.take() {
            let end = self.now;
            self.t.trace.interval(
                h,
                Activity::Pull,
                step.pull_start,
                step.pull_end.min(end),
                Some((step.q, step.clock, step.version)),
            );
            if step.entry.is_some() {
                self.t.trace.interval(
                    h,
                    Activity::Compute,
                    step.pull_end,
                    step.compute_end.min(end),
                    Some((step.q, step.clock, step.version)),
                );
                self.t.trace.interval(
                    h,
                    Activity::Push,
                    step.compute_end,
                    end,
                    Some((step.q, step.clock, step.version)),
                );
            }
            self.busy[step.q] = false;
            self.t.store.release_reader(step.version);
            self.discard(&step, h, "worker failed before its push arrived");
            self.t.release(self.now, e);
        }
        if let Some(since) = self.hosts[h].wait_since.take() {
            self.t.trace.interval(h, Activity::Wait, since, self.now, None);
        }
        let host = &mut self.hosts[h];
        host.alive = false;
        host.generation += 1;
        let det = detection_time(host.registered, self.now, self.t.cluster.heartbeat, self.t.cluster.heartbeat_timeout);
        let detected = f.back_at().is_none_or(|b| b > det);
        self.t.trace.failures.push(FailureRecord {
            worker: h,
            failed_s: self.now,
            detected_s: detected.then_some(det),
            back_s: f.back_at(),
        });
        if detected {
            self.q.at(det, h, Ev::Detect(idx));
        }
        if let Some(back) = f.back_at() {
            self.q.at(back, h, Ev::Back(idx));
        }
    }

    fn detect(&mut self, idx: usize) {
        let h = self.cluster().failures[idx].worker;
        let e = self.epoch();
        let version = self.t.store.current().0;
        self.t.log.push(self.now, e, EventKind::Dead, version, Some(h), String::new());
        if self.cluster().on_failure != OnFailure::Reassign {
            return;
        }
        let p = self.p();
        let hosted: Vec<usize> = (0..p).filter(|&q| self.assignment[q] == h).collect();
        for q in hosted {
            let adopter = (0..p)
                .filter(|&a| self.hosts[a].alive)
                .min_by_key(|&a| (self.assignment.iter().filter(|&&x| x == a).count(), a));
            if let Some(a) = adopter {
                self.assignment[q] = a;
                self.t.log.push(
                    self.now,
                    e,
                    EventKind::Reassign,
                    version,
                    Some(a),
                    format!("partition {q} from worker {h} to worker {a}"),
                );
                self.try_start(a);
            }
        }
    }

    fn back(&mut self, idx: usize) {
        let f = self.cluster().failures[idx];
        let (h, e) = (f.worker, self.epoch());
        let fail_at = self.t.trace.failures.iter().rev().find(|r| r.worker == h).map_or(f.at, |r| r.failed_s);
        self.t.trace.interval(h, Activity::Down, fail_at, self.now, None);
        let host = &mut self.hosts[h];
        host.alive = true;
        host.generation += 1;
        host.registered = self.now;
        let version = self.t.store.current().0;
        self.t.log.push(self.now, e, EventKind::Register, version, Some(h), String::new());
        if self.assignment[h] != h {
            if self.busy[h] {
                self.return_home[h] = true;
            } else {
                self.assignment[h] = h;
                self.t.log.push(
                    self.now,
                    e,
                    EventKind::Reassign,
                    version,
                    Some(h),
                    format!("partition {h} back to worker {h}"),
                );
            }
        }
        self.try_start(h);
    }

    /// Gradients still in flight or pending when the run ends are discarded, with that reason.
    fn drain(&mut self) {
        let reason = "the run ended before it was applied";
        for h in 0..self.p() {
            if let Some(step) = self.hosts[h].step.take() {
                self.t.store.release_reader(step.version);
                self.discard(&step, h, reason);
            }
            if let Some(since) = self.hosts[h].wait_since.take() {
                self.t.trace.interval(h, Activity::Wait, since, self.now, None);
            }
        }
        let waiting: Vec<Pending> = self
            .applying
            .take()
            .into_iter()
            .flatten()
            .chain(self.jobs.drain(..).flatten())
            .chain(std::mem::take(&mut self.pending).into_values().flatten())
            .collect();
        for g in waiting {
            let step = Step {
                q: g.q,
                clock: g.clock,
                version: g.version,
                pull_start: 0.0,
                pull_end: 0.0,
                compute_end: 0.0,
                entry: Some(g.entry),
            };
            self.discard(&step, g.host, reason);
        }
        let for_good: Vec<(usize, f64)> =
            self.t.trace.failures.iter().filter(|r| r.back_s.is_none()).map(|r| (r.worker, r.failed_s)).collect();
        for (worker, failed) in for_good {
            self.t.trace.interval(worker, Activity::Down, failed, self.now.max(failed), None);
        }
    }
}

pub(crate) fn run<'a, B: Backend>(t: &mut Trainer<'a, Metered<'a, B>>) -> Result<f64, SimError> {
    let p = t.workers();
    let shapes: Vec<(usize, usize)> = t.aggregated.iter().map(|m| (m.rows(), m.cols())).collect();
    let capacity = train_slot_capacity(&t.cluster, p);
    let fabric = Fabric::new(&t.cluster.network, p);
    let bound = t.cluster.bound;
    let failures = t.cluster.failures.clone();
    let round_version = t.store.current().0;
    let mut l = Loop {
        t,
        q: Queue::default(),
        fabric,
        hosts: (0..p)
            .map(|_| Host { alive: true, generation: 0, step: None, wait_since: None, steps: 0, registered: 0.0 })
            .collect(),
        assignment: (0..p).collect(),
        busy: vec![false; p],
        unapplied: vec![0; p],
        return_home: vec![false; p],
        table: ClockTable::new(p, bound),
        pool: Pool { sets: Vec::new(), free: Vec::new(), retired: Vec::new(), capacity, first_slot: p + 2 },
        pending: BTreeMap::new(),
        jobs: VecDeque::new(),
        applying: None,
        shapes,
        round_version,
        round_slots: Vec::new(),
        round_staleness: Vec::new(),
        round_pulls: 0,
        round_pushes: 0,
        round_started: Instant::now(),
        applied_in_round: 0,
        done: false,
        now: 0.0,
    };
    l.t.b.memory().reset_peak();
    for (i, f) in failures.iter().enumerate() {
        l.q.at(f.at, f.worker, Ev::Fail(i));
    }
    l.try_start_all();
    while let Some(Timed { time, ev, .. }) = l.q.heap.pop() {
        if l.done {
            break;
        }
        l.now = time;
        match ev {
            Ev::PullDone { h, generation } if l.hosts[h].generation == generation => {
                let s = l.hosts[h].step.expect("a pull belongs to a step");
                l.t.log.push(
                    l.now,
                    l.epoch(),
                    EventKind::Pull,
                    s.version,
                    Some(h),
                    format!("partition {} clock {}", s.q, s.clock),
                );
                l.compute(h)?
            }
            Ev::ComputeDone { h, generation } if l.hosts[h].generation == generation => {
                let arrival = l.fabric.push(h, l.now, l.t.push_bytes).end;
                l.q.at(arrival, h, Ev::PushArrive { h, generation });
            }
            Ev::PushArrive { h, generation } if l.hosts[h].generation == generation => l.push_arrived(h),
            Ev::Applied => l.applied()?,
            Ev::Fail(i) => l.fail(i),
            Ev::Back(i) => l.back(i),
            Ev::Detect(i) => l.detect(i),
            // An event of a worker's earlier life (before it failed).
            _ => {}
        }
    }
    if !l.done {
        return Err(SimError::Stalled { rounds: l.t.records.len(), time: l.now });
    }
    l.drain();
    Ok(l.now)
}
