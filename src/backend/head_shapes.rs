//! The shape rules of the per-head and per-edge ops (`copy_cols`, `head_dot`,
//! `head_dot_backward`, `edge_row_sum`, `attention_spmm_backward_alpha`), checked alike by every
//! backend before it runs one. A mismatch is a caller bug: they panic with the op's name.

use super::{check_shape, IndexLen, Nonzeros, Shape};

/// Panics unless the `rows × cols` block exists at `src_col0` in `src` and at `dst_col0` in `dst`.
#[track_caller]
pub fn copy_cols(src: &impl Shape, src_col0: usize, dst: &impl Shape, dst_col0: usize, rows: usize, cols: usize) {
    assert!(
        rows <= src.rows() && rows <= dst.rows(),
        "copy_cols: {rows} rows of a {}-row src and a {}-row dst",
        src.rows(),
        dst.rows()
    );
    assert!(
        src_col0 + cols <= src.cols() && dst_col0 + cols <= dst.cols(),
        "copy_cols: columns {src_col0}..+{cols} of a {}-column src into {dst_col0}..+{cols} of a {}-column dst",
        src.cols(),
        dst.cols()
    );
}

/// `(heads, C)` of `head_dot(x, att, out)`: att is H × C, x n × H·C, out n × H.
#[track_caller]
pub fn head_dot(x: &impl Shape, att: &impl Shape, out: &impl Shape) -> (usize, usize) {
    let (heads, c) = (att.rows(), att.cols());
    check_shape("head_dot", "x", (x.rows(), x.cols()), (x.rows(), heads * c));
    check_shape("head_dot", "out", (out.rows(), out.cols()), (x.rows(), heads));
    (heads, c)
}

/// `(heads, C)` of `head_dot_backward`: x and dx n × H·C, ds n × H, att and d_att H × C.
#[track_caller]
pub fn head_dot_backward(
    x: &impl Shape,
    att: &impl Shape,
    ds: &impl Shape,
    dx: &impl Shape,
    d_att: &impl Shape,
) -> (usize, usize) {
    let (heads, c) = (att.rows(), att.cols());
    let op = "head_dot_backward";
    check_shape(op, "x", (x.rows(), x.cols()), (x.rows(), heads * c));
    check_shape(op, "ds", (ds.rows(), ds.cols()), (x.rows(), heads));
    check_shape(op, "dx", (dx.rows(), dx.cols()), (x.rows(), x.cols()));
    check_shape(op, "d_att", (d_att.rows(), d_att.cols()), (heads, c));
    (heads, c)
}

/// Heads of `edge_row_sum(a, perm, x, out)`: x has a row per entry (≥ nnz), perm (if any) one
/// entry per entry of `a`, out ≥ `a.rows()` rows of x's width.
#[track_caller]
pub fn edge_row_sum(
    a: &(impl Shape + Nonzeros),
    perm: Option<&impl IndexLen>,
    x: &impl Shape,
    out: &impl Shape,
) -> usize {
    assert!(x.rows() >= a.nnz(), "edge_row_sum: x has {} rows for {} entries", x.rows(), a.nnz());
    if let Some(p) = perm {
        assert_eq!(p.index_len(), a.nnz(), "edge_row_sum: perm has {} entries, a has {}", p.index_len(), a.nnz());
    }
    assert!(
        out.rows() >= a.rows() && out.cols() == x.cols(),
        "edge_row_sum: out is {}x{}, needs at least {}x{}",
        out.rows(),
        out.cols(),
        a.rows(),
        x.cols()
    );
    x.cols()
}

/// `(heads, C)` of `attention_spmm_backward_alpha(a, x, d_out, d_alpha)`: H = d_alpha's columns
/// (≥ 1), C = d_out's width / H; x ≥ `a.cols()` rows and d_out ≥ `a.rows()` rows of H·C;
/// d_alpha ≥ nnz rows.
#[track_caller]
pub fn attention_spmm_backward_alpha(
    a: &(impl Shape + Nonzeros),
    x: &impl Shape,
    d_out: &impl Shape,
    d_alpha: &impl Shape,
) -> (usize, usize) {
    let (heads, width) = (d_alpha.cols(), d_out.cols());
    let op = "attention_spmm_backward_alpha";
    assert!(heads > 0 && width.is_multiple_of(heads), "{op}: d_out's {width} columns do not split into {heads} heads");
    assert!(x.cols() == width, "{op}: x has {} columns, d_out {width}", x.cols());
    assert!(x.rows() >= a.cols(), "{op}: x has {} rows, a has {} columns", x.rows(), a.cols());
    assert!(d_out.rows() >= a.rows(), "{op}: d_out has {} rows, a has {}", d_out.rows(), a.rows());
    assert!(d_alpha.rows() >= a.nnz(), "{op}: d_alpha has {} rows for {} entries", d_alpha.rows(), a.nnz());
    (heads, width / heads)
}
