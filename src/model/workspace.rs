//! Forward and backward passes of a model on one worker's device buffers.
//!
//! The passes are split into per-layer phases so that a partitioned pass can move boundary
//! rows between workers between them (`model::partitioned`); [`Workspace::run`] chains them
//! for a worker that needs no other worker's rows. What every model shares lives here: the
//! input (features, embeddings, dropout), the projection, the activation and the loss; the rest
//! of a layer is the model's [`LayerOps`] (`model::models`).
//!
//! Layer l forward: `H_d = dropout(H_l)` · `P = H_d · W_l` and the rows sources send
//! ([`Workspace::support`]) · `Z_l` from the gathered rows and `H_{l+1} = act(Z_l)`
//! ([`Workspace::aggregate`]). Backward: `dZ_l = dH_{l+1} ⊙ act'` ([`Workspace::relu_grad`]) ·
//! the gradient of the gathered rows ([`Workspace::propagate`]) · `dP`, the layer's other
//! parameter gradients, `dW_l = H_dᵀ · dP`, `dH_l = dropout(dP · W_lᵀ)`
//! ([`Workspace::weight_grad`]). For the GCN, P is `support = H_d·W` and what crosses
//! partitions, and `dP = Âᵀ·dZ`.

use super::layer::{Activation, LayerOps, LayerPlan, LayerSite, Operators};
use super::{GcnShape, InputFeatures, LocalGraph, Neighbourhood};
use crate::backend::{Backend, BackendError, DropoutSpec, MemCategory, Nonzeros, Shape, SparseLayout};
use crate::rng::MaskKey;

/// Training pass (dropout on, gradients computed) or evaluation pass (dropout off, no gradients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Train { seed: u64, epoch: u32 },
    Eval,
}

/// Which Â a forward pass aggregates with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// The one training uses (sampled this epoch for `sample`, the induced subgraph for `drop`).
    Train,
    /// The full graph's rows of the owned nodes (evaluation on the full graph).
    Full,
}

/// The layer-0 input on the device. Sparse inputs also keep Xᵀ for the weight gradient
/// (Xᵀ·G without atomics), plus dropped-out copies of both.
enum DeviceInput<B: Backend> {
    /// `features = none`: the embeddings are the whole input.
    None,
    Dense {
        x: B::Matrix,
        x_drop: B::Matrix,
    },
    Sparse {
        x: B::Sparse,
        xt: B::Sparse,
        x_drop: B::Sparse,
        xt_drop: B::Sparse,
    },
}

/// Dropout streams of the embedding columns: `MaskKey::layer` with this bit set (dropout on
/// features uses layers below 64, boundary sampling bit 31), so an embedding column's mask
/// never repeats a feature column's.
const EMBEDDING_DROPOUT_STREAM: u32 = 1 << 30;

/// Learnable embedding rows of the worker's nodes (`embedding_dim`): pulled from the server's
/// table before a pass, their gradients pushed after a training pass. Layer 0 reads `[X | E]`;
/// W0 stacks W0x (F rows) over W0e (D rows), each block contiguous in row-major order, so with
/// features the pass works on copies of the blocks (`copy_region`); without, W0 is W0e.
struct EmbeddingInput<B: Backend> {
    /// One pulled row per local row (n × D).
    rows: B::Matrix,
    rows_drop: B::Matrix,
    /// With features: W0x and W0e, `E·W0e` (added to `X·W0x`), and dW0's two blocks.
    split: Option<SplitWeight<B>>,
    /// `dSupport_0 · W0eᵀ`, and dE after dropout's backward (n × D).
    d_rows_drop: B::Matrix,
    d_rows: B::Matrix,
    /// The local rows whose gradient the worker pushes (`model::receptive`), and the push
    /// message: those rows of dE, in that order (`None` when the loss reaches no row).
    push_rows: Option<(B::Index, B::Matrix)>,
}

/// W0 = [W0x; W0e] taken apart, for a worker with both features and embeddings.
struct SplitWeight<B: Backend> {
    w_x: B::Matrix,
    w_e: B::Matrix,
    support_e: B::Matrix,
    dw_x: B::Matrix,
    dw_e: B::Matrix,
}

/// Per-layer activations and their gradients.
struct LayerBuffers<B: Backend> {
    /// Dropped-out input of layers ≥ 1 (layer 0 uses `DeviceInput`).
    h_drop: Option<B::Matrix>,
    /// `P = H_d·W_l` (the GCN's support).
    support: B::Matrix,
    z: B::Matrix,
    /// act(z) for hidden layers.
    h: Option<B::Matrix>,
    dz: B::Matrix,
    /// Gradient w.r.t. `h_drop` and w.r.t. the previous layer's `h` (layers ≥ 1).
    d_h_drop: Option<B::Matrix>,
    d_h_prev: Option<B::Matrix>,
}

/// The operators besides the training Â.
enum Extra<B: Backend> {
    None,
    /// `drop`: the full graph's rows, for evaluation.
    Full(B::Sparse),
    /// `sample`: the unsampled Â and Âᵀ (sampling source and evaluation operator), and the
    /// global node id of every local column.
    Sampled {
        full: B::Sparse,
        full_t: B::Sparse,
        col_nodes: B::Index,
    },
}

/// Everything one worker keeps on the device: graph, features, labels, activations, and the
/// weight gradients it pushes to the parameter server.
pub struct Workspace<B: Backend> {
    shape: GcnShape,
    plan: Vec<LayerPlan>,
    /// Index of layer l's projection weight in the flat parameter list (its other tensors
    /// follow it).
    first_param: Vec<usize>,
    activation: Activation,
    /// The model's part of every layer.
    ops: Vec<Box<dyn LayerOps<B>>>,
    /// For each entry of the training Âᵀ, its position in Â (models that read per-edge values
    /// backwards), and the global node id of every column of Â (models that draw per edge).
    a_hat_t_perm: Option<B::Index>,
    col_ids: Option<B::Index>,
    dropout: f32,
    num_rows: usize,
    num_train: usize,
    a_hat: B::Sparse,
    a_hat_t: B::Sparse,
    extra: Extra<B>,
    /// With a boundary: its rows' positions in the exchange buffers.
    boundary: Option<B::Index>,
    boundary_len: usize,
    input: DeviceInput<B>,
    embedding: Option<EmbeddingInput<B>>,
    node_ids: B::Index,
    labels: B::Index,
    /// Labels the training loss uses instead of `labels` (a label-flipping Byzantine worker).
    train_labels: Option<B::Index>,
    split: B::Index,
    layers: Vec<LayerBuffers<B>>,
    weight_grads: Vec<B::Matrix>,
}

