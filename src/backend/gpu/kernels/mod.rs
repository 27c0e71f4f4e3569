//! One typed wrapper per kernel family. Each owns its pipeline(s) with an explicit group-0
//! bind-group layout, mirrors its WGSL `Params` in a `#[repr(C)]` Pod struct, checks shapes and
//! buffer sizes (panicking with the op's name: a caller bug), and records through the
//! [`Recorder`].

pub mod attention;
pub mod byzantine_attack;
pub mod centered_clipping;
pub mod combine_rows;
pub mod dropout;
pub mod edge_sums;
pub mod elu;
pub mod exchange;
pub mod geometric_median;
pub mod heads;
pub mod krum;
pub mod matmul;
pub mod nnm;
pub mod optimizer;
pub mod pairwise_sq_dists;
pub mod powersgd;
pub mod quantize;
pub mod reduce;
pub mod relu;
pub mod row_distances;
pub mod softmax_xent;
pub mod sparsify;
pub mod spmm;
pub mod trimmed_mean;
pub mod weighted_rows;
pub mod weighted_sum;

use std::ops::Range;

use super::alloc::GpuBuffer;
use super::recorder::{Bind, Kernel, Recorder};
use crate::backend::BackendError;

/// How a kernel accesses a group-0 storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

pub fn module(device: &wgpu::Device, label: &str, source: &'static str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    })
}

/// A pipeline for `entry` of `module` with an explicit layout: group 0 = storage buffers at the
/// given binding numbers, group 1 = the shared parameter uniform.
pub fn kernel(
    device: &wgpu::Device,
    params_layout: &wgpu::BindGroupLayout,
    module: &wgpu::ShaderModule,
    entry: &'static str,
    bindings: &[(u32, Access)],
) -> Kernel {
    kernel_with(device, params_layout, module, entry, entry, bindings, &[])
}

/// [`kernel`] with WGSL `override` constants; `name` tells the variants apart.
pub fn kernel_with(
    device: &wgpu::Device,
    params_layout: &wgpu::BindGroupLayout,
    module: &wgpu::ShaderModule,
    entry: &'static str,
    name: &'static str,
    bindings: &[(u32, Access)],
    constants: &[(&str, f64)],
) -> Kernel {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
        .iter()
        .map(|&(binding, access)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: access == Access::Read },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    let layout =
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(name), entries: &entries });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(name),
        bind_group_layouts: &[Some(&layout), Some(params_layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: Some(&pipeline_layout),
        module,
        entry_point: Some(entry),
        // Every kernel writes its workgroup memory before reading it; skipping wgpu's zero
        // fill saves a pass over it (and a barrier) per workgroup.
        compilation_options: wgpu::PipelineCompilationOptions { constants, zero_initialize_workgroup_memory: false },
        cache: None,
    });
    Kernel {
        name,
        pipeline,
        layout,
        bindings: bindings.iter().map(|b| b.0).collect(),
        writes: bindings.iter().map(|b| b.1 == Access::ReadWrite).collect(),
    }
}

/// Workgroups for `n` items at `per_group` items each, as the u32 a dispatch takes.
pub fn groups(op: &str, n: usize, per_group: usize) -> u32 {
    u32::try_from(n.div_ceil(per_group)).unwrap_or_else(|_| panic!("{op}: {n} items need too many workgroups"))
}

/// Panics unless `buf` holds at least `elems` 4-byte elements.
#[track_caller]
pub fn check_buf(op: &str, what: &str, buf: &GpuBuffer, elems: usize) {
    assert!(buf.size() >= 4 * elems as u64, "{op}: {what} buffer has {} bytes, needs {}", buf.size(), 4 * elems);
}

/// Every kernel family, built once per device.
pub struct Kernels {
    pub spmm: spmm::Spmm,
    pub matmul: matmul::Matmul,
    pub relu: relu::Relu,
    pub dropout: dropout::Dropout,
    pub softmax_xent: softmax_xent::SoftmaxXent,
    pub reduce: reduce::Reduce,
    pub weighted_sum: weighted_sum::WeightedSum,
    pub optimizer: optimizer::Optimizer,
    pub exchange: exchange::Exchange,
    pub trimmed_mean: trimmed_mean::TrimmedMean,
    pub pairwise_sq_dists: pairwise_sq_dists::PairwiseSqDists,
    pub krum: krum::Krum,
    pub nnm: nnm::Nnm,
    pub combine_rows: combine_rows::CombineRows,
    pub row_distances: row_distances::RowDistances,
    pub weighted_rows: weighted_rows::WeightedRows,
    pub geometric_median: geometric_median::GeometricMedian,
    pub centered_clipping: centered_clipping::CenteredClipping,
    pub byzantine_attack: byzantine_attack::ByzantineAttack,
    pub attention: attention::Attention,
    pub elu: elu::Elu,
    pub heads: heads::Heads,
    pub edge_sums: edge_sums::EdgeSums,
    pub quantize: quantize::Quantize,
    pub sparsify: sparsify::Sparsify,
    pub powersgd: powersgd::PowerSgd,
}

