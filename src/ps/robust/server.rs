//! The parameter server's robust round on the device: pack the P gradients into rows, let the
//! Byzantine rows attack, pre-aggregate, apply the rule (or the linear rule on the attacked
//! rows), unpack the aggregate into the per-layer buffers the optimizer reads, and measure how
//! far the aggregate lies from the honest workers' mean. Everything runs on the backend in the
//! round's submission; [`RobustServer::read`] reads the round's diagnostics back.
//!
//! With `compress_push` the gradients it receives are the decoded pushes: every worker encodes
//! on its own device before anything here happens, so the attack replaces or edits the decoded
//! gradient (a Byzantine worker sends whatever it likes; its message still has the codec's size
//! on the wire).

use super::{RobustError, RobustPlan, Steps};
use crate::backend::STATS_WIDTH;
use crate::backend::{
    stat, AttackStep, Backend, BackendError, MemCategory, PreAggregationStep, ReduceOrder, RobustStep, Shape,
};
use crate::tensor::HostMatrix;

/// One round's diagnostics, per worker where it says so.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundDiagnostics {
    /// Each worker's weight in the aggregate (sums to 1). After bucketing, a bucket's weight is
    /// shared by its members; after NNM, row i (the mixture around worker i) counts as worker i.
    pub weights: Vec<f64>,
    /// Which workers the rule kept (weight > 0; a bucket's members together): for Krum and
    /// Multi-Krum the chosen rows, for the geometric median and centered clipping every row
    /// not treated as infinitely far (see `backend::row_space`). `None` for the mean and the
    /// coordinate-wise rules.
    pub selected: Option<Vec<bool>>,
    /// The weight of the Byzantine workers, summed.
    pub byzantine_weight: f64,
    /// ‖aggregate − honest mean‖ and that over ‖honest mean‖ (the honest mean: the plain mean of
    /// the honest workers' mean gradients).
    pub dist_honest: f64,
    pub rel_dist_honest: f64,
}

/// Device buffers and the plan of the robust server.
pub struct RobustServer<B: Backend> {
    plan: RobustPlan,
    /// (offset, length) of each layer's gradient in a packed row.
    layers: Vec<(usize, usize)>,
    packed: B::Matrix,
    mixed: Option<B::Matrix>,
    out: B::Matrix,
    centre: Option<B::Matrix>,
    has_centre: bool,
    selection: B::Matrix,
    flags: B::Index,
    honest_weights: B::Matrix,
    linear_weights: B::Matrix,
    honest_mean: B::Matrix,
    diff: B::Matrix,
    stats: B::Stats,
    /// The last round's steps (for mapping selected rows to workers).
    last: Option<Steps>,
    linear: Vec<f32>,
}

impl<B: Backend> RobustServer<B> {
    /// Centered clipping's centre (the previous aggregate), the only state a round leaves for the
    /// next; `None` for other rules and before the first round.
    pub fn save(&self, b: &B) -> Result<Option<HostMatrix>, BackendError> {
        self.centre.as_ref().filter(|_| self.has_centre).map(|c| b.download(c)).transpose()
    }

    /// Whether the rule keeps a centre between rounds (centered clipping).
    pub fn keeps_centre(&self) -> bool {
        self.centre.is_some()
    }

    pub fn restore(
        &mut self,
        b: &B,
        centre: Option<&HostMatrix>,
    ) -> Result<(), crate::backend::snapshot::RestoreError> {
        match (self.centre.as_mut(), centre) {
            (Some(c), Some(h)) => {
                crate::backend::snapshot::overwrite(b, c, h, "centered clipping's centre")?;
                self.has_centre = true;
            }
            (_, None) => self.has_centre = false,
            (None, Some(_)) => {
                return Err(crate::backend::snapshot::RestoreError::Count {
                    what: "robust aggregation centres".into(),
                    expected: 0,
                    got: 1,
                })
            }
        }
        Ok(())
    }

    /// `shapes`: each layer's weight shape; `linear`: the linear rule's per-worker weights.
    pub fn new(b: &B, plan: RobustPlan, shapes: &[(usize, usize)], linear: &[f32]) -> Result<Self, BackendError> {
        let n = plan.workers();
        assert_eq!(linear.len(), n, "robust server: one linear weight per worker");
        let mut layers = Vec::with_capacity(shapes.len());
        let mut d = 0;
        for &(r, c) in shapes {
            layers.push((d, r * c));
            d += r * c;
        }
        let alloc = |rows: usize, cols: usize, what: &str| {
            b.alloc(rows, cols, MemCategory::Gradients, &format!("ps/robust_{what}"))
        };
        let rows = plan.rows();
        let host_row = |v: Vec<f32>| HostMatrix { rows: 1, cols: n, data: v };
        let honest = n - plan.byzantine_count();
        let honest_w: Vec<f32> =
            plan.byzantine.iter().map(|&byz| if byz { 0.0 } else { (1.0 / honest as f64) as f32 }).collect();
        let flags: Vec<u32> = plan.byzantine.iter().map(|&byz| u32::from(byz)).collect();
        let centre = matches!(plan.rule, Some(super::RobustRule::CenteredClipping { .. }));
        Ok(Self {
            layers,
            packed: alloc(n, d, "packed")?,
            mixed: if plan.pre == super::PreAggregation::None { None } else { Some(alloc(rows, d, "mixed")?) },
            out: alloc(1, d, "aggregate")?,
            centre: if centre { Some(alloc(1, d, "centre")?) } else { None },
            has_centre: false,
            selection: alloc(1, rows, "selection")?,
            flags: b.upload_index(&flags, MemCategory::Gradients, "ps/robust_flags")?,
            honest_weights: b.upload(&host_row(honest_w), MemCategory::Gradients, "ps/robust_honest_weights")?,
            linear_weights: b.upload(&host_row(linear.to_vec()), MemCategory::Gradients, "ps/robust_linear_weights")?,
            honest_mean: alloc(1, d, "honest_mean")?,
            diff: alloc(1, d, "diff")?,
            stats: b.alloc_stats(2, "ps/robust_stats")?,
            last: None,
            linear: linear.to_vec(),
            plan,
        })
    }

