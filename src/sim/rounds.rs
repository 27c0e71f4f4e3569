//! BSP on the simulated cluster. Each round every partition computes its gradient from the same
//! version; the clock says when. The arithmetic is one training pass over all partitions (as
//! the exchange boundary needs), so it is the same whatever the timing: stragglers and failures
//! move time, not numbers. A gradient lost to a failure is recomputed from the same version and
//! clock, which gives the same values, so the simulator charges the lost and the repeated work
//! in time and does the arithmetic once.
//!
//! Per round:
//! 1. every worker has the version at `weights_at` (the previous round's broadcast);
//! 2. it computes its partitions one after another (with `exchange` boundaries: segment by
//!    segment, the boundary rows timed as pairwise messages on the fabric);
//! 3. failures that strike before the round's last gradient is ready are applied in time
//!    order: the failed worker's unfinished work is lost and redone, by itself once it is back
//!    (`wait`, or when it re-registers before the server declares it dead) or by the survivor
//!    with the fewest partitions from the moment it is declared dead (`reassign`); with
//!    `exchange` every partition's pass restarts (the layers need each other's rows);
//! 4. the gradients are aggregated in the topology's order (flat, Spark tree, binary tree, ring)
//!    and the new weights broadcast; the round ends when the new version exists.
//!
//! With reassigned partitions, the adopter's gradients use the fabric slots of the partitions
//! (a slight overestimate of its link: it would send their sum once).

use std::time::Instant;

use super::checkpoint::RoundsState;
use super::cluster::{detection_time, Activity, FailureRecord, Fate, GradientRecord, OnFailure};
use super::driver::{RoundTraining, SimError, Trainer};
use super::metered::Metered;
use crate::backend::{Backend, MemCategory, Shape};
use crate::cost::{Fabric, Node, Topology};
use crate::ps::shards::ShardPlan;
use crate::ps::{BspBarrier, EventKind};

/// When each partition computed, in one attempt at a round.
struct Schedule {
    /// Per partition: when its first computation started, and when its gradient was ready.
    start: Vec<f64>,
    ready: Vec<f64>,
    /// (worker, activity, start, end, partition).
    intervals: Vec<(usize, Activity, f64, f64, usize)>,
    /// Steps each worker ran (straggler draws used).
    steps: Vec<u64>,
    fabric: Fabric,
}

/// Inputs of a round's timing that stay fixed while failures are applied.
struct RoundInputs<'r> {
    seed: u64,
    assignment: &'r [usize],
    weights_at: &'r [f64],
    not_before: &'r [f64],
    /// Seconds per segment per partition (one segment without exchange).
    segments: &'r [Vec<f64>],
    /// Boundary bytes between segments: `volumes[k][src][dst]`.
    volumes: &'r [Vec<Vec<u64>>],
    host_steps: &'r [u64],
}

fn schedule(inp: &RoundInputs, stragglers: &super::cluster::Stragglers, fabric: &Fabric) -> Schedule {
    let p = inp.assignment.len();
    let mut fabric = fabric.clone();
    let mut start = vec![f64::INFINITY; p];
    let mut ready = vec![0.0; p];
    let mut intervals = Vec::new();
    let mut steps = vec![0u64; p];
    let factor = |h: usize, steps: &mut Vec<u64>| {
        let f = stragglers.factor(inp.seed, h, inp.host_steps[h] + steps[h]);
        steps[h] += 1;
        f
    };
    if inp.segments.len() == 1 {
        // Independent partitions: each worker runs its own one after another.
        let mut free = inp.weights_at.to_vec();
        for q in 0..p {
            let h = inp.assignment[q];
            let s = free[h].max(inp.not_before[q]);
            let f = factor(h, &mut steps);
            let e = s + inp.segments[0][q] * f;
            (start[q], ready[q], free[h]) = (s, e, e);
            intervals.push((h, Activity::Compute, s, e, q));
        }
    } else {
        // Exchange: segment by segment; a worker hosting several partitions runs their segments
        // back to back, and boundary rows travel between segments.
        let mut t: Vec<f64> = (0..p).map(|q| inp.weights_at[inp.assignment[q]].max(inp.not_before[q])).collect();
        let factors: Vec<f64> = (0..p).map(|q| factor(inp.assignment[q], &mut steps)).collect();
        for (s, seg) in inp.segments.iter().enumerate() {
            let mut free = vec![f64::NEG_INFINITY; p];
            for q in 0..p {
                let h = inp.assignment[q];
                let b = t[q].max(free[h]);
                let e = b + seg[q] * factors[q];
                if s == 0 {
                    start[q] = b;
                }
                intervals.push((h, Activity::Compute, b, e, q));
                (t[q], free[h]) = (e, e);
            }
            if let Some(volume) = inp.volumes.get(s) {
                let received = fabric.exchange(volume, &t).received;
                for q in 0..p {
                    intervals.push((inp.assignment[q], Activity::Exchange, t[q], received[q], q));
                    t[q] = received[q];
                }
            }
        }
        ready = t;
    }
    Schedule { start, ready, intervals, steps, fabric }
}

