//! The command recorder: one open `CommandEncoder` (and compute pass) that every op appends to,
//! the per-submission parameter arena, the bind-group cache and the reusable scratch buffers.
//!
//! Parameters: every dispatch gets its own slot in a chunked uniform arena, bound at group 1
//! with a dynamic offset. Slots are filled on the host while recording and uploaded with one
//! `queue.write_buffer` per used chunk right before the submission, so the recorded dispatches
//! never see each other's parameters. Chunks, their bind groups and the group-0 bind groups
//! (keyed by kernel and buffer ids) are reused across submissions.
//!
//! Failures while recording (a scratch buffer or arena chunk the device cannot allocate) do not
//! panic: the recorder keeps the first error, turns every later dispatch and copy into a no-op,
//! and returns the error from the next [`Recorder::flush`] or [`Recorder::read`] — so the
//! backend trait's recording ops stay infallible and the driver sees a clean `BackendError`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::alloc::{read_mapped, Allocator, GpuBuffer, HostCopy, Page, READBACK};
use super::pager::{Pager, RING_BYTES};
use super::profiler;
use super::residency::ResidentSet;
use crate::backend::{BackendError, MemCategory};

/// Binding size of the parameter uniform; every kernel's `Params` fits (checked at compile time).
pub const PARAM_BYTES: u64 = 64;
/// Bytes per arena chunk.
const CHUNK_BYTES: u64 = 64 * 1024;
/// Workgroups per grid dimension we use even if a device allows more.
const MAX_GRID_DIM: u32 = 65_535;

/// A compute pipeline with its explicit group-0 layout.
pub struct Kernel {
    pub name: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Binding numbers of group 0, in the order `dispatch` receives the buffers.
    pub bindings: Vec<u32>,
    /// Whether the kernel may write each of them (a written buffer's host copy is stale).
    pub writes: Vec<bool>,
}

/// One group-0 resource of a dispatch.
#[derive(Clone, Copy)]
pub enum Bind<'a> {
    Buf(&'a GpuBuffer),
    /// `bytes` of the buffer from byte `offset` (a multiple of the device's storage offset
    /// alignment): how kernels split a matrix larger than one binding.
    Range {
        buf: &'a GpuBuffer,
        offset: u64,
        bytes: u64,
    },
    /// The arena chunk holding this dispatch's parameters (for extra data like weights).
    Arena,
}

/// Where a dispatch's parameters (and extra data) live.
#[derive(Clone, Copy, Debug)]
pub struct ParamSlot {
    chunk: usize,
    offset: u32,
    /// Byte offset of the extra data within the chunk.
    pub extra_offset: u32,
}

struct Chunk {
    buf: GpuBuffer,
    group: wgpu::BindGroup,
    host: Vec<u8>,
    used: u64,
}

/// Most group-0 bindings a kernel has.
pub const MAX_BINDINGS: usize = 6;

/// Kernel and buffer ids (0 = unused; ids start at 1). A fixed array: no allocation per lookup.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct BindKey {
    kernel: &'static str,
    ids: [u64; MAX_BINDINGS],
    /// (offset, bytes) of range bindings; (0, 0) for whole buffers.
    ranges: [(u64, u64); MAX_BINDINGS],
}

/// What the recorder did since it was created (diagnostics and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub dispatches: u64,
    /// Buffer copies and clears recorded by ops (the recorder's own readbacks not counted).
    pub transfers: u64,
    pub submissions: u64,
    /// Group-0 bind groups created; stays flat once a training loop's buffers are all seen.
    pub bind_groups_created: u64,
}

pub struct Recorder {
    device: wgpu::Device,
    queue: wgpu::Queue,
    alloc: Allocator,
    params_layout: wgpu::BindGroupLayout,
    // Declared before `encoder`: a pass must end before its encoder goes.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    chunks: Vec<Chunk>,
    current_chunk: usize,
    stride: u64,
    bind_cache: HashMap<BindKey, wgpu::BindGroup>,
    scratch: HashMap<&'static str, Arc<GpuBuffer>>,
    readback: Option<GpuBuffer>,
    grid_dim: u32,
    /// The first recording failure; see the module docs.
    poison: Option<BackendError>,
    /// Handed out in place of a scratch buffer that could not be allocated (never bound: a
    /// poisoned recorder records nothing).
    placeholder: Arc<GpuBuffer>,
    pub counters: Counters,
    /// Timestamps around every dispatch (`GpuBackend::profiled`).
    pub profiler: Option<super::profiler::Profiler>,
    /// Which workers' buffers leave the device (see [`super::residency`]).
    pub pager: Pager,
    /// The mapped buffer evictions read back through.
    ring: Option<GpuBuffer>,
}

