//! Weight initialization.

use super::GcnShape;
use crate::rng::SplitMix64;
use crate::tensor::HostMatrix;

/// Glorot/Xavier uniform, as Kipf's `glorot`: U(−r, r) with r = √(6 / (fan_in + fan_out)).
/// Seeded: every layer draws from its own fork, so adding a layer doesn't reshuffle the others.
pub fn glorot_uniform(shape: &GcnShape, seed: u64) -> Vec<HostMatrix> {
    let mut root = SplitMix64::new(seed ^ 0x676c_6f72_6f74); // "glorot"
    shape
        .layer_dims()
        .into_iter()
        .enumerate()
        .map(|(l, (fan_in, fan_out))| {
            let mut rng = root.fork(l as u64);
            let r = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let data = (0..fan_in * fan_out).map(|_| ((rng.next_f64() * 2.0 - 1.0) * r) as f32).collect();
            HostMatrix::from_vec(fan_in, fan_out, data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_range_and_determinism() {
        let shape = GcnShape { in_features: 30, embedding_dim: 0, hidden: 16, layers: 2, classes: 4 };
        let w = glorot_uniform(&shape, 3);
        assert_eq!((w[0].rows, w[0].cols, w[1].rows, w[1].cols), (30, 16, 16, 4));
        let r0 = (6.0f32 / 46.0).sqrt();
        assert!(w[0].data.iter().all(|x| x.abs() <= r0));
        assert_eq!(w, glorot_uniform(&shape, 3));
        assert_ne!(w, glorot_uniform(&shape, 4));
    }
}
