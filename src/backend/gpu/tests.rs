//! GPU kernels against their CPU twins (through the `Backend` trait on both sides), plus
//! shader validation, limits, memory accounting and an end-to-end GCN step.
//!
//! Tolerance: `|x − y| ≤ max(rel·|x + y|, abs)`, stated per test with its reason. Outputs are
//! pre-filled with NaN so an element the kernel never writes fails the comparison.

use super::*;
use crate::backend::cpu::CpuBackend;
use crate::backend::{stat, AdamStep, Backend, DropoutSpec, MemCategory, OptimizerStep, ReduceOrder, SparseLayout};
use crate::rng::{MaskKey, SplitMix64};

macro_rules! gpu_or_skip {
    () => {
        match gpu_for_tests() {
            Some(g) => g,
            None => return,
        }
    };
}

pub(super) fn rand_matrix(rng: &mut SplitMix64, rows: usize, cols: usize) -> HostMatrix {
    HostMatrix::from_vec(rows, cols, (0..rows * cols).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect())
}

pub(super) fn nan_matrix(rows: usize, cols: usize) -> HostMatrix {
    HostMatrix::from_vec(rows, cols, vec![f32::NAN; rows * cols])
}

/// Random CSR with values; every 7th row (and row 0) is empty.
pub(super) fn rand_csr(rng: &mut SplitMix64, rows: usize, cols: usize, density: f64) -> Csr {
    let mut row_ptr = vec![0u32];
    let (mut col_idx, mut values) = (Vec::new(), Vec::new());
    for r in 0..rows {
        if r % 7 != 0 {
            for c in 0..cols {
                if rng.next_f64() < density {
                    col_idx.push(c as u32);
                    values.push((rng.next_f64() * 2.0 - 1.0) as f32);
                }
            }
        }
        row_ptr.push(col_idx.len() as u32);
    }
    Csr { rows, cols, row_ptr, col_idx, values }
}

#[track_caller]
pub(super) fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&x, &y)) in got.iter().zip(want).enumerate() {
        let d = (x - y).abs();
        // NaN (an unwritten element) fails this comparison.
        let ok = d <= (rel * (x + y).abs()).max(abs);
        assert!(ok, "{what}: element {i}: gpu {x} vs cpu {y} (|diff| {d}, rel {rel}, abs {abs})");
    }
}

#[track_caller]
pub(super) fn assert_bits_eq(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&x, &y)) in got.iter().zip(want).enumerate() {
        assert!(x.to_bits() == y.to_bits(), "{what}: element {i}: gpu {x} vs cpu {y} not bit-equal");
    }
}

pub(super) fn up<B: Backend>(b: &B, m: &HostMatrix) -> B::Matrix {
    b.upload(m, MemCategory::Activations, "test").expect("upload")
}

pub(super) fn down<B: Backend>(b: &B, m: &B::Matrix) -> Vec<f32> {
    b.download(m).expect("download").data
}

// ---------------------------------------------------------------- shaders, limits, memory