/// Sums `grads` (one set per partition) in the topology's order into `out`: flat (or ring,
/// whose chunked order is not reproduced) in worker order, trees level by level through partial
/// sums, each partial a `weighted_sum` on the device.
fn reduce_in_topology<M: Backend>(
    b: &M,
    topology: Topology,
    grads: &[&M::Matrix],
    weights: &[f32],
    partials: &mut Vec<Vec<M::Matrix>>,
    out: &mut M::Matrix,
    layer: usize,
) -> Result<(), SimError> {
    let p = grads.len();
    let levels = match topology.levels(p) {
        Some((levels, _)) if levels.len() > 1 => levels,
        _ => {
            b.weighted_sum(grads, weights, crate::backend::ReduceOrder::Flat, out);
            return Ok(());
        }
    };
    // partials[k]: level k + 1's partial sums (the last level goes straight into `out`).
    for (k, level) in levels.iter().enumerate().take(levels.len() - 1) {
        while partials.len() <= k {
            partials.push(Vec::new());
        }
        while partials[k].len() < level.len() {
            let g = partials[k].len();
            partials[k].push(b.alloc(
                out.rows(),
                out.cols(),
                MemCategory::Gradients,
                &format!("ps/partial{k}_{g}_dW{layer}"),
            )?);
        }
    }
    for (k, level) in levels.iter().enumerate() {
        let last = k + 1 == levels.len();
        let (below, here) = partials.split_at_mut(k);
        for (g, group) in level.iter().enumerate() {
            let (inputs, w): (Vec<&M::Matrix>, Vec<f32>) = if k == 0 {
                group.iter().map(|&i| (grads[i], weights[i])).unzip()
            } else {
                group.iter().map(|&i| (&below[k - 1][i], 1.0)).unzip()
            };
            let target = if last { &mut *out } else { &mut here[0][g] };
            b.weighted_sum(&inputs, &w, crate::backend::ReduceOrder::Flat, target);
        }
    }
    Ok(())
}

