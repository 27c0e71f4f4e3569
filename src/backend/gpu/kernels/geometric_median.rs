//! One Weiszfeld step's weights from the row-space distances: see
//! `shaders/geometric_median.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;
use crate::backend::robust::MAX_WORKERS;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GeometricMedianParams {
    pub n: u32,
    pub step: u32,
    pub nu: f32,
    pub tol: f32,
}
const _: () = assert!(size_of::<GeometricMedianParams>() as u64 <= PARAM_BYTES);

/// The Weiszfeld settings (see `RobustStep::GeometricMedian`).
#[derive(Clone, Copy, Debug)]
pub struct Weiszfeld {
    pub nu: f32,
    pub tol: f32,
}

pub struct GeometricMedian {
    kernel: Kernel,
}

impl GeometricMedian {
    /// One workgroup, one thread per row.
    pub const WORKGROUP: u32 = MAX_WORKERS as u32;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "geometric_median.wgsl", shaders::GEOMETRIC_MEDIAN);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "geometric_median", &[(0, r), (1, w), (2, w), (3, w)]) }
    }

    /// Step `step` (0-based): from `dists` (n, plus ‖z − z_prev‖ and ‖z‖ from step 1 on) the
    /// weights into `mix[0..n]` and `selection`, unless the previous step's change froze them
    /// (`state`, one u32, is written at step 0 and read after).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        dists: &GpuBuffer,
        n: usize,
        step: u32,
        w: Weiszfeld,
        mix: &GpuBuffer,
        selection: &GpuBuffer,
        state: &GpuBuffer,
    ) {
        assert!((1..=MAX_WORKERS).contains(&n), "geometric_median: {n} rows, the kernel takes 1..={MAX_WORKERS}");
        assert!(w.nu > 0.0, "geometric_median: nu = {}", w.nu);
        check_buf("geometric_median", "dists", dists, if step > 0 { n + 2 } else { n });
        check_buf("geometric_median", "mix", mix, n);
        check_buf("geometric_median", "selection", selection, n);
        check_buf("geometric_median", "state", state, 1);
        let slot = rec.params(&GeometricMedianParams { n: n as u32, step, nu: w.nu, tol: w.tol });
        let binds = [Bind::Buf(dists), Bind::Buf(mix), Bind::Buf(selection), Bind::Buf(state)];
        rec.dispatch(&self.kernel, &binds, slot, 1);
    }
}
