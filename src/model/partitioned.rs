//! The GCN over P workers, layer by layer, with the boundary exchange between the layers.
//!
//! Each worker computes `H·W` for its own rows; the exchange buffers hold those rows in
//! partition-major order (`graph::layout`). Per layer:
//! - forward: every owner copies its rows into the send buffer (one contiguous block); every
//!   receiver copies its own rows and gathers its boundary rows into a receive buffer, then
//!   aggregates with Â over owned + boundary columns;
//! - backward: every worker computes `Âᵀ·dZ` for its own and its boundary rows; the own part
//!   stays, the boundary part is added into the owners' rows of a gradient buffer, partition by
//!   partition (a fixed order, no atomics); each owner then adds what it received to its own
//!   part.
//!
//! The exchanged quantity is `H·W` (width fan_out), not `H` (fan_in): for every model here
//! (features ≥ hidden ≥ classes) it is the smaller, 16 floats a row instead of 1433 on Cora's
//! first layer. Receive buffers are shared by the workers, which run one after another on one
//! device, so memory stays near the serial run's (the per-worker receive buffers of a real
//! cluster are accounted in the traffic, not allocated at once).
//!
//! `stale` (PipeGCN) reads the boundary rows and gradients of the previous epoch (the first
//! epoch's fresh ones); `sample` (BNS-GCN) resamples each worker's Â every epoch.
//!
//! Attribution (for `sim::metered`): every worker's kernels follow `b.attribute(Some(i))`, and
//! every public method ends with `b.attribute(None)`. Wherever the exchange code runs, the
//! points where workers wait for each other's rows are marked with `b.segment_end()`: in the
//! forward, after every worker has sent layer l's rows and before the receive/aggregate step
//! (also in evaluation passes that read boundary rows); in the backward, after every worker has
//! sent layer l's boundary gradients and before the owners add them. A training pass with
//! exchange thus has 2·layers + 1 segments, one without exchange 1. `stale` marks the same
//! points, though the rows it reads there are the previous pass's (a clock need not wait).
//! The shared gradient buffer's zeroing is no worker's own work (each owner's receive buffer
//! starts empty in a cluster) and is left unattributed. The hooks change no arithmetic.

use super::workspace::{Operator, Pass, Workspace};
use super::Neighbourhood;
use super::Problem;
use crate::backend::snapshot::{download_all, overwrite, overwrite_all, RestoreError};
use crate::backend::{Backend, BackendError, DropoutSpec, MemCategory};
use crate::graph::local::Boundary;
use crate::rng::MaskKey;
use crate::tensor::HostMatrix;

/// Where accuracies and losses are measured each epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum EvalMode {
    /// The parameter server's current weights on the whole graph (every edge, fresh boundary
    /// rows), as Cluster-GCN and every distributed GCN system evaluate.
    #[default]
    Full,
    /// Each worker on what it trains on: its halo (replicate), its induced subgraph (drop), its
    /// stale or sampled boundary (stale, sample).
    Partitions,
}

/// Streams of the boundary sample: `MaskKey::layer` with this bit set, the partition in the low
/// bits (dropout uses layers below 64).
const SAMPLE_STREAM: u32 = 1 << 31;

/// The draw of `boundary = sample` for `partition` in `epoch`: a boundary node is kept iff
/// `rng::mask_uniform(stream, node, 0) >= spec.rate` (probability `rate`), scaled by 1/rate.
pub fn sample_spec(seed: u64, epoch: u32, partition: usize, rate: f32) -> DropoutSpec {
    let key = MaskKey { seed, epoch, layer: SAMPLE_STREAM | partition as u32 };
    DropoutSpec { stream: key.stream(), rate: 1.0 - rate, scale: 1.0 / rate }
}

/// Where boundary rows come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// This pass's rows.
    Fresh,
    /// The previous training pass's rows; `update` stores this pass's for the next one.
    Stale { update: bool },
}

/// Per layer and direction, the bytes one training pass moves between partitions, and the rows
/// each pair exchanges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Boundary activations (H·W rows) per layer.
    pub forward: Vec<u64>,
    /// Boundary gradients per layer.
    pub backward: Vec<u64>,
    /// `rows[q][p]`: boundary rows partition q sends partition p per exchange.
    pub rows: Vec<Vec<u64>>,
}

