//! The robust kernels (attacks, pre-aggregations, rules) against their CPU twins in
//! `backend::cpu::robust`, through the `Backend` trait on both sides. Seeded random inputs,
//! n ∈ {1, 3, 10, 33} rows (Krum needs n ≥ 3), d ∈ {1, 7, 300, 23 000} columns, outputs
//! pre-filled with NaN.
//!
//! Tolerance `|x − y| ≤ max(rel·|x + y|, abs)`: bit-equal where both sides select the same rows
//! and add them in the same order (median, trimmed mean, Krum, NNM, bucketing, the exact
//! attacks); otherwise stated per test with its reason.

use super::tests::{assert_bits_eq, assert_close, down, nan_matrix, rand_matrix, up};
use super::*;
use crate::backend::cpu::robust::krum_scores;
use crate::backend::cpu::CpuBackend;
use crate::backend::robust::{bucketing_permutation, gaussian_stream, order_key};
use crate::rng::SplitMix64;

const NS: [usize; 4] = [1, 3, 10, 33];
const DS: [usize; 4] = [1, 7, 300, 23_000];

/// Gradient-like rows: a common mean plus per-row noise of a per-row spread (as workers with
/// more or fewer training nodes have); odd columns rounded to multiples of ¼ so that exact ties
/// (broken by row index) occur.
fn gradients(rng: &mut SplitMix64, n: usize, d: usize) -> HostMatrix {
    let base: Vec<f64> = (0..d).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let spread = 0.2 + 0.6 * rng.next_f64();
        for (j, &b) in base.iter().enumerate() {
            let v = b + spread * (rng.next_f64() * 2.0 - 1.0);
            data.push(if j % 2 == 1 { (v * 4.0).round() as f32 / 4.0 } else { v as f32 });
        }
    }
    HostMatrix::from_vec(n, d, data)
}

fn aggregate<B: Backend>(
    b: &B,
    g: &HostMatrix,
    rule: &RobustStep,
    centre: Option<&HostMatrix>,
) -> (Vec<f32>, Vec<f32>) {
    let gm = up(b, g);
    let c = centre.map(|c| up(b, c));
    let mut out = up(b, &nan_matrix(1, g.cols));
    let mut sel = up(b, &nan_matrix(1, g.rows));
    b.robust_aggregate(&gm, rule, c.as_ref(), &mut out, &mut sel);
    (down(b, &out), down(b, &sel))
}

fn pre_aggregated<B: Backend>(b: &B, g: &HostMatrix, pre: &PreAggregationStep) -> Vec<f32> {
    let mut out = up(b, &nan_matrix(pre.rows_out(g.rows), g.cols));
    b.pre_aggregate(&up(b, g), pre, &mut out);
    down(b, &out)
}

fn attacked<B: Backend>(b: &B, g: &HostMatrix, flags: &[u32], attack: &AttackStep) -> Vec<f32> {
    let mut gm = up(b, g);
    let idx = b.upload_index(flags, MemCategory::Gradients, "byzantine").unwrap();
    b.byzantine_attack(&mut gm, &idx, attack);
    down(b, &gm)
}

/// Largest |x − y| / max(|x + y|, floor) over the elements: the measured error the tolerances
/// below are set against (shown with --nocapture).
fn worst(got: &[f32], want: &[f32], floor: f32) -> f32 {
    got.iter().zip(want).map(|(&x, &y)| (x - y).abs() / (x + y).abs().max(floor)).fold(0.0, f32::max)
}

#[track_caller]
fn assert_selection_sums_to_one(what: &str, sel: &[f32]) {
    let s: f32 = sel.iter().sum();
    assert!((s - 1.0).abs() < 1e-4, "{what}: selection sums to {s}: {sel:?}");
}