/// Bytes of a CSR with `rows` rows and `nnz` entries on a device (offsets, indices, values).
fn csr_bytes(rows: u128, nnz: u128) -> u128 {
    4 * (rows + 1 + 2 * nnz)
}

impl<B: Backend> Workspace<B> {
    pub fn new(b: &B, graph: &LocalGraph, shape: &GcnShape, dropout: f32, label: &str) -> Result<Self, BackendError> {
        let n = graph.num_nodes();
        assert_eq!(graph.features.cols(), shape.in_features, "workspace: feature width differs from the model's");
        let lbl = |what: &str| format!("{label}/{what}");
        let a_hat_host_t = graph.a_hat.transpose();
        let (a_hat, a_hat_t, extra) = match &graph.neighbourhood {
            Neighbourhood::Dropped { full_a_hat, .. } => (
                b.upload_sparse(&graph.a_hat, MemCategory::Graph, &lbl("a_hat"))?,
                b.upload_sparse(&a_hat_host_t, MemCategory::Graph, &lbl("a_hat_t"))?,
                Extra::Full(b.upload_sparse(full_a_hat, MemCategory::Graph, &lbl("a_hat_full"))?),
            ),
            Neighbourhood::Exchange { .. } | Neighbourhood::Complete => {
                let a = b.upload_sparse(&graph.a_hat, MemCategory::Graph, &lbl("a_hat"))?;
                let at = b.upload_sparse(&a_hat_host_t, MemCategory::Graph, &lbl("a_hat_t"))?;
                (a, at, Extra::None)
            }
        };
        let boundary_nodes = graph.neighbourhood.boundary();
        let boundary = match boundary_nodes {
            Some(bd) => Some(b.upload_index(&bd.positions, MemCategory::Exchange, &lbl("boundary_positions"))?),
            None => None,
        };
        let input = match &graph.features {
            f if f.cols() == 0 => DeviceInput::None,
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
        let arch = shape.model.architecture();
        let plan = arch.plan(shape);
        let embedding = match shape.embedding_dim {
            0 => None,
            d => {
                let (f, h) = (shape.in_features, plan[0].projection);
                let split = if f == 0 {
                    None
                } else {
                    Some(SplitWeight {
                        w_x: b.alloc(f, h, MemCategory::Activations, &lbl("w0x"))?,
                        w_e: b.alloc(d, h, MemCategory::Activations, &lbl("w0e"))?,
                        support_e: b.alloc(n, h, MemCategory::Activations, &lbl("support_e"))?,
                        dw_x: b.alloc(f, h, MemCategory::Gradients, &lbl("dW0x"))?,
                        dw_e: b.alloc(d, h, MemCategory::Gradients, &lbl("dW0e"))?,
                    })
                };
                Some(EmbeddingInput {
                    rows: b.alloc(n, d, MemCategory::Embeddings, &lbl("embedding_rows"))?,
                    rows_drop: b.alloc(n, d, MemCategory::Activations, &lbl("embedding_drop"))?,
                    split,
                    d_rows_drop: b.alloc(n, d, MemCategory::Gradients, &lbl("d_embedding_drop"))?,
                    d_rows: b.alloc(n, d, MemCategory::Gradients, &lbl("d_embedding"))?,
                    push_rows: None,
                })
            }
        };
        let (layers, weight_grads, first_param) = Self::layer_buffers(b, &plan, n, label)?;
        // Per-edge buffers must hold every operator a layer aggregates with.
        let (cols, nnz) = match &extra {
            Extra::Full(full) => {
                let full: &B::Sparse = full;
                (a_hat.cols().max(full.cols()), a_hat.nnz().max(full.nnz()))
            }
            _ => (a_hat.cols(), a_hat.nnz()),
        };
        let ops = (0..plan.len())
            .map(|layer| shape.model.layer(b, &LayerSite { plan: &plan, layer, rows: n, cols, nnz, label }))
            .collect::<Result<Vec<_>, _>>()?;
        let a_hat_t_perm = if arch.needs_transpose_permutation() {
            Some(b.upload_index(
                &graph.a_hat.transpose_with_permutation().1,
                MemCategory::Graph,
                &lbl("a_hat_t_perm"),
            )?)
        } else {
            None
        };
        let col_ids = if arch.needs_column_ids() {
            Some(b.upload_index(&Self::column_nodes(graph), MemCategory::Graph, &lbl("col_ids"))?)
        } else {
            None
        };
        Ok(Self {
            shape: shape.clone(),
            plan,
            first_param,
            activation: arch.activation(),
            ops,
            a_hat_t_perm,
            col_ids,
            dropout,
            num_rows: n,
            num_train: graph.num_train(),
            a_hat,
            a_hat_t,
            extra,
            boundary,
            boundary_len: boundary_nodes.map_or(0, |bd| bd.len()),
            input,
            embedding,
            node_ids: b.upload_index(&graph.node_ids, MemCategory::Graph, &lbl("node_ids"))?,
            labels: b.upload_index(&graph.labels, MemCategory::Graph, &lbl("labels"))?,
            train_labels: None,
            split: b.upload_index(&graph.split_codes, MemCategory::Graph, &lbl("split"))?,
            layers,
            weight_grads,
        })
    }

    /// Per layer: the buffers every model has; the gradient of every parameter tensor (flat,
    /// in the plan's order); and where each layer's tensors start.
    #[allow(clippy::type_complexity)]
    fn layer_buffers(
        b: &B,
        plan: &[LayerPlan],
        n: usize,
        label: &str,
    ) -> Result<(Vec<LayerBuffers<B>>, Vec<B::Matrix>, Vec<usize>), BackendError> {
        let lbl = |what: &str| format!("{label}/{what}");
        let mut layers = Vec::with_capacity(plan.len());
        let mut weight_grads = Vec::new();
        let mut first_param = Vec::with_capacity(plan.len());
        for (l, p) in plan.iter().enumerate() {
            let act = |what: &str, cols: usize| b.alloc(n, cols, MemCategory::Activations, &lbl(&format!("{what}{l}")));
            let grad = |what: &str, cols: usize| b.alloc(n, cols, MemCategory::Gradients, &lbl(&format!("{what}{l}")));
            let hidden = l + 1 < plan.len();
            layers.push(LayerBuffers {
                h_drop: if l > 0 { Some(act("h_drop", p.fan_in)?) } else { None },
                support: act("support", p.projection)?,
                z: act("z", p.out)?,
                h: if hidden { Some(act("h", p.out)?) } else { None },
                dz: grad("dz", p.out)?,
                d_h_drop: if l > 0 { Some(grad("d_h_drop", p.fan_in)?) } else { None },
                d_h_prev: if l > 0 { Some(grad("d_h", p.fan_in)?) } else { None },
            });
            first_param.push(weight_grads.len());
            for t in &p.params {
                let name = format!("d{}", t.name);
                weight_grads.push(b.alloc(t.rows, t.cols, MemCategory::Gradients, &lbl(&name))?);
            }
        }
        Ok((layers, weight_grads, first_param))
    }

    /// Global node id of every column of the worker's operators: its rows, then its boundary.
    fn column_nodes(graph: &LocalGraph) -> Vec<u32> {
        let mut ids = graph.node_ids.clone();
        if let Some(bd) = graph.neighbourhood.boundary() {
            ids.extend_from_slice(&bd.nodes);
        }
        ids
    }

    /// Makes the training Â sampleable (`boundary = sample`): keeps the full Â and Âᵀ aside
    /// as the sampling source and the evaluation operator; the training operators get their
    /// own values, written by [`Self::resample`].
    pub fn enable_sampling(&mut self, b: &B, graph: &LocalGraph, label: &str) -> Result<(), BackendError> {
        if graph.neighbourhood.boundary().is_none() {
            return Ok(());
        }
        let col_nodes = Self::column_nodes(graph);
        let sampled = b.sparse_like(&self.a_hat, MemCategory::Graph, &format!("{label}/a_hat_sampled"))?;
        let sampled_t = b.sparse_like(&self.a_hat_t, MemCategory::Graph, &format!("{label}/a_hat_t_sampled"))?;
        let full = std::mem::replace(&mut self.a_hat, sampled);
        let full_t = std::mem::replace(&mut self.a_hat_t, sampled_t);
        let col_nodes = b.upload_index(&col_nodes, MemCategory::Graph, &format!("{label}/col_nodes"))?;
        self.extra = Extra::Sampled { full, full_t, col_nodes };
        Ok(())
    }

    /// Draws this epoch's boundary sample into the training operators (see
    /// `Backend::sample_boundary`); a no-op unless sampling is enabled.
    pub fn resample(&mut self, b: &B, spec: &DropoutSpec) {
        if let Extra::Sampled { full, full_t, col_nodes } = &self.extra {
            b.sample_boundary(full, col_nodes, SparseLayout::NodeCols, self.num_rows, spec, &mut self.a_hat);
            b.sample_boundary(full_t, col_nodes, SparseLayout::NodeRows, self.num_rows, spec, &mut self.a_hat_t);
        }
    }

    /// Bytes [`Self::new`] allocates for `graph` (plus [`Self::enable_sampling`] when
    /// `sampling`), as u128: sizes from user input may be absurd, and a run is refused before
    /// it allocates. A test keeps it equal to the real count.
    pub fn device_bytes(graph: &LocalGraph, shape: &GcnShape, sampling: bool) -> u128 {
        let n = graph.num_nodes() as u128;
        let a_nnz = graph.a_hat.nnz() as u128;
        let mut bytes = csr_bytes(n, a_nnz) + csr_bytes(graph.a_hat.cols as u128, a_nnz);
        match &graph.neighbourhood {
            Neighbourhood::Complete => {}
            Neighbourhood::Exchange { boundary } => {
                bytes += 4 * boundary.len() as u128;
                if sampling {
                    // Sampled values of Â and Âᵀ, and the column node ids.
                    bytes += 2 * 4 * a_nnz + 4 * (n + boundary.len() as u128);
                }
            }
            Neighbourhood::Dropped { boundary, full_a_hat } => {
                bytes += 4 * boundary.len() as u128 + csr_bytes(n, full_a_hat.nnz() as u128);
            }
        }
        bytes += match &graph.features {
            f if f.cols() == 0 => 0,
            // x and its dropped-out copy.
            InputFeatures::Dense(x) => 2 * 4 * n * x.cols as u128,
            // x, xᵀ and their dropped-out values.
            InputFeatures::Sparse(x) => {
                let nnz = x.nnz() as u128;
                csr_bytes(n, nnz) + csr_bytes(x.cols as u128, nnz) + 2 * 4 * nnz
            }
        };
        bytes += 3 * 4 * n; // node ids, labels, split codes
        let arch = shape.model.architecture();
        let plan = arch.plan(shape);
        if shape.embedding_dim > 0 {
            let (d, f, h) = (shape.embedding_dim as u128, shape.in_features as u128, plan[0].projection as u128);
            // Pulled rows, their dropout, dE before and after dropout's backward.
            bytes += 4 * 4 * n * d;
            if f > 0 {
                // W0x, W0e, E·W0e, dW0x, dW0e.
                bytes += 4 * (2 * (f * h + d * h) + n * h);
            }
            // No push buffers here: `set_push_rows` adds them (see `push_bytes`).
        }
        if arch.needs_transpose_permutation() {
            bytes += 4 * a_nnz;
        }
        let (mut cols, mut nnz) = (graph.a_hat.cols as u128, a_nnz);
        if let Neighbourhood::Dropped { full_a_hat, .. } = &graph.neighbourhood {
            (cols, nnz) = (cols.max(full_a_hat.cols as u128), nnz.max(full_a_hat.nnz() as u128));
        }
        if arch.needs_column_ids() {
            bytes += 4 * (n + graph.neighbourhood.boundary().map_or(0, |bd| bd.len() as u128));
        }
        for (l, p) in plan.iter().enumerate() {
            let (fan_in, out, projection) = (p.fan_in as u128, p.out as u128, p.projection as u128);
            let hidden = u128::from(l + 1 < plan.len());
            // support (projection wide); z, dz (+ h for hidden layers) of width out.
            let per_row = projection + (2 + hidden) * out;
            // h_drop, d_h_drop, d_h_prev of width fan_in for layers ≥ 1.
            let in_buffers = if l > 0 { 3 } else { 0 };
            let params: u128 = p.params.iter().map(|t| (t.rows * t.cols) as u128).sum();
            bytes += 4 * n * (per_row + in_buffers * fan_in) + 4 * params;
            bytes += arch.layer_bytes(&plan, l, n, cols, nnz);
        }
        bytes
    }

    /// Layers of the model.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Rows of the worker's activations (owned nodes, plus the halo for `replicate`).
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Training nodes this worker owns (its loss is their mean).
    pub fn num_train(&self) -> usize {
        self.num_train
    }

    /// Boundary rows an exchange brings (0 without a boundary).
    pub fn boundary_len(&self) -> usize {
        self.boundary_len
    }

    /// The boundary rows' positions in the exchange buffers.
    pub fn boundary_positions(&self) -> Option<&B::Index> {
        self.boundary.as_ref()
    }

    /// Whether aggregating with `op` reads boundary rows (so the caller must gather them).
    pub fn reads_boundary(&self, op: Operator) -> bool {
        match (&self.extra, op) {
            (Extra::None, _) => self.a_hat.cols() > self.num_rows,
            (Extra::Full(_), Operator::Train) => false,
            (Extra::Full(_) | Extra::Sampled { .. }, _) => true,
        }
    }

    /// Training passes use `labels` (one per local row) from now on; evaluation keeps the true
    /// ones. A data attack: the gradient is computed as an honest one on wrong labels.
    pub fn train_on_labels(&mut self, b: &B, labels: &[u32], label: &str) -> Result<(), BackendError> {
        assert_eq!(labels.len(), self.num_rows, "train_on_labels: one label per local row");
        self.train_labels = Some(b.upload_index(labels, MemCategory::Graph, &format!("{label}/train_labels"))?);
        Ok(())
    }

    /// The weight gradients of the last training pass.
    pub fn weight_grads(&self) -> &[B::Matrix] {
        &self.weight_grads
    }

    /// The embedding columns' dropout: the input dropout rate, its own stream.
    fn dropout_spec_embedding(&self, pass: Pass) -> Option<DropoutSpec> {
        match pass {
            Pass::Train { seed, epoch } if self.dropout > 0.0 && self.embedding.is_some() => {
                Some(DropoutSpec::new(MaskKey { seed, epoch, layer: EMBEDDING_DROPOUT_STREAM }, self.dropout))
            }
            _ => None,
        }
    }

    fn dropout_spec(&self, pass: Pass, layer: usize) -> Option<DropoutSpec> {
        match pass {
            Pass::Train { seed, epoch } if self.dropout > 0.0 => {
                Some(DropoutSpec::new(MaskKey { seed, epoch, layer: layer as u32 }, self.dropout))
            }
            _ => None,
        }
    }

    /// The whole pass on this worker's rows alone (no boundary rows to gather): forward, the
    /// loss statistics into `stats[slot]`, and for a training pass the backward pass into
    /// [`Self::weight_grads`], its loss gradient scaled by `grad_scale`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        b: &B,
        weights: &[B::Matrix],
        pass: Pass,
        op: Operator,
        grad_scale: f32,
        stats: &mut B::Stats,
        slot: usize,
    ) {
        assert_eq!(weights.len(), self.weight_grads.len(), "run: one matrix per parameter tensor");
        assert!(!self.reads_boundary(op), "run: this operator reads boundary rows; use a partitioned pass");
        for l in 0..self.layers.len() {
            self.support(b, weights, pass, l);
            self.aggregate(b, weights, pass, l, op, None);
        }
        self.loss(b, pass, grad_scale, stats, slot);
        if matches!(pass, Pass::Train { .. }) {
            for l in (0..self.layers.len()).rev() {
                self.relu_grad(b, l);
                self.propagate(b, weights, pass, l);
                self.weight_grad(b, weights, pass, l);
            }
        }
    }

