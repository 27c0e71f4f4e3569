//! CPU twins of the robust kernels, on plain row-major slices (`g` is n × d). Each function has a
//! WGSL kernel of the same name and mirrors its arithmetic: the coordinate-wise rules select the
//! same rows (ties by index, NaN above +∞) and sum them in row order, so `trimmed_mean` (and
//! the median) are bit-equal to the GPU; combinations with 0/1 weights (Krum, NNM, bucketing)
//! are bit-equal given the same selection. Krum's and NNM's distances start from the Gram
//! matrix of a different matmul, so those agree within the tolerances stated in the GPU tests.
//!
//! The geometric median and centered clipping work in row space (`backend::row_space`):
//! distances over the differences themselves, scaled by a power of two, and combinations
//! with exact partial products, in the same fixed order as the kernels, so they are bit-equal
//! to the GPU wherever its division and square root are correctly rounded (lavapipe), and a
//! non-finite or too-far row gets weight 0 on both.

use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2};

use crate::backend::robust::{gaussian_noise, order_key, AttackStep, PreAggregationStep, RobustStep};
use crate::backend::row_space::{add, clip_factor, ftz, mul_add, row_distances, weighted_rows, weiszfeld_weights};

/// The selection scale of a rank window averaging k of n values over d coordinates: a row that
/// was averaged in every coordinate gets 1/k.
pub fn trimmed_mean_selection_scale(d: usize, k: usize) -> f32 {
    (1.0 / (d as f64 * k as f64)) as f32
}

