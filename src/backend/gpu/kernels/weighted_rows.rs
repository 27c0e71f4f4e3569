//! A weighted combination of rows with exact partial products: see `shaders/weighted_rows.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct WeightedRowsParams {
    pub m: u32,
    pub d: u32,
    pub _pad: [u32; 2],
}
const _: () = assert!(size_of::<WeightedRowsParams>() as u64 <= PARAM_BYTES);

pub struct WeightedRows {
    kernel: Kernel,
}

impl WeightedRows {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "weighted_rows.wgsl", shaders::WEIGHTED_ROWS);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "weighted_rows", &[(0, r), (1, r), (2, w)]) }
    }

    /// `out (1 × d)` = Σ_k w[k] · x[k] over the m rows of x (m × d).
    pub fn encode(&self, rec: &mut Recorder, x: &GpuBuffer, m: usize, d: usize, w: &GpuBuffer, out: &GpuBuffer) {
        assert!(m >= 1 && d >= 1, "weighted_rows: {m} rows of {d}");
        check_buf("weighted_rows", "x", x, m * d);
        check_buf("weighted_rows", "w", w, m);
        check_buf("weighted_rows", "out", out, d);
        let slot = rec.params(&WeightedRowsParams { m: m as u32, d: d as u32, _pad: [0; 2] });
        let wgs = groups("weighted_rows", d, Self::WORKGROUP as usize);
        rec.dispatch(&self.kernel, &[Bind::Buf(x), Bind::Buf(w), Bind::Buf(out)], slot, wgs);
    }
}
