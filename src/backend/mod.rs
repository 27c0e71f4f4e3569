//! The small, GCN-specific backend trait. The model, the trainer and the parameter server are
//! generic over it; the CPU (ndarray) backend is the reference every GPU kernel is tested against.
//!
//! Calls *record* work: the CPU backend executes at once, the GPU backend encodes into the
//! current command encoder and submits on [`Backend::flush`] (one submission per epoch). Only
//! `download` and `read_stats` wait for results.
//!
//! Shape mismatches are bugs and panic with the operation's name; resource limits (a buffer
//! larger than the device allows) are [`BackendError`]s.

pub mod attention;
pub mod choice;
pub mod compress;
pub mod cpu;
pub mod gpu;
pub mod head_shapes;
pub mod kernel_class;
pub mod kernel_cost;
pub mod memory;
pub mod optim;
pub mod robust;
pub mod row_space;
pub mod snapshot;

use crate::graph::Csr;
use crate::tensor::HostMatrix;

pub use choice::{resolve, with_backend, with_backend_profiled, BackendChoice, BackendTask};
pub use compress::{CompressStep, RowCodec};
pub use kernel_class::{KernelClass, Work};
pub use kernel_cost::KernelCost;
pub use memory::{MemCategory, MemGuard, MemorySnapshot, MemoryTracker};
pub use optim::OptimizerStep;
pub use robust::{AttackStep, PreAggregationStep, RobustStep};

/// Width of one stats slot, written by [`Backend::softmax_xent`] and [`Backend::sum_squares`].
pub const STATS_WIDTH: usize = 10;
/// Offsets inside a stats slot: (loss sum, correct count, node count) for each split, then AUX.
pub mod stat {
    pub const TRAIN: usize = 0;
    pub const VALID: usize = 3;
    pub const TEST: usize = 6;
    pub const LOSS: usize = 0;
    pub const CORRECT: usize = 1;
    pub const COUNT: usize = 2;
    /// Σ w² written by `sum_squares` (for the weight-decay term of the loss).
    pub const AUX: usize = 9;
}

/// One dropout application: `out = keep ? x * scale : 0` with
/// `keep = rng::dropout_keep(stream, node_id, column, rate)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutSpec {
    /// `rng::MaskKey::stream()` of (seed, epoch, layer).
    pub stream: u32,
    pub rate: f32,
    /// `1 / (1 - rate)`, computed once on the host in f32 so every backend multiplies by the
    /// same number.
    pub scale: f32,
}

impl DropoutSpec {
    pub fn new(key: crate::rng::MaskKey, rate: f32) -> Self {
        Self { stream: key.stream(), rate, scale: 1.0 / (1.0 - rate) }
    }
}

/// Which index of a sparse matrix is the node id, for dropout on sparse input features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SparseLayout {
    /// X: rows are nodes (local row r is global node `node_ids[r]`), columns are features.
    NodeRows,
    /// Xᵀ: rows are features, column c is global node `node_ids[c]`.
    NodeCols,
}

/// Order of the sum over P gradients; both are fixed, so results are deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ReduceOrder {
    /// `((w0·g0 + w1·g1) + w2·g2) + …`
    #[default]
    Flat,
    /// ⌈log2 P⌉ rounds; round r adds element i + 2^r into i for i a multiple of 2^(r+1)
    /// (Spark's treeReduce shape).
    Tree,
}

/// One Adam step (TensorFlow's form, as Kipf's code): `g += wd·p; m = β1 m + (1-β1) g;
/// v = β2 v + (1-β2) g²; p -= lr_t · m / (√v + ε)` with `lr_t = lr·√(1-β2^t)/(1-β1^t)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr_t: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

/// Device time of one kernel over a profiled run (`gcnsim bench --profile`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelTime {
    pub kernel: &'static str,
    pub dispatches: u64,
    pub device_ns: f64,
}

