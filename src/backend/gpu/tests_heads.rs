//! The per-head and per-edge kernels (`copy_cols`, `elu`, `head_dot`, `edge_row_sum`,
//! `attention_spmm_backward_alpha` and their backwards) against their CPU twins in
//! `backend::cpu::ops`, through the `Backend` trait on both sides. Seeded random inputs,
//! ragged shapes, heads = 1 and 8, rows with no entries and rows longer than a workgroup,
//! zero-valued (absent) entries; outputs pre-filled with NaN.
//!
//! Tolerance `|x − y| ≤ max(rel·|x + y|, abs)`, stated per test with its reason.

use super::tests::{assert_bits_eq, assert_close, down, nan_matrix, rand_csr, rand_matrix, up};
use super::*;
use crate::backend::cpu::CpuBackend;
use crate::rng::SplitMix64;

/// `a`'s transpose and, for each of its entries, the position of the same entry in `a`'s CSR
/// (the `perm` that `edge_row_sum` takes to sum a per-edge matrix of `a` per source).
fn transpose_with_perm(a: &Csr) -> (Csr, Vec<u32>) {
    let t = a.transpose();
    let mut next = t.row_ptr.clone();
    let mut perm = vec![0u32; a.nnz()];
    for r in 0..a.rows {
        for k in a.row_ptr[r]..a.row_ptr[r + 1] {
            let c = a.col_idx[k as usize] as usize;
            perm[next[c] as usize] = k;
            next[c] += 1;
        }
    }
    (t, perm)
}

/// A random CSR whose every 5th entry is 0 (absent), with a row of ~600 entries (longer than a
/// workgroup and than an SpMM segment) when `cols` allows, and empty rows (every 7th).
fn csr_with_absent(rng: &mut SplitMix64, rows: usize, cols: usize, density: f64) -> Csr {
    let mut a = rand_csr(rng, rows, cols, density);
    if rows > 1 && cols >= 1000 {
        // Row 1 gets every other column.
        let extra: Vec<u32> = (0..cols as u32).step_by(2).collect();
        let (start, end) = (a.row_ptr[1] as usize, a.row_ptr[2] as usize);
        let grow = extra.len() as i64 - (end - start) as i64;
        a.col_idx.splice(start..end, extra.iter().copied());
        a.values.splice(start..end, extra.iter().map(|&c| 0.25 + c as f32 * 1e-3));
        for p in &mut a.row_ptr[2..] {
            *p = (*p as i64 + grow) as u32;
        }
    }
    for (e, v) in a.values.iter_mut().enumerate() {
        if e % 5 == 3 {
            *v = 0.0;
        }
    }
    a
}

/// A per-edge matrix (nnz × heads) with NaN on `a`'s absent entries (they must not be read).
fn per_edge(rng: &mut SplitMix64, a: &Csr, heads: usize) -> HostMatrix {
    let mut m = rand_matrix(rng, a.nnz(), heads);
    for (e, &v) in a.values.iter().enumerate() {
        if v == 0.0 {
            m.data[e * heads..(e + 1) * heads].fill(f32::NAN);
        }
    }
    m
}

#[test]
fn copy_cols_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(41);
    // (src rows × cols, dst rows × cols, src_col0, dst_col0, rows, cols): a head's block into a
    // wider row, a whole row, one column, the last columns, nothing.
    let cases = [
        ((37, 64), (40, 72), 8, 64, 37, 8),
        ((300, 7), (300, 7), 0, 0, 300, 7),
        ((5, 3), (9, 1), 2, 0, 5, 1),
        ((1000, 16), (1000, 24), 8, 16, 999, 8),
        ((4, 4), (4, 4), 1, 1, 0, 3),
    ];
    for ((sr, sc), (dr, dc), s0, d0, rows, cols) in cases {
        let (src, dst) = (rand_matrix(&mut rng, sr, sc), rand_matrix(&mut rng, dr, dc));
        let mut gd = up(&gpu, &dst);
        gpu.copy_cols(&up(&gpu, &src), s0, &mut gd, d0, rows, cols);
        let mut cd = up(&cpu, &dst);
        cpu.copy_cols(&up(&cpu, &src), s0, &mut cd, d0, rows, cols);
        // Moves, and the untouched elements keep their values: exact.
        assert_bits_eq(&format!("copy_cols {sr}x{sc} -> {dr}x{dc}"), &down(&gpu, &gd), &down(&cpu, &cd));
    }
}

