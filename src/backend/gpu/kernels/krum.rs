//! Krum / Multi-Krum scores and choice: see `shaders/krum.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;
use crate::backend::robust::MAX_WORKERS;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct KrumParams {
    pub n: u32,
    pub k: u32,
    pub m: u32,
    pub inv_m: f32,
}
const _: () = assert!(size_of::<KrumParams>() as u64 <= PARAM_BYTES);

pub struct Krum {
    kernel: Kernel,
}

impl Krum {
    /// One workgroup, one thread per row.
    pub const WORKGROUP: u32 = MAX_WORKERS as u32;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "krum.wgsl", shaders::KRUM);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "krum", &[(0, r), (1, w), (2, w)]) }
    }

    /// From `dists` (n × n): 0/1 weights of the m chosen rows into `mix[0..n]`, the scale 1/m
    /// into `mix[n]`, and 1/m on the chosen rows into `selection` (n).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        dists: &GpuBuffer,
        n: usize,
        f: usize,
        m: usize,
        mix: &GpuBuffer,
        selection: &GpuBuffer,
    ) {
        assert!((1..=MAX_WORKERS).contains(&n), "krum: {n} rows, the kernel takes 1..={MAX_WORKERS}");
        assert!(n >= 2 * f + 3 && (1..=n).contains(&m), "krum: n = {n}, f = {f}, m = {m}");
        check_buf("krum", "dists", dists, n * n);
        check_buf("krum", "mix", mix, n + 1);
        check_buf("krum", "selection", selection, n);
        let slot = rec.params(&KrumParams { n: n as u32, k: (n - f - 2) as u32, m: m as u32, inv_m: 1.0 / m as f32 });
        rec.dispatch(&self.kernel, &[Bind::Buf(dists), Bind::Buf(mix), Bind::Buf(selection)], slot, 1);
    }
}
