//! `relu` and `relu_backward`: see `shaders/relu.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ReluParams {
    pub n: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<ReluParams>() as u64 <= PARAM_BYTES);

pub struct Relu {
    forward: Kernel,
    backward: Kernel,
}

impl Relu {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "relu.wgsl", shaders::RELU);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            forward: kernel(device, params_layout, &m, "relu", &[(0, r), (2, w)]),
            backward: kernel(device, params_layout, &m, "relu_backward", &[(0, r), (1, r), (2, w)]),
        }
    }

    pub fn relu(&self, rec: &mut Recorder, x: &GpuMatrix, out: &GpuMatrix) {
        check_shape("relu", "out", (out.rows(), out.cols()), (x.rows(), x.cols()));
        check_buf("relu", "x", &x.buf, x.len());
        check_buf("relu", "out", &out.buf, out.len());
        let n = x.len();
        if n == 0 {
            return;
        }
        let slot = rec.params(&ReluParams { n: n as u32, _pad: [0; 3] });
        rec.dispatch(
            &self.forward,
            &[Bind::Buf(&x.buf), Bind::Buf(&out.buf)],
            slot,
            groups("relu", n, Self::WORKGROUP as usize),
        );
    }

    pub fn relu_backward(&self, rec: &mut Recorder, output: &GpuMatrix, grad: &GpuMatrix, out: &GpuMatrix) {
        check_shape("relu_backward", "grad", (grad.rows(), grad.cols()), (output.rows(), output.cols()));
        check_shape("relu_backward", "out", (out.rows(), out.cols()), (output.rows(), output.cols()));
        check_buf("relu_backward", "output", &output.buf, output.len());
        check_buf("relu_backward", "grad", &grad.buf, grad.len());
        check_buf("relu_backward", "out", &out.buf, out.len());
        let n = output.len();
        if n == 0 {
            return;
        }
        let slot = rec.params(&ReluParams { n: n as u32, _pad: [0; 3] });
        rec.dispatch(
            &self.backward,
            &[Bind::Buf(&output.buf), Bind::Buf(&grad.buf), Bind::Buf(&out.buf)],
            slot,
            groups("relu_backward", n, Self::WORKGROUP as usize),
        );
    }
}
