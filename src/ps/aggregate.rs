//! How P worker gradients combine into one: the linear rules ([`Aggregation`]) or a robust
//! rule ([`RobustRule`]), together the `aggregate` option ([`Aggregator`]).

use std::fmt;
use std::str::FromStr;

use super::robust::{RobustError, RobustRule};

/// Linear aggregation rule for the P gradients of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Each gradient (of its worker's mean loss) scaled by the worker's share of the global
    /// training nodes, then summed: equals the serial gradient.
    #[default]
    Weighted,
    /// Plain average over P workers.
    Mean,
    /// Plain sum.
    Sum,
}

impl Aggregation {
    /// The factor of each worker's gradient, given each worker's owned training nodes.
    pub fn weights(self, train_counts: &[usize]) -> Vec<f32> {
        let p = train_counts.len();
        match self {
            Aggregation::Weighted => {
                let total: usize = train_counts.iter().sum();
                train_counts.iter().map(|&n| if total == 0 { 0.0 } else { (n as f64 / total as f64) as f32 }).collect()
            }
            Aggregation::Mean => vec![(1.0 / p as f64) as f32; p],
            Aggregation::Sum => vec![1.0; p],
        }
    }
}

impl Aggregation {
    /// How each worker's loss gradient is scaled and its weight gradient weighted, so that the
    /// aggregate is Σ_p weights[p] · ∇(mean loss of p). Without exchange a worker's gradient
    /// depends on its own loss only: scale 1/n_p, then weight. With exchange, gradients cross
    /// partitions in the backward pass, so the weight goes into the loss scale (w_p / n_p) and
    /// the gradients are summed; the two agree because the backward pass is linear.
    pub fn loss_weighting(self, train_counts: &[usize], exchange: bool) -> (Vec<f32>, Vec<f32>) {
        let weights = self.weights(train_counts);
        let inverse = |n: usize| if n == 0 { 0.0 } else { 1.0 / n as f64 };
        if exchange {
            let scales = train_counts.iter().zip(&weights).map(|(&n, &w)| (w as f64 * inverse(n)) as f32).collect();
            (scales, vec![1.0; train_counts.len()])
        } else {
            (train_counts.iter().map(|&n| inverse(n.max(1)) as f32).collect(), weights)
        }
    }
}

/// The `aggregate` option: a linear rule, or a robust rule on the workers' mean gradients
/// (`ps::robust`). Written as its spec string (`weighted`, `mean`, `krum:f=2`, …) on the command
/// line, in experiment files and in results.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Aggregator {
    Linear(Aggregation),
    Robust(RobustRule),
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::Linear(Aggregation::Weighted)
    }
}

impl Aggregator {
    /// How each worker's loss gradient is scaled and its weight gradient weighted (see
    /// [`Aggregation::loss_weighting`]). A robust rule compares the workers' *mean* gradients,
    /// so each worker scales its loss by 1/n_p, as under `mean`.
    pub fn loss_weighting(self, train_counts: &[usize], exchange: bool) -> (Vec<f32>, Vec<f32>) {
        match self {
            Aggregator::Linear(a) => a.loss_weighting(train_counts, exchange),
            Aggregator::Robust(_) => Aggregation::Mean.loss_weighting(train_counts, exchange),
        }
    }

    pub fn robust(self) -> Option<RobustRule> {
        match self {
            Aggregator::Robust(r) => Some(r),
            Aggregator::Linear(_) => None,
        }
    }

    /// The rule's name without its parameters.
    pub fn name(self) -> &'static str {
        match self {
            Aggregator::Linear(Aggregation::Weighted) => "weighted",
            Aggregator::Linear(Aggregation::Mean) => "mean",
            Aggregator::Linear(Aggregation::Sum) => "sum",
            Aggregator::Robust(r) => r.name(),
        }
    }
}

impl FromStr for Aggregator {
    type Err = RobustError;

    fn from_str(s: &str) -> Result<Self, RobustError> {
        match s.trim() {
            "weighted" => Ok(Aggregator::Linear(Aggregation::Weighted)),
            "mean" => Ok(Aggregator::Linear(Aggregation::Mean)),
            "sum" => Ok(Aggregator::Linear(Aggregation::Sum)),
            spec => spec.parse().map(Aggregator::Robust).map_err(|e| match e {
                RobustError::Spec { spec, message, .. } if message.starts_with("unknown robust rule") => {
                    RobustError::Spec {
                        what: "aggregation rule",
                        message: message.replace(
                            "unknown robust rule",
                            "unknown aggregation rule (weighted, mean, sum, or a robust rule)",
                        ),
                        spec,
                    }
                }
                e => e,
            }),
        }
    }
}

impl fmt::Display for Aggregator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregator::Linear(_) => f.write_str(self.name()),
            Aggregator::Robust(r) => r.fmt(f),
        }
    }
}

crate::spec_serde!(Aggregator, RobustError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregator_parses_linear_and_robust_rules() {
        assert_eq!("weighted".parse(), Ok(Aggregator::Linear(Aggregation::Weighted)));
        assert_eq!("mean".parse(), Ok(Aggregator::Linear(Aggregation::Mean)));
        assert_eq!("krum:f=2".parse(), Ok(Aggregator::Robust(RobustRule::Krum { f: Some(2) })));
        for s in ["sum", "median", "multi_krum:m=4", "centered_clipping:tau=0.5"] {
            assert_eq!(s.parse::<Aggregator>().unwrap().to_string(), s);
        }
        let e = "avg".parse::<Aggregator>().unwrap_err().to_string();
        assert!(e.contains("`avg`") && e.contains("weighted, mean, sum") && e.contains("multi_krum"), "{e}");
        // Robust rules weigh mean gradients, whatever the node counts.
        let robust = Aggregator::Robust(RobustRule::Median);
        assert_eq!(robust.loss_weighting(&[1, 3], false), (vec![1.0, 1.0 / 3.0], vec![0.5, 0.5]));
    }

    #[test]
    fn weights_per_rule() {
        assert_eq!(Aggregation::Weighted.weights(&[1, 3]), vec![0.25, 0.75]);
        assert_eq!(Aggregation::Mean.weights(&[1, 3]), vec![0.5, 0.5]);
        assert_eq!(Aggregation::Sum.weights(&[1, 3]), vec![1.0, 1.0]);
        // With exchange the weight moves into the loss scale: 0.25/1 and 0.75/3, summed.
        assert_eq!(Aggregation::Weighted.loss_weighting(&[1, 3], true), (vec![0.25, 0.25], vec![1.0, 1.0]));
        assert_eq!(Aggregation::Weighted.loss_weighting(&[1, 3], false), (vec![1.0, 1.0 / 3.0], vec![0.25, 0.75]));
    }
}
