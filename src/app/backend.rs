//! Backend choice, in one `match`: everything after it is generic over `Backend`.

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::cli::BackendChoice;

/// Work that runs on whichever backend was chosen.
pub trait BackendTask {
    type Output;
    fn run<B: Backend>(self, b: &B) -> anyhow::Result<Self::Output>;
}

pub fn with_backend<T: BackendTask>(choice: BackendChoice, task: T) -> anyhow::Result<T::Output> {
    match choice {
        BackendChoice::Cpu | BackendChoice::Auto => task.run(&CpuBackend::new()),
        BackendChoice::Gpu => anyhow::bail!("the GPU backend is not built yet"),
    }
}

pub fn devices() -> anyhow::Result<()> {
    anyhow::bail!("the GPU backend is not built yet")
}
