//! A [`Backend`] wrapper that charges every kernel its roofline time
//! ([`DeviceProfile::kernel_time`] of the op's [`KernelCost`]) to the worker the model says it
//! belongs to ([`Backend::attribute`]), split into segments at the points where workers
//! synchronise ([`Backend::segment_end`]). The simulated clock reads it; results are the inner
//! backend's, bit for bit.
//!
//! Costs are functions of the shapes the op is called with (a sparse matrix's nonzeros, an
//! index's length), so they are deterministic and the same for every inner backend. The GPU
//! backend records commands and runs them at [`Backend::flush`]; the wrapper charges at call
//! time, which is all the model needs: it asks for modelled time per worker and segment, not
//! for when the device ran the work.
//!
//! Ops without a dedicated [`KernelCost`] constructor are charged their compulsory traffic
//! (each input read once, each output written once) through [`KernelCost::copy`] or
//! [`KernelCost::elementwise`]; the choice is documented at each op. Allocation, upload,
//! download, stats readback, flush, `describe` and `memory` are delegated free of charge.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use crate::backend::{
    compress, AttackStep, Backend, BackendError, CompressStep, DropoutSpec, IndexLen, KernelClass, MemCategory,
    MemoryTracker, Nonzeros, OptimizerStep, PreAggregationStep, ReduceOrder, RobustStep, Shape, SparseLayout, Work,
};
use crate::cost::{DeviceProfile, KernelCost};
use crate::graph::Csr;
use crate::tensor::HostMatrix;

/// Bytes of `n` u32 indices read by a kernel (the node ids, row lists and flags below).
fn index_bytes(n: usize) -> KernelCost {
    KernelCost { flops: 0.0, bytes: 4.0 * n as f64 }
}

/// What the meter has charged since the last take.
#[derive(Debug)]
struct Meter {
    /// Who subsequent kernels are charged to (`None`: the server / unattributed).
    current: Option<usize>,
    /// `segments[s][i]`: worker i's seconds in segment s; the last segment is the open one.
    segments: Vec<Vec<f64>>,
    server: f64,
    /// Seconds charged per kernel class (workers and server together), since the meter began.
    by_class: BTreeMap<KernelClass, f64>,
    /// Calls and seconds per op (workers and server together), since the meter began.
    by_op: BTreeMap<OpKey, OpTotal>,
    /// `by_op` when the first round ended ([`Metered::mark_first_round`]).
    by_op_at_first_round: Option<BTreeMap<OpKey, OpTotal>>,
    /// Every kernel's work and charged seconds, in call order, when recording (calibration).
    records: Option<Vec<(Work, f64)>>,
    /// Kernels measured on the device whose seconds are not known yet, in call order, with
    /// where they are charged (see [`Timing::Device`]).
    deferred: Vec<(Work, Destination)>,
    /// The first failure to read the device's times; [`Metered::settled`] and `flush` return it.
    failed: Option<BackendError>,
}

/// Who a kernel is charged to: worker `i` in segment `s`, or the server.
#[derive(Clone, Copy, Debug)]
enum Destination {
    Worker { segment: usize, worker: usize },
    Server,
}

/// Where the seconds charged for each kernel come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timing {
    /// The profile's roofline of the kernel's [`Work`]: deterministic.
    Model,
    /// The host clock around the call, for a backend that runs kernels when called.
    Host,
    /// The device's timestamps around the op's commands ([`Backend::begin_timed_op`]), for a
    /// backend that records kernels and runs them later: each charge is recorded at call time
    /// with its destination and filled in when the times are read, which every reader of the
    /// meter (the takes, [`Metered::class_totals`], `flush`) does first.
    Device,
}

/// A backend op by its kernel class and trait method name (`spmm`, `relu`, `dropout`, ...).
pub type OpKey = (KernelClass, &'static str);

/// What one op was charged over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OpTotal {
    pub calls: u64,
    pub seconds: f64,
}

/// `inner` with each kernel charged `profile.kernel_time(&cost)` to the current worker.
pub struct Metered<'a, B: Backend> {
    inner: &'a B,
    profile: DeviceProfile,
    workers: usize,
    meter: RefCell<Meter>,
    timing: Timing,
    /// The bytes competing with each kernel for the cache ([`Work::context_bytes`]): fixed by
    /// a microbenchmark, else the inner backend's live bytes at the call.
    context_bytes: std::cell::Cell<Option<f64>>,
}

impl<'a, B: Backend> Metered<'a, B> {
    /// A meter for `workers` workers, all at zero, charging the server until told otherwise.
    pub fn new(inner: &'a B, profile: DeviceProfile, workers: usize) -> Self {
        let meter = Meter {
            current: None,
            segments: vec![vec![0.0; workers]],
            server: 0.0,
            by_class: BTreeMap::new(),
            by_op: BTreeMap::new(),
            by_op_at_first_round: None,
            records: None,
            deferred: Vec::new(),
            failed: None,
        };
        Self {
            inner,
            profile,
            workers,
            meter: RefCell::new(meter),
            timing: Timing::Model,
            context_bytes: Default::default(),
        }
    }

