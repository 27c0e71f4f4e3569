//! One round of centered clipping on the weights over the rows and the centre, from the
//! row-space distances: see `shaders/centered_clipping.wgsl`.

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
    pub step: u32,
    pub tau: f32,
    pub _pad: u32,
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
        Self { kernel: kernel(device, params_layout, &m, "centered_clipping", &[(0, r), (1, w), (2, w), (3, w)]) }
    }

    /// Round `step` (0-based) from the distances (n) of the rows to v: the weights of the n + 1
    /// points into `mix[0..n+1]` (round 0 starts from the centre), the running clip sums into
    /// `clip` (n) and their shares into `selection` (n).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        dists: &GpuBuffer,
        n: usize,
        step: u32,
        tau: f32,
        mix: &GpuBuffer,
        selection: &GpuBuffer,
        clip: &GpuBuffer,
    ) {
        assert!((1..=MAX_WORKERS).contains(&n), "centered_clipping: {n} rows, the kernel takes 1..={MAX_WORKERS}");
        assert!(tau > 0.0, "centered_clipping: tau = {tau}");
        check_buf("centered_clipping", "dists", dists, n);
        check_buf("centered_clipping", "mix", mix, n + 1);
        check_buf("centered_clipping", "selection", selection, n);
        check_buf("centered_clipping", "clip", clip, n);
        let slot = rec.params(&CenteredClippingParams { n: n as u32, step, tau, _pad: 0 });
        let binds = [Bind::Buf(dists), Bind::Buf(mix), Bind::Buf(selection), Bind::Buf(clip)];
        rec.dispatch(&self.kernel, &binds, slot, 1);
    }
}
