//! Squared distances between rows from their Gram matrix: `matmul(x, x, transpose_b)` then
//! `shaders/pairwise_sq_dists.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::matmul::{Matmul, Operand};
use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct PairwiseSqDistsParams {
    pub m: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<PairwiseSqDistsParams>() as u64 <= PARAM_BYTES);

pub struct PairwiseSqDists {
    kernel: Kernel,
}

impl PairwiseSqDists {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "pairwise_sq_dists.wgsl", shaders::PAIRWISE_SQ_DISTS);
        Self {
            kernel: kernel(
                device,
                params_layout,
                &m,
                "pairwise_sq_dists",
                &[(0, Access::Read), (1, Access::ReadWrite)],
            ),
        }
    }

    /// `gram (m × m) = x xᵀ` for the m rows of `x`, then `out (m × m)` = their squared distances.
    pub fn encode(&self, rec: &mut Recorder, matmul: &Matmul, x: Operand<'_>, gram: &GpuBuffer, out: &GpuBuffer) {
        let m = x.rows;
        check_buf("pairwise_sq_dists", "gram", gram, m * m);
        check_buf("pairwise_sq_dists", "out", out, m * m);
        if m == 0 {
            return;
        }
        matmul.encode_operands(rec, x, x, Operand { buf: gram, rows: m, cols: m }, false, true);
        let slot = rec.params(&PairwiseSqDistsParams { m: m as u32, _pad: [0; 3] });
        rec.dispatch(
            &self.kernel,
            &[Bind::Buf(gram), Bind::Buf(out)],
            slot,
            groups("pairwise_sq_dists", m * m, Self::WORKGROUP as usize),
        );
    }
}