#[test]
fn shaders_validate_with_naga() {
    for (name, src) in shaders::ALL {
        let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

#[test]
fn buffer_too_large_names_label() {
    let gpu = gpu_or_skip!();
    // A matrix may exceed one binding (kernels that can bind it in row ranges do), never
    // max_buffer_size.
    let limit = gpu.limits().max_buffer_size;
    let cols = 1024usize;
    let rows = (limit / 4 / cols as u64 + 1) as usize; // just above the limit
    let before = gpu.memory().snapshot().live_total();
    match gpu.alloc(rows, cols, MemCategory::Activations, "huge_activation") {
        Err(BackendError::BufferTooLarge { label, size, limit: l, limit_name }) => {
            assert_eq!(label, "huge_activation");
            assert!(size > l && l == limit, "size {size} limit {l}");
            assert_eq!(limit_name, "max_buffer_size");
            let msg = BackendError::BufferTooLarge { label, size, limit: l, limit_name }.to_string();
            assert!(msg.contains("huge_activation"), "{msg}");
        }
        Err(e) => panic!("expected BufferTooLarge, got {e}"),
        Ok(_) => panic!("a buffer above the device limit was allocated"),
    }
    assert_eq!(gpu.memory().snapshot().live_total(), before, "nothing may be counted for a refused buffer");
    // Buffers bound whole (index vectors, sparse arrays) stop at one binding.
    let binding = gpu.limits().max_storage_buffer_binding_size;
    match gpu.allocator().check("huge_index", binding + 4, alloc::STORAGE) {
        Err(BackendError::BufferTooLarge { label, limit_name, .. }) => {
            assert_eq!((label.as_str(), limit_name), ("huge_index", "max_storage_buffer_binding_size"));
        }
        other => panic!("expected BufferTooLarge for a whole binding, got {other:?}"),
    }
}

/// A backend whose storage bindings stop at `bytes` (buffers themselves may be larger).
fn with_binding_limit(bytes: u64) -> GpuBackend {
    GpuBackend::with_allocation_limits(&AdapterPreference::Best, |l| l.max_storage_buffer_binding_size = bytes)
        .expect("a backend with a tightened limit")
}

/// Dropout and matmul bind a matrix larger than one binding in row ranges; with the product's
/// own split-K chunks inside each range, the results are those of the whole binding, bit for
/// bit. With chunks forced smaller than the product's (a binding too small for them), the
/// results stay within the matmul tolerance of the CPU.
#[test]
fn matrices_larger_than_one_binding_are_split_into_row_ranges() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(31);
    // X: 3000 × 40 (480 KB), W: 40 × 16, G: 3000 × 16.
    let (x, w, g) = (rand_matrix(&mut rng, 3000, 40), rand_matrix(&mut rng, 40, 16), rand_matrix(&mut rng, 3000, 16));
    let ids: Vec<u32> = (0..3000u32).map(|i| i * 7 + 3).collect();
    let spec = DropoutSpec::new(MaskKey { seed: 4, epoch: 2, layer: 0 }, 0.5);
    let run = |b: &GpuBackend| {
        let (xb, wb, gb) = (up(b, &x), up(b, &w), up(b, &g));
        let idx = b.upload_index(&ids, MemCategory::Graph, "ids").unwrap();
        let mut xd = up(b, &nan_matrix(3000, 40));
        let mut xw = up(b, &nan_matrix(3000, 16));
        let mut xtg = up(b, &nan_matrix(40, 16));
        b.dropout(&xb, &idx, &spec, &mut xd);
        b.matmul(&xd, &wb, &mut xw, false, false);
        b.matmul(&xd, &gb, &mut xtg, true, false);
        (down(b, &xd), down(b, &xw), down(b, &xtg))
    };
    let whole = run(&gpu);
    // 128 KiB holds 819 rows of X, 768 once aligned to the product's k chunk of 256: 4 ranges.
    let ranged = with_binding_limit(128 << 10);
    let before = ranged.counters().dispatches;
    let split = run(&ranged);
    assert!(ranged.counters().dispatches - before >= 3 * 4, "each op ran once per range");
    assert_bits_eq("dropout in ranges", &split.0, &whole.0);
    assert_bits_eq("X·W in ranges", &split.1, &whole.1);
    assert_bits_eq("Xᵀ·G in ranges", &split.2, &whole.2);
    // 64 KiB: ranges of 400 rows, too small for two of the product's own chunks.
    let small = run(&with_binding_limit(64 << 10));
    assert_bits_eq("dropout in small ranges", &small.0, &whole.0);
    assert_bits_eq("X·W in small ranges", &small.1, &whole.1);
    let mut want = cpu.alloc(40, 16, MemCategory::Activations, "o").unwrap();
    let xd_cpu = up(&cpu, &HostMatrix::from_vec(3000, 40, whole.0.clone()));
    cpu.matmul(&xd_cpu, &up(&cpu, &g), &mut want, true, false);
    // As matmul_matches_cpu: 1e-5 relative, 5e-8·k absolute.
    assert_close("Xᵀ·G in small ranges", &small.2, &down(&cpu, &want), 1e-5, 3000.0 * 5e-8);
}

/// A kernel that cannot split its work fails with a clear error, naming the matrix, when it
/// meets one larger than a binding; nothing panics.
#[test]
fn a_whole_binding_beyond_the_limit_is_an_error() {
    if gpu_for_tests().is_none() {
        return;
    }
    let gpu = with_binding_limit(64 << 10);
    let big = gpu.alloc(1000, 32, MemCategory::Activations, "big_activation").expect("128 KB fits a buffer");
    let mut out = gpu.alloc(1000, 32, MemCategory::Activations, "out").unwrap();
    gpu.relu(&big, &mut out);
    match gpu.flush() {
        Err(BackendError::BufferTooLarge { label, limit_name, .. }) => {
            assert!(label.contains("big_activation") && label.contains("relu"), "{label}");
            assert_eq!(limit_name, "max_storage_buffer_binding_size");
        }
        other => panic!("expected BufferTooLarge, got {other:?}"),
    }
}

/// Scratch buffers (and, by the same path, arena chunks) that outgrow a (here: tightened) limit poison
/// the recorder instead of panicking; the next flush or read returns `BufferTooLarge`, and every
/// later call keeps returning it.
#[test]
fn scratch_beyond_the_limit_is_an_error_not_a_panic() {
    if gpu_for_tests().is_none() {
        return;
    }
    let tight = |bytes: u64| {
        GpuBackend::with_allocation_limits(&AdapterPreference::Best, |l| l.max_storage_buffer_binding_size = bytes)
            .expect("a backend with a tightened limit")
    };
    // weighted_sum stacks its 5 inputs of 64 KiB into one 320 KiB binding: above 256 KiB.
    let gpu = tight(256 << 10);
    let inputs: Vec<GpuMatrix> =
        (0..5).map(|_| gpu.alloc(128, 128, MemCategory::Gradients, "grad").expect("64 KiB fits")).collect();
    let refs: Vec<&GpuMatrix> = inputs.iter().collect();
    let mut out = gpu.alloc(128, 128, MemCategory::Gradients, "out").unwrap();
    gpu.weighted_sum(&refs, &[0.2; 5], ReduceOrder::Flat, &mut out);
    gpu.relu(&inputs[0], &mut out); // recorded after the failure: a no-op, no panic
    for _ in 0..2 {
        match gpu.flush() {
            Err(BackendError::BufferTooLarge { label, .. }) => assert_eq!(label, "weighted_sum stack"),
            other => panic!("expected BufferTooLarge from the stacked inputs, got {other:?}"),
        }
    }
    assert!(matches!(gpu.download(&out), Err(BackendError::BufferTooLarge { .. })));
    // softmax_xent's per-row scratch (8 bytes a row) above a 64 KiB binding.
    let gpu = tight(64 << 10);
    let rows = 10_000;
    let logits = gpu.alloc(rows, 1, MemCategory::Activations, "logits").unwrap();
    let idx = gpu.upload_index(&vec![0; rows], MemCategory::Graph, "idx").unwrap();
    let mut stats = gpu.alloc_stats(1, "stats").unwrap();
    gpu.softmax_xent(&logits, &idx, &idx, 1.0, None, &mut stats, 0);
    assert!(matches!(gpu.read_stats(&stats), Err(BackendError::BufferTooLarge { .. })));
}

#[test]
fn memory_tracker_counts_gpu_buffers() {
    let gpu = gpu_or_skip!();
    let base = gpu.memory().snapshot();
    let m = gpu.alloc(100, 30, MemCategory::Weights, "w").expect("alloc");
    let s = gpu.memory().snapshot();
    assert_eq!(s.live(MemCategory::Weights), base.live(MemCategory::Weights) + 12_000);
    let idx = gpu.upload_index(&[1, 2, 3], MemCategory::Graph, "ids").expect("index");
    let z = gpu.alloc(0, 5, MemCategory::Gradients, "empty").expect("zero-size alloc");
    let s2 = gpu.memory().snapshot();
    assert_eq!(s2.live(MemCategory::Graph), base.live(MemCategory::Graph) + 12);
    assert_eq!(
        s2.live(MemCategory::Gradients),
        base.live(MemCategory::Gradients) + 4,
        "zero-size rounds up to 4 bytes"
    );
    drop((m, idx, z));
    let e = gpu.memory().snapshot();
    for c in [MemCategory::Weights, MemCategory::Graph, MemCategory::Gradients] {
        assert_eq!(e.live(c), base.live(c), "{c:?} back down after drop");
    }
    assert!(e.peak_total >= base.live_total() + 12_016);
}

#[test]
fn list_adapters_reports_limits() {
    let Some(gpu) = gpu_for_tests() else { return };
    let all = list_adapters();
    let l = gpu.limits();
    // Shown with --nocapture: what CI ran on.
    println!(
        "{} | max_buffer_size {} max_storage_buffer_binding_size {} min_uniform_buffer_offset_alignment {}",
        gpu.describe(),
        l.max_buffer_size,
        l.max_storage_buffer_binding_size,
        l.min_uniform_buffer_offset_alignment
    );
    assert!(!all.is_empty());
    assert!(all.iter().any(|a| a.name == gpu.context().info.name && a.max_buffer_size > 0));
    assert!(gpu.describe().contains(&gpu.context().info.name));
    for pref in [AdapterPreference::Name("no such adapter".into()), AdapterPreference::Index(all.len())] {
        assert!(matches!(GpuBackend::with_preference(&pref), Err(BackendError::NoAdapter)), "{pref:?}");
    }
}

#[test]
fn buffers_dropped_before_flush_stay_valid() {
    // Recorded commands keep their buffers alive until they ran, even when the handles (and
    // their memory accounting) are gone.
    let gpu = gpu_or_skip!();
    let x = HostMatrix::from_vec(2, 2, vec![-1.0, 2.0, 3.0, -4.0]);
    let mut out = up(&gpu, &nan_matrix(2, 2));
    {
        let src = up(&gpu, &x);
        let mut tmp = gpu.alloc(2, 2, MemCategory::Activations, "tmp").unwrap();
        gpu.relu(&src, &mut tmp);
        gpu.copy(&tmp, &mut out);
    }
    gpu.flush().unwrap();
    assert_bits_eq("relu via dropped temporaries", &down(&gpu, &out), &[0.0, 2.0, 3.0, 0.0]);
}

// ---------------------------------------------------------------- kernels

#[test]
fn spmm_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(11);
    // (rows, cols, k, density): ragged sizes, k = 1, k > 64 (column tiles), wide sparse X.
    let cases = [
        (37, 29, 5, 0.2),
        (300, 257, 1, 0.05),
        (65, 70, 100, 0.3),
        (1, 1, 1, 1.0),
        (10, 10, 64, 0.0),
        (3000, 1433, 16, 0.013),
        (3000, 1433, 65, 0.013),
        // Rows of ~500 entries (> Spmm::SEGMENT: summed by segments), and their transpose.
        (40, 1000, 16, 0.5),
        (40, 1000, 3, 0.5),
        (40, 1000, 100, 0.5),
    ];
    for (rows, cols, k, density) in cases {
        let a = rand_csr(&mut rng, rows, cols, density);
        let x = rand_matrix(&mut rng, cols, k);
        // Also the transposed operator, as the backward pass uses it.
        for (name, a) in [("A", a.clone()), ("At", a.transpose())] {
            let xr = if name == "A" { x.clone() } else { rand_matrix(&mut rng, a.cols, k) };
            let longest = a.row_ptr.windows(2).map(|w| (w[1] - w[0]) as f32).fold(0.0, f32::max);
            let run = |b_out: Vec<f32>, c_out: Vec<f32>| {
                // Each element is one dot product over a row in stored order on both sides (rows
                // longer than a segment: segment sums added in order), and the GPU may contract
                // a·b + c into an FMA: 1e-5 relative; abs for cancellation, 5e-8 per term as in
                // matmul_matches_cpu (terms |a·x| < 1 whose sum cancels to ~0).
                let abs = (longest * 5e-8).max(1e-6);
                assert_close(&format!("spmm {name} {rows}x{cols}·{k}"), &b_out, &c_out, 1e-5, abs);
            };
            let (ga, gx) = (gpu.upload_sparse(&a, MemCategory::Graph, "a").unwrap(), up(&gpu, &xr));
            let mut go = up(&gpu, &nan_matrix(a.rows, k));
            gpu.spmm(&ga, &gx, &mut go);
            let (ca, cx) = (cpu.upload_sparse(&a, MemCategory::Graph, "a").unwrap(), up(&cpu, &xr));
            let mut co = cpu.alloc(a.rows, k, MemCategory::Activations, "o").unwrap();
            cpu.spmm(&ca, &cx, &mut co);
            run(down(&gpu, &go), down(&cpu, &co));
        }
    }
}

