//! Forward and backward passes of the GCN on one worker's device buffers.

use super::{GcnShape, InputFeatures, LocalGraph};
use crate::backend::{Backend, BackendError, DropoutSpec, MemCategory, SparseLayout};
use crate::rng::MaskKey;

/// Training pass (dropout on, gradients computed) or evaluation pass (dropout off, no gradients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Train { seed: u64, epoch: u32 },
    Eval,
}

/// The layer-0 input on the device. Sparse inputs also keep Xᵀ for the weight gradient
/// (Xᵀ·G without atomics), plus dropped-out copies of both.
enum DeviceInput<B: Backend> {
    Dense { x: B::Matrix, x_drop: B::Matrix },
    Sparse { x: B::Sparse, xt: B::Sparse, x_drop: B::Sparse, xt_drop: B::Sparse },
}

/// Per-layer activations and their gradients.
struct LayerBuffers<B: Backend> {
    /// Dropped-out input of layers ≥ 1 (layer 0 uses `DeviceInput`).
    h_drop: Option<B::Matrix>,
    support: B::Matrix,
    z: B::Matrix,
    /// ReLU(z) for hidden layers.
    h: Option<B::Matrix>,
    dz: B::Matrix,
    d_support: B::Matrix,
    /// Gradient w.r.t. `h_drop` and w.r.t. the previous layer's `h` (layers ≥ 1).
    d_h_drop: Option<B::Matrix>,
    d_h_prev: Option<B::Matrix>,
}

/// Everything one worker keeps on the device: graph, features, labels, activations, and the
/// weight gradients it pushes to the parameter server.
pub struct GcnWorkspace<B: Backend> {
    shape: GcnShape,
    dropout: f32,
    num_nodes: usize,
    num_train: usize,
    a_hat: B::Sparse,
    a_hat_t: B::Sparse,
    input: DeviceInput<B>,
    node_ids: B::Index,
    labels: B::Index,
    split: B::Index,
    layers: Vec<LayerBuffers<B>>,
    weight_grads: Vec<B::Matrix>,
}

impl<B: Backend> GcnWorkspace<B> {
    pub fn new(b: &B, graph: &LocalGraph, shape: &GcnShape, dropout: f32, label: &str) -> Result<Self, BackendError> {
        let n = graph.num_nodes();
        assert_eq!(graph.features.cols(), shape.in_features, "workspace: feature width differs from the model's");
        let lbl = |what: &str| format!("{label}/{what}");
        let a_hat = b.upload_sparse(&graph.a_hat, MemCategory::Graph, &lbl("a_hat"))?;
        let a_hat_t = b.upload_sparse(&graph.a_hat.transpose(), MemCategory::Graph, &lbl("a_hat_t"))?;
        let input = match &graph.features {
            InputFeatures::Dense(x) => DeviceInput::Dense {
                x: b.upload(x, MemCategory::Features, &lbl("x"))?,
                x_drop: b.alloc(x.rows, x.cols, MemCategory::Activations, &lbl("x_drop"))?,
            },
            InputFeatures::Sparse(x) => {
                let xs = b.upload_sparse(x, MemCategory::Features, &lbl("x"))?;
                let xt = b.upload_sparse(&x.transpose(), MemCategory::Features, &lbl("x_t"))?;
                let x_drop = b.sparse_like(&xs, MemCategory::Activations, &lbl("x_drop"))?;
                let xt_drop = b.sparse_like(&xt, MemCategory::Activations, &lbl("x_t_drop"))?;
                DeviceInput::Sparse { x: xs, xt, x_drop, xt_drop }
            }
        };
        let dims = shape.layer_dims();
        let mut layers = Vec::with_capacity(dims.len());
        let mut weight_grads = Vec::with_capacity(dims.len());
        for (l, &(fan_in, fan_out)) in dims.iter().enumerate() {
            let act = |what: &str, cols: usize| b.alloc(n, cols, MemCategory::Activations, &lbl(&format!("{what}{l}")));
            let grad = |what: &str, cols: usize| b.alloc(n, cols, MemCategory::Gradients, &lbl(&format!("{what}{l}")));
            let hidden = l + 1 < dims.len();
            layers.push(LayerBuffers {
                h_drop: if l > 0 { Some(act("h_drop", fan_in)?) } else { None },
                support: act("support", fan_out)?,
                z: act("z", fan_out)?,
                h: if hidden { Some(act("h", fan_out)?) } else { None },
                dz: grad("dz", fan_out)?,
                d_support: grad("d_support", fan_out)?,
                d_h_drop: if l > 0 { Some(grad("d_h_drop", fan_in)?) } else { None },
                d_h_prev: if l > 0 { Some(grad("d_h", fan_in)?) } else { None },
            });
            weight_grads.push(b.alloc(fan_in, fan_out, MemCategory::Gradients, &lbl(&format!("dW{l}")))?);
        }
        Ok(Self {
            shape: shape.clone(),
            dropout,
            num_nodes: n,
            num_train: graph.num_train(),
            a_hat,
            a_hat_t,
            input,
            node_ids: b.upload_index(&graph.node_ids, MemCategory::Graph, &lbl("node_ids"))?,
            labels: b.upload_index(&graph.labels, MemCategory::Graph, &lbl("labels"))?,
            split: b.upload_index(&graph.split_codes, MemCategory::Graph, &lbl("split"))?,
            layers,
            weight_grads,
        })
    }

