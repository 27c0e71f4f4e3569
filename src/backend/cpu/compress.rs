//! CPU twins of the compression kernels (`shaders/quantize.wgsl`, `shaders/sparsify.wgsl`,
//! `shaders/powersgd.wgsl`): the same arithmetic in the same order (see
//! [`crate::backend::compress`]), so the GPU matches them bit for bit where its arithmetic is
//! IEEE (additions, multiplications) and within a quantization step where it is not (division,
//! square root).

use ndarray::{ArrayView2, ArrayViewMut2};

use super::ops;
use crate::backend::compress::{f16_round, lane_tree_sum, randk_key, select_k, topk_key, CompressStep, RowCodec};

/// `out = decode(encode(v))` row by row (see [`RowCodec`]); `row_ids[r]` keys row r's draws.
pub fn compress_rows(v: &[f32], cols: usize, row_ids: &[u32], step: &CompressStep, out: &mut [f32]) {
    assert_eq!(v.len(), out.len(), "compress_rows: out has {} values, x {}", out.len(), v.len());
    if cols == 0 {
        return;
    }
    let rows = v.len() / cols;
    assert!(row_ids.len() >= rows, "compress_rows: {} row ids for {rows} rows", row_ids.len());
    step.codec.check("compress_rows", cols);
    for r in 0..rows {
        let row = &v[r * cols..(r + 1) * cols];
        compress_row(row, row_ids[r], step, &mut out[r * cols..(r + 1) * cols]);
    }
}

/// One row of [`compress_rows`].
pub fn compress_row(row: &[f32], row_id: u32, step: &CompressStep, out: &mut [f32]) {
    let n = row.len();
    match step.codec {
        RowCodec::Fp16 => {
            for (o, &x) in out.iter_mut().zip(row) {
                *o = f16_round(x);
            }
        }
        RowCodec::Uniform { bits } => {
            let (lo, scale) = uniform_params(row, bits);
            let top = ((1u32 << bits) - 1) as f32;
            for (c, (o, &x)) in out.iter_mut().zip(row).enumerate() {
                *o = if scale > 0.0 {
                    let q = ((x - lo) / scale + step.uniform(row_id, c as u32)).floor().min(top);
                    lo + q * scale
                } else {
                    lo
                };
            }
        }
        RowCodec::OneBit => {
            let (pos, neg) = one_bit_scales(row);
            for (o, &x) in out.iter_mut().zip(row) {
                *o = if x >= 0.0 { pos } else { neg };
            }
        }
        RowCodec::Qsgd { levels } => {
            let norm = lane_tree_sum(n, |i| row[i] * row[i]).sqrt();
            let s = levels as f32;
            let unit = norm / s;
            for (c, (o, &x)) in out.iter_mut().zip(row).enumerate() {
                *o = if norm > 0.0 {
                    let l = (x.abs() / norm * s + step.uniform(row_id, c as u32)).floor().min(s);
                    let m = l * unit;
                    if x < 0.0 {
                        -m
                    } else {
                        m
                    }
                } else {
                    0.0
                };
            }
        }
        RowCodec::Sign => {
            let scale = sign_scale(row);
            for (o, &x) in out.iter_mut().zip(row) {
                *o = if x >= 0.0 { scale } else { -scale };
            }
        }
        RowCodec::TopK { k } => {
            let keys: Vec<u32> = row.iter().map(|&x| topk_key(x)).collect();
            keep_selected(row, &select_k(&keys, k), out);
        }
        RowCodec::RandK { k } => {
            let keys: Vec<u32> = (0..n as u32).map(|c| randk_key(step.stream, row_id, c)).collect();
            keep_selected(row, &select_k(&keys, k), out);
        }
    }
}

/// The uniform quantizer's per-row zero point and scale: (min, (max − min) / (2^bits − 1)).
pub fn uniform_params(row: &[f32], bits: u32) -> (f32, f32) {
    let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if row.is_empty() {
        return (0.0, 0.0);
    }
    (lo, (hi - lo) / ((1u32 << bits) - 1) as f32)
}

