//! The graph-attention kernels against their CPU twins, through the `Backend` trait on both
//! sides, on CSRs with rows of no entries, a row longer than one workgroup, a row of absent
//! entries only and absent entries scattered elsewhere; with 1 and 8 heads.
//!
//! Tolerance: `|x − y| ≤ max(rel·|x + y|, abs)`. Additions and masks are exact (bit-equal); the
//! softmax's exp and the row sums (the GPU may fuse a multiply-add, and its exp is not the
//! host's) get rel 1e-5 with an abs floor for values near 0.

use super::tests::{assert_bits_eq, assert_close, down, nan_matrix, up};
use super::*;
use crate::backend::cpu::tests_attention::{attention_csr, random};
use crate::backend::cpu::CpuBackend;
use crate::backend::{Backend, DropoutSpec, MemCategory};
use crate::rng::{MaskKey, SplitMix64};

macro_rules! gpu_or_skip {
    () => {
        match gpu_for_tests() {
            Some(g) => g,
            None => return,
        }
    };
}

/// 40 destinations over 300 sources (row 1 has all 300).
const ROWS: usize = 40;
const COLS: usize = 300;

fn matrix(rng: &mut SplitMix64, rows: usize, cols: usize) -> HostMatrix {
    HostMatrix::from_vec(rows, cols, random(rng, rows * cols))
}

fn index<B: Backend>(b: &B, data: &[u32]) -> B::Index {
    b.upload_index(data, MemCategory::Graph, "test ids").expect("upload_index")
}

/// (pre, α, d_pre) of the forward and backward on one backend.
fn softmax_both<B: Backend>(b: &B, a: &Csr, s: (&HostMatrix, &HostMatrix), d_alpha: &HostMatrix) -> [Vec<f32>; 3] {
    let heads = s.0.cols;
    let sa = b.upload_sparse(a, MemCategory::Graph, "a").expect("upload_sparse");
    let (src, dst, da) = (up(b, s.0), up(b, s.1), up(b, d_alpha));
    let [mut pre, mut alpha, mut d_pre] = [0; 3].map(|_| up(b, &nan_matrix(a.nnz(), heads)));
    b.edge_softmax(&sa, &src, &dst, 0.2, &mut pre, &mut alpha);
    b.edge_softmax_backward(&sa, &pre, &alpha, &da, 0.2, &mut d_pre);
    [down(b, &pre), down(b, &alpha), down(b, &d_pre)]
}

#[test]
fn edge_softmax_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    for (heads, seed) in [(1, 21), (8, 22)] {
        let mut rng = SplitMix64::new(seed);
        let a = attention_csr(&mut rng, ROWS, COLS, 0.05);
        // s_src and s_dst taller than needed (the shared scratch of a layer).
        let (s_src, s_dst) = (matrix(&mut rng, COLS + 3, heads), matrix(&mut rng, ROWS + 2, heads));
        let d_alpha = matrix(&mut rng, a.nnz(), heads);
        let [g_pre, g_alpha, g_d] = softmax_both(&gpu, &a, (&s_src, &s_dst), &d_alpha);
        let [c_pre, c_alpha, c_d] = softmax_both(&cpu, &a, (&s_src, &s_dst), &d_alpha);
        assert_bits_eq(&format!("edge_softmax pre, {heads} heads"), &g_pre, &c_pre);
        assert_close(&format!("edge_softmax alpha, {heads} heads"), &g_alpha, &c_alpha, 1e-5, 1e-7);
        assert_close(&format!("edge_softmax_backward, {heads} heads"), &g_d, &c_d, 1e-5, 1e-6);
        // Absent entries are exactly 0 on the GPU too.
        for (k, (&al, &d)) in g_alpha.iter().zip(&g_d).enumerate() {
            if a.values[k / heads] == 0.0 {
                assert!(al == 0.0 && d == 0.0, "entry {}: α {al}, d_pre {d} on an absent entry", k / heads);
            }
        }
    }
}

fn dropout_on<B: Backend>(b: &B, a: &Csr, ids: (&[u32], &[u32]), spec: &DropoutSpec, x: &HostMatrix) -> Vec<f32> {
    let sa = b.upload_sparse(a, MemCategory::Graph, "a").expect("upload_sparse");
    let (xb, mut out) = (up(b, x), up(b, &nan_matrix(x.rows, x.cols)));
    b.edge_dropout(&sa, &index(b, ids.0), &index(b, ids.1), spec, &xb, &mut out);
    down(b, &out)
}

