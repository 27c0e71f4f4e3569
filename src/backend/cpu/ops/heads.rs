//! CPU twins of the per-head and per-edge kernels GAT needs besides the attention itself:
//! `copy_cols` (`shaders/exchange.wgsl`), `elu`/`elu_backward` (`shaders/elu.wgsl`),
//! `head_dot`/`head_dot_backward` (`shaders/heads.wgsl`), `edge_row_sum` and
//! `attention_spmm_backward_alpha` (`shaders/edge_sums.wgsl`). Each output element is summed in
//! the order its GPU kernel uses, so the two differ only by rounding (FMA contraction).

use rayon::prelude::*;

use super::{for_element_blocks, for_row_chunks, CsrView, PARALLEL_MIN_WORK, ROW_CHUNK};

/// Rows per partial sum of `d_att` in [`head_dot_backward`]: block b's partial sums rows
/// `b·D_ATT_BLOCK ..` in order, then the partials are added in block order (the GPU's two
/// passes, so that its many-row reduction needs no atomics and keeps this order).
pub const D_ATT_BLOCK: usize = 256;

/// `dst[r·dst_width + dst_col0 + c] = src[r·src_width + src_col0 + c]` for r < rows, c < cols.
#[allow(clippy::too_many_arguments)]
pub fn copy_cols(
    src: &[f32],
    src_width: usize,
    src_col0: usize,
    dst: &mut [f32],
    dst_width: usize,
    dst_col0: usize,
    rows: usize,
    cols: usize,
) {
    assert!(src_col0 + cols <= src_width && dst_col0 + cols <= dst_width, "copy_cols: columns out of range");
    for r in 0..rows {
        let s = r * src_width + src_col0;
        let d = r * dst_width + dst_col0;
        dst[d..d + cols].copy_from_slice(&src[s..s + cols]);
    }
}

/// `out = x if x > 0 else exp(x) − 1` (computed as `exp_m1`, exact near 0).
pub fn elu(x: &[f32], out: &mut [f32]) {
    let n = x.len().min(out.len());
    for_element_blocks(&mut out[..n], |first, block| {
        for (o, &v) in block.iter_mut().zip(&x[first..]) {
            *o = if v > 0.0 { v } else { v.exp_m1() };
        }
    });
}

/// `out = grad · (output > 0 ? 1 : output + 1)`: for x ≤ 0, ELU's derivative exp(x) is its
/// output + 1.
pub fn elu_backward(output: &[f32], grad: &[f32], out: &mut [f32]) {
    let n = output.len().min(grad.len()).min(out.len());
    for_element_blocks(&mut out[..n], |first, block| {
        for ((o, &y), &g) in block.iter_mut().zip(&output[first..]).zip(&grad[first..]) {
            *o = if y > 0.0 { g } else { g * (y + 1.0) };
        }
    });
}

/// `out[i, h] = Σ_c x[i, h·C + c] · att[h, c]` (c ascending) for `heads` heads of `c` columns;
/// `out` has one row of `heads` per row of x.
pub fn head_dot(x: &[f32], att: &[f32], heads: usize, c: usize, out: &mut [f32]) {
    let width = heads * c;
    assert_eq!(att.len(), width, "head_dot: att is not heads × C");
    if heads == 0 {
        return;
    }
    assert_eq!(x.len(), out.len() / heads * width, "head_dot: one output row per row of x");
    let rows_of = |chunk: usize, block: &mut [f32]| {
        for (k, dst) in block.chunks_mut(heads).enumerate() {
            let row = &x[(chunk * ROW_CHUNK + k) * width..][..width];
            for (h, o) in dst.iter_mut().enumerate() {
                let (xs, a) = (&row[h * c..(h + 1) * c], &att[h * c..(h + 1) * c]);
                *o = xs.iter().zip(a).fold(0.0, |acc, (&v, &w)| acc + v * w);
            }
        }
    };
    for_row_chunks(out, heads, x.len(), rows_of);
}

