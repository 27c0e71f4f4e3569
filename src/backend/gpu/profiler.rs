//! Per-kernel device time from timestamp queries (`gcnsim bench --profile`, and each op's time
//! for `compute_time = measured`).
//!
//! With profiling on, the recorder writes a timestamp before and after every dispatch inside its
//! compute pass (`TIMESTAMP_QUERY_INSIDE_PASSES`) and around every buffer copy and clear an op
//! records (`TIMESTAMP_QUERY_INSIDE_ENCODERS`); each submission resolves them, waits for the
//! submission and adds `end − start` to the kernel's total. The wait serializes submissions
//! with the host, so a profiled run is slower than an unprofiled one: the per-kernel split is
//! what it measures, not the epoch time.
//!
//! Op timing ([`Profiler::begin_op`]): every timed command recorded between `begin_op` and
//! `end_op` is summed into that op's seconds, which [`Profiler::take_ops`] returns in the order
//! the ops began. When the query set is full, the recorder submits what it has before the next
//! timed command ([`Profiler::is_full`]), so every command of a profiled run is timed.

use std::collections::BTreeMap;

use crate::backend::{BackendError, KernelTime, MemCategory};

use super::alloc::{Allocator, GpuBuffer, READBACK};

/// Queries per submission (wgpu's maximum): two per timed command.
const QUERIES: u32 = wgpu::QUERY_SET_MAX_QUERIES;

/// The features profiling needs from the adapter (wgpu documents that an adapter with
/// timestamps inside passes has them inside encoders too).
pub const FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS);

/// The profile name of buffer copies an op records (`copy`, `copy_rows`, …).
pub const COPY: &str = "copy_buffer";
/// The profile name of buffer clears an op records (`zero`, …).
pub const CLEAR: &str = "clear_buffer";

pub struct Profiler {
    queries: wgpu::QuerySet,
    resolved: GpuBuffer,
    readback: GpuBuffer,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
    /// Kernel of each timed command of the current submission, in order, and the op (index
    /// into `op_seconds`) it belongs to.
    pending: Vec<(&'static str, Option<usize>)>,
    totals: BTreeMap<&'static str, KernelTime>,
    /// The op being recorded (see the module docs).
    op: Option<usize>,
    /// Device seconds of each op begun since the last [`Self::take_ops`].
    op_seconds: Vec<f64>,
}

impl Profiler {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, alloc: &Allocator) -> Result<Self, BackendError> {
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: QUERIES,
        });
        let bytes = 8 * QUERIES as u64;
        let resolve_usage = wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC;
        Ok(Self {
            queries,
            resolved: alloc.create_pinned("timestamps", MemCategory::Staging, bytes, resolve_usage)?,
            readback: alloc.create_pinned("timestamps readback", MemCategory::Staging, bytes, READBACK)?,
            period_ns: queue.get_timestamp_period() as f64,
            pending: Vec::new(),
            totals: BTreeMap::new(),
            op: None,
            op_seconds: Vec::new(),
        })
    }

    /// Whether the query set has no room for another command: the recorder submits first.
    pub fn is_full(&self) -> bool {
        2 * self.pending.len() as u32 + 2 > QUERIES
    }

    /// The query indices around the next timed command, of `kernel`. The recorder makes room
    /// first ([`Self::is_full`]).
    pub fn next(&mut self, kernel: &'static str) -> (u32, u32) {
        assert!(!self.is_full(), "{kernel}: the timestamp query set is full (the recorder submits first)");
        let i = self.pending.len() as u32;
        self.pending.push((kernel, self.op));
        (2 * i, 2 * i + 1)
    }

    pub fn queries(&self) -> &wgpu::QuerySet {
        &self.queries
    }

    /// Records the resolve of this submission's timestamps (before the encoder is finished).
    pub fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        let n = 2 * self.pending.len() as u32;
        if n == 0 {
            return;
        }
        encoder.resolve_query_set(&self.queries, 0..n, &self.resolved.raw(), 0);
        encoder.copy_buffer_to_buffer(&self.resolved.raw(), 0, &self.readback.raw(), 0, 8 * n as u64);
    }

    /// After the submission: waits for it, reads the timestamps and adds them to the totals
    /// (and to their ops).
    pub fn collect(&mut self, device: &wgpu::Device) -> Result<(), BackendError> {
        // Taken first: after a failed read the next submission starts afresh (the error ends
        // the run; its ops keep what they had).
        let pending = std::mem::take(&mut self.pending);
        let n = 2 * pending.len() as u64;
        if n == 0 {
            return Ok(());
        }
        let ticks: Vec<u64> = super::alloc::read_mapped(device, &self.readback.raw(), 8 * n, |view| {
            view.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
        })?;
        for ((kernel, op), pair) in pending.into_iter().zip(ticks.chunks_exact(2)) {
            // A driver may return equal or (across a wrap) smaller values: count 0 then.
            let ns = pair[1].saturating_sub(pair[0]) as f64 * self.period_ns;
            let t = self.totals.entry(kernel).or_insert_with(|| KernelTime { kernel, ..KernelTime::default() });
            t.dispatches += 1;
            t.device_ns += ns;
            if let Some(i) = op {
                self.op_seconds[i] += ns * 1e-9;
            }
        }
        Ok(())
    }

    /// Totals since the last call, slowest first.
    pub fn take(&mut self) -> Vec<KernelTime> {
        let mut times: Vec<KernelTime> = std::mem::take(&mut self.totals).into_values().collect();
        times.sort_by(|a, b| b.device_ns.total_cmp(&a.device_ns).then(a.kernel.cmp(b.kernel)));
        times
    }

    /// Commands recorded from here to [`Self::end_op`] are one op's.
    pub fn begin_op(&mut self) {
        assert!(self.op.is_none(), "begin_op: an op is already open");
        self.op_seconds.push(0.0);
        self.op = Some(self.op_seconds.len() - 1);
    }

    pub fn end_op(&mut self) {
        assert!(self.op.take().is_some(), "end_op: no op is open");
    }

    /// Device seconds of each op begun since the last call, in order. Every command must have
    /// been collected (the caller submits first) and no op may be open.
    pub fn take_ops(&mut self) -> Vec<f64> {
        assert!(self.pending.is_empty() && self.op.is_none(), "take_ops: ops not yet resolved");
        std::mem::take(&mut self.op_seconds)
    }
}
