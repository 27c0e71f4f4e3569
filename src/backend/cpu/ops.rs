//! CPU twins of the GPU kernels, on plain slices. Each function here has a WGSL kernel of the
//! same name in `shaders/` and a test `<name>_matches_cpu` on the GPU side.

use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::backend::{check_shape, stat, AdamStep, DropoutSpec, ReduceOrder, SgdStep, SparseLayout};
use crate::rng;

/// Borrowed CSR with values.
#[derive(Clone, Copy, Debug)]
pub struct CsrView<'a> {
    pub rows: usize,
    pub cols: usize,
    pub row_ptr: &'a [u32],
    pub col_idx: &'a [u32],
    pub values: &'a [f32],
}

/// Rows per parallel task. Work is split into chunks of a fixed size, never by the number of
/// threads, and every output element is computed by the same code in the same order whichever
/// thread runs its chunk: results are bit-identical at any thread count.
pub const ROW_CHUNK: usize = 64;

/// Below this many multiply-adds an op runs on the calling thread: a parallel task costs a few
/// microseconds, more than a small op. A function of the shapes only, so still deterministic.
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// Runs `f(chunk index, rows)` over `out` split into chunks of [`ROW_CHUNK`] rows of `width`,
/// in parallel when the op does at least [`PARALLEL_MIN_WORK`] units of `work`.
fn for_row_chunks(out: &mut [f32], width: usize, work: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let blocks = out.par_chunks_mut(ROW_CHUNK * width).enumerate();
    if work < PARALLEL_MIN_WORK {
        blocks.with_min_len(usize::MAX).for_each(|(c, block)| f(c, block));
    } else {
        blocks.for_each(|(c, block)| f(c, block));
    }
}

/// `out (rows × k) = A (rows × cols) · x (cols × k)`; each output element is summed over the row's
/// entries in stored order. `x` and `out` may be longer (shared scratch): only the first
/// `cols` / `rows` rows are used. Rows run in parallel, [`ROW_CHUNK`] at a time.
pub fn spmm(a: &CsrView<'_>, x: &[f32], k: usize, out: &mut [f32]) {
    assert!(x.len() >= a.cols * k, "spmm: x must have at least {} rows of {k}", a.cols);
    assert!(out.len() >= a.rows * k, "spmm: out must have at least {} rows of {k}", a.rows);
    if k == 0 {
        return;
    }
    let rows_of = |c: usize, block: &mut [f32]| {
        for (i, dst) in block.chunks_mut(k).enumerate() {
            let r = c * ROW_CHUNK + i;
            dst.fill(0.0);
            for e in a.row_ptr[r] as usize..a.row_ptr[r + 1] as usize {
                let w = a.values[e];
                let src = &x[a.col_idx[e] as usize * k..(a.col_idx[e] as usize + 1) * k];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += w * s;
                }
            }
        }
    };
    for_row_chunks(&mut out[..a.rows * k], k, a.values.len() * k, rows_of);
}

/// `out = op(a) · op(b)`: the rows of `out` in chunks of [`ROW_CHUNK`], each chunk one
/// `general_mat_mul` in parallel. Each element's sum over k is blocked the same way whatever
/// the row split (matrixmultiply blocks k independently of m), so the chunks give the unsplit
/// product's bits.
pub fn matmul(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    transpose_a: bool,
    transpose_b: bool,
) {
    let a = if transpose_a { a.reversed_axes() } else { a };
    let b = if transpose_b { b.reversed_axes() } else { b };
    assert!(a.ncols() == b.nrows(), "matmul: inner dimensions {} and {} differ", a.ncols(), b.nrows());
    check_shape("matmul", "out", out.dim(), (a.nrows(), b.ncols()));
    if a.nrows() * a.ncols() * b.ncols() < PARALLEL_MIN_WORK {
        general_mat_mul(1.0, &a, &b, 0.0, &mut out);
        return;
    }
    let chunks: Vec<_> =
        a.axis_chunks_iter(Axis(0), ROW_CHUNK).zip(out.axis_chunks_iter_mut(Axis(0), ROW_CHUNK)).collect();
    chunks.into_par_iter().for_each(|(a, mut out)| general_mat_mul(1.0, &a, &b, 0.0, &mut out));
}

pub fn relu(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v > 0.0 { v } else { 0.0 };
    }
}

pub fn relu_backward(output: &[f32], grad: &[f32], out: &mut [f32]) {
    for ((o, &y), &g) in out.iter_mut().zip(output).zip(grad) {
        *o = if y > 0.0 { g } else { 0.0 };
    }
}

/// Dense dropout: row r is global node `node_ids[r]`.
pub fn dropout(x: &[f32], cols: usize, node_ids: &[u32], spec: &DropoutSpec, out: &mut [f32]) {
    assert_eq!(node_ids.len() * cols, x.len(), "dropout: one node id per row");
    if cols == 0 {
        return;
    }
    // Each element is a pure function of (node, column): rows run in parallel, a chunk at a time.
    let rows_of = |c: usize, block: &mut [f32]| {
        for (i, dst) in block.chunks_mut(cols).enumerate() {
            let r = c * ROW_CHUNK + i;
            let (node, src) = (node_ids[r], &x[r * cols..(r + 1) * cols]);
            for (col, (o, &v)) in dst.iter_mut().zip(src).enumerate() {
                *o = if rng::dropout_keep(spec.stream, node, col as u32, spec.rate) { v * spec.scale } else { 0.0 };
            }
        }
    };
    for_row_chunks(&mut out[..x.len()], cols, x.len(), rows_of);
}

