//! What the Byzantine attack and robust aggregation ops of [`super::Backend`] receive: one
//! step with every number resolved on the host (`ps::robust` builds them from the validated
//! config), plus the few pure functions both backends must compute identically.
//!
//! Layout: the server packs the P workers' gradients into `g` (n × d, row i = worker i, every
//! row a per-worker *mean* gradient). Attacks rewrite Byzantine rows in place; pre-aggregations
//! map n rows to n or ⌈n/s⌉ rows; rules map rows to one `1 × d` aggregate plus a `1 × n`
//! selection (each row's weight in the aggregate, summing to 1; see [`RobustStep`]).

use crate::rng::{self, MaskKey};

/// Most rows the robust kernels take: the per-coordinate rank count keeps n keys per thread and
/// the distance-based rules run one workgroup of this many threads. `ps::robust` rejects larger
/// n with an error; the kernels panic (a caller bug).
pub const MAX_WORKERS: usize = 128;

/// An aggregation rule with its numbers resolved for n rows (see `ps::robust::RobustRule`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RobustStep {
    /// Coordinate-wise median: [`RobustStep::TrimmedMean`] with f = ⌊(n − 1)/2⌋, i.e. the middle
    /// value (odd n) or the mean of the two middle values (even n). Selection: per row, the
    /// fraction of coordinates where it was a middle value, weighted ½ for even n.
    Median,
    /// Per coordinate: drop the f largest and f smallest values (ties by row index, NaN above
    /// +∞), average the n − 2f others summed in row order. Selection: per row, the fraction of
    /// coordinates where it was averaged, divided by n − 2f (so it sums to 1).
    TrimmedMean { f: usize },
    /// Multi-Krum: score_i = Σ of the n − f − 2 smallest squared distances from row i to the
    /// others; the m lowest scores (ties by index) are averaged. m = 1 is Krum. Selection:
    /// 1/m on the chosen rows.
    Krum { f: usize, m: usize },
    /// Smoothed Weiszfeld from the coordinate-wise median, `iters` steps in row space
    /// (`backend::row_space`), frozen once a step's change ‖z' − z‖ falls below tol · ‖z'‖.
    /// A row that is infinitely far (non-finite, or beyond f32) weighs 0. Selection: the final
    /// normalized weights (z = Σ w_i x_i).
    GeometricMedian { nu: f32, tol: f32, iters: u32 },
    /// `iters` rounds of v ← v + (1/n) Σ clip_τ(x_i − v) from the given centre, in row space
    /// (an infinitely far row has clip factor 0). Selection: each row's clip factor summed over
    /// the rounds, normalized to sum 1 (all 0 if every row was infinitely far in every round).
    CenteredClipping { tau: f32, iters: u32 },
}

impl RobustStep {
    /// The (lo, hi) rank window a coordinate-wise rule averages, for n rows.
    pub fn rank_window(&self, n: usize) -> Option<(usize, usize)> {
        match *self {
            RobustStep::Median => {
                let f = (n - 1) / 2;
                Some((f, n - f))
            }
            RobustStep::TrimmedMean { f } => Some((f, n - f)),
            _ => None,
        }
    }

    /// Panics with `op` unless the step fits n rows (a caller bug: `ps::robust` validates).
    #[track_caller]
    pub fn check_rows(&self, op: &str, n: usize) {
        assert!((1..=MAX_WORKERS).contains(&n), "{op}: {n} rows, the robust kernels take 1..={MAX_WORKERS}");
        match *self {
            RobustStep::TrimmedMean { f } => assert!(n > 2 * f, "{op}: trimmed mean of {n} rows with f = {f}"),
            RobustStep::Krum { f, m } => {
                assert!(n >= 2 * f + 3, "{op}: krum of {n} rows needs n ≥ 2f + 3 (f = {f})");
                assert!(m >= 1 && m <= n, "{op}: multi-krum of {n} rows cannot average m = {m}");
            }
            RobustStep::GeometricMedian { nu, iters, .. } => {
                assert!(nu > 0.0 && iters >= 1, "{op}: geometric median needs nu > 0 and iters ≥ 1")
            }
            RobustStep::CenteredClipping { tau, iters } => {
                assert!(tau > 0.0 && iters >= 1, "{op}: centered clipping needs tau > 0 and iters ≥ 1")
            }
            RobustStep::Median => {}
        }
    }
}

