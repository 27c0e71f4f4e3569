//! What the compression ops of [`super::Backend`] receive, and the pure functions both backends
//! must compute identically: f16 rounding, the fixed order of a row's sums, the selection keys
//! of top-k and rand-k, the random draws of stochastic rounding.
//!
//! Every op computes `decode(encode(v))`: the matrix the receiver reconstructs, exactly as a
//! bit-packing encoder and decoder would produce it (`crate::compress::pack` is that encoder
//! and decoder on the host; its tests prove it equals the fused ops bit for bit). The bytes on
//! the wire are `crate::compress` specs' `encoded_bytes`.
//!
//! Row codecs work per row of the matrix they are given: a block of boundary rows (row r is
//! global node `row_ids[r]`), or the server's n × d matrix of per-worker gradients (row i is
//! worker i's flattened gradient, `row_ids[i]` = i). The row is the unit of every per-row scale,
//! norm and k.
//!
//! Error feedback (Karimireddy et al. 2019): with a residual `e`, the op encodes `v = x + e` and
//! leaves `e ← v − decode(encode(v))`, so `decoded + e_new == x + e_old` up to float rounding.

use super::{KernelClass, KernelCost, Work};
use crate::rng::{self, MaskKey};

/// A row codec with its numbers resolved for one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowCodec {
    /// Each value rounded to IEEE half precision (nearest, ties to even; beyond 65504 → ±∞).
    Fp16,
    /// AdaQP's uniform quantizer: per row `lo = min`, `scale = (max − lo) / (2^bits − 1)`,
    /// `q = min(⌊(v − lo)/scale + u⌋, 2^bits − 1)` with u = [`CompressStep::uniform`] (stochastic
    /// rounding), decoded `lo + q·scale`. A row with `scale == 0` decodes to `lo`.
    Uniform { bits: u32 },
    /// 1-bit (1-bit SGD, Sylvie): bit = `v ≥ 0`; per row two scales, the mean of the
    /// non-negative values and the mean of the negative ones (0 for an empty side); decoded
    /// = the scale of the value's side.
    OneBit,
    /// QSGD with `levels` = S: per row `norm = ‖v‖₂`, `l = min(⌊|v|/norm · S + u⌋, S)`, decoded
    /// `sign(v) · l · (norm / S)`; a zero row stays zero.
    Qsgd { levels: u32 },
    /// signSGD with a scale: per row `s = Σ|v| / cols`, decoded `v ≥ 0 ? s : −s`.
    Sign,
    /// The k values of largest |v| per row (ties to the lower column), the rest 0.
    TopK { k: usize },
    /// k columns per row chosen by the counter hash ([`randk_key`]: the k largest keys, ties to
    /// the lower column), the rest 0; not rescaled by cols/k (the contractive form that error
    /// feedback needs, Stich et al. 2018).
    RandK { k: usize },
}

impl RowCodec {
    /// The class the clock charges it as: a pass over the row for the quantizers (their per-row
    /// min/max fused in), a reduction for the norm-scaled codecs and the selections (a histogram
    /// per radix digit).
    pub fn class(&self) -> KernelClass {
        match self {
            RowCodec::Fp16 | RowCodec::Uniform { .. } | RowCodec::OneBit => KernelClass::Elementwise,
            RowCodec::Qsgd { .. } | RowCodec::Sign | RowCodec::TopK { .. } | RowCodec::RandK { .. } => {
                KernelClass::Reduction
            }
        }
    }

    /// Passes over the input a kernel makes (what its traffic is counted as): fp16 one; the
    /// quantizers a statistics pass and an encoding pass; the selections four radix passes and
    /// one selecting pass.
    fn passes(&self) -> usize {
        match self {
            RowCodec::Fp16 => 1,
            RowCodec::Uniform { .. } | RowCodec::OneBit | RowCodec::Qsgd { .. } | RowCodec::Sign => 2,
            RowCodec::TopK { .. } | RowCodec::RandK { .. } => 5,
        }
    }

