//! The robust ops of [`Backend`](crate::backend::Backend) on the GPU: each a fixed sequence of
//! the robust kernel families, recorded into the current encoder (no readback, no host
//! decision on device data). Intermediates (Gram and distance matrices, mixing weights, the
//! rows stacked with the clipping centre, the iterate) live in named scratch buffers, so an
//! epoch's calls reuse the same buffers and bind groups.
//!
//! The geometric median and centered clipping record three dispatches per step (distances,
//! weights, combination) rather than one kernel looping over the steps: llvmpipe stops running
//! an invocation's loops after ~65,535 iterations, which a single-dispatch loop over n rows ×
//! d / 256 elements × steps passes at Cora's d with a few dozen rows.

use std::sync::Arc;

use super::alloc::GpuBuffer;
use super::kernels::combine_rows::Weights;
use super::kernels::geometric_median::Weiszfeld;
use super::kernels::matmul::Operand;
use super::kernels::Kernels;
use super::recorder::Recorder;
use super::GpuMatrix;
use crate::backend::{check_shape, PreAggregationStep, RobustStep, Shape};

/// `rec.scratch` of `elems` f32.
fn scratch(rec: &mut Recorder, name: &'static str, elems: usize) -> Arc<GpuBuffer> {
    rec.scratch(name, 4 * elems.max(1) as u64)
}

/// The squared-distance matrix (m × m) of the m rows of `x` (Krum, NNM), in a scratch buffer.
fn gram_and_dists(k: &Kernels, rec: &mut Recorder, x: Operand<'_>) -> Arc<GpuBuffer> {
    let m = x.rows;
    let gram = scratch(rec, "robust gram", m * m);
    let dists = scratch(rec, "robust dists", m * m);
    k.pairwise_sq_dists.encode(rec, &k.matmul, x, &gram, &dists);
    dists
}

pub fn copy_region(
    rec: &mut Recorder,
    src: &GpuMatrix,
    src_offset: usize,
    dst: &GpuMatrix,
    dst_offset: usize,
    len: usize,
) {
    assert!(src_offset + len <= src.len(), "copy_region: source range {src_offset}+{len} of {}", src.len());
    assert!(dst_offset + len <= dst.len(), "copy_region: destination range {dst_offset}+{len} of {}", dst.len());
    rec.copy(&src.buf, 4 * src_offset as u64, &dst.buf, 4 * dst_offset as u64, 4 * len as u64);
}

pub fn pairwise_sq_dists(k: &Kernels, rec: &mut Recorder, g: &GpuMatrix, out: &GpuMatrix) {
    let n = g.rows();
    check_shape("pairwise_sq_dists", "out", (out.rows(), out.cols()), (n, n));
    let gram = scratch(rec, "robust gram", n * n);
    k.pairwise_sq_dists.encode(rec, &k.matmul, g.into(), &gram, &out.buf);
}

pub fn pre_aggregate(k: &Kernels, rec: &mut Recorder, g: &GpuMatrix, pre: &PreAggregationStep, out: &GpuMatrix) {
    let (n, d) = (g.rows(), g.cols());
    pre.check_rows("pre_aggregate", n);
    check_shape("pre_aggregate", "out", (out.rows(), out.cols()), (pre.rows_out(n), d));
    match pre {
        PreAggregationStep::None => rec.copy(&g.buf, 0, &out.buf, 0, 4 * g.len() as u64),
        PreAggregationStep::Nnm { f } => {
            let dists = gram_and_dists(k, rec, g.into());
            let mix = scratch(rec, "robust mix", n * n + n);
            k.nnm.encode(rec, &dists, n, *f, &mix);
            k.combine_rows.encode(rec, g.into(), Weights::Buffer(&mix), out);
        }
        PreAggregationStep::Bucketing { s, permutation } => {
            let (weights, scales) = PreAggregationStep::bucketing_mix(*s, permutation);
            k.combine_rows.encode(rec, g.into(), Weights::Host { weights: &weights, scales: &scales }, out);
        }
    }
}

