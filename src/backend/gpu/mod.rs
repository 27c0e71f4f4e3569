//! GPU backend on wgpu (Vulkan, Metal, DX12; lavapipe in CI).
//!
//! - [`context`]: adapter choice and device (the adapter's own limits).
//! - [`alloc`]: the one allocator; every buffer is limit-checked and memory-tracked there.
//! - [`recorder`]: the open command encoder every op records into, the per-submission
//!   parameter arena, the bind-group cache and scratch buffers. One submission per
//!   [`Backend::flush`]; only `download` / `read_stats` wait.
//! - [`kernels`]: one typed wrapper per WGSL kernel family in [`shaders`].

pub mod alloc;
pub mod compress;
pub mod context;
pub mod kernels;
pub mod pager;
pub mod profiler;
pub mod recorder;
pub mod residency;
pub mod robust;
pub mod shaders;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_attention;
#[cfg(test)]
mod tests_compress;
#[cfg(test)]
mod tests_heads;
#[cfg(test)]
mod tests_residency;
#[cfg(test)]
mod tests_robust;

use std::sync::{Arc, Mutex, MutexGuard};

pub use alloc::{Allocator, GpuBuffer};
pub use context::{list_adapters, AdapterPreference, AdapterSummary, GpuContext};

use super::{
    check_shape, AttackStep, Backend, BackendError, CompressStep, DropoutSpec, IndexLen, KernelProfile, MemCategory,
    MemoryTracker, Nonzeros, OptimizerStep, PreAggregationStep, ReduceOrder, RobustStep, Shape, SparseLayout,
    STATS_WIDTH,
};
use crate::graph::Csr;
use crate::tensor::HostMatrix;
use kernels::Kernels;
pub use pager::StreamingStats;
pub use recorder::Counters;
use recorder::Recorder;
pub use residency::{Residency, ResidentSet};

/// Dense row-major f32 matrix in a storage buffer.
#[derive(Debug)]
pub struct GpuMatrix {
    rows: usize,
    cols: usize,
    buf: GpuBuffer,
}

impl GpuMatrix {
    pub fn buffer(&self) -> &GpuBuffer {
        &self.buf
    }
}

impl Shape for GpuMatrix {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
}

/// CSR structure (u32 row offsets and column indices), shared by `sparse_like` copies.
#[derive(Debug)]
pub struct GpuSparseStructure {
    pub rows: usize,
    pub cols: usize,
    pub nnz: usize,
    pub row_ptr: GpuBuffer,
    pub col_idx: GpuBuffer,
    /// Rows longer than [`kernels::spmm::Spmm::SEGMENT`] entries, split into segments that SpMM
    /// sums in parallel (hub rows of power-law graphs, common features of Xᵀ).
    pub long_rows: Option<kernels::spmm::LongRows>,
}

/// CSR with its own f32 values.
#[derive(Debug)]
pub struct GpuSparse {
    pub structure: Arc<GpuSparseStructure>,
    pub values: GpuBuffer,
}

impl GpuSparse {
    pub fn nnz(&self) -> usize {
        self.structure.nnz
    }
}

impl Nonzeros for GpuSparse {
    fn nnz(&self) -> usize {
        self.structure.nnz
    }
}

impl Shape for GpuSparse {
    fn rows(&self) -> usize {
        self.structure.rows
    }
    fn cols(&self) -> usize {
        self.structure.cols
    }
}

/// u32 vector.
#[derive(Debug)]
pub struct GpuIndex {
    len: usize,
    buf: GpuBuffer,
}

impl GpuIndex {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn buffer(&self) -> &GpuBuffer {
        &self.buf
    }
}

impl IndexLen for GpuIndex {
    fn index_len(&self) -> usize {
        self.len
    }
}

/// `slots × STATS_WIDTH` f32 accumulators.
#[derive(Debug)]
pub struct GpuStats {
    slots: usize,
    buf: GpuBuffer,
}

impl GpuStats {
    pub fn slots(&self) -> usize {
        self.slots
    }
    pub fn buffer(&self) -> &GpuBuffer {
        &self.buf
    }
}

pub struct GpuBackend {
    ctx: GpuContext,
    memory: Arc<MemoryTracker>,
    alloc: Allocator,
    kernels: Kernels,
    rec: Mutex<Recorder>,
}

impl GpuBackend {
    /// The best adapter (discrete > integrated > virtual > CPU); [`BackendError::NoAdapter`] if
    /// there is none.
    pub fn new() -> Result<Self, BackendError> {
        Self::with_preference(&AdapterPreference::Best)
    }