    /// Panics unless the codec fits rows of `cols` values (a caller bug: specs are validated).
    #[track_caller]
    pub fn check(&self, op: &str, cols: usize) {
        match *self {
            RowCodec::Uniform { bits } => assert!(matches!(bits, 1..=16), "{op}: {bits}-bit uniform quantizer"),
            RowCodec::Qsgd { levels } => assert!(levels >= 1, "{op}: qsgd needs at least one level"),
            RowCodec::TopK { k } | RowCodec::RandK { k } => {
                assert!(k >= 1 && k <= cols.max(1), "{op}: k = {k} of rows of {cols} values")
            }
            RowCodec::Fp16 | RowCodec::OneBit | RowCodec::Sign => {}
        }
    }
}

/// One call of `compress_rows`: the codec and the stream of its random draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompressStep {
    pub codec: RowCodec,
    /// [`codec_stream`] of the call's key; codecs without draws ignore it.
    pub stream: u32,
}

impl CompressStep {
    /// The stochastic-rounding draw of (row id, column): `rng::mask_uniform` of this stream,
    /// the same hash and key layout as dropout's (seed, epoch, layer, global node id, column).
    pub fn uniform(&self, row_id: u32, column: u32) -> f32 {
        rng::mask_uniform(self.stream, row_id, column)
    }
}

/// Which exchange a codec's draws belong to; folded into the key so that they never coincide
/// with dropout's draws (which use [`MaskKey::stream`] itself) or with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecStream {
    /// Boundary rows sent forward (features).
    BoundaryForward = 0x51ed_270b,
    /// Boundary gradients sent back.
    BoundaryBackward = 0x2c1b_3c6d,
    /// A worker's gradient pushed to the server.
    Push = 0x6a09_e667,
}

/// Layer tag of PowerSGD's initial Q.
pub const POWERSGD_INIT_LAYER: u32 = u32::MAX - 3;

/// The stream of a codec's draws for `key` (seed, epoch, layer).
pub fn codec_stream(key: MaskKey, tag: CodecStream) -> u32 {
    rng::hash32(key.stream() ^ tag as u32)
}

/// Workgroup size of the per-row kernels, and the number of lanes of [`lane_tree_sum`].
pub const LANES: usize = 256;

/// `Σ_{i < n} f(i)` in the order of a 256-thread workgroup: lane l sums i = l, l + 256, … in
/// order, then lanes are added in a tree (l += l + s for s = 128, 64, …, 1). The kernels sum in
/// this order, so both backends add the same numbers in the same order.
pub fn lane_tree_sum(n: usize, f: impl Fn(usize) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    for i in 0..n {
        acc[i % LANES] += f(i);
    }
    let mut s = LANES / 2;
    while s >= 1 {
        for l in 0..s {
            acc[l] += acc[l + s];
        }
        s /= 2;
    }
    acc[0]
}

/// IEEE half bits of `x`: round to nearest, ties to even; ±∞ beyond the largest half (65504),
/// subnormal halves below 2⁻¹⁴, a NaN stays a (quiet) NaN. u32 arithmetic only, so
/// `shaders/quantize.wgsl` computes the same bits.
pub fn f32_to_f16_bits(x: f32) -> u32 {
    let b = x.to_bits();
    let sign = (b >> 16) & 0x8000;
    let a = b & 0x7fff_ffff;
    if a >= 0x7f80_0000 {
        return sign | 0x7c00 | if a > 0x7f80_0000 { 0x200 } else { 0 };
    }
    if a >= 0x477f_f000 {
        // ≥ 65520: halfway to 2^16 or above rounds to infinity.
        return sign | 0x7c00;
    }
    if a >= 0x3880_0000 {
        // Normal half: drop 13 mantissa bits, rounding to nearest even; a carry moves into the
        // exponent, which is right.
        let m = a + 0xfff + ((a >> 13) & 1);
        return sign | ((m >> 13) - (112 << 10));
    }
    if a < 0x3300_0000 {
        // Below 2^-25 (half the smallest subnormal): rounds to zero.
        return sign;
    }
    // Subnormal half: the value in units of 2^-24 is mant >> (126 − e), rounded to even.
    let e = a >> 23;
    let mant = (a & 0x007f_ffff) | 0x0080_0000;
    let s = 126 - e;
    let mut q = mant >> s;
    let rem = mant & ((1 << s) - 1);
    let half = 1 << (s - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q += 1;
    }
    sign | q
}