#[test]
fn copy_region_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(31);
    // Three "layers" of ragged sizes packed into row 1 of a 3 × 40 g, the last unpacked again.
    let layers = [rand_matrix(&mut rng, 3, 5), rand_matrix(&mut rng, 1, 7), rand_matrix(&mut rng, 2, 9)];
    let (gg, gback) = pack_unpack(&gpu, &layers);
    let (cg, cback) = pack_unpack(&cpu, &layers);
    // A byte copy: exact, and every element outside the packed ranges stays NaN.
    assert_bits_eq("copy_region packed", &gg, &cg);
    assert_bits_eq("copy_region unpacked", &gback, &layers[2].data);
    assert_bits_eq("copy_region unpacked cpu", &cback, &layers[2].data);
    assert!(gg[..40].iter().chain(&gg[40 + 15 + 7 + 18..]).all(|v| v.is_nan()), "copy_region wrote outside its range");
}

/// Packs the layers into row 1 of a NaN-filled 3 × 40 matrix and copies the last one back out.
fn pack_unpack<B: Backend>(b: &B, layers: &[HostMatrix]) -> (Vec<f32>, Vec<f32>) {
    let mut g = up(b, &nan_matrix(3, 40));
    let mut offset = 40;
    for l in layers {
        b.copy_region(&up(b, l), 0, &mut g, offset, l.data.len());
        offset += l.data.len();
    }
    let last = layers.last().unwrap();
    let mut back = up(b, &nan_matrix(last.rows, last.cols));
    b.copy_region(&g, offset - last.data.len(), &mut back, 0, last.data.len());
    (down(b, &g), down(b, &back))
}

#[test]
fn median_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(32);
    for n in NS {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            let (go, gs) = aggregate(&gpu, &g, &RobustStep::Median, None);
            let (co, cs) = aggregate(&cpu, &g, &RobustStep::Median, None);
            // Same rank selection, same additions in row order, one multiply: bit-equal.
            assert_bits_eq(&format!("median n={n} d={d}"), &go, &co);
            assert_bits_eq(&format!("median selection n={n} d={d}"), &gs, &cs);
            assert_selection_sums_to_one("median", &gs);
        }
    }
}

#[test]
fn trimmed_mean_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(33);
    for n in NS {
        for d in DS {
            let mut g = gradients(&mut rng, n, d);
            // Non-finite values in the last row: ranked as the most extreme, trimmed when f ≥ 1.
            if n >= 3 {
                for (j, v) in g.row_mut(n - 1).iter_mut().enumerate() {
                    *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN][j % 4];
                }
            }
            for f in [0, 1, (n - 1) / 2].into_iter().filter(|&f| n > 2 * f) {
                let rule = RobustStep::TrimmedMean { f };
                let (go, gs) = aggregate(&gpu, &g, &rule, None);
                let (co, cs) = aggregate(&cpu, &g, &rule, None);
                // Bit-equal, as the median.
                assert_bits_eq(&format!("trimmed_mean n={n} d={d} f={f}"), &go, &co);
                assert_bits_eq(&format!("trimmed_mean selection n={n} d={d} f={f}"), &gs, &cs);
                assert_selection_sums_to_one("trimmed_mean", &gs);
                if f >= 1 {
                    assert!(go.iter().all(|v| v.is_finite()), "n={n} d={d} f={f}: a non-finite value survived");
                }
            }
        }
    }
}

#[test]
fn trimmed_mean_handles_2d_grids() {
    // 90 workgroups under a cap of 7 per grid dimension: surplus workgroups must neither write
    // nor count.
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let g = gradients(&mut SplitMix64::new(34), 10, 23_000);
    gpu.rec().set_max_grid_dim(7);
    for rule in [RobustStep::Median, RobustStep::Krum { f: 2, m: 6 }] {
        let (go, gs) = aggregate(&gpu, &g, &rule, None);
        let (co, cs) = aggregate(&cpu, &g, &rule, None);
        // Bit-equal (see median_matches_cpu and krum_matches_cpu).
        assert_bits_eq(&format!("{rule:?} 2-D grid"), &go, &co);
        assert_bits_eq(&format!("{rule:?} 2-D grid selection"), &gs, &cs);
    }
}

