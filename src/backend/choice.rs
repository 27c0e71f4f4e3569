//! Backend choice, in one `match`: everything after it is generic over `Backend`.

use super::cpu::CpuBackend;
use super::gpu::{list_adapters, GpuBackend};
use super::Backend;

/// Which compute backend runs the GCN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// A hardware GPU adapter if there is one, else the CPU backend (with a warning).
    #[default]
    Auto,
    /// The wgpu backend on the best adapter, software (lavapipe) included; fails without one.
    Gpu,
    /// The ndarray reference backend.
    Cpu,
}

/// Work that runs on whichever backend was chosen.
pub trait BackendTask {
    type Output;
    fn run<B: Backend>(self, b: &B) -> anyhow::Result<Self::Output>;
}

pub fn with_backend<T: BackendTask>(choice: BackendChoice, task: T) -> anyhow::Result<T::Output> {
    run_on(choice, false, task)
}

/// [`with_backend`], with the GPU backend timing every kernel (`GpuBackend::profiled`).
pub fn with_backend_profiled<T: BackendTask>(choice: BackendChoice, task: T) -> anyhow::Result<T::Output> {
    run_on(choice, true, task)
}

fn run_on<T: BackendTask>(choice: BackendChoice, profile: bool, task: T) -> anyhow::Result<T::Output> {
    let gpu = || if profile { GpuBackend::profiled(&Default::default()) } else { GpuBackend::new() };
    match resolve(choice) {
        BackendChoice::Cpu => task.run(&CpuBackend::new()),
        BackendChoice::Gpu | BackendChoice::Auto => task.run(&gpu()?),
    }
}

/// `Auto` made definite: `Gpu` with a hardware adapter, else `Cpu` (with a warning); the others
/// as they are. Resolved once, several backends of one process agree.
pub fn resolve(choice: BackendChoice) -> BackendChoice {
    match choice {
        BackendChoice::Auto if has_hardware_gpu() => BackendChoice::Gpu,
        BackendChoice::Auto => {
            // A software adapter (lavapipe) is slower than the CPU backend for this work.
            eprintln!("warning: no hardware GPU adapter found; using the CPU backend (--backend gpu forces wgpu, a software adapter included)");
            BackendChoice::Cpu
        }
        other => other,
    }
}

/// Whether wgpu sees a discrete, integrated or virtual GPU that runs compute shaders.
pub fn has_hardware_gpu() -> bool {
    list_adapters()
        .iter()
        .any(|a| a.compute && matches!(a.device_type.as_str(), "DiscreteGpu" | "IntegratedGpu" | "VirtualGpu"))
}
