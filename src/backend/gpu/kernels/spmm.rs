//! `out = A · X` for CSR `A`: see `shaders/spmm.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix, GpuSparse};
use crate::backend::Shape;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SpmmParams {
    pub rows: u32,
    pub k: u32,
    pub tw: u32,
    pub rows_per_wg: u32,
    pub col_tiles: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<SpmmParams>() as u64 <= PARAM_BYTES);

pub struct Spmm {
    kernel: Kernel,
}

impl Spmm {
    pub const WORKGROUP: u32 = 256;
    /// Widest column tile one row gets in a workgroup.
    pub const MAX_TILE: usize = 64;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "spmm.wgsl", shaders::SPMM);
        let r = Access::Read;
        Self {
            kernel: kernel(
                device,
                params_layout,
                &m,
                "spmm",
                &[(0, r), (1, r), (2, r), (3, r), (4, Access::ReadWrite)],
            ),
        }
    }

    /// Tiling for k columns: (column tiles, threads per row, rows per workgroup). Small k packs
    /// several rows into a workgroup; large k splits into tiles of ≤ 64 of near-equal width.
    pub fn tiling(k: usize) -> (usize, usize, usize) {
        let col_tiles = k.div_ceil(Self::MAX_TILE).max(1);
        let tw = k.div_ceil(col_tiles).max(1);
        (col_tiles, tw, Self::WORKGROUP as usize / tw)
    }

    pub fn encode(&self, rec: &mut Recorder, a: &GpuSparse, x: &GpuMatrix, out: &GpuMatrix) {
        // x and out may be longer shared scratch buffers: only their first rows are used.
        assert!(x.rows() >= a.cols(), "spmm: x has {} rows, A has {} columns", x.rows(), a.cols());
        assert!(
            out.rows() >= a.rows() && out.cols() == x.cols(),
            "spmm: out is {}x{}, needs {}x{}",
            out.rows(),
            out.cols(),
            a.rows(),
            x.cols()
        );
        let s = &a.structure;
        check_buf("spmm", "row_ptr", &s.row_ptr, s.rows + 1);
        check_buf("spmm", "col_idx", &s.col_idx, s.nnz);
        check_buf("spmm", "values", &a.values, s.nnz);
        check_buf("spmm", "x", &x.buf, x.len());
        check_buf("spmm", "out", &out.buf, out.len());
        let (rows, k) = (a.rows(), x.cols());
        if rows == 0 || k == 0 {
            return;
        }
        let (col_tiles, tw, rows_per_wg) = Self::tiling(k);
        let params = SpmmParams {
            rows: rows as u32,
            k: k as u32,
            tw: tw as u32,
            rows_per_wg: rows_per_wg as u32,
            col_tiles: col_tiles as u32,
            _pad: [0; 3],
        };
        let n_groups =
            groups("spmm", rows, rows_per_wg).checked_mul(col_tiles as u32).expect("spmm: too many workgroups");
        let slot = rec.params(&params);
        rec.dispatch(
            &self.kernel,
            &[
                Bind::Buf(&s.row_ptr),
                Bind::Buf(&s.col_idx),
                Bind::Buf(&a.values),
                Bind::Buf(&x.buf),
                Bind::Buf(&out.buf),
            ],
            slot,
            n_groups,
        );
    }
}