#[test]
fn pairwise_sq_dists_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(35);
    for n in NS {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            let mut go = up(&gpu, &nan_matrix(n, n));
            gpu.pairwise_sq_dists(&up(&gpu, &g), &mut go);
            let mut co = up(&cpu, &nan_matrix(n, n));
            cpu.pairwise_sq_dists(&up(&cpu, &g), &mut co);
            let (go, co) = (down(&gpu, &go), down(&cpu, &co));
            // The Gram entries come from two matmuls summing d products in different orders
            // (each ≤ ~1e-6 relative to Σ|x_ik x_jk| ≤ max ‖x‖², cf. matmul_matches_cpu), and
            // D = G_ii + G_jj − 2G_ij cancels most of that magnitude: the error is absolute,
            // relative to the largest squared norm. 1e-5 of max ‖x‖² (measured ≤ 1.2e-6).
            let max_norm = (0..n).map(|i| g.row(i).iter().map(|v| v * v).sum::<f32>()).fold(0.0, f32::max);
            println!("pairwise_sq_dists n={n} d={d}: worst {:.2e}", worst(&go, &co, max_norm));
            assert_close(&format!("pairwise_sq_dists n={n} d={d}"), &go, &co, 0.0, 1e-5 * max_norm);
            for i in 0..n {
                assert_eq!(go[i * n + i].to_bits(), 0, "diagonal");
                for j in 0..n {
                    assert_eq!(go[i * n + j].to_bits(), go[j * n + i].to_bits(), "symmetric");
                }
            }
        }
    }
}

#[test]
fn pairwise_sq_dists_of_a_non_finite_row_is_infinite() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut g = gradients(&mut SplitMix64::new(45), 5, 7);
    g.row_mut(2)[3] = f32::INFINITY;
    g.row_mut(2)[0] = 0.0;
    let mut go = up(&gpu, &nan_matrix(5, 5));
    gpu.pairwise_sq_dists(&up(&gpu, &g), &mut go);
    let go = down(&gpu, &go);
    let mut co = up(&cpu, &nan_matrix(5, 5));
    cpu.pairwise_sq_dists(&up(&cpu, &g), &mut co);
    let co = down(&cpu, &co);
    // Row 2 is at +∞ from every other row (∞ − ∞ = NaN is mapped to +∞), on both sides.
    for j in (0..5).filter(|&j| j != 2) {
        for (what, d) in [("gpu", &go), ("cpu", &co)] {
            assert_eq!(d[2 * 5 + j], f32::INFINITY, "{what} D[2][{j}]");
            assert_eq!(d[j * 5 + 2], f32::INFINITY, "{what} D[{j}][2]");
        }
    }
}

#[test]
fn krum_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(36);
    for n in [3, 10, 33] {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            let f_max = (n - 3) / 2;
            for f in [0, f_max] {
                for m in [1, n - f] {
                    let rule = RobustStep::Krum { f, m };
                    let (go, gs) = aggregate(&gpu, &g, &rule, None);
                    let (co, cs) = aggregate(&cpu, &g, &rule, None);
                    // Both sides rank scores from their own distances; the choice is only
                    // well defined if the m-th and (m+1)-th CPU scores are further apart than the
                    // score error: k terms of ≤ 2e-6 · max ‖x‖² each (measured ≤ 1.2e-6 in
                    // pairwise_sq_dists_matches_cpu).
                    let mut dists = vec![0.0; n * n];
                    crate::backend::cpu::robust::pairwise_sq_dists(&g.data, n, d, &mut dists);
                    let mut scores = krum_scores(&dists, n, f);
                    scores.sort_by_key(|&s| order_key(s));
                    // Equal scores are exact on both sides (mutual nearest neighbours with k = 1:
                    // D is exactly symmetric) and broken by index alike.
                    if m < n && scores[m] != scores[m - 1] {
                        let max_norm = (0..n).map(|i| g.row(i).iter().map(|v| v * v).sum::<f32>()).fold(0.0, f32::max);
                        let err = (n - f - 2) as f32 * 2e-6 * max_norm;
                        assert!(scores[m] - scores[m - 1] > 2.0 * err, "n={n} d={d}: near-tied scores {scores:?}");
                    }
                    // Same chosen rows, combined with 0/1 weights (exact products) in row order
                    // and one multiply by 1/m: bit-equal.
                    let what = format!("krum n={n} d={d} f={f} m={m}");
                    assert_bits_eq(&format!("{what} selection"), &gs, &cs);
                    assert_bits_eq(&what, &go, &co);
                    assert_selection_sums_to_one(&what, &gs);
                }
            }
        }
    }
}

