//! `edge_row_sum` and `attention_spmm_backward_alpha`: sums over the entries of a CSR for graph
//! attention; see `shaders/edge_sums.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuIndex, GpuMatrix, GpuSparse};
use crate::backend::{head_shapes, Shape};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct EdgeSumsParams {
    pub rows: u32,
    pub heads: u32,
    pub c: u32,
    pub nnz: u32,
    pub has_perm: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<EdgeSumsParams>() as u64 <= PARAM_BYTES);

pub struct EdgeSums {
    row_sum: Kernel,
    backward_alpha: Kernel,
}

/// Panics unless `a`'s CSR buffers hold its rows and entries.
#[track_caller]
fn check_sparse(op: &str, a: &GpuSparse) {
    let s = &a.structure;
    check_buf(op, "row_ptr", &s.row_ptr, s.rows + 1);
    check_buf(op, "col_idx", &s.col_idx, s.nnz);
    check_buf(op, "values", &a.values, s.nnz);
}

fn params(op: &str, a: &GpuSparse, heads: usize, c: usize, has_perm: bool) -> EdgeSumsParams {
    let u = |v: usize| u32::try_from(v).unwrap_or_else(|_| panic!("{op}: {v} does not fit u32"));
    EdgeSumsParams {
        rows: u(a.rows()),
        heads: u(heads),
        c: u(c),
        nnz: u(a.nnz()),
        has_perm: has_perm as u32,
        _pad: [0; 3],
    }
}

impl EdgeSums {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "edge_sums.wgsl", shaders::EDGE_SUMS);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            row_sum: kernel(device, params_layout, &m, "edge_row_sum", &[(0, r), (2, r), (3, r), (4, r), (5, w)]),
            backward_alpha: kernel(
                device,
                params_layout,
                &m,
                "attention_spmm_backward_alpha",
                &[(0, r), (1, r), (2, r), (4, r), (5, w), (6, r)],
            ),
        }
    }

    /// `out[i, h] = Σ_{present e in row i} x[perm(e), h]` for the first `a.rows()` rows of out.
    pub fn edge_row_sum(
        &self,
        rec: &mut Recorder,
        a: &GpuSparse,
        perm: Option<&GpuIndex>,
        x: &GpuMatrix,
        out: &GpuMatrix,
    ) {
        let op = "edge_row_sum";
        let heads = head_shapes::edge_row_sum(a, perm, x, out);
        check_sparse(op, a);
        check_buf(op, "x", &x.buf, x.len());
        check_buf(op, "out", &out.buf, out.len());
        let n = a.rows() * heads;
        if n == 0 {
            return;
        }
        // Without a permutation the kernel never reads `perm`; a 4-byte stand-in fills the binding.
        let dummy;
        let perm_buf = match perm {
            Some(p) => {
                check_buf(op, "perm", &p.buf, p.len());
                &p.buf
            }
            None => {
                dummy = rec.scratch("edge_row_sum no perm", 4);
                &*dummy
            }
        };
        let slot = rec.params(&params(op, a, heads, 1, perm.is_some()));
        let binds = [
            Bind::Buf(&a.structure.row_ptr),
            Bind::Buf(&a.values),
            Bind::Buf(perm_buf),
            Bind::Buf(&x.buf),
            Bind::Buf(&out.buf),
        ];
        rec.dispatch(&self.row_sum, &binds, slot, groups(op, n, Self::WORKGROUP as usize));
    }

    /// `d_alpha[e, h] = Σ_c d_out[i, h·C + c] · x[j, h·C + c]` for the entries e = (i, j) of `a`
    /// (0 for absent ones).
    pub fn attention_spmm_backward_alpha(
        &self,
        rec: &mut Recorder,
        a: &GpuSparse,
        x: &GpuMatrix,
        d_out: &GpuMatrix,
        d_alpha: &GpuMatrix,
    ) {
        let op = "attention_spmm_backward_alpha";
        let (heads, c) = head_shapes::attention_spmm_backward_alpha(a, x, d_out, d_alpha);
        check_sparse(op, a);
        check_buf(op, "x", &x.buf, x.len());
        check_buf(op, "d_out", &d_out.buf, d_out.len());
        check_buf(op, "d_alpha", &d_alpha.buf, d_alpha.len());
        let n = a.nnz() * heads;
        if n == 0 {
            return;
        }
        let slot = rec.params(&params(op, a, heads, c, false));
        let s = &a.structure;
        let binds = [
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&s.col_idx),
            Bind::Buf(&a.values),
            Bind::Buf(&x.buf),
            Bind::Buf(&d_alpha.buf),
            Bind::Buf(&d_out.buf),
        ];
        rec.dispatch(&self.backward_alpha, &binds, slot, groups(op, n, Self::WORKGROUP as usize));
    }
}