/// Dropout on the stored values of a sparse matrix (Kipf's sparse dropout): the mask of entry
/// (r, c) is the dense mask of (node, feature), so sparse and dense inputs drop alike.
// The entry index `e` addresses three parallel arrays (col_idx, values, out).
#[allow(clippy::needless_range_loop)]
pub fn dropout_sparse(x: &CsrView<'_>, node_ids: &[u32], layout: SparseLayout, spec: &DropoutSpec, out: &mut [f32]) {
    for r in 0..x.rows {
        for e in x.row_ptr[r] as usize..x.row_ptr[r + 1] as usize {
            let c = x.col_idx[e];
            let (node, column) = match layout {
                SparseLayout::NodeRows => (node_ids[r], c),
                SparseLayout::NodeCols => (node_ids[c as usize], r as u32),
            };
            out[e] =
                if rng::dropout_keep(spec.stream, node, column, spec.rate) { x.values[e] * spec.scale } else { 0.0 };
        }
    }
}

/// See `Backend::gather_rows`: `dst[(dst_row0 + k)·w ..] = src[rows[k]·w ..]`.
pub fn gather_rows(src: &[f32], w: usize, rows: &[u32], dst: &mut [f32], dst_row0: usize) {
    for (k, &r) in rows.iter().enumerate() {
        let s = r as usize * w;
        let d = (dst_row0 + k) * w;
        dst[d..d + w].copy_from_slice(&src[s..s + w]);
    }
}

/// See `Backend::scatter_add_rows`: `dst[rows[k]·w ..] += src[(src_row0 + k)·w ..]`.
pub fn scatter_add_rows(src: &[f32], w: usize, src_row0: usize, rows: &[u32], dst: &mut [f32]) {
    for (k, &r) in rows.iter().enumerate() {
        let s = (src_row0 + k) * w;
        let d = r as usize * w;
        for (o, &v) in dst[d..d + w].iter_mut().zip(&src[s..s + w]) {
            *o += v;
        }
    }
}

/// See `Backend::sample_boundary`.
#[allow(clippy::too_many_arguments)]
pub fn sample_boundary(
    base: &CsrView<'_>,
    node_ids: &[u32],
    layout: SparseLayout,
    first_boundary: usize,
    spec: &DropoutSpec,
    out: &mut [f32],
) {
    for r in 0..base.rows {
        let entries = base.row_ptr[r] as usize..base.row_ptr[r + 1] as usize;
        for (e, slot) in entries.clone().zip(&mut out[entries]) {
            let local = match layout {
                SparseLayout::NodeRows => r,
                SparseLayout::NodeCols => base.col_idx[e] as usize,
            };
            *slot = if local < first_boundary {
                base.values[e]
            } else if rng::mask_uniform(spec.stream, node_ids[local], 0) >= spec.rate {
                base.values[e] * spec.scale
            } else {
                0.0
            };
        }
    }
}

/// Masked softmax cross-entropy; see `Backend::softmax_xent`. Sums run in f64 in node order.
pub fn softmax_xent(
    logits: &[f32],
    cols: usize,
    labels: &[u32],
    split: &[u32],
    grad_scale: f32,
    mut grad: Option<&mut [f32]>,
    slot: &mut [f32],
) {
    let rows = labels.len();
    assert_eq!(logits.len(), rows * cols, "softmax_xent: logits must be rows × classes");
    let mut sums = [0.0f64; 9];
    for r in 0..rows {
        let row = &logits[r * cols..(r + 1) * cols];
        let code = split[r] as usize;
        if code == 0 {
            if let Some(g) = grad.as_deref_mut() {
                g[r * cols..(r + 1) * cols].fill(0.0);
            }
            continue;
        }
        let label = labels[r] as usize;
        let (mut max, mut argmax) = (row[0], 0usize);
        for (c, &v) in row.iter().enumerate().skip(1) {
            if v > max {
                max = v;
                argmax = c;
            }
        }
        let sum_exp: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + sum_exp.ln();
        let base = (code - 1) * 3;
        sums[base + stat::LOSS] += (lse - row[label]) as f64;
        sums[base + stat::CORRECT] += (argmax == label) as u32 as f64;
        sums[base + stat::COUNT] += 1.0;
        if let Some(g) = grad.as_deref_mut() {
            let dst = &mut g[r * cols..(r + 1) * cols];
            if code == 1 {
                for (c, d) in dst.iter_mut().enumerate() {
                    let p = (row[c] - lse).exp();
                    *d = (p - if c == label { 1.0 } else { 0.0 }) * grad_scale;
                }
            } else {
                dst.fill(0.0);
            }
        }
    }
    for (dst, s) in slot[..9].iter_mut().zip(sums) {
        *dst = s as f32;
    }
}

