//! `out[r] = scale_r · Σ_i w_ri · g[i]`: see `shaders/combine_rows.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::matmul::Operand;
use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct CombineRowsParams {
    pub n: u32,
    pub d: u32,
    pub rows: u32,
    pub w_off: u32,
    pub s_off: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<CombineRowsParams>() as u64 <= PARAM_BYTES);

/// Where the weights (rows × n) and the scales (rows) are.
#[derive(Clone, Copy)]
pub enum Weights<'a> {
    /// Computed on the device: weights at element 0, scales right after.
    Buffer(&'a crate::backend::gpu::alloc::GpuBuffer),
    /// Known on the host: recorded into the parameter arena.
    Host { weights: &'a [f32], scales: &'a [f32] },
}

pub struct CombineRows {
    kernel: Kernel,
}

impl CombineRows {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "combine_rows.wgsl", shaders::COMBINE_ROWS);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "combine_rows", &[(0, r), (1, r), (2, w)]) }
    }

    /// `out` (rows × d) from the n rows of `g`.
    pub fn encode(&self, rec: &mut Recorder, g: Operand<'_>, weights: Weights<'_>, out: &GpuMatrix) {
        let (n, d, rows) = (g.rows, g.cols, out.rows());
        check_shape("combine_rows", "out", (out.rows(), out.cols()), (rows, d));
        check_buf("combine_rows", "g", g.buf, n * d);
        check_buf("combine_rows", "out", &out.buf, out.len());
        if out.is_empty() {
            return;
        }
        let params = |w_off: u32| CombineRowsParams {
            n: n as u32,
            d: d as u32,
            rows: rows as u32,
            w_off,
            s_off: w_off + (rows * n) as u32,
            _pad: [0; 3],
        };
        let wgs = groups("combine_rows", rows * d, Self::WORKGROUP as usize);
        match weights {
            Weights::Buffer(buf) => {
                check_buf("combine_rows", "weights", buf, rows * n + rows);
                let slot = rec.params(&params(0));
                rec.dispatch(&self.kernel, &[Bind::Buf(g.buf), Bind::Buf(buf), Bind::Buf(&out.buf)], slot, wgs);
            }
            Weights::Host { weights, scales } => {
                assert!(weights.len() == rows * n && scales.len() == rows, "combine_rows: {rows} × {n} weights");
                let extra: Vec<f32> = weights.iter().chain(scales).copied().collect();
                let slot = rec.params_extra(bytemuck::cast_slice(&extra), |at| params(at / 4));
                rec.dispatch(&self.kernel, &[Bind::Buf(g.buf), Bind::Arena, Bind::Buf(&out.buf)], slot, wgs);
            }
        }
    }
}