/// What `stale` boundaries carry from one training pass to the next (a checkpoint's copy): the
/// rows and gradients the next pass reads.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StaleState {
    pub rows: Vec<HostMatrix>,
    /// Per layer, both gradient buffers.
    pub grads: Vec<[Option<HostMatrix>; 2]>,
    pub current: usize,
    pub rows_ready: bool,
    pub grads_ready: bool,
}

struct ExchangeBuffers<B: Backend> {
    /// Per layer: every worker's rows, partition-major.
    send: Vec<B::Matrix>,
    /// Per layer: the previous training pass's rows (`stale`).
    stale: Vec<B::Matrix>,
    /// Per layer: gradient rows received by their owners, this pass's and (`stale`) the last.
    grads: Vec<[Option<B::Matrix>; 2]>,
    /// Per layer: a worker's own + boundary rows (forward) and partial gradients (backward).
    recv: Vec<B::Matrix>,
    back: Vec<B::Matrix>,
    /// Which of `grads` this pass writes.
    current: usize,
    /// `stale`: `stale` holds a training pass's rows / the other `grads` buffer a pass's gradients.
    stale_ready: bool,
    grads_ready: bool,
}

/// Every worker's workspace, and the exchange between them.
pub struct PartitionedModel<B: Backend> {
    pub workers: Vec<Workspace<B>>,
    mode: Boundary,
    offsets: Vec<usize>,
    exchange: Option<ExchangeBuffers<B>>,
    /// Whether training reads boundary rows (exchange, stale, sample).
    trains_with_exchange: bool,
    /// Whether an evaluation pass computes exactly the next training pass's forward: no dropout,
    /// and a training operator that is the evaluation's (`exchange` and `replicate`; not `drop`,
    /// whose training graph is induced, `sample`, which resamples, or `stale`, which reads old
    /// rows). Off by [`Self::recompute_forward`].
    forward_reusable: bool,
    /// The last evaluation's activations are the next training forward's (same weights, same
    /// embedding rows): the next [`Self::train`] skips its forward.
    forward_ready: bool,
    /// Training forwards skipped so far.
    forwards_reused: u32,
}

impl<B: Backend> PartitionedModel<B> {
    pub fn new(b: &B, problem: &Problem, mode: Boundary, dropout: f32) -> Result<Self, BackendError> {
        let mut workers = Vec::with_capacity(problem.locals.len());
        for (i, g) in problem.locals.iter().enumerate() {
            let label = format!("worker{i}");
            // A streaming GPU backend may move this working set to host memory while other
            // workers run.
            b.residency_group(Some(i));
            let built = Workspace::new(b, g, &problem.shape, dropout, &label).and_then(|mut w| {
                if mode == Boundary::Sample {
                    w.enable_sampling(b, g, &label)?;
                }
                if let Some(rows) = problem.embedding_rows.get(i) {
                    w.set_push_rows(b, rows, &label)?;
                }
                Ok(w)
            });
            b.residency_group(None);
            workers.push(built?);
        }
        let trains_with_exchange =
            problem.locals.iter().any(|g| matches!(g.neighbourhood, Neighbourhood::Exchange { .. }));
        let any_boundary = problem.locals.iter().any(|g| g.neighbourhood.boundary().is_some());
        let exchange = if any_boundary { Some(Self::buffers(b, problem, mode, trains_with_exchange)?) } else { None };
        // An evaluation forward equals the next training forward only without training-only
        // randomness (dropout on inputs or, GAT, on attention).
        let draws = problem.shape.model.architecture().draws_in_training();
        let forward_reusable = dropout == 0.0 && !draws && matches!(mode, Boundary::Exchange | Boundary::Replicate);
        Ok(Self {
            workers,
            mode,
            offsets: problem.layout.offsets.clone(),
            exchange,
            trains_with_exchange,
            forward_reusable,
            forward_ready: false,
            forwards_reused: 0,
        })
    }