    /// Bytes [`Self::new`] allocates for `graph` (u128: sizes from user input may be absurd),
    /// so a run can be refused before it allocates. A test keeps it equal to the real count.
    pub fn device_bytes(graph: &LocalGraph, shape: &GcnShape) -> u128 {
        let n = graph.num_nodes() as u128;
        let csr = |rows: u128, nnz: u128| 4 * (rows + 1 + 2 * nnz);
        let a_nnz = graph.a_hat.nnz() as u128;
        let mut bytes = csr(n, a_nnz) + csr(graph.a_hat.cols as u128, a_nnz);
        bytes += match &graph.features {
            // x and its dropped-out copy.
            InputFeatures::Dense(x) => 2 * 4 * n * x.cols as u128,
            // x, xᵀ and their dropped-out values.
            InputFeatures::Sparse(x) => {
                let nnz = x.nnz() as u128;
                csr(n, nnz) + csr(x.cols as u128, nnz) + 2 * 4 * nnz
            }
        };
        bytes += 3 * 4 * n; // node ids, labels, split codes
        let dims = shape.layer_dims();
        for (l, &(fan_in, fan_out)) in dims.iter().enumerate() {
            let (fan_in, fan_out) = (fan_in as u128, fan_out as u128);
            let hidden = l + 1 < dims.len();
            // support, z, dz, d_support (+ h for hidden layers) of width fan_out.
            let out_buffers = 4 + u128::from(hidden);
            // h_drop, d_h_drop, d_h_prev of width fan_in for layers ≥ 1.
            let in_buffers = if l > 0 { 3 } else { 0 };
            bytes += 4 * n * (out_buffers * fan_out + in_buffers * fan_in) + 4 * fan_in * fan_out;
        }
        bytes
    }

    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Training nodes this worker owns (its loss is their mean).
    pub fn num_train(&self) -> usize {
        self.num_train
    }

    /// The weight gradients of the last training pass (of this worker's mean loss).
    pub fn weight_grads(&self) -> &[B::Matrix] {
        &self.weight_grads
    }

    fn dropout_spec(&self, pass: Pass, layer: usize) -> Option<DropoutSpec> {
        match pass {
            Pass::Train { seed, epoch } if self.dropout > 0.0 => {
                Some(DropoutSpec::new(MaskKey { seed, epoch, layer: layer as u32 }, self.dropout))
            }
            _ => None,
        }
    }

    /// Forward pass with `weights`, then the loss statistics into `stats[slot]`; for a training
    /// pass also the backward pass into [`Self::weight_grads`].
    pub fn run(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, stats: &mut B::Stats, slot: usize) {
        assert_eq!(weights.len(), self.layers.len(), "run: one weight matrix per layer");
        self.forward(b, weights, pass);
        let last = self.layers.len() - 1;
        let train = matches!(pass, Pass::Train { .. });
        let grad_scale = 1.0 / self.num_train.max(1) as f32;
        let layer = &mut self.layers[last];
        b.softmax_xent(
            &layer.z,
            &self.labels,
            &self.split,
            grad_scale,
            if train { Some(&mut layer.dz) } else { None },
            stats,
            slot,
        );
        if train {
            self.backward(b, weights, pass);
        }
    }

    fn forward(&mut self, b: &B, weights: &[B::Matrix], pass: Pass) {
        for l in 0..self.layers.len() {
            let spec = self.dropout_spec(pass, l);
            let (before, rest) = self.layers.split_at_mut(l);
            let layer = &mut rest[0];
            if l == 0 {
                match &mut self.input {
                    DeviceInput::Dense { x, x_drop } => {
                        let xin = match spec {
                            Some(s) => {
                                b.dropout(x, &self.node_ids, &s, x_drop);
                                &*x_drop
                            }
                            None => &*x,
                        };
                        b.matmul(xin, &weights[0], &mut layer.support, false, false);
                    }
                    DeviceInput::Sparse { x, x_drop, .. } => {
                        let xin = match spec {
                            Some(s) => {
                                b.dropout_sparse(x, &self.node_ids, SparseLayout::NodeRows, &s, x_drop);
                                &*x_drop
                            }
                            None => &*x,
                        };
                        b.spmm(xin, &weights[0], &mut layer.support);
                    }
                }
            } else {
                let h_prev = before[l - 1].h.as_ref().expect("hidden layers keep ReLU output");
                let h_drop = layer.h_drop.as_mut().expect("layers ≥ 1 keep a dropout buffer");
                let hin = match spec {
                    Some(s) => {
                        b.dropout(h_prev, &self.node_ids, &s, h_drop);
                        &*h_drop
                    }
                    None => h_prev,
                };
                b.matmul(hin, &weights[l], &mut layer.support, false, false);
            }
            b.spmm(&self.a_hat, &layer.support, &mut layer.z);
            if let Some(h) = layer.h.as_mut() {
                b.relu(&layer.z, h);
            }
        }
    }

