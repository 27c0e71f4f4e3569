//! `gather_rows`, `scatter_rows`, `scatter_add_rows`, `add_rows`, `copy_cols` (and `copy_rows`, `zero` as buffer
//! commands): the boundary exchange between partition buffers; see `shaders/exchange.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuIndex, GpuMatrix};
use crate::backend::{head_shapes, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ExchangeParams {
    pub count: u32,
    pub width: u32,
    pub src_row0: u32,
    pub dst_row0: u32,
    /// copy_cols only (0 for the row moves).
    pub src_width: u32,
    pub dst_width: u32,
    pub src_col0: u32,
    pub dst_col0: u32,
}
const _: () = assert!(size_of::<ExchangeParams>() as u64 <= PARAM_BYTES);

pub struct Exchange {
    gather: Kernel,
    scatter: Kernel,
    scatter_add: Kernel,
    add: Kernel,
    copy_cols: Kernel,
}

/// A row index as the u32 the kernels take (rows of device buffers fit: the allocator checks
/// their byte size against limits far below 2^32 rows).
fn row(op: &str, r: usize) -> u32 {
    u32::try_from(r).unwrap_or_else(|_| panic!("{op}: row {r} does not fit u32"))
}

impl Exchange {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "exchange.wgsl", shaders::EXCHANGE);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            gather: kernel(device, params_layout, &m, "gather_rows", &[(0, r), (1, r), (2, w)]),
            scatter: kernel(device, params_layout, &m, "scatter_rows", &[(0, r), (1, r), (2, w)]),
            scatter_add: kernel(device, params_layout, &m, "scatter_add_rows", &[(0, r), (1, r), (2, w)]),
            add: kernel(device, params_layout, &m, "add_rows", &[(0, r), (2, w)]),
            copy_cols: kernel(device, params_layout, &m, "copy_cols", &[(0, r), (2, w)]),
        }
    }

    fn params(op: &str, count: usize, width: usize, src_row0: usize, dst_row0: usize) -> ExchangeParams {
        ExchangeParams {
            count: row(op, count),
            width: row(op, width),
            src_row0: row(op, src_row0),
            dst_row0: row(op, dst_row0),
            ..Zeroable::zeroed()
        }
    }

    pub fn gather_rows(&self, rec: &mut Recorder, src: &GpuMatrix, rows: &GpuIndex, dst: &GpuMatrix, dst_row0: usize) {
        assert_eq!(src.cols(), dst.cols(), "gather_rows: widths differ");
        assert!(dst_row0 + rows.len() <= dst.rows(), "gather_rows: dst has {} rows", dst.rows());
        check_buf("gather_rows", "src", &src.buf, src.len());
        check_buf("gather_rows", "rows", &rows.buf, rows.len());
        check_buf("gather_rows", "dst", &dst.buf, dst.len());
        let n = rows.len() * src.cols();
        if n == 0 {
            return;
        }
        let slot = rec.params(&Self::params("gather_rows", rows.len(), src.cols(), 0, dst_row0));
        let binds = [Bind::Buf(&src.buf), Bind::Buf(&rows.buf), Bind::Buf(&dst.buf)];
        rec.dispatch(&self.gather, &binds, slot, groups("gather_rows", n, Self::WORKGROUP as usize));
    }

    pub fn scatter_rows(&self, rec: &mut Recorder, src: &GpuMatrix, src_row0: usize, rows: &GpuIndex, dst: &GpuMatrix) {
        self.scatter(rec, &self.scatter, "scatter_rows", src, src_row0, rows, dst);
    }

    pub fn scatter_add_rows(
        &self,
        rec: &mut Recorder,
        src: &GpuMatrix,
        src_row0: usize,
        rows: &GpuIndex,
        dst: &GpuMatrix,
    ) {
        self.scatter(rec, &self.scatter_add, "scatter_add_rows", src, src_row0, rows, dst);
    }

    /// Rows `src_row0 ..` of `src` into rows `rows[k]` of `dst` with `kernel` (set or add).
    #[allow(clippy::too_many_arguments)]
    fn scatter(
        &self,
        rec: &mut Recorder,
        kernel: &Kernel,
        op: &str,
        src: &GpuMatrix,
        src_row0: usize,
        rows: &GpuIndex,
        dst: &GpuMatrix,
    ) {
        assert_eq!(src.cols(), dst.cols(), "{op}: widths differ");
        assert!(src_row0 + rows.len() <= src.rows(), "{op}: src has {} rows", src.rows());
        check_buf(op, "src", &src.buf, src.len());
        check_buf(op, "rows", &rows.buf, rows.len());
        check_buf(op, "dst", &dst.buf, dst.len());
        let n = rows.len() * src.cols();
        if n == 0 {
            return;
        }
        let slot = rec.params(&Self::params(op, rows.len(), src.cols(), src_row0, 0));
        let binds = [Bind::Buf(&src.buf), Bind::Buf(&rows.buf), Bind::Buf(&dst.buf)];
        rec.dispatch(kernel, &binds, slot, groups(op, n, Self::WORKGROUP as usize));
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_rows(
        &self,
        rec: &mut Recorder,
        src: &GpuMatrix,
        src_row0: usize,
        dst: &GpuMatrix,
        dst_row0: usize,
        count: usize,
    ) {
        check_rows("add_rows", src, src_row0, dst, dst_row0, count);
        let n = count * src.cols();
        if n == 0 {
            return;
        }
        let slot = rec.params(&Self::params("add_rows", count, src.cols(), src_row0, dst_row0));
        rec.dispatch(
            &self.add,
            &[Bind::Buf(&src.buf), Bind::Buf(&dst.buf)],
            slot,
            groups("add_rows", n, Self::WORKGROUP as usize),
        );
    }

    /// `dst[r, dst_col0 + c] = src[r, src_col0 + c]` for r < `rows`, c < `cols`.
    #[allow(clippy::too_many_arguments)]
    pub fn copy_cols(
        &self,
        rec: &mut Recorder,
        src: &GpuMatrix,
        src_col0: usize,
        dst: &GpuMatrix,
        dst_col0: usize,
        rows: usize,
        cols: usize,
    ) {
        head_shapes::copy_cols(src, src_col0, dst, dst_col0, rows, cols);
        check_buf("copy_cols", "src", &src.buf, src.len());
        check_buf("copy_cols", "dst", &dst.buf, dst.len());
        let n = rows * cols;
        if n == 0 {
            return;
        }
        let op = "copy_cols";
        let params = ExchangeParams {
            src_width: row(op, src.cols()),
            dst_width: row(op, dst.cols()),
            src_col0: row(op, src_col0),
            dst_col0: row(op, dst_col0),
            ..Self::params(op, rows, cols, 0, 0)
        };
        let slot = rec.params(&params);
        rec.dispatch(
            &self.copy_cols,
            &[Bind::Buf(&src.buf), Bind::Buf(&dst.buf)],
            slot,
            groups(op, n, Self::WORKGROUP as usize),
        );
    }

    /// A buffer-to-buffer copy of whole rows.
    pub fn copy_rows(
        rec: &mut Recorder,
        src: &GpuMatrix,
        src_row0: usize,
        dst: &GpuMatrix,
        dst_row0: usize,
        count: usize,
    ) {
        check_rows("copy_rows", src, src_row0, dst, dst_row0, count);
        let w = 4 * src.cols() as u64;
        rec.copy(&src.buf, src_row0 as u64 * w, &dst.buf, dst_row0 as u64 * w, count as u64 * w);
    }
}

/// Panics unless both row ranges exist and the widths agree.
#[track_caller]
fn check_rows(op: &str, src: &GpuMatrix, src_row0: usize, dst: &GpuMatrix, dst_row0: usize, count: usize) {
    assert_eq!(src.cols(), dst.cols(), "{op}: widths differ");
    assert!(src_row0 + count <= src.rows(), "{op}: src has {} rows, needs {}", src.rows(), src_row0 + count);
    assert!(dst_row0 + count <= dst.rows(), "{op}: dst has {} rows, needs {}", dst.rows(), dst_row0 + count);
    check_buf(op, "src", &src.buf, src.len());
    check_buf(op, "dst", &dst.buf, dst.len());
}