/// Backward of [`head_dot`]: `dx[i, h·C + c] += ds[i, h] · att[h, c]`, and `d_att[h, c] =
/// Σ_i ds[i, h] · x[i, h·C + c]` summed in blocks of [`D_ATT_BLOCK`] rows, the blocks' partials
/// then added in block order.
pub fn head_dot_backward(
    x: &[f32],
    att: &[f32],
    ds: &[f32],
    heads: usize,
    c: usize,
    dx: &mut [f32],
    d_att: &mut [f32],
) {
    let width = heads * c;
    assert!(att.len() == width && d_att.len() == width, "head_dot_backward: att and d_att are not heads × C");
    if width == 0 {
        return;
    }
    assert!(x.len() == dx.len() && x.len() / width * heads == ds.len(), "head_dot_backward: shapes differ");
    let rows_of = |chunk: usize, block: &mut [f32]| {
        for (k, dst) in block.chunks_mut(width).enumerate() {
            let s = &ds[(chunk * ROW_CHUNK + k) * heads..][..heads];
            for (j, o) in dst.iter_mut().enumerate() {
                *o += s[j / c] * att[j];
            }
        }
    };
    for_row_chunks(dx, width, x.len(), rows_of);
    // Per block, each element's rows in order; then the blocks in order (rows inner, so the
    // loops walk x row by row).
    d_att.fill(0.0);
    let mut partial = vec![0.0f32; width];
    for (xb, sb) in x.chunks(D_ATT_BLOCK * width).zip(ds.chunks(D_ATT_BLOCK * heads)) {
        partial.fill(0.0);
        for (xr, sr) in xb.chunks(width).zip(sb.chunks(heads)) {
            for (j, p) in partial.iter_mut().enumerate() {
                *p += sr[j / c] * xr[j];
            }
        }
        for (o, &p) in d_att.iter_mut().zip(&partial) {
            *o += p;
        }
    }
}

/// `out[i, h] = Σ_{present e in row i} x[perm(e), h]` (entries in stored order; `perm(e) =
/// perm[e]` when given, else e; an entry whose value is 0 is absent and skipped) for the
/// `a.rows` rows of `out`.
pub fn edge_row_sum(a: &CsrView<'_>, perm: Option<&[u32]>, x: &[f32], heads: usize, out: &mut [f32]) {
    assert!(out.len() >= a.rows * heads, "edge_row_sum: out has fewer than {} rows", a.rows);
    if heads == 0 {
        return;
    }
    let rows_of = |chunk: usize, block: &mut [f32]| {
        for (k, dst) in block.chunks_mut(heads).enumerate() {
            let r = chunk * ROW_CHUNK + k;
            dst.fill(0.0);
            for e in a.row_ptr[r] as usize..a.row_ptr[r + 1] as usize {
                if a.values[e] == 0.0 {
                    continue;
                }
                let src = perm.map_or(e, |p| p[e] as usize);
                for (o, &v) in dst.iter_mut().zip(&x[src * heads..(src + 1) * heads]) {
                    *o += v;
                }
            }
        }
    };
    for_row_chunks(&mut out[..a.rows * heads], heads, a.values.len() * heads, rows_of);
}

