//! Row-space arithmetic of the geometric median and centered clipping, shared by the CPU twins
//! (`backend::cpu::robust`) and the WGSL kernels (`shaders/row_space.wgsl` repeats every
//! function here line for line), so that both backends give the same bits.
//!
//! Why row space: the Gram identity ‖z − x‖² = ‖z‖² + ‖x‖² − 2 z·x cancels when a row is far
//! from the others (σ = 200 noise) and overflows f32 once ‖x‖ passes ~1.8e19 (∞ − ∞ = NaN).
//! [`distance`] sums the differences themselves, scaled by the power of two that brings the
//! largest |difference| into [1, 2): nothing cancels, and nothing overflows unless the distance
//! itself is beyond f32.
//!
//! Why the same bits: every operation is exact (integer exponent shifts, products of 12-bit
//! halves) or one IEEE add, division or square root, so a device that contracts `a·b + c` into
//! an FMA computes the same values; and every result below f32's normal range is flushed to +0
//! explicitly ([`ftz`]), so a device that flushes denormals does too. Sums run in one fixed
//! order: [`LANES`] strided lanes, then a halving tree, as one workgroup does.
//!
//! Non-finite policy: a row with an inf or NaN entry, or whose distance exceeds f32, is
//! infinitely far ([`distance`] = +∞); the rules give it weight 0 (clip factor 0), which
//! `selection.csv` and the detection statistics report as "not selected".

/// Lanes of a distance sum: element j goes to lane j mod LANES (the WGSL workgroup size).
pub const LANES: usize = 256;

/// x, or +0 when x is zero or below f32's normal range (exponent field 0).
pub fn ftz(x: f32) -> f32 {
    if x.to_bits() & 0x7f80_0000 == 0 {
        0.0
    } else {
        x
    }
}

/// Whether x is ±∞ or NaN (by its bits: no float comparison, whose NaN behaviour WGSL leaves
/// to the implementation).
pub fn non_finite(x: f32) -> bool {
    x.to_bits() & 0x7fff_ffff >= 0x7f80_0000
}

/// `ftz(a + b)`.
pub fn add(a: f32, b: f32) -> f32 {
    ftz(a + b)
}

/// x = hi + lo exactly, each with at most 12 significant bits (x finite and normal or 0), so
/// that a product of two halves is exact in f32.
pub fn split(x: f32) -> (f32, f32) {
    let hi = f32::from_bits(x.to_bits() & 0xffff_f000);
    (hi, ftz(x - hi))
}

/// acc + a·b as four exact partial products added in a fixed order (an FMA cannot change any of
/// them); a, b finite.
pub fn mul_add(acc: f32, a: f32, b: f32) -> f32 {
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let acc = add(acc, ftz(ah * bh));
    let acc = add(acc, ftz(ah * bl));
    let acc = add(acc, ftz(al * bh));
    add(acc, ftz(al * bl))
}

/// `ftz(ftz(a) − ftz(b))`: one coordinate of a difference.
pub fn diff(a: f32, b: f32) -> f32 {
    ftz(ftz(a) - ftz(b))
}

/// x · 2^(127 − top) exactly, by shifting its exponent field (`top` = the exponent field of the
/// largest |difference|, so the result is below 2 in magnitude); +0 where it would leave the
/// normal range.
pub fn scale_down(x: f32, top: u32) -> f32 {
    let b = x.to_bits();
    let e = (b >> 23) & 0xff;
    let shifted = e as i32 + 127 - top as i32;
    if e == 0 || shifted <= 0 {
        0.0
    } else {
        f32::from_bits((b & 0x807f_ffff) | ((shifted as u32) << 23))
    }
}

