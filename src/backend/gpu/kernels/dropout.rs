//! Dense, sparse and attention (per-edge) dropout with the counter-based mask: see
//! `shaders/dropout.wgsl`.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, row_ranges, rows_of, Access};
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuIndex, GpuMatrix, GpuSparse};
use crate::backend::{check_shape, DropoutSpec, Shape, SparseLayout};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct DropoutParams {
    pub n: u32,
    pub cols: u32,
    pub rows: u32,
    pub stream: u32,
    pub rate: f32,
    pub scale: f32,
    /// 0 = NodeRows, 1 = NodeCols (`layout` is a WGSL keyword).
    pub node_cols: u32,
    /// `sample_boundary`: local nodes below it are owned (copied); 0 for dropout.
    pub first_boundary: u32,
    /// Dense dropout: the first row of this dispatch's range binding (0 otherwise).
    pub row0: u32,
}
const _: () = assert!(size_of::<DropoutParams>() as u64 <= PARAM_BYTES);

pub struct Dropout {
    dense: Kernel,
    sparse: Kernel,
    sample: Kernel,
    edge: Kernel,
}

impl Dropout {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "dropout.wgsl", shaders::DROPOUT);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            dense: kernel(device, params_layout, &m, "dropout", &[(0, r), (1, r), (2, w)]),
            sparse: kernel(device, params_layout, &m, "dropout_sparse", &[(0, r), (1, r), (2, w), (3, r), (4, r)]),
            sample: kernel(device, params_layout, &m, "sample_boundary", &[(0, r), (1, r), (2, w), (3, r), (4, r)]),
            edge: kernel(device, params_layout, &m, "edge_dropout", &[(0, r), (1, r), (2, w), (3, r), (4, r), (5, r)]),
        }
    }

    pub fn dense(&self, rec: &mut Recorder, x: &GpuMatrix, node_ids: &GpuIndex, spec: &DropoutSpec, out: &GpuMatrix) {
        check_shape("dropout", "out", (out.rows(), out.cols()), (x.rows(), x.cols()));
        assert_eq!(node_ids.len(), x.rows(), "dropout: one node id per row");
        check_buf("dropout", "x", &x.buf, x.len());
        check_buf("dropout", "node_ids", &node_ids.buf, node_ids.len());
        check_buf("dropout", "out", &out.buf, out.len());
        let n = x.len();
        if n == 0 {
            return;
        }
        let params = |n: usize, row0: usize| DropoutParams {
            n: n as u32,
            cols: x.cols() as u32,
            rows: x.rows() as u32,
            stream: spec.stream,
            rate: spec.rate,
            scale: spec.scale,
            node_cols: 0,
            first_boundary: 0,
            row0: row0 as u32,
        };
        let row_bytes = 4 * x.cols() as u64;
        let Some(ranges) = row_ranges(rec, "dropout", x.rows(), &[(&x.buf, row_bytes), (&out.buf, row_bytes)], 1)
        else {
            let slot = rec.params(&params(n, 0));
            let binds = [Bind::Buf(&x.buf), Bind::Buf(&node_ids.buf), Bind::Buf(&out.buf)];
            rec.dispatch(&self.dense, &binds, slot, groups("dropout", n, Self::WORKGROUP as usize));
            return;
        };
        for range in ranges {
            let n = range.len() * x.cols();
            let slot = rec.params(&params(n, range.start));
            let binds =
                [rows_of(&x.buf, row_bytes, &range), Bind::Buf(&node_ids.buf), rows_of(&out.buf, row_bytes, &range)];
            rec.dispatch(&self.dense, &binds, slot, groups("dropout", n, Self::WORKGROUP as usize));
        }
    }

    pub fn sparse(
        &self,
        rec: &mut Recorder,
        x: &GpuSparse,
        node_ids: &GpuIndex,
        layout: SparseLayout,
        spec: &DropoutSpec,
        out: &GpuSparse,
    ) {
        self.encode_sparse(rec, "dropout_sparse", x, node_ids, layout, spec, None, out);
    }

    /// `Backend::edge_dropout`: x and out are `a`'s per-edge matrices (nnz × heads).
    #[allow(clippy::too_many_arguments)]
    pub fn edge(
        &self,
        rec: &mut Recorder,
        a: &GpuSparse,
        row_ids: &GpuIndex,
        col_ids: &GpuIndex,
        spec: &DropoutSpec,
        x: &GpuMatrix,
        out: &GpuMatrix,
    ) {
        let op = "edge_dropout";
        let heads = crate::backend::attention::check_edge_dropout(a, row_ids, col_ids, x, out);
        let s = &a.structure;
        check_buf(op, "row_ptr", &s.row_ptr, s.rows + 1);
        check_buf(op, "col_idx", &s.col_idx, s.nnz);
        check_buf(op, "row_ids", &row_ids.buf, s.rows);
        check_buf(op, "col_ids", &col_ids.buf, s.cols);
        check_buf(op, "x", &x.buf, x.len());
        check_buf(op, "out", &out.buf, out.len());
        let n = s.nnz * heads;
        if n == 0 {
            return;
        }
        let params = DropoutParams {
            n: u32::try_from(n).expect("edge_dropout: nnz × heads fits u32"),
            cols: heads as u32,
            rows: s.rows as u32,
            stream: spec.stream,
            rate: spec.rate,
            scale: spec.scale,
            node_cols: 0,
            first_boundary: 0,
            row0: 0,
        };
        let slot = rec.params(&params);
        let binds = [
            Bind::Buf(&x.buf),
            Bind::Buf(&row_ids.buf),
            Bind::Buf(&out.buf),
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&s.col_idx),
            Bind::Buf(&col_ids.buf),
        ];
        rec.dispatch(&self.edge, &binds, slot, groups(op, n, Self::WORKGROUP as usize));
    }

    /// `Backend::sample_boundary`.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_boundary(
        &self,
        rec: &mut Recorder,
        base: &GpuSparse,
        node_ids: &GpuIndex,
        layout: SparseLayout,
        first_boundary: usize,
        spec: &DropoutSpec,
        out: &GpuSparse,
    ) {
        self.encode_sparse(rec, "sample_boundary", base, node_ids, layout, spec, Some(first_boundary), out);
    }

    #[allow(clippy::too_many_arguments)]
    fn encode_sparse(
        &self,
        rec: &mut Recorder,
        op: &str,
        x: &GpuSparse,
        node_ids: &GpuIndex,
        layout: SparseLayout,
        spec: &DropoutSpec,
        first_boundary: Option<usize>,
        out: &GpuSparse,
    ) {
        assert!(Arc::ptr_eq(&x.structure, &out.structure), "{op}: out must come from sparse_like(x)");
        let s = &x.structure;
        let (needed, code) = match layout {
            SparseLayout::NodeRows => (s.rows, 0),
            SparseLayout::NodeCols => (s.cols, 1),
        };
        assert!(node_ids.len() >= needed, "{op}: {} node ids for {needed} nodes ({layout:?})", node_ids.len());
        check_buf(op, "row_ptr", &s.row_ptr, s.rows + 1);
        check_buf(op, "col_idx", &s.col_idx, s.nnz);
        check_buf(op, "x values", &x.values, s.nnz);
        check_buf(op, "out values", &out.values, s.nnz);
        if s.nnz == 0 {
            return;
        }
        let params = DropoutParams {
            n: s.nnz as u32,
            cols: s.cols as u32,
            rows: s.rows as u32,
            stream: spec.stream,
            rate: spec.rate,
            scale: spec.scale,
            node_cols: code,
            first_boundary: u32::try_from(first_boundary.unwrap_or(0)).expect("local node ids fit u32"),
            row0: 0,
        };
        let slot = rec.params(&params);
        let binds = [
            Bind::Buf(&x.values),
            Bind::Buf(&node_ids.buf),
            Bind::Buf(&out.values),
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&s.col_idx),
        ];
        let kernel = if first_boundary.is_some() { &self.sample } else { &self.sparse };
        rec.dispatch(kernel, &binds, slot, groups(op, s.nnz, Self::WORKGROUP as usize));
    }
}
