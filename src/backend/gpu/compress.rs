//! The compression ops of [`Backend`](crate::backend::Backend) on the GPU, recorded into the
//! current encoder: error feedback's `v = x + e` into a named scratch buffer, the codec's kernel,
//! then `e = v − out`. PowerSGD is three [`Matmul`](super::kernels::matmul::Matmul) products
//! around the Gram–Schmidt kernel.

use std::sync::Arc;

use super::alloc::GpuBuffer;
use super::kernels::matmul::Operand;
use super::kernels::Kernels;
use super::recorder::Recorder;
use super::{GpuIndex, GpuMatrix};
use crate::backend::compress::{CompressStep, RowCodec};
use crate::backend::{check_shape, Shape};

/// `x + e` in the "compress v" scratch buffer, or `x` itself without a residual.
fn corrected(k: &Kernels, rec: &mut Recorder, op: &str, x: &GpuMatrix, residual: Option<&GpuMatrix>) -> Arc<GpuBuffer> {
    let e = residual.expect("corrected is called with a residual");
    check_shape(op, "residual", (e.rows(), e.cols()), (x.rows(), x.cols()));
    let v = rec.scratch("compress v", 4 * x.len().max(1) as u64);
    k.quantize.ef_add(rec, &x.buf, &e.buf, &v, x.len());
    v
}

pub fn compress_rows(
    k: &Kernels,
    rec: &mut Recorder,
    x: &GpuMatrix,
    row_ids: &GpuIndex,
    step: &CompressStep,
    residual: Option<&GpuMatrix>,
    out: &GpuMatrix,
) {
    let (rows, cols) = (x.rows(), x.cols());
    check_shape("compress_rows", "out", (out.rows(), out.cols()), (rows, cols));
    assert!(row_ids.len() >= rows, "compress_rows: {} row ids for {rows} rows", row_ids.len());
    let v = residual.map(|_| corrected(k, rec, "compress_rows", x, residual));
    let input = v.as_deref().unwrap_or(&x.buf);
    match step.codec {
        RowCodec::TopK { .. } | RowCodec::RandK { .. } => {
            k.sparsify.encode(rec, input, rows, cols, &row_ids.buf, &step.codec, step.stream, &out.buf)
        }
        _ => k.quantize.encode(rec, input, rows, cols, &row_ids.buf, &step.codec, step.stream, &out.buf),
    }
    if let (Some(v), Some(e)) = (&v, residual) {
        k.quantize.ef_residual(rec, v, &out.buf, &e.buf, x.len());
    }
}

pub fn powersgd(
    k: &Kernels,
    rec: &mut Recorder,
    m: &GpuMatrix,
    q: &GpuMatrix,
    p: &GpuMatrix,
    residual: Option<&GpuMatrix>,
    out: &GpuMatrix,
) {
    let (n, cols, r) = (m.rows(), m.cols(), q.cols());
    check_shape("powersgd", "q", (q.rows(), q.cols()), (cols, r));
    check_shape("powersgd", "p", (p.rows(), p.cols()), (n, r));
    check_shape("powersgd", "out", (out.rows(), out.cols()), (n, cols));
    assert!(r >= 1 && r <= n.min(cols), "powersgd: rank {r} of a {n}x{cols} matrix");
    let v = residual.map(|_| corrected(k, rec, "powersgd", m, residual));
    let mv = Operand { buf: v.as_deref().unwrap_or(&m.buf), rows: n, cols };
    k.matmul.encode_operands(rec, mv, q.into(), p.into(), false, false);
    k.powersgd.orthogonalize(rec, &p.buf, n, r);
    k.matmul.encode_operands(rec, mv, p.into(), q.into(), true, false);
    k.matmul.encode_operands(rec, p.into(), q.into(), out.into(), false, true);
    if let (Some(v), Some(e)) = (&v, residual) {
        k.quantize.ef_residual(rec, v, &out.buf, &e.buf, m.len());
    }
}
