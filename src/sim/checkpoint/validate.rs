//! A checkpoint is untrusted input: a file whose checksum was recomputed after editing decodes
//! like a genuine one. [`validate`] runs before anything is restored and checks every invariant
//! an uninterrupted BSP run keeps after its stored epoch, so a payload either resumes to what
//! the uninterrupted run writes or is refused naming the field; never a panic deep in the
//! simulator, never a run that writes inconsistent files.
//!
//! What cannot be checked without recomputing the run (the values of losses, weights and clock
//! readings inside their bounds) is only bounded: finite, and within physical ranges.

use super::TrainerState;
use crate::data::DatasetSpec;
use crate::sim::cluster::{FailureSpec, Fate};
use crate::sim::EpochRecord;
use crate::sim::{ConfigError, RunConfig};
use crate::tensor::HostMatrix;

/// The latest simulated time a checkpoint may hold, seconds (about 31,700 years: far beyond any
/// simulated run, small enough that sums of such times stay finite and exact enough).
pub const MAX_TIME_S: f64 = 1e12;
/// The largest byte or row counter a checkpoint may hold (2^53: exact in f64, and sums of a
/// run's worth of them cannot overflow u64).
pub const MAX_COUNT: u64 = 1 << 53;

/// A checkpoint field that breaks an invariant of the run it would resume.
#[derive(Debug, thiserror::Error)]
#[error("the checkpoint's `{field}` is inconsistent: {message}")]
pub struct InvalidState {
    pub field: String,
    pub message: String,
}

/// What the run being resumed expects of its checkpoint. The fields known from the
/// configuration alone are always set; the rest (`Some` only once the run is set up) are
/// checked when known.
#[derive(Clone, Debug)]
pub struct Expected {
    pub epochs: usize,
    pub workers: usize,
    pub layers: usize,
    pub keep_versions: bool,
    /// The failure schedule, in the order the BSP loop applies it (time, then worker).
    pub failures: Vec<FailureSpec>,
    /// Fabric links: an uplink and a downlink per worker, an in and an out link per server shard.
    pub links: usize,
    pub servers: usize,
    /// Whether records carry robust-aggregation diagnostics (Byzantine workers or a robust rule).
    pub robust: bool,
    pub embedding_dim: usize,
    /// Whether the model keeps stale boundary state between passes.
    pub stale: Option<bool>,
    /// Whether the robust server keeps a centre (centered clipping).
    pub centre: Option<bool>,
    /// Rows of the embedding table.
    pub embedding_rows: Option<usize>,
}

impl Expected {
    /// Everything the configuration says for a run of `workers` workers (it resolves the
    /// cluster: profiles and failures).
    pub fn from_config(cfg: &RunConfig, workers: usize) -> Result<Self, ConfigError> {
        let cluster = cfg.cluster.resolve(workers)?;
        let mut failures = cluster.failures.clone();
        failures.sort_by(|a, b| a.at.total_cmp(&b.at).then(a.worker.cmp(&b.worker)));
        Ok(Expected {
            epochs: cfg.train.epochs,
            workers,
            layers: cfg.train.layers,
            keep_versions: cfg.parallel.keep_versions,
            failures,
            links: workers.saturating_mul(2).saturating_add(cluster.servers.saturating_mul(2)),
            servers: cluster.servers,
            robust: cfg.robust_plan()?.is_some(),
            embedding_dim: cfg.train.embedding_dim,
            stale: None,
            centre: None,
            embedding_rows: None,
        })
    }
}

/// The stored configuration's worker count against the state's per-worker lists, before the
/// configuration is validated or resolved (both build per-worker lists): a configuration edited
/// to 10^14 partitions is refused by the lists the file actually holds.
pub fn workers_match(s: &TrainerState, partitions: usize) -> Result<(), InvalidState> {
    let held = s.rounds.weights_at.len();
    if held != partitions {
        return Err(fail(
            "rounds.weights_at",
            format!("{held} entries, but the stored configuration has {partitions} partitions (one worker each)"),
        ));
    }
    Ok(())
}

fn fail(field: impl Into<String>, message: impl Into<String>) -> InvalidState {
    InvalidState { field: field.into(), message: message.into() }
}

