//! `out = A · X` for CSR `A`: see `shaders/spmm.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::alloc::{self, Allocator, GpuBuffer};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix, GpuSparse};
use crate::backend::{BackendError, MemCategory, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SpmmParams {
    pub rows: u32,
    pub k: u32,
    pub tw: u32,
    pub rows_per_wg: u32,
    pub col_tiles: u32,
    /// Rows with more entries are left to the segment kernels (u32::MAX: none).
    pub max_row: u32,
    /// Long rows and their segments in the plan (segment kernels).
    pub long_rows: u32,
    pub segments: u32,
}
const _: () = assert!(size_of::<SpmmParams>() as u64 <= PARAM_BYTES);

pub struct Spmm {
    kernel: Kernel,
    segments: Kernel,
    combine: Kernel,
}

/// The long rows of a CSR and their segments, planned once on the host at upload (one u32
/// buffer): the long rows' ids (L), the index of each one's first segment (L + 1, the last =
/// S), and each segment's (start, end) entry range (2·S).
#[derive(Debug)]
pub struct LongRows {
    pub rows: usize,
    pub segments: usize,
    pub plan: GpuBuffer,
}

impl LongRows {
    /// `None` when no row is longer than [`Spmm::SEGMENT`].
    pub fn plan(
        alloc: &Allocator,
        row_ptr: &[u32],
        category: MemCategory,
        label: &str,
    ) -> Result<Option<Self>, BackendError> {
        let seg = Spmm::SEGMENT as u32;
        let (mut ids, mut first, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
        for (r, w) in row_ptr.windows(2).enumerate() {
            if w[1] - w[0] <= seg {
                continue;
            }
            ids.push(r as u32);
            first.push((ranges.len() / 2) as u32);
            for start in (w[0]..w[1]).step_by(seg as usize) {
                ranges.extend([start, (start + seg).min(w[1])]);
            }
        }
        if ids.is_empty() {
            return Ok(None);
        }
        let (rows, segments) = (ids.len(), ranges.len() / 2);
        first.push(segments as u32);
        let data: Vec<u32> = ids.into_iter().chain(first).chain(ranges).collect();
        let plan =
            alloc.create_init(&format!("{label}.long_rows"), category, bytemuck::cast_slice(&data), alloc::STORAGE)?;
        Ok(Some(Self { rows, segments, plan }))
    }
}

impl Spmm {
    pub const WORKGROUP: u32 = 256;
    /// Widest column tile one row gets in a workgroup.
    pub const MAX_TILE: usize = 64;
    /// Entries per segment of a long row: a row with more is summed by segments in parallel and
    /// then across its segments (so one hub row does not hold up its workgroup), in a fixed
    /// order. Shorter rows keep one thread per output element, summed in stored order.
    pub const SEGMENT: usize = 128;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "spmm.wgsl", shaders::SPMM);
        let r = Access::Read;
        let w = Access::ReadWrite;
        Self {
            kernel: kernel(device, params_layout, &m, "spmm", &[(0, r), (1, r), (2, r), (3, r), (4, w)]),
            segments: kernel(device, params_layout, &m, "spmm_segments", &[(1, r), (2, r), (3, r), (5, r), (6, w)]),
            combine: kernel(device, params_layout, &m, "spmm_combine", &[(4, w), (5, r), (6, w)]),
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
        let long = s.long_rows.as_ref();
        let params = SpmmParams {
            rows: rows as u32,
            k: k as u32,
            tw: tw as u32,
            rows_per_wg: rows_per_wg as u32,
            col_tiles: col_tiles as u32,
            max_row: if long.is_some() { Self::SEGMENT as u32 } else { u32::MAX },
            long_rows: long.map_or(0, |l| l.rows as u32),
            segments: long.map_or(0, |l| l.segments as u32),
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
        let Some(long) = long else { return };
        let part = rec.scratch("spmm segment partials", 4 * (long.segments * k) as u64);
        let binds =
            [Bind::Buf(&s.col_idx), Bind::Buf(&a.values), Bind::Buf(&x.buf), Bind::Buf(&long.plan), Bind::Buf(&part)];
        let wg = Self::WORKGROUP as usize;
        rec.dispatch(&self.segments, &binds, slot, groups("spmm", long.segments * k, wg));
        let binds = [Bind::Buf(&out.buf), Bind::Buf(&long.plan), Bind::Buf(&part)];
        rec.dispatch(&self.combine, &binds, slot, groups("spmm", long.rows * k, wg));
    }
}