/// Per coordinate, the values of rank lo..hi (ties by row index, [`order_key`] order) summed in
/// row order, times 1/(hi − lo). `selection[i]` = (coordinates where row i was averaged) /
/// (d · (hi − lo)).
pub fn trimmed_mean(g: &[f32], n: usize, d: usize, lo: usize, hi: usize, out: &mut [f32], selection: &mut [f32]) {
    assert!(lo < hi && hi <= n, "trimmed_mean: rank window {lo}..{hi} of {n} rows");
    assert_eq!(g.len(), n * d, "trimmed_mean: g must be {n}x{d}");
    assert!(out.len() == d && selection.len() == n, "trimmed_mean: out must be 1x{d}, selection 1x{n}");
    let scale = 1.0 / (hi - lo) as f32;
    let mut counts = vec![0u32; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut averaged = vec![false; n];
    for j in 0..d {
        // Sorting by (key, row) gives every row its rank (= the GPU's rank count).
        order.sort_unstable_by_key(|&i| (order_key(g[i * d + j]), i));
        averaged.fill(false);
        for &i in &order[lo..hi] {
            averaged[i] = true;
        }
        // Starts from the first averaged value, not 0 + it: compilers may fold 0 + x into x,
        // which differs for x = −0.
        let mut acc: Option<f32> = None;
        for i in 0..n {
            if averaged[i] {
                let x = g[i * d + j];
                acc = Some(acc.map_or(x, |a| a + x));
                counts[i] += 1;
            }
        }
        out[j] = acc.expect("the window is not empty") * scale;
    }
    let sel_scale = trimmed_mean_selection_scale(d, hi - lo);
    for (s, &c) in selection.iter_mut().zip(&counts) {
        *s = c as f32 * sel_scale;
    }
}

/// `out (n × n) = g gᵀ`.
pub fn gram(g: &[f32], n: usize, d: usize, out: &mut [f32]) {
    let a = ArrayView2::from_shape((n, d), g).expect("gram: g must be n × d");
    let o = ArrayViewMut2::from_shape((n, n), out).expect("gram: out must be n × n");
    let mut o = o;
    general_mat_mul(1.0, &a, &a.t(), 0.0, &mut o);
}

/// D_ij = max(G_ii + G_jj − 2 G_ij, 0) from the upper triangle of the Gram matrix (so D is
/// exactly symmetric), D_ii = 0; NaN (∞ − ∞ of a non-finite row) becomes +∞: such a row is
/// infinitely far from every other.
pub fn pairwise_sq_dists_from_gram(gram: &[f32], m: usize, out: &mut [f32]) {
    assert!(gram.len() == m * m && out.len() == m * m, "pairwise_sq_dists: {m}x{m} matrices");
    for i in 0..m {
        for j in 0..m {
            out[i * m + j] = if i == j {
                0.0
            } else {
                let (a, b) = (i.min(j), i.max(j));
                let x = gram[a * m + b];
                clamp_sq_dist((gram[a * m + a] + gram[b * m + b]) - (x + x))
            };
        }
    }
}

/// As the WGSL twin, by the sign bit: −0 becomes +0 too.
fn clamp_sq_dist(v: f32) -> f32 {
    if v.is_nan() {
        f32::INFINITY
    } else if v.is_sign_negative() {
        0.0
    } else {
        v
    }
}

/// Squared Euclidean distances between the rows of g (n × d), through the Gram matrix.
pub fn pairwise_sq_dists(g: &[f32], n: usize, d: usize, out: &mut [f32]) {
    let mut gm = vec![0.0f32; n * n];
    gram(g, n, d, &mut gm);
    pairwise_sq_dists_from_gram(&gm, n, out);
}

/// The k columns j ≠ i of row i of D with the smallest distances (ties by index), as flags.
fn nearest_others(row: &[f32], i: usize, k: usize) -> Vec<bool> {
    let mut others: Vec<usize> = (0..row.len()).filter(|&j| j != i).collect();
    others.sort_by_key(|&j| order_key(row[j]));
    let mut chosen = vec![false; row.len()];
    for &j in &others[..k] {
        chosen[j] = true;
    }
    chosen
}

/// Krum scores: Σ of the n − f − 2 smallest squared distances from row i to the others, summed
/// in column order.
pub fn krum_scores(dists: &[f32], n: usize, f: usize) -> Vec<f32> {
    let k = n - f - 2;
    (0..n)
        .map(|i| {
            let row = &dists[i * n..(i + 1) * n];
            let chosen = nearest_others(row, i, k);
            let mut s = 0.0f32;
            for j in 0..n {
                if chosen[j] {
                    s += row[j];
                }
            }
            s
        })
        .collect()
}

/// Multi-Krum: `weights[i]` = 1 for the m rows of lowest score (ties by index, NaN last), else
/// 0; `selection[i]` = weights[i] / m.
pub fn krum(dists: &[f32], n: usize, f: usize, m: usize, weights: &mut [f32], selection: &mut [f32]) {
    let scores = krum_scores(dists, n, f);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| order_key(scores[i]));
    weights.fill(0.0);
    selection.fill(0.0);
    let inv_m = 1.0 / m as f32;
    for &i in &order[..m] {
        weights[i] = 1.0;
        selection[i] = inv_m;
    }
}

/// NNM mixing weights (n × n): row i has 1 on itself and on its n − f − 1 nearest other rows.
pub fn nnm(dists: &[f32], n: usize, f: usize, weights: &mut [f32]) {
    for i in 0..n {
        let mut chosen = nearest_others(&dists[i * n..(i + 1) * n], i, n - f - 1);
        chosen[i] = true;
        for j in 0..n {
            weights[i * n + j] = if chosen[j] { 1.0 } else { 0.0 };
        }
    }
}

/// `out[r] = scales[r] · Σ_{i: w_ri ≠ 0} w_ri · g[i]`, rows in order (out is rows × d).
pub fn combine_rows(g: &[f32], n: usize, d: usize, weights: &[f32], scales: &[f32], out: &mut [f32]) {
    let rows = scales.len();
    assert!(weights.len() == rows * n && out.len() == rows * d, "combine_rows: {rows} output rows of {n} inputs");
    for r in 0..rows {
        let dst = &mut out[r * d..(r + 1) * d];
        dst.fill(0.0);
        // The first term is w·x, not 0 + w·x (see trimmed_mean).
        let mut first = true;
        for i in 0..n {
            let w = weights[r * n + i];
            if w != 0.0 {
                for (o, &x) in dst.iter_mut().zip(&g[i * d..(i + 1) * d]) {
                    *o = if first { w * x } else { *o + w * x };
                }
                first = false;
            }
        }
        for o in dst.iter_mut() {
            *o *= scales[r];
        }
    }
}