/// A slot that stands for "no parameters": returned once the recorder is poisoned.
const NO_SLOT: ParamSlot = ParamSlot { chunk: usize::MAX, offset: 0, extra_offset: 0 };

impl Recorder {
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, alloc: Allocator) -> Result<Self, BackendError> {
        let placeholder =
            Arc::new(alloc.create_pinned("placeholder", MemCategory::Staging, 4, super::alloc::STORAGE)?);
        let params_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("params"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(PARAM_BYTES),
                },
                count: None,
            }],
        });
        let limits = alloc.limits();
        let align = limits.min_uniform_buffer_offset_alignment.max(limits.min_storage_buffer_offset_alignment) as u64;
        let stride = PARAM_BYTES.next_multiple_of(align);
        let grid_dim = limits.max_compute_workgroups_per_dimension.min(MAX_GRID_DIM);
        let pager = Pager::new(alloc.residency());
        Ok(Self {
            device,
            queue,
            alloc,
            params_layout,
            pass: None,
            encoder: None,
            chunks: Vec::new(),
            current_chunk: 0,
            stride,
            bind_cache: HashMap::new(),
            scratch: HashMap::new(),
            readback: None,
            grid_dim,
            poison: None,
            placeholder,
            profiler: None,
            counters: Counters::default(),
            pager,
            ring: None,
        })
    }

    /// Keeps the first failure; later ops record nothing (see the module docs).
    pub fn fail(&mut self, e: BackendError) {
        if self.poison.is_none() {
            self.poison = Some(e);
        }
    }

    /// Whether a recording failure is pending.
    pub fn failed(&self) -> bool {
        self.poison.is_some()
    }

    fn poisoned(&self) -> Result<(), BackendError> {
        self.poison.clone().map_or(Ok(()), Err)
    }

    /// Caps workgroups per grid dimension (tests use a tiny cap to exercise 2-D grids).
    pub fn set_max_grid_dim(&mut self, dim: u32) {
        self.grid_dim = dim.clamp(1, self.alloc.limits().max_compute_workgroups_per_dimension);
    }

    pub fn params_layout(&self) -> &wgpu::BindGroupLayout {
        &self.params_layout
    }

    pub fn alloc(&self) -> &Allocator {
        &self.alloc
    }

    /// Reserves a parameter slot for one dispatch (uploaded at flush).
    pub fn params<P: bytemuck::Pod>(&mut self, params: &P) -> ParamSlot {
        self.params_extra(&[], |_| *params)
    }

    /// Like [`Self::params`], followed by `extra` bytes in the same arena chunk; `make` gets the
    /// extra data's byte offset within the chunk (bind the chunk with [`Bind::Arena`]).
    pub fn params_extra<P: bytemuck::Pod>(&mut self, extra: &[u8], make: impl FnOnce(u32) -> P) -> ParamSlot {
        let slot = self.reserve(extra);
        if slot.chunk == NO_SLOT.chunk {
            return NO_SLOT;
        }
        let params = make(slot.extra_offset);
        let bytes = bytemuck::bytes_of(&params);
        assert!(bytes.len() as u64 <= PARAM_BYTES, "kernel params exceed {PARAM_BYTES} bytes");
        let at = slot.offset as usize;
        self.chunks[slot.chunk].host[at..at + bytes.len()].copy_from_slice(bytes);
        slot
    }

    fn reserve(&mut self, extra: &[u8]) -> ParamSlot {
        if self.failed() {
            return NO_SLOT;
        }
        let extra_at = self.stride;
        let need = (extra_at + extra.len() as u64).next_multiple_of(self.stride);
        let fits = |c: &Chunk| c.used + need <= c.host.len() as u64;
        if self.chunks.get(self.current_chunk).is_some_and(|c| !fits(c)) {
            self.current_chunk += 1;
        }
        // Skip reused chunks too small for an unusually large request.
        while self.chunks.get(self.current_chunk).is_some_and(|c| !fits(c)) {
            self.current_chunk += 1;
        }
        if self.current_chunk == self.chunks.len() {
            match self.new_chunk(need.max(CHUNK_BYTES)) {
                Ok(chunk) => self.chunks.push(chunk),
                Err(e) => {
                    self.fail(e);
                    return NO_SLOT;
                }
            }
        }
        let c = &mut self.chunks[self.current_chunk];
        let offset = c.used;
        let e = (offset + extra_at) as usize;
        c.host[e..e + extra.len()].copy_from_slice(extra);
        c.used += need;
        ParamSlot { chunk: self.current_chunk, offset: offset as u32, extra_offset: e as u32 }
    }

    fn new_chunk(&mut self, bytes: u64) -> Result<Chunk, BackendError> {
        let usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let buf = self.create_with_room("param arena", bytes, usage)?;
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("params"),
            layout: &self.params_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &buf.raw(),
                    offset: 0,
                    size: wgpu::BufferSize::new(PARAM_BYTES),
                }),
            }],
        });
        Ok(Chunk { buf, group, host: vec![0; bytes as usize], used: 0 })
    }

    fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("gcnsim step") })
        })
    }

    fn end_pass(&mut self) {
        self.pass = None;
    }

    /// Splits `groups` workgroups over x and y; shaders recover the linear index as
    /// `wid.x + wid.y * num_workgroups.x` and skip indices past their own bound.
    pub fn grid(&self, groups: u32) -> (u32, u32) {
        if groups <= self.grid_dim {
            (groups.max(1), 1)
        } else {
            (self.grid_dim, groups.div_ceil(self.grid_dim))
        }
    }

    /// Records one dispatch of `groups` workgroups.
    pub fn dispatch(&mut self, kernel: &Kernel, binds: &[Bind<'_>], slot: ParamSlot, groups: u32) {
        assert_eq!(binds.len(), kernel.bindings.len(), "{}: wrong number of bindings", kernel.name);
        assert!(binds.len() <= MAX_BINDINGS, "{}: more than {MAX_BINDINGS} bindings", kernel.name);
        if groups == 0 || self.failed() || !self.make_timing_room() {
            return;
        }
        let used: Vec<&GpuBuffer> = binds
            .iter()
            .filter_map(|b| match b {
                Bind::Buf(buf) | Bind::Range { buf, .. } => Some(*buf),
                Bind::Arena => None,
            })
            .collect();
        self.make_resident(&used);
        if self.failed() {
            return;
        }
        for (b, &writes) in binds.iter().zip(&kernel.writes) {
            if let (Bind::Buf(buf) | Bind::Range { buf, .. }, true) = (b, writes) {
                written(buf);
            }
        }
        let arena = &self.chunks[slot.chunk].buf;
        let mut key = BindKey { kernel: kernel.name, ids: [0; MAX_BINDINGS], ranges: [(0, 0); MAX_BINDINGS] };
        let limit = self.alloc.binding_limit();
        for ((id, range), b) in key.ids.iter_mut().zip(key.ranges.iter_mut()).zip(binds) {
            let buf = resolve(b, arena);
            *id = buf.id();
            let bytes = match *b {
                Bind::Range { offset, bytes, .. } => {
                    assert!(
                        offset.is_multiple_of(self.alloc.offset_alignment()) && offset + bytes <= buf.size(),
                        "{}: range {offset}+{bytes} of `{}` is misaligned or out of bounds",
                        kernel.name,
                        buf.label()
                    );
                    *range = (offset, bytes);
                    bytes
                }
                _ => buf.size(),
            };
            // A matrix allocated for range binding, bound whole by a kernel that cannot split it.
            if bytes > limit {
                self.fail(BackendError::BufferTooLarge {
                    label: format!("{} (bound whole by {})", buf.label(), kernel.name),
                    size: bytes,
                    limit,
                    limit_name: "max_storage_buffer_binding_size",
                });
                return;
            }
        }
        if !self.bind_cache.contains_key(&key) {
            let raws: Vec<wgpu::Buffer> = binds.iter().map(|b| resolve(b, arena).raw()).collect();
            let entries: Vec<wgpu::BindGroupEntry<'_>> = binds
                .iter()
                .zip(&kernel.bindings)
                .zip(&raws)
                .map(|((b, &binding), raw)| wgpu::BindGroupEntry {
                    binding,
                    resource: match *b {
                        Bind::Range { offset, bytes, .. } => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: raw,
                            offset,
                            size: wgpu::BufferSize::new(bytes),
                        }),
                        _ => raw.as_entire_binding(),
                    },
                })
                .collect();
            let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(kernel.name),
                layout: &kernel.layout,
                entries: &entries,
            });
            self.bind_cache.insert(key, group);
            self.counters.bind_groups_created += 1;
        }
        let (x, y) = self.grid(groups);
        if self.pass.is_none() {
            let pass = self
                .encoder()
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("gcnsim ops"), timestamp_writes: None })
                .forget_lifetime();
            self.pass = Some(pass);
        }
        let timed = self.profiler.as_mut().map(|p| p.next(kernel.name));
        let pass = self.pass.as_mut().expect("pass just opened");
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &self.bind_cache[&key], &[]);
        pass.set_bind_group(1, &self.chunks[slot.chunk].group, &[slot.offset]);
        let queries = self.profiler.as_ref().map(|p| p.queries());
        if let (Some((before, _)), Some(q)) = (timed, queries) {
            pass.write_timestamp(q, before);
        }
        pass.dispatch_workgroups(x, y, 1);
        if let (Some((_, after)), Some(q)) = (timed, queries) {
            pass.write_timestamp(q, after);
        }
        self.counters.dispatches += 1;
    }

    /// Records a buffer-to-buffer copy of `bytes` (no-op for 0), timed when profiling.
    pub fn copy(&mut self, src: &GpuBuffer, src_offset: u64, dst: &GpuBuffer, dst_offset: u64, bytes: u64) {
        if bytes == 0 || self.failed() || !self.make_timing_room() {
            return;
        }
        assert!(src_offset + bytes <= src.size() && dst_offset + bytes <= dst.size(), "copy: range out of bounds");
        self.make_resident(&[src, dst]);
        if self.failed() {
            return;
        }
        written(dst);
        self.transfer(profiler::COPY, |e| {
            e.copy_buffer_to_buffer(&src.raw(), src_offset, &dst.raw(), dst_offset, bytes)
        });
    }

    /// Records zero-filling `bytes` of `dst` from `offset` (both multiples of 4; no-op for 0),
    /// timed when profiling.
    pub fn clear(&mut self, dst: &GpuBuffer, offset: u64, bytes: u64) {
        if bytes == 0 || self.failed() || !self.make_timing_room() {
            return;
        }
        assert!(offset + bytes <= dst.size(), "clear: range out of bounds");
        self.make_resident(&[dst]);
        if self.failed() {
            return;
        }
        written(dst);
        self.transfer(profiler::CLEAR, |e| e.clear_buffer(&dst.raw(), offset, Some(bytes)));
    }

    /// Records a transfer command outside the compute pass, between two timestamps when
    /// profiling (the recorder's own readbacks and evictions are not ops and stay untimed).
    fn transfer(&mut self, name: &'static str, record: impl FnOnce(&mut wgpu::CommandEncoder)) {
        self.end_pass();
        self.encoder();
        let timed = self.profiler.as_mut().map(|p| p.next(name));
        let encoder = self.encoder.as_mut().expect("encoder just opened");
        let queries = self.profiler.as_ref().map(|p| p.queries());
        if let (Some((before, _)), Some(q)) = (timed, queries) {
            encoder.write_timestamp(q, before);
        }
        record(encoder);
        if let (Some((_, after)), Some(q)) = (timed, queries) {
            encoder.write_timestamp(q, after);
        }
        self.counters.transfers += 1;
    }

    /// When the timestamp query set is full, submits what is recorded so that the next command
    /// is timed too (mid-op, like an eviction: the parameter arena keeps its slots). False when
    /// that submission failed; the recorder is poisoned then.
    fn make_timing_room(&mut self) -> bool {
        if self.profiler.as_ref().is_some_and(|p| p.is_full()) {
            if let Err(e) = self.submit(false) {
                self.fail(e);
                return false;
            }
        }
        true
    }

    /// A scratch buffer named `name` of at least `bytes`, grown (replaced) when too small. Only
    /// commands recorded later may use it; earlier commands keep the old one alive. If the
    /// device cannot hold it, the recorder is poisoned (see the module docs) and a placeholder
    /// comes back.
    pub fn scratch(&mut self, name: &'static str, bytes: u64) -> Arc<GpuBuffer> {
        let grow = self.scratch.get(name).is_none_or(|b| b.size() < bytes);
        if grow && !self.failed() {
            // Grow geometrically so slowly increasing sizes don't reallocate every call.
            let current = self.scratch.get(name).map_or(0, |b| b.size());
            let want = bytes.max(current + current / 2);
            let created = self
                .create_with_room(name, want, super::alloc::STORAGE)
                .or_else(|_| self.create_with_room(name, bytes, super::alloc::STORAGE));
            match created {
                Ok(buf) => {
                    self.scratch.insert(name, Arc::new(buf));
                }
                Err(e) => self.fail(e),
            }
        }
        match self.scratch.get(name) {
            Some(buf) if !self.failed() => Arc::clone(buf),
            _ => self.placeholder(),
        }
    }

    pub fn placeholder(&self) -> Arc<GpuBuffer> {
        Arc::clone(&self.placeholder)
    }

    /// Finishes the encoder, uploads the parameter arena and submits. No-op when nothing was
    /// recorded.
    pub fn flush(&mut self) -> Result<(), BackendError> {
        self.submit(true)
    }

    /// Submits what is recorded. With `reset_params` false the parameter arena keeps its
    /// slots: a mid-recording submission (a streaming eviction inside an op) must not hand out
    /// again the slot the op being recorded has already reserved. Uploading the same bytes
    /// again at the next submission is harmless: the submitted commands have read them.
    fn submit(&mut self, reset_params: bool) -> Result<(), BackendError> {
        self.end_pass();
        if self.failed() {
            // What was recorded may miss ops: never submit it.
            self.encoder = None;
            return self.poisoned();
        }
        let Some(mut encoder) = self.encoder.take() else {
            return Ok(());
        };
        if let Some(p) = &self.profiler {
            p.resolve(&mut encoder);
        }
        for c in self.chunks.iter_mut().filter(|c| c.used > 0) {
            self.queue.write_buffer(&c.buf.raw(), 0, &c.host[..c.used as usize]);
            if reset_params {
                c.used = 0;
            }
        }
        if reset_params {
            self.current_chunk = 0;
        }
        self.queue.submit([encoder.finish()]);
        self.counters.submissions += 1;
        if let Some(p) = &mut self.profiler {
            p.collect(&self.device)?;
        }
        self.prune();
        // Non-blocking: lets wgpu retire finished submissions and free dropped buffers.
        self.device.poll(wgpu::PollType::Poll).map_err(|e| BackendError::Device(e.to_string()))?;
        Ok(())
    }

    /// Forgets cached bind groups that reference dropped buffers (so their memory can go).
    fn prune(&mut self) {
        let dead: HashSet<u64> = self.alloc.take_dead().into_iter().collect();
        if !dead.is_empty() {
            self.bind_cache.retain(|k, _| !k.ids.iter().any(|id| dead.contains(id)));
        }
    }

    /// Records a copy of the first `bytes` of `src` into the readback buffer, submits everything
    /// and waits; returns them as f32 (u32 data can be bit-cast back).
    pub fn read(&mut self, src: &GpuBuffer, bytes: u64) -> Result<Vec<f32>, BackendError> {
        self.poisoned()?;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        if self.readback.as_ref().is_none_or(|b| b.size() < bytes) {
            self.readback = None;
            self.readback = Some(self.alloc.create_pinned("readback", MemCategory::Staging, bytes, READBACK)?);
        }
        let rb = self.readback.take().expect("readback buffer exists");
        self.read_copy(src, &rb, bytes);
        let result = self.flush().and_then(|()| self.map_read(&rb, bytes));
        self.readback = Some(rb);
        result
    }

    /// [`Self::read`] through a buffer of its own, freed before this returns: one-off
    /// downloads (checkpoints, host copies) leave the cached readback buffer, and so the live
    /// staging bytes of the memory curves, as they were.
    pub fn read_once(&mut self, src: &GpuBuffer, bytes: u64) -> Result<Vec<f32>, BackendError> {
        self.poisoned()?;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let rb = self.alloc.create_pinned("download", MemCategory::Staging, bytes, READBACK)?;
        self.read_copy(src, &rb, bytes);
        self.flush().and_then(|()| self.map_read(&rb, bytes))
    }

    /// Copies `src` into a readback buffer without marking `src` written.
    fn read_copy(&mut self, src: &GpuBuffer, rb: &GpuBuffer, bytes: u64) {
        self.make_resident(&[src]);
        if self.failed() {
            return;
        }
        self.end_pass();
        self.encoder().copy_buffer_to_buffer(&src.raw(), 0, &rb.raw(), 0, bytes);
    }

    /// Makes every buffer in `bufs` resident, evicting what the residency policy says must
    /// leave (see [`super::residency`]); a failure poisons the recorder.
    pub fn make_resident(&mut self, bufs: &[&GpuBuffer]) {
        if self.pager.set() == ResidentSet::All {
            return;
        }
        let mut using: Vec<u32> = bufs.iter().filter_map(|b| b.page().group).collect();
        using.sort_unstable();
        using.dedup();
        if using.is_empty() {
            return;
        }
        self.pager.touch(&using);
        let others = self.pager.others(&self.alloc, &using);
        if let Err(e) = self.evict(&others) {
            self.fail(e);
            return;
        }
        for buf in bufs {
            if !buf.page().resident() {
                if let Err(e) = self.restore(buf.page(), &using) {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    /// Evicts one group outside `protect` ([`super::pager::Pager::victim`]) so that an
    /// allocation that did not fit can retry; `Ok(false)` when nothing can leave (the
    /// allocation's error stands).
    pub fn make_room(&mut self, protect: &[u32]) -> Result<bool, BackendError> {
        if self.pager.set() == ResidentSet::All {
            return Ok(false);
        }
        match self.pager.victim(&self.alloc, protect) {
            Some(pages) => self.evict(&pages).map(|()| true),
            None => Ok(false),
        }
    }

    /// One of the recorder's own (pinned, staging) buffers, made room for.
    fn create_with_room(
        &mut self,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<GpuBuffer, BackendError> {
        let alloc = self.alloc.clone();
        with_room(|| alloc.create_pinned(label, MemCategory::Staging, bytes, usage), || self.make_room(&[]))
    }

    /// Under `one`, allocations for `group` first send every other group's buffers away (a
    /// worker's workspace is built while no other worker's is resident).
    pub fn prepare_group(&mut self, group: u32) -> Result<(), BackendError> {
        self.pager.touch(&[group]);
        let others = self.pager.others(&self.alloc, &[group]);
        self.evict(&others)
    }

    fn restore(&mut self, page: &Arc<Page>, protect: &[u32]) -> Result<(), BackendError> {
        let alloc = self.alloc.clone();
        let device = with_room(
            || alloc.device_buffer(&page.label, page.category, page.size, page.usage),
            || self.make_room(protect),
        )?;
        let mut state = page.lock();
        match &state.host {
            HostCopy::Bytes(data) => {
                self.alloc.queue().write_buffer(&device.0, 0, data);
                self.pager.stats.bytes_to_device += page.size;
            }
            // New buffers are zero-filled.
            HostCopy::Zeros => {}
            HostCopy::None => unreachable!("evicted buffer `{}` has no host copy", page.label),
        }
        state.device = Some(device);
        self.pager.stats.restores += 1;
        Ok(())
    }

    /// Moves `pages` to host memory: written ones through the staging ring, clean ones at no
    /// cost; then frees their device memory and forgets bind groups that name them.
    fn evict(&mut self, pages: &[Arc<Page>]) -> Result<(), BackendError> {
        if pages.is_empty() {
            return Ok(());
        }
        let dirty: Vec<&Arc<Page>> = pages
            .iter()
            .filter(|p| {
                let state = p.lock();
                matches!(state.host, HostCopy::None) && state.device.is_some()
            })
            .collect();
        if !dirty.is_empty() {
            self.read_back(&dirty)?;
        }
        let ids: HashSet<u64> = pages.iter().map(|p| p.id).collect();
        for page in pages {
            let mut state = page.lock();
            if state.device.take().is_some() {
                self.pager.stats.evictions += 1;
            }
        }
        self.bind_cache.retain(|k, _| !k.ids.iter().any(|id| ids.contains(id)));
        Ok(())
    }

    /// Copies the pages' device contents into their host copies, a ring's worth at a time.
    fn read_back(&mut self, pages: &[&Arc<Page>]) -> Result<(), BackendError> {
        // As large as this eviction needs, up to RING_BYTES: small graphs keep a small ring.
        let want: u64 = pages.iter().map(|p| p.size).sum::<u64>().next_power_of_two();
        // Under a budget, an eighth of it: the ring is mapped memory, outside the budget (host
        // memory on discrete GPUs) but counted in the curves as staging.
        let budget_share = self.alloc.residency().budget.map_or(u64::MAX, |b| (b / 8).max(1 << 16));
        let cap = RING_BYTES.min(budget_share).min(self.alloc.limits().max_buffer_size) & !3;
        if self.ring.as_ref().is_none_or(|r| r.size() < want.min(cap)) {
            self.ring = None;
            self.ring =
                Some(self.alloc.create_pinned("streaming ring", MemCategory::Staging, want.min(cap), READBACK)?);
        }
        let ring = self.ring.take().expect("ring exists");
        let ring_bytes = ring.size();
        for page in pages {
            page.lock().host = HostCopy::Bytes(vec![0; page.size as usize]);
        }
        // (page, offset in page, offset in ring, bytes)
        let mut pending: Vec<(&Arc<Page>, u64, u64, u64)> = Vec::new();
        let mut used = 0u64;
        let result = (|| {
            for page in pages {
                let raw = page.lock().device.as_ref().map(|d| d.0.clone()).expect("dirty pages are resident");
                let mut at = 0;
                while at < page.size {
                    if used == ring_bytes {
                        self.drain_ring(&ring, &mut pending, used)?;
                        used = 0;
                    }
                    let n = (page.size - at).min(ring_bytes - used);
                    self.end_pass();
                    self.encoder().copy_buffer_to_buffer(&raw, at, &ring.raw(), used, n);
                    pending.push((page, at, used, n));
                    (at, used) = (at + n, used + n);
                }
            }
            self.drain_ring(&ring, &mut pending, used)
        })();
        self.ring = Some(ring);
        result
    }

    fn drain_ring(
        &mut self,
        ring: &GpuBuffer,
        pending: &mut Vec<(&Arc<Page>, u64, u64, u64)>,
        used: u64,
    ) -> Result<(), BackendError> {
        if pending.is_empty() {
            return Ok(());
        }
        self.submit(false)?;
        read_mapped(&self.device, &ring.raw(), used, |view| {
            for &(page, at, from, n) in pending.iter() {
                if let HostCopy::Bytes(host) = &mut page.lock().host {
                    host[at as usize..(at + n) as usize].copy_from_slice(&view[from as usize..(from + n) as usize]);
                }
            }
        })?;
        self.pager.stats.bytes_to_host += used;
        self.pager.stats.ring_drains += 1;
        pending.clear();
        Ok(())
    }

    fn map_read(&self, rb: &GpuBuffer, bytes: u64) -> Result<Vec<f32>, BackendError> {
        read_mapped(&self.device, &rb.raw(), bytes, |view| {
            // Mapped ranges are MAP_ALIGNMENT (8) aligned; fall back to bytewise if ever not.
            match bytemuck::try_cast_slice::<u8, f32>(view) {
                Ok(v) => v.to_vec(),
                Err(_) => view.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            }
        })
    }
}

/// Runs `create`; while it fails for want of device memory, lets `make_room` evict something
/// and retries. The allocation's error stands once `make_room` says nothing can leave.
pub(super) fn with_room<T>(
    mut create: impl FnMut() -> Result<T, BackendError>,
    mut make_room: impl FnMut() -> Result<bool, BackendError>,
) -> Result<T, BackendError> {
    loop {
        match create() {
            Err(e @ BackendError::OutOfDeviceMemory { .. }) => {
                if !make_room()? {
                    return Err(e);
                }
            }
            other => return other,
        }
    }
}

/// A command writes `buf`: its host copy (if any) no longer matches.
fn written(buf: &GpuBuffer) {
    if buf.page().group.is_some() {
        buf.page().lock().host = HostCopy::None;
    }
}

fn resolve<'a>(b: &Bind<'a>, arena: &'a GpuBuffer) -> &'a GpuBuffer {
    match b {
        Bind::Buf(buf) | Bind::Range { buf, .. } => buf,
        Bind::Arena => arena,
    }
}
