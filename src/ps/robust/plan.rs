//! What the server does with one round's gradients when some workers may be Byzantine or the
//! rule is robust: the resolved, validated form of the run's `byzantine`, `attack`,
//! `pre_aggregate` and `aggregate` options ([`RobustPlan`]), and which workers are Byzantine.

use super::{Attack, PreAggregation, RobustError, RobustRule};
use crate::backend::{AttackStep, PreAggregationStep, RobustStep};
use crate::ps::Aggregation;
use crate::rng::SplitMix64;

/// `byzantine` of `workers` workers chosen by the seed: a seeded Fisher–Yates shuffle's first
/// `byzantine`, sorted. The stream is the seed's own (independent of weights and partitions).
pub fn choose_byzantine(seed: u64, workers: usize, byzantine: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ 0x6279_7a61_6e74_696e); // "byzantin"
    let mut ids: Vec<usize> = (0..workers).collect();
    for i in (1..workers).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let mut chosen = ids[..byzantine.min(workers)].to_vec();
    chosen.sort_unstable();
    chosen
}

/// How the server combines a round's P gradients (row i = partition i's mean gradient, sent by
/// its home worker i).
#[derive(Clone, Debug, PartialEq)]
pub struct RobustPlan {
    /// Per worker: Byzantine or not.
    pub byzantine: Vec<bool>,
    pub attack: Attack,
    pub pre: PreAggregation,
    /// The robust rule, or `None` for a linear rule on the (attacked) rows.
    pub rule: Option<RobustRule>,
    /// The linear rule when `rule` is `None`.
    pub linear: Aggregation,
}

impl RobustPlan {
    pub fn workers(&self) -> usize {
        self.byzantine.len()
    }

    pub fn byzantine_count(&self) -> usize {
        self.byzantine.iter().filter(|&&b| b).count()
    }

    pub fn byzantine_workers(&self) -> Vec<usize> {
        (0..self.workers()).filter(|&i| self.byzantine[i]).collect()
    }

    /// Rows the rule sees: the workers', after pre-aggregation.
    pub fn rows(&self) -> usize {
        self.pre.rows_out(self.workers())
    }

    /// The backend's numbers for round `epoch` (0-based). Errors name what is impossible (e.g.
    /// Krum with too few rows); [`Self::check`] runs them once before training.
    pub fn steps(&self, seed: u64, epoch: u32) -> Result<Steps, RobustError> {
        let (n, f) = (self.workers(), self.byzantine_count());
        let attack = self.attack.step(&self.byzantine, seed, epoch)?;
        let pre = self.pre.step(n, f, seed, epoch)?;
        let rule = self.rule.map(|r| r.step(self.rows(), f)).transpose()?;
        Ok(Steps { attack, pre, rule })
    }

    /// Every step the run will take is possible (the numbers depend on the epoch only through
    /// random draws, never through validity).
    pub fn check(&self, seed: u64) -> Result<(), RobustError> {
        self.steps(seed, 0).map(|_| ())
    }
}

impl RobustPlan {
    /// The server's work per round on `d` parameters: packing the rows, the pre-aggregation,
    /// the rule (or the linear rule as a 1 × n by n × d product) and unpacking the aggregate.
    /// The attack is the attackers' work and not counted.
    pub fn server_cost(&self, d: usize) -> crate::backend::KernelCost {
        use crate::backend::KernelCost;
        let n = self.workers();
        let steps = self.steps(0, 0).expect("the plan was checked");
        let rule = match &steps.rule {
            Some(rule) => KernelCost::robust_aggregate(rule, self.rows(), d),
            None => KernelCost::matmul(1, n, d),
        };
        KernelCost::copy(n * d) + KernelCost::pre_aggregate(&steps.pre, n, d) + rule + KernelCost::copy(d)
    }
}

/// One round's resolved numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Steps {
    pub attack: AttackStep,
    pub pre: PreAggregationStep,
    pub rule: Option<RobustStep>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::robust::AttackBasis;

    #[test]
    fn byzantine_choice_is_seeded_and_sorted() {
        let a = choose_byzantine(0, 10, 3);
        assert_eq!(a.len(), 3);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|&i| i < 10));
        assert_eq!(a, choose_byzantine(0, 10, 3));
        let other: Vec<Vec<usize>> = (1..6).map(|s| choose_byzantine(s, 10, 3)).collect();
        assert!(other.iter().any(|o| *o != a), "the seed chooses");
        assert!(choose_byzantine(3, 10, 0).is_empty());
        assert_eq!(choose_byzantine(3, 4, 4), vec![0, 1, 2, 3]);
        // Nested: more Byzantine workers keep the first ones (a shuffle's prefix).
        let five = choose_byzantine(7, 10, 5);
        assert!(choose_byzantine(7, 10, 2).iter().all(|i| five.contains(i)));
    }

    #[test]
    fn steps_resolve_f_from_the_byzantine_count() {
        let mut byzantine = vec![false; 10];
        byzantine[2] = true;
        byzantine[7] = true;
        let plan = RobustPlan {
            byzantine,
            attack: Attack::SignFlip { of: AttackBasis::Own },
            pre: PreAggregation::None,
            rule: Some(RobustRule::MultiKrum { f: None, m: None }),
            linear: Aggregation::Mean,
        };
        let s = plan.steps(0, 0).unwrap();
        assert_eq!(s.rule, Some(RobustStep::Krum { f: 2, m: 8 }));
        assert_eq!(s.attack, AttackStep::OwnMultiple { factor: -1.0 });
        let bucketed = RobustPlan { pre: PreAggregation::Bucketing { s: 2 }, ..plan.clone() };
        // 5 buckets: Krum with f = 2 needs 7 rows.
        let e = bucketed.check(0).unwrap_err().to_string();
        assert!(e.contains("multi_krum") && e.contains("5 workers"), "{e}");
    }
}
