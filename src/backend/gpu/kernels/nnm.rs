//! Nearest-neighbour mixing weights: see `shaders/nnm.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;
use crate::backend::robust::MAX_WORKERS;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NnmParams {
    pub n: u32,
    pub k: u32,
    pub inv_keep: f32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<NnmParams>() as u64 <= PARAM_BYTES);

pub struct Nnm {
    kernel: Kernel,
}

impl Nnm {
    /// One workgroup, one thread per row.
    pub const WORKGROUP: u32 = MAX_WORKERS as u32;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "nnm.wgsl", shaders::NNM);
        Self { kernel: kernel(device, params_layout, &m, "nnm", &[(0, Access::Read), (1, Access::ReadWrite)]) }
    }

    /// From `dists` (n × n): the n × n mixing weights into `mix[0..n²]` and the n scales
    /// 1/(n − f) after them.
    pub fn encode(&self, rec: &mut Recorder, dists: &GpuBuffer, n: usize, f: usize, mix: &GpuBuffer) {
        assert!((1..=MAX_WORKERS).contains(&n), "nnm: {n} rows, the kernel takes 1..={MAX_WORKERS}");
        assert!(f < n, "nnm: f = {f} of {n} rows");
        check_buf("nnm", "dists", dists, n * n);
        check_buf("nnm", "mix", mix, n * n + n);
        let slot =
            rec.params(&NnmParams { n: n as u32, k: (n - f - 1) as u32, inv_keep: 1.0 / (n - f) as f32, _pad: 0 });
        rec.dispatch(&self.kernel, &[Bind::Buf(dists), Bind::Buf(mix)], slot, 1);
    }
}
