//! CPU twins of the GPU kernels, on plain slices. Each function here has a WGSL kernel of the
//! same name in `shaders/` and a test `<name>_matches_cpu` on the GPU side.

use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::backend::{check_shape, stat, DropoutSpec, ReduceOrder, SparseLayout};
use crate::rng;

mod heads;
pub use heads::{
    attention_spmm_backward_alpha, copy_cols, edge_row_sum, elu, elu_backward, head_dot, head_dot_backward, D_ATT_BLOCK,
};

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
const PARALLEL_MIN_WORK: usize = 1 << 17;

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
            let span = a.row_ptr[r] as usize..a.row_ptr[r + 1] as usize;
            let (cols, values) = (&a.col_idx[span.clone()], &a.values[span]);
            match k {
                1 => spmm_row::<1>(cols, values, x, dst),
                2 => spmm_row::<2>(cols, values, x, dst),
                3 => spmm_row::<3>(cols, values, x, dst),
                4 => spmm_row::<4>(cols, values, x, dst),
                5 => spmm_row::<5>(cols, values, x, dst),
                6 => spmm_row::<6>(cols, values, x, dst),
                7 => spmm_row::<7>(cols, values, x, dst),
                8 => spmm_row::<8>(cols, values, x, dst),
                16 => spmm_row::<16>(cols, values, x, dst),
                32 => spmm_row::<32>(cols, values, x, dst),
                64 => spmm_row::<64>(cols, values, x, dst),
                _ => {
                    dst.fill(0.0);
                    for (&col, &w) in cols.iter().zip(values) {
                        let src = &x[col as usize * k..(col as usize + 1) * k];
                        for (d, &s) in dst.iter_mut().zip(src) {
                            *d += w * s;
                        }
                    }
                }
            }
        }
    };
    for_row_chunks(&mut out[..a.rows * k], k, a.values.len() * k, rows_of);
}

/// One output row of [`spmm`] for a width known at compile time (class counts up to 8, and the
/// usual hidden sizes): the row's sums stay in registers. The same sums in the same order as the general loop.
#[inline(always)]
fn spmm_row<const K: usize>(cols: &[u32], values: &[f32], x: &[f32], dst: &mut [f32]) {
    let mut acc = [0.0f32; K];
    for (&col, &w) in cols.iter().zip(values) {
        let src: &[f32; K] = x[col as usize * K..][..K].try_into().expect("spmm: row of K");
        for j in 0..K {
            acc[j] += w * src[j];
        }
    }
    dst.copy_from_slice(&acc);
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

/// Elements per "row" when an elementwise op is split with [`for_row_chunks`].
const ELEMENTWISE_ROW: usize = 64;

/// Runs `f(first element, out block)` over `out` in fixed blocks, in parallel for long slices.
fn for_element_blocks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    let len = out.len();
    for_row_chunks(out, ELEMENTWISE_ROW, len, |c, block| f(c * ROW_CHUNK * ELEMENTWISE_ROW, block));
}

pub fn relu(x: &[f32], out: &mut [f32]) {
    let n = x.len().min(out.len());
    for_element_blocks(&mut out[..n], |first, block| {
        for (o, &v) in block.iter_mut().zip(&x[first..]) {
            *o = if v > 0.0 { v } else { 0.0 };
        }
    });
}

pub fn relu_backward(output: &[f32], grad: &[f32], out: &mut [f32]) {
    let n = output.len().min(grad.len()).min(out.len());
    for_element_blocks(&mut out[..n], |first, block| {
        for ((o, &y), &g) in block.iter_mut().zip(&output[first..]).zip(&grad[first..]) {
            *o = if y > 0.0 { g } else { 0.0 };
        }
    });
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
            let src = &x[r * cols..(r + 1) * cols];
            let row_key = rng::mask_row_key(spec.stream, node_ids[r]);
            masked_row(|_| row_key, |j| j as u32, src, spec, dst);
        }
    };
    for_row_chunks(&mut out[..x.len()], cols, x.len() * DROPOUT_WORK, rows_of);
}

/// Work units (multiply-add equivalents) of one dropout draw: two integer hashes.
const DROPOUT_WORK: usize = 8;

/// Draws per SIMD block in [`masked_row`]: fixed-size blocks let the compiler run the hash in
/// vector lanes (the loop over an iterator of columns stays scalar).
const LANES: usize = 8;

