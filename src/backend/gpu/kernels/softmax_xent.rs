//! Fused masked softmax cross-entropy (per-row kernel) followed by the per-split reduction
//! into the stats slot: see `shaders/softmax_xent.wgsl` and `shaders/reduce.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::reduce::{Mode, Reduce};
use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuIndex, GpuMatrix, GpuStats};
use crate::backend::{check_shape, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SoftmaxXentParams {
    pub rows: u32,
    pub cols: u32,
    pub grad_scale: f32,
    pub has_grad: u32,
}
const _: () = assert!(size_of::<SoftmaxXentParams>() as u64 <= PARAM_BYTES);

pub struct SoftmaxXent {
    kernel: Kernel,
}

impl SoftmaxXent {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "softmax_xent.wgsl", shaders::SOFTMAX_XENT);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "softmax_xent", &[(0, r), (1, r), (2, r), (3, w), (4, w)]) }
    }

    /// Per-row losses go to a reused scratch buffer (2 floats per row); without `grad` a
    /// 4-byte dummy is bound in its place.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        reduce: &Reduce,
        logits: &GpuMatrix,
        labels: &GpuIndex,
        split: &GpuIndex,
        grad_scale: f32,
        grad: Option<&GpuMatrix>,
        stats: &GpuStats,
        slot: usize,
    ) {
        let (rows, cols) = (logits.rows(), logits.cols());
        assert_eq!(labels.len(), rows, "softmax_xent: one label per row");
        assert_eq!(split.len(), rows, "softmax_xent: one split code per row");
        assert!(rows == 0 || cols > 0, "softmax_xent: logits have no classes");
        assert!(slot < stats.slots, "softmax_xent: stats slot {slot} of {}", stats.slots);
        if let Some(g) = grad {
            check_shape("softmax_xent", "grad", (g.rows(), g.cols()), (rows, cols));
            check_buf("softmax_xent", "grad", &g.buf, g.len());
        }
        check_buf("softmax_xent", "logits", &logits.buf, logits.len());
        check_buf("softmax_xent", "labels", &labels.buf, rows);
        check_buf("softmax_xent", "split", &split.buf, rows);
        let rowstats = rec.scratch("softmax_xent rows", 8 * rows as u64);
        if rows > 0 {
            let dummy;
            let grad_buf = match grad {
                Some(g) => &g.buf,
                None => {
                    // The recorder's placeholder (made with it): a buffer allocated here, on the
                    // first evaluation, would make a process's first epoch differ in peak memory.
                    dummy = rec.placeholder();
                    &*dummy
                }
            };
            let params =
                SoftmaxXentParams { rows: rows as u32, cols: cols as u32, grad_scale, has_grad: grad.is_some() as u32 };
            let p = rec.params(&params);
            let binds = [
                Bind::Buf(&logits.buf),
                Bind::Buf(&labels.buf),
                Bind::Buf(&split.buf),
                Bind::Buf(grad_buf),
                Bind::Buf(&rowstats),
            ];
            rec.dispatch(&self.kernel, &binds, p, groups("softmax_xent", rows, Self::WORKGROUP as usize));
        }
        // Always runs (one workgroup for 0 rows), so the slot is overwritten even then.
        reduce.encode(rec, Mode::Xent, &rowstats, &split.buf, rows, stats, slot, 0);
    }
}