/// Checks `s` against `x`; the first broken invariant is the error.
pub fn validate(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    let p = x.workers;
    let epoch = s.epoch;
    if epoch == 0 || epoch as usize >= x.epochs {
        return Err(fail(
            "epoch",
            format!(
                "{epoch} rounds done, but a checkpoint is taken after round 1 at the earliest and before the run's last \
                 ({} epochs)",
                x.epochs
            ),
        ));
    }
    let e = epoch as u64;
    records(s, x)?;
    store(s, x)?;
    optimizer(s, x)?;
    stale_and_centre(s, x)?;
    embedding(s, x)?;
    events(s, x)?;
    trace(s, x)?;
    rounds(s, x)?;
    if !(s.start_norm.is_finite() && s.start_norm >= 0.0) {
        return Err(fail("start_norm", format!("{}, but a squared norm is finite and not negative", s.start_norm)));
    }
    // Publishing a version before the previous one is released keeps two alive in every round.
    let live = if x.keep_versions { e as usize + 1 } else { 2 };
    if s.max_live_versions != live {
        return Err(fail(
            "max_live_versions",
            format!("{}, but after {epoch} rounds the run has had at most {live} versions alive", s.max_live_versions),
        ));
    }
    length("pair_bytes", s.pair_bytes.len(), p, "one row per worker")?;
    for (q, row) in s.pair_bytes.iter().enumerate() {
        length(&format!("pair_bytes[{q}]"), row.len(), p, "one column per worker")?;
        for (d, &v) in row.iter().enumerate() {
            count(&format!("pair_bytes[{q}][{d}]"), v)?;
        }
    }
    Ok(())
}

fn length(field: &str, got: usize, expected: usize, what: &str) -> Result<(), InvalidState> {
    if got != expected {
        return Err(fail(field, format!("{got} entries, but the run has {expected} ({what})")));
    }
    Ok(())
}

fn worker_id(field: &str, id: usize, p: usize) -> Result<(), InvalidState> {
    if id >= p {
        return Err(fail(field, format!("worker {id}, but the run has {p} workers (0..{p})")));
    }
    Ok(())
}

fn partition_id(field: &str, id: usize, p: usize) -> Result<(), InvalidState> {
    if id >= p {
        return Err(fail(field, format!("partition {id}, but the run has {p} partitions (0..{p})")));
    }
    Ok(())
}

fn time(field: &str, t: f64) -> Result<(), InvalidState> {
    if !(0.0..=MAX_TIME_S).contains(&t) {
        return Err(fail(field, format!("time {t} s, but simulated times are finite, in [0, {MAX_TIME_S:e}] s")));
    }
    Ok(())
}

fn count(field: &str, v: u64) -> Result<(), InvalidState> {
    if v > MAX_COUNT {
        return Err(fail(field, format!("{v}, beyond the largest count a run reaches (2^53)")));
    }
    Ok(())
}

fn version(field: &str, v: u64, epoch: u32) -> Result<(), InvalidState> {
    if v > epoch as u64 {
        return Err(fail(field, format!("version {v}, but after {epoch} rounds the newest version is {epoch}")));
    }
    Ok(())
}

/// A matrix whose shape holds its values, all finite.
fn matrix(field: &str, m: &HostMatrix) -> Result<(), InvalidState> {
    if m.rows.checked_mul(m.cols) != Some(m.data.len()) {
        return Err(fail(field, format!("a {}×{} matrix holding {} values", m.rows, m.cols, m.data.len())));
    }
    if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
        return Err(fail(field, format!("value {i} is {}; the run's state is finite", m.data[i])));
    }
    Ok(())
}

fn records(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    let epoch = s.epoch;
    if s.records.len() != epoch as usize {
        return Err(fail(
            "records",
            format!(
                "{} epoch records, but the checkpoint is after round {epoch}: one record per round",
                s.records.len()
            ),
        ));
    }
    let mut previous = 0.0;
    for (i, r) in s.records.iter().enumerate() {
        let f = |name: &str| format!("records[{i}].{name}");
        record_progress(i, r, x, previous, &f)?;
        previous = r.sim_time_s;
        record_counters(r, x, &f)?;
        record_parts(r, x, &f)?;
    }
    Ok(())
}

