//! `out = Σ_p w_p · inputs[p]` in Flat or Tree order: see `shaders/weighted_sum.wgsl`.
//!
//! Binding: the P inputs are copied (copy_buffer_to_buffer) into one stacked scratch buffer,
//! input p at element p·n, so any P works with one storage binding (devices may allow as few
//! as 8 per stage). The weights travel in the parameter arena next to the dispatch's uniform.
//! The copies cost one extra pass over the inputs, which are gradient-sized (small).

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, ReduceOrder, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct WeightedSumParams {
    pub n: u32,
    pub count: u32,
    /// 0 = Flat, 1 = Tree.
    pub order: u32,
    /// Element offset of the weights in the arena chunk.
    pub w_off: u32,
}
const _: () = assert!(size_of::<WeightedSumParams>() as u64 <= PARAM_BYTES);

pub struct WeightedSum {
    kernel: Kernel,
}

impl WeightedSum {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "weighted_sum.wgsl", shaders::WEIGHTED_SUM);
        Self {
            kernel: kernel(
                device,
                params_layout,
                &m,
                "weighted_sum",
                &[(0, Access::Read), (1, Access::Read), (2, Access::ReadWrite)],
            ),
        }
    }

    pub fn encode(
        &self,
        rec: &mut Recorder,
        inputs: &[&GpuMatrix],
        weights: &[f32],
        order: ReduceOrder,
        out: &GpuMatrix,
    ) {
        assert_eq!(inputs.len(), weights.len(), "weighted_sum: one weight per input");
        assert!(!inputs.is_empty(), "weighted_sum: no inputs");
        for m in inputs {
            check_shape("weighted_sum", "input", (m.rows(), m.cols()), (out.rows(), out.cols()));
            check_buf("weighted_sum", "input", &m.buf, m.len());
        }
        check_buf("weighted_sum", "out", &out.buf, out.len());
        let n = out.len();
        if n == 0 {
            return;
        }
        let bytes = 4 * n as u64;
        let stacked_bytes = bytes * inputs.len() as u64;
        // Too many or too large inputs for one binding: an error at the next flush, not a panic.
        if let Err(e) = rec.alloc().check("weighted_sum stack", stacked_bytes, super::super::alloc::STORAGE) {
            rec.fail(e);
            return;
        }
        let stacked = rec.scratch("weighted_sum stack", stacked_bytes);
        for (p, m) in inputs.iter().enumerate() {
            rec.copy(&m.buf, 0, &stacked, p as u64 * bytes, bytes);
        }
        let order = match order {
            ReduceOrder::Flat => 0,
            ReduceOrder::Tree => 1,
        };
        let slot = rec.params_extra(bytemuck::cast_slice(weights), |extra| WeightedSumParams {
            n: n as u32,
            count: inputs.len() as u32,
            order,
            w_off: extra / 4,
        });
        rec.dispatch(
            &self.kernel,
            &[Bind::Buf(&stacked), Bind::Arena, Bind::Buf(&out.buf)],
            slot,
            groups("weighted_sum", n, Self::WORKGROUP as usize),
        );
    }
}