    /// The state a training pass leaves for the next: only `stale` boundaries have any (every
    /// other mode overwrites its buffers before reading them).
    pub fn save(&self, b: &B) -> Result<Option<StaleState>, BackendError> {
        let Some(ex) = self.exchange.as_ref().filter(|_| self.mode == Boundary::Stale) else { return Ok(None) };
        let grads = ex
            .grads
            .iter()
            .map(|pair| {
                Ok([
                    pair[0].as_ref().map(|m| b.download(m)).transpose()?,
                    pair[1].as_ref().map(|m| b.download(m)).transpose()?,
                ])
            })
            .collect::<Result<_, BackendError>>()?;
        Ok(Some(StaleState {
            rows: download_all(b, &ex.stale)?,
            grads,
            current: ex.current,
            rows_ready: ex.stale_ready,
            grads_ready: ex.grads_ready,
        }))
    }

    /// Whether [`Self::save`] has state to save (`stale` boundaries that exchange rows).
    pub fn keeps_stale_state(&self) -> bool {
        self.exchange.is_some() && self.mode == Boundary::Stale
    }

    pub fn restore(&mut self, b: &B, state: Option<&StaleState>) -> Result<(), RestoreError> {
        let ex = self.exchange.as_mut().filter(|_| self.mode == Boundary::Stale);
        let (ex, s) = match (ex, state) {
            (None, None) => return Ok(()),
            (Some(ex), Some(s)) => (ex, s),
            (ex, s) => {
                let (expected, got) = (usize::from(ex.is_some()), usize::from(s.is_some()));
                return Err(RestoreError::Count { what: "stale boundary states".into(), expected, got });
            }
        };
        overwrite_all(b, &mut ex.stale, &s.rows, "stale boundary rows")?;
        if s.grads.len() != ex.grads.len() {
            let what = "stale boundary gradient layers".to_string();
            return Err(RestoreError::Count { what, expected: ex.grads.len(), got: s.grads.len() });
        }
        for (l, (dst, src)) in ex.grads.iter_mut().zip(&s.grads).enumerate() {
            for (k, (d, h)) in dst.iter_mut().zip(src).enumerate() {
                match (d, h) {
                    (Some(d), Some(h)) => {
                        overwrite(b, d, h, &format!("stale boundary gradients, layer {l}, buffer {k}"))?
                    }
                    (None, None) => {}
                    (d, h) => {
                        let what = format!("stale boundary gradients, layer {l}, buffer {k}");
                        let (expected, got) = (usize::from(d.is_some()), usize::from(h.is_some()));
                        return Err(RestoreError::Count { what, expected, got });
                    }
                }
            }
        }
        (ex.current, ex.stale_ready, ex.grads_ready) = (s.current, s.rows_ready, s.grads_ready);
        Ok(())
    }

    /// Every worker pulls its embedding rows from the server's `table`. A pull is network
    /// traffic (the simulator times it on the fabric), so its gathers are charged to nobody.
    pub fn pull_embeddings(&mut self, b: &B, table: &B::Matrix) {
        b.attribute(None);
        for w in self.workers.iter_mut() {
            w.pull_embeddings(b, table);
        }
    }

    /// Always recompute the training forward (for comparisons: the results are the same).
    pub fn recompute_forward(&mut self) {
        self.forward_reusable = false;
        self.forward_ready = false;
    }

    /// Whether the next [`Self::train`] skips its forward: the last evaluation computed it. The
    /// simulator then charges the evaluation's forward kernels as the training forward's.
    pub fn reuses_forward(&self) -> bool {
        self.forward_ready
    }

    /// Something the forward reads changed since the evaluation (embedding rows re-initialized).
    pub fn invalidate_forward(&mut self) {
        self.forward_ready = false;
    }

    /// Training forwards skipped because an evaluation had computed them.
    pub fn forwards_reused(&self) -> u32 {
        self.forwards_reused
    }

    /// Every worker gathers its push message from the last training pass.
    pub fn stage_embedding_pushes(&mut self, b: &B) {
        for (i, w) in self.workers.iter_mut().enumerate() {
            b.attribute(Some(i));
            w.stage_embedding_push(b);
        }
        b.attribute(None);
    }