#[test]
fn matmul_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(12);
    // (m, k, n) of op(A)·op(B): ragged, one column, inner 0, a 16-row output with a long k
    // (split-k), and Cora-sized wide inputs: X·W with X 3000×1433, W 1433×16 and, with
    // (1433, 3000, 16) in the transposed form, Xᵀ·G with G 3000×16 (split-k).
    let cases = [
        (37, 23, 19),
        (1, 1, 1),
        (5, 40, 1),
        (17, 0, 3),
        (100, 17, 33),
        (16, 2708, 7),
        (3000, 1433, 16),
        (1433, 3000, 16),
    ];
    for (m, k, n) in cases {
        for (ta, tb) in [(false, false), (true, false), (false, true)] {
            let a = if ta { rand_matrix(&mut rng, k, m) } else { rand_matrix(&mut rng, m, k) };
            let b = if tb { rand_matrix(&mut rng, n, k) } else { rand_matrix(&mut rng, k, n) };
            let mut go = up(&gpu, &nan_matrix(m, n));
            gpu.matmul(&up(&gpu, &a), &up(&gpu, &b), &mut go, ta, tb);
            let mut co = cpu.alloc(m, n, MemCategory::Activations, "o").unwrap();
            cpu.matmul(&up(&cpu, &a), &up(&cpu, &b), &mut co, ta, tb);
            // Same products, different summation order (ndarray blocks and may use FMA; the
            // GPU sums 16-wide tiles in k order): 1e-5 relative; plus an absolute floor of
            // 5e-8·k because k signed terms |a·b| < 1 can cancel to ~0 while each order keeps
            // its own rounding (measured: both ≤ 2.2e-5 from an f64 reference at k = 1433).
            let abs = (k as f32 * 5e-8).max(1e-6);
            assert_close(&format!("matmul {m}x{k}x{n} ta={ta} tb={tb}"), &down(&gpu, &go), &down(&cpu, &co), 1e-5, abs);
        }
    }
}

#[test]
fn relu_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(13);
    for (r, c) in [(1, 1), (37, 29), (300, 257)] {
        let x = rand_matrix(&mut rng, r, c);
        let mut go = up(&gpu, &nan_matrix(r, c));
        gpu.relu(&up(&gpu, &x), &mut go);
        let mut co = up(&cpu, &x);
        cpu.relu(&up(&cpu, &x), &mut co);
        // A select: exact.
        assert_bits_eq("relu", &down(&gpu, &go), &down(&cpu, &co));
    }
}

#[test]
fn relu_backward_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(14);
    for (r, c) in [(1, 1), (37, 29), (300, 257)] {
        let (y, g) = (rand_matrix(&mut rng, r, c), rand_matrix(&mut rng, r, c));
        let mut go = up(&gpu, &nan_matrix(r, c));
        gpu.relu_backward(&up(&gpu, &y), &up(&gpu, &g), &mut go);
        let mut co = up(&cpu, &y);
        cpu.relu_backward(&up(&cpu, &y), &up(&cpu, &g), &mut co);
        // A select: exact.
        assert_bits_eq("relu_backward", &down(&gpu, &go), &down(&cpu, &co));
    }
}

#[test]
fn dropout_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(15);
    for (r, c, rate) in [(1, 1, 0.5), (37, 29, 0.5), (513, 100, 0.1), (50, 16, 0.9)] {
        let x = rand_matrix(&mut rng, r, c);
        // Non-contiguous global ids, as a partition has.
        let ids: Vec<u32> = (0..r as u32).map(|i| i * 3 + 7).collect();
        let spec = DropoutSpec::new(MaskKey { seed: 42, epoch: 3, layer: 1 }, rate);
        let mut go = up(&gpu, &nan_matrix(r, c));
        gpu.dropout(&up(&gpu, &x), &gpu.upload_index(&ids, MemCategory::Graph, "ids").unwrap(), &spec, &mut go);
        let mut co = up(&cpu, &x);
        cpu.dropout(&up(&cpu, &x), &cpu.upload_index(&ids, MemCategory::Graph, "ids").unwrap(), &spec, &mut co);
        // Same u32 hash, exact 24-bit uniform, one multiply: bit-equal.
        assert_bits_eq(&format!("dropout {r}x{c} rate {rate}"), &down(&gpu, &go), &down(&cpu, &co));
    }
}