#[test]
fn edge_dropout_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    for (heads, seed) in [(1, 31), (8, 32)] {
        let mut rng = SplitMix64::new(seed);
        let a = attention_csr(&mut rng, ROWS, COLS, 0.05);
        let x = matrix(&mut rng, a.nnz(), heads);
        let row_ids: Vec<u32> = (0..ROWS as u32).map(|r| r * 2_654_435_761 % 1_000_003).collect();
        let col_ids: Vec<u32> = (0..COLS as u32).map(|c| c * 40_503 % 999_983).collect();
        let spec = DropoutSpec::new(MaskKey { seed: 7, epoch: 3, layer: 1 }, 0.6);
        let ids = (row_ids.as_slice(), col_ids.as_slice());
        let (g, c) = (dropout_on(&gpu, &a, ids, &spec, &x), dropout_on(&cpu, &a, ids, &spec, &x));
        assert_bits_eq(&format!("edge_dropout, {heads} heads"), &g, &c);
        assert!(c.contains(&0.0) && c.iter().any(|&v| v != 0.0), "some kept, some dropped");
    }
}

/// (forward, backward to the sources through the transpose and its permutation) on one backend.
fn attention_spmm_both<B: Backend>(
    b: &B,
    a: &Csr,
    alpha: &HostMatrix,
    x: &HostMatrix,
    d_out: &HostMatrix,
) -> [Vec<f32>; 2] {
    let (t, perm) = a.transpose_with_permutation();
    let (sa, st) =
        (b.upload_sparse(a, MemCategory::Graph, "a").unwrap(), b.upload_sparse(&t, MemCategory::Graph, "t").unwrap());
    let (al, xb, db) = (up(b, alpha), up(b, x), up(b, d_out));
    let k = x.cols;
    // Outputs taller than A's rows: the rows past them are left as they were (NaN).
    let (mut out, mut dx) = (up(b, &nan_matrix(a.rows + 2, k)), up(b, &nan_matrix(a.cols + 1, k)));
    b.attention_spmm(&sa, None, &al, &xb, &mut out);
    b.attention_spmm(&st, Some(&index(b, &perm)), &al, &db, &mut dx);
    [down(b, &out), down(b, &dx)]
}

#[test]
fn attention_spmm_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    for (heads, c, seed) in [(1, 7, 41), (8, 8, 42), (8, 1, 43)] {
        let mut rng = SplitMix64::new(seed);
        let a = attention_csr(&mut rng, ROWS, COLS, 0.05);
        let k = heads * c;
        let mut alpha = matrix(&mut rng, a.nnz(), heads);
        for (v, e) in alpha.data.iter_mut().zip((0..a.nnz()).flat_map(|e| std::iter::repeat_n(e, heads))) {
            if a.values[e] == 0.0 {
                *v = 0.0; // as edge_softmax leaves absent entries
            }
        }
        let (x, d_out) = (matrix(&mut rng, COLS, k), matrix(&mut rng, ROWS, k));
        let [g_out, g_dx] = attention_spmm_both(&gpu, &a, &alpha, &x, &d_out);
        let [c_out, c_dx] = attention_spmm_both(&cpu, &a, &alpha, &x, &d_out);
        let rows_of = |v: &[f32], rows: usize| v[..rows * k].to_vec();
        // Sums over up to 300 entries; the GPU may fuse each multiply-add.
        assert_close(
            &format!("attention_spmm, {heads}x{c}"),
            &rows_of(&g_out, ROWS),
            &rows_of(&c_out, ROWS),
            1e-5,
            1e-5,
        );
        assert_close(
            &format!("attention_spmm transposed, {heads}x{c}"),
            &rows_of(&g_dx, COLS),
            &rows_of(&c_dx, COLS),
            1e-5,
            1e-5,
        );
        assert!(g_out[ROWS * k..].iter().all(|v| v.is_nan()), "rows past A's are not written");
        assert!(g_dx[COLS * k..].iter().all(|v| v.is_nan()), "rows past Aᵀ's are not written");
    }
}
