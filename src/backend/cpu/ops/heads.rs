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
    assert!(heads > 0 && width % heads == 0, "attention_spmm_backward_alpha: {width} columns in {heads} heads");
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
