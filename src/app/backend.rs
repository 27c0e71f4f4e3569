//! Backend choice, in one `match`: everything after it is generic over `Backend`.

use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::{list_adapters, GpuBackend};
use crate::backend::Backend;
use crate::cli::BackendChoice;

/// Work that runs on whichever backend was chosen.
pub trait BackendTask {
    type Output;
    fn run<B: Backend>(self, b: &B) -> anyhow::Result<Self::Output>;
}

pub fn with_backend<T: BackendTask>(choice: BackendChoice, task: T) -> anyhow::Result<T::Output> {
    match choice {
        BackendChoice::Cpu => task.run(&CpuBackend::new()),
        BackendChoice::Gpu => task.run(&GpuBackend::new()?),
        BackendChoice::Auto => {
            if has_hardware_gpu() {
                task.run(&GpuBackend::new()?)
            } else {
                // A software adapter (lavapipe) is slower than the CPU backend for this work.
                eprintln!("warning: no hardware GPU adapter found; using the CPU backend (--backend gpu forces wgpu, a software adapter included)");
                task.run(&CpuBackend::new())
            }
        }
    }
}

/// Whether wgpu sees a discrete, integrated or virtual GPU that runs compute shaders.
pub fn has_hardware_gpu() -> bool {
    list_adapters()
        .iter()
        .any(|a| a.compute && matches!(a.device_type.as_str(), "DiscreteGpu" | "IntegratedGpu" | "VirtualGpu"))
}

pub fn devices() -> anyhow::Result<()> {
    let adapters = list_adapters();
    if adapters.is_empty() {
        println!(
            "no adapters: wgpu sees no Vulkan/Metal/DX12/GL driver (install mesa-vulkan-drivers for a software one)"
        );
        return Ok(());
    }
    println!(
        "{:>3}  {:<36} {:<14} {:<8} {:<28} {:>12} {:>12} {:>8}",
        "#", "name", "type", "backend", "driver", "max buffer", "max binding", "compute"
    );
    for a in &adapters {
        let driver = format!("{} {}", a.driver, a.driver_info);
        println!(
            "{:>3}  {:<36} {:<14} {:<8} {:<28} {:>9} MiB {:>9} MiB {:>8}",
            a.index,
            a.name,
            a.device_type,
            a.backend,
            driver.trim(),
            a.max_buffer_size >> 20,
            a.max_storage_buffer_binding_size >> 20,
            if a.compute { "yes" } else { "no" }
        );
    }
    println!(
        "--backend gpu picks: {}",
        crate::backend::gpu::GpuContext::new(&Default::default())
            .map(|c| c.describe())
            .unwrap_or_else(|e| e.to_string())
    );
    Ok(())
}