pub fn sum_squares(m: &[f32]) -> f32 {
    m.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() as f32
}

/// `out = Σ_p w_p · inputs[p]` in the given order.
pub fn weighted_sum(inputs: &[&[f32]], weights: &[f32], order: ReduceOrder, out: &mut [f32]) {
    assert_eq!(inputs.len(), weights.len(), "weighted_sum: one weight per input");
    assert!(!inputs.is_empty(), "weighted_sum: no inputs");
    for (i, o) in out.iter_mut().enumerate() {
        *o = match order {
            ReduceOrder::Flat => {
                let mut acc = weights[0] * inputs[0][i];
                for p in 1..inputs.len() {
                    acc += weights[p] * inputs[p][i];
                }
                acc
            }
            ReduceOrder::Tree => tree_sum(inputs.iter().zip(weights).map(|(x, &w)| w * x[i])),
        };
    }
}

/// Pairwise sum in ⌈log2 P⌉ rounds: round r adds element j + 2^r into j for j a multiple of
/// 2^(r+1). The GPU `weighted_sum` kernel uses the same shape.
pub fn tree_sum(values: impl Iterator<Item = f32>) -> f32 {
    let mut v: Vec<f32> = values.collect();
    let n = v.len();
    let mut stride = 1;
    while stride < n {
        let mut j = 0;
        while j + stride < n {
            v[j] += v[j + stride];
            j += 2 * stride;
        }
        stride *= 2;
    }
    v[0]
}

pub fn adam_step(param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], s: &AdamStep) {
    for i in 0..param.len() {
        let g = grad[i] + s.weight_decay * param[i];
        m[i] = s.beta1 * m[i] + (1.0 - s.beta1) * g;
        v[i] = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
        param[i] -= s.lr_t * m[i] / (v[i].sqrt() + s.eps);
    }
}

pub fn sgd_step(param: &mut [f32], grad: &[f32], s: &SgdStep) {
    for (p, &g) in param.iter_mut().zip(grad) {
        *p -= s.lr * (g + s.weight_decay * *p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_xent_uniform_logits() {
        let logits = [0.0f32; 6];
        let mut slot = [0.0f32; 10];
        let mut grad = [9.0f32; 6];
        softmax_xent(&logits, 3, &[0, 2], &[1, 3], 0.5, Some(&mut grad), &mut slot);
        let ln3 = 3.0f32.ln();
        assert!((slot[0] - ln3).abs() < 1e-6);
        assert_eq!(slot[1], 1.0); // argmax picks class 0 on ties
        assert_eq!(slot[2], 1.0);
        assert!((slot[6] - ln3).abs() < 1e-6 && slot[7] == 0.0 && slot[8] == 1.0);
        assert!((grad[0] - (1.0 / 3.0 - 1.0) * 0.5).abs() < 1e-6);
        assert_eq!(&grad[3..], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn tree_and_flat_agree_on_exact_values() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32, 4.0];
        let c = [5.0f32, 6.0];
        let mut f = [0.0; 2];
        let mut t = [0.0; 2];
        weighted_sum(&[&a, &b, &c], &[1.0, 0.5, 2.0], ReduceOrder::Flat, &mut f);
        weighted_sum(&[&a, &b, &c], &[1.0, 0.5, 2.0], ReduceOrder::Tree, &mut t);
        assert_eq!(f, [12.5, 16.0]);
        assert_eq!(f, t);
    }

    #[test]
    fn sparse_and_dense_dropout_agree() {
        let dense = [0.0f32, 2.0, 3.0, 0.0, 0.0, 5.0];
        let spec = DropoutSpec::new(rng::MaskKey { seed: 1, epoch: 2, layer: 0 }, 0.5);
        let ids = [17u32, 4];
        let mut d_out = [0.0f32; 6];
        dropout(&dense, 3, &ids, &spec, &mut d_out);
        let csr = crate::graph::Csr::from_dense(&crate::tensor::HostMatrix::from_vec(2, 3, dense.to_vec())).unwrap();
        let view = CsrView { rows: 2, cols: 3, row_ptr: &csr.row_ptr, col_idx: &csr.col_idx, values: &csr.values };
        let mut s_out = vec![0.0f32; csr.nnz()];
        dropout_sparse(&view, &ids, SparseLayout::NodeRows, &spec, &mut s_out);
        let back = crate::graph::Csr { values: s_out, ..csr.clone() }.to_dense();
        assert_eq!(back.data, d_out);
        // Transposed layout gives the same mask.
        let t = csr.transpose();
        let tv = CsrView { rows: 3, cols: 2, row_ptr: &t.row_ptr, col_idx: &t.col_idx, values: &t.values };
        let mut t_out = vec![0.0f32; t.nnz()];
        dropout_sparse(&tv, &ids, SparseLayout::NodeCols, &spec, &mut t_out);
        let back_t = crate::graph::Csr { values: t_out, ..t }.to_dense();
        for r in 0..2 {
            for c in 0..3 {
                assert_eq!(back_t.get(c, r), d_out[r * 3 + c]);
            }
        }
    }
}