    /// Every worker's push message (`None` for a worker whose loss reaches no row).
    pub fn embedding_pushes(&self) -> Vec<Option<&B::Matrix>> {
        self.workers.iter().map(|w| w.embedding_push()).collect()
    }

    /// Workers `flipped` train on labels c → C−1−c (the `label_flip` attack); their evaluation
    /// and every other worker keep the true labels.
    pub fn flip_labels(&mut self, b: &B, problem: &Problem, flipped: &[usize]) -> Result<(), BackendError> {
        let classes = problem.shape.classes as u32;
        for &i in flipped {
            let labels: Vec<u32> = problem.locals[i].labels.iter().map(|&c| classes - 1 - c.min(classes - 1)).collect();
            self.workers[i].train_on_labels(b, &labels, &format!("worker{i}"))?;
        }
        Ok(())
    }

    /// The largest rows + boundary rows of a worker: the receive buffers' height.
    fn max_local(problem: &Problem) -> usize {
        problem
            .locals
            .iter()
            .map(|g| g.num_nodes() + g.neighbourhood.boundary().map_or(0, |bd| bd.len()))
            .max()
            .unwrap_or(0)
    }

    fn buffers(b: &B, problem: &Problem, mode: Boundary, training: bool) -> Result<ExchangeBuffers<B>, BackendError> {
        let n = problem.layout.order.len();
        let local = Self::max_local(problem);
        let widths = problem.shape.exchange_widths();
        let alloc = |rows: usize, w: usize, what: &str, l: usize| {
            b.alloc(rows, w, MemCategory::Exchange, &format!("exchange/{what}{l}"))
        };
        let (mut send, mut stale, mut grads, mut recv, mut back) = (vec![], vec![], vec![], vec![], vec![]);
        for (l, &w) in widths.iter().enumerate() {
            send.push(alloc(n, w, "send", l)?);
            recv.push(alloc(local, w, "recv", l)?);
            if mode == Boundary::Stale {
                stale.push(alloc(n, w, "stale", l)?);
            }
            if training {
                back.push(alloc(local, w, "back", l)?);
                let second = if mode == Boundary::Stale { Some(alloc(n, w, "grads_prev", l)?) } else { None };
                grads.push([Some(alloc(n, w, "grads", l)?), second]);
            }
        }
        Ok(ExchangeBuffers { send, stale, grads, recv, back, current: 0, stale_ready: false, grads_ready: false })
    }

    /// Bytes [`Self::new`] allocates beyond the workers' own workspaces.
    pub fn exchange_bytes(problem: &Problem, mode: Boundary) -> u128 {
        if !problem.locals.iter().any(|g| g.neighbourhood.boundary().is_some()) {
            return 0;
        }
        let training = problem.locals.iter().any(|g| matches!(g.neighbourhood, Neighbourhood::Exchange { .. }));
        let (n, local) = (problem.layout.order.len() as u128, Self::max_local(problem) as u128);
        let widths: u128 = problem.shape.exchange_widths().iter().map(|&w| w as u128).sum();
        let stale = u128::from(mode == Boundary::Stale);
        let per_width = n + local + stale * n + if training { local + n + stale * n } else { 0 };
        4 * widths * per_width
    }

    /// Every worker's training pass from `weights[i]`, its loss gradient scaled by
    /// `grad_scales[i]`; loss statistics into `stats[slot(i)]`.
    #[allow(clippy::too_many_arguments)]
    pub fn train(
        &mut self,
        b: &B,
        weights: &[&[B::Matrix]],
        seed: u64,
        epoch: u32,
        sample_rate: f32,
        grad_scales: &[f32],
        stats: &mut B::Stats,
        slot: impl Fn(usize) -> usize,
    ) {
        let pass = Pass::Train { seed, epoch };
        if self.mode == Boundary::Sample {
            for (i, w) in self.workers.iter_mut().enumerate() {
                b.attribute(Some(i));
                w.resample(b, &sample_spec(seed, epoch, i, sample_rate));
            }
        }
        let source = if self.mode == Boundary::Stale { Source::Stale { update: true } } else { Source::Fresh };
        if std::mem::take(&mut self.forward_ready) {
            self.forwards_reused += 1;
        } else {
            self.forward(b, weights, pass, Operator::Train, source);
        }
        for (i, w) in self.workers.iter_mut().enumerate() {
            b.attribute(Some(i));
            w.loss(b, pass, grad_scales[i], stats, slot(i));
        }
        self.backward(b, weights, pass);
        b.attribute(None);
    }