/// A pre-aggregation with its numbers resolved (see `ps::robust::PreAggregation`).
#[derive(Clone, Debug, PartialEq)]
pub enum PreAggregationStep {
    /// Rows pass through unchanged.
    None,
    /// Nearest-neighbour mixing: row i becomes the mean of itself and its n − f − 1 nearest
    /// other rows (squared Euclidean distance, ties by index), summed in row order.
    Nnm { f: usize },
    /// Bucket r averages rows `permutation[r·s .. (r+1)·s]` (the last bucket may be smaller),
    /// summed in row order.
    Bucketing { s: usize, permutation: Vec<u32> },
}

impl PreAggregationStep {
    /// Rows of the output for n input rows.
    pub fn rows_out(&self, n: usize) -> usize {
        match self {
            PreAggregationStep::None | PreAggregationStep::Nnm { .. } => n,
            PreAggregationStep::Bucketing { s, .. } => n.div_ceil(*s),
        }
    }

    #[track_caller]
    pub fn check_rows(&self, op: &str, n: usize) {
        assert!(n >= 1, "{op}: no rows");
        match self {
            PreAggregationStep::None => {}
            PreAggregationStep::Nnm { f } => {
                assert!(n <= MAX_WORKERS, "{op}: nnm of {n} rows, the kernels take at most {MAX_WORKERS}");
                assert!(*f < n, "{op}: nnm of {n} rows with f = {f} keeps no neighbours");
            }
            PreAggregationStep::Bucketing { s, permutation } => {
                assert!(*s >= 1, "{op}: bucket size 0");
                assert_eq!(permutation.len(), n, "{op}: the bucketing permutation must cover the {n} rows");
            }
        }
    }

    /// For bucketing: the mixing weights (rows_out × n, 1 where row i is in bucket r) and the
    /// per-bucket scale 1/|bucket|. Both backends combine rows with these.
    pub fn bucketing_mix(s: usize, permutation: &[u32]) -> (Vec<f32>, Vec<f32>) {
        let n = permutation.len();
        let rows = n.div_ceil(s);
        let mut weights = vec![0.0f32; rows * n];
        let mut scales = Vec::with_capacity(rows);
        for (r, bucket) in permutation.chunks(s).enumerate() {
            for &i in bucket {
                weights[r * n + i as usize] = 1.0;
            }
            scales.push(1.0 / bucket.len() as f32);
        }
        (weights, scales)
    }
}

/// A Byzantine attack with its numbers resolved for one step (see `ps::robust::Attack`).
/// Omniscient attacks read the honest rows of the same `g`; honest rows are never written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttackStep {
    /// Byzantine rows unchanged (also `label_flip`, which the driver applies to the data).
    None,
    /// factor · the worker's own row: `sign_flip:of=own` (−1) and `scaled:factor=K,of=own` (K).
    OwnMultiple {
        factor: f32,
    },
    /// Honest mean + σ·N(0, 1), the normal drawn by [`gaussian_noise`] with this stream.
    Gaussian {
        sigma: f32,
        stream: u32,
    },
    Zero,
    /// Honest mean − z · (sample) standard deviation, per coordinate.
    Alie {
        z: f32,
    },
    /// factor · honest mean: `ipm:eps=E` (factor −E), and `sign_flip` (−1) and `scaled:factor=K`
    /// (K) of the honest mean.
    MeanMultiple {
        factor: f32,
    },
    /// A copy of row `target` (an honest row).
    Mimic {
        target: u32,
    },
}