#[test]
fn krum_never_selects_an_outlier() {
    let Some(gpu) = gpu_for_tests() else { return };
    let mut rng = SplitMix64::new(37);
    let (n, d) = (10, 300);
    for outlier in [1e3, f32::INFINITY, f32::NAN] {
        let mut g = gradients(&mut rng, n, d);
        for v in g.row_mut(4) {
            *v = outlier;
        }
        for m in [1, 7] {
            let (out, sel) = aggregate(&gpu, &g, &RobustStep::Krum { f: 3, m }, None);
            assert_eq!(sel[4], 0.0, "outlier {outlier} picked with m={m}: {sel:?}");
            assert!(out.iter().all(|v| v.is_finite() && v.abs() < 10.0), "outlier {outlier} leaked into the output");
        }
    }
}

#[test]
fn geometric_median_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(38);
    for n in NS {
        for d in DS {
            let mut g = gradients(&mut rng, n, d);
            if n >= 10 {
                // Two far rows: the weights then differ a lot between rows.
                for v in g.row_mut(0) {
                    *v *= 20.0;
                }
                for v in g.row_mut(1) {
                    *v = -*v * 5.0;
                }
            }
            // tol = 0: every step runs (geometric_median_stops_on_the_device checks freezing).
            for iters in [1, 5, 20] {
                let rule = RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters };
                let (go, gs) = aggregate(&gpu, &g, &rule, None);
                let (co, cs) = aggregate(&cpu, &g, &rule, None);
                // Row space (backend::row_space): exact scalings and partial products, IEEE
                // adds in the same lane order, one division and square root each: bit-equal.
                let what = format!("geometric_median n={n} d={d} iters={iters}");
                assert_bits_eq(&format!("{what} selection"), &gs, &cs);
                assert_bits_eq(&what, &go, &co);
                assert_selection_sums_to_one(&what, &gs);
            }
        }
    }
}

#[test]
fn geometric_median_stops_on_the_device() {
    // A huge tol freezes the weights after the first step on the device: 1 step and 50 steps
    // agree bit for bit, and the dispatch count does not depend on the stop.
    let Some(gpu) = gpu_for_tests() else { return };
    let g = gradients(&mut SplitMix64::new(39), 10, 300);
    let one = aggregate(&gpu, &g, &RobustStep::GeometricMedian { nu: 1e-6, tol: 1e9, iters: 1 }, None);
    let before = gpu.counters().dispatches;
    let frozen = aggregate(&gpu, &g, &RobustStep::GeometricMedian { nu: 1e-6, tol: 1e9, iters: 50 }, None);
    let mid = gpu.counters().dispatches;
    let moving = aggregate(&gpu, &g, &RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters: 50 }, None);
    assert_eq!(mid - before, gpu.counters().dispatches - mid, "same command stream");
    assert_bits_eq("frozen out", &frozen.0, &one.0);
    assert_bits_eq("frozen weights", &frozen.1, &one.1);
    assert!(moving.1 != one.1, "tol = 0 must keep iterating");
    let cpu = aggregate(&CpuBackend::new(), &g, &RobustStep::GeometricMedian { nu: 1e-6, tol: 1e9, iters: 50 }, None);
    assert_bits_eq("frozen out, cpu", &frozen.0, &cpu.0);
}