    pub fn with_preference(preference: &AdapterPreference) -> Result<Self, BackendError> {
        Self::with_allocation_limits(preference, |_| {})
    }

    /// A backend with its own memory policy (see [`residency`]) instead of the process's.
    pub fn with_residency(preference: &AdapterPreference, residency: Residency) -> Result<Self, BackendError> {
        Self::build(Self::open_context(preference)?, |_| {}, residency)
    }

    /// The device, with timestamp queries where the adapter has them: requesting them changes no
    /// kernel, and lets any backend time its ops when a run asks ([`Backend::begin_timed_op`]).
    fn open_context(preference: &AdapterPreference) -> Result<GpuContext, BackendError> {
        GpuContext::with_features(preference, profiler::FEATURES)
    }

    /// A backend whose allocator enforces limits tightened by `tighten` (never looser than the
    /// device's): tests reach the error paths of a small device this way.
    pub fn with_allocation_limits(
        preference: &AdapterPreference,
        tighten: impl FnOnce(&mut wgpu::Limits),
    ) -> Result<Self, BackendError> {
        Self::build(Self::open_context(preference)?, tighten, Residency::process_default())
    }

    /// A backend that times every kernel with timestamp queries where the adapter has them
    /// (see [`profiler`]); [`Backend::take_kernel_profile`] returns the times. Without them it
    /// runs unprofiled and returns `None`.
    pub fn profiled(preference: &AdapterPreference) -> Result<Self, BackendError> {
        let backend = Self::build(Self::open_context(preference)?, |_| {}, Residency::process_default())?;
        if backend.has_timestamps() {
            let p = backend.profiler()?;
            backend.rec().profiler = Some(p);
        }
        Ok(backend)
    }

    /// Whether the device has the timestamp queries [`profiler`] needs.
    pub fn has_timestamps(&self) -> bool {
        self.ctx.features().contains(profiler::FEATURES)
    }

    fn profiler(&self) -> Result<profiler::Profiler, BackendError> {
        profiler::Profiler::new(&self.ctx.device, &self.ctx.queue, &self.alloc)
    }

    fn build(
        ctx: GpuContext,
        tighten: impl FnOnce(&mut wgpu::Limits),
        residency: Residency,
    ) -> Result<Self, BackendError> {
        let memory = MemoryTracker::new();
        let mut limits = ctx.limits.clone();
        tighten(&mut limits);
        limits.max_buffer_size = limits.max_buffer_size.min(ctx.limits.max_buffer_size);
        limits.max_storage_buffer_binding_size =
            limits.max_storage_buffer_binding_size.min(ctx.limits.max_storage_buffer_binding_size);
        let alloc =
            Allocator::with_residency(ctx.device.clone(), ctx.queue.clone(), limits, Arc::clone(&memory), residency);
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let rec = Recorder::new(ctx.device.clone(), ctx.queue.clone(), alloc.clone())?;
        let kernels = Kernels::new(&ctx.device, &rec);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(BackendError::Device(format!("building kernels on {}: {e}", ctx.info.name)));
        }
        Ok(Self { ctx, memory, alloc, kernels, rec: Mutex::new(rec) })
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.ctx.limits
    }

    pub fn allocator(&self) -> &Allocator {
        &self.alloc
    }

    /// What streaming moved since creation (all zero unless buffers left the device).
    pub fn streaming_stats(&self) -> StreamingStats {
        self.rec().pager.stats
    }

    /// Runs an allocation; when it does not fit, evicts another worker (under `auto` and
    /// `one`) and retries, until it fits or nothing is left to evict.
    fn allocate<T>(&self, create: impl FnMut() -> Result<T, BackendError>) -> Result<T, BackendError> {
        let protect: Vec<u32> = self.alloc.group().into_iter().collect();
        // The recorder is locked only to evict: callers may hold it while allocating.
        recorder::with_room(create, || self.rec().make_room(&protect))
    }

    /// Dispatches, submissions and bind groups created since creation.
    pub fn counters(&self) -> Counters {
        self.rec().counters
    }

    fn rec(&self) -> MutexGuard<'_, Recorder> {
        // A panic while recording (a caller bug) leaves at worst a partial op in the encoder.
        self.rec.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The backend for GPU tests: `Some` with a device; with no adapter, `None` after printing