/// ‖a − b‖ (b = None: the origin), or +∞ when a difference is not finite or the distance
/// exceeds f32. Two passes, each over lanes then a halving tree: the largest |difference| (as
/// bits, an integer max), then the sum of squares of the differences scaled down by its
/// exponent, whose square root is scaled back up.
pub fn distance(a: &[f32], b: Option<&[f32]>) -> f32 {
    // Materialized once, both passes run over a contiguous slice (lane l = element j mod LANES
    // is position l of each LANES-chunk).
    let diffs: Vec<f32> = match b {
        Some(b) => a.iter().zip(b).map(|(&x, &y)| diff(x, y)).collect(),
        None => a.iter().map(|&x| diff(x, 0.0)).collect(),
    };
    let top_bits = diffs.iter().map(|x| x.to_bits() & 0x7fff_ffff).max().unwrap_or(0);
    if top_bits >= 0x7f80_0000 {
        return f32::INFINITY;
    }
    if top_bits == 0 {
        return 0.0;
    }
    let top = top_bits >> 23;
    let mut lanes = [0.0f32; LANES];
    for chunk in diffs.chunks(LANES) {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            let t = scale_down(x, top);
            *lane = mul_add(*lane, t, t);
        }
    }
    let mut stride = LANES / 2;
    while stride > 0 {
        for l in 0..stride {
            lanes[l] = add(lanes[l], lanes[l + stride]);
        }
        stride /= 2;
    }
    // lanes[0] ∈ [1, 4d]; 2^(top − 127) is normal; the product is exact or overflows to +∞.
    lanes[0].sqrt() * f32::from_bits(top << 23)
}

/// `out[r]` = ‖z − x_r‖ for the `rows` rows of x (rows × d); with `prev`, also `out[rows]` =
/// ‖z − prev‖ and `out[rows + 1]` = ‖z‖ (the geometric median's stopping test).
pub fn row_distances(x: &[f32], rows: usize, d: usize, z: &[f32], prev: Option<&[f32]>, out: &mut [f32]) {
    assert!(x.len() >= rows * d && z.len() == d, "row_distances: x must be {rows}x{d}, z 1x{d}");
    for r in 0..rows {
        out[r] = distance(z, Some(&x[r * d..(r + 1) * d]));
    }
    if let Some(prev) = prev {
        out[rows] = distance(z, Some(prev));
        out[rows + 1] = distance(z, None);
    }
}

/// `out[j]` = Σ_{k: w_k ≠ 0} w_k · x_kj over the m rows of x, in k order with [`mul_add`]:
/// a row of weight 0 (a non-finite one included) adds nothing.
pub fn weighted_rows(x: &[f32], m: usize, d: usize, w: &[f32], out: &mut [f32]) {
    assert!(x.len() >= m * d && w.len() >= m && out.len() == d, "weighted_rows: x must be {m}x{d}");
    // Row by row over contiguous memory; each column still adds its terms in k order.
    out.fill(0.0);
    for (k, &wk) in w[..m].iter().enumerate() {
        if wk != 0.0 {
            for (o, &xv) in out.iter_mut().zip(&x[k * d..(k + 1) * d]) {
                *o = mul_add(*o, wk, xv);
            }
        }
    }
}

/// One Weiszfeld update from the distances to z: β_i = 1/max(ν, dᵢ) (0 for an infinitely far
/// row), w_i = β_i / Σβ. If every row is infinitely far (beyond the breakdown point) the
/// weights are uniform, i.e. the mean.
pub fn weiszfeld_weights(dists: &[f32], nu: f32, w: &mut [f32]) {
    let n = w.len();
    let beta: Vec<f32> = dists[..n].iter().map(|&d| weiszfeld_beta(d, nu)).collect();
    let s = beta.iter().fold(0.0, |acc, &b| add(acc, b));
    for (wi, &b) in w.iter_mut().zip(&beta) {
        *wi = if s == 0.0 { ftz(1.0 / n as f32) } else { ftz(b / s) };
    }
}

/// 1/max(ν, d), or 0 for d = +∞.
pub fn weiszfeld_beta(d: f32, nu: f32) -> f32 {
    if non_finite(d) {
        0.0
    } else {
        ftz(1.0 / if d > nu { d } else { nu })
    }
}