#[test]
fn centered_clipping_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(40);
    for n in NS {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            let centre = rand_matrix(&mut rng, 1, d);
            // Row norms are about √(d/3): τ at a third of that clips most rows, τ huge none.
            let typical = (d as f32 / 3.0).sqrt();
            for (tau, iters, c) in
                [(typical / 3.0, 1, Some(&centre)), (typical / 3.0, 4, None), (1e9, 2, Some(&centre))]
            {
                let rule = RobustStep::CenteredClipping { tau, iters };
                let (go, gs) = aggregate(&gpu, &g, &rule, c);
                let (co, cs) = aggregate(&cpu, &g, &rule, c);
                // Row space, as geometric_median_matches_cpu: bit-equal.
                let what = format!("centered_clipping n={n} d={d} tau={tau} iters={iters}");
                assert_bits_eq(&format!("{what} selection"), &gs, &cs);
                assert_bits_eq(&what, &go, &co);
                assert_selection_sums_to_one(&what, &gs);
            }
        }
    }
}

/// Gradient rows with hostile rows: whole rows or single coordinates of +∞, −∞, NaN, and huge
/// finite values (1e20 … 3e38, where the Gram identity overflowed or cancelled).
fn hostile_cases(rng: &mut SplitMix64, n: usize, d: usize) -> Vec<(String, HostMatrix, Vec<bool>)> {
    let mut cases = Vec::new();
    for value in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e20, -1e30, 3e38] {
        for whole in [true, false] {
            let mut g = gradients(rng, n, d);
            // Rows 1 and 4 (of 10): whole rows, or one coordinate each (a different one).
            for (k, row) in [1, 4].into_iter().enumerate() {
                if whole {
                    g.row_mut(row).fill(value);
                } else {
                    g.row_mut(row)[(3 + 5 * k) % d] = value;
                }
            }
            // Weight 0: infinitely far (an entry not finite, or ‖(3e38, 3e38, …)‖ beyond f32), or
            // so far that 1/distance (τ/distance) is below f32's normal range (3e38 alone).
            let infinite = !value.is_finite() || value.abs() >= 3e38;
            let flags = (0..n).map(|i| infinite && (i == 1 || i == 4)).collect();
            cases.push((format!("{value:e} {}", if whole { "whole rows" } else { "one coordinate" }), g, flags));
        }
    }
    cases
}

#[test]
fn geometric_median_and_clipping_match_cpu_on_hostile_rows() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(46);
    let n = 10;
    for d in [7, 300, 23_000] {
        for (what, g, infinite) in hostile_cases(&mut rng, n, d) {
            let centre = rand_matrix(&mut rng, 1, d);
            for rule in [
                RobustStep::GeometricMedian { nu: 1e-6, tol: 1e-6, iters: 5 },
                RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters: 12 },
                RobustStep::CenteredClipping { tau: 0.1, iters: 1 },
                RobustStep::CenteredClipping { tau: 2.0, iters: 6 },
            ] {
                let what = format!("{rule:?} d={d}: {what}");
                let (go, gs) = aggregate(&gpu, &g, &rule, Some(&centre));
                let (co, cs) = aggregate(&cpu, &g, &rule, Some(&centre));
                assert_bits_eq(&format!("{what} selection"), &gs, &cs);
                assert_bits_eq(&what, &go, &co);
                // The policy: an infinitely far row weighs exactly 0, the others do not, and the
                // aggregate stays finite and among the honest rows (|x| ≤ 2 here).
                for i in 0..n {
                    assert_eq!(cs[i] == 0.0, infinite[i], "{what}: row {i} weight {}", cs[i]);
                }
                assert!(co.iter().all(|v| v.is_finite() && v.abs() < 10.0), "{what}: aggregate left the rows");
                assert_selection_sums_to_one(&what, &cs);
            }
        }
    }
}

