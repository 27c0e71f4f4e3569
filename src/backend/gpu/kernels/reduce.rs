//! Deterministic multi-pass tree reduction into a stats slot: see `shaders/reduce.wgsl`.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use super::{check_buf, groups, kernel, module, Access};
use crate::backend::gpu::alloc::GpuBuffer;
use crate::backend::gpu::recorder::{Bind, Kernel, Recorder, PARAM_BYTES};
use crate::backend::gpu::{shaders, GpuMatrix, GpuStats};
use crate::backend::{stat, Shape, STATS_WIDTH};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ReduceParams {
    pub n: u32,
    pub mode: u32,
    pub width: u32,
    pub dst_offset: u32,
}
const _: () = assert!(size_of::<ReduceParams>() as u64 <= PARAM_BYTES);

/// What the first pass reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Per-row (loss, correct) of softmax_xent with split codes: 9 sums.
    Xent = 0,
    /// Σ x²: 1 sum.
    SumSquares = 1,
    /// Element-wise sums of partial vectors.
    Partials = 2,
}

impl Mode {
    pub fn width(self) -> usize {
        match self {
            Mode::Xent => 9,
            Mode::SumSquares => 1,
            Mode::Partials => unreachable!("partials keep the first pass's width"),
        }
    }
}

pub struct Reduce {
    kernel: Kernel,
}

impl Reduce {
    pub const WORKGROUP: u32 = 256;
    /// Items per thread before the tree.
    pub const ITEMS: u32 = 4;
    /// Items one workgroup reduces.
    pub const BLOCK: usize = (Self::WORKGROUP * Self::ITEMS) as usize;

    pub fn new(device: &wgpu::Device, params_layout: &wgpu::BindGroupLayout) -> Self {
        let m = module(device, "reduce.wgsl", shaders::REDUCE);
        Self {
            kernel: kernel(
                device,
                params_layout,
                &m,
                "reduce",
                &[(0, Access::Read), (1, Access::Read), (2, Access::ReadWrite)],
            ),
        }
    }

    /// Overwrites `stats[slot][AUX]` with Σ m².
    pub fn sum_squares(&self, rec: &mut Recorder, m: &GpuMatrix, stats: &GpuStats, slot: usize) {
        check_buf("sum_squares", "m", &m.buf, m.len());
        let codes = rec.scratch("reduce dummy codes", 4);
        self.encode(rec, Mode::SumSquares, &m.buf, &codes, m.len(), stats, slot, stat::AUX);
    }

    /// Reduces `n` items of `src` (first pass in `mode`) and overwrites the `mode.width()`
    /// entries of `stats[slot]` starting at `offset`. Passes over per-workgroup partials
    /// alternate between two scratch buffers until one workgroup is left.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        rec: &mut Recorder,
        mode: Mode,
        src: &GpuBuffer,
        codes: &GpuBuffer,
        n: usize,
        stats: &GpuStats,
        slot: usize,
        offset: usize,
    ) {
        let width = mode.width();
        assert!(slot < stats.slots, "reduce: stats slot {slot} of {}", stats.slots);
        assert!(offset + width <= STATS_WIDTH, "reduce: {width} sums from offset {offset} overflow the slot");
        check_buf("reduce", "stats", &stats.buf, stats.slots * STATS_WIDTH);
        let mut mode = mode;
        let mut n = n;
        // None: the caller's `src`; later passes read the previous pass's partials.
        let mut input: Option<Arc<GpuBuffer>> = None;
        let mut pass = 0usize;
        loop {
            let g = groups("reduce", n, Self::BLOCK).max(1);
            let last = g == 1;
            let partials = if last {
                None
            } else {
                let name = ["reduce partials a", "reduce partials b"][pass % 2];
                Some(rec.scratch(name, (4 * g as usize * width) as u64))
            };
            let dst_offset = if last { slot * STATS_WIDTH + offset } else { 0 };
            let slot_p = rec.params(&ReduceParams {
                n: n as u32,
                mode: mode as u32,
                width: width as u32,
                dst_offset: dst_offset as u32,
            });
            let src_buf: &GpuBuffer = input.as_deref().unwrap_or(src);
            let dst_buf: &GpuBuffer = partials.as_deref().unwrap_or(&stats.buf);
            rec.dispatch(&self.kernel, &[Bind::Buf(src_buf), Bind::Buf(codes), Bind::Buf(dst_buf)], slot_p, g);
            if last {
                break;
            }
            input = partials;
            n = g as usize;
            mode = Mode::Partials;
            pass += 1;
        }
    }
}