/// `skipping: <reason>`, unless `GCNSIM_REQUIRE_GPU` is set (and not "0"), which makes it panic
/// so that CI fails instead of silently skipping. Any other error (a kernel that does not
/// build, a failed device request) always panics: that is a bug, not a missing GPU.
pub fn gpu_for_tests() -> Option<GpuBackend> {
    match GpuBackend::new() {
        Ok(b) => Some(b),
        Err(e @ BackendError::NoAdapter) => {
            let required = std::env::var("GCNSIM_REQUIRE_GPU").is_ok_and(|v| !v.is_empty() && v != "0");
            assert!(!required, "GCNSIM_REQUIRE_GPU is set but there is no GPU adapter: {e}");
            println!("skipping: {e}");
            None
        }
        Err(e) => panic!("GPU backend failed to start: {e}"),
    }
}

impl Backend for GpuBackend {
    type Matrix = GpuMatrix;
    type Sparse = GpuSparse;
    type Index = GpuIndex;
    type Stats = GpuStats;

    fn describe(&self) -> String {
        format!("gpu (wgpu): {}", self.ctx.describe())
    }

    fn memory_policy(&self) -> Option<String> {
        let r = self.alloc.residency();
        let mut policy = Vec::new();
        if r.set != ResidentSet::Auto {
            policy.push(format!("resident {}", r.set.name()));
        }
        if let Some(b) = r.budget {
            policy.push(format!("gpu-memory {b} B"));
        }
        (!policy.is_empty()).then(|| policy.join(", "))
    }

    fn memory(&self) -> &MemoryTracker {
        &self.memory
    }

    /// With `--resident all` and a `--gpu-memory` budget, what is left of the budget (a run
    /// that cannot fit is refused before it allocates); streaming policies fit what they can.
    fn memory_budget(&self) -> Option<u64> {
        let r = self.alloc.residency();
        let budget = r.budget.filter(|_| r.set == ResidentSet::All)?;
        Some(budget.saturating_sub(self.memory.snapshot().live_total()))
    }

    fn residency_group(&self, group: Option<usize>) {
        let group = group.map(|g| u32::try_from(g).expect("worker index fits u32"));
        self.alloc.set_group(group);
        if let (ResidentSet::One, Some(g)) = (self.alloc.residency().set, group) {
            let mut rec = self.rec();
            if let Err(e) = rec.prepare_group(g) {
                rec.fail(e);
            }
        }
    }

    fn streaming_stats(&self) -> Option<StreamingStats> {
        Some(self.streaming_stats())
    }

    fn alloc(&self, rows: usize, cols: usize, category: MemCategory, label: &str) -> Result<GpuMatrix, BackendError> {
        let bytes = 4 * (rows * cols) as u64;
        let buf =
            self.allocate(|| self.alloc.create_bound(label, category, bytes, alloc::STORAGE, alloc::Binding::Ranges))?;
        Ok(GpuMatrix { rows, cols, buf })
    }

    fn upload(&self, host: &HostMatrix, category: MemCategory, label: &str) -> Result<GpuMatrix, BackendError> {
        let data = bytemuck::cast_slice(&host.data);
        let buf = self
            .allocate(|| self.alloc.create_init_bound(label, category, data, alloc::STORAGE, alloc::Binding::Ranges))?;
        Ok(GpuMatrix { rows: host.rows, cols: host.cols, buf })
    }

    fn download(&self, m: &GpuMatrix) -> Result<HostMatrix, BackendError> {
        let data = self.rec().read_once(&m.buf, 4 * m.len() as u64)?;
        Ok(HostMatrix::from_vec(m.rows, m.cols, data))
    }

    fn upload_sparse(&self, csr: &Csr, category: MemCategory, label: &str) -> Result<GpuSparse, BackendError> {
        assert!(csr.values.len() == csr.nnz(), "upload_sparse: the CSR must carry values");
        assert_eq!(csr.row_ptr.len(), csr.rows + 1, "upload_sparse: row_ptr must have rows + 1 entries");
        let init = |what: &str, data: &[u8]| {
            self.allocate(|| self.alloc.create_init(&format!("{label}.{what}"), category, data, alloc::STORAGE))
        };
        let structure = Arc::new(GpuSparseStructure {
            rows: csr.rows,
            cols: csr.cols,
            nnz: csr.nnz(),
            row_ptr: init("row_ptr", bytemuck::cast_slice(&csr.row_ptr))?,
            col_idx: init("col_idx", bytemuck::cast_slice(&csr.col_idx))?,
            long_rows: self.allocate(|| kernels::spmm::LongRows::plan(&self.alloc, &csr.row_ptr, category, label))?,
        });
        let values = init("values", bytemuck::cast_slice(&csr.values))?;
        Ok(GpuSparse { structure, values })
    }

