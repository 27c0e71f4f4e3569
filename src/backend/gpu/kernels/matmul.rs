//! `out = op(A) · op(B)`: see `shaders/matmul.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, kernel_with, module, row_ranges, rows_of, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{check_shape, BackendError, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub kd: u32,
    pub lda: u32,
    pub ldb: u32,
    pub ta: u32,
    pub tb: u32,
    pub tiles_n: u32,
    pub tiles: u32,
    pub splits: u32,
    pub chunk: u32,
    /// `matmul_split`: index of this dispatch's first k chunk in the partials.
    pub split_base: u32,
}
const _: () = assert!(size_of::<MatmulParams>() as u64 <= PARAM_BYTES);

/// A row-major `rows × cols` matrix in a buffer: a [`GpuMatrix`] or a scratch buffer.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub buf: &'a GpuBuffer,
    pub rows: usize,
    pub cols: usize,
}

impl<'a> From<&'a GpuMatrix> for Operand<'a> {
    fn from(m: &'a GpuMatrix) -> Self {
        Operand { buf: &m.buf, rows: m.rows(), cols: m.cols() }
    }
}

pub struct Matmul {
    /// [R = 1, R = 4] variants.
    direct: [Kernel; 2],
    split: [Kernel; 2],
    sum_splits: Kernel,
}

