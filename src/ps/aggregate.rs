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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_per_rule() {
        assert_eq!(Aggregation::Weighted.weights(&[1, 3]), vec![0.25, 0.75]);
        assert_eq!(Aggregation::Mean.weights(&[1, 3]), vec![0.5, 0.5]);
        assert_eq!(Aggregation::Sum.weights(&[1, 3]), vec![1.0, 1.0]);
    }
}
