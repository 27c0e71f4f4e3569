//! Distances from a point to rows in row space: see `shaders/row_distances.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;
use crate::backend::row_space::LANES;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct RowDistancesParams {
    pub rows: u32,
    pub d: u32,
    pub extra: u32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<RowDistancesParams>() as u64 <= PARAM_BYTES);

pub struct RowDistances {
    kernel: Kernel,
}

impl RowDistances {
    /// One workgroup per distance, one lane per `LANES`-th element.
    pub const WORKGROUP: u32 = LANES as u32;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "row_distances.wgsl", shaders::ROW_DISTANCES);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { kernel: kernel(device, params_layout, &m, "row_distances", &[(0, r), (1, r), (2, r), (3, w)]) }
    }

    /// `out[r]` = ‖z − x_r‖ for the `rows` rows of x (rows × d); with `prev`, also `out[rows]` =
    /// ‖z − prev‖ and `out[rows + 1]` = ‖z‖.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        x: &GpuBuffer,
        rows: usize,
        d: usize,
        z: &GpuBuffer,
        prev: Option<&GpuBuffer>,
        out: &GpuBuffer,
    ) {
        assert!(rows >= 1 && d >= 1, "row_distances: {rows} rows of {d}");
        let extra = if prev.is_some() { 2 } else { 0 };
        check_buf("row_distances", "x", x, rows * d);
        check_buf("row_distances", "z", z, d);
        check_buf("row_distances", "out", out, rows + extra);
        if let Some(prev) = prev {
            check_buf("row_distances", "prev", prev, d);
        }
        let slot = rec.params(&RowDistancesParams { rows: rows as u32, d: d as u32, extra: extra as u32, _pad: 0 });
        // Without prev the kernel never reads it: bind z in its place.
        let prev = prev.unwrap_or(z);
        let binds = [Bind::Buf(x), Bind::Buf(z), Bind::Buf(prev), Bind::Buf(out)];
        rec.dispatch(&self.kernel, &binds, slot, (rows + extra) as u32);
    }
}