impl Matmul {
    /// Output tile: 16·R rows × BN columns per workgroup of 16 × 16 threads, R rows per thread.
    pub const BN: usize = 16;
    pub const BK: usize = 16;
    pub const WORKGROUP: u32 = 256;
    /// Split k only when each chunk still gets at least this much k.
    pub const MIN_CHUNK: usize = 256;
    /// Split k until about this many workgroups run.
    pub const TARGET_GROUPS: usize = 512;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "matmul.wgsl", shaders::MATMUL);
        let (r, w) = (Access::Read, Access::ReadWrite);
        let rw = [(0, r), (1, r), (2, w)];
        let rs = [(0, r), (1, r), (3, w)];
        Self {
            direct: [
                kernel_with(device, params_layout, &m, "matmul", "matmul r1", &rw, &[("R", 1.0)]),
                kernel_with(device, params_layout, &m, "matmul", "matmul r4", &rw, &[("R", 4.0)]),
            ],
            split: [
                kernel_with(device, params_layout, &m, "matmul_split", "matmul_split r1", &rs, &[("R", 1.0)]),
                kernel_with(device, params_layout, &m, "matmul_split", "matmul_split r4", &rs, &[("R", 4.0)]),
            ],
            sum_splits: kernel(device, params_layout, &m, "matmul_sum_splits", &[(2, w), (3, w)]),
        }
    }

    /// Rows per thread: 1 when one 16-row tile covers m (no padding rows computed), else 4.
    pub fn rows_per_thread(m: usize) -> usize {
        if m <= 16 {
            1
        } else {
            4
        }
    }

    /// (splits, chunk) for k = `kd` over `tiles` output tiles. Depends on the shape only, so a
    /// result is reproducible on every device.
    pub fn split_k(kd: usize, tiles: usize) -> (usize, usize) {
        let want = Self::TARGET_GROUPS.div_ceil(tiles.max(1));
        let splits = kd.div_ceil(Self::MIN_CHUNK).min(want).max(1);
        let chunk = kd.div_ceil(splits).next_multiple_of(Self::BK).max(Self::BK);
        (kd.div_ceil(chunk).max(1), chunk)
    }

    pub fn encode(&self, rec: &mut Recorder, a: &GpuMatrix, b: &GpuMatrix, out: &GpuMatrix, ta: bool, tb: bool) {
        self.encode_operands(rec, a.into(), b.into(), out.into(), ta, tb);
    }

    /// [`Self::encode`] on matrices that may live in scratch buffers.
    pub fn encode_operands(
        &self,
        rec: &mut Recorder,
        a: Operand<'_>,
        b: Operand<'_>,
        out: Operand<'_>,
        ta: bool,
        tb: bool,
    ) {
        let (m, ka) = if ta { (a.cols, a.rows) } else { (a.rows, a.cols) };
        let (kb, n) = if tb { (b.cols, b.rows) } else { (b.rows, b.cols) };
        assert!(ka == kb, "matmul: inner dimensions {ka} and {kb} differ");
        check_shape("matmul", "out", (out.rows, out.cols), (m, n));
        check_buf("matmul", "a", a.buf, a.rows * a.cols);
        check_buf("matmul", "b", b.buf, b.rows * b.cols);
        check_buf("matmul", "out", out.buf, out.rows * out.cols);
        if m == 0 || n == 0 {
            return;
        }
        let rows = Self::rows_per_thread(m);
        let variant = usize::from(rows == 4);
        let tiles_n = n.div_ceil(Self::BN);
        let tiles = groups("matmul", m, 16 * rows) as usize * tiles_n;
        let (splits, chunk) = Self::split_k(ka, tiles);
        let params = MatmulParams {
            m: m as u32,
            n: n as u32,
            kd: ka as u32,
            lda: a.cols as u32,
            ldb: b.cols as u32,
            ta: ta as u32,
            tb: tb as u32,
            tiles_n: tiles_n as u32,
            tiles: tiles as u32,
            splits: 1,
            chunk: ka.max(1) as u32,
            split_base: 0,
        };
        if a.rows * a.cols * 4 > rec.alloc().binding_limit() as usize {
            if ta {
                self.encode_k_ranges(rec, a, b, out, params, variant, (splits, chunk));
            } else {
                self.encode_row_ranges(rec, a, b, out, params, variant, (splits, chunk));
            }
            return;
        }
        let binds = [Bind::Buf(a.buf), Bind::Buf(b.buf), Bind::Buf(out.buf)];
        self.dispatch_product(rec, params, variant, binds, (splits, chunk));
    }

    /// The product `params` describes: one direct dispatch, or split-K and the ordered sum of
    /// the partials. `binds` are A, B and out (whole or row ranges).
    fn dispatch_product(
        &self,
        rec: &mut Recorder,
        params: MatmulParams,
        variant: usize,
        [a, b, out]: [Bind<'_>; 3],
        (splits, chunk): (usize, usize),
    ) {
        let (mn, tiles) = (params.m as usize * params.n as usize, params.tiles as usize);
        let total = u32::try_from(tiles * splits).expect("matmul: too many workgroups");
        if splits == 1 {
            let slot = rec.params(&params);
            rec.dispatch(&self.direct[variant], &[a, b, out], slot, total);
            return;
        }
        let params = MatmulParams { splits: splits as u32, chunk: chunk as u32, ..params };
        let part = rec.scratch("matmul split-k partials", 4 * (splits * mn) as u64);
        let slot = rec.params(&params);
        rec.dispatch(&self.split[variant], &[a, b, Bind::Buf(&part)], slot, total);
        rec.dispatch(&self.sum_splits, &[out, Bind::Buf(&part)], slot, groups("matmul", mn, Self::WORKGROUP as usize));
    }

    /// `A · op(B)` with A larger than one binding: each range of A's rows (and the same rows of
    /// out) is a product of its own, with the split of k chosen for the whole product.
    #[allow(clippy::too_many_arguments)]
    fn encode_row_ranges(
        &self,
        rec: &mut Recorder,
        a: Operand<'_>,
        b: Operand<'_>,
        out: Operand<'_>,
        base: MatmulParams,
        variant: usize,
        (splits, chunk): (usize, usize),
    ) {
        let (n, rows) = (out.cols, Self::rows_per_thread(out.rows));
        let row_bytes = [(a.buf, 4 * a.cols as u64), (out.buf, 4 * n as u64)];
        let Some(ranges) = row_ranges(rec, "matmul", a.rows, &row_bytes, 1) else { return };
        for range in ranges {
            let m = range.len();
            let tiles = groups("matmul", m, 16 * rows) as usize * base.tiles_n as usize;
            let params = MatmulParams { m: m as u32, tiles: tiles as u32, ..base };
            let binds =
                [rows_of(a.buf, row_bytes[0].1, &range), Bind::Buf(b.buf), rows_of(out.buf, row_bytes[1].1, &range)];
            self.dispatch_product(rec, params, variant, binds, (splits, chunk));
        }
    }

    /// `Aᵀ · B` with A (stored k × m) larger than one binding: split-K with every k chunk inside
    /// one range of A's and B's rows, one dispatch per range writing its chunks' partials, then
    /// one sum over all chunks in order. With the product's own chunks (when a binding holds
    /// one) the bits are those of the unsplit product.
    #[allow(clippy::too_many_arguments)]
    fn encode_k_ranges(
        &self,
        rec: &mut Recorder,
        a: Operand<'_>,
        b: Operand<'_>,
        out: Operand<'_>,
        base: MatmulParams,
        variant: usize,
        (splits, chunk): (usize, usize),
    ) {
        let (m, n, kd) = (out.rows, out.cols, a.rows);
        if base.tb != 0 {
            rec.fail(BackendError::BufferTooLarge {
                label: format!("{} (matmul: Aᵀ·Bᵀ with A larger than one binding is not split)", a.buf.label()),
                size: 4 * (a.rows * a.cols) as u64,
                limit: rec.alloc().binding_limit(),
                limit_name: "max_storage_buffer_binding_size",
            });
            return;
        }
        let row_bytes = [(a.buf, 4 * a.cols as u64), (b.buf, 4 * b.cols as u64)];
        let widest = row_bytes.iter().map(|&(_, w)| w).max().unwrap_or(4);
        // Keep the product's own k chunks when a binding holds a few of them.
        let own = splits > 1 && 2 * chunk as u64 * widest <= rec.alloc().binding_limit();
        let multiple = if own { chunk } else { Self::BK };
        let Some(ranges) = row_ranges(rec, "matmul", kd, &row_bytes, multiple) else { return };
        let Some(first) = ranges.first() else { return };
        let chunk = if own { chunk } else { first.len() };
        let total = kd.div_ceil(chunk);
        let part = rec.scratch("matmul split-k partials", 4 * (total * m * n) as u64);
        for range in &ranges {
            let splits = range.len().div_ceil(chunk);
            let params = MatmulParams {
                kd: range.len() as u32,
                splits: splits as u32,
                chunk: chunk as u32,
                split_base: (range.start / chunk) as u32,
                ..base
            };
            let slot = rec.params(&params);
            let binds =
                [rows_of(a.buf, row_bytes[0].1, range), rows_of(b.buf, row_bytes[1].1, range), Bind::Buf(&part)];
            rec.dispatch(&self.split[variant], &binds, slot, base.tiles * splits as u32);
        }
        let slot = rec.params(&MatmulParams { splits: total as u32, chunk: chunk as u32, ..base });
        rec.dispatch(
            &self.sum_splits,
            &[Bind::Buf(out.buf), Bind::Buf(&part)],
            slot,
            groups("matmul", m * n, Self::WORKGROUP as usize),
        );
    }
}