/// Record `i` (after round `i + 1`): its round, clock (no earlier than `previous`), loss,
/// accuracies, learning rate, staleness and live versions.
fn record_progress(
    i: usize,
    r: &EpochRecord,
    x: &Expected,
    previous: f64,
    f: &dyn Fn(&str) -> String,
) -> Result<(), InvalidState> {
    if r.epoch as usize != i + 1 || r.version != i as u64 {
        return Err(fail(
            f("epoch"),
            format!(
                "epoch {} computed from version {}, but record {i} is epoch {} computed from version {i}",
                r.epoch,
                r.version,
                i + 1
            ),
        ));
    }
    time(&f("sim_time_s"), r.sim_time_s)?;
    if r.sim_time_s < previous {
        return Err(fail(f("sim_time_s"), format!("{} s, earlier than the round before ({previous} s)", r.sim_time_s)));
    }
    if !r.train_loss.is_finite() {
        return Err(fail(
            f("train_loss"),
            format!("{}, but a run stops when its training loss diverges", r.train_loss),
        ));
    }
    for (name, acc) in [("train_acc", r.train_acc), ("valid_acc", r.valid_acc), ("test_acc", r.test_acc)] {
        if !(0.0..=1.0).contains(&acc) {
            return Err(fail(f(name), format!("{acc}, but an accuracy is in [0, 1]")));
        }
    }
    if !(r.lr.is_finite() && r.lr >= 0.0 && r.wall_ms.is_finite() && r.wall_ms >= 0.0) {
        return Err(fail(f("lr"), format!("lr {}, wall time {} ms: both finite, not negative", r.lr, r.wall_ms)));
    }
    if r.staleness_mean != 0.0 || r.staleness_max != 0 {
        return Err(fail(f("staleness_mean"), "BSP gradients are never stale"));
    }
    let live = if x.keep_versions { i + 2 } else { 1 };
    if r.live_versions != live {
        return Err(fail(
            f("live_versions"),
            format!("{}, but after round {} the run keeps {live}", r.live_versions, i + 1),
        ));
    }
    Ok(())
}

/// A record's memory and traffic counters.
fn record_counters(r: &EpochRecord, x: &Expected, f: &dyn Fn(&str) -> String) -> Result<(), InvalidState> {
    for (k, &v) in r.memory.live.iter().enumerate() {
        count(&f(&format!("memory.live[{k}]")), v)?;
    }
    count(&f("memory.peak_total"), r.memory.peak_total)?;
    for (name, v) in [
        ("comm_broadcast_bytes", r.comm_broadcast_bytes),
        ("comm_gradient_bytes", r.comm_gradient_bytes),
        ("comm_halo_bytes", r.comm_halo_bytes),
    ] {
        count(&f(name), v)?;
    }
    for (name, per_layer) in
        [("comm_boundary_forward", &r.comm_boundary_forward), ("comm_boundary_backward", &r.comm_boundary_backward)]
    {
        if per_layer.len() > x.layers {
            return Err(fail(f(name), format!("{} layers, but the model has {}", per_layer.len(), x.layers)));
        }
        for (l, &v) in per_layer.iter().enumerate() {
            count(&f(&format!("{name}[{l}]")), v)?;
        }
    }
    Ok(())
}