    /// One worker's training pass on its own (for workers that train without exchange:
    /// `replicate`, `drop`, serial), so a simulated cluster can run workers at different times
    /// from different weight versions.
    #[allow(clippy::too_many_arguments)]
    pub fn train_one(
        &mut self,
        b: &B,
        i: usize,
        weights: &[B::Matrix],
        seed: u64,
        clock: u32,
        grad_scale: f32,
        stats: &mut B::Stats,
        slot: usize,
    ) {
        assert!(!self.trains_with_exchange, "train_one: this boundary mode trains with exchange, all workers at once");
        // Workers at different versions: an evaluation's forward is nobody's next one.
        self.forward_ready = false;
        b.attribute(Some(i));
        self.workers[i].run(b, weights, Pass::Train { seed, epoch: clock }, Operator::Train, grad_scale, stats, slot);
        b.attribute(None);
    }

    /// Whether training reads boundary rows every layer (all workers must train together).
    pub fn trains_with_exchange(&self) -> bool {
        self.trains_with_exchange
    }

    /// Every worker's evaluation pass with `weights` (dropout off), statistics into
    /// `stats[slot(i)]`: on the full graph, or on each worker's training view.
    pub fn evaluate(
        &mut self,
        b: &B,
        weights: &[B::Matrix],
        mode: EvalMode,
        stats: &mut B::Stats,
        slot: impl Fn(usize) -> usize,
    ) {
        let (op, source) = match mode {
            EvalMode::Full => (Operator::Full, Source::Fresh),
            EvalMode::Partitions if self.mode == Boundary::Stale => (Operator::Train, Source::Stale { update: false }),
            EvalMode::Partitions => (Operator::Train, Source::Fresh),
        };
        let all: Vec<&[B::Matrix]> = vec![weights; self.workers.len()];
        self.forward(b, &all, Pass::Eval, op, source);
        // The evaluation's own loss is the simulator's measurement: charged to nobody, so that
        // a forward the next training pass reuses is charged exactly as that pass's.
        b.attribute(None);
        for (i, w) in self.workers.iter_mut().enumerate() {
            w.loss(b, Pass::Eval, 1.0, stats, slot(i));
        }
        self.forward_ready = self.forward_reusable;
    }

    fn forward(&mut self, b: &B, weights: &[&[B::Matrix]], pass: Pass, op: Operator, source: Source) {
        let layers = self.workers[0].num_layers();
        let reads: Vec<bool> = self.workers.iter().map(|w| w.reads_boundary(op)).collect();
        for l in 0..layers {
            for (i, w) in self.workers.iter_mut().enumerate() {
                b.attribute(Some(i));
                w.support(b, weights[i], pass, l);
            }
            let Some(ex) = self.exchange.as_mut().filter(|_| reads.iter().any(|&r| r)) else {
                for (i, w) in self.workers.iter_mut().enumerate() {
                    b.attribute(Some(i));
                    w.aggregate(b, weights[i], pass, l, op, None);
                }
                continue;
            };
            // Send: every owner's rows into its block (for `stale`, only before the first pass).
            let fill_stale = matches!(source, Source::Stale { .. }) && !ex.stale_ready;
            let target = match source {
                Source::Fresh => Some(&mut ex.send[l]),
                Source::Stale { .. } if fill_stale => Some(&mut ex.stale[l]),
                Source::Stale { .. } => None,
            };
            if let Some(target) = target {
                for (i, w) in self.workers.iter().enumerate() {
                    b.attribute(Some(i));
                    b.copy_rows(w.support_of(l), 0, target, self.offsets[i], w.num_rows());
                }
            }
            // Receivers wait for the owners' rows.
            b.segment_end();
            // Receive and aggregate, worker by worker through the shared receive buffer.
            for (i, w) in self.workers.iter_mut().enumerate() {
                b.attribute(Some(i));
                if !reads[i] {
                    w.aggregate(b, weights[i], pass, l, op, None);
                    continue;
                }
                let from = if matches!(source, Source::Fresh) { &ex.send[l] } else { &ex.stale[l] };
                let positions = w.boundary_positions().expect("a worker that reads boundary rows has them");
                b.copy_rows(w.support_of(l), 0, &mut ex.recv[l], 0, w.num_rows());
                b.gather_rows(from, positions, &mut ex.recv[l], w.num_rows());
                w.aggregate(b, weights[i], pass, l, op, Some(&ex.recv[l]));
            }
            // `stale`: this pass's rows are the next pass's boundary rows.
            if source == (Source::Stale { update: true }) {
                for (i, w) in self.workers.iter().enumerate() {
                    b.attribute(Some(i));
                    b.copy_rows(w.support_of(l), 0, &mut ex.stale[l], self.offsets[i], w.num_rows());
                }
            }
        }
        if source == (Source::Stale { update: true }) {
            if let Some(ex) = self.exchange.as_mut() {
                ex.stale_ready = true;
            }
        }
    }