/// `d_alpha[e, h] = Σ_c d_out[i, h·C + c] · x[j, h·C + c]` (c ascending) for every present entry
/// e = (i, j) of `a`, 0 for an absent one (value 0: x's row j is not read), with C = `width /
/// heads` and `width` the columns of x and d_out.
pub fn attention_spmm_backward_alpha(
    a: &CsrView<'_>,
    x: &[f32],
    d_out: &[f32],
    heads: usize,
    width: usize,
    d_alpha: &mut [f32],
) {
    assert!(
        heads > 0 && width.is_multiple_of(heads),
        "attention_spmm_backward_alpha: {width} columns in {heads} heads"
    );
    let c = width / heads;
    let rows_of = |chunk: usize, block: &mut [f32]| {
        let first = chunk * ROW_CHUNK;
        let base = a.row_ptr[first] as usize;
        for i in first..(first + ROW_CHUNK).min(a.rows) {
            let g = &d_out[i * width..(i + 1) * width];
            for e in a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize {
                let dst = &mut block[(e - base) * heads..(e - base + 1) * heads];
                if a.values[e] == 0.0 {
                    dst.fill(0.0);
                    continue;
                }
                let xj = &x[a.col_idx[e] as usize * width..][..width];
                for (h, o) in dst.iter_mut().enumerate() {
                    let (gs, xs) = (&g[h * c..(h + 1) * c], &xj[h * c..(h + 1) * c]);
                    *o = gs.iter().zip(xs).fold(0.0, |acc, (&u, &v)| acc + u * v);
                }
            }
        }
    };
    let nnz = a.values.len();
    for_edge_row_chunks(a.row_ptr, heads, &mut d_alpha[..nnz * heads], nnz * width, rows_of);
}

