//! Dense and sparse dropout with the counter-based mask: see `shaders/dropout.wgsl`.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
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
    pub _pad: u32,
}
const _: () = assert!(size_of::<DropoutParams>() as u64 <= PARAM_BYTES);

pub struct Dropout {
    dense: Kernel,
    sparse: Kernel,
}

impl Dropout {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "dropout.wgsl", shaders::DROPOUT);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            dense: kernel(device, params_layout, &m, "dropout", &[(0, r), (1, r), (2, w)]),
            sparse: kernel(device, params_layout, &m, "dropout_sparse", &[(0, r), (1, r), (2, w), (3, r), (4, r)]),
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
        let params = DropoutParams {
            n: n as u32,
            cols: x.cols() as u32,
            rows: x.rows() as u32,
            stream: spec.stream,
            rate: spec.rate,
            scale: spec.scale,
            node_cols: 0,
            _pad: 0,
        };
        let slot = rec.params(&params);
        rec.dispatch(
            &self.dense,
            &[Bind::Buf(&x.buf), Bind::Buf(&node_ids.buf), Bind::Buf(&out.buf)],
            slot,
            groups("dropout", n, Self::WORKGROUP as usize),
        );
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
        assert!(Arc::ptr_eq(&x.structure, &out.structure), "dropout_sparse: out must come from sparse_like(x)");
        let s = &x.structure;
        let (needed, code) = match layout {
            SparseLayout::NodeRows => (s.rows, 0),
            SparseLayout::NodeCols => (s.cols, 1),
        };
        assert!(
            node_ids.len() >= needed,
            "dropout_sparse: {} node ids for {needed} nodes ({layout:?})",
            node_ids.len()
        );
        check_buf("dropout_sparse", "row_ptr", &s.row_ptr, s.rows + 1);
        check_buf("dropout_sparse", "col_idx", &s.col_idx, s.nnz);
        check_buf("dropout_sparse", "x values", &x.values, s.nnz);
        check_buf("dropout_sparse", "out values", &out.values, s.nnz);
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
            _pad: 0,
        };
        let slot = rec.params(&params);
        let binds = [
            Bind::Buf(&x.values),
            Bind::Buf(&node_ids.buf),
            Bind::Buf(&out.values),
            Bind::Buf(&s.row_ptr),
            Bind::Buf(&s.col_idx),
        ];
        rec.dispatch(&self.sparse, &binds, slot, groups("dropout_sparse", s.nnz, Self::WORKGROUP as usize));
    }
}
