//! The graph-attention CPU twins: known answers on hand-computed cases, central finite
//! differences of each forward against its backward (f64 accumulation of Σ w ⊙ output), and the
//! attention dropout's mask as a function of global ids only.

use super::ops::{self, CsrView};
use crate::backend::DropoutSpec;
use crate::graph::Csr;
use crate::rng::{self, MaskKey, SplitMix64};

/// A CSR for the attention tests, `rows` destinations over `cols` sources: row 0 and every 7th
/// row have no entries, row 1 has every source (longer than one 256-wide workgroup when
/// `cols` > 256), row 2's entries are all absent (value 0), and about a fifth of the other
/// entries are absent.
pub(crate) fn attention_csr(rng: &mut SplitMix64, rows: usize, cols: usize, density: f64) -> Csr {
    let mut row_ptr = vec![0u32];
    let (mut col_idx, mut values) = (Vec::new(), Vec::new());
    for r in 0..rows {
        if r % 7 != 0 {
            for c in 0..cols {
                if r == 1 || rng.next_f64() < density {
                    col_idx.push(c as u32);
                    let absent = r == 2 || (r != 1 && rng.below(5) == 0);
                    values.push(if absent { 0.0 } else { 1.0 });
                }
            }
        }
        row_ptr.push(col_idx.len() as u32);
    }
    Csr { rows, cols, row_ptr, col_idx, values }
}

pub(crate) fn random(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    (0..n).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect()
}

fn view(a: &Csr) -> CsrView<'_> {
    CsrView { rows: a.rows, cols: a.cols, row_ptr: &a.row_ptr, col_idx: &a.col_idx, values: &a.values }
}

fn softmax(a: &Csr, s_src: &[f32], s_dst: &[f32], heads: usize, slope: f32) -> (Vec<f32>, Vec<f32>) {
    let n = a.nnz() * heads;
    let (mut pre, mut alpha) = (vec![f32::NAN; n], vec![f32::NAN; n]);
    ops::edge_softmax(&view(a), s_src, s_dst, heads, slope, &mut pre, &mut alpha);
    (pre, alpha)
}

fn weighted(out: &[f32], w: &[f32]) -> f64 {
    out.iter().zip(w).map(|(&o, &w)| o as f64 * w as f64).sum()
}