/// Per-kernel device times, slowest first: every dispatch, and every buffer copy and clear an
/// op records (as `copy_buffer`, `clear_buffer`), since the last take. A full timestamp query
/// set makes the recorder submit, so none goes untimed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelProfile {
    pub kernels: Vec<KernelTime>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum BackendError {
    #[error("buffer `{label}` needs {size} bytes but the device allows at most {limit} bytes ({limit_name}); use fewer nodes per partition or a smaller hidden size")]
    BufferTooLarge { label: String, size: u64, limit: u64, limit_name: &'static str },
    #[error("buffer `{label}` ({size} bytes, with {live} bytes live) does not fit: {reason}; stream partitions with --resident one, or use fewer nodes per partition or a smaller hidden size")]
    OutOfDeviceMemory { label: String, size: u64, live: u64, reason: String },
    #[error("no GPU adapter found (wgpu saw none for Vulkan/Metal/DX12/GL); install a Vulkan driver (e.g. mesa-vulkan-drivers) or use --backend cpu")]
    NoAdapter,
    #[error("GPU device: {0}")]
    Device(String),
    #[error("GPU readback: {0}")]
    Readback(String),
}

/// Dense shape of a backend matrix.
pub trait Shape {
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    fn len(&self) -> usize {
        self.rows() * self.cols()
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Stored entries of a sparse matrix. With [`IndexLen`], the only sizes beyond [`Shape`] that
/// a cost model needs (`sim::metered` charges SpMM by its nonzeros and gathers by their rows).
pub trait Nonzeros {
    fn nnz(&self) -> usize;
}

/// Number of u32 entries of an index vector (see [`Nonzeros`]).
pub trait IndexLen {
    fn index_len(&self) -> usize;
}

pub trait Backend {
    /// Dense f32, row-major, resident on the backend's device.
    type Matrix: Shape + 'static;
    /// CSR with f32 values (Â, Âᵀ, X, Xᵀ), resident on the device.
    type Sparse: Shape + Nonzeros;
    /// u32 vector (labels, split codes, global node ids).
    type Index: IndexLen;
    /// `slots × STATS_WIDTH` f32 accumulators.
    type Stats;

    /// Human name: backend, adapter, driver.
    fn describe(&self) -> String;
    /// A memory policy other than the default (`--resident`, `--gpu-memory`): how the run was
    /// carried out, never what it computes (a checkpoint resumes under any policy).
    fn memory_policy(&self) -> Option<String> {
        None
    }
    /// Live bytes per category, fed by every allocation of this backend.
    fn memory(&self) -> &MemoryTracker;
    /// Bytes this backend can still allocate in all, when it knows (the CPU backend: the host's
    /// available memory); `None` leaves the check to each allocation.
    fn memory_budget(&self) -> Option<u64> {
        None
    }

    /// Allocations that follow belong to worker `group`'s working set (`None`: shared, like
    /// weights and exchange buffers). A GPU backend that streams (`--resident`) may move a
    /// worker's set to host memory while other workers run; other backends ignore it.
    fn residency_group(&self, _group: Option<usize>) {}
    /// What streaming moved, for a backend that streams.
    fn streaming_stats(&self) -> Option<gpu::StreamingStats> {
        None
    }

    /// Zero-filled matrix.
    fn alloc(&self, rows: usize, cols: usize, category: MemCategory, label: &str)
        -> Result<Self::Matrix, BackendError>;
    fn upload(&self, host: &HostMatrix, category: MemCategory, label: &str) -> Result<Self::Matrix, BackendError>;
    /// Waits for all recorded work, then copies to the host.
    fn download(&self, m: &Self::Matrix) -> Result<HostMatrix, BackendError>;
    /// `csr` must carry values.
    fn upload_sparse(&self, csr: &Csr, category: MemCategory, label: &str) -> Result<Self::Sparse, BackendError>;
    /// A sparse matrix with the same structure (shared, not copied) and its own values.
    fn sparse_like(&self, s: &Self::Sparse, category: MemCategory, label: &str) -> Result<Self::Sparse, BackendError>;
    fn upload_index(&self, data: &[u32], category: MemCategory, label: &str) -> Result<Self::Index, BackendError>;
    fn alloc_stats(&self, slots: usize, label: &str) -> Result<Self::Stats, BackendError>;
    /// Waits for all recorded work, then returns `slots × STATS_WIDTH` values.
    fn read_stats(&self, stats: &Self::Stats) -> Result<Vec<f32>, BackendError>;
    /// Submits recorded work (GPU); the CPU backend has nothing to do.
    fn flush(&self) -> Result<(), BackendError>;

    // Attribution hooks: the model says whose work the following kernels are, so that a
    // metering wrapper (`sim::metered::Metered`) can charge each worker its kernels' time. Real
    // backends compute the same results whoever asks, and ignore them.

    /// Subsequent kernels are worker `worker`'s (`None`: the parameter server, or nobody's).
    fn attribute(&self, _worker: Option<usize>) {}
    /// The workers synchronise here (a boundary exchange): kernels after it belong to the next
    /// segment of every worker's time line.
    fn segment_end(&self) {}

    /// Whether each kernel has finished when its call returns (the CPU backend), so timing the
    /// call times the kernel. A backend that records kernels and runs them later (the GPU
    /// backend, at `flush`) says no.
    fn runs_when_called(&self) -> bool {
        false
    }

    /// Device time per kernel since the last call, when the backend was created with profiling
    /// on (or has timed ops, below) and the device has timestamp queries (the GPU backend);
    /// `None` otherwise.
    fn take_kernel_profile(&self) -> Option<KernelProfile> {
        None
    }

    /// The most bytes one matrix may span when a kernel binds it whole (the GPU's
    /// `max_storage_buffer_binding_size`; SpMM's dense operands are bound so); `None`: no limit.
    fn max_binding_bytes(&self) -> Option<u64> {
        None
    }

    // Device timing of ops, for `compute_time = measured` on a backend that records kernels and
    // runs them later: the metering wrapper brackets each op with `begin_timed_op` and
    // `end_timed_op`, and reads the ops' device seconds, in call order, with `take_op_times`.

    /// `Ok` when this backend can time each op on its device; otherwise why not (naming the
    /// device), for the refusal of `compute_time = measured`.
    fn device_timing(&self) -> Result<(), String> {
        Err(format!("{} keeps no per-kernel device times", self.describe()))
    }
    /// Every command recorded from here to [`Self::end_timed_op`] is one op's.
    fn begin_timed_op(&self) {}
    fn end_timed_op(&self) {}
    /// Submits what is recorded, waits for it, and returns the device seconds of each op begun
    /// since the last call (the sum over its dispatches, copies and clears), in call order.
    fn take_op_times(&self) -> Result<Vec<f64>, BackendError> {
        Ok(Vec::new())
    }

    /// `dst = src` (same shape).
    fn copy(&self, src: &Self::Matrix, dst: &mut Self::Matrix);
    /// `out = A · X`. `x` and `out` may have more rows than `A` needs (shared scratch buffers):
    /// rows of `x` past `A.cols` are not read, rows of `out` past `A.rows` not written.
    fn spmm(&self, a: &Self::Sparse, x: &Self::Matrix, out: &mut Self::Matrix);
    /// Rows `dst_row0 .. dst_row0 + rows` of `dst` = rows `src_row0 ..` of `src` (same width).
    fn copy_rows(&self, src: &Self::Matrix, src_row0: usize, dst: &mut Self::Matrix, dst_row0: usize, rows: usize);
    /// Row `dst_row0 + k` of `dst` = row `rows[k]` of `src`, for every k (an exchange's receive).
    fn gather_rows(&self, src: &Self::Matrix, rows: &Self::Index, dst: &mut Self::Matrix, dst_row0: usize);
    /// Row `rows[k]` of `dst` += row `src_row0 + k` of `src`, for every k; `rows` are distinct,
    /// so no two threads add into one row (an exchange's send-back of gradients).
    fn scatter_add_rows(&self, src: &Self::Matrix, src_row0: usize, rows: &Self::Index, dst: &mut Self::Matrix);
    /// Row `rows[k]` of `dst` = row `src_row0 + k` of `src`, for every k; `rows` are distinct
    /// (a sparse table's update written back, an evicted row re-initialized).
    fn scatter_rows(&self, src: &Self::Matrix, src_row0: usize, rows: &Self::Index, dst: &mut Self::Matrix);
    /// Rows `dst_row0 ..` of `dst` += rows `src_row0 ..` of `src` (`rows` rows).
    fn add_rows(&self, src: &Self::Matrix, src_row0: usize, dst: &mut Self::Matrix, dst_row0: usize, rows: usize);
    /// `m = 0`.
    fn zero(&self, m: &mut Self::Matrix);
    /// `out = op(A) · op(B)` with op = transpose where asked. Used forms: (false, false) X·W,
    /// (true, false) Xᵀ·G, (false, true) G·Wᵀ.
    fn matmul(&self, a: &Self::Matrix, b: &Self::Matrix, out: &mut Self::Matrix, transpose_a: bool, transpose_b: bool);
    /// `out = max(x, 0)`.
    fn relu(&self, x: &Self::Matrix, out: &mut Self::Matrix);
    /// `out = grad · [output > 0]`.
    fn relu_backward(&self, output: &Self::Matrix, grad: &Self::Matrix, out: &mut Self::Matrix);
    /// Row r is global node `node_ids[r]`. Also the backward pass (same mask, same scale).
    fn dropout(&self, x: &Self::Matrix, node_ids: &Self::Index, spec: &DropoutSpec, out: &mut Self::Matrix);
    /// Dropout on the values of a sparse matrix; `out` comes from `sparse_like(x)`.
    fn dropout_sparse(
        &self,
        x: &Self::Sparse,
        node_ids: &Self::Index,
        layout: SparseLayout,
        spec: &DropoutSpec,
        out: &mut Self::Sparse,
    );
    /// Boundary sampling (BNS-GCN) on the values of a local Â or Âᵀ: entries whose local node
    /// (the column for `NodeCols`, the row for `NodeRows`) is below `first_boundary` are owned
    /// and copied; a boundary entry is kept, scaled by `spec.scale`, iff its node's draw
    /// `rng::mask_uniform(spec.stream, node_ids[local], 0) >= spec.rate`, else 0. `out` comes from
    /// `sparse_like(base)`.
    fn sample_boundary(
        &self,
        base: &Self::Sparse,
        node_ids: &Self::Index,
        layout: SparseLayout,
        first_boundary: usize,
        spec: &DropoutSpec,
        out: &mut Self::Sparse,
    );
    /// Masked softmax cross-entropy. For every row r with `split[r]` ∈ {1 train, 2 valid, 3 test}:
    /// loss_r = logsumexp(logits_r) − logits_r[label_r], correct_r = (first argmax == label_r).
    /// Overwrites entries 0..9 of `stats[slot]` with per-split (Σ loss, Σ correct, count).
    /// If `grad` is given: `grad_r = (softmax(logits_r) − onehot(label_r)) · grad_scale` for
    /// training rows, 0 for every other row.
    #[allow(clippy::too_many_arguments)]
    fn softmax_xent(
        &self,
        logits: &Self::Matrix,
        labels: &Self::Index,
        split: &Self::Index,
        grad_scale: f32,
        grad: Option<&mut Self::Matrix>,
        stats: &mut Self::Stats,
        slot: usize,
    );
    /// `out[r, dst_col0 + c] = src[r, src_col0 + c]` for r < `rows`, c < `cols` (a block of
    /// columns, e.g. one part of an exchanged row).
    fn copy_cols(
        &self,
        src: &Self::Matrix,
        src_col0: usize,
        dst: &mut Self::Matrix,
        dst_col0: usize,
        rows: usize,
        cols: usize,
    );
    /// `out = x if x > 0 else exp(x) − 1` (ELU, α = 1).
    fn elu(&self, x: &Self::Matrix, out: &mut Self::Matrix);
    /// `out = grad · (output > 0 ? 1 : output + 1)`: ELU's derivative from its output.
    fn elu_backward(&self, output: &Self::Matrix, grad: &Self::Matrix, out: &mut Self::Matrix);
    /// Per-head scores (GAT's `aᵀz`): `out[i, h] = Σ_c x[i, h·C + c] · att[h, c]` with
    /// H = `att.rows()` heads of C = `att.cols()` columns; x is n × H·C, out n × H.
    fn head_dot(&self, x: &Self::Matrix, att: &Self::Matrix, out: &mut Self::Matrix);
    /// Backward of [`Self::head_dot`]: `dx[i, h·C + c] += ds[i, h] · att[h, c]` (accumulates)
    /// and `d_att[h, c] = Σ_i ds[i, h] · x[i, h·C + c]` (overwrites).
    fn head_dot_backward(
        &self,
        x: &Self::Matrix,
        att: &Self::Matrix,
        ds: &Self::Matrix,
        dx: &mut Self::Matrix,
        d_att: &mut Self::Matrix,
    );
    // Graph attention over the entries of a CSR `a` (rows: destinations i, columns: sources j).
    // An entry whose value is 0 is absent (a sampled-out edge); other values are ignored.
    // Per-edge matrices have one row per entry of `a`, in CSR order, and one column per head.
    /// `pre[e, h] = s_src[j, h] + s_dst[i, h]`, `α[e, ·] = softmax over row i's present entries
    /// of LeakyReLU(pre, slope)`, max-subtracted; absent entries get α = 0 (a row with none:
    /// all 0). s_src has ≥ `a.cols()` rows, s_dst ≥ `a.rows()`.
    #[allow(clippy::too_many_arguments)]
    fn edge_softmax(
        &self,
        a: &Self::Sparse,
        s_src: &Self::Matrix,
        s_dst: &Self::Matrix,
        slope: f32,
        pre: &mut Self::Matrix,
        alpha: &mut Self::Matrix,
    );
    /// Backward of [`Self::edge_softmax`]: with `g = α ⊙ (dα − Σ_row α·dα)` (per head),
    /// `d_pre = g · (pre > 0 ? 1 : slope)`; 0 on absent entries.
    fn edge_softmax_backward(
        &self,
        a: &Self::Sparse,
        pre: &Self::Matrix,
        alpha: &Self::Matrix,
        d_alpha: &Self::Matrix,
        slope: f32,
        d_pre: &mut Self::Matrix,
    );
    /// Dropout on attention coefficients: `out[e, h] = keep ? x[e, h] · scale : 0`, the draw a
    /// function of (`spec.stream`, global destination `row_ids[i]`, global source
    /// `col_ids[j]`, head h) only, so serial and partitioned runs drop the same edges: kept iff
    /// `rng::mask_uniform_in_row(rng::edge_mask_key(stream, dst, src), h) >= rate`, where
    /// `edge_mask_key = hash32(mask_row_key(stream, dst) ^ src)`. Also its own backward (same
    /// mask and scale).
    #[allow(clippy::too_many_arguments)]
    fn edge_dropout(
        &self,
        a: &Self::Sparse,
        row_ids: &Self::Index,
        col_ids: &Self::Index,
        spec: &DropoutSpec,
        x: &Self::Matrix,
        out: &mut Self::Matrix,
    );
    /// Attention-weighted SpMM: `out[i, h·C + c] = Σ_{e in row i} α[perm(e), h] · x[col(e), h·C + c]`
    /// with H = `alpha.cols()`, C = `out.cols() / H`, `perm(e) = perm[e]` when given, else e.
    /// Forward: `a` with no perm. Backward to the sources: `a` = the transpose's CSR and
    /// `perm[e']` = the position in `a`'s CSR of the transpose's entry e'. Overwrites `out`'s
    /// first `a.rows()` rows.
    fn attention_spmm(
        &self,
        a: &Self::Sparse,
        perm: Option<&Self::Index>,
        alpha: &Self::Matrix,
        x: &Self::Matrix,
        out: &mut Self::Matrix,
    );
    /// `d_alpha[e, h] = Σ_c d_out[i, h·C + c] · x[j, h·C + c]` for every entry e = (i, j) of `a`
    /// (the gradient of [`Self::attention_spmm`] with respect to α).
    fn attention_spmm_backward_alpha(
        &self,
        a: &Self::Sparse,
        x: &Self::Matrix,
        d_out: &Self::Matrix,
        d_alpha: &mut Self::Matrix,
    );
    /// `out[i, h] = Σ_{e in row i of a} x[perm(e), h]` (perm as in [`Self::attention_spmm`]);
    /// overwrites `out`'s first `a.rows()` rows. With `a`'s transpose and its perm: the per-source
    /// sum of a per-edge quantity.
    fn edge_row_sum(&self, a: &Self::Sparse, perm: Option<&Self::Index>, x: &Self::Matrix, out: &mut Self::Matrix);
    /// Overwrites `stats[slot][AUX]` with Σ m².
    fn sum_squares(&self, m: &Self::Matrix, stats: &mut Self::Stats, slot: usize);
    /// `out = Σ_p weights[p] · inputs[p]` summed in `order`.
    fn weighted_sum(&self, inputs: &[&Self::Matrix], weights: &[f32], order: ReduceOrder, out: &mut Self::Matrix);
    /// One step of any optimizer (see [`optim`]); `state` holds `step.state_slots()` matrices of
    /// the parameter's shape.
    fn optimizer_step(
        &self,
        param: &mut Self::Matrix,
        grad: &Self::Matrix,
        state: &mut [Self::Matrix],
        step: &OptimizerStep,
    );

    // Byzantine attacks and robust aggregation (see [`robust`]): `g` is n × d, row i = worker
    // i's mean gradient, n ≤ [`robust::MAX_WORKERS`] for the rules.

    /// `dst[dst_offset..][..len] = src[src_offset..][..len]` over the flat row-major elements
    /// (packs per-layer gradients into rows of g and unpacks the aggregate).
    fn copy_region(&self, src: &Self::Matrix, src_offset: usize, dst: &mut Self::Matrix, dst_offset: usize, len: usize);
    /// `out (n × n)`: squared Euclidean distances between the rows of `g`, from the Gram matrix
    /// `matmul(g, g, transpose_b)`: D_ij = G_ii + G_jj − 2 G_ij clamped at 0 (rounding), D_ii = 0,
    /// NaN (from a non-finite row) as +∞.
    fn pairwise_sq_dists(&self, g: &Self::Matrix, out: &mut Self::Matrix);
    /// Rewrites the rows of `g` flagged Byzantine (`byzantine[i]` = 1, n u32 flags); honest rows
    /// are never written and omniscient attacks read them.
    fn byzantine_attack(&self, g: &mut Self::Matrix, byzantine: &Self::Index, attack: &AttackStep);
    /// `out` has `pre.rows_out(n)` rows of d.
    fn pre_aggregate(&self, g: &Self::Matrix, pre: &PreAggregationStep, out: &mut Self::Matrix);
    /// `out (1 × d)` = the rule applied to the rows of `g`; `selection (1 × n)` = each row's
    /// weight in it (see [`RobustStep`]; sums to 1, or is 0 everywhere when centered clipping
    /// found every row infinitely far). `centre (1 × d)` is centered clipping's
    /// starting point (the previous aggregate; `None` = zeros); other rules ignore it.
    fn robust_aggregate(
        &self,
        g: &Self::Matrix,
        rule: &RobustStep,
        centre: Option<&Self::Matrix>,
        out: &mut Self::Matrix,
        selection: &mut Self::Matrix,
    );

    // Compression of exchanged rows, pushed gradients and pulled weights (see [`compress`]).

    /// `out = decode(encode(v))` row by row with `step`'s codec, where `v = x`, or with a
    /// residual e (same shape as x) `v = x + e` and then `e ← v − out` (error feedback).
    /// `row_ids` (at least one per row) key row r's random draws: global node ids for boundary
    /// rows, worker ids for the server's rows of per-worker gradients.
    fn compress_rows(
        &self,
        x: &Self::Matrix,
        row_ids: &Self::Index,
        step: &CompressStep,
        residual: Option<&mut Self::Matrix>,
        out: &mut Self::Matrix,
    );
    /// PowerSGD of `m` (n × c) at rank r = `q.cols()` ≤ min(n, c), warm-started from `q`
    /// (c × r): P = M·Q into `p` (n × r), P orthonormalized by Gram–Schmidt, Q = Mᵀ·P into `q`,
    /// `out` = P·Qᵀ; M = m, or m + e with a residual e, then `e ← M − out`.
    fn powersgd(
        &self,
        m: &Self::Matrix,
        q: &mut Self::Matrix,
        p: &mut Self::Matrix,
        residual: Option<&mut Self::Matrix>,
        out: &mut Self::Matrix,
    );
}

/// [`Backend::describe`] with a non-default memory policy in brackets: what outputs record, so
/// that they say when a run streamed.
pub fn label<B: Backend>(b: &B) -> String {
    match b.memory_policy() {
        Some(policy) => format!("{} [{policy}]", b.describe()),
        None => b.describe(),
    }
}

/// Panics with the operation's name when shapes disagree: a bug in the caller, not bad input.
#[track_caller]
pub fn check_shape(op: &str, what: &str, got: (usize, usize), want: (usize, usize)) {
    assert!(got == want, "{op}: {what} is {}x{}, expected {}x{}", got.0, got.1, want.0, want.1);
}