#[test]
fn dropout_sparse_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(16);
    for (r, c, d) in [(1, 1, 1.0), (37, 29, 0.3), (3000, 1433, 0.013)] {
        let x = rand_csr(&mut rng, r, c, d);
        let ids: Vec<u32> = (0..r as u32).map(|i| i * 2 + 1).collect();
        let spec = DropoutSpec::new(MaskKey { seed: 5, epoch: 9, layer: 0 }, 0.5);
        for (layout, m) in [(SparseLayout::NodeRows, x.clone()), (SparseLayout::NodeCols, x.transpose())] {
            let gx = gpu.upload_sparse(&m, MemCategory::Features, "x").unwrap();
            let mut go = gpu.sparse_like(&gx, MemCategory::Features, "xd").unwrap();
            // NaN pre-fill of the output values.
            gpu.rec().copy(
                &gpu.upload(&nan_matrix(1, m.nnz()), MemCategory::Staging, "nan").unwrap().buf,
                0,
                &go.values,
                0,
                4 * m.nnz() as u64,
            );
            gpu.dropout_sparse(
                &gx,
                &gpu.upload_index(&ids, MemCategory::Graph, "ids").unwrap(),
                layout,
                &spec,
                &mut go,
            );
            let cx = cpu.upload_sparse(&m, MemCategory::Features, "x").unwrap();
            let mut co = cpu.sparse_like(&cx, MemCategory::Features, "xd").unwrap();
            cpu.dropout_sparse(
                &cx,
                &cpu.upload_index(&ids, MemCategory::Graph, "ids").unwrap(),
                layout,
                &spec,
                &mut co,
            );
            // Same mask function: bit-equal.
            assert_bits_eq(
                &format!("dropout_sparse {r}x{c} {layout:?}"),
                &gpu.rec().read(&go.values, 4 * m.nnz() as u64).unwrap(),
                &co.values,
            );
        }
    }
}

/// Boundary sampling: owned entries copied, boundary entries kept (scaled) or zeroed by the
/// same counter hash on both sides, so bit-equal; both layouts; roughly the asked fraction kept.
#[test]
fn sample_boundary_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(17);
    for (owned, cols, d) in [(1, 2, 1.0), (40, 97, 0.3), (500, 4000, 0.01)] {
        let a = rand_csr(&mut rng, owned, cols, d);
        let ids: Vec<u32> = (0..cols as u32).map(|i| i * 3 + 7).collect();
        let spec = crate::model::partitioned::sample_spec(3, 4, 5, 0.25);
        for (layout, m) in [(SparseLayout::NodeCols, a.clone()), (SparseLayout::NodeRows, a.transpose())] {
            let gx = gpu.upload_sparse(&m, MemCategory::Graph, "a").unwrap();
            let mut go = gpu.sparse_like(&gx, MemCategory::Graph, "s").unwrap();
            gpu.rec().copy(
                &gpu.upload(&nan_matrix(1, m.nnz()), MemCategory::Staging, "nan").unwrap().buf,
                0,
                &go.values,
                0,
                4 * m.nnz() as u64,
            );
            let gids = gpu.upload_index(&ids, MemCategory::Graph, "ids").unwrap();
            gpu.sample_boundary(&gx, &gids, layout, owned, &spec, &mut go);
            let cx = cpu.upload_sparse(&m, MemCategory::Graph, "a").unwrap();
            let mut co = cpu.sparse_like(&cx, MemCategory::Graph, "s").unwrap();
            cpu.sample_boundary(
                &cx,
                &cpu.upload_index(&ids, MemCategory::Graph, "ids").unwrap(),
                layout,
                owned,
                &spec,
                &mut co,
            );
            let got = gpu.rec().read(&go.values, 4 * m.nnz() as u64).unwrap();
            assert_bits_eq(&format!("sample_boundary {owned}x{cols} {layout:?}"), &got, &co.values);
            if layout == SparseLayout::NodeCols && cols > 1000 {
                // Per boundary node (column), kept or not: about the rate of them.
                let mut kept = std::collections::BTreeMap::new();
                for (e, &c) in m.col_idx.iter().enumerate() {
                    if c as usize >= owned {
                        kept.insert(c, co.values[e] != 0.0);
                    }
                }
                let frac = kept.values().filter(|&&k| k).count() as f64 / kept.len() as f64;
                assert!((0.22..0.28).contains(&frac), "kept {frac} of {} boundary nodes, rate 0.25", kept.len());
            }
        }
    }
}

/// The exchange's row moves: gather, scatter-add, add and copy of row blocks, and zeroing; the
/// unwritten rows of NaN-filled outputs must stay NaN and the written ones bit-equal the CPU.
#[test]
fn exchange_row_moves_match_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(18);
    for (rows, w) in [(1, 1), (57, 16), (3001, 7)] {
        let src = rand_matrix(&mut rng, rows, w);
        let dst = rand_matrix(&mut rng, rows + 5, w);
        // Distinct target rows in a scrambled order.
        let mut picks: Vec<u32> = (0..rows as u32).collect();
        rng.shuffle(&mut picks);
        picks.truncate(rows.div_ceil(2));
        let n = picks.len();
        // gather into rows 3.. of a NaN buffer.
        let (mut g_out, mut c_out) = (up(&gpu, &nan_matrix(n + 4, w)), up(&cpu, &nan_matrix(n + 4, w)));
        gpu.gather_rows(&up(&gpu, &src), &gpu.upload_index(&picks, MemCategory::Graph, "i").unwrap(), &mut g_out, 3);
        cpu.gather_rows(&up(&cpu, &src), &cpu.upload_index(&picks, MemCategory::Graph, "i").unwrap(), &mut c_out, 3);
        let (g, c) = (down(&gpu, &g_out), down(&cpu, &c_out));
        assert!(g[..3 * w].iter().chain(&g[(n + 3) * w..]).all(|v| v.is_nan()), "gather wrote outside its rows");
        assert_bits_eq("gather_rows", &g[3 * w..(n + 3) * w], &c[3 * w..(n + 3) * w]);
        // scatter-add rows 1..n+1 of src into the picked rows of dst.
        let sub =
            |m: &HostMatrix, r0: usize, k: usize| HostMatrix::from_vec(k, w, m.data[r0 * w..(r0 + k) * w].to_vec());
        let src2 = sub(&dst, 0, n + 1);
        let (mut gd, mut cd) = (up(&gpu, &dst), up(&cpu, &dst));
        gpu.scatter_add_rows(&up(&gpu, &src2), 1, &gpu.upload_index(&picks, MemCategory::Graph, "i").unwrap(), &mut gd);
        cpu.scatter_add_rows(&up(&cpu, &src2), 1, &cpu.upload_index(&picks, MemCategory::Graph, "i").unwrap(), &mut cd);
        assert_bits_eq("scatter_add_rows", &down(&gpu, &gd), &down(&cpu, &cd));
        // scatter (set) the same rows into a copy of src: the picked rows become src2's, the others stay.
        let (mut gs, mut cs) = (up(&gpu, &src), up(&cpu, &src));
        gpu.scatter_rows(&up(&gpu, &src2), 1, &gpu.upload_index(&picks, MemCategory::Graph, "i").unwrap(), &mut gs);
        cpu.scatter_rows(&up(&cpu, &src2), 1, &cpu.upload_index(&picks, MemCategory::Graph, "i").unwrap(), &mut cs);
        let scattered = down(&gpu, &gs);
        assert_bits_eq("scatter_rows", &scattered, &down(&cpu, &cs));
        for r in 0..rows {
            let want = match picks.iter().position(|&p| p as usize == r) {
                Some(k) => &src2.data[(k + 1) * w..(k + 2) * w],
                None => &src.data[r * w..(r + 1) * w],
            };
            assert_bits_eq("scatter_rows row", &scattered[r * w..(r + 1) * w], want);
        }
        // add and copy a block of rows.
        let k = rows.div_ceil(3);
        gpu.add_rows(&up(&gpu, &src), rows - k, &mut gd, 2, k);
        cpu.add_rows(&up(&cpu, &src), rows - k, &mut cd, 2, k);
        assert_bits_eq("add_rows", &down(&gpu, &gd), &down(&cpu, &cd));
        gpu.copy_rows(&up(&gpu, &src), 0, &mut gd, 5, k);
        cpu.copy_rows(&up(&cpu, &src), 0, &mut cd, 5, k);
        assert_bits_eq("copy_rows", &down(&gpu, &gd), &down(&cpu, &cd));
        gpu.zero(&mut gd);
        assert!(down(&gpu, &gd).iter().all(|&v| v == 0.0), "zero");
    }
}