    fn backward(&mut self, b: &B, weights: &[B::Matrix], pass: Pass) {
        for l in (0..self.layers.len()).rev() {
            let spec = self.dropout_spec(pass, l);
            let (before, rest) = self.layers.split_at_mut(l);
            let (layer, after) = rest.split_first_mut().expect("layer l exists");
            if let Some(h) = &layer.h {
                // dZ_l = dH_l ⊙ [H_l > 0]; dH_l was left by layer l+1 in its `d_h_prev`.
                let d_h = after[0].d_h_prev.as_ref().expect("layer l+1 wrote dH_l");
                b.relu_backward(h, d_h, &mut layer.dz);
            }
            // Âᵀ through the precomputed transpose: no atomics, deterministic.
            b.spmm(&self.a_hat_t, &layer.dz, &mut layer.d_support);
            if l == 0 {
                match &mut self.input {
                    DeviceInput::Dense { x, x_drop } => {
                        let xin = if spec.is_some() { &*x_drop } else { &*x };
                        b.matmul(xin, &layer.d_support, &mut self.weight_grads[0], true, false);
                    }
                    DeviceInput::Sparse { xt, xt_drop, .. } => {
                        let xtin = match spec {
                            Some(s) => {
                                b.dropout_sparse(xt, &self.node_ids, SparseLayout::NodeCols, &s, xt_drop);
                                &*xt_drop
                            }
                            None => &*xt,
                        };
                        b.spmm(xtin, &layer.d_support, &mut self.weight_grads[0]);
                    }
                }
            } else {
                let h_prev = before[l - 1].h.as_ref().expect("hidden layers keep ReLU output");
                let hin = if spec.is_some() { layer.h_drop.as_ref().expect("dropout buffer") } else { h_prev };
                b.matmul(hin, &layer.d_support, &mut self.weight_grads[l], true, false);
                let d_h_drop = layer.d_h_drop.as_mut().expect("layers ≥ 1 keep dH_drop");
                b.matmul(&layer.d_support, &weights[l], d_h_drop, false, true);
                let d_h_prev = layer.d_h_prev.as_mut().expect("layers ≥ 1 keep dH_prev");
                match spec {
                    // The dropout mask and scale again: the backward of dropout.
                    Some(s) => b.dropout(d_h_drop, &self.node_ids, &s, d_h_prev),
                    None => b.copy(d_h_drop, d_h_prev),
                }
            }
        }
    }

    /// The model's shape.
    pub fn shape(&self) -> &GcnShape {
        &self.shape
    }
}

#[cfg(test)]
mod tests {
    //! The analytic gradient of the whole model against central finite differences.
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::{stat, Shape};
    use crate::graph::{Csr, Normalization};
    use crate::rng::SplitMix64;
    use crate::tensor::HostMatrix;

    /// A random graph of `n` nodes with features of which about half are zero.
    fn random_problem(n: usize, f: usize, classes: usize, sparse: bool, seed: u64) -> LocalGraph {
        let mut rng = SplitMix64::new(seed);
        let pairs = (0..3 * n)
            .map(|_| (rng.below(n as u64) as u32, rng.below(n as u64) as u32))
            .flat_map(|(u, v)| [(u, v), (v, u)])
            .collect();
        let adj = Csr::from_pairs(n, n, pairs, true).unwrap();
        let x = HostMatrix::from_vec(
            n,
            f,
            (0..n * f).map(|_| if rng.next_f64() < 0.5 { 0.0 } else { rng.normal() as f32 }).collect(),
        );
        LocalGraph {
            node_ids: (0..n as u32).collect(),
            num_owned: n,
            a_hat: Normalization::Symmetric.apply(&adj).unwrap(),
            features: if sparse {
                InputFeatures::Sparse(Csr::from_dense(&x).unwrap())
            } else {
                InputFeatures::Dense(x)
            },
            labels: (0..n).map(|_| rng.below(classes as u64) as u32).collect(),
            // Train, valid and test nodes interleaved: only train nodes carry gradient.
            split_codes: (0..n).map(|i| [1, 1, 2, 3][i % 4]).collect(),
        }
    }