#[test]
fn elu_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(42);
    for (r, c) in [(1, 1), (37, 29), (300, 257)] {
        // Spread over [-4, 4], and every 3rd value within ±0.2 (the series near 0).
        let mut x = rand_matrix(&mut rng, r, c);
        for (i, v) in x.data.iter_mut().enumerate() {
            *v *= if i % 3 == 0 { 0.2 } else { 4.0 };
        }
        let mut go = up(&gpu, &nan_matrix(r, c));
        gpu.elu(&up(&gpu, &x), &mut go);
        let mut co = up(&cpu, &x);
        cpu.elu(&up(&cpu, &x), &mut co);
        // exp on the GPU is within a few ULP of 1 (WGSL allows 3 + 2|x|), the series near 0
        // within 2^-24 relative; exp_m1 on the CPU is exact to an ULP: 1e-5 relative, and 1e-7
        // absolute for the values near 0.
        assert_close(&format!("elu {r}x{c}"), &down(&gpu, &go), &down(&cpu, &co), 1e-5, 1e-7);

        let (y, g) = (down(&cpu, &co), rand_matrix(&mut rng, r, c));
        let y = HostMatrix::from_vec(r, c, y);
        let mut go = up(&gpu, &nan_matrix(r, c));
        gpu.elu_backward(&up(&gpu, &y), &up(&gpu, &g), &mut go);
        let mut co = up(&cpu, &y);
        cpu.elu_backward(&up(&cpu, &y), &up(&cpu, &g), &mut co);
        // A select, an add and a multiply, the same on both sides: exact.
        assert_bits_eq(&format!("elu_backward {r}x{c}"), &down(&gpu, &go), &down(&cpu, &co));
    }
}

/// (rows, heads, C): one of each, heads = 1 and 8 (GAT's hidden layer: 8 × 8), 16 heads,
/// ragged C, and more rows than one d_att block (256) and one workgroup.
const HEAD_SHAPES: [(usize, usize, usize); 6] =
    [(1, 1, 1), (37, 1, 5), (300, 8, 8), (1000, 3, 7), (5, 16, 4), (2708, 1, 7)];

#[test]
fn head_dot_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(43);
    for (rows, heads, c) in HEAD_SHAPES {
        let (x, att) = (rand_matrix(&mut rng, rows, heads * c), rand_matrix(&mut rng, heads, c));
        let mut go = up(&gpu, &nan_matrix(rows, heads));
        gpu.head_dot(&up(&gpu, &x), &up(&gpu, &att), &mut go);
        let mut co = cpu.alloc(rows, heads, MemCategory::Activations, "s").unwrap();
        cpu.head_dot(&up(&cpu, &x), &up(&cpu, &att), &mut co);
        // One dot of C terms in the same order; the GPU may contract into FMAs: 1e-5 relative,
        // 5e-8 per term absolute for cancellation (as matmul_matches_cpu).
        let abs = (c as f32 * 5e-8).max(1e-6);
        assert_close(&format!("head_dot {rows}x{heads}x{c}"), &down(&gpu, &go), &down(&cpu, &co), 1e-5, abs);
    }
}

#[test]
fn head_dot_backward_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(44);
    // Also no rows at all: d_att is overwritten with zeros.
    for (rows, heads, c) in HEAD_SHAPES.into_iter().chain([(0, 2, 3)]) {
        let w = heads * c;
        let (x, att) = (rand_matrix(&mut rng, rows, w), rand_matrix(&mut rng, heads, c));
        let (ds, dx0) = (rand_matrix(&mut rng, rows, heads), rand_matrix(&mut rng, rows, w));
        let (mut gdx, mut gda) = (up(&gpu, &dx0), up(&gpu, &nan_matrix(heads, c)));
        gpu.head_dot_backward(&up(&gpu, &x), &up(&gpu, &att), &up(&gpu, &ds), &mut gdx, &mut gda);
        let (mut cdx, mut cda) = (up(&cpu, &dx0), up(&cpu, &nan_matrix(heads, c)));
        cpu.head_dot_backward(&up(&cpu, &x), &up(&cpu, &att), &up(&cpu, &ds), &mut cdx, &mut cda);
        let what = format!("head_dot_backward {rows}x{heads}x{c}");
        // dx: one multiply-add per element (an FMA on the GPU, maybe): 1e-6 relative, 1e-7 abs.
        assert_close(&format!("{what} dx"), &down(&gpu, &gdx), &down(&cpu, &cdx), 1e-6, 1e-7);
        // d_att: a sum over the rows in the same blocked order; FMAs round differently:
        // 1e-5 relative, 5e-8 per row absolute for cancellation.
        let abs = (rows as f32 * 5e-8).max(1e-6);
        assert_close(&format!("{what} d_att"), &down(&gpu, &gda), &down(&cpu, &cda), 1e-5, abs);
    }
}