#[test]
fn krum_and_nnm_match_cpu_on_hostile_rows() {
    // Krum, Multi-Krum and NNM keep their Gram distances: a far or non-finite row's squared
    // norm overflows to +∞ (and ∞ − ∞ is mapped to +∞), which is already "infinitely far". So
    // a hostile row is never chosen by Krum nor mixed into another row by NNM, on both sides.
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(48);
    let (n, d) = (10, 300);
    for (what, g, _) in hostile_cases(&mut rng, n, d) {
        for rule in [RobustStep::Krum { f: 2, m: 1 }, RobustStep::Krum { f: 2, m: 6 }] {
            let what = format!("{rule:?}: {what}");
            let (go, gs) = aggregate(&gpu, &g, &rule, None);
            let (co, cs) = aggregate(&cpu, &g, &rule, None);
            assert_bits_eq(&format!("{what} selection"), &gs, &cs);
            assert_bits_eq(&what, &go, &co);
            assert!(cs[1] == 0.0 && cs[4] == 0.0, "{what}: a hostile row was chosen: {cs:?}");
        }
        let pre = PreAggregationStep::Nnm { f: 2 };
        let (go, co) = (pre_aggregated(&gpu, &g, &pre), pre_aggregated(&cpu, &g, &pre));
        // Each honest row mixes itself and its 7 nearest others: the 7 other honest rows.
        for i in (0..n).filter(|&i| i != 1 && i != 4) {
            let row = |m: &[f32]| m[i * d..(i + 1) * d].to_vec();
            assert_bits_eq(&format!("nnm row {i}: {what}"), &row(&go), &row(&co));
            assert!(
                row(&co).iter().all(|v| v.is_finite() && v.abs() < 10.0),
                "nnm row {i}: {what}: mixed a hostile row"
            );
        }
    }
}

#[test]
fn geometric_median_and_clipping_long_runs_match_cpu() {
    // 33 rows of 23,000 over 30 steps: a single kernel looping over the steps stopped short on
    // llvmpipe (~65,535 loop iterations per invocation); one dispatch per step does not.
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let g = gradients(&mut SplitMix64::new(47), 33, 23_000);
    for rule in [
        RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters: 30 },
        RobustStep::CenteredClipping { tau: 5.0, iters: 30 },
    ] {
        let (go, gs) = aggregate(&gpu, &g, &rule, None);
        let (co, cs) = aggregate(&cpu, &g, &rule, None);
        assert_bits_eq(&format!("{rule:?} selection"), &gs, &cs);
        assert_bits_eq(&format!("{rule:?}"), &go, &co);
    }
}

#[test]
fn nnm_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(41);
    for n in NS {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            for f in [0, n / 3, n - 1] {
                let pre = PreAggregationStep::Nnm { f };
                // Same neighbours (from distances that agree to 1e-5 of max ‖x‖² and random
                // rows far from ties), 0/1 weights, row order, one multiply: bit-equal.
                assert_bits_eq(
                    &format!("nnm n={n} d={d} f={f}"),
                    &pre_aggregated(&gpu, &g, &pre),
                    &pre_aggregated(&cpu, &g, &pre),
                );
            }
        }
    }
}

#[test]
fn bucketing_and_none_match_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(42);
    for n in NS {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            for s in [1, 2, 3, n + 1] {
                let pre = PreAggregationStep::Bucketing { s, permutation: bucketing_permutation(7, n as u32, n) };
                // Host-built 0/1 weights, row order, one multiply: bit-equal.
                let got = pre_aggregated(&gpu, &g, &pre);
                assert_bits_eq(&format!("bucketing n={n} d={d} s={s}"), &got, &pre_aggregated(&cpu, &g, &pre));
            }
            assert_bits_eq(
                &format!("pre none n={n} d={d}"),
                &pre_aggregated(&gpu, &g, &PreAggregationStep::None),
                &g.data,
            );
        }
    }
}