pub fn robust_aggregate(
    k: &Kernels,
    rec: &mut Recorder,
    g: &GpuMatrix,
    rule: &RobustStep,
    centre: Option<&GpuMatrix>,
    out: &GpuMatrix,
    selection: &GpuMatrix,
) {
    let (n, d) = (g.rows(), g.cols());
    rule.check_rows("robust_aggregate", n);
    assert!(d > 0, "robust_aggregate: g has no columns");
    check_shape("robust_aggregate", "out", (out.rows(), out.cols()), (1, d));
    check_shape("robust_aggregate", "selection", (selection.rows(), selection.cols()), (1, n));
    if let Some((lo, hi)) = rule.rank_window(n) {
        k.trimmed_mean.encode(rec, g, lo, hi, out, selection);
        return;
    }
    match *rule {
        RobustStep::Krum { f, m } => {
            let dists = gram_and_dists(k, rec, g.into());
            let mix = scratch(rec, "robust mix", n + 1);
            k.krum.encode(rec, &dists, n, f, m, &mix, &selection.buf);
            k.combine_rows.encode(rec, g.into(), Weights::Buffer(&mix), out);
        }
        RobustStep::GeometricMedian { nu, tol, iters } => {
            // z₀ = the coordinate-wise median, written through `out` (the rule's result
            // overwrites it), then per step: distances, weights, z ← Σ wᵢ xᵢ.
            let (lo, hi) = RobustStep::Median.rank_window(n).expect("the median has a rank window");
            k.trimmed_mean.encode(rec, g, lo, hi, out, selection);
            let z = [scratch(rec, "robust z", d), scratch(rec, "robust z next", d)];
            rec.copy(&out.buf, 0, &z[0], 0, 4 * d as u64);
            let dists = scratch(rec, "robust row dists", n + 2);
            let mix = scratch(rec, "robust mix", n + 1);
            let state = scratch(rec, "robust state", 1);
            for t in 0..iters {
                let (cur, next) = (&z[t as usize % 2], &z[(t as usize + 1) % 2]);
                k.row_distances.encode(rec, &g.buf, n, d, cur, (t > 0).then_some(&**next), &dists);
                k.geometric_median.encode(rec, &dists, n, t, Weiszfeld { nu, tol }, &mix, &selection.buf, &state);
                k.weighted_rows.encode(rec, &g.buf, n, d, &mix, next);
            }
            rec.copy(&z[iters as usize % 2], 0, &out.buf, 0, 4 * d as u64);
        }
        RobustStep::CenteredClipping { tau, iters } => {
            // The rows and the centre as one (n + 1) × d matrix; v₀ = the centre, then per
            // round: distances, weights, v ← Σ w_k y_k.
            let m = n + 1;
            let stacked = scratch(rec, "robust stacked", m * d);
            let row_bytes = 4 * d as u64;
            rec.copy(&g.buf, 0, &stacked, 0, row_bytes * n as u64);
            match centre {
                Some(c) => {
                    check_shape("robust_aggregate", "centre", (c.rows(), c.cols()), (1, d));
                    rec.copy(&c.buf, 0, &stacked, row_bytes * n as u64, row_bytes);
                }
                None => rec.clear(&stacked, row_bytes * n as u64, row_bytes),
            }
            let v = [scratch(rec, "robust z", d), scratch(rec, "robust z next", d)];
            rec.copy(&stacked, row_bytes * n as u64, &v[0], 0, row_bytes);
            let dists = scratch(rec, "robust row dists", n + 2);
            let mix = scratch(rec, "robust mix", m + 1);
            let clip = scratch(rec, "robust clip sums", n);
            for t in 0..iters {
                let (cur, next) = (&v[t as usize % 2], &v[(t as usize + 1) % 2]);
                k.row_distances.encode(rec, &stacked, n, d, cur, None, &dists);
                k.centered_clipping.encode(rec, &dists, n, t, tau, &mix, &selection.buf, &clip);
                k.weighted_rows.encode(rec, &stacked, m, d, &mix, next);
            }
            rec.copy(&v[iters as usize % 2], 0, &out.buf, 0, row_bytes);
        }
        RobustStep::Median | RobustStep::TrimmedMean { .. } => unreachable!("rank-window rules returned above"),
    }
}