/// SpMM reads only the first `A.cols` rows of a longer x and writes only the first `A.rows`
/// rows of a longer out (the shared receive buffers of the exchange).
#[test]
fn spmm_with_oversized_buffers_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(19);
    let a = rand_csr(&mut rng, 50, 70, 0.1);
    let x = rand_matrix(&mut rng, 90, 16);
    let (ga, ca) = (
        gpu.upload_sparse(&a, MemCategory::Graph, "a").unwrap(),
        cpu.upload_sparse(&a, MemCategory::Graph, "a").unwrap(),
    );
    let (mut go, mut co) = (up(&gpu, &nan_matrix(80, 16)), up(&cpu, &nan_matrix(80, 16)));
    gpu.spmm(&ga, &up(&gpu, &x), &mut go);
    cpu.spmm(&ca, &up(&cpu, &x), &mut co);
    let (g, c) = (down(&gpu, &go), down(&cpu, &co));
    assert_close("spmm oversized", &g[..50 * 16], &c[..50 * 16], 1e-5, 1e-6);
    assert!(g[50 * 16..].iter().all(|v| v.is_nan()), "rows past A.rows were written");
}

fn xent_inputs(rng: &mut SplitMix64, rows: usize, cols: usize) -> (HostMatrix, Vec<u32>, Vec<u32>) {
    let mut logits = rand_matrix(rng, rows, cols);
    for v in &mut logits.data {
        *v *= 4.0;
    }
    // Exact ties in a few rows exercise the first-argmax rule.
    for r in (0..rows).step_by(11) {
        if cols > 1 {
            logits.data[r * cols + 1] = logits.data[r * cols];
        }
    }
    let labels = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
    let split = (0..rows).map(|_| rng.below(4) as u32).collect();
    (logits, labels, split)
}

#[test]
fn softmax_xent_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(17);
    // 0 rows, one row, ragged, and > 1024 rows (a second reduction pass).
    for (rows, cols) in [(0, 7), (1, 1), (37, 7), (2708, 7), (5000, 41)] {
        let (logits, labels, split) = xent_inputs(&mut rng, rows, cols);
        for with_grad in [true, false] {
            let slot = 1;
            // Stats pre-filled with NaN: slot 1 entries 0..9 must be overwritten, AUX and the
            // other slots left alone.
            let gstats_init = vec![f32::NAN; 3 * STATS_WIDTH];
            let mut gs = GpuStats {
                slots: 3,
                buf: gpu
                    .alloc
                    .create_init("stats", MemCategory::Staging, bytemuck::cast_slice(&gstats_init), alloc::STORAGE)
                    .unwrap(),
            };
            let mut gg = up(&gpu, &nan_matrix(rows, cols));
            let (gl, gy, gsp) = (
                up(&gpu, &logits),
                gpu.upload_index(&labels, MemCategory::Graph, "y").unwrap(),
                gpu.upload_index(&split, MemCategory::Graph, "s").unwrap(),
            );
            gpu.softmax_xent(&gl, &gy, &gsp, 0.25, if with_grad { Some(&mut gg) } else { None }, &mut gs, slot);
            let mut cs = cpu.alloc_stats(3, "stats").unwrap();
            let mut cg = up(&cpu, &nan_matrix(rows, cols));
            let (cl, cy, csp) = (
                up(&cpu, &logits),
                cpu.upload_index(&labels, MemCategory::Graph, "y").unwrap(),
                cpu.upload_index(&split, MemCategory::Graph, "s").unwrap(),
            );
            cpu.softmax_xent(&cl, &cy, &csp, 0.25, if with_grad { Some(&mut cg) } else { None }, &mut cs, slot);
            let g_stats = gpu.read_stats(&gs).unwrap();
            let c_stats = cpu.read_stats(&cs).unwrap();
            let (gslot, cslot) = (&g_stats[STATS_WIDTH..2 * STATS_WIDTH], &c_stats[STATS_WIDTH..2 * STATS_WIDTH]);
            for s in [stat::TRAIN, stat::VALID, stat::TEST] {
                // Counts and correct counts are integers (< 2^24) and argmax comparisons are
                // exact: equal.
                assert_eq!(gslot[s + stat::COUNT], cslot[s + stat::COUNT], "count {rows}x{cols}");
                assert_eq!(gslot[s + stat::CORRECT], cslot[s + stat::CORRECT], "correct {rows}x{cols}");
            }
            // Loss sums: GPU exp/log are within a few ulp of libm and the sum is an f32 tree,
            // the CPU sums in f64: 1e-5 relative.
            let losses = |v: &[f32]| [v[stat::TRAIN], v[stat::VALID], v[stat::TEST]];
            assert_close(&format!("xent loss {rows}x{cols}"), &losses(gslot), &losses(cslot), 1e-5, 1e-6);
            assert!(gslot[stat::AUX].is_nan(), "AUX must not be touched");
            assert!(
                g_stats[..STATS_WIDTH].iter().chain(&g_stats[2 * STATS_WIDTH..]).all(|v| v.is_nan()),
                "other slots untouched"
            );
            if with_grad {
                // p = exp(l − lse) with GPU exp (few ulp): 1e-5 relative, 1e-7 absolute for the
                // near-zero probabilities (scaled by grad_scale 0.25).
                assert_close(&format!("xent grad {rows}x{cols}"), &down(&gpu, &gg), &down(&cpu, &cg), 1e-5, 1e-7);
            } else {
                assert!(down(&gpu, &gg).iter().all(|v| v.is_nan()), "grad untouched without Some");
            }
        }
    }
}

#[test]
fn sum_squares_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(18);
    // 0, 1, ragged, 2 passes, and > 1024² items for 3 passes (ping-pong scratch).
    for (r, c) in [(0, 3), (1, 1), (37, 29), (1433, 16), (1100, 1000)] {
        let m = rand_matrix(&mut rng, r, c);
        let mut gs = GpuStats {
            slots: 2,
            buf: gpu
                .alloc
                .create_init(
                    "stats",
                    MemCategory::Staging,
                    bytemuck::cast_slice(&[f32::NAN; 2 * STATS_WIDTH]),
                    alloc::STORAGE,
                )
                .unwrap(),
        };
        gpu.sum_squares(&up(&gpu, &m), &mut gs, 1);
        let mut cs = cpu.alloc_stats(2, "s").unwrap();
        cpu.sum_squares(&up(&cpu, &m), &mut cs, 1);
        let (g, c_) = (gpu.read_stats(&gs).unwrap(), cpu.read_stats(&cs).unwrap());
        // f32 tree sum (log-depth error) against an f64 sequential sum: 1e-5 relative.
        assert_close(
            &format!("sum_squares {r}x{c}"),
            &[g[STATS_WIDTH + stat::AUX]],
            &[c_[STATS_WIDTH + stat::AUX]],
            1e-5,
            0.0,
        );
        assert!(g[..STATS_WIDTH + stat::AUX].iter().all(|v| v.is_nan()), "only AUX of the slot is written");
    }
}

