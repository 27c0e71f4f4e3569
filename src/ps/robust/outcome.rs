//! A run's account of its Byzantine workers and the robust rule: who attacked, how often each
//! worker was selected, how well selection told attackers from honest workers.

use super::{RobustPlan, RoundDiagnostics};

/// Per worker, over the run's rounds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkerSelection {
    pub worker: usize,
    pub byzantine: bool,
    /// Rounds in which the rule kept it (`RoundDiagnostics::selected`: Krum's choice, or not
    /// infinitely far for the geometric median and centered clipping; `None` for other rules).
    pub rounds_selected: Option<u64>,
    /// Its mean weight in the aggregate.
    pub mean_weight: f64,
}

/// `summary.json`'s `robust` section.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RobustOutcome {
    pub byzantine_workers: Vec<usize>,
    pub attack: String,
    pub pre_aggregate: String,
    pub rounds: u64,
    pub workers: Vec<WorkerSelection>,
    /// Treating "not selected" (dropped by Krum / Multi-Krum, or weight 0 as infinitely far under
    /// the geometric median and centered clipping) as "flagged Byzantine", summed over rounds:
    /// precision = flagged Byzantine / flagged, recall = flagged Byzantine / Byzantine rows.
    /// `None` for rules that select no subset, or when nothing was flagged (precision) or no
    /// worker is Byzantine (recall).
    pub detection_precision: Option<f64>,
    pub detection_recall: Option<f64>,
    /// Means over rounds of the Byzantine workers' total weight and of the aggregate's relative
    /// distance from the honest mean.
    pub mean_byzantine_weight: f64,
    pub mean_rel_dist_honest: f64,
}

impl RobustOutcome {
    pub fn of<'a>(plan: &RobustPlan, rounds: impl IntoIterator<Item = &'a RoundDiagnostics>) -> Self {
        let n = plan.workers();
        let mut weight = vec![0.0; n];
        let mut selected = vec![0u64; n];
        let (mut count, mut selects, mut byz_weight, mut rel) = (0u64, false, 0.0, 0.0);
        let (mut flagged, mut flagged_byzantine) = (0u64, 0u64);
        for d in rounds {
            count += 1;
            byz_weight += d.byzantine_weight;
            rel += d.rel_dist_honest;
            for (w, x) in weight.iter_mut().zip(&d.weights) {
                *w += x;
            }
            if let Some(sel) = &d.selected {
                selects = true;
                for i in 0..n {
                    if sel[i] {
                        selected[i] += 1;
                    } else {
                        flagged += 1;
                        flagged_byzantine += u64::from(plan.byzantine[i]);
                    }
                }
            }
        }
        let per_round = |x: f64| if count > 0 { x / count as f64 } else { 0.0 };
        let byzantine_rows = count * plan.byzantine_count() as u64;
        Self {
            byzantine_workers: plan.byzantine_workers(),
            attack: plan.attack.to_string(),
            pre_aggregate: plan.pre.to_string(),
            rounds: count,
            workers: (0..n)
                .map(|i| WorkerSelection {
                    worker: i,
                    byzantine: plan.byzantine[i],
                    rounds_selected: selects.then_some(selected[i]),
                    mean_weight: per_round(weight[i]),
                })
                .collect(),
            detection_precision: (selects && flagged > 0).then(|| flagged_byzantine as f64 / flagged as f64),
            detection_recall: (selects && byzantine_rows > 0).then(|| flagged_byzantine as f64 / byzantine_rows as f64),
            mean_byzantine_weight: per_round(byz_weight),
            mean_rel_dist_honest: per_round(rel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::robust::{Attack, AttackBasis, PreAggregation, RobustRule};
    use crate::ps::Aggregation;

    #[test]
    fn precision_and_recall_count_unselected_rows() {
        let plan = RobustPlan {
            byzantine: vec![true, false, false, true],
            attack: Attack::SignFlip { of: AttackBasis::Own },
            pre: PreAggregation::None,
            rule: Some(RobustRule::Krum { f: Some(0) }),
            linear: Aggregation::Mean,
        };
        let round = |sel: [bool; 4]| RoundDiagnostics {
            weights: sel.iter().map(|&s| if s { 0.5 } else { 0.0 }).collect(),
            selected: Some(sel.to_vec()),
            byzantine_weight: if sel[0] { 0.5 } else { 0.0 } + if sel[3] { 0.5 } else { 0.0 },
            dist_honest: 1.0,
            rel_dist_honest: 0.25,
        };
        // Round 1 flags both attackers; round 2 flags worker 3 and honest worker 2.
        let rounds = [round([false, true, true, false]), round([true, true, false, false])];
        let o = RobustOutcome::of(&plan, &rounds);
        assert_eq!(o.detection_precision, Some(3.0 / 4.0));
        assert_eq!(o.detection_recall, Some(3.0 / 4.0));
        assert_eq!(o.workers[1].rounds_selected, Some(2));
        assert_eq!(o.workers[0].mean_weight, 0.25);
        assert_eq!((o.mean_byzantine_weight, o.mean_rel_dist_honest, o.rounds), (0.25, 0.25, 2));
        assert_eq!(o.byzantine_workers, vec![0, 3]);
    }
}