/// `dst[i] = keep(keys[i], columns[i]) ? src[i] · scale : 0`, where `key(i)` and `column(i)`
/// give element i's row key ([`rng::mask_row_key`]) and column.
#[inline(always)]
fn masked_row(
    key: impl Fn(usize) -> u32,
    column: impl Fn(usize) -> u32,
    src: &[f32],
    spec: &DropoutSpec,
    dst: &mut [f32],
) {
    let n = dst.len().min(src.len());
    let blocks = n / LANES * LANES;
    // Branch-free select (a dropout mask is a coin flip per element, so a branch mispredicts half
    // the time): the bits of v · scale, or of +0.0, exactly what the branch would give.
    let apply = |k: u32, c: u32, v: f32| {
        let keep = (rng::dropout_keep_in_row(k, c, spec.rate) as u32).wrapping_neg();
        f32::from_bits((v * spec.scale).to_bits() & keep)
    };
    for (b, (d, s)) in dst[..blocks].chunks_exact_mut(LANES).zip(src[..blocks].chunks_exact(LANES)).enumerate() {
        let (keys, cols): ([u32; LANES], [u32; LANES]) =
            (std::array::from_fn(|j| key(b * LANES + j)), std::array::from_fn(|j| column(b * LANES + j)));
        for j in 0..LANES {
            d[j] = apply(keys[j], cols[j], s[j]);
        }
    }
    for i in blocks..n {
        dst[i] = apply(key(i), column(i), src[i]);
    }
}

/// Dropout on the stored values of a sparse matrix (Kipf's sparse dropout): the mask of entry
/// (r, c) is the dense mask of (node, feature), so sparse and dense inputs drop alike.
// Row r indexes row_ptr and (NodeRows) node_ids.
#[allow(clippy::needless_range_loop)]
pub fn dropout_sparse(x: &CsrView<'_>, node_ids: &[u32], layout: SparseLayout, spec: &DropoutSpec, out: &mut [f32]) {
    assert_eq!(out.len(), x.values.len(), "dropout_sparse: one output per stored value");
    let node_count = match layout {
        SparseLayout::NodeRows => x.rows,
        SparseLayout::NodeCols => x.cols,
    };
    assert_eq!(node_ids.len(), node_count, "dropout_sparse: one node id per node");
    // Xᵀ's columns are nodes: their row keys are hashed once per call, not once per entry.
    let col_keys: Vec<u32> = match layout {
        SparseLayout::NodeRows => Vec::new(),
        SparseLayout::NodeCols => node_ids.iter().map(|&n| rng::mask_row_key(spec.stream, n)).collect(),
    };
    let rows_of = |chunk: usize, block: &mut [f32]| {
        let first = chunk * ROW_CHUNK;
        let base = x.row_ptr[first] as usize;
        for r in first..(first + ROW_CHUNK).min(x.rows) {
            let span = x.row_ptr[r] as usize..x.row_ptr[r + 1] as usize;
            let (cols, src) = (&x.col_idx[span.clone()], &x.values[span.clone()]);
            let dst = &mut block[span.start - base..span.end - base];
            match layout {
                SparseLayout::NodeRows => {
                    let row_key = rng::mask_row_key(spec.stream, node_ids[r]);
                    masked_row(|_| row_key, |j| cols[j], src, spec, dst)
                }
                SparseLayout::NodeCols => masked_row(|j| col_keys[cols[j] as usize], |_| r as u32, src, spec, dst),
            }
        }
    };
    for_sparse_row_chunks(x.row_ptr, out, x.values.len() * DROPOUT_WORK, rows_of);
}