/// 1-bit's per-row scales: (mean of the values ≥ 0, mean of the values < 0), 0 for an empty side.
pub fn one_bit_scales(row: &[f32]) -> (f32, f32) {
    let n = row.len();
    let pos_sum = lane_tree_sum(n, |i| if row[i] >= 0.0 { row[i] } else { 0.0 });
    let pos_cnt = lane_tree_sum(n, |i| if row[i] >= 0.0 { 1.0 } else { 0.0 });
    let neg_sum = lane_tree_sum(n, |i| if row[i] >= 0.0 { 0.0 } else { row[i] });
    let neg_cnt = n as f32 - pos_cnt;
    let mean = |s: f32, c: f32| if c > 0.0 { s / c } else { 0.0 };
    (mean(pos_sum, pos_cnt), mean(neg_sum, neg_cnt))
}

/// signSGD's per-row scale: mean |v|.
pub fn sign_scale(row: &[f32]) -> f32 {
    if row.is_empty() {
        return 0.0;
    }
    lane_tree_sum(row.len(), |i| row[i].abs()) / row.len() as f32
}

fn keep_selected(row: &[f32], selected: &[usize], out: &mut [f32]) {
    out.fill(0.0);
    for &c in selected {
        out[c] = row[c];
    }
}

/// `v = x + e` (error feedback's corrected input).
pub fn ef_add(x: &[f32], e: &[f32], v: &mut [f32]) {
    for ((v, &x), &e) in v.iter_mut().zip(x).zip(e) {
        *v = x + e;
    }
}

/// `e = v − out` (error feedback's new residual).
pub fn ef_residual(v: &[f32], out: &[f32], e: &mut [f32]) {
    for ((e, &v), &o) in e.iter_mut().zip(v).zip(out) {
        *e = v - o;
    }
}

/// Modified Gram–Schmidt on the r columns of P (n × r, row-major), PyTorch's order: column i is
/// normalized (left 0 when its norm is 0), then projected out of every later column. Sums in
/// [`lane_tree_sum`] order over the rows, as `shaders/powersgd.wgsl`.
pub fn orthogonalize(p: &mut [f32], n: usize, r: usize) {
    assert_eq!(p.len(), n * r, "orthogonalize: P has {} values, expected {n}x{r}", p.len());
    for i in 0..r {
        let norm = lane_tree_sum(n, |row| p[row * r + i] * p[row * r + i]).sqrt();
        for row in 0..n {
            p[row * r + i] = if norm > 0.0 { p[row * r + i] / norm } else { 0.0 };
        }
        for j in i + 1..r {
            let d = lane_tree_sum(n, |row| p[row * r + i] * p[row * r + j]);
            for row in 0..n {
                p[row * r + j] -= d * p[row * r + i];
            }
        }
    }
}