/// Layer tag of the attack noise stream in [`MaskKey`]; dropout uses the GCN's layer indices.
pub const GAUSSIAN_ATTACK_LAYER: u32 = u32::MAX;
/// Layer tag of the bucketing permutation stream.
pub const BUCKETING_LAYER: u32 = u32::MAX - 1;

/// The per-(seed, epoch) key of the Gaussian attack's noise.
pub fn gaussian_stream(seed: u64, epoch: u32) -> u32 {
    MaskKey { seed, epoch, layer: GAUSSIAN_ATTACK_LAYER }.stream()
}

/// A standard normal draw, a pure function of (stream, worker, coordinate): Box–Muller from two
/// 24-bit hash uniforms u1 ∈ (0, 1] and u2 ∈ [0, 1) (exact in f32), the angle taken in [−π, π)
/// where GPU `cos` is specified. `shaders/byzantine_attack.wgsl` computes the same numbers up
/// to its `log`, `sqrt` and `cos`.
pub fn gaussian_noise(stream: u32, worker: u32, coord: u32) -> f32 {
    let row = rng::hash32(stream ^ worker.wrapping_mul(0x27d4_eb2f));
    let h1 = rng::hash32(row ^ coord.wrapping_mul(2));
    let h2 = rng::hash32(row ^ coord.wrapping_mul(2).wrapping_add(1));
    let u1 = ((h1 >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
    let u2 = (h2 >> 8) as f32 * (1.0 / 16_777_216.0);
    let theta = (u2 * 2.0 - 1.0) * std::f32::consts::PI;
    (-2.0 * u1.ln()).sqrt() * theta.cos()
}

/// A random permutation of 0..n, a pure function of (seed, epoch): Fisher–Yates with the swap
/// index drawn by `rng::hash32` (multiply-shift into [0, i]).
pub fn bucketing_permutation(seed: u64, epoch: u32, n: usize) -> Vec<u32> {
    let stream = MaskKey { seed, epoch, layer: BUCKETING_LAYER }.stream();
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let h = rng::hash32(stream ^ (i as u32).wrapping_mul(0x9e37_79b9));
        let j = ((h as u64 * (i as u64 + 1)) >> 32) as usize;
        perm.swap(i, j);
    }
    perm
}

/// A u32 whose order is a total order on f32: −∞ < … < −0 < +0 < … < +∞, and every NaN (either
/// sign) above +∞, so a NaN row counts as the most extreme value (trimmed, never a Krum pick).
/// The WGSL kernels use the same bit trick, so both backends select the same rows.
pub fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x7fff_ffff > 0x7f80_0000 {
        u32::MAX
    } else if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_is_a_total_order_with_nan_last() {
        let xs = [f32::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-30, 3.0, f32::INFINITY];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(order_key(f32::NAN), u32::MAX);
        assert_eq!(order_key(-f32::NAN), u32::MAX);
        assert!(order_key(f32::INFINITY) < u32::MAX);
    }

    #[test]
    fn bucketing_permutation_is_a_pure_permutation() {
        let p = bucketing_permutation(3, 7, 10);
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<u32>>());
        assert_eq!(p, bucketing_permutation(3, 7, 10));
        assert_ne!(p, bucketing_permutation(3, 8, 10));
        assert_ne!(p, (0..10).collect::<Vec<u32>>());
    }

    #[test]
    fn bucketing_mix_averages_buckets() {
        let (w, s) = PreAggregationStep::bucketing_mix(2, &[2, 0, 1]);
        assert_eq!(w, vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        assert_eq!(s, vec![0.5, 1.0]);
    }

    #[test]
    fn gaussian_noise_is_standard_normal() {
        let s = gaussian_stream(5, 2);
        let xs: Vec<f64> = (0..40).flat_map(|w| (0..500).map(move |c| gaussian_noise(s, w, c) as f64)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "mean {mean} var {var}");
        assert_eq!(gaussian_noise(s, 3, 4), gaussian_noise(s, 3, 4));
        assert_ne!(gaussian_noise(s, 3, 4), gaussian_noise(gaussian_stream(5, 3), 3, 4));
    }
}