#[test]
fn weighted_sum_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(19);
    for p in [1usize, 2, 3, 5, 7, 16, 33, 64] {
        let (r, c) = (37, 19);
        let inputs: Vec<HostMatrix> = (0..p).map(|_| rand_matrix(&mut rng, r, c)).collect();
        let weights: Vec<f32> = (0..p).map(|_| rng.next_f64() as f32).collect();
        for order in [ReduceOrder::Flat, ReduceOrder::Tree] {
            let gi: Vec<GpuMatrix> = inputs.iter().map(|m| up(&gpu, m)).collect();
            let mut go = up(&gpu, &nan_matrix(r, c));
            gpu.weighted_sum(&gi.iter().collect::<Vec<_>>(), &weights, order, &mut go);
            let ci: Vec<_> = inputs.iter().map(|m| up(&cpu, m)).collect();
            let mut co = cpu.alloc(r, c, MemCategory::Gradients, "o").unwrap();
            cpu.weighted_sum(&ci.iter().collect::<Vec<_>>(), &weights, order, &mut co);
            // Same order of the same operations; only FMA contraction of w·x + acc may differ:
            // 1e-5 relative, abs for terms cancelling to ~0.
            assert_close(&format!("weighted_sum P={p} {order:?}"), &down(&gpu, &go), &down(&cpu, &co), 1e-5, 1e-6);
        }
    }
    // The order itself: with power-of-two weights every product is exact, so FMA contraction
    // cannot change anything and only the association of the additions differs between Flat
    // and Tree. Values of mixed magnitude make those roundings visible: bit-equal per order,
    // and Flat ≠ Tree somewhere.
    for p in [4usize, 6, 13, 64] {
        let (r, c) = (17, 23);
        let inputs: Vec<HostMatrix> = (0..p)
            .map(|_| {
                let mut m = rand_matrix(&mut rng, r, c);
                for v in &mut m.data {
                    *v *= (1u32 << rng.below(20)) as f32;
                }
                m
            })
            .collect();
        let weights: Vec<f32> = (0..p).map(|_| [0.25f32, 0.5, 1.0, 2.0][rng.below(4) as usize]).collect();
        let mut results = Vec::new();
        for order in [ReduceOrder::Flat, ReduceOrder::Tree] {
            let gi: Vec<GpuMatrix> = inputs.iter().map(|m| up(&gpu, m)).collect();
            let mut go = up(&gpu, &nan_matrix(r, c));
            gpu.weighted_sum(&gi.iter().collect::<Vec<_>>(), &weights, order, &mut go);
            let ci: Vec<_> = inputs.iter().map(|m| up(&cpu, m)).collect();
            let mut co = cpu.alloc(r, c, MemCategory::Gradients, "o").unwrap();
            cpu.weighted_sum(&ci.iter().collect::<Vec<_>>(), &weights, order, &mut co);
            let g = down(&gpu, &go);
            assert_bits_eq(&format!("weighted_sum exact P={p} {order:?}"), &g, &down(&cpu, &co));
            results.push(g);
        }
        assert!(results[0] != results[1], "P={p}: inputs too tame to tell Flat from Tree");
    }
}

#[test]
fn copy_matches_cpu() {
    let gpu = gpu_or_skip!();
    let mut rng = SplitMix64::new(22);
    let x = rand_matrix(&mut rng, 33, 7);
    let mut go = up(&gpu, &nan_matrix(33, 7));
    gpu.copy(&up(&gpu, &x), &mut go);
    // A byte copy: exact.
    assert_bits_eq("copy", &down(&gpu, &go), &x.data);
}

#[test]
fn param_arena_survives_many_dispatches() {
    // More dispatches than one arena chunk holds, recorded before one submission, then again
    // (chunks reused) in a second one.
    let gpu = gpu_or_skip!();
    let x = HostMatrix::from_vec(1, 3, vec![1.0, 2.0, 3.0]);
    let mut a = up(&gpu, &x);
    let g = up(&gpu, &HostMatrix::from_vec(1, 3, vec![1.0, 1.0, 1.0]));
    let mut want = x.data.clone();
    for round in 0..2 {
        for i in 0..700 {
            let lr = ((i % 13) as f32 - 6.0) * 0.25 * (round + 1) as f32;
            gpu.optimizer_step(&mut a, &g, &mut [], &OptimizerStep::Sgd { lr, weight_decay: 0.0 });
            for w in &mut want {
                *w -= lr * 1.0;
            }
        }
        gpu.flush().unwrap();
    }
    // Multiples of 0.25 on small integers: exact in f32 on both sides.
    assert_bits_eq("arena", &down(&gpu, &a), &want);
}

// ---------------------------------------------------------------- end to end

struct Problem {
    a_hat: Csr,
    x: Csr,
    w0: HostMatrix,
    w1: HostMatrix,
    labels: Vec<u32>,
    split: Vec<u32>,
    node_ids: Vec<u32>,
}

fn problem() -> Problem {
    problem_sized(61, 45, 8, 5)
}

fn problem_sized(n: usize, f: usize, h: usize, c: usize) -> Problem {
    let mut rng = SplitMix64::new(23);
    let mut pairs = Vec::new();
    for _ in 0..n * 5 / 2 {
        pairs.push((rng.below(n as u64) as u32, rng.below(n as u64) as u32));
    }
    let adj = Csr::from_pairs(n, n, pairs, true).unwrap().symmetrized().unwrap();
    let a_hat = crate::graph::Normalization::Symmetric.apply(&adj).unwrap();
    let mut x = rand_csr(&mut rng, n, f, 0.15);
    for v in &mut x.values {
        *v = v.abs();
    }
    let w0 = rand_matrix(&mut rng, f, h);
    let w1 = rand_matrix(&mut rng, h, c);
    let labels = (0..n).map(|_| rng.below(c as u64) as u32).collect();
    let split = (0..n).map(|i| [1, 1, 2, 3, 0][i % 5]).collect();
    let node_ids = (0..n as u32).map(|i| i + 100).collect();
    Problem { a_hat, x, w0, w1, labels, split, node_ids }
}

/// Results of `step`: weights after 2 epochs, stats of both epochs, the last logits.
struct StepOut {
    w0: Vec<f32>,
    w1: Vec<f32>,
    stats: Vec<f32>,
    dw0: Vec<f32>,
}