    /// The mean training loss, and which hidden units are active (to see ReLU kinks).
    fn mean_train_loss(
        b: &CpuBackend,
        ws: &mut GcnWorkspace<CpuBackend>,
        weights: &[crate::backend::cpu::CpuMatrix],
    ) -> (f64, Vec<bool>) {
        let mut stats = b.alloc_stats(1, "stats").unwrap();
        ws.run(b, weights, Pass::Eval, &mut stats, 0);
        let s = b.read_stats(&stats).unwrap();
        let active =
            ws.layers.iter().filter_map(|l| l.h.as_ref()).flat_map(|h| h.data.iter().map(|&x| x > 0.0)).collect();
        (s[stat::TRAIN + stat::LOSS] as f64 / s[stat::TRAIN + stat::COUNT] as f64, active)
    }

    fn check_gradient(layers: usize, sparse: bool) {
        let b = CpuBackend::new();
        let graph = random_problem(23, 7, 3, sparse, 11);
        let shape = GcnShape { in_features: 7, hidden: 5, layers, classes: 3 };
        let mut ws = GcnWorkspace::new(&b, &graph, &shape, 0.0, "gradcheck").unwrap();
        let init = crate::model::glorot_uniform(&shape, 5);
        let mut weights: Vec<_> = init.iter().map(|w| b.upload(w, MemCategory::Weights, "w").unwrap()).collect();
        let mut stats = b.alloc_stats(1, "stats").unwrap();
        ws.run(&b, &weights, Pass::Train { seed: 0, epoch: 0 }, &mut stats, 0);
        let analytic: Vec<HostMatrix> = ws.weight_grads().iter().map(|g| b.download(g).unwrap()).collect();
        // f32 forward: a step of 1e-2 keeps the rounding error of the difference (~1e-7/1e-2)
        // well below the tolerance, and the O(h²) truncation error is ~1e-5 here.
        let (mut checked, mut kinks) = (0usize, 0usize);
        for l in 0..layers {
            for i in 0..weights[l].len() {
                let (r, c) = (i / weights[l].cols(), i % weights[l].cols());
                let orig = weights[l].data[[r, c]];
                let got = analytic[l].data[i] as f64;
                // f32 forward: a step of 1e-2 keeps the rounding error of the quotient (~1e-7/h)
                // small; where a ReLU input changes sign inside [−h, h] the loss is not smooth and
                // the quotient says nothing, so retry with a smaller step, else skip the element.
                let smooth = [1e-2f32, 3e-3, 1e-3, 3e-4].into_iter().find_map(|h| {
                    weights[l].data[[r, c]] = orig + h;
                    let (plus, active_plus) = mean_train_loss(&b, &mut ws, &weights);
                    weights[l].data[[r, c]] = orig - h;
                    let (minus, active_minus) = mean_train_loss(&b, &mut ws, &weights);
                    weights[l].data[[r, c]] = orig;
                    (active_plus == active_minus).then(|| ((plus - minus) / (2.0 * h as f64), 2e-4 + 2e-7 / h as f64))
                });
                let Some((numeric, abs_tol)) = smooth else {
                    kinks += 1;
                    continue;
                };
                checked += 1;
                assert!(
                    (numeric - got).abs() <= abs_tol + 1e-2 * got.abs(),
                    "layers {layers}, sparse {sparse}: dW{l}[{r},{c}] analytic {got:e} vs numeric {numeric:e}"
                );
            }
        }
        assert!(kinks * 10 <= checked, "too many ReLU kinks to judge: {kinks} skipped, {checked} checked");
        // The gradient is not trivially zero.
        assert!(analytic.iter().all(|g| g.data.iter().any(|&x| x.abs() > 1e-4)));
    }

    #[test]
    fn gradient_matches_finite_differences_two_layers_sparse_input() {
        check_gradient(2, true);
    }

    #[test]
    fn gradient_matches_finite_differences_three_layers_dense_input() {
        check_gradient(3, false);
    }

    #[test]
    fn gradient_matches_finite_differences_one_layer() {
        check_gradient(1, true);
    }

    #[test]
    fn device_bytes_is_what_new_allocates() {
        for (layers, sparse) in [(1, true), (2, false), (3, true)] {
            let b = CpuBackend::new();
            let graph = random_problem(31, 9, 4, sparse, 3);
            let shape = GcnShape { in_features: 9, hidden: 6, layers, classes: 4 };
            let ws = GcnWorkspace::new(&b, &graph, &shape, 0.5, "w").unwrap();
            let live = b.memory().snapshot().live_total() as u128;
            assert_eq!(
                GcnWorkspace::<CpuBackend>::device_bytes(&graph, &shape),
                live,
                "layers {layers} sparse {sparse}"
            );
            drop(ws);
        }
    }
}
