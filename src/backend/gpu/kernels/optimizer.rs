//! Optimizer steps (SGD, momentum, Nesterov, Adagrad, RMSprop, Adam, AdamW, FTRL): see
//! `shaders/optimizer.wgsl` and `backend::optim`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, OptimizerStep, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct OptimizerParams {
    pub n: u32,
    /// The step's parameters in `OptimizerStep::packed` order.
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// AdamW's `keep` (0 for the others).
    pub extra: f32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<OptimizerParams>() as u64 <= PARAM_BYTES);

pub struct Optimizer {
    adam: Kernel,
    sgd: Kernel,
    /// One kernel per `OptimizerStep` variant, by [`OptimizerStep::name`].
    steps: Vec<Kernel>,
}

impl Optimizer {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "optimizer.wgsl", shaders::OPTIMIZER);
        let (r, w) = (Access::Read, Access::ReadWrite);
        let state = |slots: usize| [(0, w), (1, r), (2, w), (3, w)][..2 + slots].to_vec();
        let steps = [
            ("momentum_step", 1),
            ("nesterov_step", 1),
            ("adagrad_step", 1),
            ("rmsprop_step", 1),
            ("adamw_step", 2),
            ("ftrl_step", 2),
        ]
        .into_iter()
        .map(|(entry, slots)| kernel(device, params_layout, &m, entry, &state(slots)))
        .collect();
        Self {
            adam: kernel(device, params_layout, &m, "adam_step", &[(0, w), (1, r), (2, w), (3, w)]),
            sgd: kernel(device, params_layout, &m, "sgd_step", &[(0, w), (1, r)]),
            steps,
        }
    }

    /// `Backend::optimizer_step`.
    pub fn step(
        &self,
        rec: &mut Recorder,
        param: &GpuMatrix,
        grad: &GpuMatrix,
        state: &[GpuMatrix],
        s: &OptimizerStep,
    ) {
        let op = s.name();
        let shape = (param.rows(), param.cols());
        assert_eq!(state.len(), s.state_slots(), "{op}: state slots");
        check_shape(op, "grad", (grad.rows(), grad.cols()), shape);
        check_buf(op, "param", &param.buf, param.len());
        check_buf(op, "grad", &grad.buf, param.len());
        for st in state {
            check_shape(op, "state", (st.rows(), st.cols()), shape);
            check_buf(op, "state", &st.buf, param.len());
        }
        let n = param.len();
        if n == 0 {
            return;
        }
        let kernel = match s {
            OptimizerStep::Sgd { .. } => &self.sgd,
            OptimizerStep::Adam(_) => &self.adam,
            _ => self.steps.iter().find(|k| k.name == op).expect("a kernel per optimizer"),
        };
        let [lr, beta1, beta2, eps, weight_decay, extra] = s.packed();
        let params = OptimizerParams { n: n as u32, lr, beta1, beta2, eps, weight_decay, extra, _pad: 0 };
        let slot = rec.params(&params);
        let mut binds = vec![Bind::Buf(&param.buf), Bind::Buf(&grad.buf)];
        binds.extend(state.iter().map(|st| Bind::Buf(&st.buf)));
        rec.dispatch(kernel, &binds, slot, groups(op, n, Self::WORKGROUP as usize));
    }
}
