//! The reference backend: ndarray on the host. Every GPU kernel is tested against the twin of
//! the same name in [`ops`].

pub mod compress;
pub mod ops;
pub mod optim;
pub mod robust;
#[cfg(test)]
pub(crate) mod tests_attention;

use std::sync::Arc;

use ndarray::Array2;

use super::head_shapes;
use super::{
    AttackStep, Backend, BackendError, CompressStep, DropoutSpec, IndexLen, MemCategory, MemGuard, MemoryTracker,
    Nonzeros, OptimizerStep, PreAggregationStep, ReduceOrder, RobustStep, Shape, SparseLayout, STATS_WIDTH,
};
use crate::graph::Csr;
use crate::tensor::HostMatrix;

pub struct CpuBackend {
    memory: Arc<MemoryTracker>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    pub fn new() -> Self {
        Self { memory: MemoryTracker::new() }
    }
}

#[derive(Debug)]
pub struct CpuMatrix {
    pub data: Array2<f32>,
    _mem: MemGuard,
}

impl Shape for CpuMatrix {
    fn rows(&self) -> usize {
        self.data.nrows()
    }
    fn cols(&self) -> usize {
        self.data.ncols()
    }
}

/// Structure shared between a sparse matrix and its `sparse_like` copies.
#[derive(Debug)]
pub struct CpuSparseStructure {
    pub rows: usize,
    pub cols: usize,
    pub row_ptr: Vec<u32>,
    pub col_idx: Vec<u32>,
    _mem: MemGuard,
}

#[derive(Debug)]
pub struct CpuSparse {
    pub structure: Arc<CpuSparseStructure>,
    pub values: Vec<f32>,
    _mem: MemGuard,
}

impl Shape for CpuSparse {
    fn rows(&self) -> usize {
        self.structure.rows
    }
    fn cols(&self) -> usize {
        self.structure.cols
    }
}

impl Nonzeros for CpuSparse {
    fn nnz(&self) -> usize {
        self.values.len()
    }
}

impl IndexLen for CpuIndex {
    fn index_len(&self) -> usize {
        self.data.len()
    }
}

impl CpuSparse {
    pub fn view(&self) -> ops::CsrView<'_> {
        ops::CsrView {
            rows: self.structure.rows,
            cols: self.structure.cols,
            row_ptr: &self.structure.row_ptr,
            col_idx: &self.structure.col_idx,
            values: &self.values,
        }
    }
}

#[derive(Debug)]
pub struct CpuIndex {
    pub data: Vec<u32>,
    _mem: MemGuard,
}

#[derive(Debug)]
pub struct CpuStats {
    pub data: Vec<f32>,
    _mem: MemGuard,
}

impl Backend for CpuBackend {
    type Matrix = CpuMatrix;
    type Sparse = CpuSparse;
    type Index = CpuIndex;
    type Stats = CpuStats;

    fn describe(&self) -> String {
        "cpu (ndarray reference backend)".to_string()
    }

    fn memory(&self) -> &MemoryTracker {
        &self.memory
    }

    fn memory_budget(&self) -> Option<u64> {
        crate::host::available_bytes()
    }

    fn alloc(&self, rows: usize, cols: usize, category: MemCategory, _label: &str) -> Result<CpuMatrix, BackendError> {
        Ok(CpuMatrix { data: Array2::zeros((rows, cols)), _mem: self.memory.track(category, 4 * (rows * cols) as u64) })
    }

    fn upload(&self, host: &HostMatrix, category: MemCategory, _label: &str) -> Result<CpuMatrix, BackendError> {
        let data =
            Array2::from_shape_vec((host.rows, host.cols), host.data.clone()).expect("HostMatrix shape is consistent");
        Ok(CpuMatrix { data, _mem: self.memory.track(category, host.byte_len()) })
    }

    fn download(&self, m: &CpuMatrix) -> Result<HostMatrix, BackendError> {
        Ok(HostMatrix::from_vec(m.rows(), m.cols(), m.data.iter().copied().collect()))
    }

    fn upload_sparse(&self, csr: &Csr, category: MemCategory, _label: &str) -> Result<CpuSparse, BackendError> {
        assert!(csr.values.len() == csr.nnz(), "upload_sparse: the CSR must carry values");
        let structure = Arc::new(CpuSparseStructure {
            rows: csr.rows,
            cols: csr.cols,
            row_ptr: csr.row_ptr.clone(),
            col_idx: csr.col_idx.clone(),
            _mem: self.memory.track(category, 4 * (csr.row_ptr.len() + csr.col_idx.len()) as u64),
        });
        Ok(CpuSparse { structure, values: csr.values.clone(), _mem: self.memory.track(category, 4 * csr.nnz() as u64) })
    }

