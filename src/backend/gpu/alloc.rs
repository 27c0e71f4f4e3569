//! The one allocator: every GPU buffer of the backend is created here, checked against the
//! device limits first and counted in the [`MemoryTracker`] for as long as it lives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::residency::{Residency, ResidentSet};
use crate::backend::{BackendError, MemCategory, MemGuard, MemoryTracker};

/// wgpu rejects zero-size bindings and copies need 4-byte multiples.
pub const MIN_BUFFER_BYTES: u64 = 4;

/// Usage of matrices, sparse arrays, index vectors and stats: bound as storage, copied both ways.
pub const STORAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);
/// Host-readable staging for downloads.
pub const READBACK: wgpu::BufferUsages = wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

/// Whether a buffer with `usage` takes the device's own memory (readback buffers do not on
/// discrete GPUs).
fn device_local(usage: wgpu::BufferUsages) -> bool {
    !usage.contains(wgpu::BufferUsages::MAP_READ)
}

/// A device buffer with its memory accounting. Dropping it uncounts the bytes and tells the
/// recorder (through the graveyard) to forget cached bind groups that still reference it; wgpu
/// frees the memory once no recorded command uses it any more.
///
/// A buffer allocated while a residency group was set (a worker's working set, see
/// [`super::residency`]) may be *evicted*: its contents move to host memory and its device
/// memory is freed (and uncounted), until the recorder makes it resident again before a command
/// uses it. Only the recorder evicts and restores; [`Self::raw`] is for it and the allocator.
#[derive(Debug)]
pub struct GpuBuffer {
    page: Arc<Page>,
    graveyard: Arc<Mutex<Vec<u64>>>,
    /// The allocator's count of mapped (host-side) bytes, which this buffer is part of when
    /// it is a readback buffer.
    mapped: Arc<AtomicU64>,
}

/// One buffer's identity and where its contents are.
#[derive(Debug)]
pub(super) struct Page {
    pub id: u64,
    pub label: String,
    pub size: u64,
    pub usage: wgpu::BufferUsages,
    pub category: MemCategory,
    /// The worker whose working set this is (`None`: pinned, always resident).
    pub group: Option<u32>,
    pub state: Mutex<PageState>,
}

#[derive(Debug)]
pub(super) struct PageState {
    /// The device buffer and its memory count, while resident.
    pub device: Option<(wgpu::Buffer, MemGuard)>,
    /// A copy of the contents on the host: all of them while evicted; while resident, kept
    /// as long as no command has written the buffer since it was restored (evicting a clean
    /// buffer then costs no transfer: graphs and features are read-only).
    pub host: HostCopy,
}

#[derive(Debug)]
pub(super) enum HostCopy {
    None,
    /// All zeros (a buffer evicted before anything wrote it).
    Zeros,
    Bytes(Vec<u8>),
}

impl Page {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, PageState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn resident(&self) -> bool {
        self.lock().device.is_some()
    }
}

impl GpuBuffer {
    /// The device buffer. Panics if the buffer is evicted: the recorder makes every buffer a
    /// command uses resident first, so that is a bug.
    pub fn raw(&self) -> wgpu::Buffer {
        match &self.page.lock().device {
            Some((buf, _)) => buf.clone(),
            None => panic!("buffer `{}` used while evicted to host memory", self.page.label),
        }
    }
    /// Unique for the allocator's lifetime (keys the bind-group cache).
    pub fn id(&self) -> u64 {
        self.page.id
    }
    /// Allocated size in bytes (at least [`MIN_BUFFER_BYTES`]).
    pub fn size(&self) -> u64 {
        self.page.size
    }
    pub fn label(&self) -> &str {
        &self.page.label
    }
    pub(super) fn page(&self) -> &Arc<Page> {
        &self.page
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
            g.push(self.page.id);
        }
        if self.page.usage.contains(wgpu::BufferUsages::MAP_READ) {
            self.mapped.fetch_sub(self.page.size, Ordering::Relaxed);
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
    /// Live bytes of readback buffers (host memory on discrete GPUs; outside the budget).
    mapped: Arc<AtomicU64>,
    residency: Residency,
    /// The group new buffers join (see [`Allocator::set_group`]).
    group: Mutex<Option<u32>>,
    /// Every grouped buffer, by group (weak: a dropped buffer leaves a dead entry, swept on
    /// the next registration).
    pages: Mutex<BTreeMap<u32, Vec<Weak<Page>>>>,
}

/// Cheap to clone; clones share the counters.
#[derive(Clone)]
pub struct Allocator {
    inner: Arc<Inner>,
}

impl Allocator {
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, limits: wgpu::Limits, memory: Arc<MemoryTracker>) -> Self {
        Self::with_residency(device, queue, limits, memory, Residency::default())
    }