#[test]
fn byzantine_attack_matches_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(43);
    for n in NS {
        for d in DS {
            let g = gradients(&mut rng, n, d);
            // Every third worker Byzantine (none for n = 1), at least one honest.
            let flags: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 1)).collect();
            // The last honest row: a kernel that ignored the target and copied row 0 would differ.
            let target = flags.iter().rposition(|&b| b == 0).unwrap() as u32;
            let attacks = [
                AttackStep::None,
                AttackStep::OwnMultiple { factor: -1.0 },
                AttackStep::OwnMultiple { factor: -3.5 },
                AttackStep::Zero,
                AttackStep::Mimic { target },
                AttackStep::MeanMultiple { factor: -0.1 },
                AttackStep::Alie { z: 1.2 },
                AttackStep::Gaussian { sigma: 2.0, stream: gaussian_stream(5, n as u32) },
            ];
            for attack in attacks {
                let what = format!("{attack:?} n={n} d={d}");
                let (ga, ca) = (attacked(&gpu, &g, &flags, &attack), attacked(&cpu, &g, &flags, &attack));
                for i in (0..n).filter(|&i| flags[i] == 0) {
                    assert_bits_eq(&format!("{what}: honest row {i}"), &ga[i * d..(i + 1) * d], g.row(i));
                }
                match attack {
                    // One multiply, zero, a copy: bit-equal.
                    AttackStep::None | AttackStep::OwnMultiple { .. } | AttackStep::Zero | AttackStep::Mimic { .. } => {
                        assert_bits_eq(&what, &ga, &ca)
                    }
                    // Honest mean and std summed in the same order, but GPU division and sqrt may
                    // be a few ulps off and μ − zσ may become an FMA: 1e-5 relative; 1e-6
                    // absolute where μ − zσ cancels (values O(1)).
                    AttackStep::MeanMultiple { .. } | AttackStep::Alie { .. } => {
                        assert_close(&what, &ga, &ca, 1e-5, 1e-6)
                    }
                    // As above plus GPU log/cos/sqrt in Box–Muller: Vulkan allows cos an
                    // absolute error of 2^-11 on [−π, π] and log a few ulps, and √(−2 ln u1) ≤ 5.8,
                    // so a conforming device may be ~3e-3·σ off (lavapipe's cos: measured up to
                    // 1.5e-4 · |x + y|, i.e. ~5e-4·σ).
                    AttackStep::Gaussian { sigma, .. } => {
                        println!("{what}: worst {:.2e}", worst(&ga, &ca, 1.0));
                        assert_close(&what, &ga, &ca, 1e-5, 3e-3 * sigma)
                    }
                }
            }
        }
    }
}

#[test]
fn one_submission_for_attack_pre_aggregation_and_rule() {
    // The whole robust server step records into the open encoder: no submission (readback or
    // host decision) until the download.
    let Some(gpu) = gpu_for_tests() else { return };
    let mut rng = SplitMix64::new(44);
    let (n, d) = (10, 300);
    let mut g = up(&gpu, &gradients(&mut rng, n, d));
    let flags = gpu.upload_index(&[0, 1, 0, 0, 1, 0, 0, 0, 0, 0], MemCategory::Gradients, "byz").unwrap();
    let pre = PreAggregationStep::Bucketing { s: 2, permutation: bucketing_permutation(1, 2, n) };
    let mut mixed = up(&gpu, &nan_matrix(pre.rows_out(n), d));
    let mut nnm = up(&gpu, &nan_matrix(n, d));
    let mut out = up(&gpu, &nan_matrix(1, d));
    let mut sel5 = up(&gpu, &nan_matrix(1, 5));
    let mut sel10 = up(&gpu, &nan_matrix(1, n));
    let centre = up(&gpu, &rand_matrix(&mut rng, 1, d));
    gpu.flush().unwrap();
    let before = gpu.counters().submissions;
    gpu.byzantine_attack(&mut g, &flags, &AttackStep::Alie { z: 1.0 });
    gpu.pre_aggregate(&g, &PreAggregationStep::Nnm { f: 2 }, &mut nnm);
    gpu.pre_aggregate(&g, &pre, &mut mixed);
    for rule in [
        RobustStep::Median,
        RobustStep::Krum { f: 1, m: 2 },
        RobustStep::GeometricMedian { nu: 1e-6, tol: 1e-6, iters: 5 },
        RobustStep::CenteredClipping { tau: 1.0, iters: 3 },
    ] {
        gpu.robust_aggregate(&mixed, &rule, Some(&centre), &mut out, &mut sel5);
        gpu.robust_aggregate(&nnm, &rule, Some(&centre), &mut out, &mut sel10);
    }
    assert_eq!(gpu.counters().submissions, before, "a robust op submitted work");
    let last = down(&gpu, &out);
    assert!(last.iter().all(|v| v.is_finite()));
}