/// [`for_row_chunks`] for the stored values of a CSR: chunk c holds the entries of rows
/// `c·ROW_CHUNK ..` (its slice of `out` starts at the chunk's first entry).
fn for_sparse_row_chunks(row_ptr: &[u32], out: &mut [f32], work: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = row_ptr.len() - 1;
    let mut blocks = Vec::with_capacity(rows.div_ceil(ROW_CHUNK));
    let mut rest = out;
    for c in 0..rows.div_ceil(ROW_CHUNK) {
        let len = (row_ptr[((c + 1) * ROW_CHUNK).min(rows)] - row_ptr[c * ROW_CHUNK]) as usize;
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

/// See `Backend::gather_rows`: `dst[(dst_row0 + k)·w ..] = src[rows[k]·w ..]`.
pub fn gather_rows(src: &[f32], w: usize, rows: &[u32], dst: &mut [f32], dst_row0: usize) {
    for (k, &r) in rows.iter().enumerate() {
        let s = r as usize * w;
        let d = (dst_row0 + k) * w;
        dst[d..d + w].copy_from_slice(&src[s..s + w]);
    }
}

/// See `Backend::scatter_add_rows`: `dst[rows[k]·w ..] += src[(src_row0 + k)·w ..]`.
pub fn scatter_rows(src: &[f32], w: usize, src_row0: usize, rows: &[u32], dst: &mut [f32]) {
    for (k, &r) in rows.iter().enumerate() {
        let (s, d) = ((src_row0 + k) * w, r as usize * w);
        dst[d..d + w].copy_from_slice(&src[s..s + w]);
    }
}

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

// ---------------------------------------------------------------- graph attention (GAT)
// Per-edge matrices are (nnz × heads) row-major in the CSR's entry order; an entry whose value
// is 0 is an absent edge. Each (row, head) is computed by one loop over the row's entries in
// stored order, the order the WGSL kernels use.

/// LeakyReLU with negative slope `slope` (the select the WGSL kernels use, bit for bit).
#[inline]
pub fn leaky_relu(x: f32, slope: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        x * slope
    }
}

/// Splits a per-edge matrix (`heads` values per entry) into blocks of the entries of
/// [`ROW_CHUNK`] rows each.
fn edge_blocks<'a>(row_ptr: &[u32], m: &'a mut [f32], heads: usize) -> Vec<&'a mut [f32]> {
    let rows = row_ptr.len() - 1;
    let mut blocks = Vec::with_capacity(rows.div_ceil(ROW_CHUNK));
    let mut rest = m;
    for c in 0..rows.div_ceil(ROW_CHUNK) {
        let len = (row_ptr[((c + 1) * ROW_CHUNK).min(rows)] - row_ptr[c * ROW_CHUNK]) as usize * heads;
        let (block, tail) = std::mem::take(&mut rest).split_at_mut(len);
        blocks.push(block);
        rest = tail;
    }
    blocks
}

/// [`for_row_chunks`] for N per-edge outputs split alike by [`edge_blocks`]: `f(chunk, blocks)`
/// where chunk c holds rows `c·ROW_CHUNK ..` and its blocks start at the chunk's first entry.
fn for_edge_chunks<const N: usize>(
    row_ptr: &[u32],
    heads: usize,
    outs: [&mut [f32]; N],
    work: usize,
    f: impl Fn(usize, [&mut [f32]; N]) + Sync,
) {
    let mut blocks: Vec<_> = outs.into_iter().map(|m| edge_blocks(row_ptr, m, heads).into_iter()).collect();
    let chunks: Vec<[&mut [f32]; N]> = (0..(row_ptr.len() - 1).div_ceil(ROW_CHUNK))
        .map(|_| std::array::from_fn(|k| blocks[k].next().expect("one block per chunk")))
        .collect();
    if work < PARALLEL_MIN_WORK {
        chunks.into_iter().enumerate().for_each(|(c, b)| f(c, b));
    } else {
        chunks.into_par_iter().enumerate().for_each(|(c, b)| f(c, b));
    }
}

/// Work units of one (entry, head) of the edge softmax (about a dozen FLOPs and an exp).
const SOFTMAX_WORK: usize = 16;

/// See `Backend::edge_softmax`. Per (row i, head h), over the row's entries in stored order:
/// pre = s_src[j] + s_dst[i] (every entry); m = the first largest LeakyReLU(pre) of the present
/// entries; α = exp(LeakyReLU(pre) − m), summed, then divided by the sum (present entries), 0
/// (absent).
#[allow(clippy::too_many_arguments)]
pub fn edge_softmax(
    a: &CsrView<'_>,
    s_src: &[f32],
    s_dst: &[f32],
    heads: usize,
    slope: f32,
    pre: &mut [f32],
    alpha: &mut [f32],
) {
    let nnz = a.values.len();
    assert!(pre.len() == nnz * heads && alpha.len() == nnz * heads, "edge_softmax: per-edge outputs are nnz × heads");
    assert!(s_src.len() >= a.cols * heads && s_dst.len() >= a.rows * heads, "edge_softmax: scores too short");
    let rows_of = |chunk: usize, [pre, alpha]: [&mut [f32]; 2]| {
        let first = chunk * ROW_CHUNK;
        let base = a.row_ptr[first] as usize;
        for i in first..(first + ROW_CHUNK).min(a.rows) {
            let span = a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize;
            for h in 0..heads {
                let at = |e: usize| (e - base) * heads + h;
                let (mut max, mut found) = (0.0f32, false);
                for e in span.clone() {
                    let p = s_src[a.col_idx[e] as usize * heads + h] + s_dst[i * heads + h];
                    pre[at(e)] = p;
                    let l = leaky_relu(p, slope);
                    if a.values[e] != 0.0 && (!found || l > max) {
                        (max, found) = (l, true);
                    }
                }
                let mut sum = 0.0f32;
                for e in span.clone() {
                    let x = if a.values[e] != 0.0 { (leaky_relu(pre[at(e)], slope) - max).exp() } else { 0.0 };
                    alpha[at(e)] = x;
                    sum += x;
                }
                for e in span.clone() {
                    alpha[at(e)] = if a.values[e] != 0.0 { alpha[at(e)] / sum } else { 0.0 };
                }
            }
        }
    };
    for_edge_chunks(a.row_ptr, heads, [pre, alpha], nnz * heads * SOFTMAX_WORK, rows_of);
}