/// PowerSGD (Vogels et al. 2019) of M (n × m) at rank r = `q.ncols()`, warm-started from Q:
/// P = M·Q, orthogonalize P, Q = Mᵀ·P, out = P·Qᵀ. Leaves the new P and Q.
pub fn powersgd(
    m: ArrayView2<'_, f32>,
    mut q: ArrayViewMut2<'_, f32>,
    mut p: ArrayViewMut2<'_, f32>,
    out: ArrayViewMut2<'_, f32>,
) {
    let (n, r) = (m.nrows(), q.ncols());
    ops::matmul(m, q.view(), p.view_mut(), false, false);
    orthogonalize(p.as_slice_mut().expect("P is contiguous"), n, r);
    ops::matmul(m, p.view(), q.view_mut(), true, false);
    ops::matmul(p.view(), q.view(), out, false, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::compress::{f32_to_f16_bits, CompressStep};

    fn step(codec: RowCodec) -> CompressStep {
        CompressStep { codec, stream: 7 }
    }

    fn run(codec: RowCodec, row: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NAN; row.len()];
        compress_rows(row, row.len(), &[3], &step(codec), &mut out);
        out
    }

    #[test]
    fn uniform_known_answers() {
        // 2 bits over [0, 3]: scale 1, exact levels stay put whatever the draw.
        assert_eq!(run(RowCodec::Uniform { bits: 2 }, &[0.0, 1.0, 2.0, 3.0]), vec![0.0, 1.0, 2.0, 3.0]);
        // A constant row decodes to itself.
        assert_eq!(run(RowCodec::Uniform { bits: 4 }, &[2.5, 2.5]), vec![2.5, 2.5]);
        // Off-grid values land on one of the two neighbouring levels: 0.5 → 0 or 1 over [0, 3].
        let out = run(RowCodec::Uniform { bits: 2 }, &[0.0, 0.5, 1.5, 3.0]);
        assert!(out[1] == 0.0 || out[1] == 1.0, "{out:?}");
        assert!(out[2] == 1.0 || out[2] == 2.0, "{out:?}");
        // The draw decides: 0.5 + u rounds up iff u ≥ 0.5.
        let u = step(RowCodec::Fp16).uniform(3, 1);
        assert_eq!(out[1], if u >= 0.5 { 1.0 } else { 0.0 });
    }

    #[test]
    fn stochastic_rounding_is_unbiased_on_average() {
        // 0.25 of the way between levels 0 and 1, over many columns: the mean decodes to ≈ 0.25.
        let n = 20_000;
        let mut row = vec![0.25f32; n];
        row[0] = 0.0;
        row[1] = 3.0;
        let out = run(RowCodec::Uniform { bits: 2 }, &row);
        let mean = out[2..].iter().map(|&x| x as f64).sum::<f64>() / (n - 2) as f64;
        assert!((mean - 0.25).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn one_bit_sign_and_qsgd_known_answers() {
        let row = [1.0, 3.0, -2.0, -4.0, 0.0];
        // Non-negative mean (1 + 3 + 0)/3, negative mean −3.
        assert_eq!(run(RowCodec::OneBit, &row), vec![4.0 / 3.0, 4.0 / 3.0, -3.0, -3.0, 4.0 / 3.0]);
        // Mean |v| = 10/5 = 2.
        assert_eq!(run(RowCodec::Sign, &row), vec![2.0, 2.0, -2.0, -2.0, 2.0]);
        // QSGD with S = 1 on (3, −4): norm 5, each value is ±5 or 0.
        let q = run(RowCodec::Qsgd { levels: 1 }, &[3.0, -4.0]);
        assert!((q[0] == 0.0 || q[0] == 5.0) && (q[1] == 0.0 || q[1] == -5.0), "{q:?}");
        // Values at a level stay: (0, 5) with S = 2 → levels 0 and 2 of 2.5.
        assert_eq!(run(RowCodec::Qsgd { levels: 2 }, &[0.0, -5.0]), vec![0.0, -5.0]);
        assert_eq!(run(RowCodec::Qsgd { levels: 4 }, &[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn fp16_rounds_each_value() {
        let row = [1.0, 1.0 + 1e-4, 70000.0, -1e-9];
        let out = run(RowCodec::Fp16, &row);
        assert_eq!(out[0], 1.0);
        // 1e-4 is below half a half-ulp at 1 (2^-11): rounds to 1; 6e-4 is above: 1 + 2^-10.
        assert_eq!(out[1], 1.0);
        assert_eq!(f32_to_f16_bits(run(RowCodec::Fp16, &[1.0 + 6e-4])[0]), 0x3c01);
        assert_eq!(out[2], f32::INFINITY);
        assert_eq!(out[3], -0.0);
    }

    #[test]
    fn topk_and_randk_keep_k_values() {
        let row = [0.5, -3.0, 2.0, -2.0, 0.1];
        // |−3| first, then the tie |2| = |−2| goes to the lower column.
        assert_eq!(run(RowCodec::TopK { k: 2 }, &row), vec![0.0, -3.0, 2.0, 0.0, 0.0]);
        assert_eq!(run(RowCodec::TopK { k: 5 }, &row), row.to_vec());
        let r = run(RowCodec::RandK { k: 2 }, &row);
        let kept: Vec<usize> = (0..5).filter(|&c| r[c] != 0.0).collect();
        assert_eq!(kept.len(), 2);
        for c in kept {
            assert_eq!(r[c], row[c]);
        }
        // Another row id draws another set (for some id among a few).
        let other = (4..20u32).any(|id| {
            let mut o = vec![0.0; 5];
            compress_rows(&row, 5, &[id], &step(RowCodec::RandK { k: 2 }), &mut o);
            o != r
        });
        assert!(other);
    }

    #[test]
    fn gram_schmidt_gives_orthonormal_columns() {
        let mut p = vec![3.0, 1.0, 4.0, 1.0, 0.0, 2.0]; // 3 × 2
        orthogonalize(&mut p, 3, 2);
        let dot = |i: usize, j: usize| (0..3).map(|r| p[r * 2 + i] * p[r * 2 + j]).sum::<f32>();
        assert!((dot(0, 0) - 1.0).abs() < 1e-6 && (dot(1, 1) - 1.0).abs() < 1e-6 && dot(0, 1).abs() < 1e-6);
        // Column 0 is the first column normalized: (3, 4, 0) / 5.
        assert_eq!((p[0], p[2], p[4]), (0.6, 0.8, 0.0));
    }
}
