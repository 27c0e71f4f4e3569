//! Centered clipping weights in n-space: see `shaders/centered_clipping.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;
use crate::backend::robust::MAX_WORKERS;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct CenteredClippingParams {
    pub n: u32,
    pub iters: u32,
    pub tau: f32,
    pub inv_n: f32,
}
const _: () = assert!(size_of::<CenteredClippingParams>() as u64 <= PARAM_BYTES);

pub struct CenteredClipping {
    kernel: Kernel,
}

impl CenteredClipping {
    /// One workgroup, one thread per point (n rows + the centre).
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "centered_clipping.wgsl", shaders::CENTERED_CLIPPING);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "centered_clipping", &[(0, r), (1, w), (2, w)]) }
    }

    /// From the squared distances ((n+1) × (n+1)) of the n rows and the centre: the final
    /// weights of the n + 1 points into `mix[0..n+1]`, the scale 1 into `mix[n+1]`, the clip
    /// shares into `selection` (n).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        dists: &GpuBuffer,
        n: usize,
        tau: f32,
        iters: u32,
        mix: &GpuBuffer,
        selection: &GpuBuffer,
    ) {
        assert!((1..=MAX_WORKERS).contains(&n), "centered_clipping: {n} rows, the kernel takes 1..={MAX_WORKERS}");
        assert!(tau > 0.0 && iters >= 1, "centered_clipping: tau = {tau}, iters = {iters}");
        let m = n + 1;
        check_buf("centered_clipping", "dists", dists, m * m);
        check_buf("centered_clipping", "mix", mix, m + 1);
        check_buf("centered_clipping", "selection", selection, n);
        let slot = rec.params(&CenteredClippingParams { n: n as u32, iters, tau, inv_n: 1.0 / n as f32 });
        rec.dispatch(&self.kernel, &[Bind::Buf(dists), Bind::Buf(mix), Bind::Buf(selection)], slot, 1);
    }
}