/// Row 0: three entries, the last absent; row 1: none; row 2: one absent entry. One head.
#[test]
fn edge_softmax_known_answer() {
    let a = Csr {
        rows: 3,
        cols: 3,
        row_ptr: vec![0, 3, 3, 4],
        col_idx: vec![0, 1, 2, 1],
        values: vec![1.0, 2.0, 0.0, 0.0],
    };
    let (s_src, s_dst, slope) = ([1.0f32, 0.0, 5.0], [-1.0f32, 3.0, 2.0], 0.2);
    let (pre, alpha) = softmax(&a, &s_src, &s_dst, 1, slope);
    assert_eq!(pre, [0.0, -1.0, 4.0, 2.0]);
    // LeakyReLU(0) = 0, LeakyReLU(−1) = −0.2: softmax of (0, −0.2); the absent 4 takes no part.
    let z = 1.0 + (-0.2f64).exp();
    let want = [1.0 / z, (-0.2f64).exp() / z];
    for (got, want) in alpha[..2].iter().zip(want) {
        assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert_eq!(&alpha[2..], &[0.0, 0.0], "absent entries get α = 0, a row with none is all 0");
    // dα = (1, 0, 7, 7): dot = α₀; d_pre = α·(dα − α₀)·slope (pre ≤ 0 on both), 0 when absent.
    let d_alpha = [1.0f32, 0.0, 7.0, 7.0];
    let mut d_pre = [f32::NAN; 4];
    ops::edge_softmax_backward(&view(&a), &pre, &alpha, &d_alpha, 1, slope, &mut d_pre);
    let a0 = want[0];
    let expect = [a0 * (1.0 - a0) * 0.2, want[1] * (0.0 - a0) * 0.2];
    for (got, want) in d_pre[..2].iter().zip(expect) {
        assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert_eq!(&d_pre[2..], &[0.0, 0.0]);
}

/// Two heads with different scores give each head its own softmax; α sums to 1 over a row's
/// present entries and is exactly 0 on absent ones.
#[test]
fn edge_softmax_rows_sum_to_one_per_head() {
    let mut rng = SplitMix64::new(3);
    let (rows, cols, heads) = (40, 300, 3);
    let a = attention_csr(&mut rng, rows, cols, 0.1);
    let (s_src, s_dst) = (random(&mut rng, cols * heads), random(&mut rng, rows * heads));
    let (_, alpha) = softmax(&a, &s_src, &s_dst, heads, 0.2);
    for i in 0..rows {
        let span = a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize;
        let present = span.clone().filter(|&e| a.values[e] != 0.0).count();
        for h in 0..heads {
            let sum: f64 = span.clone().map(|e| alpha[e * heads + h] as f64).sum();
            let want = if present > 0 { 1.0 } else { 0.0 };
            assert!((sum - want).abs() < 1e-5, "row {i} head {h}: Σα = {sum}");
            assert!(span.clone().all(|e| a.values[e] != 0.0 || alpha[e * heads + h] == 0.0), "row {i}: absent α");
        }
    }
}

/// Central differences of L = Σ w ⊙ α with respect to the scores, against the backward chained
/// through pre = s_src[j] + s_dst[i]. Coordinates whose perturbation moves a pre across
/// LeakyReLU's kink are skipped (the derivative jumps there).
#[test]
fn edge_softmax_backward_matches_finite_differences() {
    for (heads, seed) in [(1, 5), (2, 6)] {
        let mut rng = SplitMix64::new(seed);
        let (rows, cols, slope, eps) = (15, 12, 0.2f32, 1e-2f32);
        let a = attention_csr(&mut rng, rows, cols, 0.4);
        let (s_src, s_dst) = (random(&mut rng, cols * heads), random(&mut rng, rows * heads));
        let w = random(&mut rng, a.nnz() * heads);
        let (pre, alpha) = softmax(&a, &s_src, &s_dst, heads, slope);
        let mut d_pre = vec![f32::NAN; a.nnz() * heads];
        ops::edge_softmax_backward(&view(&a), &pre, &alpha, &w, heads, slope, &mut d_pre);
        assert!(d_pre.iter().enumerate().all(|(k, &d)| a.values[k / heads] != 0.0 || d == 0.0), "0 on absent entries");
        let (mut d_src, mut d_dst) = (vec![0.0f64; cols * heads], vec![0.0f64; rows * heads]);
        for i in 0..rows {
            for e in a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize {
                for h in 0..heads {
                    d_src[a.col_idx[e] as usize * heads + h] += d_pre[e * heads + h] as f64;
                    d_dst[i * heads + h] += d_pre[e * heads + h] as f64;
                }
            }
        }
        let loss = |s_src: &[f32], s_dst: &[f32]| weighted(&softmax(&a, s_src, s_dst, heads, slope).1, &w);
        let near_kink = |pick: &dyn Fn(usize, usize) -> bool, h: usize| {
            (0..rows).any(|i| {
                (a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize)
                    .any(|e| pick(i, a.col_idx[e] as usize) && pre[e * heads + h].abs() < 2.0 * eps)
            })
        };
        let mut checked = 0;
        for (which, n) in [("s_src", cols), ("s_dst", rows)] {
            for node in 0..n {
                for h in 0..heads {
                    let pick = |i: usize, j: usize| if which == "s_src" { j == node } else { i == node };
                    if near_kink(&pick, h) {
                        continue;
                    }
                    let (mut src, mut dst) = (s_src.clone(), s_dst.clone());
                    let target = if which == "s_src" { &mut src } else { &mut dst };
                    target[node * heads + h] += eps;
                    let up = loss(&src, &dst);
                    let target = if which == "s_src" { &mut src } else { &mut dst };
                    target[node * heads + h] -= 2.0 * eps;
                    let fd = (up - loss(&src, &dst)) / (2.0 * eps as f64);
                    let an = if which == "s_src" { d_src[node * heads + h] } else { d_dst[node * heads + h] };
                    assert!(
                        (fd - an).abs() <= 1e-3 + 1e-2 * an.abs(),
                        "heads {heads} {which}[{node}, {h}]: fd {fd} vs {an}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= (rows + cols) * heads / 2, "heads {heads}: only {checked} coordinates away from the kink");
    }
}

fn attention_spmm(a: &Csr, perm: Option<&[u32]>, alpha: &[f32], heads: usize, x: &[f32], k: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; a.rows * k];
    ops::attention_spmm(&view(a), perm, alpha, heads, x, k, &mut out);
    out
}

/// Two heads of one column each: out[i, h] = Σ α[e, h] · x[j, h].
#[test]
fn attention_spmm_known_answer() {
    let a = Csr { rows: 3, cols: 2, row_ptr: vec![0, 2, 2, 3], col_idx: vec![0, 1, 1], values: vec![1.0; 3] };
    let alpha = [0.25f32, 1.0, 0.75, 0.0, 0.5, 2.0];
    let x = [1.0f32, 10.0, 2.0, 20.0];
    let out = attention_spmm(&a, None, &alpha, 2, &x, 2);
    assert_eq!(out, [0.25 + 0.75 * 2.0, 10.0, 0.0, 0.0, 0.5 * 2.0, 2.0 * 20.0]);
    // Through a permutation: entry e reads α's row perm[e].
    let out = attention_spmm(&a, Some(&[2, 1, 0]), &alpha, 2, &x, 2);
    assert_eq!(out, [0.5 + 0.75 * 2.0, 2.0 * 10.0, 0.0, 0.0, 0.25 * 2.0, 20.0]);
}

/// The transpose's call with the permutation is the gradient of Σ w ⊙ attention_spmm(a, α, x)
/// with respect to x, checked by central differences; absent entries (α = 0) contribute none.
#[test]
fn attention_spmm_transposed_is_the_gradient_of_the_forward() {
    for (heads, c, seed) in [(1, 3, 8), (3, 2, 9)] {
        let mut rng = SplitMix64::new(seed);
        let (rows, cols, k, eps) = (14, 11, heads * c, 1e-2f32);
        let a = attention_csr(&mut rng, rows, cols, 0.4);
        let (s_src, s_dst) = (random(&mut rng, cols * heads), random(&mut rng, rows * heads));
        let alpha = softmax(&a, &s_src, &s_dst, heads, 0.2).1;
        let (x, w) = (random(&mut rng, cols * k), random(&mut rng, rows * k));
        let (t, perm) = a.transpose_with_permutation();
        let grad = attention_spmm(&t, Some(&perm), &alpha, heads, &w, k);
        let loss = |x: &[f32]| weighted(&attention_spmm(&a, None, &alpha, heads, x, k), &w);
        for m in 0..cols * k {
            let mut xp = x.clone();
            xp[m] += eps;
            let up = loss(&xp);
            xp[m] -= 2.0 * eps;
            let fd = (up - loss(&xp)) / (2.0 * eps as f64);
            let an = grad[m] as f64;
            assert!((fd - an).abs() <= 1e-4 + 1e-3 * an.abs(), "heads {heads} x[{m}]: fd {fd} vs {an}");
        }
    }
}

fn edge_dropout(a: &Csr, rows: &[u32], cols: &[u32], spec: &DropoutSpec, x: &[f32], heads: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; x.len()];
    ops::edge_dropout(&view(a), rows, cols, spec, x, heads, &mut out);
    out
}

/// The documented formula; the same edge in a partition's renumbered CSR (a subset of the
/// destinations, sources in another local order) draws the same mask; about 1 − rate is kept.
#[test]
#[allow(clippy::needless_range_loop)] // row i indexes row_ptr and row_ids
fn edge_dropout_mask_is_a_function_of_global_ids() {
    let mut rng = SplitMix64::new(12);
    let (rows, cols, heads) = (60, 50, 8);
    let a = attention_csr(&mut rng, rows, cols, 0.3);
    let row_ids: Vec<u32> = (0..rows as u32).map(|r| 1000 + 3 * r).collect();
    let col_ids: Vec<u32> = (0..cols as u32).map(|c| 5000 + 7 * c).collect();
    let spec = DropoutSpec::new(MaskKey { seed: 2, epoch: 5, layer: 1 }, 0.6);
    // x depends on the global edge and head only, so both numberings see the same inputs.
    let value = |dst: u32, src: u32, h: usize| 1.0 + ((dst * 31 + src * 17) % 97) as f32 / 97.0 + h as f32;
    let per_edge = |a: &Csr, rid: &[u32], cid: &[u32]| -> Vec<f32> {
        (0..a.rows)
            .flat_map(|i| (a.row_ptr[i]..a.row_ptr[i + 1]).map(move |e| (i, e as usize)))
            .flat_map(|(i, e)| (0..heads).map(move |h| (i, e, h)))
            .map(|(i, e, h)| value(rid[i], cid[a.col_idx[e] as usize], h))
            .collect()
    };
    let x = per_edge(&a, &row_ids, &col_ids);
    let out = edge_dropout(&a, &row_ids, &col_ids, &spec, &x, heads);
    let mut kept = 0;
    for i in 0..rows {
        for e in a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize {
            let key = rng::edge_mask_key(spec.stream, row_ids[i], col_ids[a.col_idx[e] as usize]);
            for h in 0..heads {
                let keep = rng::mask_uniform_in_row(key, h as u32) >= spec.rate;
                let want = if keep { x[e * heads + h] * spec.scale } else { 0.0 };
                assert_eq!(out[e * heads + h].to_bits(), want.to_bits(), "entry {e} head {h}");
                kept += keep as usize;
            }
        }
    }
    let frac = kept as f64 / out.len() as f64;
    assert!((frac - 0.4).abs() < 0.03, "kept {frac} of {}", out.len());
    // The odd destinations, sources numbered backwards.
    let sub_rows: Vec<usize> = (1..rows).step_by(2).collect();
    let mut sub = Csr { rows: sub_rows.len(), cols, row_ptr: vec![0], col_idx: Vec::new(), values: Vec::new() };
    for &r in &sub_rows {
        let mut entries: Vec<u32> = a.row(r).iter().map(|&c| (cols - 1) as u32 - c).collect();
        entries.sort_unstable();
        sub.values.extend(entries.iter().map(|_| 1.0));
        sub.col_idx.extend(entries);
        sub.row_ptr.push(sub.col_idx.len() as u32);
    }
    let sub_row_ids: Vec<u32> = sub_rows.iter().map(|&r| row_ids[r]).collect();
    let sub_col_ids: Vec<u32> = (0..cols).map(|c| col_ids[cols - 1 - c]).collect();
    let sub_x = per_edge(&sub, &sub_row_ids, &sub_col_ids);
    let sub_out = edge_dropout(&sub, &sub_row_ids, &sub_col_ids, &spec, &sub_x, heads);
    for (li, &r) in sub_rows.iter().enumerate() {
        for e in sub.row_ptr[li] as usize..sub.row_ptr[li + 1] as usize {
            let src = (cols - 1) as u32 - sub.col_idx[e];
            let full = a.row_ptr[r] as usize + a.row(r).iter().position(|&c| c == src).expect("same edge");
            for h in 0..heads {
                assert_eq!(
                    sub_out[e * heads + h].to_bits(),
                    out[full * heads + h].to_bits(),
                    "edge {r}->{src} head {h}"
                );
            }
        }
    }
}

/// Each op on a CSR of many row chunks (serially with one head, in parallel with 8) gives, bit
/// for bit, what it gives on each row alone: the chunked loops find every row's entries.
#[test]
fn attention_twins_split_rows_alike() {
    for (heads, seed) in [(1, 51), (8, 52)] {
        let mut rng = SplitMix64::new(seed);
        let (rows, cols, c, slope) = (700, 300, 3, 0.2);
        let k = heads * c;
        let a = attention_csr(&mut rng, rows, cols, 0.03);
        let n = a.nnz() * heads;
        let (s_src, s_dst) = (random(&mut rng, cols * heads), random(&mut rng, rows * heads));
        let (d_alpha, x) = (random(&mut rng, n), random(&mut rng, cols * k));
        let row_ids: Vec<u32> = (0..rows as u32).map(|r| r * 13 + 5).collect();
        let col_ids: Vec<u32> = (0..cols as u32).map(|c| c * 11 + 2).collect();
        let spec = DropoutSpec::new(MaskKey { seed: 3, epoch: 1, layer: 0 }, 0.5);
        // pre, α, d_pre, dropped α and out on (a, its scores and per-edge inputs, its ids).
        let run = |a: &Csr, s_dst: &[f32], d_alpha: &[f32], row_ids: &[u32]| {
            let (pre, alpha) = softmax(a, &s_src, s_dst, heads, slope);
            let mut d_pre = vec![f32::NAN; alpha.len()];
            ops::edge_softmax_backward(&view(a), &pre, &alpha, d_alpha, heads, slope, &mut d_pre);
            let dropped = edge_dropout(a, row_ids, &col_ids, &spec, &alpha, heads);
            let out = attention_spmm(a, None, &alpha, heads, &x, k);
            [pre, alpha, d_pre, dropped, out]
        };
        let full = run(&a, &s_dst, &d_alpha, &row_ids);
        for i in 0..rows {
            let span = a.row_ptr[i] as usize..a.row_ptr[i + 1] as usize;
            let one = Csr {
                rows: 1,
                cols,
                row_ptr: vec![0, span.len() as u32],
                col_idx: a.col_idx[span.clone()].to_vec(),
                values: a.values[span.clone()].to_vec(),
            };
            let edges = span.start * heads..span.end * heads;
            let alone = run(&one, &s_dst[i * heads..(i + 1) * heads], &d_alpha[edges.clone()], &row_ids[i..=i]);
            for (what, (f, o)) in ["pre", "alpha", "d_pre", "edge_dropout"].iter().zip(full.iter().zip(&alone)) {
                let same = f[edges.clone()].iter().zip(o).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "heads {heads} row {i}: {what}");
            }
            let same = full[4][i * k..(i + 1) * k].iter().zip(&alone[4]).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "heads {heads} row {i}: attention_spmm");
        }
    }
}