/// Smoothed Weiszfeld (RFA) in row space from the coordinate-wise median: `iters` steps of
/// dᵢ = ‖z − xᵢ‖, w = [`weiszfeld_weights`], z ← Σ wᵢ xᵢ ([`weighted_rows`]). Once a step's
/// change ‖z' − z‖ is below tol · ‖z'‖ (strictly, so tol = 0 never stops) the weights freeze;
/// z then repeats bit for bit, so the loop may stop. Writes z to `out` and w to `selection`.
///
/// The median start: from the mean, a few far rows (σ = 200 noise) drag z so far that five
/// steps cannot come back; the median starts among the honest rows.
#[allow(clippy::too_many_arguments)]
pub fn geometric_median(
    g: &[f32],
    n: usize,
    d: usize,
    nu: f32,
    tol: f32,
    iters: u32,
    out: &mut [f32],
    selection: &mut [f32],
) {
    let (lo, hi) = RobustStep::Median.rank_window(n).expect("the median has a rank window");
    let mut z = vec![0.0f32; d];
    trimmed_mean(g, n, d, lo, hi, &mut z, selection);
    let mut prev = vec![0.0f32; d];
    let mut w = vec![0.0f32; n];
    let mut dists = vec![0.0f32; n + 2];
    for t in 0..iters {
        row_distances(g, n, d, &z, (t > 0).then_some(&prev[..]), &mut dists);
        if t > 0 && dists[n] < tol * dists[n + 1] {
            break;
        }
        weiszfeld_weights(&dists, nu, &mut w);
        std::mem::swap(&mut z, &mut prev);
        weighted_rows(g, n, d, &w, &mut z);
    }
    out.copy_from_slice(&z);
    selection[..n].copy_from_slice(&w);
}

/// Centered clipping in row space over the n rows and the centre (row n of `points`, (n+1) × d):
/// from v = centre, `iters` rounds of sᵢ = [`clip_factor`](‖xᵢ − v‖, τ),
/// v ← (1 − Σs/n) v + Σ sᵢ xᵢ / n, tracked as weights over the n + 1 points ([`clip_round`])
/// and formed with [`weighted_rows`]. Writes v to `out` and `selection[i]` = Σ_t sᵢ / Σ_t Σ_k
/// s_k (all 0 when every row was infinitely far in every round: v stays at the centre).
pub fn centered_clipping(
    points: &[f32],
    n: usize,
    d: usize,
    tau: f32,
    iters: u32,
    out: &mut [f32],
    selection: &mut [f32],
) {
    let m = n + 1;
    let mut w = vec![0.0f32; m];
    let mut clip = vec![0.0f32; n];
    let mut v = points[n * d..m * d].to_vec();
    let mut dists = vec![0.0f32; n];
    for t in 0..iters {
        row_distances(points, n, d, &v, None, &mut dists);
        clip_round(&dists, tau, t, &mut w, &mut clip);
        weighted_rows(points, m, d, &w, &mut v);
    }
    out.copy_from_slice(&v);
    clip_selection(&clip, selection);
}

/// One round of centered clipping on the weights w over the n + 1 points (round 0 starts from
/// the centre, w = e_n) and the running clip sums; twin of `shaders/centered_clipping.wgsl`.
pub fn clip_round(dists: &[f32], tau: f32, round: u32, w: &mut [f32], clip: &mut [f32]) {
    let n = clip.len();
    if round == 0 {
        w.fill(0.0);
        w[n] = 1.0;
        clip.fill(0.0);
    }
    let s: Vec<f32> = dists[..n].iter().map(|&d| clip_factor(d, tau)).collect();
    let total = s.iter().fold(0.0, |acc, &x| add(acc, x));
    let keep = ftz(1.0 - ftz(total / n as f32));
    for (k, wk) in w.iter_mut().enumerate() {
        let base = if k < n { ftz(s[k] / n as f32) } else { 0.0 };
        *wk = mul_add(base, keep, *wk);
    }
    for (c, &x) in clip.iter_mut().zip(&s) {
        *c = add(*c, x);
    }
}