/// Centered clipping's factor min(1, τ/d): 1 within τ, 0 for d = +∞.
pub fn clip_factor(d: f32, tau: f32) -> f32 {
    if d <= tau {
        1.0
    } else {
        ftz(tau / d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_neither_cancels_nor_overflows() {
        // Exact where the Gram identity loses everything: rows near 1e20 apart by 3 and 4.
        let a = [1e20f32, 1e20];
        let b = [1e20f32 + 3.0 * 8796093022208.0, 1e20 + 4.0 * 8796093022208.0];
        assert_eq!(distance(&a, Some(&b)), 5.0 * 8796093022208.0);
        // ‖(3e38, 3e38)‖ > f32::MAX: infinitely far; one coordinate of 3e38 is not.
        assert_eq!(distance(&[3e38, 3e38], None), f32::INFINITY);
        assert!((distance(&[3e38, 1.0], None) - 3e38).abs() <= 3e38 * 2.0 * f32::EPSILON);
        assert_eq!(distance(&[2f32.powi(100); 4], None), 2f32.powi(101));
        // A square root of a normal sum: 3-4-5 at every scale.
        for e in [-120, -20, 0, 20, 120] {
            let s = 2f32.powi(e);
            assert_eq!(distance(&[3.0 * s, 0.0], Some(&[0.0, -4.0 * s])), 5.0 * s, "scale 2^{e}");
        }
        assert_eq!(distance(&[1.0, 2.0], Some(&[1.0, 2.0])), 0.0);
    }

    #[test]
    fn non_finite_rows_are_infinitely_far() {
        for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN] {
            assert_eq!(distance(&[0.0, bad, 1.0], None), f32::INFINITY, "{bad}");
            assert_eq!(distance(&[0.0, 1.0], Some(&[bad, 0.0])), f32::INFINITY, "{bad}");
        }
        assert_eq!(weiszfeld_beta(f32::INFINITY, 1e-6), 0.0);
        assert_eq!(clip_factor(f32::INFINITY, 0.1), 0.0);
        let mut w = [0.0; 3];
        weiszfeld_weights(&[1.0, f32::INFINITY, 3.0], 1e-6, &mut w);
        assert_eq!(w[1], 0.0);
        assert!((w[0] - 0.75).abs() < 1e-6 && (w[2] - 0.25).abs() < 1e-6, "{w:?}");
        weiszfeld_weights(&[f32::INFINITY; 3], 1e-6, &mut w);
        assert_eq!(w, [1.0 / 3.0; 3]);
    }

    #[test]
    fn mul_add_is_the_product_rounded_at_most_four_times() {
        let (a, b) = (1.234_567_9f32, -7.654_321e-3f32);
        let exact = a as f64 * b as f64 + 0.5;
        let got = mul_add(0.5, a, b) as f64;
        assert!((got - exact).abs() <= 4.0 * f32::EPSILON as f64 * exact.abs(), "{got} vs {exact}");
        // Products of halves are exact: hi·hi + … reproduces a·b exactly when it is representable.
        assert_eq!(mul_add(0.0, 3.0, 0.25), 0.75);
        let (hi, lo) = split(a);
        assert_eq!(hi + lo, a);
        assert_eq!(hi.to_bits() & 0xfff, 0);
        // Below the normal range is +0.
        assert_eq!(mul_add(0.0, 1e-30, 1e-30), 0.0);
        assert_eq!(ftz(-1e-40), 0.0);
        assert_eq!(ftz(-0.0).to_bits(), 0);
    }

    #[test]
    fn scale_down_is_an_exact_power_of_two() {
        let top = 1e20f32.to_bits() >> 23;
        let x = 3.5e19f32;
        assert_eq!(scale_down(x, top) as f64, x as f64 * 2f64.powi(127 - top as i32));
        assert_eq!(scale_down(-x, top), -scale_down(x, top));
        assert_eq!(scale_down(1e-30, top), 0.0, "below the normal range after scaling");
        assert_eq!(scale_down(0.0, top), 0.0);
    }
}