    pub fn inner(&self) -> &'a B {
        self.inner
    }

    pub fn profile(&self) -> &DeviceProfile {
        &self.profile
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Per-worker seconds of every segment since the last take (`[s][i]`: segment s, worker i),
    /// segments separated by [`Backend::segment_end`]; at least one (the open one, possibly all
    /// zeros). Resets the segments; the attribution stays.
    pub fn take_segments(&self) -> Vec<Vec<f64>> {
        self.settle();
        std::mem::replace(&mut self.meter.borrow_mut().segments, vec![vec![0.0; self.workers]])
    }

    /// Makes `segments` (from [`Self::take_segments`]) the current ones again, so that what
    /// follows is charged on top: a training pass that reuses an evaluation's forward continues
    /// from that forward's charges.
    pub fn put_segments(&self, segments: Vec<Vec<f64>>) {
        assert!(!segments.is_empty() && segments.iter().all(|s| s.len() == self.workers), "put_segments: not a take");
        // Kernels charged to the segments being replaced stay theirs, as in the model.
        self.settle();
        self.meter.borrow_mut().segments = segments;
    }

    /// Seconds charged to the server (`attribute(None)`) since the last take; resets them.
    pub fn take_server(&self) -> f64 {
        self.settle();
        std::mem::take(&mut self.meter.borrow_mut().server)
    }

    /// Seconds charged to each kernel class since the meter was made (not reset by the takes):
    /// what `validate` compares class by class.
    pub fn class_totals(&self) -> BTreeMap<KernelClass, f64> {
        self.settle();
        self.meter.borrow().by_class.clone()
    }

    /// Calls and seconds charged to each op since the meter was made: what `validate` writes
    /// op by op, to show which kernels a profile misses.
    pub fn op_totals(&self) -> BTreeMap<OpKey, OpTotal> {
        self.meter.borrow().by_op.clone()
    }

    /// Remembers the per-op totals at the end of the first round: the first round pays for
    /// first touches of fresh allocations and cold caches that later rounds do not.
    pub fn mark_first_round(&self) {
        let mut m = self.meter.borrow_mut();
        if m.by_op_at_first_round.is_none() {
            m.by_op_at_first_round = Some(m.by_op.clone());
        }
    }

    /// Per-op totals charged after the first round ([`Self::mark_first_round`]); empty if it
    /// was never marked.
    pub fn op_totals_after_first_round(&self) -> BTreeMap<OpKey, OpTotal> {
        let m = self.meter.borrow();
        let Some(first) = &m.by_op_at_first_round else { return BTreeMap::new() };
        m.by_op
            .iter()
            .map(|(key, total)| {
                let before = first.get(key).copied().unwrap_or_default();
                (*key, OpTotal { calls: total.calls - before.calls, seconds: total.seconds - before.seconds })
            })
            .filter(|(_, t)| t.calls > 0)
            .collect()
    }

    /// Each worker's seconds summed over the segments since the last take; resets the segments
    /// like [`Self::take_segments`].
    pub fn take_totals(&self) -> Vec<f64> {
        let mut totals = vec![0.0; self.workers];
        for segment in self.take_segments() {
            for (t, s) in totals.iter_mut().zip(segment) {
                *t += s;
            }
        }
        totals
    }

    /// Charges kernels their measured time instead of the roofline: the host time of the call
    /// for a backend that runs each kernel when called ([`Backend::runs_when_called`]), else the
    /// device time of the op's commands (the backend must time ops, [`Backend::device_timing`]).
    /// The simulated clock then follows this machine and is no longer deterministic.
    pub fn measuring(mut self) -> Self {
        self.timing = if self.inner.runs_when_called() { Timing::Host } else { Timing::Device };
        self
    }

    /// Charges the kernels that follow as if `bytes` competed with them for the cache (`None`:
    /// the inner backend's live bytes, the default): what a microbenchmark that evicts a known
    /// number of bytes between repetitions sets.
    pub fn set_context_bytes(&self, bytes: Option<f64>) {
        self.context_bytes.set(bytes);
    }

    /// Fills in every kernel measured on the device so far; the first failure to read the
    /// device's times, if any (those kernels are charged nothing).
    pub fn settled(&self) -> Result<(), BackendError> {
        self.settle();
        self.meter.borrow().failed.clone().map_or(Ok(()), Err)
    }

    /// Charges the deferred kernels their device seconds (see [`Timing::Device`]).
    fn settle(&self) {
        if self.meter.borrow().deferred.is_empty() {
            return;
        }
        let times = self.inner.take_op_times();
        let deferred = std::mem::take(&mut self.meter.borrow_mut().deferred);
        match times {
            Ok(times) => {
                assert_eq!(
                    times.len(),
                    deferred.len(),
                    "the device timed {} ops for {} charged",
                    times.len(),
                    deferred.len()
                );
                for ((work, to), t) in deferred.iter().zip(times) {
                    self.charge_to(work, *to, t);
                }
            }
            Err(e) => {
                self.meter.borrow_mut().failed.get_or_insert(e);
            }
        }
    }

    /// Keeps every kernel's [`Work`] and the seconds charged for it, for [`Self::take_records`]:
    /// what calibration fits, so that it sees each op exactly as the clock does.
    pub fn recording(self) -> Self {
        self.meter.borrow_mut().records = Some(Vec::new());
        self
    }

    /// The kernels recorded since the last take, in call order (empty unless recording).
    pub fn take_records(&self) -> Vec<(Work, f64)> {
        self.settle();
        self.meter.borrow_mut().records.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Runs `kernel` and charges it: its modelled time as a kernel of `class` costing `cost`, or
    /// what it took when measuring.
    fn timed<R>(&self, op: &'static str, class: KernelClass, cost: KernelCost, kernel: impl FnOnce() -> R) -> R {
        self.timed_work(op, Work::new(class, cost), kernel)
    }

    fn timed_work<R>(&self, op: &'static str, work: Work, kernel: impl FnOnce() -> R) -> R {
        let context = self.context_bytes.get().unwrap_or_else(|| self.inner.memory().live_total() as f64);
        let work = work.named(op).in_context(context);
        match self.timing {
            Timing::Model => {
                self.charge(&work, self.profile.work_time(&work));
                kernel()
            }
            Timing::Host => {
                let started = Instant::now();
                let r = kernel();
                self.charge(&work, started.elapsed().as_secs_f64());
                r
            }
            Timing::Device => {
                self.inner.begin_timed_op();
                let r = kernel();
                self.inner.end_timed_op();
                let to = self.destination();
                self.meter.borrow_mut().deferred.push((work, to));
                r
            }
        }
    }

    /// The current worker in the open segment, or the server.
    fn destination(&self) -> Destination {
        let m = self.meter.borrow();
        match m.current {
            Some(worker) => Destination::Worker { segment: m.segments.len() - 1, worker },
            None => Destination::Server,
        }
    }

    /// Charges `t` seconds to the current worker (or the server), to the class's and the op's
    /// totals.
    fn charge(&self, work: &Work, t: f64) {
        self.charge_to(work, self.destination(), t);
    }

    fn charge_to(&self, work: &Work, to: Destination, t: f64) {
        let mut m = self.meter.borrow_mut();
        *m.by_class.entry(work.class).or_insert(0.0) += t;
        let total = m.by_op.entry((work.class, work.op)).or_default();
        total.calls += 1;
        total.seconds += t;
        if let Some(records) = &mut m.records {
            records.push((*work, t));
        }
        match to {
            Destination::Worker { segment, worker } => m.segments[segment][worker] += t,
            Destination::Server => m.server += t,
        }
    }
}

impl<B: Backend> Backend for Metered<'_, B> {
    type Matrix = B::Matrix;
    type Sparse = B::Sparse;
    type Index = B::Index;
    type Stats = B::Stats;

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn memory(&self) -> &MemoryTracker {
        self.inner.memory()
    }

    fn memory_budget(&self) -> Option<u64> {
        self.inner.memory_budget()
    }

    fn memory_policy(&self) -> Option<String> {
        self.inner.memory_policy()
    }

    fn residency_group(&self, group: Option<usize>) {
        self.inner.residency_group(group);
    }

    fn streaming_stats(&self) -> Option<crate::backend::gpu::StreamingStats> {
        self.inner.streaming_stats()
    }

    fn alloc(&self, rows: usize, cols: usize, category: MemCategory, label: &str) -> Result<B::Matrix, BackendError> {
        self.inner.alloc(rows, cols, category, label)
    }

    fn upload(&self, host: &HostMatrix, category: MemCategory, label: &str) -> Result<B::Matrix, BackendError> {
        self.inner.upload(host, category, label)
    }

    fn download(&self, m: &B::Matrix) -> Result<HostMatrix, BackendError> {
        self.inner.download(m)
    }

    fn upload_sparse(&self, csr: &Csr, category: MemCategory, label: &str) -> Result<B::Sparse, BackendError> {
        self.inner.upload_sparse(csr, category, label)
    }

    fn sparse_like(&self, s: &B::Sparse, category: MemCategory, label: &str) -> Result<B::Sparse, BackendError> {
        self.inner.sparse_like(s, category, label)
    }

    fn upload_index(&self, data: &[u32], category: MemCategory, label: &str) -> Result<B::Index, BackendError> {
        self.inner.upload_index(data, category, label)
    }

    fn alloc_stats(&self, slots: usize, label: &str) -> Result<B::Stats, BackendError> {
        self.inner.alloc_stats(slots, label)
    }

    fn read_stats(&self, stats: &B::Stats) -> Result<Vec<f32>, BackendError> {
        self.inner.read_stats(stats)
    }

    /// Also fills in the kernels measured on the device (and reports a failure to read them).
    fn flush(&self) -> Result<(), BackendError> {
        self.settled()?;
        self.inner.flush()
    }

    fn runs_when_called(&self) -> bool {
        self.inner.runs_when_called()
    }

    fn take_kernel_profile(&self) -> Option<crate::backend::KernelProfile> {
        self.inner.take_kernel_profile()
    }

    fn max_binding_bytes(&self) -> Option<u64> {
        self.inner.max_binding_bytes()
    }

    fn device_timing(&self) -> Result<(), String> {
        self.inner.device_timing()
    }

    fn begin_timed_op(&self) {
        self.inner.begin_timed_op();
    }

    fn end_timed_op(&self) {
        self.inner.end_timed_op();
    }

    fn take_op_times(&self) -> Result<Vec<f64>, BackendError> {
        self.inner.take_op_times()
    }

    /// Recorded here, and passed on (a wrapped wrapper attributes too).
    fn attribute(&self, worker: Option<usize>) {
        if let Some(i) = worker {
            assert!(i < self.workers, "attribute: worker {i} of a meter for {} workers", self.workers);
        }
        self.meter.borrow_mut().current = worker;
        self.inner.attribute(worker);
    }

    /// Opens a new segment for every worker, and passes the mark on.
    fn segment_end(&self) {
        self.meter.borrow_mut().segments.push(vec![0.0; self.workers]);
        self.inner.segment_end();
    }

    fn copy(&self, src: &B::Matrix, dst: &mut B::Matrix) {
        self.timed("copy", KernelClass::Elementwise, KernelCost::copy(src.len()), || self.inner.copy(src, dst))
    }

    /// A's rows, columns and nonzeros; `x` and `out` may be taller (only A's rows count).
    fn spmm(&self, a: &B::Sparse, x: &B::Matrix, out: &mut B::Matrix) {
        self.timed_work("spmm", Work::spmm(a.rows(), a.cols(), a.nnz(), x.cols()), || self.inner.spmm(a, x, out))
    }

    /// A copy of the `rows × width` block.
    fn copy_rows(&self, src: &B::Matrix, src_row0: usize, dst: &mut B::Matrix, dst_row0: usize, rows: usize) {
        self.timed("copy_rows", KernelClass::Elementwise, KernelCost::copy(rows * src.cols()), || {
            self.inner.copy_rows(src, src_row0, dst, dst_row0, rows)
        })
    }

    /// A copy of the gathered rows, plus their row indices.
    fn gather_rows(&self, src: &B::Matrix, rows: &B::Index, dst: &mut B::Matrix, dst_row0: usize) {
        let n = rows.index_len();
        self.timed("gather_rows", KernelClass::Elementwise, KernelCost::copy(n * src.cols()) + index_bytes(n), || {
            self.inner.gather_rows(src, rows, dst, dst_row0)
        })
    }

    /// A copy of the scattered rows, plus their row indices.
    fn scatter_rows(&self, src: &B::Matrix, src_row0: usize, rows: &B::Index, dst: &mut B::Matrix) {
        let n = rows.index_len();
        self.timed("scatter_rows", KernelClass::Elementwise, KernelCost::copy(n * src.cols()) + index_bytes(n), || {
            self.inner.scatter_rows(src, src_row0, rows, dst)
        })
    }

    /// Per element of the added rows: src and dst in, dst out, one add; plus the row indices.
    fn scatter_add_rows(&self, src: &B::Matrix, src_row0: usize, rows: &B::Index, dst: &mut B::Matrix) {
        let n = rows.index_len();
        self.timed(
            "scatter_add_rows",
            KernelClass::Elementwise,
            KernelCost::elementwise(n * src.cols(), 2, 1, 1.0) + index_bytes(n),
            || self.inner.scatter_add_rows(src, src_row0, rows, dst),
        )
    }

    /// Per element of the added rows: src and dst in, dst out, one add.
    fn add_rows(&self, src: &B::Matrix, src_row0: usize, dst: &mut B::Matrix, dst_row0: usize, rows: usize) {
        self.timed("add_rows", KernelClass::Elementwise, KernelCost::elementwise(rows * src.cols(), 2, 1, 1.0), || {
            self.inner.add_rows(src, src_row0, dst, dst_row0, rows)
        })
    }

    /// Every element written once, nothing read.
    fn zero(&self, m: &mut B::Matrix) {
        self.timed("zero", KernelClass::Elementwise, KernelCost::elementwise(m.len(), 0, 1, 0.0), || self.inner.zero(m))
    }

    /// `op(A)` is m × k and `op(B)` k × n; a transpose changes neither FLOPs nor bytes.
    fn matmul(&self, a: &B::Matrix, b: &B::Matrix, out: &mut B::Matrix, transpose_a: bool, transpose_b: bool) {
        let (m, k) = if transpose_a { (a.cols(), a.rows()) } else { (a.rows(), a.cols()) };
        let n = if transpose_b { b.rows() } else { b.cols() };
        // The three forms run different loops (a transposed operand is read down its columns).
        let op = match (transpose_a, transpose_b) {
            (false, false) => "matmul",
            (true, false) => "matmul_at",
            (false, true) => "matmul_bt",
            (true, true) => "matmul_at_bt",
        };
        self.timed(op, KernelClass::Matmul, KernelCost::matmul(m, k, n), || {
            self.inner.matmul(a, b, out, transpose_a, transpose_b)
        })
    }

    fn relu(&self, x: &B::Matrix, out: &mut B::Matrix) {
        self.timed("relu", KernelClass::Elementwise, KernelCost::relu(x.len()), || self.inner.relu(x, out))
    }

    fn relu_backward(&self, output: &B::Matrix, grad: &B::Matrix, out: &mut B::Matrix) {
        self.timed("relu_backward", KernelClass::Elementwise, KernelCost::relu_backward(output.len()), || {
            self.inner.relu_backward(output, grad, out)
        })
    }

    fn dropout(&self, x: &B::Matrix, node_ids: &B::Index, spec: &DropoutSpec, out: &mut B::Matrix) {
        self.timed("dropout", KernelClass::Elementwise, KernelCost::dropout(x.rows(), x.cols()), || {
            self.inner.dropout(x, node_ids, spec, out)
        })
    }

    /// One node id per row (`NodeRows`) or per column (`NodeCols`), as [`KernelCost::dropout_sparse`].
    fn dropout_sparse(
        &self,
        x: &B::Sparse,
        node_ids: &B::Index,
        layout: SparseLayout,
        spec: &DropoutSpec,
        out: &mut B::Sparse,
    ) {
        self.timed("dropout_sparse", KernelClass::Elementwise, sparse_mask_cost(x, layout), || {
            self.inner.dropout_sparse(x, node_ids, layout, spec, out)
        })
    }

    /// The same work as a sparse dropout of `base` (a hash, compare and scale per stored value).
    fn sample_boundary(
        &self,
        base: &B::Sparse,
        node_ids: &B::Index,
        layout: SparseLayout,
        first_boundary: usize,
        spec: &DropoutSpec,
        out: &mut B::Sparse,
    ) {
        self.timed("sample_boundary", KernelClass::Elementwise, sparse_mask_cost(base, layout), || {
            self.inner.sample_boundary(base, node_ids, layout, first_boundary, spec, out)
        })
    }

    fn softmax_xent(
        &self,
        logits: &B::Matrix,
        labels: &B::Index,
        split: &B::Index,
        grad_scale: f32,
        grad: Option<&mut B::Matrix>,
        stats: &mut B::Stats,
        slot: usize,
    ) {
        self.timed(
            "softmax_xent",
            KernelClass::Elementwise,
            KernelCost::softmax_xent(logits.rows(), logits.cols(), grad.is_some()),
            || self.inner.softmax_xent(logits, labels, split, grad_scale, grad, stats, slot),
        )
    }

    /// A block copy: [`KernelCost::copy`] of its rows × cols.
    fn copy_cols(
        &self,
        src: &B::Matrix,
        src_col0: usize,
        dst: &mut B::Matrix,
        dst_col0: usize,
        rows: usize,
        cols: usize,
    ) {
        self.timed("copy_cols", KernelClass::Elementwise, KernelCost::copy(rows * cols), || {
            self.inner.copy_cols(src, src_col0, dst, dst_col0, rows, cols)
        })
    }

    fn elu(&self, x: &B::Matrix, out: &mut B::Matrix) {
        self.timed("elu", KernelClass::Elementwise, KernelCost::elu(x.len()), || self.inner.elu(x, out))
    }

    fn elu_backward(&self, output: &B::Matrix, grad: &B::Matrix, out: &mut B::Matrix) {
        self.timed("elu_backward", KernelClass::Elementwise, KernelCost::elu_backward(output.len()), || {
            self.inner.elu_backward(output, grad, out)
        })
    }

    fn head_dot(&self, x: &B::Matrix, att: &B::Matrix, out: &mut B::Matrix) {
        self.timed("head_dot", KernelClass::Attention, KernelCost::head_dot(x.rows(), att.rows(), att.cols()), || {
            self.inner.head_dot(x, att, out)
        })
    }

    fn head_dot_backward(
        &self,
        x: &B::Matrix,
        att: &B::Matrix,
        ds: &B::Matrix,
        dx: &mut B::Matrix,
        d_att: &mut B::Matrix,
    ) {
        self.timed(
            "head_dot_backward",
            KernelClass::Attention,
            KernelCost::head_dot_backward(x.rows(), att.rows(), att.cols()),
            || self.inner.head_dot_backward(x, att, ds, dx, d_att),
        )
    }

    /// As [`KernelCost::edge_softmax`] of A's rows and entries, one head per column of α.
    #[allow(clippy::too_many_arguments)]
    fn edge_softmax(
        &self,
        a: &B::Sparse,
        s_src: &B::Matrix,
        s_dst: &B::Matrix,
        slope: f32,
        pre: &mut B::Matrix,
        alpha: &mut B::Matrix,
    ) {
        self.timed(
            "edge_softmax",
            KernelClass::Attention,
            KernelCost::edge_softmax(a.rows(), a.nnz(), alpha.cols()),
            || self.inner.edge_softmax(a, s_src, s_dst, slope, pre, alpha),
        )
    }

    fn edge_softmax_backward(
        &self,
        a: &B::Sparse,
        pre: &B::Matrix,
        alpha: &B::Matrix,
        d_alpha: &B::Matrix,
        slope: f32,
        d_pre: &mut B::Matrix,
    ) {
        self.timed(
            "edge_softmax_backward",
            KernelClass::Attention,
            KernelCost::edge_softmax_backward(a.rows(), a.nnz(), alpha.cols()),
            || self.inner.edge_softmax_backward(a, pre, alpha, d_alpha, slope, d_pre),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_dropout(
        &self,
        a: &B::Sparse,
        row_ids: &B::Index,
        col_ids: &B::Index,
        spec: &DropoutSpec,
        x: &B::Matrix,
        out: &mut B::Matrix,
    ) {
        self.timed(
            "edge_dropout",
            KernelClass::Attention,
            KernelCost::edge_dropout(a.rows(), a.nnz(), x.cols()),
            || self.inner.edge_dropout(a, row_ids, col_ids, spec, x, out),
        )
    }

    /// A's rows and entries; `out` may be taller (only A's rows count).
    fn attention_spmm(
        &self,
        a: &B::Sparse,
        perm: Option<&B::Index>,
        alpha: &B::Matrix,
        x: &B::Matrix,
        out: &mut B::Matrix,
    ) {
        let cost = KernelCost::attention_spmm(a.rows(), a.nnz(), alpha.cols(), out.cols(), perm.is_some());
        self.timed_work("attention_spmm", Work::gathering(KernelClass::Attention, cost, x.rows(), x.cols()), || {
            self.inner.attention_spmm(a, perm, alpha, x, out)
        })
    }

    /// H = d_alpha's columns, C = d_out's width / H (as the op reads them).
    fn attention_spmm_backward_alpha(&self, a: &B::Sparse, x: &B::Matrix, d_out: &B::Matrix, d_alpha: &mut B::Matrix) {
        let heads = d_alpha.cols().max(1);
        let cost = KernelCost::attention_spmm_backward_alpha(a.rows(), a.nnz(), heads, d_out.cols() / heads);
        self.timed("attention_spmm_backward_alpha", KernelClass::Attention, cost, || {
            self.inner.attention_spmm_backward_alpha(a, x, d_out, d_alpha)
        })
    }

    fn edge_row_sum(&self, a: &B::Sparse, perm: Option<&B::Index>, x: &B::Matrix, out: &mut B::Matrix) {
        let cost = KernelCost::edge_row_sum(a.rows(), a.nnz(), x.cols(), perm.is_some());
        self.timed("edge_row_sum", KernelClass::Attention, cost, || self.inner.edge_row_sum(a, perm, x, out))
    }

    fn sum_squares(&self, m: &B::Matrix, stats: &mut B::Stats, slot: usize) {
        self.timed("sum_squares", KernelClass::Reduction, KernelCost::reduction(m.len()), || {
            self.inner.sum_squares(m, stats, slot)
        })
    }

    fn weighted_sum(&self, inputs: &[&B::Matrix], weights: &[f32], order: ReduceOrder, out: &mut B::Matrix) {
        self.timed("weighted_sum", KernelClass::Reduction, KernelCost::weighted_sum(inputs.len(), out.len()), || {
            self.inner.weighted_sum(inputs, weights, order, out)
        })
    }

    fn optimizer_step(&self, param: &mut B::Matrix, grad: &B::Matrix, state: &mut [B::Matrix], step: &OptimizerStep) {
        self.timed("optimizer_step", KernelClass::Optimizer, KernelCost::optimizer_step(param.len(), step), || {
            self.inner.optimizer_step(param, grad, state, step)
        })
    }

    /// A copy of `len` elements.
    fn copy_region(&self, src: &B::Matrix, src_offset: usize, dst: &mut B::Matrix, dst_offset: usize, len: usize) {
        self.timed("copy_region", KernelClass::Elementwise, KernelCost::copy(len), || {
            self.inner.copy_region(src, src_offset, dst, dst_offset, len)
        })
    }

    /// The Gram matrix `g·gᵀ` (n × d times d × n); the n × n fix-up is fused into it.
    fn pairwise_sq_dists(&self, g: &B::Matrix, out: &mut B::Matrix) {
        self.timed("pairwise_sq_dists", KernelClass::Robust, KernelCost::matmul(g.rows(), g.cols(), g.rows()), || {
            self.inner.pairwise_sq_dists(g, out)
        })
    }

    /// Every element of g read and written once with one FLOP, plus the n flags (an upper
    /// bound: honest rows are only read).
    fn byzantine_attack(&self, g: &mut B::Matrix, byzantine: &B::Index, attack: &AttackStep) {
        self.timed(
            "byzantine_attack",
            KernelClass::Elementwise,
            KernelCost::elementwise(g.len(), 1, 1, 1.0) + index_bytes(byzantine.index_len()),
            || self.inner.byzantine_attack(g, byzantine, attack),
        )
    }

    /// [`KernelCost::pre_aggregate`].
    fn pre_aggregate(&self, g: &B::Matrix, pre: &PreAggregationStep, out: &mut B::Matrix) {
        self.timed("pre_aggregate", KernelClass::Robust, KernelCost::pre_aggregate(pre, g.rows(), g.cols()), || {
            self.inner.pre_aggregate(g, pre, out)
        })
    }

    /// [`KernelCost::robust_aggregate`], plus the centre read once.
    fn robust_aggregate(
        &self,
        g: &B::Matrix,
        rule: &RobustStep,
        centre: Option<&B::Matrix>,
        out: &mut B::Matrix,
        selection: &mut B::Matrix,
    ) {
        let centre_len = centre.map_or(0, |c| c.len());
        let cost =
            KernelCost::robust_aggregate(rule, g.rows(), g.cols()) + KernelCost::elementwise(centre_len, 1, 0, 0.0);
        self.timed("robust_aggregate", KernelClass::Robust, cost, || {
            self.inner.robust_aggregate(g, rule, centre, out, selection)
        })
    }

    /// [`compress::compress_work`]: the codec's passes, error feedback's traffic.
    fn compress_rows(
        &self,
        x: &B::Matrix,
        row_ids: &B::Index,
        step: &CompressStep,
        residual: Option<&mut B::Matrix>,
        out: &mut B::Matrix,
    ) {
        let work = compress::compress_work(&step.codec, x.rows(), x.cols(), residual.is_some());
        self.timed_work("compress_rows", work, || self.inner.compress_rows(x, row_ids, step, residual, out))
    }

    /// [`compress::powersgd_work`]: three products, Gram–Schmidt, error feedback's traffic.
    fn powersgd(
        &self,
        m: &B::Matrix,
        q: &mut B::Matrix,
        p: &mut B::Matrix,
        residual: Option<&mut B::Matrix>,
        out: &mut B::Matrix,
    ) {
        let work = compress::powersgd_work(m.rows(), m.cols(), q.cols(), residual.is_some());
        self.timed_work("powersgd", work, || self.inner.powersgd(m, q, p, residual, out))
    }
}

/// A mask over the stored values of `s`, one node id per row (`NodeRows`) or column (`NodeCols`).
fn sparse_mask_cost<S: Shape + Nonzeros>(s: &S, layout: SparseLayout) -> KernelCost {
    let ids = match layout {
        SparseLayout::NodeRows => s.rows(),
        SparseLayout::NodeCols => s.cols(),
    };
    KernelCost::dropout_sparse(s.rows(), s.nnz(), ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::data::DatasetSpec;
    use crate::model::{initial_parameters, PartitionedModel};
    use crate::sim::{prepare, Boundary, RunConfig};

    /// The roofline by hand: launch + max(flops / peak, bytes / bandwidth).
    fn by_hand(p: &DeviceProfile, flops: f64, bytes: f64) -> f64 {
        p.launch_latency + (flops / p.peak_flops).max(bytes / p.mem_bandwidth)
    }

    fn dense(b: &CpuBackend, rows: usize, cols: usize) -> crate::backend::cpu::CpuMatrix {
        let host = HostMatrix::from_vec(rows, cols, (0..rows * cols).map(|i| i as f32 * 0.5 - 1.0).collect());
        b.upload(&host, MemCategory::Activations, "m").unwrap()
    }

    #[test]
    fn spmm_and_matmul_charge_their_roofline() {
        let cpu = CpuBackend::new();
        let profile = DeviceProfile::h100();
        let m = Metered::new(&cpu, profile.clone(), 1);
        m.attribute(Some(0));

        // A: 4 × 3 with 5 nonzeros, x: 3 × 2.
        let a_host = HostMatrix::from_vec(4, 3, vec![1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 5.0, 0.0, 0.0, 0.0, 0.0]);
        let a = m.upload_sparse(&Csr::from_dense(&a_host).unwrap(), MemCategory::Graph, "a").unwrap();
        assert_eq!(a.nnz(), 5);
        let x = dense(&cpu, 3, 2);
        let mut out = m.alloc(4, 2, MemCategory::Activations, "out").unwrap();
        m.spmm(&a, &x, &mut out);
        // FLOPs 2·nnz·k = 20; bytes: row_ptr (4+1)·4 + (col, value) 5·8 + gathered x 5·2·4 + out 4·2·4.
        let spmm = by_hand(&profile, 20.0, 20.0 + 40.0 + 40.0 + 32.0);
        assert_eq!(spmm, profile.kernel_time(&KernelCost::spmm(4, 3, 5, 2)));
        assert_eq!(m.take_segments(), vec![vec![spmm]]);

        // (4 × 3) · (3 × 2): FLOPs 2·m·k·n = 48, bytes (12 + 6 + 8)·4 = 104.
        let matmul = by_hand(&profile, 48.0, 104.0);
        assert_eq!(matmul, profile.kernel_time(&KernelCost::matmul(4, 3, 2)));
        let w = dense(&cpu, 3, 2);
        let a_dense = dense(&cpu, 4, 3);
        m.matmul(&a_dense, &w, &mut out, false, false);
        assert_eq!(m.take_totals(), vec![matmul]);
        // The transposed forms cost the same: (3 × 4)ᵀ · (3 × 2) and (4 × 3) · (2 × 3)ᵀ.
        let a_t = dense(&cpu, 3, 4);
        m.matmul(&a_t, &w, &mut out, true, false);
        let w_t = dense(&cpu, 2, 3);
        m.matmul(&a_dense, &w_t, &mut out, false, true);
        assert_eq!(m.take_totals(), vec![2.0 * matmul]);
        assert_eq!(m.take_server(), 0.0);

        // Op by op: calls and seconds under each op's name, the matmul forms apart.
        let ops = m.op_totals();
        let get = |class, op| ops[&(class, op)];
        assert_eq!(get(KernelClass::Spmm, "spmm"), OpTotal { calls: 1, seconds: spmm });
        for form in ["matmul", "matmul_at", "matmul_bt"] {
            assert_eq!(get(KernelClass::Matmul, form), OpTotal { calls: 1, seconds: matmul }, "{form}");
        }
        assert_eq!(ops.len(), 4);
        // Nothing after the first round until it is marked; then only what follows.
        assert!(m.op_totals_after_first_round().is_empty());
        m.mark_first_round();
        m.spmm(&a, &x, &mut out);
        m.mark_first_round(); // only the first mark counts
        m.spmm(&a, &x, &mut out);
        let after = m.op_totals_after_first_round();
        assert_eq!(after.len(), 1);
        let spmm_after = after[&(KernelClass::Spmm, "spmm")];
        assert_eq!(spmm_after.calls, 2);
        assert!((spmm_after.seconds - 2.0 * spmm).abs() < 1e-12 * spmm, "{spmm_after:?}");
    }

    /// A profile with a cache sees each kernel with the backend's live bytes competing for it,
    /// unless a microbenchmark fixed them.
    #[test]
    fn kernels_are_charged_in_the_context_of_the_live_bytes() {
        let cpu = CpuBackend::new();
        let mut profile = DeviceProfile::cpu();
        let mut rates = crate::cost::ClassRates::roofline(1e-6, 1e9, 1e9);
        rates.cache = Some(crate::cost::CacheRates { bytes: 1e6, bandwidth: 1e11 });
        profile.kernels.insert(KernelClass::Elementwise, rates.clone());
        let m = Metered::new(&cpu, profile, 1).recording();
        let x = m.alloc(100, 10, MemCategory::Activations, "x").unwrap();
        let mut out = m.alloc(100, 10, MemCategory::Activations, "out").unwrap();
        m.relu(&x, &mut out);
        let live = cpu.memory().live_total() as f64;
        assert!(live >= 8000.0);
        m.set_context_bytes(Some(5e6));
        m.relu(&x, &mut out);
        let records = m.take_records();
        assert_eq!(records[0].0.context_bytes, live);
        assert_eq!(records[1].0.context_bytes, 5e6);
        assert_eq!(records[1].0.op, "relu");
        for (work, seconds) in &records {
            assert_eq!(*seconds, rates.time(work));
        }
        assert!(records[1].1 > records[0].1, "more competing bytes, fewer cache hits");
    }

    #[test]
    fn kernels_land_on_the_attributed_worker_or_the_server() {
        let cpu = CpuBackend::new();
        let profile = DeviceProfile::cpu();
        let m = Metered::new(&cpu, profile.clone(), 3);
        let x = dense(&cpu, 5, 4);
        let mut out = m.alloc(5, 4, MemCategory::Activations, "out").unwrap();
        let relu = profile.kernel_time(&KernelCost::relu(20));

        // Unattributed at first: the server.
        m.relu(&x, &mut out);
        m.attribute(Some(1));
        m.relu(&x, &mut out);
        m.relu(&x, &mut out);
        m.attribute(Some(2));
        m.relu(&x, &mut out);
        m.attribute(None);
        m.relu(&x, &mut out);
        // Allocation and readback are free.
        m.download(&out).unwrap();
        assert_eq!(m.take_segments(), vec![vec![0.0, 2.0 * relu, relu]]);
        assert_eq!(m.take_server(), 2.0 * relu);
        // Taking resets.
        assert_eq!(m.take_segments(), vec![vec![0.0; 3]]);
        assert_eq!(m.take_server(), 0.0);
    }

    #[test]
    fn segments_split_at_segment_end() {
        let cpu = CpuBackend::new();
        let profile = DeviceProfile::a100();
        let m = Metered::new(&cpu, profile.clone(), 2);
        let x = dense(&cpu, 3, 3);
        let mut out = m.alloc(3, 3, MemCategory::Activations, "out").unwrap();
        let t = profile.kernel_time(&KernelCost::copy(9));

        m.attribute(Some(0));
        m.copy(&x, &mut out);
        m.attribute(Some(1));
        m.copy(&x, &mut out);
        m.segment_end();
        m.copy(&x, &mut out);
        m.copy(&x, &mut out);
        m.segment_end();
        // The attribution survives a segment end and a take.
        assert_eq!(m.take_segments(), vec![vec![t, t], vec![0.0, 2.0 * t], vec![0.0, 0.0]]);
        m.copy(&x, &mut out);
        m.segment_end();
        m.copy(&x, &mut out);
        assert_eq!(m.take_totals(), vec![0.0, 2.0 * t]);
        assert_eq!(m.take_server(), 0.0);
    }

    /// Measured on the GPU, each kernel is charged its device time, filled in when the meter is
    /// read: a partitioned training pass charges every class it runs a positive time and every
    /// worker in every segment; the classes sum to what the workers and the server were
    /// charged; every command the ops recorded was timed; the results are the unmetered
    /// backend's, bit for bit.
    #[test]
    fn measuring_on_the_gpu_charges_each_kernel_its_device_time() {
        use crate::backend::gpu::gpu_for_tests;
        let Some(gpu) = gpu_for_tests() else { return };
        if let Err(why) = gpu.device_timing() {
            println!("skipping: {why}");
            return;
        }
        let ds = "csbm:nodes=600,valid=100,test=200".parse::<DatasetSpec>().unwrap().load().unwrap();
        let mut cfg = RunConfig::default();
        cfg.parallel.partitions = 3;
        cfg.parallel.boundary = Boundary::Exchange;
        let problem = prepare(&ds, &cfg).unwrap();
        let bare = train_pass(&gpu, &problem, Boundary::Exchange);

        let gpu = gpu_for_tests().unwrap();
        let before = gpu.counters();
        let metered = Metered::new(&gpu, DeviceProfile::h100(), 3).measuring();
        let wrapped = train_pass(&metered, &problem, Boundary::Exchange);
        let after = gpu.counters();
        let bits = |m: &HostMatrix| m.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (g, h) in bare.0.iter().zip(&wrapped.0) {
            assert_eq!(bits(g), bits(h), "gradients differ");
        }
        assert_eq!(bare.1, wrapped.1, "statistics differ");

        let by_class = metered.class_totals();
        for class in [KernelClass::Spmm, KernelClass::Matmul, KernelClass::Elementwise] {
            assert!(by_class.get(&class).is_some_and(|&t| t > 0.0), "{class}: {by_class:?}");
        }
        assert!(by_class.values().all(|&t| t > 0.0 && t < 10.0), "{by_class:?}");
        let segments = metered.take_segments();
        assert_eq!(segments.len(), 2 * problem.shape.layers + 1);
        assert!(segments.iter().flatten().all(|&t| t > 0.0), "{segments:?}");
        let charged = segments.iter().flatten().sum::<f64>() + metered.take_server();
        let classes: f64 = by_class.values().sum();
        assert!((classes - charged).abs() <= 1e-12 * charged, "{classes} vs {charged}");
        metered.settled().unwrap();

        let profile = gpu.take_kernel_profile().expect("the timed ops turned profiling on");
        let timed: u64 = profile.kernels.iter().map(|k| k.dispatches).sum();
        assert_eq!(timed, (after.dispatches - before.dispatches) + (after.transfers - before.transfers));
        let device_s = profile.kernels.iter().map(|k| k.device_ns).sum::<f64>() * 1e-9;
        assert!((device_s - charged).abs() <= 1e-9 * charged, "{device_s} vs {charged}");
    }

    /// One training pass of every worker, then every worker's downloaded weight gradients and
    /// the loss statistics.
    fn train_pass<B: Backend>(b: &B, problem: &crate::sim::Problem, mode: Boundary) -> (Vec<HostMatrix>, Vec<f32>) {
        let p = problem.locals.len();
        let mut model = PartitionedModel::new(b, problem, mode, 0.5).unwrap();
        let weights: Vec<B::Matrix> = initial_parameters(&problem.shape.plan(), 7)
            .iter()
            .map(|w| b.upload(w, MemCategory::Weights, "w").unwrap())
            .collect();
        let all: Vec<&[B::Matrix]> = vec![&weights; p];
        let scales: Vec<f32> = model.workers.iter().map(|w| 1.0 / w.num_train().max(1) as f32).collect();
        let mut stats = b.alloc_stats(p, "stats").unwrap();
        model.train(b, &all, 7, 0, 0.5, &scales, &mut stats, |i| i);
        b.flush().unwrap();
        let grads =
            model.workers.iter().flat_map(|w| w.weight_grads().iter().map(|g| b.download(g).unwrap())).collect();
        (grads, b.read_stats(&stats).unwrap())
    }

    /// Wrapping changes no result; every worker is charged in every segment; a pass with
    /// exchange has one segment per exchange plus one (2·layers + 1), one without has 1.
    #[test]
    fn metering_a_partitioned_training_pass_changes_no_result() {
        // 600 nodes need smaller validation and test splits than the defaults (500 and 1000).
        let ds = "csbm:nodes=600,valid=100,test=200".parse::<DatasetSpec>().unwrap().load().unwrap();
        for mode in [Boundary::Exchange, Boundary::Stale, Boundary::Sample, Boundary::Replicate, Boundary::Drop] {
            let mut cfg = RunConfig::default();
            cfg.parallel.partitions = 3;
            cfg.parallel.boundary = mode;
            let problem = prepare(&ds, &cfg).unwrap();
            let layers = problem.shape.layers;
            assert_eq!(layers, 2);

            let bare = train_pass(&CpuBackend::new(), &problem, mode);
            let cpu = CpuBackend::new();
            let metered = Metered::new(&cpu, DeviceProfile::h100(), 3);
            let wrapped = train_pass(&metered, &problem, mode);
            assert_eq!(bare.0.len(), 3 * layers);
            for (g, h) in bare.0.iter().zip(&wrapped.0) {
                let bits = |m: &HostMatrix| m.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(g), bits(h), "{mode:?}: gradients differ");
            }
            assert_eq!(bare.1, wrapped.1, "{mode:?}: statistics differ");

            let segments = metered.take_segments();
            // Exchange modes end a segment before each layer's receive (forward) and before the
            // owners add the received gradients (backward): 2 per layer, so 2·layers + 1.
            let expected = match mode {
                Boundary::Exchange | Boundary::Stale | Boundary::Sample => 2 * layers + 1,
                Boundary::Replicate | Boundary::Drop => 1,
            };
            assert_eq!(segments.len(), expected, "{mode:?}");
            for (s, segment) in segments.iter().enumerate() {
                assert_eq!(segment.len(), 3);
                assert!(segment.iter().all(|&t| t > 0.0), "{mode:?}: segment {s} has an idle worker: {segment:?}");
            }
            // Only the zeroing of the shared gradient buffer (one per layer) is unattributed.
            let server = metered.take_server();
            assert_eq!(server > 0.0, expected > 1, "{mode:?}: server {server}");
        }
    }
}
