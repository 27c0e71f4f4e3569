//! `elu` and `elu_backward` (ELU, α = 1): see `shaders/elu.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct EluParams {
    pub n: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<EluParams>() as u64 <= PARAM_BYTES);

pub struct Elu {
    forward: Kernel,
    backward: Kernel,
}

impl Elu {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "elu.wgsl", shaders::ELU);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            forward: kernel(device, params_layout, &m, "elu", &[(0, r), (2, w)]),
            backward: kernel(device, params_layout, &m, "elu_backward", &[(0, r), (1, r), (2, w)]),
        }
    }

    pub fn elu(&self, rec: &mut Recorder, x: &GpuMatrix, out: &GpuMatrix) {
        check_shape("elu", "out", (out.rows(), out.cols()), (x.rows(), x.cols()));
        check_buf("elu", "x", &x.buf, x.len());
        check_buf("elu", "out", &out.buf, out.len());
        let n = x.len();
        if n == 0 {
            return;
        }
        let slot = rec.params(&EluParams { n: n as u32, _pad: [0; 3] });
        rec.dispatch(
            &self.forward,
            &[Bind::Buf(&x.buf), Bind::Buf(&out.buf)],
            slot,
            groups("elu", n, Self::WORKGROUP as usize),
        );
    }

    pub fn elu_backward(&self, rec: &mut Recorder, output: &GpuMatrix, grad: &GpuMatrix, out: &GpuMatrix) {
        check_shape("elu_backward", "grad", (grad.rows(), grad.cols()), (output.rows(), output.cols()));
        check_shape("elu_backward", "out", (out.rows(), out.cols()), (output.rows(), output.cols()));
        check_buf("elu_backward", "output", &output.buf, output.len());
        check_buf("elu_backward", "grad", &grad.buf, grad.len());
        check_buf("elu_backward", "out", &out.buf, out.len());
        let n = output.len();
        if n == 0 {
            return;
        }
        let slot = rec.params(&EluParams { n: n as u32, _pad: [0; 3] });
        rec.dispatch(
            &self.backward,
            &[Bind::Buf(&output.buf), Bind::Buf(&grad.buf), Bind::Buf(&out.buf)],
            slot,
            groups("elu_backward", n, Self::WORKGROUP as usize),
        );
    }
}