/// See `Backend::edge_softmax_backward`. Per (row i, head h): dot = Σ α·dα over the present
/// entries in stored order, then d_pre = g·(pre > 0 ? 1 : slope) with g = α·(dα − dot), and 0
/// on absent entries.
pub fn edge_softmax_backward(
    a: &CsrView<'_>,
    pre: &[f32],
    alpha: &[f32],
    d_alpha: &[f32],
    heads: usize,
    slope: f32,
    d_pre: &mut [f32],
) {
    let n = a.values.len() * heads;
    let lens = [pre.len(), alpha.len(), d_alpha.len(), d_pre.len()];
    assert!(lens.iter().all(|&l| l == n), "edge_softmax_backward: per-edge matrices are nnz × heads");
    let rows_of = |chunk: usize, [d_pre]: [&mut [f32]; 1]| {
        let first = chunk * ROW_CHUNK;
        let base = a.row_ptr[first] as usize;
        for i in first..(first + ROW_CHUNK).min(a.rows) {
            let span = a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize;
            for h in 0..heads {
                let mut dot = 0.0f32;
                for e in span.clone().filter(|&e| a.values[e] != 0.0) {
                    dot += alpha[e * heads + h] * d_alpha[e * heads + h];
                }
                for e in span.clone() {
                    let k = e * heads + h;
                    let g = alpha[k] * (d_alpha[k] - dot);
                    d_pre[(e - base) * heads + h] = if a.values[e] == 0.0 {
                        0.0
                    } else if pre[k] > 0.0 {
                        g
                    } else {
                        g * slope
                    };
                }
            }
        }
    };
    for_edge_chunks(a.row_ptr, heads, [d_pre], n * 4, rows_of);
}

/// See `Backend::edge_dropout`: entry e = (i, j), head h is kept iff
/// `mask_uniform_in_row(edge_mask_key(stream, row_ids[i], col_ids[j]), h) >= rate`.
// Row i indexes row_ptr and row_ids.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub fn edge_dropout(
    a: &CsrView<'_>,
    row_ids: &[u32],
    col_ids: &[u32],
    spec: &DropoutSpec,
    x: &[f32],
    heads: usize,
    out: &mut [f32],
) {
    let n = a.values.len() * heads;
    assert!(x.len() == n && out.len() == n, "edge_dropout: per-edge matrices are nnz × heads");
    assert!(row_ids.len() >= a.rows && col_ids.len() >= a.cols, "edge_dropout: one global id per row and column");
    let rows_of = |chunk: usize, [out]: [&mut [f32]; 1]| {
        let first = chunk * ROW_CHUNK;
        let base = a.row_ptr[first] as usize;
        for i in first..(first + ROW_CHUNK).min(a.rows) {
            for e in a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize {
                let key = rng::edge_mask_key(spec.stream, row_ids[i], col_ids[a.col_idx[e] as usize]);
                let dst = &mut out[(e - base) * heads..(e - base + 1) * heads];
                masked_row(|_| key, |h| h as u32, &x[e * heads..(e + 1) * heads], spec, dst);
            }
        }
    };
    for_edge_chunks(a.row_ptr, heads, [out], n * DROPOUT_WORK, rows_of);
}