/// A record's parts that exist only with robust aggregation, embeddings or shards.
fn record_parts(r: &EpochRecord, x: &Expected, f: &dyn Fn(&str) -> String) -> Result<(), InvalidState> {
    match (&r.aggregation, x.robust) {
        (Some(a), true) => {
            length(&f("aggregation.weights"), a.weights.len(), x.workers, "one weight per worker")?;
            if let Some(sel) = &a.selected {
                length(&f("aggregation.selected"), sel.len(), x.workers, "one flag per worker")?;
            }
        }
        (None, false) => {}
        (a, _) => {
            return Err(fail(
                f("aggregation"),
                format!(
                    "{}, but the run {} robust aggregation",
                    if a.is_some() { "present" } else { "absent" },
                    if x.robust { "uses" } else { "does not use" }
                ),
            ))
        }
    }
    match (&r.embedding, x.embedding_dim > 0) {
        (Some(c), true) => {
            for (name, v) in [
                ("pulled_rows", c.pulled_rows),
                ("pull_bytes", c.pull_bytes),
                ("pushed_rows", c.pushed_rows),
                ("push_bytes", c.push_bytes),
                ("updated_rows", c.updated_rows),
                ("pruned_rows", c.pruned_rows),
            ] {
                count(&f(&format!("embedding.{name}")), v)?;
            }
        }
        (None, false) => {}
        (c, _) => {
            let what = if c.is_some() { "present" } else { "absent" };
            return Err(fail(f("embedding"), format!("{what}, but embedding_dim is {}", x.embedding_dim)));
        }
    }
    let shards = if x.servers > 1 { x.servers } else { 0 };
    length(&f("shards"), r.shards.len(), shards, "one entry per server shard when sharded")?;
    for (k, t) in r.shards.iter().enumerate() {
        count(&f(&format!("shards[{k}].bytes_in")), t.bytes_in)?;
        count(&f(&format!("shards[{k}].bytes_out")), t.bytes_out)?;
    }
    Ok(())
}

fn store(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    let st = &s.store;
    let epoch = s.epoch;
    length("store.master", st.master.len(), x.layers, "one weight matrix per layer")?;
    for (l, m) in st.master.iter().enumerate() {
        matrix(&format!("store.master[{l}]"), m)?;
    }
    let ids: Vec<u64> = st.versions.iter().map(|(v, _)| *v).collect();
    let expected: Vec<u64> = if x.keep_versions { (0..=epoch as u64).collect() } else { vec![epoch as u64] };
    if ids != expected {
        let show = |v: &[u64]| {
            if v.len() <= 4 {
                format!("{v:?}")
            } else {
                format!("{} versions {}..={}", v.len(), v[0], v[v.len() - 1])
            }
        };
        return Err(fail(
            "store.versions",
            format!(
                "live versions {}, but after {epoch} rounds {} live: {}",
                show(&ids),
                if x.keep_versions { "every version is (keep_versions)" } else { "only the newest is" },
                show(&expected)
            ),
        ));
    }
    for (i, (v, set)) in st.versions.iter().enumerate() {
        length(&format!("store.versions[{i}]"), set.len(), x.layers, "one weight matrix per layer")?;
        for (l, m) in set.iter().enumerate() {
            matrix(&format!("store.versions[{i}] (version {v}) layer {l}"), m)?;
        }
    }
    if st.next_version != epoch as u64 + 1 {
        return Err(fail(
            "store.next_version",
            format!("{}, but after {epoch} rounds the next version is {}", st.next_version, epoch + 1),
        ));
    }
    Ok(())
}

fn optimizer(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    let o = &s.optimizer;
    if o.step != s.epoch {
        return Err(fail(
            "optimizer.step",
            format!("{}, but the optimizer steps once per round ({})", o.step, s.epoch),
        ));
    }
    length("optimizer.slots", o.slots.len(), x.layers, "one list of state matrices per layer")?;
    for (l, slots) in o.slots.iter().enumerate() {
        for (k, m) in slots.iter().enumerate() {
            matrix(&format!("optimizer.slots[{l}][{k}]"), m)?;
        }
    }
    Ok(())
}

fn presence(field: &str, present: bool, expected: Option<bool>, why: &str) -> Result<(), InvalidState> {
    match expected {
        Some(e) if e != present => {
            let what = if present { "present" } else { "absent" };
            Err(fail(field, format!("{what}, but {why} {}", if e { "needs it" } else { "has none" })))
        }
        _ => Ok(()),
    }
}

