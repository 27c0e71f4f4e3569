//! PowerSGD's Gram–Schmidt step on P: see `shaders/powersgd.wgsl`. The products are
//! [`super::matmul::Matmul`]'s.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct PowerSgdParams {
    pub n: u32,
    pub r: u32,
    pub _pad: [u32; 2],
}
const _: () = assert!(size_of::<PowerSgdParams>() as u64 <= PARAM_BYTES);

pub struct PowerSgd {
    orthogonalize: Kernel,
}

impl PowerSgd {
    /// Threads of the one workgroup.
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "powersgd.wgsl", shaders::POWERSGD);
        Self { orthogonalize: kernel(device, params_layout, &m, "orthogonalize", &[(0, Access::ReadWrite)]) }
    }

    /// Orthonormalizes the r columns of P (n × r) in place.
    pub fn orthogonalize(&self, rec: &mut Recorder, p: &GpuBuffer, n: usize, r: usize) {
        check_buf("orthogonalize", "P", p, n * r);
        if n * r == 0 {
            return;
        }
        assert!(u32::try_from(n * r).is_ok(), "orthogonalize: {n}x{r} exceeds u32 indices");
        let slot = rec.params(&PowerSgdParams { n: n as u32, r: r as u32, _pad: [0; 2] });
        rec.dispatch(&self.orthogonalize, &[Bind::Buf(p)], slot, 1);
    }
}
