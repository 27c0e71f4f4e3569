//! `edge_softmax` (kernels `edge_scores` and `edge_softmax`), `edge_softmax_backward` and
//! `attention_spmm`: see `shaders/attention.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::attention::{check_attention_spmm, check_edge_softmax, check_edge_softmax_backward};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuIndex, GpuMatrix, GpuSparse};
use crate::backend::Shape;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct AttentionParams {
    /// Invocations: rows · heads (softmax), rows · k (SpMM).
    pub n: u32,
    pub rows: u32,
    pub heads: u32,
    /// attention_spmm: columns of x and out (heads · c).
    pub k: u32,
    /// attention_spmm: columns per head.
    pub c: u32,
    /// attention_spmm: 1 = α is read through `perm`.
    pub use_perm: u32,
    pub slope: f32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<AttentionParams>() as u64 <= PARAM_BYTES);

pub struct Attention {
    scores: Kernel,
    softmax: Kernel,
    softmax_backward: Kernel,
    spmm: Kernel,
}

/// Checks the CSR's own buffers.
fn check_csr(op: &str, a: &GpuSparse) {
    let s = &a.structure;
    check_buf(op, "row_ptr", &s.row_ptr, s.rows + 1);
    check_buf(op, "col_idx", &s.col_idx, s.nnz);
    check_buf(op, "values", &a.values, s.nnz);
}

/// `rows × per_row` invocations as the u32 the shader counts in.
fn invocations(op: &str, rows: usize, per_row: usize) -> u32 {
    rows.checked_mul(per_row)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("{op}: too many invocations"))
}

impl Attention {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "attention.wgsl", shaders::ATTENTION);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            scores: kernel(device, params_layout, &m, "edge_scores", &[(0, r), (1, r), (3, r), (4, r), (6, w)]),
            softmax: kernel(device, params_layout, &m, "edge_softmax", &[(0, r), (2, r), (3, r), (7, w)]),
            softmax_backward: kernel(
                device,
                params_layout,
                &m,
                "edge_softmax_backward",
                &[(0, r), (2, r), (3, r), (4, r), (5, r), (6, w)],
            ),
            spmm: kernel(
                device,
                params_layout,
                &m,
                "attention_spmm",
                &[(0, r), (1, r), (3, r), (4, r), (6, w), (8, r)],
            ),
        }
    }

    fn params(n: u32, rows: usize, heads: usize) -> AttentionParams {
        AttentionParams { n, rows: rows as u32, heads: heads as u32, k: 0, c: 0, use_perm: 0, slope: 0.0, _pad: 0 }
    }

    /// Two dispatches: `edge_scores` writes pre, `edge_softmax` reads it and writes α.
    #[allow(clippy::too_many_arguments)]
    pub fn edge_softmax(
        &self,
        rec: &mut Recorder,
        a: &GpuSparse,
        s_src: &GpuMatrix,
        s_dst: &GpuMatrix,
        slope: f32,
        pre: &GpuMatrix,
        alpha: &GpuMatrix,
    ) {
        let op = "edge_softmax";
        let heads = check_edge_softmax(a, s_src, s_dst, pre, alpha);
        check_csr(op, a);
        for (what, m) in [("s_src", s_src), ("s_dst", s_dst), ("pre", pre), ("alpha", alpha)] {
            check_buf(op, what, &m.buf, m.len());
        }
        let n = invocations(op, a.rows(), heads);
        if n == 0 {
            return;
        }
        let slot = rec.params(&AttentionParams { slope, ..Self::params(n, a.rows(), heads) });
        let s = &a.structure;
        let wgs = groups(op, n as usize, Self::WORKGROUP as usize);
        let binds = [
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&s.col_idx),
            Bind::Buf(&s_src.buf),
            Bind::Buf(&s_dst.buf),
            Bind::Buf(&pre.buf),
        ];
        rec.dispatch(&self.scores, &binds, slot, wgs);
        let binds = [Bind::Buf(&s.row_ptr), Bind::Buf(&a.values), Bind::Buf(&pre.buf), Bind::Buf(&alpha.buf)];
        rec.dispatch(&self.softmax, &binds, slot, wgs);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn edge_softmax_backward(
        &self,
        rec: &mut Recorder,
        a: &GpuSparse,
        pre: &GpuMatrix,
        alpha: &GpuMatrix,
        d_alpha: &GpuMatrix,
        slope: f32,
        d_pre: &GpuMatrix,
    ) {
        let op = "edge_softmax_backward";
        let heads = check_edge_softmax_backward(a, pre, alpha, d_alpha, d_pre);
        check_csr(op, a);
        for (what, m) in [("pre", pre), ("alpha", alpha), ("d_alpha", d_alpha), ("d_pre", d_pre)] {
            check_buf(op, what, &m.buf, m.len());
        }
        let n = invocations(op, a.rows(), heads);
        if n == 0 {
            return;
        }
        let slot = rec.params(&AttentionParams { slope, ..Self::params(n, a.rows(), heads) });
        let s = &a.structure;
        let binds = [
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&a.values),
            Bind::Buf(&pre.buf),
            Bind::Buf(&alpha.buf),
            Bind::Buf(&d_alpha.buf),
            Bind::Buf(&d_pre.buf),
        ];
        rec.dispatch(&self.softmax_backward, &binds, slot, groups(op, n as usize, Self::WORKGROUP as usize));
    }

    /// Without `perm`, `a`'s column indices stand in for its binding (the shader does not read it).
    pub fn attention_spmm(
        &self,
        rec: &mut Recorder,
        a: &GpuSparse,
        perm: Option<&GpuIndex>,
        alpha: &GpuMatrix,
        x: &GpuMatrix,
        out: &GpuMatrix,
    ) {
        let op = "attention_spmm";
        let heads = check_attention_spmm(a, perm, alpha, x, out);
        check_csr(op, a);
        for (what, m) in [("alpha", alpha), ("x", x), ("out", out)] {
            check_buf(op, what, &m.buf, m.len());
        }
        let s = &a.structure;
        if let Some(p) = perm {
            check_buf(op, "perm", &p.buf, s.nnz);
        }
        let k = out.cols();
        let n = invocations(op, a.rows(), k);
        if n == 0 {
            return;
        }
        let params = AttentionParams {
            k: k as u32,
            c: (k / heads) as u32,
            use_perm: perm.is_some() as u32,
            ..Self::params(n, a.rows(), heads)
        };
        let slot = rec.params(&params);
        let perm_buf = perm.map_or(&s.col_idx, |p| &p.buf);
        let binds = [
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&s.col_idx),
            Bind::Buf(&alpha.buf),
            Bind::Buf(&x.buf),
            Bind::Buf(&out.buf),
            Bind::Buf(perm_buf),
        ];
        rec.dispatch(&self.spmm, &binds, slot, groups(op, n as usize, Self::WORKGROUP as usize));
    }
}