/// Each row's share of the clip sums (0 everywhere when they are all 0).
pub fn clip_selection(clip: &[f32], selection: &mut [f32]) {
    let total = clip.iter().fold(0.0, |acc, &x| add(acc, x));
    for (sel, &c) in selection.iter_mut().zip(clip) {
        *sel = if total == 0.0 { 0.0 } else { ftz(c / total) };
    }
}

/// Rewrites the Byzantine rows of g (n × d) in place; `flags[i]` = 1 marks row i Byzantine.
/// Honest statistics are summed in row order: mean = Σ / h, sample variance = Σ (x − μ)² /
/// (h − 1) (0 for h = 1).
pub fn byzantine_attack(g: &mut [f32], n: usize, d: usize, flags: &[u32], attack: &AttackStep) {
    assert_eq!(flags.len(), n, "byzantine_attack: one flag per row");
    assert_eq!(g.len(), n * d, "byzantine_attack: g must be {n}x{d}");
    if *attack == AttackStep::None {
        return;
    }
    let byzantine: Vec<usize> = (0..n).filter(|&i| flags[i] != 0).collect();
    let honest: Vec<usize> = (0..n).filter(|&i| flags[i] == 0).collect();
    let h = honest.len() as f32;
    let omniscient =
        matches!(attack, AttackStep::MeanMultiple { .. } | AttackStep::Alie { .. } | AttackStep::Gaussian { .. });
    for j in 0..d {
        // Statistics of the honest rows, which the attack never writes.
        let mu = if omniscient { honest.iter().fold(0.0f32, |acc, &i| acc + g[i * d + j]) / h } else { 0.0 };
        let sigma = if let AttackStep::Alie { .. } = attack {
            let var = honest.iter().fold(0.0f32, |acc, &i| {
                let dev = g[i * d + j] - mu;
                acc + dev * dev
            });
            if honest.len() > 1 {
                (var / (h - 1.0)).sqrt()
            } else {
                0.0
            }
        } else {
            0.0
        };
        for &i in &byzantine {
            let x = g[i * d + j];
            g[i * d + j] = match *attack {
                AttackStep::None => x,
                AttackStep::OwnMultiple { factor } => factor * x,
                AttackStep::Zero => 0.0,
                AttackStep::Mimic { target } => g[target as usize * d + j],
                AttackStep::MeanMultiple { factor } => factor * mu,
                AttackStep::Alie { z } => mu - z * sigma,
                AttackStep::Gaussian { sigma, stream } => mu + sigma * gaussian_noise(stream, i as u32, j as u32),
            };
        }
    }
}

/// `Backend::pre_aggregate` on slices: out is rows_out × d.
pub fn pre_aggregate(g: &[f32], n: usize, d: usize, pre: &PreAggregationStep, out: &mut [f32]) {
    match pre {
        PreAggregationStep::None => out.copy_from_slice(g),
        PreAggregationStep::Nnm { f } => {
            let mut dists = vec![0.0f32; n * n];
            pairwise_sq_dists(g, n, d, &mut dists);
            let mut weights = vec![0.0f32; n * n];
            nnm(&dists, n, *f, &mut weights);
            combine_rows(g, n, d, &weights, &vec![1.0 / (n - f) as f32; n], out);
        }
        PreAggregationStep::Bucketing { s, permutation } => {
            let (weights, scales) = PreAggregationStep::bucketing_mix(*s, permutation);
            combine_rows(g, n, d, &weights, &scales, out);
        }
    }
}