impl Kernels {
    pub fn new(device: &wgpu::Device, rec: &Recorder) -> Self {
        let pl = rec.params_layout();
        Self {
            spmm: spmm::Spmm::new(device, pl),
            matmul: matmul::Matmul::new(device, pl),
            relu: relu::Relu::new(device, pl),
            dropout: dropout::Dropout::new(device, pl),
            softmax_xent: softmax_xent::SoftmaxXent::new(device, pl),
            reduce: reduce::Reduce::new(device, pl),
            weighted_sum: weighted_sum::WeightedSum::new(device, pl),
            optimizer: optimizer::Optimizer::new(device, pl),
            exchange: exchange::Exchange::new(device, pl),
            trimmed_mean: trimmed_mean::TrimmedMean::new(device, pl),
            pairwise_sq_dists: pairwise_sq_dists::PairwiseSqDists::new(device, pl),
            krum: krum::Krum::new(device, pl),
            nnm: nnm::Nnm::new(device, pl),
            combine_rows: combine_rows::CombineRows::new(device, pl),
            row_distances: row_distances::RowDistances::new(device, pl),
            weighted_rows: weighted_rows::WeightedRows::new(device, pl),
            geometric_median: geometric_median::GeometricMedian::new(device, pl),
            centered_clipping: centered_clipping::CenteredClipping::new(device, pl),
            byzantine_attack: byzantine_attack::ByzantineAttack::new(device, pl),
            attention: attention::Attention::new(device, pl),
            elu: elu::Elu::new(device, pl),
            heads: heads::Heads::new(device, pl),
            edge_sums: edge_sums::EdgeSums::new(device, pl),
            quantize: quantize::Quantize::new(device, pl),
            sparsify: sparsify::Sparsify::new(device, pl),
            powersgd: powersgd::PowerSgd::new(device, pl),
        }
    }
}

/// Splits the rows of row-major matrices into ranges that each fit one storage binding, for
/// kernels that loop over a matrix larger than `max_storage_buffer_binding_size`.
///
/// `row_bytes` lists the bytes per row of every matrix bound by these ranges (e.g. a matmul's A
/// and its output). Each range's byte offset in every matrix is a multiple of the device's
/// storage offset alignment, and each range except the last holds a multiple of `multiple`
/// rows (so a split-K chunk never straddles two bindings). `None` when everything fits one
/// binding (the caller records its usual single dispatch).
pub fn row_ranges(
    rec: &mut Recorder,
    op: &str,
    rows: usize,
    row_bytes: &[(&GpuBuffer, u64)],
    multiple: usize,
) -> Option<Vec<Range<usize>>> {
    let limit = rec.alloc().binding_limit();
    let align = rec.alloc().offset_alignment();
    if row_bytes.iter().all(|&(_, b)| rows as u64 * b <= limit) {
        return None;
    }
    // Rows per range: what the widest matrix fits, rounded down to a multiple of every step
    // that keeps offsets aligned and of `multiple`.
    let widest = row_bytes.iter().map(|&(_, b)| b).max().unwrap_or(1).max(1);
    let mut step = multiple.max(1) as u64;
    for &(_, b) in row_bytes {
        let s = align / gcd(align, b.max(1));
        step = step / gcd(step, s) * s;
    }
    let per = limit / widest / step * step;
    if per == 0 {
        let (buf, b) = row_bytes.iter().max_by_key(|&&(_, b)| b).copied().expect("at least one matrix");
        rec.fail(BackendError::BufferTooLarge {
            label: format!("{} ({op}: {} rows aligned to {step} exceed one binding)", buf.label(), step),
            size: step * b,
            limit,
            limit_name: "max_storage_buffer_binding_size",
        });
        return Some(Vec::new());
    }
    let per = per as usize;
    Some((0..rows).step_by(per).map(|r0| r0..(r0 + per).min(rows)).collect())
}

/// The binding of rows `range` of a row-major matrix with `row_bytes` per row.
pub fn rows_of<'a>(buf: &'a GpuBuffer, row_bytes: u64, range: &Range<usize>) -> Bind<'a> {
    let offset = range.start as u64 * row_bytes;
    let bytes = (range.len() as u64 * row_bytes).max(super::alloc::MIN_BUFFER_BYTES);
    Bind::Range { buf, offset, bytes }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
