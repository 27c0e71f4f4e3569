//! `fp16_round`, `quantize_rows` and error feedback's `ef_add` / `ef_residual`: see
//! `shaders/quantize.wgsl`.

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::compress::RowCodec;
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::shaders;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct QuantizeParams {
    pub n: u32,
    pub cols: u32,
    pub mode: u32,
    pub levels: u32,
    pub stream: u32,
    pub _pad: [u32; 3],
}
const _: () = assert!(size_of::<QuantizeParams>() as u64 <= PARAM_BYTES);

pub struct Quantize {
    fp16_round: Kernel,
    rows: Kernel,
    ef_add: Kernel,
    ef_residual: Kernel,
}

impl Quantize {
    pub const WORKGROUP: u32 = 256;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "quantize.wgsl", shaders::QUANTIZE);
        let (r, w) = (Access::Read, Access::ReadWrite);
        Self {
            fp16_round: kernel(device, params_layout, &m, "fp16_round", &[(0, r), (2, w)]),
            rows: kernel(device, params_layout, &m, "quantize_rows", &[(0, r), (1, r), (2, w)]),
            ef_add: kernel(device, params_layout, &m, "ef_add", &[(0, r), (2, w), (3, w)]),
            ef_residual: kernel(device, params_layout, &m, "ef_residual", &[(0, r), (2, w), (3, w)]),
        }
    }

    fn params(n: usize, cols: usize, mode: u32, levels: u32, stream: u32) -> QuantizeParams {
        QuantizeParams { n: n as u32, cols: cols as u32, mode, levels, stream, _pad: [0; 3] }
    }

    /// `out = decode(encode(v))` for the rows × cols matrix in `v` with a quantizing codec
    /// (fp16, uniform, one-bit, qsgd, sign); `row_ids` holds one id per row.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        v: &GpuBuffer,
        rows: usize,
        cols: usize,
        row_ids: &GpuBuffer,
        codec: &RowCodec,
        stream: u32,
        out: &GpuBuffer,
    ) {
        let n = rows * cols;
        check_buf("quantize", "x", v, n);
        check_buf("quantize", "out", out, n);
        codec.check("quantize", cols);
        if n == 0 {
            return;
        }
        let (mode, levels) = match *codec {
            RowCodec::Fp16 => {
                let slot = rec.params(&Self::params(n, cols, 0, 0, 0));
                let g = groups("fp16_round", n, Self::WORKGROUP as usize);
                rec.dispatch(&self.fp16_round, &[Bind::Buf(v), Bind::Buf(out)], slot, g);
                return;
            }
            RowCodec::Uniform { bits } => (1, (1u32 << bits) - 1),
            RowCodec::OneBit => (2, 0),
            RowCodec::Qsgd { levels } => (3, levels),
            RowCodec::Sign => (4, 0),
            RowCodec::TopK { .. } | RowCodec::RandK { .. } => panic!("quantize: {codec:?} is a sparsifier"),
        };
        assert!(u32::try_from(n).is_ok(), "quantize: {n} elements exceed u32 indices");
        check_buf("quantize", "row_ids", row_ids, rows);
        let slot = rec.params(&Self::params(rows, cols, mode, levels, stream));
        let g = u32::try_from(rows).unwrap_or_else(|_| panic!("quantize: {rows} rows need too many workgroups"));
        rec.dispatch(&self.rows, &[Bind::Buf(v), Bind::Buf(row_ids), Bind::Buf(out)], slot, g);
    }

    /// `v = x + e` over `n` elements.
    pub fn ef_add(&self, rec: &mut Recorder, x: &GpuBuffer, e: &GpuBuffer, v: &GpuBuffer, n: usize) {
        for (what, b) in [("x", x), ("residual", e), ("v", v)] {
            check_buf("ef_add", what, b, n);
        }
        if n == 0 {
            return;
        }
        let slot = rec.params(&Self::params(n, 0, 0, 0, 0));
        let g = groups("ef_add", n, Self::WORKGROUP as usize);
        rec.dispatch(&self.ef_add, &[Bind::Buf(x), Bind::Buf(v), Bind::Buf(e)], slot, g);
    }

    /// `e = v − out` over `n` elements.
    pub fn ef_residual(&self, rec: &mut Recorder, v: &GpuBuffer, out: &GpuBuffer, e: &GpuBuffer, n: usize) {
        for (what, b) in [("v", v), ("out", out), ("residual", e)] {
            check_buf("ef_residual", what, b, n);
        }
        if n == 0 {
            return;
        }
        let slot = rec.params(&Self::params(n, 0, 0, 0, 0));
        let g = groups("ef_residual", n, Self::WORKGROUP as usize);
        rec.dispatch(&self.ef_residual, &[Bind::Buf(v), Bind::Buf(out), Bind::Buf(e)], slot, g);
    }
}