    fn sparse_like(&self, s: &GpuSparse, category: MemCategory, label: &str) -> Result<GpuSparse, BackendError> {
        let bytes = 4 * s.nnz() as u64;
        let values =
            self.allocate(|| self.alloc.create(&format!("{label}.values"), category, bytes, alloc::STORAGE))?;
        Ok(GpuSparse { structure: Arc::clone(&s.structure), values })
    }

    fn upload_index(&self, data: &[u32], category: MemCategory, label: &str) -> Result<GpuIndex, BackendError> {
        let buf =
            self.allocate(|| self.alloc.create_init(label, category, bytemuck::cast_slice(data), alloc::STORAGE))?;
        Ok(GpuIndex { len: data.len(), buf })
    }

    fn alloc_stats(&self, slots: usize, label: &str) -> Result<GpuStats, BackendError> {
        let bytes = 4 * (slots * STATS_WIDTH) as u64;
        let buf = self.allocate(|| self.alloc.create(label, MemCategory::Staging, bytes, alloc::STORAGE))?;
        Ok(GpuStats { slots, buf })
    }

    fn read_stats(&self, stats: &GpuStats) -> Result<Vec<f32>, BackendError> {
        self.rec().read(&stats.buf, 4 * (stats.slots * STATS_WIDTH) as u64)
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.rec().flush()
    }

    fn take_kernel_profile(&self) -> Option<KernelProfile> {
        let mut rec = self.rec();
        let profiler = rec.profiler.as_mut()?;
        Some(KernelProfile { kernels: profiler.take() })
    }

    fn max_binding_bytes(&self) -> Option<u64> {
        Some(self.alloc.binding_limit())
    }

    fn device_timing(&self) -> Result<(), String> {
        if self.has_timestamps() {
            return Ok(());
        }
        let features = "TIMESTAMP_QUERY, TIMESTAMP_QUERY_INSIDE_PASSES, TIMESTAMP_QUERY_INSIDE_ENCODERS";
        Err(format!(
            "the adapter {} has no timestamp queries inside passes and encoders ({features})",
            self.ctx.describe()
        ))
    }

    /// Turns profiling on at the first op (its staging buffers are allocated then); a failure
    /// poisons the recorder, so the next flush reports it.
    fn begin_timed_op(&self) {
        let mut rec = self.rec();
        if rec.profiler.is_none() {
            assert!(self.has_timestamps(), "begin_timed_op: {}", self.device_timing().unwrap_err());
            match self.profiler() {
                Ok(p) => rec.profiler = Some(p),
                Err(e) => return rec.fail(e),
            }
        }
        rec.profiler.as_mut().expect("profiler on").begin_op();
    }

    fn end_timed_op(&self) {
        if let Some(p) = self.rec().profiler.as_mut() {
            p.end_op();
        }
    }

    fn take_op_times(&self) -> Result<Vec<f64>, BackendError> {
        let mut rec = self.rec();
        rec.flush()?;
        Ok(rec.profiler.as_mut().map(|p| p.take_ops()).unwrap_or_default())
    }

    fn copy(&self, src: &GpuMatrix, dst: &mut GpuMatrix) {
        check_shape("copy", "dst", (dst.rows, dst.cols), (src.rows, src.cols));
        self.rec().copy(&src.buf, 0, &dst.buf, 0, 4 * src.len() as u64);
    }

    fn spmm(&self, a: &GpuSparse, x: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.spmm.encode(&mut self.rec(), a, x, out);
    }

    fn copy_rows(&self, src: &GpuMatrix, src_row0: usize, dst: &mut GpuMatrix, dst_row0: usize, rows: usize) {
        kernels::exchange::Exchange::copy_rows(&mut self.rec(), src, src_row0, dst, dst_row0, rows);
    }

    fn gather_rows(&self, src: &GpuMatrix, rows: &GpuIndex, dst: &mut GpuMatrix, dst_row0: usize) {
        self.kernels.exchange.gather_rows(&mut self.rec(), src, rows, dst, dst_row0);
    }

    fn scatter_rows(&self, src: &GpuMatrix, src_row0: usize, rows: &GpuIndex, dst: &mut GpuMatrix) {
        self.kernels.exchange.scatter_rows(&mut self.rec(), src, src_row0, rows, dst);
    }

