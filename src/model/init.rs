//! Initial parameters.

use super::layer::{Init, LayerPlan};
use crate::rng::SplitMix64;
use crate::tensor::HostMatrix;

/// Every parameter tensor of `plan`, in order. Glorot/Xavier uniform as Kipf's `glorot`:
/// U(−r, r) with r = √(6 / (fan_in + fan_out)). Seeded: tensor k draws from its own fork, so
/// adding a layer doesn't reshuffle the others (for the GCN, tensor k is layer k's weight).
pub fn initial_parameters(plan: &[LayerPlan], seed: u64) -> Vec<HostMatrix> {
    let mut root = SplitMix64::new(seed ^ 0x676c_6f72_6f74); // "glorot"
    plan.iter()
        .flat_map(|p| &p.params)
        .enumerate()
        .map(|(k, t)| match t.init {
            Init::Glorot { fan_in, fan_out } => {
                let mut rng = root.fork(k as u64);
                let r = (6.0 / (fan_in + fan_out) as f64).sqrt();
                let data = (0..t.rows * t.cols).map(|_| ((rng.next_f64() * 2.0 - 1.0) * r) as f32).collect();
                HostMatrix::from_vec(t.rows, t.cols, data)
            }
            Init::Zeros => HostMatrix::from_vec(t.rows, t.cols, vec![0.0; t.rows * t.cols]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GcnShape, ModelSpec};

    #[test]
    fn glorot_range_and_determinism() {
        let shape =
            GcnShape { model: ModelSpec::Gcn, in_features: 30, embedding_dim: 0, hidden: 16, layers: 2, classes: 4 };
        let plan = shape.plan();
        let w = initial_parameters(&plan, 3);
        assert_eq!((w[0].rows, w[0].cols, w[1].rows, w[1].cols), (30, 16, 16, 4));
        let r0 = (6.0f32 / 46.0).sqrt();
        assert!(w[0].data.iter().all(|x| x.abs() <= r0));
        assert_eq!(w, initial_parameters(&plan, 3));
        assert_ne!(w, initial_parameters(&plan, 4));
    }

    #[test]
    fn every_tensor_of_gat_and_sage_is_initialized() {
        for model in [ModelSpec::gat(), ModelSpec::sage()] {
            let shape = GcnShape { model, in_features: 12, embedding_dim: 0, hidden: 4, layers: 2, classes: 3 };
            let plan = shape.plan();
            let w = initial_parameters(&plan, 1);
            let specs: Vec<_> = plan.iter().flat_map(|p| &p.params).collect();
            assert_eq!(w.len(), specs.len());
            for (m, t) in w.iter().zip(specs) {
                assert_eq!((m.rows, m.cols), (t.rows, t.cols), "{}", t.name);
                let nonzero = m.data.iter().any(|&x| x != 0.0);
                assert_eq!(nonzero, t.init != Init::Zeros, "{}", t.name);
            }
        }
    }
}