    fn sparse_like(&self, s: &CpuSparse, category: MemCategory, _label: &str) -> Result<CpuSparse, BackendError> {
        let n = s.values.len();
        Ok(CpuSparse {
            structure: Arc::clone(&s.structure),
            values: vec![0.0; n],
            _mem: self.memory.track(category, 4 * n as u64),
        })
    }

    fn upload_index(&self, data: &[u32], category: MemCategory, _label: &str) -> Result<CpuIndex, BackendError> {
        Ok(CpuIndex { data: data.to_vec(), _mem: self.memory.track(category, 4 * data.len() as u64) })
    }

    fn alloc_stats(&self, slots: usize, _label: &str) -> Result<CpuStats, BackendError> {
        let n = slots * STATS_WIDTH;
        Ok(CpuStats { data: vec![0.0; n], _mem: self.memory.track(MemCategory::Staging, 4 * n as u64) })
    }

    fn read_stats(&self, stats: &CpuStats) -> Result<Vec<f32>, BackendError> {
        Ok(stats.data.clone())
    }

    fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }

    /// Every op runs on the calling thread before it returns.
    fn runs_when_called(&self) -> bool {
        true
    }

    fn copy(&self, src: &CpuMatrix, dst: &mut CpuMatrix) {
        super::check_shape("copy", "dst", (dst.rows(), dst.cols()), (src.rows(), src.cols()));
        dst.data.assign(&src.data);
    }

    fn spmm(&self, a: &CpuSparse, x: &CpuMatrix, out: &mut CpuMatrix) {
        assert!(
            x.rows() >= a.cols() && out.rows() >= a.rows() && out.cols() == x.cols(),
            "spmm: A {}x{}, x {}x{}, out {}x{}",
            a.rows(),
            a.cols(),
            x.rows(),
            x.cols(),
            out.rows(),
            out.cols()
        );
        ops::spmm(&a.view(), slice(&x.data), x.cols(), slice_mut(&mut out.data));
    }

    fn copy_rows(&self, src: &CpuMatrix, src_row0: usize, dst: &mut CpuMatrix, dst_row0: usize, rows: usize) {
        check_rows("copy_rows", src, src_row0, dst, dst_row0, rows);
        let w = src.cols();
        slice_mut(&mut dst.data)[dst_row0 * w..(dst_row0 + rows) * w]
            .copy_from_slice(&slice(&src.data)[src_row0 * w..(src_row0 + rows) * w]);
    }

    fn gather_rows(&self, src: &CpuMatrix, rows: &CpuIndex, dst: &mut CpuMatrix, dst_row0: usize) {
        assert_eq!(src.cols(), dst.cols(), "gather_rows: widths differ");
        assert!(dst_row0 + rows.data.len() <= dst.rows(), "gather_rows: dst has {} rows", dst.rows());
        assert!(rows.data.iter().all(|&r| (r as usize) < src.rows()), "gather_rows: a row is out of range");
        ops::gather_rows(slice(&src.data), src.cols(), &rows.data, slice_mut(&mut dst.data), dst_row0);
    }

    fn scatter_rows(&self, src: &CpuMatrix, src_row0: usize, rows: &CpuIndex, dst: &mut CpuMatrix) {
        assert_eq!(src.cols(), dst.cols(), "scatter_rows: widths differ");
        assert!(src_row0 + rows.data.len() <= src.rows(), "scatter_rows: src has {} rows", src.rows());
        assert!(rows.data.iter().all(|&r| (r as usize) < dst.rows()), "scatter_rows: a row is out of range");
        ops::scatter_rows(slice(&src.data), src.cols(), src_row0, &rows.data, slice_mut(&mut dst.data));
    }

    fn scatter_add_rows(&self, src: &CpuMatrix, src_row0: usize, rows: &CpuIndex, dst: &mut CpuMatrix) {
        assert_eq!(src.cols(), dst.cols(), "scatter_add_rows: widths differ");
        assert!(src_row0 + rows.data.len() <= src.rows(), "scatter_add_rows: src has {} rows", src.rows());
        assert!(rows.data.iter().all(|&r| (r as usize) < dst.rows()), "scatter_add_rows: a row is out of range");
        ops::scatter_add_rows(slice(&src.data), src.cols(), src_row0, &rows.data, slice_mut(&mut dst.data));
    }

    fn add_rows(&self, src: &CpuMatrix, src_row0: usize, dst: &mut CpuMatrix, dst_row0: usize, rows: usize) {
        check_rows("add_rows", src, src_row0, dst, dst_row0, rows);
        let w = src.cols();
        let s = &slice(&src.data)[src_row0 * w..(src_row0 + rows) * w];
        for (o, &v) in slice_mut(&mut dst.data)[dst_row0 * w..(dst_row0 + rows) * w].iter_mut().zip(s) {
            *o += v;
        }
    }

    fn zero(&self, m: &mut CpuMatrix) {
        m.data.fill(0.0);
    }

    fn sample_boundary(
        &self,
        base: &CpuSparse,
        node_ids: &CpuIndex,
        layout: SparseLayout,
        first_boundary: usize,
        spec: &DropoutSpec,
        out: &mut CpuSparse,
    ) {
        assert!(Arc::ptr_eq(&base.structure, &out.structure), "sample_boundary: out must come from sparse_like(base)");
        let nodes = match layout {
            SparseLayout::NodeRows => base.rows(),
            SparseLayout::NodeCols => base.cols(),
        };
        assert!(node_ids.data.len() >= nodes, "sample_boundary: {} node ids for {nodes} nodes", node_ids.data.len());
        ops::sample_boundary(&base.view(), &node_ids.data, layout, first_boundary, spec, &mut out.values);
    }

    fn matmul(&self, a: &CpuMatrix, b: &CpuMatrix, out: &mut CpuMatrix, transpose_a: bool, transpose_b: bool) {
        ops::matmul(a.data.view(), b.data.view(), out.data.view_mut(), transpose_a, transpose_b);
    }

    fn relu(&self, x: &CpuMatrix, out: &mut CpuMatrix) {
        super::check_shape("relu", "out", (out.rows(), out.cols()), (x.rows(), x.cols()));
        ops::relu(slice(&x.data), slice_mut(&mut out.data));
    }

    fn relu_backward(&self, output: &CpuMatrix, grad: &CpuMatrix, out: &mut CpuMatrix) {
        super::check_shape("relu_backward", "grad", (grad.rows(), grad.cols()), (output.rows(), output.cols()));
        super::check_shape("relu_backward", "out", (out.rows(), out.cols()), (output.rows(), output.cols()));
        ops::relu_backward(slice(&output.data), slice(&grad.data), slice_mut(&mut out.data));
    }

    fn dropout(&self, x: &CpuMatrix, node_ids: &CpuIndex, spec: &DropoutSpec, out: &mut CpuMatrix) {
        super::check_shape("dropout", "out", (out.rows(), out.cols()), (x.rows(), x.cols()));
        ops::dropout(slice(&x.data), x.cols(), &node_ids.data, spec, slice_mut(&mut out.data));
    }

    fn dropout_sparse(
        &self,
        x: &CpuSparse,
        node_ids: &CpuIndex,
        layout: SparseLayout,
        spec: &DropoutSpec,
        out: &mut CpuSparse,
    ) {
        assert!(Arc::ptr_eq(&x.structure, &out.structure), "dropout_sparse: out must come from sparse_like(x)");
        ops::dropout_sparse(&x.view(), &node_ids.data, layout, spec, &mut out.values);
    }

    fn softmax_xent(
        &self,
        logits: &CpuMatrix,
        labels: &CpuIndex,
        split: &CpuIndex,
        grad_scale: f32,
        grad: Option<&mut CpuMatrix>,
        stats: &mut CpuStats,
        slot: usize,
    ) {
        let grad = grad.map(|g| {
            super::check_shape("softmax_xent", "grad", (g.rows(), g.cols()), (logits.rows(), logits.cols()));
            slice_mut(&mut g.data)
        });
        let slot = &mut stats.data[slot * STATS_WIDTH..(slot + 1) * STATS_WIDTH];
        ops::softmax_xent(slice(&logits.data), logits.cols(), &labels.data, &split.data, grad_scale, grad, slot);
    }

    fn copy_cols(
        &self,
        src: &CpuMatrix,
        src_col0: usize,
        dst: &mut CpuMatrix,
        dst_col0: usize,
        rows: usize,
        cols: usize,
    ) {
        head_shapes::copy_cols(src, src_col0, dst, dst_col0, rows, cols);
        let (sw, dw) = (src.cols(), dst.cols());
        ops::copy_cols(slice(&src.data), sw, src_col0, slice_mut(&mut dst.data), dw, dst_col0, rows, cols);
    }

    fn elu(&self, x: &CpuMatrix, out: &mut CpuMatrix) {
        super::check_shape("elu", "out", (out.rows(), out.cols()), (x.rows(), x.cols()));
        ops::elu(slice(&x.data), slice_mut(&mut out.data));
    }

    fn elu_backward(&self, output: &CpuMatrix, grad: &CpuMatrix, out: &mut CpuMatrix) {
        super::check_shape("elu_backward", "grad", (grad.rows(), grad.cols()), (output.rows(), output.cols()));
        super::check_shape("elu_backward", "out", (out.rows(), out.cols()), (output.rows(), output.cols()));
        ops::elu_backward(slice(&output.data), slice(&grad.data), slice_mut(&mut out.data));
    }

    fn head_dot(&self, x: &CpuMatrix, att: &CpuMatrix, out: &mut CpuMatrix) {
        let (heads, c) = head_shapes::head_dot(x, att, out);
        ops::head_dot(slice(&x.data), slice(&att.data), heads, c, slice_mut(&mut out.data));
    }

    fn head_dot_backward(
        &self,
        x: &CpuMatrix,
        att: &CpuMatrix,
        ds: &CpuMatrix,
        dx: &mut CpuMatrix,
        d_att: &mut CpuMatrix,
    ) {
        let (heads, c) = head_shapes::head_dot_backward(x, att, ds, dx, d_att);
        let (x, att, ds) = (slice(&x.data), slice(&att.data), slice(&ds.data));
        ops::head_dot_backward(x, att, ds, heads, c, slice_mut(&mut dx.data), slice_mut(&mut d_att.data));
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_softmax(
        &self,
        a: &CpuSparse,
        s_src: &CpuMatrix,
        s_dst: &CpuMatrix,
        slope: f32,
        pre: &mut CpuMatrix,
        alpha: &mut CpuMatrix,
    ) {
        let heads = super::attention::check_edge_softmax(a, s_src, s_dst, pre, alpha);
        ops::edge_softmax(
            &a.view(),
            &slice(&s_src.data)[..a.cols() * heads],
            &slice(&s_dst.data)[..a.rows() * heads],
            heads,
            slope,
            &mut slice_mut(&mut pre.data)[..a.nnz() * heads],
            &mut slice_mut(&mut alpha.data)[..a.nnz() * heads],
        );
    }

    fn edge_softmax_backward(
        &self,
        a: &CpuSparse,
        pre: &CpuMatrix,
        alpha: &CpuMatrix,
        d_alpha: &CpuMatrix,
        slope: f32,
        d_pre: &mut CpuMatrix,
    ) {
        let heads = super::attention::check_edge_softmax_backward(a, pre, alpha, d_alpha, d_pre);
        let e = a.nnz() * heads;
        let (pre, alpha, d_alpha) = (&slice(&pre.data)[..e], &slice(&alpha.data)[..e], &slice(&d_alpha.data)[..e]);
        ops::edge_softmax_backward(&a.view(), pre, alpha, d_alpha, heads, slope, &mut slice_mut(&mut d_pre.data)[..e]);
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_dropout(
        &self,
        a: &CpuSparse,
        row_ids: &CpuIndex,
        col_ids: &CpuIndex,
        spec: &DropoutSpec,
        x: &CpuMatrix,
        out: &mut CpuMatrix,
    ) {
        super::attention::check_edge_dropout(a, row_ids, col_ids, x, out);
        let (ids, heads) = ((&row_ids.data, &col_ids.data), x.cols());
        let e = a.nnz() * heads;
        ops::edge_dropout(
            &a.view(),
            ids.0,
            ids.1,
            spec,
            &slice(&x.data)[..e],
            heads,
            &mut slice_mut(&mut out.data)[..e],
        );
    }

    fn attention_spmm(
        &self,
        a: &CpuSparse,
        perm: Option<&CpuIndex>,
        alpha: &CpuMatrix,
        x: &CpuMatrix,
        out: &mut CpuMatrix,
    ) {
        super::attention::check_attention_spmm(a, perm, alpha, x, out);
        if let Some(p) = perm {
            assert!(
                p.data.iter().all(|&e| (e as usize) < alpha.rows()),
                "attention_spmm: a perm entry is out of range"
            );
        }
        let (perm, k) = (perm.map(|p| p.data.as_slice()), x.cols());
        ops::attention_spmm(
            &a.view(),
            perm,
            &slice(&alpha.data)[..a.nnz() * alpha.cols()],
            alpha.cols(),
            slice(&x.data),
            k,
            slice_mut(&mut out.data),
        );
    }

    fn attention_spmm_backward_alpha(&self, a: &CpuSparse, x: &CpuMatrix, d_out: &CpuMatrix, d_alpha: &mut CpuMatrix) {
        let (heads, c) = head_shapes::attention_spmm_backward_alpha(a, x, d_out, d_alpha);
        let (x, d_out) = (slice(&x.data), slice(&d_out.data));
        ops::attention_spmm_backward_alpha(&a.view(), x, d_out, heads, heads * c, slice_mut(&mut d_alpha.data));
    }

    fn edge_row_sum(&self, a: &CpuSparse, perm: Option<&CpuIndex>, x: &CpuMatrix, out: &mut CpuMatrix) {
        let heads = head_shapes::edge_row_sum(a, perm, x, out);
        let perm = perm.map(|p| p.data.as_slice());
        assert!(
            perm.is_none_or(|p| p.iter().all(|&e| (e as usize) < x.rows())),
            "edge_row_sum: a perm entry is out of range"
        );
        ops::edge_row_sum(&a.view(), perm, slice(&x.data), heads, slice_mut(&mut out.data));
    }

    fn sum_squares(&self, m: &CpuMatrix, stats: &mut CpuStats, slot: usize) {
        stats.data[slot * STATS_WIDTH + super::stat::AUX] = ops::sum_squares(slice(&m.data));
    }

    fn weighted_sum(&self, inputs: &[&CpuMatrix], weights: &[f32], order: ReduceOrder, out: &mut CpuMatrix) {
        for m in inputs {
            super::check_shape("weighted_sum", "input", (m.rows(), m.cols()), (out.rows(), out.cols()));
        }
        let slices: Vec<&[f32]> = inputs.iter().map(|m| slice(&m.data)).collect();
        ops::weighted_sum(&slices, weights, order, slice_mut(&mut out.data));
    }

    fn optimizer_step(&self, param: &mut CpuMatrix, grad: &CpuMatrix, state: &mut [CpuMatrix], step: &OptimizerStep) {
        let shape = (param.rows(), param.cols());
        super::check_shape(step.name(), "grad", (grad.rows(), grad.cols()), shape);
        for s in state.iter() {
            super::check_shape(step.name(), "state", (s.rows(), s.cols()), shape);
        }
        let mut slots: Vec<&mut [f32]> = state.iter_mut().map(|s| slice_mut(&mut s.data)).collect();
        optim::optimizer_step(slice_mut(&mut param.data), slice(&grad.data), &mut slots, step);
    }

    fn copy_region(&self, src: &CpuMatrix, src_offset: usize, dst: &mut CpuMatrix, dst_offset: usize, len: usize) {
        assert!(src_offset + len <= src.len(), "copy_region: source range {src_offset}+{len} of {}", src.len());
        assert!(dst_offset + len <= dst.len(), "copy_region: destination range {dst_offset}+{len} of {}", dst.len());
        slice_mut(&mut dst.data)[dst_offset..dst_offset + len]
            .copy_from_slice(&slice(&src.data)[src_offset..src_offset + len]);
    }

    fn pairwise_sq_dists(&self, g: &CpuMatrix, out: &mut CpuMatrix) {
        super::check_shape("pairwise_sq_dists", "out", (out.rows(), out.cols()), (g.rows(), g.rows()));
        robust::pairwise_sq_dists(slice(&g.data), g.rows(), g.cols(), slice_mut(&mut out.data));
    }

    fn byzantine_attack(&self, g: &mut CpuMatrix, byzantine: &CpuIndex, attack: &AttackStep) {
        let (n, d) = (g.rows(), g.cols());
        assert_eq!(byzantine.data.len(), n, "byzantine_attack: {n} rows need {n} flags");
        robust::byzantine_attack(slice_mut(&mut g.data), n, d, &byzantine.data, attack);
    }

    fn pre_aggregate(&self, g: &CpuMatrix, pre: &PreAggregationStep, out: &mut CpuMatrix) {
        let (n, d) = (g.rows(), g.cols());
        pre.check_rows("pre_aggregate", n);
        super::check_shape("pre_aggregate", "out", (out.rows(), out.cols()), (pre.rows_out(n), d));
        robust::pre_aggregate(slice(&g.data), n, d, pre, slice_mut(&mut out.data));
    }

    fn robust_aggregate(
        &self,
        g: &CpuMatrix,
        rule: &RobustStep,
        centre: Option<&CpuMatrix>,
        out: &mut CpuMatrix,
        selection: &mut CpuMatrix,
    ) {
        let (n, d) = (g.rows(), g.cols());
        rule.check_rows("robust_aggregate", n);
        super::check_shape("robust_aggregate", "out", (out.rows(), out.cols()), (1, d));
        super::check_shape("robust_aggregate", "selection", (selection.rows(), selection.cols()), (1, n));
        if let Some(c) = centre {
            super::check_shape("robust_aggregate", "centre", (c.rows(), c.cols()), (1, d));
        }
        robust::robust_aggregate(
            slice(&g.data),
            n,
            d,
            rule,
            centre.map(|c| slice(&c.data)),
            slice_mut(&mut out.data),
            slice_mut(&mut selection.data),
        );
    }

    fn compress_rows(
        &self,
        x: &CpuMatrix,
        row_ids: &CpuIndex,
        step: &CompressStep,
        residual: Option<&mut CpuMatrix>,
        out: &mut CpuMatrix,
    ) {
        super::check_shape("compress_rows", "out", out.data.dim(), x.data.dim());
        let cols = x.cols();
        match residual {
            None => compress::compress_rows(slice(&x.data), cols, &row_ids.data, step, slice_mut(&mut out.data)),
            Some(e) => {
                super::check_shape("compress_rows", "residual", e.data.dim(), x.data.dim());
                let mut v = vec![0.0; x.len()];
                compress::ef_add(slice(&x.data), slice(&e.data), &mut v);
                compress::compress_rows(&v, cols, &row_ids.data, step, slice_mut(&mut out.data));
                compress::ef_residual(&v, slice(&out.data), slice_mut(&mut e.data));
            }
        }
    }

    fn powersgd(
        &self,
        m: &CpuMatrix,
        q: &mut CpuMatrix,
        p: &mut CpuMatrix,
        residual: Option<&mut CpuMatrix>,
        out: &mut CpuMatrix,
    ) {
        let (n, c, r) = (m.rows(), m.cols(), q.cols());
        super::check_shape("powersgd", "q", q.data.dim(), (c, r));
        super::check_shape("powersgd", "p", p.data.dim(), (n, r));
        super::check_shape("powersgd", "out", out.data.dim(), (n, c));
        assert!(r >= 1 && r <= n.min(c), "powersgd: rank {r} of a {n}x{c} matrix");
        match residual {
            None => compress::powersgd(m.data.view(), q.data.view_mut(), p.data.view_mut(), out.data.view_mut()),
            Some(e) => {
                super::check_shape("powersgd", "residual", e.data.dim(), (n, c));
                let mut v = Array2::zeros((n, c));
                compress::ef_add(slice(&m.data), slice(&e.data), slice_mut(&mut v));
                compress::powersgd(v.view(), q.data.view_mut(), p.data.view_mut(), out.data.view_mut());
                compress::ef_residual(slice(&v), slice(&out.data), slice_mut(&mut e.data));
            }
        }
    }
}

/// Panics unless rows `src_row0 .. + rows` of `src` and `dst_row0 .. + rows` of `dst` exist
/// and the widths agree.
#[track_caller]
fn check_rows(op: &str, src: &CpuMatrix, src_row0: usize, dst: &CpuMatrix, dst_row0: usize, rows: usize) {
    assert_eq!(src.cols(), dst.cols(), "{op}: widths differ");
    assert!(src_row0 + rows <= src.rows(), "{op}: src has {} rows, needs {}", src.rows(), src_row0 + rows);
    assert!(dst_row0 + rows <= dst.rows(), "{op}: dst has {} rows, needs {}", dst.rows(), dst_row0 + rows);
}

fn slice(a: &Array2<f32>) -> &[f32] {
    a.as_slice().expect("backend matrices are standard-layout")
}

fn slice_mut(a: &mut Array2<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("backend matrices are standard-layout")
}