    /// Layer l's parameter tensors after its projection weight.
    fn params_after_projection<'w>(&self, weights: &'w [B::Matrix], l: usize) -> &'w [B::Matrix] {
        let end = self.first_param.get(l + 1).copied().unwrap_or(weights.len());
        &weights[self.first_param[l] + 1..end]
    }

    /// `P_l = dropout(H_l) · W_l` for every row, then the rows the layer sends.
    pub fn support(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, l: usize) {
        self.project(b, weights, pass, l);
        let rest = self.params_after_projection(weights, l);
        self.ops[l].after_projection(b, rest, &self.layers[l].support);
    }

    /// `P_l = dropout(H_l) · W_l`.
    fn project(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, l: usize) {
        let spec = self.dropout_spec(pass, l);
        let e_spec = self.dropout_spec_embedding(pass);
        let (before, rest) = self.layers.split_at_mut(l);
        let layer = &mut rest[0];
        if l == 0 {
            // W0's feature block: W0 itself, or its copy next to the embedding block.
            let w_x = match self.embedding.as_mut().and_then(|e| e.split.as_mut()) {
                Some(s) => {
                    let (x_len, e_len) = (s.w_x.len(), s.w_e.len());
                    b.copy_region(&weights[0], 0, &mut s.w_x, 0, x_len);
                    b.copy_region(&weights[0], x_len, &mut s.w_e, 0, e_len);
                    &s.w_x
                }
                None => &weights[0],
            };
            match &mut self.input {
                DeviceInput::None => {}
                DeviceInput::Dense { x, x_drop } => {
                    let xin = match spec {
                        Some(s) => {
                            b.dropout(x, &self.node_ids, &s, x_drop);
                            &*x_drop
                        }
                        None => &*x,
                    };
                    b.matmul(xin, w_x, &mut layer.support, false, false);
                }
                DeviceInput::Sparse { x, x_drop, .. } => {
                    let xin = match spec {
                        Some(s) => {
                            b.dropout_sparse(x, &self.node_ids, SparseLayout::NodeRows, &s, x_drop);
                            &*x_drop
                        }
                        None => &*x,
                    };
                    b.spmm(xin, w_x, &mut layer.support);
                }
            }
            if let Some(e) = self.embedding.as_mut() {
                let e_in = match e_spec {
                    Some(s) => {
                        b.dropout(&e.rows, &self.node_ids, &s, &mut e.rows_drop);
                        &e.rows_drop
                    }
                    None => &e.rows,
                };
                match e.split.as_mut() {
                    Some(s) => {
                        b.matmul(e_in, &s.w_e, &mut s.support_e, false, false);
                        b.add_rows(&s.support_e, 0, &mut layer.support, 0, self.num_rows);
                    }
                    None => b.matmul(e_in, &weights[0], &mut layer.support, false, false),
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
            b.matmul(hin, &weights[self.first_param[l]], &mut layer.support, false, false);
        }
    }

    /// This worker's rows of what layer l's destinations need (what an owner sends).
    pub fn support_of(&self, l: usize) -> &B::Matrix {
        self.ops[l].exchange_rows(&self.layers[l].support)
    }

    /// `Z_l` from the rows sources sent and, for hidden layers, `H_{l+1} = act(Z_l)`. The rows
    /// are `gathered` (the worker's rows followed by its boundary rows) when the operator reads
    /// boundary rows, else the worker's own.
    pub fn aggregate(
        &mut self,
        b: &B,
        weights: &[B::Matrix],
        pass: Pass,
        l: usize,
        op: Operator,
        gathered: Option<&B::Matrix>,
    ) {
        assert_eq!(
            gathered.is_some(),
            self.reads_boundary(op),
            "aggregate: boundary rows are needed iff the operator reads them"
        );
        let rest = self.params_after_projection(weights, l);
        let a = match (&self.extra, op) {
            (Extra::Full(full), Operator::Full) | (Extra::Sampled { full, .. }, Operator::Full) => full,
            _ => &self.a_hat,
        };
        let ops = Operators {
            a,
            a_t: &self.a_hat_t,
            a_t_perm: self.a_hat_t_perm.as_ref(),
            row_ids: &self.node_ids,
            col_ids: self.col_ids.as_ref(),
            pass,
            layer: l,
            rows: self.num_rows,
        };
        let layer = &mut self.layers[l];
        self.ops[l].aggregate(b, &ops, rest, &layer.support, gathered, &mut layer.z);
        if let Some(h) = layer.h.as_mut() {
            match self.activation {
                Activation::Relu => b.relu(&layer.z, h),
                Activation::Elu => b.elu(&layer.z, h),
            }
        }
    }

    /// Loss statistics of the last layer into `stats[slot]`; for a training pass also the loss
    /// gradient `dZ` of the last layer, scaled by `grad_scale`.
    pub fn loss(&mut self, b: &B, pass: Pass, grad_scale: f32, stats: &mut B::Stats, slot: usize) {
        let train = matches!(pass, Pass::Train { .. });
        let layer = self.layers.last_mut().expect("a GCN has a layer");
        let labels = match (&self.train_labels, train) {
            (Some(flipped), true) => flipped,
            _ => &self.labels,
        };
        b.softmax_xent(
            &layer.z,
            labels,
            &self.split,
            grad_scale,
            if train { Some(&mut layer.dz) } else { None },
            stats,
            slot,
        );
    }

    /// `dZ_l = dH_{l+1} ⊙ act'(Z_l)` for hidden layers (the last layer's dZ comes from the
    /// loss); dH was left by layer l+1's [`Self::weight_grad`].
    pub fn relu_grad(&mut self, b: &B, l: usize) {
        let (layer, after) = self.layers[l..].split_first_mut().expect("layer l exists");
        if let Some(h) = &layer.h {
            let d_h = after[0].d_h_prev.as_ref().expect("layer l+1 wrote dH_l");
            match self.activation {
                Activation::Relu => b.relu_backward(h, d_h, &mut layer.dz),
                Activation::Elu => b.elu_backward(h, d_h, &mut layer.dz),
            }
        }
    }

    /// The gradient of layer l's gathered rows into the worker's own exchange gradient (no
    /// boundary); for the GCN `dSupport_l = Âᵀ · dZ_l`.
    pub fn propagate(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, l: usize) {
        self.propagate_to(b, weights, pass, l, None);
    }

    /// The gradient of layer l's gathered rows (the worker's rows followed by its boundary
    /// rows) into `out`: the own part stays, the boundary part goes to the owners.
    pub fn propagate_into(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, l: usize, out: &mut B::Matrix) {
        self.propagate_to(b, weights, pass, l, Some(out));
    }

    fn propagate_to(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, l: usize, out: Option<&mut B::Matrix>) {
        let rest = self.params_after_projection(weights, l);
        let ops = Operators {
            a: &self.a_hat,
            a_t: &self.a_hat_t,
            a_t_perm: self.a_hat_t_perm.as_ref(),
            row_ids: &self.node_ids,
            col_ids: self.col_ids.as_ref(),
            pass,
            layer: l,
            rows: self.num_rows,
        };
        let layer = &self.layers[l];
        self.ops[l].propagate(b, &ops, rest, &layer.support, &layer.dz, out);
    }

    /// The gradient of the worker's own exchange rows of layer l, for an exchange to fill.
    pub fn d_support_mut(&mut self, l: usize) -> &mut B::Matrix {
        self.ops[l].d_exchange_mut()
    }

    /// The layer's `dP_l` and other parameter gradients (from the completed exchange gradient),
    /// then `dW_l = H_dᵀ · dP_l` and, for l ≥ 1, `dH_l = dropout(dP_l · W_lᵀ)` (the same mask
    /// and scale as the forward).
    pub fn weight_grad(&mut self, b: &B, weights: &[B::Matrix], pass: Pass, l: usize) {
        let first = self.first_param[l];
        let end = self.first_param.get(l + 1).copied().unwrap_or(weights.len());
        let rest = &weights[first + 1..end];
        let layer = &self.layers[l];
        self.ops[l].finish_backward(b, rest, &layer.support, &layer.dz, &mut self.weight_grads[first + 1..end]);
        let d_proj = self.ops[l].d_projection();
        let spec = self.dropout_spec(pass, l);
        let e_spec = self.dropout_spec_embedding(pass);
        let (before, rest) = self.layers.split_at_mut(l);
        let layer = &mut rest[0];
        if l == 0 {
            // dW0's feature block: dW0 itself, or a block copied into it below.
            let dw_x = match self.embedding.as_mut().and_then(|e| e.split.as_mut()) {
                Some(s) => &mut s.dw_x,
                None => &mut self.weight_grads[0],
            };
            match &mut self.input {
                DeviceInput::None => {}
                DeviceInput::Dense { x, x_drop } => {
                    let xin = if spec.is_some() { &*x_drop } else { &*x };
                    b.matmul(xin, d_proj, dw_x, true, false);
                }
                DeviceInput::Sparse { xt, xt_drop, .. } => {
                    let xtin = match spec {
                        Some(s) => {
                            b.dropout_sparse(xt, &self.node_ids, SparseLayout::NodeCols, &s, xt_drop);
                            &*xt_drop
                        }
                        None => &*xt,
                    };
                    b.spmm(xtin, d_proj, dw_x);
                }
            }
            if let Some(e) = self.embedding.as_mut() {
                let e_in = if e_spec.is_some() { &e.rows_drop } else { &e.rows };
                // dW0e = E_dᵀ · dSupport_0 and dE_d = dSupport_0 · W0eᵀ.
                match e.split.as_mut() {
                    Some(s) => {
                        b.matmul(e_in, d_proj, &mut s.dw_e, true, false);
                        let (x_len, e_len) = (s.dw_x.len(), s.dw_e.len());
                        b.copy_region(&s.dw_x, 0, &mut self.weight_grads[0], 0, x_len);
                        b.copy_region(&s.dw_e, 0, &mut self.weight_grads[0], x_len, e_len);
                        b.matmul(d_proj, &s.w_e, &mut e.d_rows_drop, false, true);
                    }
                    None => {
                        b.matmul(e_in, d_proj, &mut self.weight_grads[0], true, false);
                        b.matmul(d_proj, &weights[0], &mut e.d_rows_drop, false, true);
                    }
                }
                match e_spec {
                    // The forward's mask and scale again: the backward of dropout.
                    Some(s) => b.dropout(&e.d_rows_drop, &self.node_ids, &s, &mut e.d_rows),
                    None => b.copy(&e.d_rows_drop, &mut e.d_rows),
                }
            }
        } else {
            let h_prev = before[l - 1].h.as_ref().expect("hidden layers keep ReLU output");
            let hin = if spec.is_some() { layer.h_drop.as_ref().expect("dropout buffer") } else { h_prev };
            b.matmul(hin, d_proj, &mut self.weight_grads[first], true, false);
            let d_h_drop = layer.d_h_drop.as_mut().expect("layers ≥ 1 keep dH_drop");
            b.matmul(d_proj, &weights[first], d_h_drop, false, true);
            let d_h_prev = layer.d_h_prev.as_mut().expect("layers ≥ 1 keep dH_prev");
            match spec {
                // The dropout mask and scale again: the backward of dropout.
                Some(s) => b.dropout(d_h_drop, &self.node_ids, &s, d_h_prev),
                None => b.copy(d_h_drop, d_h_prev),
            }
        }
    }

    /// Gives the worker the local rows it pushes embedding gradients for (`model::receptive`)
    /// and the push buffer; a no-op without embeddings.
    pub fn set_push_rows(&mut self, b: &B, rows: &[u32], label: &str) -> Result<(), BackendError> {
        let Some(e) = self.embedding.as_mut() else { return Ok(()) };
        assert!(rows.iter().all(|&r| (r as usize) < self.num_rows), "set_push_rows: a row is not local");
        e.push_rows = if rows.is_empty() {
            None
        } else {
            let index = b.upload_index(rows, MemCategory::Embeddings, &format!("{label}/embedding_push_rows"))?;
            let d = self.shape.embedding_dim;
            let message = b.alloc(rows.len(), d, MemCategory::Gradients, &format!("{label}/embedding_push"))?;
            Some((index, message))
        };
        Ok(())
    }

    /// Bytes [`Self::set_push_rows`] allocates for `rows` pushed rows of width `dim`.
    pub fn push_bytes(rows: usize, dim: usize) -> u128 {
        if rows == 0 || dim == 0 {
            0
        } else {
            4 * rows as u128 * (1 + dim as u128)
        }
    }

    /// Pulls the embedding rows of every local row from the server's `table` (global row =
    /// node id): the rows the worker's layer-0 input reads.
    pub fn pull_embeddings(&mut self, b: &B, table: &B::Matrix) {
        let e = self.embedding.as_mut().expect("pull_embeddings: the model has no embeddings");
        b.gather_rows(table, &self.node_ids, &mut e.rows, 0);
    }

    /// The rows the last [`Self::pull_embeddings`] brought, one per local row (n × D).
    pub fn pulled_embeddings(&self) -> Option<&B::Matrix> {
        self.embedding.as_ref().map(|e| &e.rows)
    }

    /// Gathers the last training pass's embedding gradient rows into the push message.
    pub fn stage_embedding_push(&mut self, b: &B) {
        let e = self.embedding.as_mut().expect("stage_embedding_push: the model has no embeddings");
        if let Some((rows, message)) = e.push_rows.as_mut() {
            b.gather_rows(&e.d_rows, rows, message, 0);
        }
    }

    /// The push message (row gradients in the order of the push rows), when the worker pushes.
    pub fn embedding_push(&self) -> Option<&B::Matrix> {
        self.embedding.as_ref()?.push_rows.as_ref().map(|(_, m)| m)
    }

    /// The whole embedding gradient of the last training pass (n × D), for tests.
    pub fn embedding_grad(&self) -> Option<&B::Matrix> {
        self.embedding.as_ref().map(|e| &e.d_rows)
    }

    /// The model's shape.
    pub fn shape(&self) -> &GcnShape {
        &self.shape
    }

    /// Width of layer l's exchanged rows (what an exchange moves per boundary row).
    pub fn width(&self, l: usize) -> usize {
        self.plan[l].exchange
    }
}

#[cfg(test)]
mod tests {
    //! The analytic gradient of the whole model against central finite differences.
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::{stat, Shape};
    use crate::graph::Csr;
    use crate::model::ModelSpec;
    use crate::rng::SplitMix64;
    use crate::tensor::HostMatrix;

    /// A random graph of `n` nodes with features of which about half are zero.
    fn random_problem(n: usize, f: usize, classes: usize, sparse: bool, seed: u64) -> LocalGraph {
        random_problem_for(ModelSpec::Gcn, n, f, classes, sparse, seed)
    }

    /// [`random_problem`] with `model`'s operator.
    fn random_problem_for(model: ModelSpec, n: usize, f: usize, classes: usize, sparse: bool, seed: u64) -> LocalGraph {
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
            a_hat: model.architecture().normalization().apply(&adj).unwrap(),
            features: if sparse {
                InputFeatures::Sparse(Csr::from_dense(&x).unwrap())
            } else {
                InputFeatures::Dense(x)
            },
            labels: (0..n).map(|_| rng.below(classes as u64) as u32).collect(),
            // Train, valid and test nodes interleaved: only train nodes carry gradient.
            split_codes: (0..n).map(|i| [1, 1, 2, 3][i % 4]).collect(),
            neighbourhood: Neighbourhood::Complete,
        }
    }

    /// The pass every gradient check differentiates: a training pass (its dropout masks are the
    /// same every time), so every model's training-only randomness is checked too.
    const CHECKED_PASS: Pass = Pass::Train { seed: 3, epoch: 1 };

    /// The mean training loss, and which side of every kink the pass was on (ReLU units, GAT's
    /// LeakyReLU inputs).
    fn mean_train_loss(
        b: &CpuBackend,
        ws: &mut Workspace<CpuBackend>,
        weights: &[crate::backend::cpu::CpuMatrix],
    ) -> (f64, Vec<bool>) {
        let mut stats = b.alloc_stats(1, "stats").unwrap();
        ws.run(b, weights, CHECKED_PASS, Operator::Train, 1.0, &mut stats, 0);
        let s = b.read_stats(&stats).unwrap();
        let mut active: Vec<bool> =
            ws.layers.iter().filter_map(|l| l.h.as_ref()).flat_map(|h| h.data.iter().map(|&x| x > 0.0)).collect();
        active.extend(ws.ops.iter().flat_map(|op| op.kink_sides(b)));
        (s[stat::TRAIN + stat::LOSS] as f64 / s[stat::TRAIN + stat::COUNT] as f64, active)
    }

    fn check_gradient(layers: usize, sparse: bool) {
        check_gradient_with(layers, sparse, 0, true);
    }

    fn check_gradient_with(layers: usize, sparse: bool, embedding_dim: usize, features: bool) {
        check_model_gradient(ModelSpec::Gcn, 0.0, layers, sparse, embedding_dim, features);
    }

    /// Central differences of the mean training loss against the analytic gradient of every
    /// parameter tensor and, with `embedding_dim`, every embedding entry (pulled from a table).
    fn check_model_gradient(
        model: ModelSpec,
        dropout: f32,
        layers: usize,
        sparse: bool,
        embedding_dim: usize,
        features: bool,
    ) {
        let b = CpuBackend::new();
        let mut graph = random_problem_for(model, 23, 7, 3, sparse, 11);
        if !features {
            graph.features = InputFeatures::Dense(HostMatrix::from_vec(23, 0, Vec::new()));
        }
        let in_features = graph.features.cols();
        let shape = GcnShape { model, in_features, embedding_dim, hidden: 5, layers, classes: 3 };
        let mut ws = Workspace::new(&b, &graph, &shape, dropout, "gradcheck").unwrap();
        let mut init = crate::model::initial_parameters(&shape.plan(), 5);
        // Biases start at 0; random ones make the check see their effect on the rest.
        let mut rng = SplitMix64::new(9);
        for (w, t) in init.iter_mut().zip(shape.plan().iter().flat_map(|p| p.params.clone())) {
            if t.init == crate::model::layer::Init::Zeros {
                w.data.iter_mut().for_each(|x| *x = 0.1 * rng.normal() as f32);
            }
        }
        let mut weights: Vec<_> = init.iter().map(|w| b.upload(w, MemCategory::Weights, "w").unwrap()).collect();
        let mut rng = SplitMix64::new(4);
        let table_host =
            HostMatrix::from_vec(23, embedding_dim, (0..23 * embedding_dim).map(|_| rng.normal() as f32).collect());
        let mut table = b.upload(&table_host, MemCategory::Embeddings, "table").unwrap();
        if embedding_dim > 0 {
            ws.pull_embeddings(&b, &table);
        }
        let mut stats = b.alloc_stats(1, "stats").unwrap();
        let scale = 1.0 / ws.num_train() as f32;
        ws.run(&b, &weights, CHECKED_PASS, Operator::Train, scale, &mut stats, 0);
        let analytic: Vec<HostMatrix> = ws.weight_grads().iter().map(|g| b.download(g).unwrap()).collect();
        let analytic_e = ws.embedding_grad().map(|g| b.download(g).unwrap());
        // f32 forward: a step of 1e-2 keeps the rounding error of the quotient (~1e-7/h) small;
        // where a ReLU input changes sign inside [−h, h] the loss is not smooth and the quotient
        // says nothing, so retry with a smaller step, else skip the element.
        let (mut checked, mut kinks) = (0usize, 0usize);
        let mut check = |what: String, got: f64, set: &mut dyn FnMut(f32) -> (f64, Vec<bool>), orig: f32| {
            let smooth = [1e-2f32, 3e-3, 1e-3, 3e-4].into_iter().find_map(|h| {
                let (plus, active_plus) = set(orig + h);
                let (minus, active_minus) = set(orig - h);
                set(orig);
                (active_plus == active_minus).then(|| ((plus - minus) / (2.0 * h as f64), 2e-4 + 2e-7 / h as f64))
            });
            let Some((numeric, abs_tol)) = smooth else {
                kinks += 1;
                return;
            };
            checked += 1;
            assert!(
                (numeric - got).abs() <= abs_tol + 1e-2 * got.abs(),
                "{model} layers {layers}, sparse {sparse}, embedding {embedding_dim}: {what} analytic {got:e} vs numeric {numeric:e}"
            );
        };
        for l in 0..weights.len() {
            for i in 0..weights[l].len() {
                let (r, c) = (i / weights[l].cols(), i % weights[l].cols());
                let orig = weights[l].data[[r, c]];
                let mut set = |v: f32| {
                    weights[l].data[[r, c]] = v;
                    mean_train_loss(&b, &mut ws, &weights)
                };
                check(format!("tensor {l} [{r},{c}]"), analytic[l].data[i] as f64, &mut set, orig);
            }
        }
        if let Some(d_e) = &analytic_e {
            for i in 0..table.len() {
                let (r, c) = (i / embedding_dim, i % embedding_dim);
                let orig = table.data[[r, c]];
                let mut set = |v: f32| {
                    table.data[[r, c]] = v;
                    ws.pull_embeddings(&b, &table);
                    mean_train_loss(&b, &mut ws, &weights)
                };
                check(format!("dE[{r},{c}]"), d_e.data[i] as f64, &mut set, orig);
            }
        }
        // One attention score near LeakyReLU's kink blocks every parameter of its head (a fifth
        // of the tensors at 3 heads); ReLU kinks alone stay under a tenth.
        assert!(kinks * 5 <= checked, "{model}: too many kinks to judge: {kinks} skipped, {checked} checked");
        // The gradient is not trivially zero.
        assert!(analytic.iter().all(|g| g.data.iter().any(|&x| x.abs() > 1e-4)));
        if let Some(d_e) = &analytic_e {
            assert!(d_e.data.iter().any(|&x| x.abs() > 1e-4), "the embedding gradient is zero");
        }
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
    fn embedding_gradient_matches_finite_differences_with_features() {
        check_gradient_with(2, true, 4, true);
    }

    #[test]
    fn embedding_gradient_matches_finite_differences_without_features() {
        check_gradient_with(2, false, 3, false);
    }

    #[test]
    fn sage_gradient_matches_finite_differences() {
        check_model_gradient(ModelSpec::sage(), 0.3, 2, true, 0, true);
        check_model_gradient(ModelSpec::Sage { root: false }, 0.0, 3, false, 0, true);
        check_model_gradient(ModelSpec::sage(), 0.0, 2, true, 4, true);
    }

    #[test]
    fn gat_gradient_matches_finite_differences() {
        let gat = ModelSpec::Gat { heads: 3, out_heads: 2, negative_slope: 0.2, attn_dropout: 0.4 };
        check_model_gradient(gat, 0.3, 2, true, 0, true);
        let two = ModelSpec::Gat { heads: 2, out_heads: 1, negative_slope: 0.2, attn_dropout: 0.6 };
        check_model_gradient(two, 0.0, 3, false, 0, true);
        check_model_gradient(gat, 0.0, 2, false, 3, false);
    }

    #[test]
    fn device_bytes_of_every_model_is_what_new_allocates() {
        let gat = ModelSpec::Gat { heads: 3, out_heads: 2, negative_slope: 0.2, attn_dropout: 0.5 };
        for model in [ModelSpec::sage(), ModelSpec::Sage { root: false }, ModelSpec::gat(), gat] {
            for (layers, sparse, embedding_dim) in [(1, true, 0), (2, false, 0), (3, true, 4)] {
                let b = CpuBackend::new();
                let graph = random_problem_for(model, 31, 9, 4, sparse, 3);
                let shape = GcnShape { model, in_features: 9, embedding_dim, hidden: 6, layers, classes: 4 };
                let ws = Workspace::new(&b, &graph, &shape, 0.5, "w").unwrap();
                let live = b.memory().snapshot().live_total() as u128;
                assert_eq!(
                    Workspace::<CpuBackend>::device_bytes(&graph, &shape, false),
                    live,
                    "{model} layers {layers} sparse {sparse}"
                );
                drop(ws);
            }
        }
    }

    #[test]
    fn device_bytes_is_what_new_allocates() {
        for (layers, sparse, embedding_dim, features) in
            [(1, true, 0, true), (2, false, 0, true), (3, true, 0, true), (2, true, 5, true), (2, false, 8, false)]
        {
            let b = CpuBackend::new();
            let mut graph = random_problem(31, 9, 4, sparse, 3);
            if !features {
                graph.features = InputFeatures::Dense(HostMatrix::from_vec(31, 0, Vec::new()));
            }
            let in_features = graph.features.cols();
            let shape = GcnShape { model: ModelSpec::Gcn, in_features, embedding_dim, hidden: 6, layers, classes: 4 };
            let ws = Workspace::new(&b, &graph, &shape, 0.5, "w").unwrap();
            let live = b.memory().snapshot().live_total() as u128;
            assert_eq!(
                Workspace::<CpuBackend>::device_bytes(&graph, &shape, false),
                live,
                "layers {layers} sparse {sparse}"
            );
            drop(ws);
        }
    }
}