    fn scatter_add_rows(&self, src: &GpuMatrix, src_row0: usize, rows: &GpuIndex, dst: &mut GpuMatrix) {
        self.kernels.exchange.scatter_add_rows(&mut self.rec(), src, src_row0, rows, dst);
    }

    fn add_rows(&self, src: &GpuMatrix, src_row0: usize, dst: &mut GpuMatrix, dst_row0: usize, rows: usize) {
        self.kernels.exchange.add_rows(&mut self.rec(), src, src_row0, dst, dst_row0, rows);
    }

    fn zero(&self, m: &mut GpuMatrix) {
        let bytes = 4 * m.len() as u64;
        self.rec().clear(&m.buf, 0, bytes);
    }

    fn sample_boundary(
        &self,
        base: &GpuSparse,
        node_ids: &GpuIndex,
        layout: SparseLayout,
        first_boundary: usize,
        spec: &DropoutSpec,
        out: &mut GpuSparse,
    ) {
        self.kernels.dropout.sample_boundary(&mut self.rec(), base, node_ids, layout, first_boundary, spec, out);
    }

    fn matmul(&self, a: &GpuMatrix, b: &GpuMatrix, out: &mut GpuMatrix, transpose_a: bool, transpose_b: bool) {
        self.kernels.matmul.encode(&mut self.rec(), a, b, out, transpose_a, transpose_b);
    }

    fn relu(&self, x: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.relu.relu(&mut self.rec(), x, out);
    }

    fn relu_backward(&self, output: &GpuMatrix, grad: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.relu.relu_backward(&mut self.rec(), output, grad, out);
    }

    fn dropout(&self, x: &GpuMatrix, node_ids: &GpuIndex, spec: &DropoutSpec, out: &mut GpuMatrix) {
        self.kernels.dropout.dense(&mut self.rec(), x, node_ids, spec, out);
    }

    fn dropout_sparse(
        &self,
        x: &GpuSparse,
        node_ids: &GpuIndex,
        layout: SparseLayout,
        spec: &DropoutSpec,
        out: &mut GpuSparse,
    ) {
        self.kernels.dropout.sparse(&mut self.rec(), x, node_ids, layout, spec, out);
    }

    fn softmax_xent(
        &self,
        logits: &GpuMatrix,
        labels: &GpuIndex,
        split: &GpuIndex,
        grad_scale: f32,
        grad: Option<&mut GpuMatrix>,
        stats: &mut GpuStats,
        slot: usize,
    ) {
        self.kernels.softmax_xent.encode(
            &mut self.rec(),
            &self.kernels.reduce,
            logits,
            labels,
            split,
            grad_scale,
            grad.map(|g| &*g),
            stats,
            slot,
        );
    }

    fn copy_cols(
        &self,
        src: &GpuMatrix,
        src_col0: usize,
        dst: &mut GpuMatrix,
        dst_col0: usize,
        rows: usize,
        cols: usize,
    ) {
        self.kernels.exchange.copy_cols(&mut self.rec(), src, src_col0, dst, dst_col0, rows, cols);
    }

    fn elu(&self, x: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.elu.elu(&mut self.rec(), x, out);
    }

    fn elu_backward(&self, output: &GpuMatrix, grad: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.elu.elu_backward(&mut self.rec(), output, grad, out);
    }

    fn head_dot(&self, x: &GpuMatrix, att: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.heads.head_dot(&mut self.rec(), x, att, out);
    }