fn stale_and_centre(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    presence("stale", s.stale.is_some(), x.stale, "this run's boundary")?;
    if let Some(st) = &s.stale {
        for (l, m) in st.rows.iter().enumerate() {
            matrix(&format!("stale.rows[{l}]"), m)?;
        }
        if st.grads.len() > x.layers {
            return Err(fail("stale.grads", format!("{} layers, but the model has {}", st.grads.len(), x.layers)));
        }
        for (l, pair) in st.grads.iter().enumerate() {
            for (k, m) in pair.iter().enumerate() {
                if let Some(m) = m {
                    matrix(&format!("stale.grads[{l}][{k}]"), m)?;
                }
            }
        }
        // The pass in round e writes buffer (e - 1) mod 2 and flips it.
        let current = s.epoch as usize % 2;
        if st.current != current || !st.rows_ready || !st.grads_ready {
            return Err(fail(
                "stale.current",
                format!(
                    "buffer {} (rows ready {}, gradients ready {}), but after {} rounds it is buffer {current}, both \
                     ready",
                    st.current, st.rows_ready, st.grads_ready, s.epoch
                ),
            ));
        }
    }
    presence("robust_centre", s.robust_centre.is_some(), x.centre, "this run's aggregation rule")?;
    if let Some(c) = &s.robust_centre {
        matrix("robust_centre", c)?;
    }
    Ok(())
}

fn embedding(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    presence("embedding", s.embedding.is_some(), Some(x.embedding_dim > 0), "this run's embedding_dim")?;
    let Some(t) = &s.embedding else { return Ok(()) };
    matrix("embedding.table", &t.table)?;
    if t.table.cols != x.embedding_dim {
        return Err(fail(
            "embedding.table",
            format!("{} columns, but embedding_dim is {}", t.table.cols, x.embedding_dim),
        ));
    }
    let rows = x.embedding_rows.unwrap_or(t.table.rows);
    length("embedding.table", t.table.rows, rows, "one row per node")?;
    for (k, m) in t.slots.iter().enumerate() {
        matrix(&format!("embedding.slots[{k}]"), m)?;
    }
    if t.step != s.epoch {
        return Err(fail("embedding.step", format!("{}, but the table steps once per round ({})", t.step, s.epoch)));
    }
    length("embedding.last_touch", t.last_touch.len(), rows, "one entry per row")?;
    length("embedding.generation", t.generation.len(), rows, "one entry per row")?;
    for (name, v) in [("last_touch", &t.last_touch), ("generation", &t.generation)] {
        if let Some(i) = v.iter().position(|&r| r > s.epoch) {
            return Err(fail(
                format!("embedding.{name}[{i}]"),
                format!("{}, but the run is after round {}", v[i], s.epoch),
            ));
        }
    }
    Ok(())
}

fn events(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    for (i, ev) in s.events.iter().enumerate() {
        let f = |name: &str| format!("events[{i}].{name}");
        if ev.seq != i as u64 {
            return Err(fail(f("seq"), format!("{}, but events are numbered from 0 in order", ev.seq)));
        }
        if ev.epoch > s.epoch {
            return Err(fail(f("epoch"), format!("{}, but the run is after round {}", ev.epoch, s.epoch)));
        }
        version(&f("version"), ev.version, s.epoch)?;
        if let Some(w) = ev.worker {
            worker_id(&f("worker"), w, x.workers)?;
        }
        time(&f("time_s"), ev.time_s)?;
    }
    Ok(())
}

