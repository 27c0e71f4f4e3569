//! The compression kernels against their CPU twins (`backend::cpu::compress`).
//!
//! Tolerances: fp16, top-k and rand-k are u32 arithmetic and copies: bitwise. The quantizers
//! sum in the CPU's order with IEEE additions, but divide and take square roots, which WGSL
//! allows to be a few ulps off (and a driver may fuse `lo + q·scale`): a scale or decoded value
//! may differ by rel 1e-6, and a value that sits on a rounding boundary may land on the
//! neighbouring level, i.e. differ by exactly one quantization step; at most 1% of the values
//! may do so. PowerSGD goes through matmul, whose sums run in another
//! order than ndarray's, and Gram–Schmidt amplifies that by 1/σ of P's columns: rel 1e-3.

use super::tests::{assert_bits_eq, assert_close, down, nan_matrix, rand_matrix, up};
use super::*;
use crate::backend::compress::{CompressStep, RowCodec};
use crate::backend::cpu::CpuBackend;
use crate::backend::{Backend, MemCategory};
use crate::rng::SplitMix64;

macro_rules! gpu_or_skip {
    () => {
        match gpu_for_tests() {
            Some(g) => g,
            None => return,
        }
    };
}

/// (out, residual after) of `compress_rows` on backend `b`.
fn compressed<B: Backend>(
    b: &B,
    x: &HostMatrix,
    ids: &[u32],
    step: &CompressStep,
    residual: Option<&HostMatrix>,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let xm = up(b, x);
    let idx = b.upload_index(ids, MemCategory::Activations, "ids").unwrap();
    let mut out = up(b, &nan_matrix(x.rows, x.cols));
    let mut e = residual.map(|r| up(b, r));
    b.compress_rows(&xm, &idx, step, e.as_mut(), &mut out);
    (down(b, &out), e.map(|e| down(b, &e)))
}

/// One quantization step of each row of v (the spacing of the levels a value can land on).
fn row_steps(codec: &RowCodec, v: &[f32], cols: usize) -> Vec<f32> {
    v.chunks(cols)
        .map(|row| match *codec {
            RowCodec::Uniform { bits } => crate::backend::cpu::compress::uniform_params(row, bits).1,
            RowCodec::Qsgd { levels } => row.iter().map(|x| x * x).sum::<f32>().sqrt() / levels as f32,
            _ => 0.0,
        })
        .collect()
}

/// GPU ≡ CPU as the module docs state: within rel 1e-6, or one level apart for ≤ 1% of values.
#[track_caller]
fn assert_quantized_close(what: &str, got: &[f32], want: &[f32], steps: &[f32], cols: usize) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut flips = 0;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d <= (1e-6 * (g + w).abs()).max(1e-7) {
            continue;
        }
        let step = steps[i / cols];
        assert!(
            step > 0.0 && (d - step).abs() <= 1e-5 * step.max(g.abs()),
            "{what}: element {i}: gpu {g} vs cpu {w} (step {step})"
        );
        flips += 1;
    }
    assert!(flips <= (got.len() / 100).max(1), "{what}: {flips} of {} values on another level", got.len());
}

fn codecs(cols: usize) -> Vec<RowCodec> {
    let k = |f: usize| (cols / f).max(1);
    vec![
        RowCodec::Fp16,
        RowCodec::Uniform { bits: 8 },
        RowCodec::Uniform { bits: 4 },
        RowCodec::Uniform { bits: 2 },
        RowCodec::OneBit,
        RowCodec::Qsgd { levels: 4 },
        RowCodec::Qsgd { levels: 255 },
        RowCodec::Sign,
        RowCodec::TopK { k: k(10) },
        RowCodec::TopK { k: cols },
        RowCodec::RandK { k: k(3) },
    ]
}

fn check(what: &str, codec: &RowCodec, v: &[f32], cols: usize, got: &[f32], want: &[f32]) {
    match codec {
        RowCodec::Fp16 | RowCodec::TopK { .. } | RowCodec::RandK { .. } => assert_bits_eq(what, got, want),
        _ => assert_quantized_close(what, got, want, &row_steps(codec, v, cols), cols),
    }
}

#[test]
fn compress_rows_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(31);
    // Ragged widths: one column, fewer than a workgroup, more than one and not a multiple.
    for (rows, cols) in [(5, 1), (37, 16), (9, 300), (3, 700)] {
        let x = rand_matrix(&mut rng, rows, cols);
        let ids: Vec<u32> = (0..rows as u32).map(|r| 7 + 1000 * r).collect();
        for codec in codecs(cols) {
            let step = CompressStep { codec, stream: 0x1234_5678 };
            let (g, _) = compressed(&gpu, &x, &ids, &step, None);
            let (c, _) = compressed(&cpu, &x, &ids, &step, None);
            check(&format!("{codec:?} {rows}x{cols}"), &codec, &x.data, cols, &g, &c);
        }
    }
}