/// The f32 value of half bits `h` (exact).
pub fn f16_bits_to_f32(h: u32) -> f32 {
    let sign = (h & 0x8000) << 16;
    let e = (h >> 10) & 0x1f;
    let m = h & 0x3ff;
    match e {
        0 => f32::from_bits((m as f32 * (1.0 / 16_777_216.0)).to_bits() | sign),
        31 => f32::from_bits(sign | 0x7f80_0000 | (m << 13)),
        _ => f32::from_bits(sign | ((e + 112) << 23) | (m << 13)),
    }
}

/// `x` as the receiver of its half sees it.
pub fn f16_round(x: f32) -> f32 {
    f16_bits_to_f32(f32_to_f16_bits(x))
}

/// Top-k's selection key: the bits of |v| (their u32 order is the order of |v|; a NaN is above
/// every number).
pub fn topk_key(v: f32) -> u32 {
    v.to_bits() & 0x7fff_ffff
}

/// Rand-k's selection key of (row id, column): a hash both ends compute from the stream, so only
/// the values travel.
pub fn randk_key(stream: u32, row_id: u32, column: u32) -> u32 {
    rng::hash32(rng::mask_row_key(stream, row_id) ^ column)
}

/// The columns of the k largest keys (ties to the lower column), ascending.
pub fn select_k(keys: &[u32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[b].cmp(&keys[a]).then(a.cmp(&b)));
    order.truncate(k);
    order.sort_unstable();
    order
}

/// k of a ratio for rows of `cols` values: ⌈ratio · cols⌉, at least 1 and at most cols.
pub fn k_of(ratio: f64, cols: usize) -> usize {
    ((ratio * cols as f64).ceil() as usize).clamp(1, cols.max(1))
}

/// PowerSGD's rank for an n × m matrix: at most min(n, m).
pub fn powersgd_rank(rank: usize, n: usize, m: usize) -> usize {
    rank.min(n).min(m).max(1)
}

/// PowerSGD's initial Q (m × r, row-major): standard normals from the counter hash of (seed,
/// worker, layer), the same on every backend (`robust::gaussian_noise` with its own stream).
pub fn powersgd_initial_q(seed: u64, worker: u32, layer: u32, m: usize, r: usize) -> Vec<f32> {
    let stream = rng::hash32(MaskKey { seed, epoch: layer, layer: POWERSGD_INIT_LAYER }.stream());
    (0..m * r).map(|i| super::robust::gaussian_noise(stream, worker, i as u32)).collect()
}

/// What the clock charges `compress_rows` on a rows × cols matrix: the codec's passes over the
/// input, the output written once, the row ids; error feedback adds reading x and e and writing
/// e (the residual update is fused into the same charge).
pub fn compress_work(codec: &RowCodec, rows: usize, cols: usize, error_feedback: bool) -> Work {
    let n = rows * cols;
    let flops = match codec {
        RowCodec::Fp16 => 1.0,
        RowCodec::Uniform { .. } | RowCodec::Qsgd { .. } => 6.0,
        RowCodec::OneBit | RowCodec::Sign => 3.0,
        RowCodec::TopK { .. } | RowCodec::RandK { .. } => 5.0,
    };
    let mut cost =
        KernelCost::elementwise(n, codec.passes(), 1, flops) + KernelCost { flops: 0.0, bytes: 4.0 * rows as f64 };
    if error_feedback {
        cost += KernelCost::elementwise(n, 3, 2, 2.0);
    }
    Work::new(codec.class(), cost)
}

