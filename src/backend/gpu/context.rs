//! Adapter choice and device creation.

use serde::Serialize;

use crate::backend::BackendError;

/// Which adapter [`GpuContext::new`] picks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AdapterPreference {
    /// Discrete GPU first, then integrated, virtual, CPU (e.g. lavapipe), other.
    #[default]
    Best,
    /// The adapter at this position of [`list_adapters`].
    Index(usize),
    /// The best adapter whose name contains this text (case-insensitive).
    Name(String),
}

/// One adapter as `gcnsim devices` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdapterSummary {
    pub index: usize,
    pub name: String,
    pub device_type: String,
    pub backend: String,
    pub driver: String,
    pub driver_info: String,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    /// Whether the adapter runs compute shaders (the GL backend may not).
    pub compute: bool,
}

/// Device, queue and what the backend needs to know about them.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with: the adapter's own, so large buffers work.
    pub limits: wgpu::Limits,
}

impl GpuContext {
    pub fn new(preference: &AdapterPreference) -> Result<Self, BackendError> {
        Self::with_features(preference, wgpu::Features::empty())
    }

    /// A device with those of `wanted` the adapter has ([`Self::features`] tells which).
    pub fn with_features(preference: &AdapterPreference, wanted: wgpu::Features) -> Result<Self, BackendError> {
        let adapters = enumerate();
        let adapter = choose(adapters, preference).ok_or(BackendError::NoAdapter)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("gcnsim"),
            required_features: wanted & adapter.features(),
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| BackendError::Device(format!("request_device on {}: {e}", info.name)))?;
        Ok(Self { device, queue, info, limits })
    }

    /// The optional features the device was created with.
    pub fn features(&self) -> wgpu::Features {
        self.device.features()
    }

    /// "adapter name (backend, device type, driver driver_info)".
    pub fn describe(&self) -> String {
        let i = &self.info;
        format!("{} ({}, {:?}, driver {} {})", i.name, i.backend, i.device_type, i.driver, i.driver_info)
            .trim_end()
            .to_string()
    }
}

/// Every adapter wgpu sees (backends from `WGPU_BACKEND`, default all), in enumeration order.
pub fn list_adapters() -> Vec<AdapterSummary> {
    enumerate().iter().enumerate().map(|(index, a)| summary(index, a)).collect()
}

fn summary(index: usize, a: &wgpu::Adapter) -> AdapterSummary {
    let i = a.get_info();
    let l = a.limits();
    AdapterSummary {
        index,
        name: i.name,
        device_type: format!("{:?}", i.device_type),
        backend: i.backend.to_string(),
        driver: i.driver,
        driver_info: i.driver_info,
        max_buffer_size: l.max_buffer_size,
        max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
        compute: has_compute(a),
    }
}

fn enumerate() -> Vec<wgpu::Adapter> {
    // Before the first instance of the process: `main` has done it already, but the library's
    // own tests and the end-to-end tests create adapters without going through `main`.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(quiet_headless_runtime_dir);
    // Vulkan/Metal/DX12 by default: the GL backend adds nothing for compute here, and Mesa's
    // EGL start-up prints errors on headless machines. WGPU_BACKEND still overrides.
    let backends = wgpu::Backends::PRIMARY.with_env();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(backends))
}

fn has_compute(a: &wgpu::Adapter) -> bool {
    a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
}

/// Lower is better: device type first, then a native compute API before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let api = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (ty, api)
}

fn choose(adapters: Vec<wgpu::Adapter>, preference: &AdapterPreference) -> Option<wgpu::Adapter> {
    match preference {
        AdapterPreference::Index(i) => adapters.into_iter().nth(*i).filter(has_compute),
        AdapterPreference::Best => adapters.into_iter().filter(has_compute).min_by_key(|a| rank(&a.get_info())),
        AdapterPreference::Name(name) => {
            let name = name.to_lowercase();
            adapters
                .into_iter()
                .filter(|a| has_compute(a) && a.get_info().name.to_lowercase().contains(&name))
                .min_by_key(|a| rank(&a.get_info()))
        }
    }
}

/// Mesa's Vulkan drivers load libwayland-client, which prints "error: XDG_RUNTIME_DIR is invalid
/// or not set in the environment." when that variable is missing, although compute needs no
/// display. When it is unset or not a private directory, point it at one of ours
/// (`$TMPDIR/gcnsim-xdg-UID`, mode 0700) for this process only. Changing the environment is only
/// sound while no other thread runs: call it first thing in `main`. The first adapter
/// enumeration calls it too (once), so test binaries, which have no such `main`, are quiet as
/// well; their other threads read the environment through std, which locks it.
pub fn quiet_headless_runtime_dir() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        use std::path::{Path, PathBuf};
        let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return };
        let private = |p: &Path| {
            std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0)
        };
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_absolute() && private(Path::new(&d))) {
            return;
        }
        let shared = std::env::temp_dir().join(format!("gcnsim-xdg-{uid}"));
        // Someone else's or a link: use a folder of this process instead.
        let candidates: [PathBuf; 2] =
            [shared.clone(), shared.with_file_name(format!("gcnsim-xdg-{uid}-{}", std::process::id()))];
        for dir in candidates {
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
            if private(&dir) {
                std::env::set_var("XDG_RUNTIME_DIR", &dir);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Test binaries have no `main` to call [`super::quiet_headless_runtime_dir`]: the first
    /// enumeration does, so Mesa finds a private runtime folder (and prints no XDG error)
    /// whether or not `cargo test` was started with one.
    #[cfg(target_os = "linux")]
    #[test]
    fn enumerating_adapters_leaves_a_private_runtime_dir() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let _ = super::list_adapters();
        let dir = std::env::var_os("XDG_RUNTIME_DIR").expect("XDG_RUNTIME_DIR is set");
        let meta = std::fs::symlink_metadata(&dir).expect("it exists");
        let uid = std::fs::metadata("/proc/self").unwrap().uid();
        assert!(meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0, "{dir:?}");
    }
}
