//! Smoothed Weiszfeld weights in n-space: see `shaders/geometric_median.wgsl`.

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
    pub iters: u32,
    pub nu: f32,
    pub tol: f32,
    pub inv_n: f32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<GeometricMedianParams>() as u64 <= PARAM_BYTES);

/// The Weiszfeld settings (see `RobustStep::GeometricMedian`).
#[derive(Clone, Copy, Debug)]
pub struct Weiszfeld {
    pub nu: f32,
    pub tol: f32,
    pub iters: u32,
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
        Self { kernel: kernel(device, params_layout, &m, "geometric_median", &[(0, r), (1, r), (2, w), (3, w)]) }
    }

    /// From the Gram and squared-distance matrices (n × n) of the rows: the final weights into
    /// `mix[0..n]` and `selection`, the scale 1 into `mix[n]`.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        gram: &GpuBuffer,
        dists: &GpuBuffer,
        n: usize,
        w: Weiszfeld,
        mix: &GpuBuffer,
        selection: &GpuBuffer,
    ) {
        assert!((1..=MAX_WORKERS).contains(&n), "geometric_median: {n} rows, the kernel takes 1..={MAX_WORKERS}");
        assert!(w.nu > 0.0 && w.iters >= 1, "geometric_median: nu = {}, iters = {}", w.nu, w.iters);
        check_buf("geometric_median", "gram", gram, n * n);
        check_buf("geometric_median", "dists", dists, n * n);
        check_buf("geometric_median", "mix", mix, n + 1);
        check_buf("geometric_median", "selection", selection, n);
        let slot = rec.params(&GeometricMedianParams {
            n: n as u32,
            iters: w.iters,
            nu: w.nu,
            tol: w.tol,
            inv_n: 1.0 / n as f32,
            _pad: [0; 3],
        });
        rec.dispatch(&self.kernel, &[Bind::Buf(gram), Bind::Buf(dists), Bind::Buf(mix), Bind::Buf(selection)], slot, 1);
    }
}