fn trace(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    let (p, epoch) = (x.workers, s.epoch);
    let tr = &s.trace;
    for (i, iv) in tr.intervals.iter().enumerate() {
        let f = |name: &str| format!("trace.intervals[{i}].{name}");
        worker_id(&f("worker"), iv.worker, p)?;
        if let Some(q) = iv.partition {
            partition_id(&f("partition"), q, p)?;
        }
        time(&f("start_s"), iv.start_s)?;
        time(&f("end_s"), iv.end_s)?;
        if iv.end_s <= iv.start_s {
            return Err(fail(f("end_s"), format!("{} s, not after its start ({} s)", iv.end_s, iv.start_s)));
        }
        if iv.clock.is_some_and(|c| c > epoch) {
            return Err(fail(f("clock"), format!("{:?}, but the run is after round {epoch}", iv.clock)));
        }
        if let Some(v) = iv.version {
            // A broadcast's pull interval names the version it delivers (epoch + 1 at most).
            version(&f("version"), v, epoch + 1)?;
        }
    }
    for (i, g) in tr.gradients.iter().enumerate() {
        let f = |name: &str| format!("trace.gradients[{i}].{name}");
        partition_id(&f("partition"), g.partition, p)?;
        worker_id(&f("worker"), g.worker, p)?;
        if g.clock >= epoch {
            return Err(fail(f("clock"), format!("{}, but rounds 0..{epoch} have run", g.clock)));
        }
        // BSP: round e computes from version e, and applies there (staleness 0) or discards.
        if g.computed_from != g.clock as u64 {
            return Err(fail(
                f("computed_from"),
                format!("version {}, but round {} computes from version {}", g.computed_from, g.clock, g.clock),
            ));
        }
        let fits = match g.fate {
            Fate::Applied => g.applied_to == Some(g.computed_from) && g.staleness == Some(0),
            Fate::Discarded => g.applied_to.is_none() && g.staleness.is_none(),
        };
        if !fits {
            return Err(fail(
                f("applied_to"),
                format!(
                    "{:?} gradient applied to {:?} with staleness {:?}, but BSP applies a gradient to the version it \
                     was computed from (staleness 0) or discards it",
                    g.fate, g.applied_to, g.staleness
                ),
            ));
        }
        time(&f("time_s"), g.time_s)?;
    }
    let applied = s.rounds.next_failure;
    if applied > x.failures.len() {
        return Err(fail(
            "rounds.next_failure",
            format!("{applied} failures applied, but the run's schedule has {}", x.failures.len()),
        ));
    }
    length("trace.failures", tr.failures.len(), applied, "one record per failure applied (rounds.next_failure)")?;
    for (i, (r, f)) in tr.failures.iter().zip(&x.failures).enumerate() {
        if r.worker != f.worker || r.failed_s.to_bits() != f.at.to_bits() || r.back_s != f.back_at() {
            return Err(fail(
                format!("trace.failures[{i}]"),
                format!(
                    "worker {} failing at {} s, but the run's failure {i} is worker {} at {} s",
                    r.worker, r.failed_s, f.worker, f.at
                ),
            ));
        }
        if let Some(d) = r.detected_s {
            time(&format!("trace.failures[{i}].detected_s"), d)?;
        }
    }
    Ok(())
}

