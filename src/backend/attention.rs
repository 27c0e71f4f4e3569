//! Argument checks of the graph-attention ops ([`super::Backend::edge_softmax`] and the ones
//! after it), shared by every backend so that each panics alike, with the op's name, on a
//! caller's shape mismatch. Each returns the number of heads.

use super::{IndexLen, Nonzeros, Shape};

/// The heads of a per-edge matrix of `a`: its columns, after checking it has a row per entry
/// (rows past `a`'s entries are neither read nor written: one buffer may serve operators of
/// different sizes).
#[track_caller]
fn per_edge<S: Nonzeros, M: Shape>(op: &str, what: &str, a: &S, m: &M) -> usize {
    assert!(m.rows() >= a.nnz(), "{op}: {what} has {} rows for {} entries", m.rows(), a.nnz());
    m.cols()
}

/// Another per-edge matrix of `a` with `heads` columns.
#[track_caller]
fn same_heads<S: Nonzeros, M: Shape>(op: &str, what: &str, a: &S, m: &M, heads: usize) {
    assert!(m.cols() == heads, "{op}: {what} has {} heads, not {heads}", m.cols());
    per_edge(op, what, a, m);
}

#[track_caller]
pub fn check_edge_softmax<S: Shape + Nonzeros, M: Shape>(a: &S, s_src: &M, s_dst: &M, pre: &M, alpha: &M) -> usize {
    let op = "edge_softmax";
    let heads = per_edge(op, "pre", a, pre);
    same_heads(op, "alpha", a, alpha, heads);
    assert!(
        s_src.cols() == heads && s_dst.cols() == heads,
        "{op}: the scores have {} and {} heads, pre {heads}",
        s_src.cols(),
        s_dst.cols()
    );
    assert!(s_src.rows() >= a.cols(), "{op}: s_src has {} rows for {} columns", s_src.rows(), a.cols());
    assert!(s_dst.rows() >= a.rows(), "{op}: s_dst has {} rows for {} rows", s_dst.rows(), a.rows());
    heads
}

#[track_caller]
pub fn check_edge_softmax_backward<S: Nonzeros, M: Shape>(a: &S, pre: &M, alpha: &M, d_alpha: &M, d_pre: &M) -> usize {
    let op = "edge_softmax_backward";
    let heads = per_edge(op, "pre", a, pre);
    for (what, m) in [("alpha", alpha), ("d_alpha", d_alpha), ("d_pre", d_pre)] {
        same_heads(op, what, a, m, heads);
    }
    heads
}

#[track_caller]
pub fn check_edge_dropout<S: Shape + Nonzeros, I: IndexLen, M: Shape>(
    a: &S,
    row_ids: &I,
    col_ids: &I,
    x: &M,
    out: &M,
) -> usize {
    let op = "edge_dropout";
    let heads = per_edge(op, "x", a, x);
    same_heads(op, "out", a, out, heads);
    assert!(row_ids.index_len() >= a.rows(), "{op}: {} row ids for {} rows", row_ids.index_len(), a.rows());
    assert!(col_ids.index_len() >= a.cols(), "{op}: {} column ids for {} columns", col_ids.index_len(), a.cols());
    heads
}

#[track_caller]
pub fn check_attention_spmm<S: Shape + Nonzeros, I: IndexLen, M: Shape>(
    a: &S,
    perm: Option<&I>,
    alpha: &M,
    x: &M,
    out: &M,
) -> usize {
    let op = "attention_spmm";
    let heads = per_edge(op, "alpha", a, alpha);
    let k = out.cols();
    assert!(heads > 0 && k.is_multiple_of(heads), "{op}: out's {k} columns do not split into {heads} heads");
    assert!(x.cols() == k, "{op}: x has {} columns, out {k}", x.cols());
    assert!(x.rows() >= a.cols(), "{op}: x has {} rows, A has {} columns", x.rows(), a.cols());
    assert!(out.rows() >= a.rows(), "{op}: out has {} rows, A has {} rows", out.rows(), a.rows());
    if let Some(p) = perm {
        assert!(p.index_len() == a.nnz(), "{op}: perm has {} entries, A {}", p.index_len(), a.nnz());
    }
    heads
}