/// Two epochs of a 2-layer GCN (dropout on sparse input and hidden layer, forward, backward,
/// gradient aggregation, Adam on W0, SGD on W1) written only against the trait.
fn step<B: Backend>(b: &B, p: &Problem) -> StepOut {
    let cat = MemCategory::Activations;
    let n = p.a_hat.rows;
    let (f, h, c) = (p.x.cols, p.w0.cols, p.w1.cols);
    let a = b.upload_sparse(&p.a_hat, MemCategory::Graph, "a").unwrap();
    let at = b.upload_sparse(&p.a_hat.transpose(), MemCategory::Graph, "at").unwrap();
    let x = b.upload_sparse(&p.x, MemCategory::Features, "x").unwrap();
    let xt = b.upload_sparse(&p.x.transpose(), MemCategory::Features, "xt").unwrap();
    let mut xd = b.sparse_like(&x, MemCategory::Features, "xd").unwrap();
    let mut xdt = b.sparse_like(&xt, MemCategory::Features, "xdt").unwrap();
    let ids = b.upload_index(&p.node_ids, MemCategory::Graph, "ids").unwrap();
    let labels = b.upload_index(&p.labels, MemCategory::Graph, "labels").unwrap();
    let split = b.upload_index(&p.split, MemCategory::Graph, "split").unwrap();
    let mut w0 = b.upload(&p.w0, MemCategory::Weights, "w0").unwrap();
    let mut w1 = b.upload(&p.w1, MemCategory::Weights, "w1").unwrap();
    let mut mv0 = [
        b.alloc(f, h, MemCategory::OptimizerState, "m0").unwrap(),
        b.alloc(f, h, MemCategory::OptimizerState, "v0").unwrap(),
    ];
    let mut stats = b.alloc_stats(4, "stats").unwrap();
    let al = |r, c| b.alloc(r, c, cat, "t").unwrap();
    let (mut xw, mut h0, mut a0, mut d1, mut z, mut logits, mut g) =
        (al(n, h), al(n, h), al(n, h), al(n, h), al(n, c), al(n, c), al(n, c));
    let (mut dz, mut dw1, mut dd1, mut da0, mut dh0, mut dxw, mut dw0) =
        (al(n, c), al(h, c), al(n, h), al(n, h), al(n, h), al(n, h), al(f, h));
    let (mut dw0b, mut agg) = (al(f, h), al(f, h));
    let ntrain = p.split.iter().filter(|&&s| s == 1).count() as f32;
    for epoch in 0..2u32 {
        let in_drop = DropoutSpec::new(MaskKey { seed: 7, epoch, layer: 0 }, 0.5);
        let hid_drop = DropoutSpec::new(MaskKey { seed: 7, epoch, layer: 1 }, 0.5);
        b.dropout_sparse(&x, &ids, SparseLayout::NodeRows, &in_drop, &mut xd);
        b.dropout_sparse(&xt, &ids, SparseLayout::NodeCols, &in_drop, &mut xdt);
        b.spmm(&xd, &w0, &mut xw);
        b.spmm(&a, &xw, &mut h0);
        b.relu(&h0, &mut a0);
        b.dropout(&a0, &ids, &hid_drop, &mut d1);
        b.matmul(&d1, &w1, &mut z, false, false);
        b.spmm(&a, &z, &mut logits);
        b.softmax_xent(&logits, &labels, &split, 1.0 / ntrain, Some(&mut g), &mut stats, epoch as usize);
        b.sum_squares(&w0, &mut stats, 2 + epoch as usize);
        b.spmm(&at, &g, &mut dz);
        b.matmul(&d1, &dz, &mut dw1, true, false);
        b.matmul(&dz, &w1, &mut dd1, false, true);
        b.dropout(&dd1, &ids, &hid_drop, &mut da0);
        b.relu_backward(&a0, &da0, &mut dh0);
        b.spmm(&at, &dh0, &mut dxw);
        b.spmm(&xdt, &dxw, &mut dw0);
        b.copy(&dw0, &mut dw0b);
        b.weighted_sum(&[&dw0, &dw0b, &dw0], &[0.25, 0.5, 0.25], ReduceOrder::Tree, &mut agg);
        let adam = AdamStep { lr_t: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 5e-4 };
        b.optimizer_step(&mut w0, &agg, &mut mv0, &OptimizerStep::Adam(adam));
        b.optimizer_step(&mut w1, &dw1, &mut [], &OptimizerStep::Sgd { lr: 0.1, weight_decay: 0.0 });
        b.flush().unwrap();
    }
    StepOut {
        w0: b.download(&w0).unwrap().data,
        w1: b.download(&w1).unwrap().data,
        stats: b.read_stats(&stats).unwrap(),
        dw0: b.download(&dw0).unwrap().data,
    }
}

#[test]
fn gcn_step_matches_cpu() {
    let gpu = gpu_or_skip!();
    let p = problem();
    let g = step(&gpu, &p);
    let c = step(&CpuBackend::new(), &p);
    // Chained kernels (each ≤ 1e-5) through two epochs and Adam's division by √v (which
    // amplifies relative gradient error for tiny v): 1e-4 relative, 1e-5 absolute.
    assert_close("e2e stats", &g.stats, &c.stats, 1e-4, 1e-5);
    assert_close("e2e dW0", &g.dw0, &c.dw0, 1e-4, 1e-6);
    assert_close("e2e W0", &g.w0, &c.w0, 1e-4, 1e-5);
    assert_close("e2e W1", &g.w1, &c.w1, 1e-4, 1e-5);
    let k = gpu.counters();
    assert!(k.dispatches > 0);
    assert!(k.submissions <= 2 + 4, "one submission per flush plus the downloads, got {}", k.submissions);
}

#[test]
fn kernels_handle_2d_grids() {
    // Large inputs need more workgroups than one grid dimension allows (65535); a cap of 3
    // sends every kernel of the GCN step through the 2-D grid path with surplus workgroups.
    let gpu = gpu_or_skip!();
    let p = problem_sized(700, 300, 20, 7);
    let c = step(&CpuBackend::new(), &p);
    for cap in [2, 3] {
        gpu.rec().set_max_grid_dim(cap);
        let g = step(&gpu, &p);
        // As gcn_step_matches_cpu.
        assert_close("2-D grid stats", &g.stats, &c.stats, 1e-4, 1e-5);
        assert_close("2-D grid dW0", &g.dw0, &c.dw0, 1e-4, 1e-6);
        assert_close("2-D grid W0", &g.w0, &c.w0, 1e-4, 1e-5);
        assert_close("2-D grid W1", &g.w1, &c.w1, 1e-4, 1e-5);
    }
}

#[test]
fn bind_groups_are_cached_across_epochs() {
    let gpu = gpu_or_skip!();
    let p = problem();
    step(&gpu, &p);
    let first = gpu.counters();
    // A second run allocates new buffers (new bind groups), but within it the second epoch
    // must reuse the first epoch's: at most one epoch's worth of new groups.
    step(&gpu, &p);
    let second = gpu.counters();
    let per_run = second.bind_groups_created - first.bind_groups_created;
    let dispatches_per_run = second.dispatches - first.dispatches;
    assert!(
        per_run * 2 <= dispatches_per_run + 2,
        "{per_run} bind groups for {dispatches_per_run} dispatches over 2 epochs"
    );
}

