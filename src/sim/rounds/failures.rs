//! A failure during a BSP round: the worker's unfinished work is lost, and its partitions go on
//! either at a survivor (`reassign`, once the server declares the worker dead) or at the worker
//! itself once it is back and has pulled the weights again.

use super::schedule::Schedule;
use super::{pull_weights, Round, Rounds};
use crate::backend::Backend;
use crate::ps::EventKind;
use crate::sim::cluster::{detection_time, Activity, FailureRecord, FailureSpec, Fate, GradientRecord, OnFailure};
use crate::sim::driver::SimError;

impl<B: Backend> Rounds<'_, '_, '_, B> {
    /// Applies failure `f`, which strikes before schedule `s` completes: the lost partitions
    /// restart no earlier than their new host can take them.
    pub(super) fn fail(&mut self, r: &mut Round, s: &Schedule, f: FailureSpec) -> Result<(), SimError> {
        let (h, at, back) = (f.worker, f.at, f.back_at());
        let detail = back.map_or("for good".into(), |b| format!("back at {b:.6} s"));
        self.t.log.push(at, r.epoch, EventKind::Fail, r.version, Some(h), detail);
        let det = detection_time(self.registered[h], at, self.cluster.heartbeat, self.cluster.heartbeat_timeout);
        // A worker that re-registers before the server notices is never declared dead.
        let detected = back.is_none_or(|b| b > det);
        self.t.trace.failures.push(FailureRecord {
            worker: h,
            failed_s: at,
            detected_s: detected.then_some(det),
            back_s: back,
        });
        match back {
            Some(back) => self.t.trace.interval(h, Activity::Down, at, back, None),
            None => self.down_for_good.push((h, at)),
        }
        r.occupied.push((h, at, back.unwrap_or(f64::INFINITY)));
        if detected {
            self.t.log.push(det, r.epoch, EventKind::Dead, r.version, Some(h), String::new());
        }
        let hosted: Vec<usize> = (0..self.p()).filter(|&q| self.assignment[q] == h).collect();
        let lost = self.lose(r, s, h, at, &hosted);
        self.down_until[h] = Some(back.unwrap_or(f64::INFINITY));
        let restart = match (self.cluster.on_failure, detected, self.adopter(h, det)) {
            (OnFailure::Reassign, true, Some(a)) => self.reassign(r, &hosted, h, a, det),
            _ => self.rejoin(r, h, back)?,
        };
        for q in lost {
            r.not_before[q] = r.not_before[q].max(restart);
        }
        Ok(())
    }

    /// The partitions whose work worker `h`'s failure at `at` loses: its own unfinished ones,
    /// or with `exchange` every partition (the layers need each other's rows). Work already
    /// started is discarded, its intervals cut at the failure.
    fn lose(&mut self, r: &mut Round, s: &Schedule, h: usize, at: f64, hosted: &[usize]) -> Vec<usize> {
        let exchange = r.segments.len() > 1;
        let lost: Vec<usize> = if exchange && !hosted.is_empty() {
            (0..self.p()).collect()
        } else {
            hosted.iter().copied().filter(|&q| s.ready[q] > at).collect()
        };
        for &q in lost.iter().filter(|&&q| s.start[q] < at) {
            let who = self.assignment[q];
            let reason = if exchange && who != h {
                format!("exchange peer worker {h} failed")
            } else {
                "worker failed before its push arrived".to_string()
            };
            self.t.trace.gradients.push(GradientRecord {
                partition: q,
                worker: who,
                clock: r.clock,
                computed_from: r.version,
                applied_to: None,
                staleness: None,
                fate: Fate::Discarded,
                reason: reason.clone(),
                time_s: at,
            });
            let detail = format!("partition {q}: {reason}");
            self.t.log.push(at, r.epoch, EventKind::Discard, r.version, Some(who), detail);
            for &(w, a, s0, e0, qq) in &s.intervals {
                if qq == q && s0 < at {
                    r.lost.push((w, a, s0, e0.min(at), q));
                }
            }
        }
        lost
    }

    /// The survivor with the fewest partitions, up by `det`, that could adopt failed worker
    /// `h`'s partitions.
    fn adopter(&self, h: usize, det: f64) -> Option<usize> {
        (0..self.p())
            .filter(|&a| a != h && self.down_until[a].is_none_or(|b| b <= det))
            .min_by_key(|&a| (self.assignment.iter().filter(|&&x| x == a).count(), a))
    }

    /// Worker `h`'s partitions move to worker `a` when `h` is declared dead at `det`, which is
    /// when they restart.
    fn reassign(&mut self, r: &Round, hosted: &[usize], h: usize, a: usize, det: f64) -> f64 {
        for &q in hosted {
            self.assignment[q] = a;
            let detail = format!("partition {q} from worker {h} to worker {a}");
            self.t.log.push(det, r.epoch, EventKind::Reassign, r.version, Some(a), detail);
        }
        det
    }

    /// Worker `h` keeps its partitions: once back, it re-registers and pulls the weights, and
    /// restarts when they arrive.
    fn rejoin(&mut self, r: &mut Round, h: usize, back: Option<f64>) -> Result<f64, SimError> {
        let back = back.ok_or_else(|| {
            SimError::Config(crate::sim::ConfigError {
                key: "fail".into(),
                message: format!("worker {h} never comes back and no survivor can take its partition"),
            })
        })?;
        self.registered[h] = back;
        self.t.log.push(back, r.epoch, EventKind::Register, r.version, Some(h), String::new());
        let pulled = pull_weights(&mut self.fabric, self.shards.as_ref(), h, back, self.t.pull_bytes);
        self.t.trace.interval(h, Activity::Pull, back, pulled, Some((h, r.clock, r.version)));
        r.occupied.push((h, back, pulled));
        self.t.log.push(pulled, r.epoch, EventKind::Pull, r.version, Some(h), String::new());
        self.down_until[h] = None;
        self.weights_at[h] = pulled;
        Ok(pulled)
    }
}