    fn backward(&mut self, b: &B, weights: &[&[B::Matrix]], pass: Pass) {
        let layers = self.workers[0].num_layers();
        let stale = self.mode == Boundary::Stale;
        for l in (0..layers).rev() {
            for (i, w) in self.workers.iter_mut().enumerate() {
                b.attribute(Some(i));
                w.relu_grad(b, l);
            }
            match self.exchange.as_mut().filter(|_| self.trains_with_exchange) {
                Some(ex) => {
                    let cur = ex.current;
                    let [a, c] = &mut ex.grads[l];
                    let (received, previous) = if cur == 0 { (a, c) } else { (c, a) };
                    let received = received.as_mut().expect("training exchange keeps gradient buffers");
                    b.attribute(None);
                    b.zero(received);
                    for (i, w) in self.workers.iter_mut().enumerate() {
                        b.attribute(Some(i));
                        let n = w.num_rows();
                        w.propagate_into(b, weights[i], pass, l, &mut ex.back[l]);
                        b.copy_rows(&ex.back[l], 0, w.d_support_mut(l), 0, n);
                        if let Some(positions) = w.boundary_positions() {
                            b.scatter_add_rows(&ex.back[l], n, positions, received);
                        }
                    }
                    // Owners wait for the boundary gradients.
                    b.segment_end();
                    // `stale`: the gradients received in the previous pass (this one's in the first).
                    let from = match previous {
                        Some(prev) if stale && ex.grads_ready => &*prev,
                        _ => &*received,
                    };
                    for (i, w) in self.workers.iter_mut().enumerate() {
                        b.attribute(Some(i));
                        let n = w.num_rows();
                        b.add_rows(from, self.offsets[i], w.d_support_mut(l), 0, n);
                    }
                }
                None => {
                    for (i, w) in self.workers.iter_mut().enumerate() {
                        b.attribute(Some(i));
                        w.propagate(b, weights[i], pass, l);
                    }
                }
            }
            for (i, w) in self.workers.iter_mut().enumerate() {
                b.attribute(Some(i));
                w.weight_grad(b, weights[i], pass, l);
            }
        }
        if let Some(ex) = self.exchange.as_mut().filter(|_| stale && self.trains_with_exchange) {
            ex.current = 1 - ex.current;
            ex.grads_ready = true;
        }
    }