    fn head_dot_backward(
        &self,
        x: &GpuMatrix,
        att: &GpuMatrix,
        ds: &GpuMatrix,
        dx: &mut GpuMatrix,
        d_att: &mut GpuMatrix,
    ) {
        self.kernels.heads.head_dot_backward(&mut self.rec(), x, att, ds, dx, d_att);
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_softmax(
        &self,
        a: &GpuSparse,
        s_src: &GpuMatrix,
        s_dst: &GpuMatrix,
        slope: f32,
        pre: &mut GpuMatrix,
        alpha: &mut GpuMatrix,
    ) {
        self.kernels.attention.edge_softmax(&mut self.rec(), a, s_src, s_dst, slope, pre, alpha);
    }

    fn edge_softmax_backward(
        &self,
        a: &GpuSparse,
        pre: &GpuMatrix,
        alpha: &GpuMatrix,
        d_alpha: &GpuMatrix,
        slope: f32,
        d_pre: &mut GpuMatrix,
    ) {
        self.kernels.attention.edge_softmax_backward(&mut self.rec(), a, pre, alpha, d_alpha, slope, d_pre);
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_dropout(
        &self,
        a: &GpuSparse,
        row_ids: &GpuIndex,
        col_ids: &GpuIndex,
        spec: &DropoutSpec,
        x: &GpuMatrix,
        out: &mut GpuMatrix,
    ) {
        self.kernels.dropout.edge(&mut self.rec(), a, row_ids, col_ids, spec, x, out);
    }

    fn attention_spmm(
        &self,
        a: &GpuSparse,
        perm: Option<&GpuIndex>,
        alpha: &GpuMatrix,
        x: &GpuMatrix,
        out: &mut GpuMatrix,
    ) {
        self.kernels.attention.attention_spmm(&mut self.rec(), a, perm, alpha, x, out);
    }

    fn attention_spmm_backward_alpha(&self, a: &GpuSparse, x: &GpuMatrix, d_out: &GpuMatrix, d_alpha: &mut GpuMatrix) {
        self.kernels.edge_sums.attention_spmm_backward_alpha(&mut self.rec(), a, x, d_out, d_alpha);
    }

    fn edge_row_sum(&self, a: &GpuSparse, perm: Option<&GpuIndex>, x: &GpuMatrix, out: &mut GpuMatrix) {
        self.kernels.edge_sums.edge_row_sum(&mut self.rec(), a, perm, x, out);
    }

    fn sum_squares(&self, m: &GpuMatrix, stats: &mut GpuStats, slot: usize) {
        self.kernels.reduce.sum_squares(&mut self.rec(), m, stats, slot);
    }

    fn weighted_sum(&self, inputs: &[&GpuMatrix], weights: &[f32], order: ReduceOrder, out: &mut GpuMatrix) {
        self.kernels.weighted_sum.encode(&mut self.rec(), inputs, weights, order, out);
    }

    fn optimizer_step(&self, param: &mut GpuMatrix, grad: &GpuMatrix, state: &mut [GpuMatrix], step: &OptimizerStep) {
        self.kernels.optimizer.step(&mut self.rec(), param, grad, state, step);
    }

    fn copy_region(&self, src: &GpuMatrix, src_offset: usize, dst: &mut GpuMatrix, dst_offset: usize, len: usize) {
        robust::copy_region(&mut self.rec(), src, src_offset, dst, dst_offset, len);
    }

    fn pairwise_sq_dists(&self, g: &GpuMatrix, out: &mut GpuMatrix) {
        robust::pairwise_sq_dists(&self.kernels, &mut self.rec(), g, out);
    }

    fn byzantine_attack(&self, g: &mut GpuMatrix, byzantine: &GpuIndex, attack: &AttackStep) {
        self.kernels.byzantine_attack.encode(&mut self.rec(), g, byzantine, attack);
    }

    fn pre_aggregate(&self, g: &GpuMatrix, pre: &PreAggregationStep, out: &mut GpuMatrix) {
        robust::pre_aggregate(&self.kernels, &mut self.rec(), g, pre, out);
    }

    fn robust_aggregate(
        &self,
        g: &GpuMatrix,
        rule: &RobustStep,
        centre: Option<&GpuMatrix>,
        out: &mut GpuMatrix,
        selection: &mut GpuMatrix,
    ) {
        robust::robust_aggregate(&self.kernels, &mut self.rec(), g, rule, centre, out, selection);
    }

    fn compress_rows(
        &self,
        x: &GpuMatrix,
        row_ids: &GpuIndex,
        step: &CompressStep,
        residual: Option<&mut GpuMatrix>,
        out: &mut GpuMatrix,
    ) {
        compress::compress_rows(&self.kernels, &mut self.rec(), x, row_ids, step, residual.as_deref(), out);
    }

    fn powersgd(
        &self,
        m: &GpuMatrix,
        q: &mut GpuMatrix,
        p: &mut GpuMatrix,
        residual: Option<&mut GpuMatrix>,
        out: &mut GpuMatrix,
    ) {
        compress::powersgd(&self.kernels, &mut self.rec(), m, q, p, residual.as_deref(), out);
    }
}

// The backend is shared like the CPU one (e.g. behind an Arc across threads).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<GpuBackend>();
    send_sync::<GpuMatrix>();
    send_sync::<GpuSparse>();
};