fn rounds(s: &TrainerState, x: &Expected) -> Result<(), InvalidState> {
    let (p, r) = (x.workers, &s.rounds);
    length("rounds.links", r.links.len(), x.links, "two links per worker and two per server shard")?;
    for (i, &t) in r.links.iter().enumerate() {
        time(&format!("rounds.links[{i}]"), t)?;
    }
    for (name, v) in [("weights_at", &r.weights_at), ("registered", &r.registered)] {
        length(&format!("rounds.{name}"), v.len(), p, "one entry per worker")?;
        for (h, &t) in v.iter().enumerate() {
            time(&format!("rounds.{name}[{h}]"), t)?;
        }
    }
    time("rounds.end_time", r.end_time)?;
    let last = s.records.last().map_or(0.0, |rec| rec.sim_time_s);
    if r.end_time.to_bits() != last.to_bits() {
        return Err(fail("rounds.end_time", format!("{} s, but the last round ended at {last} s", r.end_time)));
    }
    // Workers that failed for good: exactly the applied failures without a return.
    let applied = &x.failures[..r.next_failure.min(x.failures.len())];
    let gone: Vec<(usize, f64)> = applied.iter().filter(|f| f.down.is_none()).map(|f| (f.worker, f.at)).collect();
    let same = r.down_for_good.len() == gone.len()
        && r.down_for_good.iter().zip(&gone).all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits());
    if !same {
        for (i, &(h, _)) in r.down_for_good.iter().enumerate() {
            worker_id(&format!("rounds.down_for_good[{i}]"), h, p)?;
        }
        return Err(fail(
            "rounds.down_for_good",
            format!("{:?}, but the failures applied leave {gone:?} down for good", r.down_for_good),
        ));
    }
    let for_good = |h: usize| gone.iter().any(|&(w, _)| w == h);
    length("rounds.down_until", r.down_until.len(), p, "one entry per worker")?;
    for (h, d) in r.down_until.iter().enumerate() {
        let field = format!("rounds.down_until[{h}]");
        match d {
            Some(t) if *t == f64::INFINITY && !for_good(h) => {
                return Err(fail(
                    field,
                    format!("worker {h} down for good, but no failure of it without return applied"),
                ));
            }
            Some(t) if *t == f64::INFINITY => {}
            Some(t) => time(&field, *t)?,
            None => {}
        }
        if for_good(h) && *d != Some(f64::INFINITY) {
            return Err(fail(field, format!("{d:?}, but worker {h} failed for good")));
        }
    }
    length("rounds.assignment", r.assignment.len(), p, "one worker per partition")?;
    for (q, &h) in r.assignment.iter().enumerate() {
        let field = format!("rounds.assignment[{q}]");
        worker_id(&field, h, p)?;
        if h != q && r.down_until[q].is_none() {
            return Err(fail(field, format!("worker {h}, but partition {q}'s own worker is up and keeps it")));
        }
        if for_good(h) {
            return Err(fail(field, format!("worker {h}, which failed for good")));
        }
    }
    length("rounds.host_steps", r.host_steps.len(), p, "one entry per worker")?;
    // Every partition draws one straggler step per round, on the worker hosting it.
    let steps = r.host_steps.iter().try_fold(0u64, |a, &n| a.checked_add(n));
    let expected = (s.epoch as u64).checked_mul(p as u64);
    if steps.is_none() || steps != expected {
        return Err(fail(
            "rounds.host_steps",
            format!(
                "{:?} straggler draws, but {} rounds of {p} partitions draw {}",
                r.host_steps,
                s.epoch,
                expected.unwrap_or(u64::MAX)
            ),
        ));
    }
    // A worker registers before every failure still to come (the heartbeat schedule counts from it).
    for (i, f) in x.failures.iter().enumerate().skip(r.next_failure) {
        if f.worker < p && r.registered[f.worker] > f.at {
            return Err(fail(
                format!("rounds.registered[{}]", f.worker),
                format!(
                    "{} s, after the worker's failure at {} s still to come (failure {i})",
                    r.registered[f.worker], f.at
                ),
            ));
        }
    }
    Ok(())
}

/// What a dataset spec declares (a generator's nodes, features, classes and edge draws) against
/// the fingerprint stored beside it, in microseconds: a stored `csbm:nodes=300000000` is refused
/// before 300 million nodes are generated. Folders are checked once loaded (what they declare is
/// read from their own files).
pub fn declared_dataset(spec: &DatasetSpec, fingerprint: &str) -> Result<(), InvalidState> {
    let DatasetSpec::Csbm(p) = spec else { return Ok(()) };
    let field = "identity.dataset";
    // "N nodes, M edges, F features, C classes, crc32 X"
    let stored = |name: &str| -> Result<usize, InvalidState> {
        fingerprint
            .split(", ")
            .find_map(|part| part.strip_suffix(&format!(" {name}")))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| fail("identity.dataset_fingerprint", format!("`{fingerprint}` names no {name}")))
    };
    let (nodes, edges) = (stored("nodes")?, stored("edges")?);
    for (key, declared, stored) in [
        ("nodes", p.nodes, nodes),
        ("features", p.features, stored("features")?),
        ("classes", p.classes, stored("classes")?),
    ] {
        if declared != stored {
            return Err(fail(
                field,
                format!("`{spec}` declares {key}={declared}, but the run trained on {stored} {key} ({fingerprint})"),
            ));
        }
    }
    // Merging duplicate draws keeps at least about a third of them unless the graph is dense.
    let draws = p.edge_draws();
    let dense = edges as f64 >= nodes as f64 * (nodes as f64 - 1.0) / 4.0;
    if !dense && draws > edges.saturating_mul(4).saturating_add(10_000) {
        return Err(fail(
            field,
            format!(
                "`{spec}` declares {draws} edge draws (nodes × avg_degree / 2), but the run trained on {edges} edges"
            ),
        ));
    }
    Ok(())
}