/// `Backend::robust_aggregate` on slices: out is 1 × d, selection 1 × n, centre 1 × d.
pub fn robust_aggregate(
    g: &[f32],
    n: usize,
    d: usize,
    rule: &RobustStep,
    centre: Option<&[f32]>,
    out: &mut [f32],
    selection: &mut [f32],
) {
    if let Some((lo, hi)) = rule.rank_window(n) {
        trimmed_mean(g, n, d, lo, hi, out, selection);
        return;
    }
    match *rule {
        RobustStep::Krum { f, m } => {
            let mut dists = vec![0.0f32; n * n];
            pairwise_sq_dists(g, n, d, &mut dists);
            let mut weights = vec![0.0f32; n];
            krum(&dists, n, f, m, &mut weights, selection);
            combine_rows(g, n, d, &weights, &[1.0 / m as f32], out);
        }
        RobustStep::GeometricMedian { nu, tol, iters } => geometric_median(g, n, d, nu, tol, iters, out, selection),
        RobustStep::CenteredClipping { tau, iters } => {
            let mut points = g.to_vec();
            match centre {
                Some(c) => points.extend_from_slice(c),
                None => points.resize((n + 1) * d, 0.0),
            }
            centered_clipping(&points, n, d, tau, iters, out, selection);
        }
        RobustStep::Median | RobustStep::TrimmedMean { .. } => unreachable!("rank-window rules returned above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aggregate(g: &[f32], n: usize, rule: RobustStep, centre: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
        let d = g.len() / n;
        let (mut out, mut sel) = (vec![f32::NAN; d], vec![f32::NAN; n]);
        rule.check_rows("test", n);
        robust_aggregate(g, n, d, &rule, centre, &mut out, &mut sel);
        (out, sel)
    }

    #[test]
    fn median_of_three_rows() {
        let g = [1.0, 5.0, 3.0, 2.0, 2.0, 2.0, 9.0, 0.0, 1.0];
        assert_eq!(aggregate(&g, 3, RobustStep::Median, None), (vec![2.0, 2.0, 2.0], vec![0.0, 1.0, 0.0]));
    }

    #[test]
    fn median_of_even_rows_averages_the_middle_two() {
        // Sorted 1, 2, 4, 8: (2 + 4)/2; rows 1 and 2 count ½ each.
        let g = [1.0, 4.0, 2.0, 8.0];
        assert_eq!(aggregate(&g, 4, RobustStep::Median, None), (vec![3.0], vec![0.0, 0.5, 0.5, 0.0]));
    }

    #[test]
    fn trimmed_mean_drops_f_per_side_with_ties_by_index_and_nan_last() {
        // Columns: outliers at both ends; all equal (ties → rows 1, 2, 3 kept by index); a NaN
        // (ranked above +∞, trimmed with the 1).
        let g = [10.0, 1.0, f32::NAN, 1.0, 1.0, 1.0, 2.0, 1.0, 2.0, 3.0, 1.0, 3.0, -50.0, 1.0, 4.0];
        let (out, sel) = aggregate(&g, 5, RobustStep::TrimmedMean { f: 1 }, None);
        assert_eq!(out, vec![2.0, 1.0, 3.0]);
        // Averaged: col 0 rows 1,2,3; col 1 rows 1,2,3; col 2 rows 2,3,4 → count / (3 · 3).
        let ninth = trimmed_mean_selection_scale(3, 3);
        assert_eq!(sel, vec![0.0, 2.0 * ninth, 3.0 * ninth, 3.0 * ninth, ninth]);
        assert!((sel.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    /// Five points in the plane; row 4 is far away.
    const KRUM_ROWS: [f32; 10] = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 1.0, 1.0, 10.0, 10.0];

    #[test]
    fn pairwise_sq_dists_of_points() {
        let mut d = vec![0.0; 25];
        pairwise_sq_dists(&KRUM_ROWS, 5, 2, &mut d);
        assert_eq!(&d[..5], &[0.0, 1.0, 4.0, 2.0, 200.0]);
        assert_eq!(&d[20..], &[200.0, 181.0, 164.0, 162.0, 0.0]);
        // Rounding below zero is clamped; a non-finite row is infinitely far.
        let mut d2 = vec![0.0; 4];
        pairwise_sq_dists_from_gram(&[1.0, 1.0 + 1e-7, 1.0 + 1e-7, 1.0], 2, &mut d2);
        assert_eq!(d2, vec![0.0, 0.0, 0.0, 0.0]);
        pairwise_sq_dists(&[1.0, f32::INFINITY], 2, 1, &mut d2);
        assert_eq!(d2, vec![0.0, f32::INFINITY, f32::INFINITY, 0.0]);
    }

    #[test]
    fn krum_scores_and_choice() {
        // f = 1: each score sums the n − f − 2 = 2 nearest others.
        let mut d = vec![0.0; 25];
        pairwise_sq_dists(&KRUM_ROWS, 5, 2, &mut d);
        assert_eq!(krum_scores(&d, 5, 1), vec![3.0, 2.0, 6.0, 3.0, 326.0]);
        assert_eq!(
            aggregate(&KRUM_ROWS, 5, RobustStep::Krum { f: 1, m: 1 }, None),
            (vec![1.0, 0.0], vec![0.0, 1.0, 0.0, 0.0, 0.0])
        );
        // Multi-Krum m = 2: rows 0 and 3 tie at 3, the lower index wins.
        assert_eq!(
            aggregate(&KRUM_ROWS, 5, RobustStep::Krum { f: 1, m: 2 }, None),
            (vec![0.5, 0.0], vec![0.5, 0.5, 0.0, 0.0, 0.0])
        );
        let (out, sel) = aggregate(&KRUM_ROWS, 5, RobustStep::Krum { f: 1, m: 3 }, None);
        assert_eq!(out, vec![2.0 * (1.0 / 3.0f32), 1.0 / 3.0]);
        let third = 1.0 / 3.0f32;
        assert_eq!(sel, vec![third, third, 0.0, third, 0.0]);
    }

    #[test]
    fn krum_never_picks_a_far_or_non_finite_row() {
        let mut g = KRUM_ROWS.to_vec();
        g[8] = f32::INFINITY;
        for m in 1..=4 {
            let (out, sel) = aggregate(&g, 5, RobustStep::Krum { f: 1, m }, None);
            assert_eq!(sel[4], 0.0, "m = {m}");
            assert!(out.iter().all(|v| v.is_finite()), "m = {m}: {out:?}");
        }
    }

    #[test]
    fn geometric_median_fixed_point_and_convergence() {
        // Symmetric: the mean (origin) is the fixed point; all four rows weigh ¼.
        let cross = [1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0];
        let rule = RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters: 5 };
        let (out, sel) = aggregate(&cross, 4, rule, None);
        assert!(out.iter().all(|v| v.abs() < 1e-6), "{out:?}");
        assert!(sel.iter().all(|&w| (w - 0.25).abs() < 1e-6), "{sel:?}");
        // The cross plus an outlier at (100, 0): the geometric median is (1/√3, 0) (where
        // d/dt [|t−1| + |t+1| + 2√(t²+1) + 100 − t] = 0), while the mean is (20, 0).
        let mut five = cross.to_vec();
        five.extend([100.0, 0.0]);
        let rule = RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters: 300 };
        let (out, sel) = aggregate(&five, 5, rule, None);
        assert!((out[0] - 1.0 / 3.0f32.sqrt()).abs() < 1e-3 && out[1].abs() < 1e-5, "{out:?}");
        assert!((sel.iter().sum::<f32>() - 1.0).abs() < 1e-5 && sel[4] < 0.01, "{sel:?}");
        // tol stops early: after one step from the mean the change is large, so a huge tol
        // freezes after exactly one step.
        let (one, _) = aggregate(&five, 5, RobustStep::GeometricMedian { nu: 1e-6, tol: 1e9, iters: 1 }, None);
        let (frozen, _) = aggregate(&five, 5, RobustStep::GeometricMedian { nu: 1e-6, tol: 1e9, iters: 50 }, None);
        assert_eq!(one, frozen);
    }

    /// 7 honest rows near 1 (±0.1) and 3 rows far away, d = 50.
    fn honest_and_far(far: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        let mut rng = crate::rng::SplitMix64::new(9);
        let mut g: Vec<f32> = (0..7 * 50).map(|_| 1.0 + 0.2 * (rng.next_f64() as f32 - 0.5)).collect();
        g.extend((0..3 * 50).map(|k| far(k / 50, k % 50)));
        g
    }

    #[test]
    fn geometric_median_and_clipping_ignore_far_and_non_finite_rows() {
        let noise = |i: usize, j: usize| 200.0 * gaussian_noise(5, i as u32, j as u32);
        let cases: [(&str, Vec<f32>); 4] = [
            ("σ = 200 noise", honest_and_far(noise)),
            ("1e30", honest_and_far(|_, _| -1e30)),
            ("inf and NaN", honest_and_far(|i, j| if (i + j) % 2 == 0 { f32::NAN } else { f32::INFINITY })),
            ("one NaN coordinate", honest_and_far(|i, j| if i == j { f32::NAN } else { 1.0 })),
        ];
        for (what, g) in cases {
            let centre = vec![1.0f32; 50];
            for rule in [
                RobustStep::GeometricMedian { nu: 1e-6, tol: 1e-6, iters: 5 },
                RobustStep::CenteredClipping { tau: 0.1, iters: 3 },
            ] {
                let (out, sel) = aggregate(&g, 10, rule, Some(&centre));
                // The aggregate stays among the honest rows (|x − 1| ≤ 0.1).
                assert!(out.iter().all(|v| (v - 1.0).abs() < 0.1), "{rule:?} / {what}: {out:?}");
                let far: f32 = sel[7..].iter().sum();
                assert!(far < 1e-3, "{rule:?} / {what}: far rows weigh {far}");
                if what.contains("NaN") {
                    assert_eq!(&sel[7..], &[0.0; 3], "{rule:?} / {what}: a non-finite row weighs 0");
                }
            }
        }
    }

    #[test]
    fn every_row_infinitely_far() {
        // Beyond the breakdown point: the geometric median falls back to the mean (non-finite);
        // centered clipping does not move from the centre and selects nothing.
        let g = [f32::INFINITY, 1.0, f32::NAN, 2.0];
        let (_, sel) = aggregate(&g, 2, RobustStep::GeometricMedian { nu: 1e-6, tol: 0.0, iters: 3 }, None);
        assert_eq!(sel, vec![0.5, 0.5]);
        let (out, sel) = aggregate(&g, 2, RobustStep::CenteredClipping { tau: 1.0, iters: 3 }, Some(&[3.0, 4.0]));
        assert_eq!((out, sel), (vec![3.0, 4.0], vec![0.0, 0.0]));
    }

    #[test]
    fn centered_clipping_limits_and_hand_example() {
        let g = [2.0, 0.0, 0.0, 0.0];
        // τ = 1 from the origin: clip((2, 0)) = (1, 0), clip(0) = 0, v = (0.5, 0); clip factors
        // ½ and 1 → selection ⅓, ⅔.
        let (out, sel) = aggregate(&g, 2, RobustStep::CenteredClipping { tau: 1.0, iters: 1 }, None);
        assert_eq!(out, vec![0.5, 0.0]);
        assert!((sel[0] - 1.0 / 3.0).abs() < 1e-7 && (sel[1] - 2.0 / 3.0).abs() < 1e-7, "{sel:?}");
        let rows = [1.0, 2.0, -3.0, 4.0, 5.0, -6.0, 0.5, 0.25, 8.0];
        let centre = [0.5, -1.0, 2.0];
        // τ large: one round is the mean.
        let (out, _) = aggregate(&rows, 3, RobustStep::CenteredClipping { tau: 1e6, iters: 1 }, Some(&centre));
        let mean = [5.5 / 3.0, 7.25 / 3.0, -1.0 / 3.0];
        assert!(out.iter().zip(mean).all(|(a, b)| (a - b).abs() < 1e-5), "{out:?}");
        // τ small: each round moves v by at most τ (and does move).
        let mut previous = centre.to_vec();
        for iters in 1..5 {
            let (out, _) = aggregate(&rows, 3, RobustStep::CenteredClipping { tau: 0.1, iters }, Some(&centre));
            let moved = out.iter().zip(&previous).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
            assert!(moved <= 0.1 + 1e-6 && moved > 0.01, "round {iters}: moved {moved}");
            previous = out;
        }
    }

    #[test]
    fn nnm_mixes_nearest_rows() {
        // f = 1: itself and its 2 nearest others.
        let g = [0.0, 1.0, 3.0, 10.0];
        let mut out = vec![f32::NAN; 4];
        pre_aggregate(&g, 4, 1, &PreAggregationStep::Nnm { f: 1 }, &mut out);
        let third = 1.0 / 3.0f32;
        assert_eq!(out, vec![4.0 * third, 4.0 * third, 4.0 * third, 14.0 * third]);
        // Row 2 (value 1) has rows 0 and 1 at distance 1: the lower index wins.
        let mut out = vec![f32::NAN; 3];
        pre_aggregate(&[0.0, 2.0, 1.0], 3, 1, &PreAggregationStep::Nnm { f: 1 }, &mut out);
        assert_eq!(out, vec![0.5, 1.5, 0.5]);
    }

    #[test]
    fn bucketing_with_a_fixed_permutation() {
        let g = [1.0, 2.0, 3.0, 4.0, 5.0];
        let pre = PreAggregationStep::Bucketing { s: 2, permutation: vec![4, 0, 2, 1, 3] };
        let mut out = vec![f32::NAN; pre.rows_out(5)];
        pre_aggregate(&g, 5, 1, &pre, &mut out);
        assert_eq!(out, vec![3.0, 2.5, 4.0]);
    }

    fn attacked(attack: AttackStep) -> Vec<f32> {
        let mut g = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        byzantine_attack(&mut g, 4, 2, &[0, 1, 0, 1], &attack);
        assert_eq!([g[0], g[1], g[4], g[5]], [1.0, 2.0, 5.0, 6.0], "{attack:?} changed an honest row");
        vec![g[2], g[3], g[6], g[7]]
    }

    #[test]
    fn attack_formulas() {
        // Honest rows (1, 2) and (5, 6): mean (3, 4), sample std √8 in both coordinates.
        assert_eq!(attacked(AttackStep::None), vec![3.0, 4.0, 7.0, 8.0]);
        assert_eq!(attacked(AttackStep::OwnMultiple { factor: -1.0 }), vec![-3.0, -4.0, -7.0, -8.0]);
        assert_eq!(attacked(AttackStep::OwnMultiple { factor: 2.0 }), vec![6.0, 8.0, 14.0, 16.0]);
        assert_eq!(attacked(AttackStep::Zero), vec![0.0; 4]);
        assert_eq!(attacked(AttackStep::Mimic { target: 2 }), vec![5.0, 6.0, 5.0, 6.0]);
        assert_eq!(attacked(AttackStep::MeanMultiple { factor: -0.5 }), vec![-1.5, -2.0, -1.5, -2.0]);
        let s8 = 8.0f32.sqrt();
        assert_eq!(attacked(AttackStep::Alie { z: 1.0 }), vec![3.0 - s8, 4.0 - s8, 3.0 - s8, 4.0 - s8]);
        assert_eq!(attacked(AttackStep::Gaussian { sigma: 0.0, stream: 1 }), vec![3.0, 4.0, 3.0, 4.0]);
        let noise = crate::backend::robust::gaussian_noise;
        let want = [(1, 0, 3.0), (1, 1, 4.0), (3, 0, 3.0), (3, 1, 4.0)].map(|(i, j, mu)| mu + 2.0 * noise(9, i, j));
        assert_eq!(attacked(AttackStep::Gaussian { sigma: 2.0, stream: 9 }), want);
    }

    #[test]
    fn alie_with_one_honest_row_uses_zero_std() {
        let mut g = vec![1.0, 2.0];
        byzantine_attack(&mut g, 2, 1, &[0, 1], &AttackStep::Alie { z: 3.0 });
        assert_eq!(g, vec![1.0, 1.0]);
    }
}
