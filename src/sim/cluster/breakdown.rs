//! What a round of simulated time is made of: the mean time per round a worker spends
//! computing, waiting for boundary rows, pushing its gradient, idle while the server applies an
//! update, pulling weights, and waiting (the barrier, the staleness bound, a failure). Read
//! from the worker intervals the cluster records in every run, written to files or not, so it
//! explains `sim_seconds_per_round` for serial runs too (a serial round is pull, compute, push
//! and the server's update).

use super::trace::{Activity, ClusterTrace};

/// Mean simulated seconds per round of a worker in each state; the six sum to the run's
/// simulated time over its rounds (`sim_seconds_per_round`).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundBreakdown {
    pub compute_s: f64,
    pub exchange_s: f64,
    pub push_s: f64,
    /// Idle while the server applies an update (the worker has nothing else to do).
    pub server_s: f64,
    pub pull_s: f64,
    /// Everything else: the barrier, the staleness bound, a failed worker's down time.
    pub wait_s: f64,
}

/// States by precedence: an instant in two (a pull of embedding rows during a push) counts as
/// the first. Wait is what no interval covers, `wait` and `down` intervals included.
const COMPUTE: usize = 0;
const EXCHANGE: usize = 1;
const PUSH: usize = 2;
const PULL: usize = 3;
const SERVER: usize = 4;
const WAIT: usize = 5;

fn state(a: Activity) -> Option<usize> {
    match a {
        Activity::Compute => Some(COMPUTE),
        Activity::Exchange => Some(EXCHANGE),
        Activity::Push => Some(PUSH),
        Activity::Pull => Some(PULL),
        Activity::Wait | Activity::Down => None,
    }
}

impl RoundBreakdown {
    /// The breakdown of `trace` for `workers` workers over `[0, end_s]` and `rounds` rounds.
    pub fn of(trace: &ClusterTrace, workers: usize, end_s: f64, rounds: usize) -> Self {
        if workers == 0 || rounds == 0 || end_s.is_nan() || end_s <= 0.0 {
            return Self::default();
        }
        // (time, state, +1 entering / −1 leaving) per worker, clipped to the run.
        let mut events: Vec<Vec<(f64, usize, i32)>> = vec![Vec::new(); workers];
        let mut add = |w: usize, s: usize, start: f64, end: f64| {
            let (a, b) = (start.max(0.0), end.min(end_s));
            if b > a {
                events[w].push((a, s, 1));
                events[w].push((b, s, -1));
            }
        };
        for i in trace.intervals.iter().filter(|i| i.worker < workers) {
            if let Some(s) = state(i.activity) {
                add(i.worker, s, i.start_s, i.end_s);
            }
        }
        for &(start, end) in &trace.server {
            for w in 0..workers {
                add(w, SERVER, start, end);
            }
        }
        let mut total = [0.0f64; 6];
        for mut ev in events {
            ev.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut active = [0i32; 6];
            let mut at = 0.0;
            for (t, s, delta) in ev {
                total[active.iter().position(|&n| n > 0).unwrap_or(WAIT)] += t - at;
                active[s] += delta;
                at = t;
            }
            total[WAIT] += end_s - at;
        }
        let per = |s: usize| total[s] / (workers * rounds) as f64;
        Self {
            compute_s: per(COMPUTE),
            exchange_s: per(EXCHANGE),
            push_s: per(PUSH),
            server_s: per(SERVER),
            pull_s: per(PULL),
            wait_s: per(WAIT),
        }
    }

    pub fn total(&self) -> f64 {
        self.compute_s + self.exchange_s + self.push_s + self.server_s + self.pull_s + self.wait_s
    }

    /// The six states with their names, in the columns' order.
    pub fn states(&self) -> [(&'static str, f64); 6] {
        [
            ("compute", self.compute_s),
            ("exchange", self.exchange_s),
            ("push", self.push_s),
            ("server", self.server_s),
            ("pull", self.pull_s),
            ("wait", self.wait_s),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_tile_each_workers_time_by_precedence() {
        let mut t = ClusterTrace::default();
        // Worker 0: pull 0–1, compute 1–4, push 4–5 overlapping a pull 4.5–5.5, then idle.
        t.interval(0, Activity::Pull, 0.0, 1.0, None);
        t.interval(0, Activity::Compute, 1.0, 4.0, None);
        t.interval(0, Activity::Push, 4.0, 5.0, None);
        t.interval(0, Activity::Pull, 4.5, 5.5, None);
        // Worker 1: compute 0–2, exchange 2–3, down 3–6 (beyond the end: clipped), a wait before.
        t.interval(1, Activity::Compute, 0.0, 2.0, None);
        t.interval(1, Activity::Exchange, 2.0, 3.0, None);
        t.interval(1, Activity::Down, 3.0, 9.0, None);
        t.interval(7, Activity::Compute, 0.0, 8.0, None); // not one of the workers
        t.server_busy(5.0, 6.0);
        let b = RoundBreakdown::of(&t, 2, 8.0, 2);
        // Per worker-round: divide by 2 workers × 2 rounds.
        assert_eq!(b.compute_s, (3.0 + 2.0) / 4.0);
        assert_eq!(b.exchange_s, 1.0 / 4.0);
        assert_eq!(b.push_s, 1.0 / 4.0);
        assert_eq!(b.pull_s, (1.0 + 0.5) / 4.0);
        assert_eq!(b.server_s, (0.5 + 1.0) / 4.0);
        assert_eq!(b.wait_s, (2.0 + 4.0) / 4.0);
        assert!((b.total() - 8.0 / 2.0).abs() < 1e-12, "the states sum to the time per round");
        assert_eq!(RoundBreakdown::of(&t, 0, 8.0, 2), RoundBreakdown::default());
    }
}
