//! What a model is to the rest of gcnsim: a plan of its layers (parameter tensors, widths, what
//! crosses partitions) and, per layer, the operations between the input projection and the
//! activation. The workspace (`model::workspace`) owns what every model shares — the input
//! (features, embeddings, dropout), `P = H_d·W` and its backward, activations, the loss — and
//! calls a [`LayerOps`] for the rest; the exchange, the server and the driver see only widths
//! and parameter tensors.

use super::Pass;
use crate::backend::{Backend, BackendError};
use crate::graph::Normalization;

/// Initial values of a parameter tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// U(−r, r) with r = √(6 / (fan_in + fan_out)) (Glorot/Xavier), on every entry.
    Glorot {
        fan_in: usize,
        fan_out: usize,
    },
    Zeros,
}

/// One parameter tensor (rows × cols, row-major), as the server stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Name with its layer, e.g. `W0`, `att_src1`, `b1` (buffer labels).
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// Whether `--weight-decay` applies to it.
    pub decay: bool,
    pub init: Init,
}

/// One layer: its input width, output width (Z), the input projection's width (`P = H_d·W`,
/// `W` = `params[0]`, fan_in × projection), and the width of the rows a destination needs
/// from a source partition (per boundary row, per exchange).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPlan {
    pub fan_in: usize,
    pub out: usize,
    pub projection: usize,
    pub exchange: usize,
    pub params: Vec<ParamSpec>,
}

/// The nonlinearity between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Elu,
}

/// A model's published training settings: what `--model NAME` trains with unless a flag says
/// otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    pub epochs: usize,
    pub hidden: usize,
    pub lr: f32,
    pub dropout: f32,
    pub weight_decay: f32,
    /// Stop when neither the validation loss nor the validation accuracy improved for this
    /// many epochs (the GAT paper's rule).
    pub patience: Option<usize>,
}

/// A model's static description (no device): everything a configuration, a memory estimate
/// or the server needs.
pub trait Architecture: Send + Sync + std::fmt::Debug {
    /// The operator the layers aggregate with (built from the adjacency once per run).
    fn normalization(&self) -> Normalization;
    fn activation(&self) -> Activation;
    /// The layers for a network of `shape` (the input width includes embeddings).
    fn plan(&self, shape: &super::GcnShape) -> Vec<LayerPlan>;
    /// Its published settings.
    fn preset(&self) -> Preset;
    /// Whether the layers read the global node id of every operator column (edge dropout).
    fn needs_column_ids(&self) -> bool {
        false
    }
    /// Whether a training forward draws random numbers an evaluation does not (besides input
    /// dropout), so an evaluation's forward cannot stand in for it.
    fn draws_in_training(&self) -> bool {
        false
    }
    /// Whether the backward reads per-edge values in the transposed operator's order.
    fn needs_transpose_permutation(&self) -> bool {
        false
    }
    /// Device bytes [`LayerOps`] allocates for layer `l` of `plan` on a worker with `rows`
    /// rows and an operator of `cols` columns and `nnz` entries (kept equal to the real count
    /// by a test).
    fn layer_bytes(&self, plan: &[LayerPlan], l: usize, rows: u128, cols: u128, nnz: u128) -> u128;
}

/// The operators one call reads. `a` has the worker's rows and its columns are the worker's
/// rows followed by its boundary rows (those an exchange gathers).
pub struct Operators<'a, B: Backend> {
    pub a: &'a B::Sparse,
    /// `a`'s transpose (backward passes).
    pub a_t: &'a B::Sparse,
    /// For each entry of `a_t`, its position in `a` (when the architecture asks for it).
    pub a_t_perm: Option<&'a B::Index>,
    /// Global node id of every row, and (when the architecture asks) of every column.
    pub row_ids: &'a B::Index,
    pub col_ids: Option<&'a B::Index>,
    pub pass: Pass,
    pub layer: usize,
    /// Rows of the worker (the first rows of every gathered matrix).
    pub rows: usize,
}

/// Layer l of a model on one worker, between `P = H_d·W` and the activation. Buffers are the
/// layer's own; parameters come as the layer's tensors after the projection's W.
pub trait LayerOps<B: Backend> {
    /// After the projection: prepares the rows sources send ([`LayerOps::exchange_rows`]).
    fn after_projection(&mut self, b: &B, params: &[B::Matrix], projection: &B::Matrix);
    /// The worker's rows of what destinations need (n × exchange width).
    fn exchange_rows<'a>(&'a self, projection: &'a B::Matrix) -> &'a B::Matrix;
    /// `z` (n × out) from the gathered rows (the worker's rows then its boundary rows), or,
    /// when nothing is gathered, from its own exchange rows.
    fn aggregate(
        &mut self,
        b: &B,
        ops: &Operators<'_, B>,
        params: &[B::Matrix],
        projection: &B::Matrix,
        gathered: Option<&B::Matrix>,
        z: &mut B::Matrix,
    );
    /// The gradient with respect to the gathered rows, from `dz`: into `out` (its rows: the
    /// operator's columns), or when `out` is `None` into [`LayerOps::d_exchange_mut`] (an
    /// operator without boundary columns).
    fn propagate(
        &mut self,
        b: &B,
        ops: &Operators<'_, B>,
        params: &[B::Matrix],
        projection: &B::Matrix,
        dz: &B::Matrix,
        out: Option<&mut B::Matrix>,
    );
    /// The gradient of the worker's own exchange rows (n × exchange width), which an exchange
    /// completes with what destinations send back.
    fn d_exchange_mut(&mut self) -> &mut B::Matrix;
    /// From the completed exchange gradient and `dz`: the projection's gradient
    /// ([`LayerOps::d_projection`]) and the gradients of `params` into `d_params`.
    fn finish_backward(
        &mut self,
        b: &B,
        params: &[B::Matrix],
        projection: &B::Matrix,
        dz: &B::Matrix,
        d_params: &mut [B::Matrix],
    );
    /// `dP` (n × projection) after [`LayerOps::finish_backward`].
    fn d_projection(&self) -> &B::Matrix;
    /// Which side of each kink of its piecewise-linear functions the last forward was on
    /// (a finite-difference check must not step across one); empty for smooth layers.
    fn kink_sides(&self, _b: &B) -> Vec<bool> {
        Vec::new()
    }
}

/// What a layer's constructor gets.
pub struct LayerSite<'a> {
    pub plan: &'a [LayerPlan],
    pub layer: usize,
    /// Rows of the worker and columns / entries of its training operator.
    pub rows: usize,
    pub cols: usize,
    pub nnz: usize,
    pub label: &'a str,
}

/// A boxed layer, or the allocation that failed.
pub type LayerResult<B> = Result<Box<dyn LayerOps<B>>, BackendError>;