/// See `Backend::attention_spmm`: `out[i, h·C + c] = Σ_{e in row i} α[perm(e), h] · x[col(e),
/// h·C + c]` summed in stored order (k = H·C columns; `x` and `out` may be taller).
pub fn attention_spmm(
    a: &CsrView<'_>,
    perm: Option<&[u32]>,
    alpha: &[f32],
    heads: usize,
    x: &[f32],
    k: usize,
    out: &mut [f32],
) {
    assert!(heads > 0 && k.is_multiple_of(heads), "attention_spmm: {k} columns do not split into {heads} heads");
    assert!(alpha.len() >= a.values.len() * heads, "attention_spmm: alpha is nnz × heads");
    assert!(x.len() >= a.cols * k && out.len() >= a.rows * k, "attention_spmm: x or out too short");
    if let Some(p) = perm {
        assert_eq!(p.len(), a.values.len(), "attention_spmm: one perm entry per entry of a");
    }
    if k == 0 {
        return;
    }
    let c_per_head = k / heads;
    let rows_of = |chunk: usize, block: &mut [f32]| {
        for (r, dst) in block.chunks_mut(k).enumerate() {
            let i = chunk * ROW_CHUNK + r;
            dst.fill(0.0);
            for e in a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize {
                let w = &alpha[perm.map_or(e, |p| p[e] as usize) * heads..][..heads];
                let src = &x[a.col_idx[e] as usize * k..][..k];
                for (c, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
                    *d += w[c / c_per_head] * s;
                }
            }
        }
    };
    for_row_chunks(&mut out[..a.rows * k], k, a.values.len() * k, rows_of);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix of `rows × cols` with about a third of its entries zero, and node ids that are
    /// not the row numbers.
    fn random_input(rows: usize, cols: usize, seed: u64) -> (crate::tensor::HostMatrix, Vec<u32>) {
        let mut rng = rng::SplitMix64::new(seed);
        let data =
            (0..rows * cols).map(|_| if rng.below(3) == 0 { 0.0 } else { rng.next_f64() as f32 - 0.5 }).collect();
        let ids = (0..rows as u32).map(|r| r.wrapping_mul(2_654_435_761) % 1_000_003).collect();
        (crate::tensor::HostMatrix::from_vec(rows, cols, data), ids)
    }

    /// The blocked, branch-free and parallel kernels against the element-by-element definition,
    /// on inputs large enough for several chunks, SIMD blocks plus tails, and the parallel path.
    #[test]
    fn dropout_kernels_match_the_per_element_definition() {
        let (rows, cols) = (3000, 45);
        let (m, ids) = random_input(rows, cols, 5);
        let spec = DropoutSpec::new(rng::MaskKey { seed: 9, epoch: 4, layer: 1 }, 0.5);
        let expected: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                if rng::dropout_keep(spec.stream, ids[r], c as u32, spec.rate) {
                    m.data[i] * spec.scale
                } else {
                    0.0
                }
            })
            .collect();
        let mut dense = vec![f32::NAN; rows * cols];
        dropout(&m.data, cols, &ids, &spec, &mut dense);
        assert!(dense.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()), "dense dropout");
        let csr = crate::graph::Csr::from_dense(&m).unwrap();
        let view = CsrView { rows, cols, row_ptr: &csr.row_ptr, col_idx: &csr.col_idx, values: &csr.values };
        let mut sparse = vec![f32::NAN; csr.nnz()];
        dropout_sparse(&view, &ids, SparseLayout::NodeRows, &spec, &mut sparse);
        assert_eq!(crate::graph::Csr { values: sparse, ..csr.clone() }.to_dense().data, expected, "sparse, node rows");
        let t = csr.transpose();
        let tv = CsrView { rows: cols, cols: rows, row_ptr: &t.row_ptr, col_idx: &t.col_idx, values: &t.values };
        let mut sparse_t = vec![f32::NAN; t.nnz()];
        dropout_sparse(&tv, &ids, SparseLayout::NodeCols, &spec, &mut sparse_t);
        let back = crate::graph::Csr { values: sparse_t, ..t }.to_dense();
        for (i, &want) in expected.iter().enumerate() {
            assert_eq!(back.get(i % cols, i / cols).to_bits(), want.to_bits(), "sparse, node columns, element {i}");
        }
    }

    /// The fixed-width SpMM rows sum in the stored order, exactly as the general loop.
    #[test]
    fn spmm_fixed_widths_match_the_general_loop() {
        let (a, _) = random_input(700, 900, 11);
        let a = crate::graph::Csr::from_dense(&a).unwrap();
        let view = CsrView { rows: a.rows, cols: a.cols, row_ptr: &a.row_ptr, col_idx: &a.col_idx, values: &a.values };
        for k in [3, 7, 12, 16, 32, 64] {
            let (x, _) = random_input(900, k, k as u64);
            let mut expected = vec![0.0f32; 700 * k];
            for r in 0..700 {
                for e in a.row_ptr[r] as usize..a.row_ptr[r + 1] as usize {
                    for j in 0..k {
                        expected[r * k + j] += a.values[e] * x.data[a.col_idx[e] as usize * k + j];
                    }
                }
            }
            let mut out = vec![f32::NAN; 700 * k];
            spmm(&view, &x.data, k, &mut out);
            assert!(out.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()), "k = {k}");
        }
    }

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
