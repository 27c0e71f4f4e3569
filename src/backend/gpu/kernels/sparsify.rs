//! `select_rows`: top-k and rand-k per row by radix select: see `shaders/sparsify.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, kernel, module, Access};
use crate::backend::compress::RowCodec;
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SparsifyParams {
    pub rows: u32,
    pub cols: u32,
    pub k: u32,
    pub mode: u32,
    pub stream: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<SparsifyParams>() as u64 <= PARAM_BYTES);

pub struct Sparsify {
    select: Kernel,
}

impl Sparsify {
    /// Threads per row.
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "sparsify.wgsl", shaders::SPARSIFY);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self { select: kernel(device, params_layout, &m, "select_rows", &[(0, r), (1, r), (2, w)]) }
    }

    /// `out` = `v` (rows × cols) with all but the k selected values of each row zeroed.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        v: &GpuBuffer,
        rows: usize,
        cols: usize,
        row_ids: &GpuBuffer,
        codec: &RowCodec,
        stream: u32,
        out: &GpuBuffer,
    ) {
        let n = rows * cols;
        check_buf("sparsify", "x", v, n);
        check_buf("sparsify", "out", out, n);
        check_buf("sparsify", "row_ids", row_ids, rows);
        codec.check("sparsify", cols);
        let (mode, k) = match *codec {
            RowCodec::TopK { k } => (0, k),
            RowCodec::RandK { k } => (1, k),
            _ => panic!("sparsify: {codec:?} is not a sparsifier"),
        };
        if n == 0 {
            return;
        }
        assert!(u32::try_from(n).is_ok(), "sparsify: {n} elements exceed u32 indices");
        let slot = rec.params(&SparsifyParams {
            rows: rows as u32,
            cols: cols as u32,
            k: k as u32,
            mode,
            stream,
            _pad: [0; 3],
        });
        let g = u32::try_from(rows).unwrap_or_else(|_| panic!("sparsify: {rows} rows need too many workgroups"));
        rec.dispatch(&self.select, &[Bind::Buf(v), Bind::Buf(row_ids), Bind::Buf(out)], slot, g);
    }
}