/// Worker `h` fetches the whole weight set (`bytes`), ready at `at`: from the server, or each
/// shard's block from its shard; returns when the last byte arrives.
fn pull_weights(fabric: &mut Fabric, plan: Option<&ShardPlan>, h: usize, at: f64, bytes: u64) -> f64 {
    match plan {
        None => fabric.pull(h, at, bytes).end,
        Some(plan) => (0..plan.shards)
            .filter(|&s| plan.dense_bytes[s] > 0)
            .map(|s| fabric.send(Node::shard(s), Node::Worker(h), at, plan.dense_bytes[s]).end)
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

// Workers, partitions and their per-index state are parallel arrays: index loops read best.
#[allow(clippy::needless_range_loop)]
pub(crate) fn run<B: Backend>(
    t: &mut Trainer<'_, Metered<'_, B>>,
    resumed: Option<(u32, RoundsState)>,
) -> Result<f64, SimError> {
    let b = t.b;
    let p = t.workers();
    let seed = t.cfg.train.seed;
    let par = &t.cfg.parallel;
    let cluster = t.cluster.clone();
    let set_bytes = t.set_bytes;
    let mut fabric = Fabric::sharded(&cluster.network, p, cluster.servers);
    let shards = t.shards.clone();
    let mut failures = cluster.failures.clone();
    failures.sort_by(|a, b| a.at.total_cmp(&b.at).then(a.worker.cmp(&b.worker)));
    let (first_epoch, state) = match resumed {
        Some((epoch, s)) => {
            // `checkpoint::validate` checked every field against this run before the restore;
            // this guard only keeps the loop's indexing safe should a caller skip it.
            let fits =
                [s.weights_at.len(), s.assignment.len(), s.down_until.len(), s.registered.len(), s.host_steps.len()]
                    .iter()
                    .all(|&n| n == p)
                    && s.assignment.iter().all(|&h| h < p)
                    && s.down_for_good.iter().all(|&(h, _)| h < p)
                    && s.next_failure <= failures.len()
                    && fabric.restore_busy_until(&s.links);
            if !fits {
                return Err(SimError::InvalidCheckpoint(super::checkpoint::InvalidState {
                    field: "rounds".into(),
                    message: format!("its per-worker lists or worker ids do not fit this run's {p} workers"),
                }));
            }
            (epoch, s)
        }
        None => {
            let weights_at = match &shards {
                // Every worker pulls each shard's block.
                Some(plan) => (0..p).map(|h| pull_weights(&mut fabric, Some(plan), h, 0.0, set_bytes)).collect(),
                None => match fabric.broadcast(cluster.topology, 0.0, set_bytes) {
                    Some(s) => s.received,
                    // Ring: no server; every worker initialises the weights from the seed itself.
                    None => vec![0.0; p],
                },
            };
            for (h, &w) in weights_at.iter().enumerate() {
                t.trace.interval(h, Activity::Pull, 0.0, w, Some((h, 0, 0)));
                t.log.push(w, 0, EventKind::Pull, 0, Some(h), String::new());
            }
            let state = RoundsState {
                links: Vec::new(),
                weights_at,
                assignment: (0..p).collect(),
                down_until: vec![None; p],
                registered: vec![0.0; p],
                host_steps: vec![0; p],
                next_failure: 0,
                end_time: 0.0,
                down_for_good: Vec::new(),
            };
            (0, state)
        }
    };
    let RoundsState {
        mut weights_at,
        mut assignment,
        mut down_until,
        mut registered,
        mut host_steps,
        mut next_failure,
        mut end_time,
        mut down_for_good,
        ..
    } = state;
    let mut barrier = BspBarrier::new(p, t.store.current().0);
    let mut partials: Vec<Vec<Vec<B::Matrix>>> = (0..t.aggregated.len()).map(|_| Vec::new()).collect();
    let layers = t.cfg.train.layers;
    let widths: Vec<u64> = t.problem.shape.layer_dims().iter().map(|&(_, w)| 4 * w as u64).collect();
    for e in first_epoch..t.cfg.train.epochs as u32 {
        let started = Instant::now();
        b.memory().reset_peak();
        let epoch = e + 1;
        let round_start = weights_at.iter().copied().fold(f64::INFINITY, f64::min);
        // Workers that came back get their partitions again.
        for h in 0..p {
            if let Some(back) = down_until[h].filter(|&back| back <= round_start) {
                down_until[h] = None;
                for q in 0..p {
                    if q == h && assignment[q] != h {
                        t.log.push(
                            back,
                            epoch,
                            EventKind::Reassign,
                            t.store.current().0,
                            Some(h),
                            format!("partition {q} back to worker {h}"),
                        );
                        assignment[q] = h;
                    }
                }
            }
        }

        // The arithmetic: every partition's training pass from the current version (and the
        // embedding rows it reads, pulled after evicted rows are re-initialized).
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
        let (version, weights) = t.store.current();
        let all: Vec<&[B::Matrix]> = vec![weights; p];
        // With a reused forward, the last evaluation's forward kernels are this pass's.
        let evaluation = b.take_segments();
        if t.model.reuses_forward() {
            b.put_segments(evaluation);
        }
        t.model.train(b, &all, seed, e, par.sample_rate, &t.grad_scales, &mut t.stats, |i| p + 2 + i);
        if t.embedding.is_some() {
            t.model.stage_embedding_pushes(b);
        }
        let segments = b.take_segments();
        if let Some(&bad) = segments.iter().flatten().find(|s| !s.is_finite()) {
            let keys = "device_profile and compute_time";
            return Err(SimError::Clock { epoch, what: "a worker's compute time", time: bad, keys });
        }
        let traffic = t.model.traffic(t.problem, seed, e, par.sample_rate);
        let volumes: Vec<Vec<Vec<u64>>> = if segments.len() > 1 {
            let order = (0..layers).chain((0..layers).rev());
            order
                .map(|l| traffic.rows.iter().map(|row| row.iter().map(|r| r * widths[l]).collect()).collect())
                .collect()
        } else {
            Vec::new()
        };
        for (q, row) in traffic.rows.iter().enumerate() {
            let row_bytes: u64 = widths.iter().map(|w| 2 * w).sum();
            for (dst, r) in row.iter().enumerate() {
                t.pair_bytes[q][dst] += r * row_bytes;
            }
        }

        // The timing, failures applied in time order.
        let round_weights_at = weights_at.clone();
        // Spans a worker is down or re-registering this round: never `wait` in its timeline.
        let mut occupied: Vec<(usize, f64, f64)> =
            (0..p).filter_map(|h| down_until[h].map(|back| (h, f64::NEG_INFINITY, back))).collect();
        let mut not_before = vec![0.0f64; p];
        // Embedding rows: each partition's host pulls them once it holds the weights, before
        // computing (full-batch: the same rows every round).
        if let Some(table) = &t.embedding {
            for q in 0..p {
                let h = assignment[q];
                // From the server, or from each shard its rows.
                let per_shard = match &shards {
                    Some(plan) => plan.embedding_pull[q].clone(),
                    None => vec![table.pull_bytes(q)],
                };
                for (s, &bytes) in per_shard.iter().enumerate().filter(|(_, &b)| b > 0) {
                    let m = fabric.send(Node::shard(s), Node::Worker(h), weights_at[h], bytes);
                    t.trace.interval(h, Activity::Pull, m.start, m.end, Some((q, e, version)));
                    not_before[q] = not_before[q].max(m.end);
                }
            }
        }
        let mut lost_intervals = Vec::new();
        let sched = loop {
            let inputs = RoundInputs {
                seed,
                assignment: &assignment,
                weights_at: &weights_at,
                not_before: &not_before,
                segments: &segments,
                volumes: &volumes,
                host_steps: &host_steps,
            };
            let s = schedule(&inputs, &cluster.stragglers, &fabric);
            let end = s.ready.iter().copied().fold(0.0, f64::max);
            let Some(f) = failures.get(next_failure).filter(|f| f.at < end).copied() else { break s };
            next_failure += 1;
            let (h, at) = (f.worker, f.at);
            t.log.push(
                at,
                epoch,
                EventKind::Fail,
                version,
                Some(h),
                f.back_at().map_or("for good".into(), |b| format!("back at {b:.6} s")),
            );
            let det = detection_time(registered[h], at, cluster.heartbeat, cluster.heartbeat_timeout);
            let back = f.back_at();
            let detected = back.is_none_or(|b| b > det);
            t.trace.failures.push(FailureRecord {
                worker: h,
                failed_s: at,
                detected_s: detected.then_some(det),
                back_s: back,
            });
            match back {
                Some(back) => t.trace.interval(h, Activity::Down, at, back, None),
                None => down_for_good.push((h, at)),
            }
            occupied.push((h, at, back.unwrap_or(f64::INFINITY)));
            if detected {
                t.log.push(det, epoch, EventKind::Dead, version, Some(h), String::new());
            }
            let hosted: Vec<usize> = (0..p).filter(|&q| assignment[q] == h).collect();
            let exchange = segments.len() > 1;
            let lost: Vec<usize> = if exchange && !hosted.is_empty() {
                (0..p).collect()
            } else {
                hosted.iter().copied().filter(|&q| s.ready[q] > at).collect()
            };
            for &q in &lost {
                if s.start[q] < at {
                    let reason = if exchange && assignment[q] != h {
                        format!("exchange peer worker {h} failed")
                    } else {
                        "worker failed before its push arrived".to_string()
                    };
                    let who = assignment[q];
                    t.trace.gradients.push(GradientRecord {
                        partition: q,
                        worker: who,
                        clock: e,
                        computed_from: version,
                        applied_to: None,
                        staleness: None,
                        fate: Fate::Discarded,
                        reason: reason.clone(),
                        time_s: at,
                    });
                    t.log.push(at, epoch, EventKind::Discard, version, Some(who), format!("partition {q}: {reason}"));
                    for &(w, a, s0, e0, qq) in &s.intervals {
                        if qq == q && s0 < at {
                            lost_intervals.push((w, a, s0, e0.min(at), q));
                        }
                    }
                }
            }
            // Where and when the failed worker's partitions go on.
            let adopter = |assignment: &[usize], down: &[Option<f64>]| {
                (0..p)
                    .filter(|&a| a != h && down[a].is_none_or(|b| b <= det))
                    .min_by_key(|&a| (assignment.iter().filter(|&&x| x == a).count(), a))
            };
            down_until[h] = Some(back.unwrap_or(f64::INFINITY));
            let restart = match (cluster.on_failure, detected, adopter(&assignment, &down_until)) {
                (OnFailure::Reassign, true, Some(a)) => {
                    for &q in &hosted {
                        assignment[q] = a;
                        t.log.push(
                            det,
                            epoch,
                            EventKind::Reassign,
                            version,
                            Some(a),
                            format!("partition {q} from worker {h} to worker {a}"),
                        );
                    }
                    det
                }
                _ => {
                    let back = back.ok_or_else(|| {
                        SimError::Config(super::ConfigError {
                            key: "fail".into(),
                            message: format!("worker {h} never comes back and no survivor can take its partition"),
                        })
                    })?;
                    registered[h] = back;
                    t.log.push(back, epoch, EventKind::Register, version, Some(h), String::new());
                    let pulled = pull_weights(&mut fabric, shards.as_ref(), h, back, set_bytes);
                    t.trace.interval(h, Activity::Pull, back, pulled, Some((h, e, version)));
                    occupied.push((h, back, pulled));
                    t.log.push(pulled, epoch, EventKind::Pull, version, Some(h), String::new());
                    down_until[h] = None;
                    weights_at[h] = pulled;
                    pulled
                }
            };
            for &q in &lost {
                not_before[q] = not_before[q].max(restart);
            }
        };
        fabric = sched.fabric.clone();
        for (h, n) in sched.steps.iter().enumerate() {
            host_steps[h] += n;
        }

        // Sparse embedding pushes go to the server first, then the dense gradients follow on the
        // same link; the update waits for both.
        let ready: Vec<f64> = match &t.embedding {
            Some(table) => (0..p)
                .map(|q| {
                    let per_shard = match &shards {
                        Some(plan) => plan.embedding_push[q].clone(),
                        None => vec![table.push_bytes(q)],
                    };
                    per_shard
                        .iter()
                        .enumerate()
                        .filter(|(_, &b)| b > 0)
                        .map(|(s, &bytes)| {
                            fabric.send(Node::Worker(assignment[q]), Node::shard(s), sched.ready[q], bytes).end
                        })
                        .fold(sched.ready[q], f64::max)
                })
                .collect(),
            None => sched.ready.clone(),
        };
        // Aggregation and broadcast in the topology (sharded: flat, each shard its blocks).
        let (agg, published) = match &shards {
            Some(plan) => fabric.aggregate_sharded(&ready, &plan.dense_bytes, &t.shard_update_times(p)),
            None => {
                let update = t.update_time(p);
                let agg = fabric.aggregate(cluster.topology, &ready, set_bytes, update);
                let published = agg.reduced + update;
                (agg, published)
            }
        };
        for q in 0..p {
            let h = assignment[q];
            barrier.arrive(q, version)?;
            let w = &t.model.workers[q];
            let owned = t.problem.locals[q].num_owned;
            let detail = if t.model.trains_with_exchange() {
                let received: u64 = traffic.rows.iter().map(|r| r[q]).sum();
                format!(
                    "partition {q}: {owned} owned + {received} boundary rows received per layer, {} training",
                    w.num_train()
                )
            } else {
                let halo = w.num_rows() + w.boundary_len() - owned;
                format!("partition {q}: {owned} owned + {halo} halo nodes, {} training", w.num_train())
            };
            t.log.push(sched.ready[q], epoch, EventKind::Compute, version, Some(h), detail);
            t.trace.gradients.push(GradientRecord {
                partition: q,
                worker: h,
                clock: e,
                computed_from: version,
                applied_to: Some(version),
                staleness: Some(0),
                fate: Fate::Applied,
                reason: String::new(),
                time_s: agg.reduced,
            });
        }
        // A push lasts until its message reaches the server (flat), or until the aggregate
        // exists (trees, ring: the worker takes part in the reduction until then).
        let push_end = |q: usize| {
            agg.messages
                .iter()
                .filter(|m| m.from == Node::Worker(q) && !matches!(m.to, Node::Worker(_)))
                .filter(|_| cluster.topology == Topology::Flat)
                .map(|m| m.end)
                .reduce(f64::max)
                .unwrap_or(agg.reduced)
        };
        let mut busy: Vec<Vec<(f64, f64)>> = vec![Vec::new(); p];
        for (w, a, s0, e0, q) in lost_intervals.into_iter().chain(sched.intervals.iter().copied()) {
            t.trace.interval(w, a, s0, e0, Some((q, e, version)));
            busy[w].push((s0, e0));
        }
        for q in 0..p {
            let h = assignment[q];
            t.trace.interval(h, Activity::Push, sched.ready[q], push_end(q), Some((q, e, version)));
            busy[h].push((sched.ready[q], push_end(q)));
        }
        for &(h, s0, e0) in &occupied {
            busy[h].push((s0, e0));
        }
        // Whatever else a worker does between holding this round's weights and the next
        // version's publication is waiting: for a restart, for the barrier, for the update.
        for (h, spans) in busy.iter_mut().enumerate() {
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut cursor = round_weights_at[h];
            for &(s0, e0) in spans.iter() {
                if s0 > cursor {
                    t.trace.interval(h, Activity::Wait, cursor, s0, None);
                }
                cursor = cursor.max(e0);
            }
            if published > cursor {
                t.trace.interval(h, Activity::Wait, cursor, published, None);
            }
        }
        barrier.advance()?;
        let grads: Vec<&[B::Matrix]> = t.model.workers.iter().map(|w| w.weight_grads()).collect();
        b.attribute(None);
        match t.robust.as_mut() {
            // Byzantine rows and robust rules: every row at the server (the topology is flat).
            Some(server) => server.combine(b, &grads, seed, e, &mut t.aggregated)?,
            None => {
                for (l, out) in t.aggregated.iter_mut().enumerate() {
                    let layer: Vec<&B::Matrix> = grads.iter().map(|g| &g[l]).collect();
                    reduce_in_topology(b, cluster.topology, &layer, &t.agg_weights, &mut partials[l], out, l)?;
                }
            }
        }
        t.log.push(agg.reduced, epoch, EventKind::Aggregate, version, None, aggregate_detail(t, p));
        t.optimizer.step(b, t.store.master_mut(), &t.aggregated, epoch);
        t.log.push(agg.reduced, epoch, EventKind::Update, version, None, t.optimizer.describe(epoch));
        if let Some(table) = t.embedding.as_mut() {
            table.apply(b, &t.model.embedding_pushes(), t.optimizer.lr_at(epoch), epoch);
            let counts = table.counts(embedding_pruned);
            let detail = format!(
                "embedding table: {} rows stepped from {} pushed rows, {} re-initialized",
                counts.updated_rows, counts.pushed_rows, counts.pruned_rows
            );
            t.log.push(agg.reduced, epoch, EventKind::Update, version, None, detail);
        }
        t.publish(published, epoch)?;
        weights_at = agg.weights_at.clone();
        for (h, &w) in weights_at.iter().enumerate() {
            // A worker back from a failure by the broadcast receives it too.
            if down_until[h].is_none_or(|back| back <= published) {
                t.trace.interval(h, Activity::Pull, published.min(w), w, Some((h, e + 1, version + 1)));
            }
        }
        end_time = published;
        let train_slots: Vec<usize> = (0..p).map(|i| p + 2 + i).collect();
        let staleness = vec![0u64; p];
        let done = t.finish_round(RoundTraining {
            epoch,
            version,
            train_slots: &train_slots,
            sim_time_s: published,
            staleness: &staleness,
            pulls: p as u64,
            pushes: p as u64,
            boundary_forward: traffic.forward,
            boundary_backward: traffic.backward,
            embedding_pruned,
            shards: shards.as_ref().map_or_else(Vec::new, |plan| plan.round_traffic(p)),
            started,
        })?;
        if done {
            break;
        }
        t.maybe_checkpoint(epoch, || RoundsState {
            links: fabric.busy_until(),
            weights_at: weights_at.clone(),
            assignment: assignment.clone(),
            down_until: down_until.clone(),
            registered: registered.clone(),
            host_steps: host_steps.clone(),
            next_failure,
            end_time,
            down_for_good: down_for_good.clone(),
        })?;
    }
    for (h, at) in down_for_good {
        t.trace.interval(h, Activity::Down, at, end_time.max(at), None);
    }
    Ok(end_time)
}
