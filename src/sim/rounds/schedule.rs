//! When each partition computes in one attempt at a BSP round: its worker runs its partitions
//! one after another (with `exchange` boundaries: segment by segment, the boundary rows timed as
//! pairwise messages on the fabric), each stretched by the worker's straggler draw.

use crate::cost::Fabric;
use crate::sim::cluster::{Activity, Stragglers};

/// When each partition computed, in one attempt at a round.
pub(super) struct Schedule {
    /// Per partition: when its first computation started, and when its gradient was ready.
    pub(super) start: Vec<f64>,
    pub(super) ready: Vec<f64>,
    /// (worker, activity, start, end, partition).
    pub(super) intervals: Vec<(usize, Activity, f64, f64, usize)>,
    /// Steps each worker ran (straggler draws used).
    pub(super) steps: Vec<u64>,
    pub(super) fabric: Fabric,
}

/// Inputs of a round's timing that stay fixed while failures are applied.
pub(super) struct RoundInputs<'r> {
    pub(super) seed: u64,
    pub(super) assignment: &'r [usize],
    pub(super) weights_at: &'r [f64],
    pub(super) not_before: &'r [f64],
    /// Seconds per segment per partition (one segment without exchange).
    pub(super) segments: &'r [Vec<f64>],
    /// Boundary bytes between segments: `volumes[k][src][dst]`.
    pub(super) volumes: &'r [Vec<Vec<u64>>],
    pub(super) host_steps: &'r [u64],
}

pub(super) fn schedule(inp: &RoundInputs, stragglers: &Stragglers, fabric: &Fabric) -> Schedule {
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