    /// Bytes one training pass moves between partitions, per layer and direction (see
    /// [`Traffic`]). `boundary = sample` counts the rows of this epoch's sample only, computed
    /// with the same draws as the device.
    pub fn traffic(&self, problem: &Problem, seed: u64, epoch: u32, sample_rate: f32) -> Traffic {
        let parts = problem.locals.len();
        let mut rows = vec![vec![0u64; parts]; parts];
        if self.trains_with_exchange {
            for (p, g) in problem.locals.iter().enumerate() {
                let Some(bd) = g.neighbourhood.boundary() else { continue };
                if self.mode == Boundary::Sample {
                    let spec = sample_spec(seed, epoch, p, sample_rate);
                    for &v in &bd.nodes {
                        if crate::rng::mask_uniform(spec.stream, v, 0) >= spec.rate {
                            rows[problem.layout.owner[v as usize] as usize][p] += 1;
                        }
                    }
                } else {
                    for (q, &r) in bd.rows_from.iter().enumerate() {
                        rows[q][p] += r as u64;
                    }
                }
            }
        }
        let total: u64 = rows.iter().flatten().sum();
        let per_layer: Vec<u64> = problem.shape.exchange_widths().iter().map(|&w| 4 * w as u64 * total).collect();
        Traffic { forward: per_layer.clone(), backward: per_layer, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every worker pulls exactly the rows its layer-0 input reads: its owned nodes' under the
    /// modes that exchange layer outputs (a boundary node's support arrives from its owner, so
    /// its embedding row is not needed) and under `drop`; its owned nodes' and their L-hop halo's
    /// under `replicate`, where the worker computes the halo itself. Checked against the
    /// partition assignment and a breadth-first search on the global graph, with a table whose
    /// row v holds v.
    #[test]
    fn workers_pull_the_rows_their_input_reads() {
        use crate::backend::cpu::CpuBackend;
        use crate::backend::Backend;
        use crate::sim::{prepare, RunConfig};
        let ds = "csbm:nodes=3000".parse::<crate::data::DatasetSpec>().unwrap().load().unwrap();
        let n = ds.num_nodes();
        let dim = 3;
        let table = HostMatrix::from_vec(n, dim, (0..n).flat_map(|v| [v as f32; 3]).collect());
        for (boundary, layers) in [
            (Boundary::Exchange, 2),
            (Boundary::Stale, 2),
            (Boundary::Sample, 2),
            (Boundary::Drop, 2),
            (Boundary::Replicate, 2),
            (Boundary::Replicate, 3),
        ] {
            let mut cfg = RunConfig::default();
            (cfg.train.embedding_dim, cfg.train.layers) = (dim, layers);
            (cfg.parallel.partitions, cfg.parallel.boundary) = (4, boundary);
            let problem = prepare(&ds, &cfg).unwrap();
            let b = CpuBackend::new();
            let mut model = PartitionedModel::new(&b, &problem, boundary, 0.5).unwrap();
            let device_table = b.upload(&table, MemCategory::Embeddings, "table").unwrap();
            model.pull_embeddings(&b, &device_table);
            for (i, w) in model.workers.iter().enumerate() {
                let pulled = b.download(w.pulled_embeddings().unwrap()).unwrap();
                let mut rows: Vec<u32> = (0..pulled.rows).map(|r| pulled.data[r * dim] as u32).collect();
                assert!((0..pulled.rows).all(|r| pulled.row(r).iter().all(|&x| x == rows[r] as f32)));
                rows.sort_unstable();
                let owned: Vec<bool> = (0..n).map(|v| problem.layout.owner[v] as usize == i).collect();
                let mut expected = owned.clone();
                if boundary == Boundary::Replicate {
                    for _ in 0..layers {
                        let frontier = expected.clone();
                        for v in (0..n).filter(|&v| frontier[v]) {
                            for &u in ds.adjacency.row(v) {
                                expected[u as usize] = true;
                            }
                        }
                    }
                }
                let expected: Vec<u32> = (0..n as u32).filter(|&v| expected[v as usize]).collect();
                assert_eq!(rows, expected, "{boundary:?} L = {layers}, worker {i}");
                let halo = expected.len() - owned.iter().filter(|&&o| o).count();
                assert_eq!(halo > 0, boundary == Boundary::Replicate, "{boundary:?}: halo rows {halo}");
            }
        }
    }

    #[test]
    fn sample_keeps_about_the_rate() {
        let spec = sample_spec(3, 4, 5, 0.25);
        let kept = (0..4000u32).filter(|i| crate::rng::mask_uniform(spec.stream, i * 3 + 7, 0) >= spec.rate).count();
        eprintln!("kept {kept} of 4000, rate {} scale {}", spec.rate, spec.scale);
        assert!((900..1100).contains(&kept), "{kept}");
    }
}
