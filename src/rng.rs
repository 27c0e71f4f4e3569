//! Random numbers.
//!
//! Two kinds, for two jobs:
//! - [`mask_uniform`]: a *counter-based* hash of (seed, epoch, layer, global node id, column).
//!   Dropout masks come from it, so every backend, the serial run and every partitioning draw
//!   exactly the same mask for the same element. The WGSL twin lives in `shaders/dropout.wgsl`
//!   and must stay bit-identical (u32 arithmetic only).
//! - [`SplitMix64`]: a small stateful generator for host-side set-up (weight init, graph
//!   generation, random partitions), seeded and platform independent.

/// Chris Wellons' `lowbias32` integer hash: a bijection on u32 with good avalanche.
#[inline]
pub fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The key of one dropout draw. Equal keys give equal draws on every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskKey {
    pub seed: u64,
    pub epoch: u32,
    pub layer: u32,
}

impl MaskKey {
    /// The per-(seed, epoch, layer) part of the hash, folded once and passed to kernels.
    #[inline]
    pub fn stream(&self) -> u32 {
        let s_lo = self.seed as u32;
        let s_hi = (self.seed >> 32) as u32;
        let mut h = hash32(s_lo ^ 0x9e37_79b9);
        h = hash32(h ^ s_hi);
        h = hash32(h ^ self.epoch.wrapping_mul(0x85eb_ca6b));
        hash32(h ^ self.layer.wrapping_mul(0xc2b2_ae35))
    }
}

/// Uniform in [0, 1) with 24 bits, a pure function of (stream, node, column).
/// The conversion is exact in f32, so WGSL computes the same value.
#[inline]
pub fn mask_uniform(stream: u32, node: u32, column: u32) -> f32 {
    mask_uniform_in_row(mask_row_key(stream, node), column)
}

/// The per-node half of [`mask_uniform`]: a row of a dense mask hashes it once, not per column.
#[inline]
pub fn mask_row_key(stream: u32, node: u32) -> u32 {
    hash32(stream ^ node.wrapping_mul(0x27d4_eb2f))
}

/// [`mask_uniform`] from the node's [`mask_row_key`].
#[inline]
pub fn mask_uniform_in_row(row_key: u32, column: u32) -> f32 {
    (hash32(row_key ^ column) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// [`dropout_keep`] from the node's [`mask_row_key`].
#[inline]
pub fn dropout_keep_in_row(row_key: u32, column: u32, rate: f32) -> bool {
    mask_uniform_in_row(row_key, column) >= rate
}

/// Whether dropout keeps an element: kept with probability `1 - rate`.
#[inline]
pub fn dropout_keep(stream: u32, node: u32, column: u32, rate: f32) -> bool {
    mask_uniform(stream, node, column) >= rate
}

/// The key of one edge's attention-dropout draws: `hash32(mask_row_key(stream, dst) ^ src)`.
/// A bijection in `src` for a fixed destination, so two sources of one row never share draws;
/// head h's draw is then [`mask_uniform_in_row`]`(edge key, h)`. The WGSL twin is
/// `edge_dropout` in `shaders/dropout.wgsl`.
#[inline]
pub fn edge_mask_key(stream: u32, dst: u32, src: u32) -> u32 {
    hash32(mask_row_key(stream, dst) ^ src)
}

/// SplitMix64: tiny, seedable, reproducible across platforms.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal (Box-Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A child generator for an independent sub-stream.
    pub fn fork(&mut self, tag: u64) -> SplitMix64 {
        SplitMix64::new(self.next_u64() ^ tag.wrapping_mul(0xd6e8_feb8_6659_fd93))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_pure_and_spreads() {
        let key = MaskKey { seed: 7, epoch: 3, layer: 1 };
        let s = key.stream();
        assert_eq!(mask_uniform(s, 10, 20), mask_uniform(s, 10, 20));
        let other = MaskKey { seed: 7, epoch: 4, layer: 1 }.stream();
        assert_ne!(s, other);
        // Keep rate over many draws is close to 1 - rate.
        let kept = (0..200u32)
            .flat_map(|n| (0..100u32).map(move |c| (n, c)))
            .filter(|&(n, c)| dropout_keep(s, n, c, 0.5))
            .count();
        let frac = kept as f64 / 20_000.0;
        assert!((frac - 0.5).abs() < 0.02, "keep fraction {frac}");
    }

    #[test]
    fn splitmix_normal_has_unit_variance() {
        let mut r = SplitMix64::new(1);
        let xs: Vec<f64> = (0..20_000).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    }
}