/// What the clock charges `powersgd` on an n × m matrix at rank r: its three products
/// (M·Q, Mᵀ·P, P·Qᵀ), the Gram–Schmidt pass over P (r(r+1)/2 dot products and updates of n),
/// and error feedback's element-wise traffic.
pub fn powersgd_work(n: usize, m: usize, r: usize, error_feedback: bool) -> Work {
    let mut cost = KernelCost::matmul(n, m, r) + KernelCost::matmul(m, n, r) + KernelCost::matmul(n, r, m);
    let pairs = r * (r + 1) / 2;
    cost += KernelCost { flops: 4.0 * (pairs * n) as f64, bytes: 8.0 * (pairs * n) as f64 };
    if error_feedback {
        cost += KernelCost::elementwise(n * m, 3, 2, 2.0);
    }
    Work::new(KernelClass::Matmul, cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_known_answers() {
        for (x, h) in [
            (0.0f32, 0x0000u32),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (65519.99, 0x7bff),
            (65520.0, 0x7c00),
            (1e6, 0x7c00),
            (f32::NEG_INFINITY, 0xfc00),
            (1.0 / 3.0, 0x3555),
            (2f32.powi(-14), 0x0400),
            (2f32.powi(-24), 0x0001),
            (2f32.powi(-25), 0x0000),
            (2f32.powi(-25) * 1.0001, 0x0001),
            (3.0 * 2f32.powi(-25), 0x0002),
            // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even 1.
            (1.0 + 2f32.powi(-11), 0x3c00),
            (1.0 + 3.0 * 2f32.powi(-11), 0x3c02),
        ] {
            assert_eq!(f32_to_f16_bits(x), h, "{x:e}");
        }
        assert!(f16_round(f32::NAN).is_nan());
    }

    #[test]
    fn every_half_round_trips_and_midpoints_tie_to_even() {
        for h in 0..0x10000u32 {
            let e = (h >> 10) & 0x1f;
            if e == 31 && h & 0x3ff != 0 {
                continue; // NaN payloads are not kept
            }
            let x = f16_bits_to_f32(h);
            assert_eq!(f32_to_f16_bits(x), h, "half {h:#06x} = {x:e}");
            // The midpoint to the next half up (same sign) rounds to the even one of the two.
            if h & 0x7fff < 0x7bff {
                let next = f16_bits_to_f32(h + 1);
                let mid = ((x as f64 + next as f64) / 2.0) as f32;
                let want = if h & 1 == 0 { h } else { h + 1 };
                assert_eq!(f32_to_f16_bits(mid), want, "midpoint above {h:#06x}");
            }
        }
    }

    #[test]
    fn lane_tree_sum_is_the_sum_in_a_fixed_order() {
        assert_eq!(lane_tree_sum(0, |_| 1.0), 0.0);
        assert_eq!(lane_tree_sum(1000, |_| 1.0), 1000.0);
        assert_eq!(lane_tree_sum(5, |i| i as f32), 10.0);
        // Lane 0 cancels 1e8 − 1e8 before the tree adds the 255 ones; summed left to right,
        // each 1 is lost against 1e8 (its ulp is 8) and the result is 0.
        let big = |i: usize| {
            if i == 0 {
                1e8
            } else if i == 256 {
                -1e8
            } else {
                1.0
            }
        };
        assert_eq!(lane_tree_sum(257, big), 255.0);
    }

    #[test]
    fn select_k_takes_the_largest_keys_ties_to_the_lower_index() {
        assert_eq!(select_k(&[5, 9, 9, 1, 9], 2), vec![1, 2]);
        assert_eq!(select_k(&[5, 9, 9, 1, 9], 4), vec![0, 1, 2, 4]);
        assert_eq!(select_k(&[3, 3, 3], 3), vec![0, 1, 2]);
        assert_eq!(topk_key(-2.0), topk_key(2.0));
        assert!(topk_key(-3.0) > topk_key(2.5));
    }

    #[test]
    fn k_and_rank_are_clamped() {
        assert_eq!(k_of(0.01, 1000), 10);
        assert_eq!(k_of(0.001, 10), 1);
        assert_eq!(k_of(1.0, 7), 7);
        assert_eq!(k_of(0.5, 7), 4);
        assert_eq!(powersgd_rank(4, 100, 2), 2);
    }

    #[test]
    fn codec_streams_differ_from_dropout_and_each_other() {
        let key = MaskKey { seed: 1, epoch: 2, layer: 0 };
        let s = [
            key.stream(),
            codec_stream(key, CodecStream::BoundaryForward),
            codec_stream(key, CodecStream::BoundaryBackward),
            codec_stream(key, CodecStream::Push),
        ];
        for i in 0..s.len() {
            for j in 0..i {
                assert_ne!(s[i], s[j]);
            }
        }
    }
}
