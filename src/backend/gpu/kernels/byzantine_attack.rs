//! Byzantine attacks in place: see `shaders/byzantine_attack.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuIndex, GpuMatrix};
use crate::backend::{AttackStep, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ByzantineAttackParams {
    pub n: u32,
    pub d: u32,
    /// See the shader: 1 a multiple of the own row … 6 gaussian.
    pub kind: u32,
    pub stream: u32,
    /// The row mimic copies.
    pub mimic_row: u32,
    /// factor, z or σ.
    pub a: f32,
    pub _pad: [u32; 2],
}
const _: () = assert!(size_of::<ByzantineAttackParams>() as u64 <= PARAM_BYTES);

pub struct ByzantineAttack {
    kernel: Kernel,
}

impl ByzantineAttack {
    /// Coordinates per workgroup.
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "byzantine_attack.wgsl", shaders::BYZANTINE_ATTACK);
        Self {
            kernel: kernel(device, params_layout, &m, "byzantine_attack", &[(0, Access::ReadWrite), (1, Access::Read)]),
        }
    }

    pub fn encode(&self, rec: &mut Recorder, g: &GpuMatrix, byzantine: &GpuIndex, attack: &AttackStep) {
        let (n, d) = (g.rows(), g.cols());
        assert_eq!(byzantine.len(), n, "byzantine_attack: {n} rows need {n} flags");
        check_buf("byzantine_attack", "g", &g.buf, g.len());
        check_buf("byzantine_attack", "byzantine", &byzantine.buf, n);
        let (kind, a, stream, target) = match *attack {
            AttackStep::None => return,
            AttackStep::OwnMultiple { factor } => (1, factor, 0, 0),
            AttackStep::Zero => (2, 0.0, 0, 0),
            AttackStep::Mimic { target } => {
                assert!((target as usize) < n, "byzantine_attack: mimic target {target} of {n} rows");
                (3, 0.0, 0, target)
            }
            AttackStep::MeanMultiple { factor } => (4, factor, 0, 0),
            AttackStep::Alie { z } => (5, z, 0, 0),
            AttackStep::Gaussian { sigma, stream } => (6, sigma, stream, 0),
        };
        if g.is_empty() {
            return;
        }
        let slot = rec.params(&ByzantineAttackParams {
            n: n as u32,
            d: d as u32,
            kind,
            stream,
            mimic_row: target,
            a,
            _pad: [0; 2],
        });
        rec.dispatch(
            &self.kernel,
            &[Bind::Buf(&g.buf), Bind::Buf(&byzantine.buf)],
            slot,
            groups("byzantine_attack", d, Self::WORKGROUP as usize),
        );
    }
}