/// Runs `f(chunk, block)` over a per-edge matrix (`heads` values per entry) split at the entries
/// of rows `chunk·ROW_CHUNK ..`, as [`super::for_sparse_row_chunks`] does for one value per entry.
fn for_edge_row_chunks(
    row_ptr: &[u32],
    heads: usize,
    out: &mut [f32],
    work: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    let rows = row_ptr.len() - 1;
    let mut blocks = Vec::with_capacity(rows.div_ceil(ROW_CHUNK));
    let mut rest = out;
    for c in 0..rows.div_ceil(ROW_CHUNK) {
        let len = (row_ptr[((c + 1) * ROW_CHUNK).min(rows)] - row_ptr[c * ROW_CHUNK]) as usize * heads;
        let (block, tail) = rest.split_at_mut(len);
        blocks.push((c, block));
        rest = tail;
    }
    if work < PARALLEL_MIN_WORK {
        blocks.into_iter().for_each(|(c, block)| f(c, block));
    } else {
        blocks.into_par_iter().for_each(|(c, block)| f(c, block));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn rand_vec(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
        (0..n).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect()
    }

    /// Σ w ⊙ out in f64: the scalar whose gradient the backward ops compute.
    fn weighted(w: &[f32], out: &[f32]) -> f64 {
        w.iter().zip(out).map(|(&a, &b)| a as f64 * b as f64).sum()
    }

    /// Central differences of `f` at each element of `x`, step `h`.
    fn central_diff(x: &[f32], h: f32, f: impl Fn(&[f32]) -> f64) -> Vec<f64> {
        (0..x.len())
            .map(|i| {
                let (mut up, mut down) = (x.to_vec(), x.to_vec());
                up[i] += h;
                down[i] -= h;
                (f(&up) - f(&down)) / (2.0 * h as f64)
            })
            .collect()
    }

    #[track_caller]
    fn assert_grad(what: &str, analytic: &[f32], numeric: &[f64], tol: f64) {
        assert_eq!(analytic.len(), numeric.len(), "{what}: length");
        for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
            assert!((a as f64 - n).abs() <= tol * (1.0 + n.abs()), "{what}[{i}]: analytic {a} vs numeric {n}");
        }
    }

    #[test]
    fn copy_cols_moves_one_block() {
        // src 2 × 3, dst 3 × 4: columns 1..3 of src's first two rows into columns 2..4 of dst.
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut dst = [0.0; 12];
        copy_cols(&src, 3, 1, &mut dst, 4, 2, 2, 2);
        assert_eq!(dst, [0.0, 0.0, 2.0, 3.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn elu_known_values() {
        let x = [2.0f32, 0.0, -1.0, -1e-4, -30.0];
        let mut y = [f32::NAN; 5];
        elu(&x, &mut y);
        let want = [2.0, 0.0, (-1.0f64).exp_m1(), (-1e-4f64).exp_m1(), -1.0];
        for (i, (&g, &w)) in y.iter().zip(&want).enumerate() {
            assert!((g as f64 - w).abs() <= 1e-7 * w.abs().max(1e-3), "elu[{i}] = {g}, want {w}");
        }
        let mut d = [f32::NAN; 5];
        elu_backward(&y, &[1.0, 2.0, 3.0, 1.0, 1.0], &mut d);
        // x > 0: grad; x ≤ 0: grad · exp(x) (0 → 1·2).
        assert_eq!(d[..2], [1.0, 2.0]);
        assert!((d[2] as f64 - 3.0 * (-1.0f64).exp()).abs() < 1e-6 && d[4].abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn elu_backward_matches_central_differences() {
        let mut rng = SplitMix64::new(21);
        // Away from 0 by more than the step (ELU's second derivative jumps there).
        let x: Vec<f32> =
            rand_vec(&mut rng, 60).iter().map(|&v| if v.abs() < 0.01 { v + 0.05 } else { v * 3.0 }).collect();
        let w = rand_vec(&mut rng, 60);
        let loss = |x: &[f32]| {
            let mut y = vec![0.0; x.len()];
            elu(x, &mut y);
            weighted(&w, &y)
        };
        let mut y = vec![0.0; 60];
        elu(&x, &mut y);
        let mut dx = vec![f32::NAN; 60];
        elu_backward(&y, &w, &mut dx);
        // f32 outputs of magnitude ≤ 3 differ by rounding (~2e-7) over a step of 2e-3: 1e-4.
        assert_grad("elu dx", &dx, &central_diff(&x, 1e-3, loss), 1e-3);
    }

    #[test]
    fn head_dot_known_values() {
        // 2 rows, 2 heads of C = 2: att = [[1, 2], [3, 4]].
        let x = [1.0, 1.0, 1.0, 0.0, 2.0, -1.0, 0.5, 0.5];
        let att = [1.0, 2.0, 3.0, 4.0];
        let mut s = [f32::NAN; 4];
        head_dot(&x, &att, 2, 2, &mut s);
        assert_eq!(s, [3.0, 3.0, 0.0, 3.5]);
        // ds = [[1, 0], [0, 2]]: dx gets att row h scaled by ds[i, h] on top of 1.
        let ds = [1.0, 0.0, 0.0, 2.0];
        let (mut dx, mut d_att) = ([1.0; 8], [f32::NAN; 4]);
        head_dot_backward(&x, &att, &ds, 2, 2, &mut dx, &mut d_att);
        assert_eq!(dx, [2.0, 3.0, 1.0, 1.0, 1.0, 1.0, 7.0, 9.0]);
        // d_att[0] = 1·x[0, 0..2], d_att[1] = 2·x[1, 2..4].
        assert_eq!(d_att, [1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn head_dot_backward_matches_central_differences() {
        let mut rng = SplitMix64::new(22);
        // 300 rows: two blocks of d_att partials; heads 1 and 8.
        for (rows, heads, c) in [(300, 3, 4), (5, 1, 6), (2, 8, 2)] {
            let w = heads * c;
            let (x, att) = (rand_vec(&mut rng, rows * w), rand_vec(&mut rng, w));
            let weights = rand_vec(&mut rng, rows * heads);
            let forward = |x: &[f32], att: &[f32]| {
                let mut s = vec![0.0; rows * heads];
                head_dot(x, att, heads, c, &mut s);
                weighted(&weights, &s)
            };
            let (mut dx, mut d_att) = (vec![0.0; rows * w], vec![f32::NAN; w]);
            head_dot_backward(&x, &att, &weights, heads, c, &mut dx, &mut d_att);
            // Linear in each input: the difference is exact up to f32 rounding of the outputs.
            let what = format!("head_dot {rows}x{heads}x{c}");
            assert_grad(&format!("{what} dx"), &dx, &central_diff(&x, 1e-2, |x| forward(x, &att)), 1e-3);
            assert_grad(&format!("{what} d_att"), &d_att, &central_diff(&att, 1e-2, |a| forward(&x, a)), 1e-3);
        }
    }

    /// 3 × 4 CSR: row 0 = {0: 1, 2: 0 (absent), 3: 2}, row 1 empty, row 2 = {1: 1, 3: 1}.
    fn small_csr() -> (Vec<u32>, Vec<u32>, Vec<f32>) {
        (vec![0, 3, 3, 5], vec![0, 2, 3, 1, 3], vec![1.0, 0.0, 2.0, 1.0, 1.0])
    }

    #[test]
    fn edge_row_sum_skips_absent_entries() {
        let (row_ptr, col_idx, values) = small_csr();
        let a = CsrView { rows: 3, cols: 4, row_ptr: &row_ptr, col_idx: &col_idx, values: &values };
        // 2 heads; the absent entry's row is NaN and must not be read.
        let x = [1.0, 10.0, f32::NAN, f32::NAN, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
        let mut out = [f32::NAN; 6];
        edge_row_sum(&a, None, &x, 2, &mut out);
        assert_eq!(out, [3.0, 30.0, 0.0, 0.0, 7.0, 70.0]);
        // Reversed entry order through perm: entry e reads x's row 4 − e (the absent entry: row 3).
        let perm = [4, 3, 2, 1, 0];
        let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, f32::NAN, f32::NAN, 4.0, 40.0];
        edge_row_sum(&a, Some(&perm), &x, 2, &mut out);
        assert_eq!(out, [7.0, 70.0, 0.0, 0.0, 3.0, 30.0]);
    }

    /// The forward `attention_spmm` by its definition (absent entries contribute nothing).
    fn attention_spmm_reference(a: &CsrView<'_>, alpha: &[f32], x: &[f32], heads: usize, c: usize) -> Vec<f32> {
        let w = heads * c;
        let mut out = vec![0.0f32; a.rows * w];
        for i in 0..a.rows {
            for e in a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize {
                if a.values[e] == 0.0 {
                    continue;
                }
                let j = a.col_idx[e] as usize;
                for k in 0..w {
                    out[i * w + k] += alpha[e * heads + k / c] * x[j * w + k];
                }
            }
        }
        out
    }

    #[test]
    fn attention_spmm_backward_alpha_known_values_and_absent_entries() {
        let (row_ptr, col_idx, values) = small_csr();
        let a = CsrView { rows: 3, cols: 4, row_ptr: &row_ptr, col_idx: &col_idx, values: &values };
        // 1 head of C = 2; x's row 2 is only reached through the absent entry: NaN, never read.
        let x = [1.0, 2.0, 3.0, 4.0, f32::NAN, f32::NAN, 5.0, 6.0];
        let d_out = [1.0, -1.0, 9.0, 9.0, 0.5, 2.0];
        let mut d_alpha = [f32::NAN; 5];
        attention_spmm_backward_alpha(&a, &x, &d_out, 1, 2, &mut d_alpha);
        assert_eq!(d_alpha, [-1.0, 0.0, -1.0, 9.5, 14.5]);
    }

    #[test]
    fn attention_spmm_backward_alpha_matches_central_differences() {
        let mut rng = SplitMix64::new(23);
        let (row_ptr, col_idx, values) = small_csr();
        let a = CsrView { rows: 3, cols: 4, row_ptr: &row_ptr, col_idx: &col_idx, values: &values };
        for (heads, c) in [(1, 3), (8, 2)] {
            let w = heads * c;
            let (alpha, x) = (rand_vec(&mut rng, 5 * heads), rand_vec(&mut rng, 4 * w));
            let weights = rand_vec(&mut rng, 3 * w);
            let forward = |alpha: &[f32]| weighted(&weights, &attention_spmm_reference(&a, alpha, &x, heads, c));
            let mut d_alpha = vec![f32::NAN; 5 * heads];
            attention_spmm_backward_alpha(&a, &x, &weights, heads, w, &mut d_alpha);
            assert_grad(&format!("d_alpha heads {heads}"), &d_alpha, &central_diff(&alpha, 1e-2, forward), 1e-3);
        }
    }
}
