//! The server's reduction of a BSP round's gradients, in the order the topology sums them.

use crate::backend::{Backend, MemCategory, Shape};
use crate::cost::Topology;
use crate::sim::driver::SimError;

/// Sums `grads` (one set per partition) in the topology's order into `out`: flat (or ring,
/// whose chunked order is not reproduced) in worker order, trees level by level through partial
/// sums, each partial a `weighted_sum` on the device.
pub(super) fn reduce_in_topology<M: Backend>(
    b: &M,
    topology: Topology,
    grads: &[&M::Matrix],
    weights: &[f32],
    partials: &mut Vec<Vec<M::Matrix>>,
    out: &mut M::Matrix,
    layer: usize,
) -> Result<(), SimError> {
    let p = grads.len();
    let levels = match topology.levels(p) {
        Some((levels, _)) if levels.len() > 1 => levels,
        _ => {
            b.weighted_sum(grads, weights, crate::backend::ReduceOrder::Flat, out);
            return Ok(());
        }
    };
    // partials[k]: level k + 1's partial sums (the last level goes straight into `out`).
    for (k, level) in levels.iter().enumerate().take(levels.len() - 1) {
        while partials.len() <= k {
            partials.push(Vec::new());
        }
        while partials[k].len() < level.len() {
            let g = partials[k].len();
            partials[k].push(b.alloc(
                out.rows(),
                out.cols(),
                MemCategory::Gradients,
                &format!("ps/partial{k}_{g}_dW{layer}"),
            )?);
        }
    }
    for (k, level) in levels.iter().enumerate() {
        let last = k + 1 == levels.len();
        let (below, here) = partials.split_at_mut(k);
        for (g, group) in level.iter().enumerate() {
            let (inputs, w): (Vec<&M::Matrix>, Vec<f32>) = if k == 0 {
                group.iter().map(|&i| (grads[i], weights[i])).unzip()
            } else {
                group.iter().map(|&i| (&below[k - 1][i], 1.0)).unzip()
            };
            let target = if last { &mut *out } else { &mut here[0][g] };
            b.weighted_sum(&inputs, &w, crate::backend::ReduceOrder::Flat, target);
        }
    }
    Ok(())
}