/// A profiled backend times every dispatch (where the adapter has timestamp queries) and
/// attributes it to its kernel; an unprofiled one reports nothing.
#[test]
fn profiled_backend_times_every_dispatch() {
    let Some(plain) = gpu_for_tests() else { return };
    assert_eq!(plain.take_kernel_profile(), None);
    let gpu = GpuBackend::profiled(&AdapterPreference::Best).expect("a profiled backend");
    let mut rng = SplitMix64::new(3);
    let (a, b) = (up(&gpu, &rand_matrix(&mut rng, 300, 200)), up(&gpu, &rand_matrix(&mut rng, 200, 40)));
    let mut out = up(&gpu, &nan_matrix(300, 40));
    let mut h = up(&gpu, &nan_matrix(300, 40));
    let before = gpu.counters().dispatches;
    for _ in 0..3 {
        gpu.matmul(&a, &b, &mut out, false, false);
        gpu.relu(&out, &mut h);
        gpu.flush().unwrap();
    }
    let dispatches = gpu.counters().dispatches - before;
    let Some(profile) = gpu.take_kernel_profile() else {
        assert!(!gpu.context().features().contains(profiler::FEATURES), "the adapter has timestamps but no profile");
        println!("skipping: the adapter has no timestamp queries inside passes");
        return;
    };
    assert_eq!(profile.kernels.iter().map(|k| k.dispatches).sum::<u64>(), dispatches, "{profile:?}");
    let relu = profile.kernels.iter().find(|k| k.kernel == "relu").expect("relu was timed");
    assert_eq!(relu.dispatches, 3);
    assert!(profile.kernels.iter().all(|k| k.device_ns >= 0.0) && profile.kernels.iter().any(|k| k.device_ns > 0.0));
    // Taking resets the totals.
    assert_eq!(gpu.take_kernel_profile().map(|p| p.kernels.len()), Some(0));
}

/// Op timing (measured compute time): each op's device seconds are the sum over its commands
/// (dispatches, copies and clears), one entry per op in call order; more commands than the
/// timestamp query set holds make the recorder submit in between, so every one is timed.
#[test]
fn op_times_sum_each_ops_commands_past_the_query_set() {
    let Some(gpu) = gpu_for_tests() else { return };
    if let Err(why) = gpu.device_timing() {
        assert!(!gpu.has_timestamps() && why.contains(&gpu.context().info.name), "{why}");
        println!("skipping: {why}");
        return;
    }
    assert_eq!(gpu.take_kernel_profile(), None, "profiling starts with the first timed op");
    let mut rng = SplitMix64::new(5);
    let x = up(&gpu, &rand_matrix(&mut rng, 64, 16));
    let mut out = up(&gpu, &nan_matrix(64, 16));
    let before = gpu.counters();
    // Two timestamps per command, 4096 queries: 2100 relus and 1050 copies overflow the set.
    let ops = 2100;
    for i in 0..ops {
        gpu.begin_timed_op();
        gpu.relu(&x, &mut out);
        if i % 2 == 0 {
            gpu.copy(&x, &mut out);
        }
        gpu.end_timed_op();
    }
    // A command outside any op is timed for the profile but belongs to no op.
    gpu.zero(&mut out);
    let times = gpu.take_op_times().unwrap();
    let after = gpu.counters();
    assert_eq!(times.len(), ops);
    assert!(times.iter().all(|&t| t > 0.0 && t < 1.0), "{:?}", &times[..8]);
    assert!(after.submissions - before.submissions >= 2, "the full query set made the recorder submit");
    let profile = gpu.take_kernel_profile().unwrap();
    let count = |name: &str| profile.kernels.iter().find(|k| k.kernel == name).map_or(0, |k| k.dispatches);
    assert_eq!((count("relu"), count(profiler::COPY), count(profiler::CLEAR)), (2100, 1050, 1));
    let timed: u64 = profile.kernels.iter().map(|k| k.dispatches).sum();
    assert_eq!(timed, (after.dispatches - before.dispatches) + (after.transfers - before.transfers));
    // The ops' seconds are the profile's, less the clear outside them (1e-9 relative: the
    // same nanoseconds summed in another order).
    let clear_ns = profile.kernels.iter().find(|k| k.kernel == profiler::CLEAR).unwrap().device_ns;
    let profile_s = (profile.kernels.iter().map(|k| k.device_ns).sum::<f64>() - clear_ns) * 1e-9;
    let ops_s: f64 = times.iter().sum();
    assert!((ops_s - profile_s).abs() <= 1e-9 * profile_s, "{ops_s} vs {profile_s}");
    // Taking resets; an op with no command takes no time.
    gpu.begin_timed_op();
    gpu.end_timed_op();
    assert_eq!(gpu.take_op_times().unwrap(), vec![0.0]);
    // The results are the untimed kernels': relu then (even ops) the copy of x; last the zero.
    assert!(gpu.download(&out).unwrap().data.iter().all(|&v| v == 0.0));
}

/// Every optimizer's kernel against its CPU twin, three steps from random state (Adagrad's and
/// FTRL's n non-negative, as they accumulate squares).
#[test]
fn optimizer_steps_match_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(41);
    let (r, c) = (300, 17);
    let adam = AdamStep { lr_t: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 5e-4 };
    let steps = [
        OptimizerStep::Sgd { lr: 0.1, weight_decay: 5e-4 },
        OptimizerStep::Momentum { lr: 0.05, weight_decay: 5e-4, momentum: 0.9 },
        OptimizerStep::Nesterov { lr: 0.05, weight_decay: 5e-4, momentum: 0.9 },
        OptimizerStep::Adagrad { lr: 0.05, weight_decay: 5e-4, eps: 1e-7 },
        OptimizerStep::Rmsprop { lr: 0.01, weight_decay: 5e-4, rho: 0.9, eps: 1e-8 },
        OptimizerStep::Adam(adam),
        OptimizerStep::AdamW { lr_t: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, keep: 1.0 - 0.01 * 0.01 },
        OptimizerStep::Ftrl { alpha: 0.1, beta: 1.0, l1: 0.05, l2: 0.01 },
    ];
    for step in steps {
        let (p, g) = (rand_matrix(&mut rng, r, c), rand_matrix(&mut rng, r, c));
        let state: Vec<HostMatrix> = (0..step.state_slots())
            .map(|s| {
                let m = rand_matrix(&mut rng, r, c);
                // The second slot of Adam/AdamW (v) and FTRL (n), and Adagrad's accumulator, are
                // sums of squares.
                let squares = s == 1 || matches!(step, OptimizerStep::Adagrad { .. } | OptimizerStep::Rmsprop { .. });
                if squares {
                    HostMatrix::from_vec(r, c, m.data.iter().map(|x| x.abs()).collect())
                } else {
                    m
                }
            })
            .collect();
        let (mut gp, gg) = (up(&gpu, &p), up(&gpu, &g));
        let (mut cp, cg) = (up(&cpu, &p), up(&cpu, &g));
        let mut gs: Vec<GpuMatrix> = state.iter().map(|m| up(&gpu, m)).collect();
        let mut cs: Vec<_> = state.iter().map(|m| up(&cpu, m)).collect();
        for _ in 0..3 {
            gpu.optimizer_step(&mut gp, &gg, &mut gs, &step);
            cpu.optimizer_step(&mut cp, &cg, &mut cs, &step);
        }
        // Same operation order; GPU sqrt and division may be a few ulp off and FMA contraction
        // may apply: 1e-5 relative, as adam_step_matches_cpu.
        let name = step.name();
        assert_close(&format!("{name} param"), &down(&gpu, &gp), &down(&cpu, &cp), 1e-5, 1e-7);
        for (k, (a, b)) in gs.iter().zip(&cs).enumerate() {
            assert_close(&format!("{name} state {k}"), &down(&gpu, a), &down(&cpu, b), 1e-5, 1e-7);
        }
    }
}