#[test]
fn edge_row_sum_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(45);
    // (rows, cols, density): a Cora-like sparse graph, a dense block with a ~500-entry row.
    for (rows, cols, density) in [(300, 300, 0.02), (40, 1000, 0.1), (1, 1, 1.0)] {
        let a = csr_with_absent(&mut rng, rows, cols, density);
        let (t, perm) = transpose_with_perm(&a);
        assert_eq!(t.col_idx, a.transpose().col_idx, "transpose_with_perm: the transpose");
        for heads in [1, 8] {
            let x = per_edge(&mut rng, &a, heads);
            // Per destination (a, no perm) and per source (aᵀ through perm).
            for (name, s, p) in [("rows", &a, None), ("sources", &t, Some(&perm))] {
                let (gs, cs) = (
                    gpu.upload_sparse(s, MemCategory::Graph, "a").unwrap(),
                    cpu.upload_sparse(s, MemCategory::Graph, "a").unwrap(),
                );
                let gp = p.map(|p| gpu.upload_index(p, MemCategory::Graph, "perm").unwrap());
                let cp = p.map(|p| cpu.upload_index(p, MemCategory::Graph, "perm").unwrap());
                // out one row longer than needed: rows past a.rows() are left alone.
                let mut go = up(&gpu, &nan_matrix(s.rows + 1, heads));
                gpu.edge_row_sum(&gs, gp.as_ref(), &up(&gpu, &x), &mut go);
                let mut co = up(&cpu, &nan_matrix(s.rows + 1, heads));
                cpu.edge_row_sum(&cs, cp.as_ref(), &up(&cpu, &x), &mut co);
                let (g, c) = (down(&gpu, &go), down(&cpu, &co));
                let n = s.rows * heads;
                // Adds only, in the same order: exact (and NaN from an absent entry fails).
                assert_bits_eq(&format!("edge_row_sum {name} {rows}x{cols} heads {heads}"), &g[..n], &c[..n]);
                assert!(g[n..].iter().all(|v| v.is_nan()), "edge_row_sum wrote past a's rows");
            }
        }
    }
}

#[test]
fn attention_spmm_backward_alpha_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(46);
    for (rows, cols, density) in [(300, 300, 0.02), (40, 1000, 0.1), (1, 1, 1.0)] {
        let mut a = csr_with_absent(&mut rng, rows, cols, density);
        // Column 0 only through absent entries: its row of x is NaN and must not be read.
        for e in 0..a.nnz() {
            if a.col_idx[e] == 0 {
                a.values[e] = 0.0;
            }
        }
        for (heads, c) in [(1, 1), (1, 16), (8, 8), (3, 5)] {
            let w = heads * c;
            let mut x = rand_matrix(&mut rng, cols, w);
            x.data[..w].fill(f32::NAN);
            let d_out = rand_matrix(&mut rng, rows, w);
            let (gs, cs) = (
                gpu.upload_sparse(&a, MemCategory::Graph, "a").unwrap(),
                cpu.upload_sparse(&a, MemCategory::Graph, "a").unwrap(),
            );
            let mut go = up(&gpu, &nan_matrix(a.nnz(), heads));
            gpu.attention_spmm_backward_alpha(&gs, &up(&gpu, &x), &up(&gpu, &d_out), &mut go);
            let mut co = up(&cpu, &nan_matrix(a.nnz(), heads));
            cpu.attention_spmm_backward_alpha(&cs, &up(&cpu, &x), &up(&cpu, &d_out), &mut co);
            let (g, cv) = (down(&gpu, &go), down(&cpu, &co));
            // One dot of C terms per element in the same order (FMAs on the GPU): as head_dot.
            let abs = (c as f32 * 5e-8).max(1e-6);
            assert_close(&format!("d_alpha {rows}x{cols} heads {heads}x{c}"), &g, &cv, 1e-5, abs);
            for (e, &v) in a.values.iter().enumerate() {
                assert!(v != 0.0 || g[e * heads..(e + 1) * heads].iter().all(|&d| d == 0.0), "absent entry {e}");
            }
        }
    }
}
