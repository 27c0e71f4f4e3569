//! The one allocator: every GPU buffer of the backend is created here, checked against the
//! device limits first and counted in the [`MemoryTracker`] for as long as it lives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::backend::{BackendError, MemCategory, MemGuard, MemoryTracker};

/// wgpu rejects zero-size bindings and copies need 4-byte multiples.
pub const MIN_BUFFER_BYTES: u64 = 4;

/// Usage of matrices, sparse arrays, index vectors and stats: bound as storage, copied both ways.
pub const STORAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);
/// Host-readable staging for downloads.
pub const READBACK: wgpu::BufferUsages = wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

/// A device buffer with its memory accounting. Dropping it uncounts the bytes and tells the
/// recorder (through the graveyard) to forget cached bind groups that still reference it; wgpu
/// frees the memory once no recorded command uses it any more.
#[derive(Debug)]
pub struct GpuBuffer {
    buffer: wgpu::Buffer,
    id: u64,
    label: String,
    graveyard: Arc<Mutex<Vec<u64>>>,
    _mem: MemGuard,
}

impl GpuBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        &self.buffer
    }
    /// Unique for the allocator's lifetime (keys the bind-group cache).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// Allocated size in bytes (at least [`MIN_BUFFER_BYTES`]).
    pub fn size(&self) -> u64 {
        self.buffer.size()
    }
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// How kernels will bind a buffer, which decides the limit its size is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Bound whole: at most `max_storage_buffer_binding_size` (for storage buffers).
    Whole,
    /// Row-major matrices that the kernels able to split their work bind in row ranges of at
    /// most `max_storage_buffer_binding_size` each: at most `max_buffer_size`. A kernel that
    /// binds such a buffer whole fails at record time with [`BackendError::BufferTooLarge`].
    Ranges,
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Ok(mut g) = self.graveyard.lock() {
            g.push(self.id);
        }
    }
}

struct Inner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    limits: wgpu::Limits,
    memory: Arc<MemoryTracker>,
    next_id: AtomicU64,
    graveyard: Arc<Mutex<Vec<u64>>>,
}

/// Cheap to clone; clones share the counters.
#[derive(Clone)]
pub struct Allocator {
    inner: Arc<Inner>,
}

impl Allocator {
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, limits: wgpu::Limits, memory: Arc<MemoryTracker>) -> Self {
        Self {
            inner: Arc::new(Inner {
                device,
                queue,
                limits,
                memory,
                next_id: AtomicU64::new(1),
                graveyard: Arc::new(Mutex::new(Vec::new())),
            }),
        }
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// Most bytes one storage binding may cover.
    pub fn binding_limit(&self) -> u64 {
        self.inner.limits.max_storage_buffer_binding_size
    }

    /// What a storage binding's offset must be a multiple of.
    pub fn offset_alignment(&self) -> u64 {
        self.inner.limits.min_storage_buffer_offset_alignment.max(4) as u64
    }

    pub fn memory(&self) -> &Arc<MemoryTracker> {
        &self.inner.memory
    }

    /// Ids of buffers dropped since the last call.
    pub fn take_dead(&self) -> Vec<u64> {
        self.inner.graveyard.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default()
    }

    /// Bytes a buffer of `bytes` payload really takes.
    pub fn padded(bytes: u64) -> u64 {
        bytes.max(MIN_BUFFER_BYTES).next_multiple_of(4)
    }

    /// Fails with [`BackendError::BufferTooLarge`] if a buffer of `bytes` with `usage` exceeds a
    /// device limit; allocates nothing.
    pub fn check(&self, label: &str, bytes: u64, usage: wgpu::BufferUsages) -> Result<(), BackendError> {
        self.check_binding(label, bytes, usage, Binding::Whole)
    }

    /// [`Self::check`] for a buffer bound as `binding` says.
    pub fn check_binding(
        &self,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
        binding: Binding,
    ) -> Result<(), BackendError> {
        let size = Self::padded(bytes);
        let l = &self.inner.limits;
        // The tighter applicable limit names the error.
        let mut limit = (l.max_buffer_size, "max_buffer_size");
        if binding == Binding::Whole
            && usage.contains(wgpu::BufferUsages::STORAGE)
            && l.max_storage_buffer_binding_size < limit.0
        {
            limit = (l.max_storage_buffer_binding_size, "max_storage_buffer_binding_size");
        }
        if size > limit.0 {
            return Err(BackendError::BufferTooLarge {
                label: label.to_string(),
                size,
                limit: limit.0,
                limit_name: limit.1,
            });
        }
        Ok(())
    }

    /// A zero-filled buffer (wgpu zero-initializes new buffers).
    pub fn create(
        &self,
        label: &str,
        category: MemCategory,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<GpuBuffer, BackendError> {
        self.create_bound(label, category, bytes, usage, Binding::Whole)
    }

    /// [`Self::create`] for a buffer bound as `binding` says.
    pub fn create_bound(
        &self,
        label: &str,
        category: MemCategory,
        bytes: u64,
        usage: wgpu::BufferUsages,
        binding: Binding,
    ) -> Result<GpuBuffer, BackendError> {
        self.check_binding(label, bytes, usage, binding)?;
        let size = Self::padded(bytes);
        let device = &self.inner.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(BackendError::Device(format!("creating buffer `{label}` ({size} bytes): {e}")));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(GpuBuffer {
            buffer,
            id,
            label: label.to_string(),
            graveyard: Arc::clone(&self.inner.graveyard),
            _mem: self.inner.memory.track(category, size),
        })
    }

    /// A buffer holding `data`. The write is queued and lands before the next submission, i.e.
    /// before any command that can reference this new buffer.
    pub fn create_init(
        &self,
        label: &str,
        category: MemCategory,
        data: &[u8],
        usage: wgpu::BufferUsages,
    ) -> Result<GpuBuffer, BackendError> {
        self.create_init_bound(label, category, data, usage, Binding::Whole)
    }

    /// [`Self::create_init`] for a buffer bound as `binding` says.
    pub fn create_init_bound(
        &self,
        label: &str,
        category: MemCategory,
        data: &[u8],
        usage: wgpu::BufferUsages,
        binding: Binding,
    ) -> Result<GpuBuffer, BackendError> {
        let buf =
            self.create_bound(label, category, data.len() as u64, usage | wgpu::BufferUsages::COPY_DST, binding)?;
        if !data.is_empty() {
            self.inner.queue.write_buffer(buf.raw(), 0, data);
        }
        Ok(buf)
    }
}
