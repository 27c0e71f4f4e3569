//! Adam and SGD steps: see `shaders/optimizer.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, AdamStep, SgdStep, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct OptimizerParams {
    pub n: u32,
    /// lr_t for Adam, lr for SGD.
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub _pad: [u32; 2],
}
const _: () = assert!(size_of::<OptimizerParams>() as u64 <= PARAM_BYTES);

pub struct Optimizer {
    adam: Kernel,
    sgd: Kernel,
}

impl Optimizer {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "optimizer.wgsl", shaders::OPTIMIZER);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            adam: kernel(device, params_layout, &m, "adam_step", &[(0, w), (1, r), (2, w), (3, w)]),
            sgd: kernel(device, params_layout, &m, "sgd_step", &[(0, w), (1, r)]),
        }
    }

    pub fn adam(
        &self,
        rec: &mut Recorder,
        param: &GpuMatrix,
        grad: &GpuMatrix,
        m: &GpuMatrix,
        v: &GpuMatrix,
        s: &AdamStep,
    ) {
        let shape = (param.rows(), param.cols());
        check_shape("adam_step", "grad", (grad.rows(), grad.cols()), shape);
        check_shape("adam_step", "m", (m.rows(), m.cols()), shape);
        check_shape("adam_step", "v", (v.rows(), v.cols()), shape);
        for (what, b) in [("param", param), ("grad", grad), ("m", m), ("v", v)] {
            check_buf("adam_step", what, &b.buf, param.len());
        }
        let n = param.len();
        if n == 0 {
            return;
        }
        let params = OptimizerParams {
            n: n as u32,
            lr: s.lr_t,
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            weight_decay: s.weight_decay,
            _pad: [0; 2],
        };
        let slot = rec.params(&params);
        rec.dispatch(
            &self.adam,
            &[Bind::Buf(&param.buf), Bind::Buf(&grad.buf), Bind::Buf(&m.buf), Bind::Buf(&v.buf)],
            slot,
            groups("adam_step", n, Self::WORKGROUP as usize),
        );
    }

    pub fn sgd(&self, rec: &mut Recorder, param: &GpuMatrix, grad: &GpuMatrix, s: &SgdStep) {
        check_shape("sgd_step", "grad", (grad.rows(), grad.cols()), (param.rows(), param.cols()));
        check_buf("sgd_step", "param", &param.buf, param.len());
        check_buf("sgd_step", "grad", &grad.buf, grad.len());
        let n = param.len();
        if n == 0 {
            return;
        }
        let params = OptimizerParams {
            n: n as u32,
            lr: s.lr,
            beta1: 0.0,
            beta2: 0.0,
            eps: 0.0,
            weight_decay: s.weight_decay,
            _pad: [0; 2],
        };
        let slot = rec.params(&params);
        rec.dispatch(
            &self.sgd,
            &[Bind::Buf(&param.buf), Bind::Buf(&grad.buf)],
            slot,
            groups("sgd_step", n, Self::WORKGROUP as usize),
        );
    }
}
