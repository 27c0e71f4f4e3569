//! How P worker gradients combine into one.

/// Aggregation rule for the P gradients of one version.
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

#[cfg(test)]
mod tests {
    use super::*;

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
