//! Coordinate-wise trimmed mean and median with their selection: see `shaders/trimmed_mean.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::cpu::robust::trimmed_mean_selection_scale;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::robust::MAX_WORKERS;
use crate::backend::{check_shape, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct TrimmedMeanParams {
    pub n: u32,
    pub d: u32,
    pub lo: u32,
    pub hi: u32,
    pub scale: f32,
    pub groups: u32,
    pub sel_scale: f32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<TrimmedMeanParams>() as u64 <= PARAM_BYTES);

pub struct TrimmedMean {
    rank: Kernel,
    selection: Kernel,
}

impl TrimmedMean {
    /// Coordinates per workgroup.
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "trimmed_mean.wgsl", shaders::TRIMMED_MEAN);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            rank: kernel(device, params_layout, &m, "trimmed_mean", &[(0, r), (1, w), (2, w)]),
            selection: kernel(device, params_layout, &m, "trimmed_mean_selection", &[(2, w), (3, w)]),
        }
    }

    /// Per coordinate of `g` (n × d), the mean of the values of rank lo..hi into `out` (1 × d);
    /// each row's share into `selection` (1 × n).
    pub fn encode(&self, rec: &mut Recorder, g: &GpuMatrix, lo: usize, hi: usize, out: &GpuMatrix, sel: &GpuMatrix) {
        let (n, d) = (g.rows(), g.cols());
        assert!(n <= MAX_WORKERS, "trimmed_mean: {n} rows, the kernel ranks at most {MAX_WORKERS}");
        assert!(lo < hi && hi <= n, "trimmed_mean: rank window {lo}..{hi} of {n} rows");
        assert!(d > 0, "trimmed_mean: g has no columns");
        check_shape("trimmed_mean", "out", (out.rows(), out.cols()), (1, d));
        check_shape("trimmed_mean", "selection", (sel.rows(), sel.cols()), (1, n));
        check_buf("trimmed_mean", "g", &g.buf, g.len());
        check_buf("trimmed_mean", "out", &out.buf, d);
        check_buf("trimmed_mean", "selection", &sel.buf, n);
        let wgs = groups("trimmed_mean", d, Self::WORKGROUP as usize);
        let partials = rec.scratch("trimmed_mean partials", 4 * wgs as u64 * n as u64);
        let slot = rec.params(&TrimmedMeanParams {
            n: n as u32,
            d: d as u32,
            lo: lo as u32,
            hi: hi as u32,
            scale: 1.0 / (hi - lo) as f32,
            groups: wgs,
            sel_scale: trimmed_mean_selection_scale(d, hi - lo),
            _pad: 0,
        });
        rec.dispatch(&self.rank, &[Bind::Buf(&g.buf), Bind::Buf(&out.buf), Bind::Buf(&partials)], slot, wgs);
        rec.dispatch(&self.selection, &[Bind::Buf(&partials), Bind::Buf(&sel.buf)], slot, 1);
    }
}
