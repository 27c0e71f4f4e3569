//! `head_dot` and `head_dot_backward`: GAT's per-head scores; see `shaders/heads.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::cpu::ops::D_ATT_BLOCK;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix};
use crate::backend::{head_shapes, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct HeadsParams {
    pub rows: u32,
    pub heads: u32,
    pub c: u32,
    pub blocks: u32,
    pub block_rows: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<HeadsParams>() as u64 <= PARAM_BYTES);

pub struct Heads {
    dot: Kernel,
    dx: Kernel,
    partials: Kernel,
    att: Kernel,
}

impl Heads {
    pub const WORKGROUP: u32 = 256;
    /// Rows per partial sum of d_att: the CPU twin's block, so both add in the same order.
    pub const BLOCK_ROWS: usize = D_ATT_BLOCK;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "heads.wgsl", shaders::HEADS);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            dot: kernel(device, params_layout, &m, "head_dot", &[(0, r), (1, r), (2, w)]),
            dx: kernel(device, params_layout, &m, "head_dot_backward_dx", &[(1, r), (3, r), (4, w)]),
            partials: kernel(device, params_layout, &m, "head_dot_backward_partials", &[(0, r), (3, r), (5, w)]),
            att: kernel(device, params_layout, &m, "head_dot_backward_att", &[(5, w), (6, w)]),
        }
    }

    fn params(op: &str, rows: usize, heads: usize, c: usize) -> HeadsParams {
        let u = |v: usize| u32::try_from(v).unwrap_or_else(|_| panic!("{op}: {v} does not fit u32"));
        HeadsParams {
            rows: u(rows),
            heads: u(heads),
            c: u(c),
            // No rows: one empty block, so that d_att is still overwritten (with zeros).
            blocks: u(rows.div_ceil(Self::BLOCK_ROWS).max(1)),
            block_rows: u(Self::BLOCK_ROWS),
            _pad: [0; 3],
        }
    }

    /// `out[i, h] = Σ_c x[i, h·C + c] · att[h, c]`.
    pub fn head_dot(&self, rec: &mut Recorder, x: &GpuMatrix, att: &GpuMatrix, out: &GpuMatrix) {
        let (heads, c) = head_shapes::head_dot(x, att, out);
        check_buf("head_dot", "x", &x.buf, x.len());
        check_buf("head_dot", "att", &att.buf, att.len());
        check_buf("head_dot", "out", &out.buf, out.len());
        let n = out.len();
        if n == 0 {
            return;
        }
        let slot = rec.params(&Self::params("head_dot", x.rows(), heads, c));
        let binds = [Bind::Buf(&x.buf), Bind::Buf(&att.buf), Bind::Buf(&out.buf)];
        rec.dispatch(&self.dot, &binds, slot, groups("head_dot", n, Self::WORKGROUP as usize));
    }

    /// `dx += ds · att` per head and `d_att = Σ_i ds[i, h] · x[i, h·C + c]` (two passes: row
    /// blocks, then the blocks in order).
    pub fn head_dot_backward(
        &self,
        rec: &mut Recorder,
        x: &GpuMatrix,
        att: &GpuMatrix,
        ds: &GpuMatrix,
        dx: &GpuMatrix,
        d_att: &GpuMatrix,
    ) {
        let op = "head_dot_backward";
        let (heads, c) = head_shapes::head_dot_backward(x, att, ds, dx, d_att);
        for (what, m) in [("x", x), ("att", att), ("ds", ds), ("dx", dx), ("d_att", d_att)] {
            check_buf(op, what, &m.buf, m.len());
        }
        let (rows, width) = (x.rows(), heads * c);
        if width == 0 {
            return;
        }
        let params = Self::params(op, rows, heads, c);
        let slot = rec.params(&params);
        let wg = Self::WORKGROUP as usize;
        if rows > 0 {
            let binds = [Bind::Buf(&att.buf), Bind::Buf(&ds.buf), Bind::Buf(&dx.buf)];
            rec.dispatch(&self.dx, &binds, slot, groups(op, rows * width, wg));
        }
        let blocks = params.blocks as usize;
        let part = rec.scratch("head_dot_backward partials", 4 * (blocks * width) as u64);
        let binds = [Bind::Buf(&x.buf), Bind::Buf(&ds.buf), Bind::Buf(&part)];
        rec.dispatch(&self.partials, &binds, slot, groups(op, blocks * width, wg));
        let binds = [Bind::Buf(&part), Bind::Buf(&d_att.buf)];
        rec.dispatch(&self.att, &binds, slot, groups(op, width, wg));
    }
}
