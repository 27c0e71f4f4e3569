//! What the simulated cluster did, for `workers.csv`, `gradients.csv` and `summary.json`: every
//! worker interval, and the fate of every gradient.

use std::collections::BTreeMap;

/// What a worker spends an interval on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Receiving a weight version.
    Pull,
    /// Its forward and backward pass (between boundary exchanges, one interval per segment).
    Compute,
    /// Waiting for boundary rows from other workers (`exchange` boundary modes).
    Exchange,
    /// Sending its gradient (flat aggregation; tree and ring aggregation is one `push` interval
    /// up to when the aggregate exists).
    Push,
    /// Blocked: by the barrier (BSP), the staleness bound (SSP), or a free server.
    Wait,
    /// Dead, until it re-registers.
    Down,
}

/// One row of `workers.csv`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkerInterval {
    pub worker: usize,
    pub activity: Activity,
    pub start_s: f64,
    pub end_s: f64,
    /// The partition worked on (its own, or one it took over); empty for `down` and `wait`.
    pub partition: Option<usize>,
    /// The partition's clock (its step number, 0-based).
    pub clock: Option<u32>,
    /// The weight version computed from.
    pub version: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Applied,
    Discarded,
}

/// One row of `gradients.csv`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradientRecord {
    pub partition: usize,
    /// The worker that computed it.
    pub worker: usize,
    pub clock: u32,
    pub computed_from: u64,
    /// The version it was applied to (the version before its update); empty when discarded.
    pub applied_to: Option<u64>,
    /// `applied_to − computed_from`.
    pub staleness: Option<u64>,
    pub fate: Fate,
    /// Why it was discarded; empty when applied.
    pub reason: String,
    /// When it was applied or discarded, seconds.
    pub time_s: f64,
}

/// `summary.json`'s gradient accounting: every gradient computed is applied or discarded.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradientAccounting {
    pub computed: u64,
    pub applied: u64,
    pub discarded: u64,
    /// Discarded gradients by reason.
    pub discarded_by_reason: BTreeMap<String, u64>,
    #[serde(with = "crate::report::nonfinite")]
    pub mean_staleness: f64,
    pub max_staleness: u64,
}

impl GradientAccounting {
    pub fn of(records: &[GradientRecord]) -> Self {
        let mut a = GradientAccounting { computed: records.len() as u64, ..Default::default() };
        let mut staleness_sum = 0u64;
        for r in records {
            match r.fate {
                Fate::Applied => {
                    a.applied += 1;
                    let s = r.staleness.unwrap_or(0);
                    staleness_sum += s;
                    a.max_staleness = a.max_staleness.max(s);
                }
                Fate::Discarded => {
                    a.discarded += 1;
                    *a.discarded_by_reason.entry(r.reason.clone()).or_default() += 1;
                }
            }
        }
        a.mean_staleness = if a.applied > 0 { staleness_sum as f64 / a.applied as f64 } else { 0.0 };
        a
    }
}

/// When the server noticed each failure, against when it happened.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailureRecord {
    pub worker: usize,
    pub failed_s: f64,
    /// When the server declared it dead; `None` if it re-registered first.
    pub detected_s: Option<f64>,
    pub back_s: Option<f64>,
}

/// Everything the cluster recorded in one run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterTrace {
    pub intervals: Vec<WorkerInterval>,
    pub gradients: Vec<GradientRecord>,
    pub failures: Vec<FailureRecord>,
    /// When the server was applying an update (start, end): the `server` share of the time
    /// breakdown is a worker's idle time inside these.
    #[serde(default)]
    pub server: Vec<(f64, f64)>,
}

impl ClusterTrace {
    pub fn interval(
        &mut self,
        worker: usize,
        activity: Activity,
        start_s: f64,
        end_s: f64,
        step: Option<(usize, u32, u64)>,
    ) {
        if end_s > start_s {
            let (partition, clock, version) = match step {
                Some((p, c, v)) => (Some(p), Some(c), Some(v)),
                None => (None, None, None),
            };
            self.intervals.push(WorkerInterval { worker, activity, start_s, end_s, partition, clock, version });
        }
    }

    /// The server applies an update from `start_s` to `end_s`.
    pub fn server_busy(&mut self, start_s: f64, end_s: f64) {
        if end_s > start_s {
            self.server.push((start_s, end_s));
        }
    }

    /// Intervals sorted by worker, then start (the order of `workers.csv`).
    pub fn sorted_intervals(&self) -> Vec<WorkerInterval> {
        let mut v = self.intervals.clone();
        v.sort_by(|a, b| {
            a.worker.cmp(&b.worker).then(a.start_s.total_cmp(&b.start_s)).then(a.activity.cmp(&b.activity))
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_counts_every_gradient() {
        let g = |fate, staleness: Option<u64>, reason: &str| GradientRecord {
            partition: 0,
            worker: 0,
            clock: 0,
            computed_from: 0,
            applied_to: staleness,
            staleness,
            fate,
            reason: reason.into(),
            time_s: 0.0,
        };
        let a = GradientAccounting::of(&[
            g(Fate::Applied, Some(0), ""),
            g(Fate::Applied, Some(3), ""),
            g(Fate::Discarded, None, "worker failed"),
        ]);
        assert_eq!((a.computed, a.applied, a.discarded, a.max_staleness), (3, 2, 1, 3));
        assert_eq!(a.mean_staleness, 1.5);
        assert_eq!(a.discarded_by_reason["worker failed"], 1);
    }
}