    pub fn plan(&self) -> &RobustPlan {
        &self.plan
    }

    /// Combines `grads[i]` (worker i's per-layer gradients, every worker in order) into
    /// `aggregated` (per layer), for round `epoch` (0-based).
    pub fn combine(
        &mut self,
        b: &B,
        grads: &[&[B::Matrix]],
        seed: u64,
        epoch: u32,
        aggregated: &mut [B::Matrix],
    ) -> Result<(), RobustError> {
        let n = self.plan.workers();
        assert_eq!(grads.len(), n, "robust server: one gradient set per worker");
        let d = self.packed.cols();
        let steps = self.plan.steps(seed, epoch)?;
        for (i, g) in grads.iter().enumerate() {
            for (l, &(offset, len)) in self.layers.iter().enumerate() {
                b.copy_region(&g[l], 0, &mut self.packed, i * d + offset, len);
            }
        }
        if steps.attack != AttackStep::None {
            b.byzantine_attack(&mut self.packed, &self.flags, &steps.attack);
        }
        let rows = match (&steps.pre, self.mixed.as_mut()) {
            (PreAggregationStep::None, _) | (_, None) => &self.packed,
            (pre, Some(mixed)) => {
                b.pre_aggregate(&self.packed, pre, mixed);
                &*mixed
            }
        };
        match &steps.rule {
            Some(rule) => {
                let centre = self.centre.as_ref().filter(|_| self.has_centre);
                b.robust_aggregate(rows, rule, centre, &mut self.out, &mut self.selection);
                if let Some(c) = self.centre.as_mut() {
                    b.copy(&self.out, c);
                    self.has_centre = true;
                }
            }
            None => b.matmul(&self.linear_weights, &self.packed, &mut self.out, false, false),
        }
        for (l, &(offset, len)) in self.layers.iter().enumerate() {
            b.copy_region(&self.out, offset, &mut aggregated[l], 0, len);
        }
        b.matmul(&self.honest_weights, &self.packed, &mut self.honest_mean, false, false);
        b.weighted_sum(&[&self.out, &self.honest_mean], &[1.0, -1.0], ReduceOrder::Flat, &mut self.diff);
        b.sum_squares(&self.diff, &mut self.stats, 0);
        b.sum_squares(&self.honest_mean, &mut self.stats, 1);
        self.last = Some(steps);
        Ok(())
    }

    /// The last round's diagnostics (waits for the device).
    pub fn read(&self, b: &B) -> Result<Option<RoundDiagnostics>, BackendError> {
        let Some(steps) = &self.last else { return Ok(None) };
        let n = self.plan.workers();
        let values = b.read_stats(&self.stats)?;
        let dist = (values[stat::AUX] as f64).max(0.0).sqrt();
        let norm = (values[STATS_WIDTH + stat::AUX] as f64).max(0.0).sqrt();
        let (weights, selected) = match &steps.rule {
            None => {
                let total: f64 = self.linear.iter().map(|&w| w as f64).sum();
                (self.linear.iter().map(|&w| if total > 0.0 { w as f64 / total } else { 0.0 }).collect(), None)
            }
            Some(rule) => {
                let row: Vec<f64> = b.download(&self.selection)?.data.iter().map(|&w| w as f64).collect();
                let members = row_members(&steps.pre, n);
                let mut weights = vec![0.0; n];
                let mut selected = vec![false; n];
                for (r, workers) in members.iter().enumerate() {
                    for &i in workers {
                        weights[i] = row[r] / workers.len() as f64;
                        selected[i] = row[r] > 0.0;
                    }
                }
                // Rules that can drop a row: Krum drops the unchosen ones; the geometric median
                // and centered clipping give an infinitely far row (non-finite, or beyond f32)
                // weight 0. The coordinate-wise rules mix rows per coordinate and select none.
                let selects = matches!(
                    rule,
                    RobustStep::Krum { .. } | RobustStep::GeometricMedian { .. } | RobustStep::CenteredClipping { .. }
                );
                (weights, selects.then_some(selected))
            }
        };
        let byzantine_weight = (0..n).filter(|&i| self.plan.byzantine[i]).map(|i| weights[i]).sum();
        Ok(Some(RoundDiagnostics {
            weights,
            selected,
            byzantine_weight,
            dist_honest: dist,
            rel_dist_honest: if norm > 0.0 { dist / norm } else { 0.0 },
        }))
    }
}

/// The workers behind each row the rule saw.
fn row_members(pre: &PreAggregationStep, n: usize) -> Vec<Vec<usize>> {
    match pre {
        PreAggregationStep::Bucketing { s, permutation } => {
            permutation.chunks(*s).map(|c| c.iter().map(|&i| i as usize).collect()).collect()
        }
        _ => (0..n).map(|i| vec![i]).collect(),
    }
}