#[test]
fn compress_rows_with_error_feedback_matches_cpu() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(32);
    let (rows, cols) = (11, 300);
    let x = rand_matrix(&mut rng, rows, cols);
    let e = HostMatrix::from_vec(rows, cols, rand_matrix(&mut rng, rows, cols).data.iter().map(|v| v * 0.1).collect());
    let v: Vec<f32> = x.data.iter().zip(&e.data).map(|(a, b)| a + b).collect();
    let ids: Vec<u32> = (0..rows as u32).collect();
    for codec in codecs(cols) {
        let step = CompressStep { codec, stream: 99 };
        let (g, ge) = compressed(&gpu, &x, &ids, &step, Some(&e));
        let (c, ce) = compressed(&cpu, &x, &ids, &step, Some(&e));
        let what = format!("{codec:?} with residual");
        check(&what, &codec, &v, cols, &g, &c);
        // e = v − out: where out agrees, e agrees bit for bit (one IEEE subtraction).
        check(&format!("{what}: residual"), &codec, &v, cols, &ge.unwrap(), &ce.unwrap());
    }
}

#[test]
fn compress_rows_is_deterministic_and_keyed() {
    let gpu = gpu_or_skip!();
    let mut rng = SplitMix64::new(33);
    let x = rand_matrix(&mut rng, 8, 100);
    let ids: Vec<u32> = (0..8).collect();
    for codec in [RowCodec::Uniform { bits: 2 }, RowCodec::Qsgd { levels: 2 }, RowCodec::RandK { k: 10 }] {
        let step = CompressStep { codec, stream: 5 };
        let a = compressed(&gpu, &x, &ids, &step, None).0;
        assert_bits_eq(&format!("{codec:?} twice"), &compressed(&gpu, &x, &ids, &step, None).0, &a);
        // Another stream or other row ids draw otherwise.
        assert_ne!(compressed(&gpu, &x, &ids, &CompressStep { codec, stream: 6 }, None).0, a, "{codec:?}");
        let shifted: Vec<u32> = ids.iter().map(|i| i + 100).collect();
        assert_ne!(compressed(&gpu, &x, &shifted, &step, None).0, a, "{codec:?}");
    }
}

#[test]
fn topk_with_many_ties_takes_the_lowest_columns() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    // Mostly zeros (a sparse gradient) and repeated magnitudes across chunk boundaries: the
    // threshold falls among the ties, which the prefix sum ranks by column.
    let (rows, cols) = (4, 1000);
    let mut data = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in (0..cols).step_by(97) {
            data[r * cols + c] = if c % 2 == 0 { 1.5 } else { -1.5 };
        }
        data[r * cols + 3] = 4.0;
    }
    let x = HostMatrix::from_vec(rows, cols, data);
    let ids: Vec<u32> = (0..rows as u32).collect();
    for k in [1, 2, 5, 11, 12, 300, 999, 1000] {
        let step = CompressStep { codec: RowCodec::TopK { k }, stream: 0 };
        let g = compressed(&gpu, &x, &ids, &step, None).0;
        assert_bits_eq(&format!("top-{k}"), &g, &compressed(&cpu, &x, &ids, &step, None).0);
    }
}

#[test]
fn powersgd_matches_cpu_over_warm_started_rounds() {
    let gpu = gpu_or_skip!();
    let cpu = CpuBackend::new();
    let mut rng = SplitMix64::new(34);
    let (n, m, r) = (300, 70, 4);
    let q0 = HostMatrix::from_vec(m, r, crate::backend::compress::powersgd_initial_q(3, 1, 0, m, r));
    let rounds: Vec<HostMatrix> = (0..3).map(|_| rand_matrix(&mut rng, n, m)).collect();
    /// (out, Q, P, residual) after the rounds, each warm-started from the last Q.
    fn run<B: Backend>(b: &B, q0: &HostMatrix, rounds: &[HostMatrix], r: usize) -> [Vec<f32>; 4] {
        let (n, m) = (rounds[0].rows, rounds[0].cols);
        let mut q = up(b, q0);
        let mut p = up(b, &nan_matrix(n, r));
        let mut e = up(b, &HostMatrix::from_vec(n, m, vec![0.0; n * m]));
        let mut out = up(b, &nan_matrix(n, m));
        for x in rounds {
            b.powersgd(&up(b, x), &mut q, &mut p, Some(&mut e), &mut out);
        }
        [down(b, &out), down(b, &q), down(b, &p), down(b, &e)]
    }
    let g = run(&gpu, &q0, &rounds, r);
    let c = run(&cpu, &q0, &rounds, r);
    for (i, what) in ["out", "q", "p", "residual"].iter().enumerate() {
        assert_close(&format!("powersgd {what}"), &g[i], &c[i], 1e-3, 1e-4);
    }
    // P's columns are orthonormal.
    for i in 0..r {
        for j in 0..=i {
            let d: f32 = (0..n).map(|row| g[2][row * r + i] * g[2][row * r + j]).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((d - want).abs() < 1e-4, "PᵀP[{i}, {j}] = {d}");
        }
    }
}