    pub fn with_residency(
        device: wgpu::Device,
        queue: wgpu::Queue,
        limits: wgpu::Limits,
        memory: Arc<MemoryTracker>,
        residency: Residency,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                device,
                queue,
                limits,
                memory,
                next_id: AtomicU64::new(1),
                graveyard: Arc::new(Mutex::new(Vec::new())),
                mapped: Arc::new(AtomicU64::new(0)),
                residency,
                group: Mutex::new(None),
                pages: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    pub fn residency(&self) -> &Residency {
        &self.inner.residency
    }

    /// Buffers created from now on belong to `group`'s working set (`None`: pinned). Ignored
    /// under [`ResidentSet::All`], where nothing is ever evicted.
    pub fn set_group(&self, group: Option<u32>) {
        if self.inner.residency.set != ResidentSet::All {
            *self.inner.group.lock().unwrap_or_else(|e| e.into_inner()) = group;
        }
    }

    pub fn group(&self) -> Option<u32> {
        *self.inner.group.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live buffers of every group, group by group.
    pub(super) fn groups(&self) -> Vec<(u32, Vec<Arc<Page>>)> {
        let pages = self.inner.pages.lock().unwrap_or_else(|e| e.into_inner());
        pages.iter().map(|(&g, v)| (g, v.iter().filter_map(Weak::upgrade).collect())).collect()
    }

    pub(super) fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
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
        self.create_in(label, category, bytes, usage, binding, self.group())
    }

    /// A buffer that never leaves the device, whatever group is set: the recorder's own
    /// (parameter arena, scratch, readback), which commands use without naming them.
    pub fn create_pinned(
        &self,
        label: &str,
        category: MemCategory,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<GpuBuffer, BackendError> {
        self.create_in(label, category, bytes, usage, Binding::Whole, None)
    }

    fn create_in(
        &self,
        label: &str,
        category: MemCategory,
        bytes: u64,
        usage: wgpu::BufferUsages,
        binding: Binding,
        group: Option<u32>,
    ) -> Result<GpuBuffer, BackendError> {
        self.check_binding(label, bytes, usage, binding)?;
        let size = Self::padded(bytes);
        let device = self.device_buffer(label, category, size, usage)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        // Mapped staging buffers (readback) cannot be evicted: only storage joins a group.
        let group = group.filter(|_| usage.contains(wgpu::BufferUsages::STORAGE));
        let page = Arc::new(Page {
            id,
            label: label.to_string(),
            size,
            usage,
            category,
            group,
            // wgpu zero-fills new buffers: a grouped one evicted before any write needs no copy.
            state: Mutex::new(PageState {
                device: Some(device),
                host: if group.is_some() { HostCopy::Zeros } else { HostCopy::None },
            }),
        });
        if let Some(g) = group {
            let mut pages = self.inner.pages.lock().unwrap_or_else(|e| e.into_inner());
            let list = pages.entry(g).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&page));
        }
        if !device_local(usage) {
            self.inner.mapped.fetch_add(size, Ordering::Relaxed);
        }
        Ok(GpuBuffer { page, graveyard: Arc::clone(&self.inner.graveyard), mapped: Arc::clone(&self.inner.mapped) })
    }

    /// Device memory for a page: [`BackendError::OutOfDeviceMemory`] past the residency
    /// budget or when the device itself is out of memory.
    pub(super) fn device_buffer(
        &self,
        label: &str,
        category: MemCategory,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<(wgpu::Buffer, MemGuard), BackendError> {
        // Mapped readback buffers live in host memory on discrete GPUs: the budget is the
        // device's own memory (they are still counted, as staging).
        let live = self.inner.memory.snapshot().live_total() - self.inner.mapped.load(Ordering::Relaxed);
        if let Some(budget) = self.inner.residency.budget.filter(|_| device_local(usage)) {
            if live + size > budget {
                return Err(BackendError::OutOfDeviceMemory {
                    label: label.to_string(),
                    size,
                    live,
                    reason: format!("over the --gpu-memory budget of {budget} bytes"),
                });
            }
        }
        let device = &self.inner.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(BackendError::OutOfDeviceMemory {
                label: label.to_string(),
                size,
                live,
                reason: format!("the device is out of memory: {e}"),
            });
        }
        Ok((buffer, self.inner.memory.track(category, size)))
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
            self.inner.queue.write_buffer(&buf.raw(), 0, data);
        }
        if buf.page.group.is_some() {
            // Under `one` the buffer leaves at the next worker switch: keeping the data makes
            // that free. Under `auto` it may never leave, so it is read back if it does.
            let mut state = buf.page.lock();
            state.host = match self.inner.residency.set {
                ResidentSet::One => {
                    let mut bytes = data.to_vec();
                    bytes.resize(buf.page.size as usize, 0);
                    HostCopy::Bytes(bytes)
                }
                _ => HostCopy::None,
            };
        }
        Ok(buf)
    }
}

/// Waits for everything submitted, maps the first `bytes` of the MAP_READ buffer `buf`, hands
/// them to `read` and unmaps.
pub(super) fn read_mapped<T>(
    device: &wgpu::Device,
    buf: &wgpu::Buffer,
    bytes: u64,
    read: impl FnOnce(&[u8]) -> T,
) -> Result<T, BackendError> {
    let (tx, rx) = std::sync::mpsc::channel();
    buf.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| BackendError::Readback(format!("waiting for the GPU: {e}")))?;
    match rx.try_recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(BackendError::Readback(format!("map_async: {e}"))),
        Err(_) => return Err(BackendError::Readback("map_async callback did not run".into())),
    }
    let out = {
        let view =
            buf.get_mapped_range(0..bytes).map_err(|e| BackendError::Readback(format!("get_mapped_range: {e}")))?;
        read(&view)
    };
    buf.unmap();
    Ok(out)
}
