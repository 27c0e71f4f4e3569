//! Per-kernel device time from timestamp queries (`gcnsim bench --profile`).
//!
//! With profiling on, the recorder writes a timestamp before and after every dispatch inside its
//! compute pass (`TIMESTAMP_QUERY_INSIDE_PASSES`); each flush resolves them, waits for the
//! submission and adds `end − start` to the kernel's total. The wait serializes submissions
//! with the host, so a profiled run is slower than an unprofiled one: the per-kernel split is
//! what it measures, not the epoch time.

use std::collections::BTreeMap;

use crate::backend::{BackendError, KernelTime, MemCategory};

use super::alloc::{Allocator, GpuBuffer, READBACK};

/// Queries per submission (wgpu's maximum): two per dispatch.
const QUERIES: u32 = wgpu::QUERY_SET_MAX_QUERIES;

/// The features profiling needs from the adapter.
pub const FEATURES: wgpu::Features =
    wgpu::Features::TIMESTAMP_QUERY.union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);

pub struct Profiler {
    queries: wgpu::QuerySet,
    resolved: GpuBuffer,
    readback: GpuBuffer,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
    /// Kernel of each timed dispatch of the current submission, in order.
    pending: Vec<&'static str>,
    totals: BTreeMap<&'static str, KernelTime>,
    /// Dispatches past the query set's capacity in a submission: run, not timed.
    untimed: u64,
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
            untimed: 0,
        })
    }

    /// The query indices around the next dispatch of `kernel`, or `None` when the set is full.
    pub fn next(&mut self, kernel: &'static str) -> Option<(u32, u32)> {
        let i = self.pending.len() as u32;
        if 2 * i + 2 > QUERIES {
            self.untimed += 1;
            return None;
        }
        self.pending.push(kernel);
        Some((2 * i, 2 * i + 1))
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

    /// After the submission: waits for it, reads the timestamps and adds them to the totals.
    pub fn collect(&mut self, device: &wgpu::Device) -> Result<(), BackendError> {
        let n = 2 * self.pending.len() as u64;
        if n == 0 {
            return Ok(());
        }
        let ticks: Vec<u64> = super::alloc::read_mapped(device, &self.readback.raw(), 8 * n, |view| {
            view.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
        })?;
        for (kernel, pair) in self.pending.drain(..).zip(ticks.chunks_exact(2)) {
            let t = self.totals.entry(kernel).or_insert_with(|| KernelTime { kernel, ..KernelTime::default() });
            t.dispatches += 1;
            // A driver may return equal or (across a wrap) smaller values: count 0 then.
            t.device_ns += pair[1].saturating_sub(pair[0]) as f64 * self.period_ns;
        }
        Ok(())
    }

    /// Totals since the last call, slowest first, and the dispatches that went untimed.
    pub fn take(&mut self) -> (Vec<KernelTime>, u64) {
        let mut times: Vec<KernelTime> = std::mem::take(&mut self.totals).into_values().collect();
        times.sort_by(|a, b| b.device_ns.total_cmp(&a.device_ns).then(a.kernel.cmp(b.kernel)));
        (times, std::mem::take(&mut self.untimed))
    }
}
