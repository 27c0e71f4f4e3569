//! `gcnsim devices`.

use crate::backend::gpu::list_adapters;

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
