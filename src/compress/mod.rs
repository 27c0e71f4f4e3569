//! Compression of what crosses the simulated network (issue #30): quantized boundary rows
//! (AdaQP's per-row scale and zero point, Sylvie's 1-bit features), compressed gradient pushes
//! with error feedback (GRACE, BytePS: top-k, rand-k, QSGD, signSGD; PowerSGD as PyTorch's
//! hook) and half-precision weight pulls.
//!
//! - [`spec`]: the flags' specs, their `Display`/serde round trip and exact encoded sizes.
//! - [`pack`]: the wire format on the host (bit-packing encoder and decoder), the reference the
//!   fused backend ops are proven against.
//! - [`push`]: the workers' side of the push ([`push::PushEncoder`]: per worker and parameter
//!   matrix, residuals and PowerSGD's Q) and of the pull ([`push::WeightPull`]), as the
//!   training driver applies them.
//! - The ops themselves are [`crate::backend::Backend::compress_rows`] and
//!   [`crate::backend::Backend::powersgd`] (step types in [`crate::backend::compress`]).

pub mod pack;
pub mod push;
pub mod spec;

pub use spec::{BoundaryCodec, BoundaryCompression, PullCompression, PushCodec, PushCompression};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::compress::{codec_stream, powersgd_initial_q, CodecStream, CompressStep};
    use crate::backend::cpu::CpuBackend;
    use crate::backend::{Backend, MemCategory};
    use crate::rng::{MaskKey, SplitMix64};
    use crate::tensor::HostMatrix;

    fn rel_error(x: &[f32], y: &[f32]) -> f64 {
        let num: f64 = x.iter().zip(y).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        let den: f64 = x.iter().map(|&a| (a as f64).powi(2)).sum();
        (num / den).sqrt()
    }

    /// ‖decode(encode(x)) − x‖ / ‖x‖ and the size ratio raw/encoded of every codec on a
    /// Gaussian 1000 × 64 matrix (printed with `--nocapture`), each error checked against what
    /// the codec's resolution allows.
    #[test]
    fn relative_errors_and_size_ratios_on_a_gaussian_matrix() {
        let (rows, cols) = (1000, 64);
        let mut rng = SplitMix64::new(2024);
        let host = HostMatrix::from_vec(rows, cols, (0..rows * cols).map(|_| rng.normal() as f32).collect());
        let b = CpuBackend::new();
        let up = |m: &HostMatrix| b.upload(m, MemCategory::Activations, "x").unwrap();
        let x = up(&host);
        let raw = (rows * cols * 4) as f64;
        let stream = codec_stream(MaskKey { seed: 1, epoch: 0, layer: 0 }, CodecStream::BoundaryForward);
        let mut report = Vec::new();
        let mut run = |name: String, m: &crate::backend::cpu::CpuMatrix, codec, bytes: u64, ids: &[u32]| {
            let ids = b.upload_index(ids, MemCategory::Activations, "ids").unwrap();
            let mut out = b.alloc(m.rows(), m.cols(), MemCategory::Activations, "out").unwrap();
            b.compress_rows(m, &ids, &CompressStep { codec, stream }, None, &mut out);
            let err = rel_error(&host.data, &b.download(&out).unwrap().data);
            report.push((name, err, raw / bytes as f64));
            err
        };
        use crate::backend::Shape;
        let node_ids: Vec<u32> = (0..rows as u32).collect();
        // Boundary codecs, per row of 64.
        for (spec, max_err) in [("fp16", 4e-4), ("int8", 0.02), ("int4", 0.3), ("int2", 1.2), ("1bit", 0.7)] {
            let c: BoundaryCompression = spec.parse().unwrap();
            let err = run(
                format!("boundary {spec} (rows of 64)"),
                &x,
                c.row_codec().unwrap(),
                c.encoded_bytes(rows, cols),
                &node_ids,
            );
            assert!(err < max_err, "{spec}: relative error {err}");
        }
        // Push codecs on the rows of 64 (as a boundary block) and on one worker's flattened
        // gradient (1 × 64000): the per-row norm and k apply to the whole row. QSGD's bound is
        // E‖Q(v) − v‖² ≤ min(d/S², √d/S)·‖v‖² (Alistarh et al. 2017, lemma 3.1), so one long
        // row needs many levels; top-k and rand-k keep a fraction of the energy.
        let flat = up(&HostMatrix::from_vec(1, rows * cols, host.data.clone()));
        for (spec, max_err) in [
            ("fp16", 4e-4),
            ("topk:ratio=0.01", 1.0),
            ("topk:ratio=0.1", 0.85),
            ("randk:ratio=0.1", 0.96),
            ("qsgd:levels=4", 0.0),
            ("qsgd:levels=256", 0.0),
            ("signsgd", 0.7),
        ] {
            let c: PushCompression = spec.parse().unwrap();
            for (m, r, d, ids) in [(&x, rows, cols, &node_ids[..]), (&flat, 1, rows * cols, &[0u32][..])] {
                let err =
                    run(format!("push {spec} ({r} x {d})"), m, c.row_codec(d).unwrap(), c.encoded_bytes(r, d), ids);
                let bound = match c.codec {
                    PushCodec::Qsgd { levels } => {
                        let (d, s) = (d as f64, levels as f64);
                        (d / (s * s)).min(d.sqrt() / s).sqrt() * 1.05
                    }
                    _ => max_err,
                };
                assert!(err < bound, "{spec} on rows of {d}: relative error {err}, bound {bound}");
            }
        }
        // PowerSGD on the 1000 × 64 matrix: a random Gaussian has no low-rank structure, so the
        // error stays near √(1 − r/64) of the best rank-r approximation.
        for rank in [1usize, 4, 16] {
            let c: PushCompression = format!("powersgd:rank={rank}").parse().unwrap();
            let q0 = powersgd_initial_q(1, 0, 0, cols, rank);
            let mut q = up(&HostMatrix::from_vec(cols, rank, q0));
            let mut p = b.alloc(rows, rank, MemCategory::Activations, "p").unwrap();
            let mut out = b.alloc(rows, cols, MemCategory::Activations, "out").unwrap();
            b.powersgd(&x, &mut q, &mut p, None, &mut out);
            let err = rel_error(&host.data, &b.download(&out).unwrap().data);
            report.push((
                format!("push powersgd:rank={rank} (1000 x 64)"),
                err,
                raw / c.encoded_bytes(rows, cols) as f64,
            ));
            assert!(err < 1.0 && err > (1.0 - rank as f64 / cols as f64).sqrt() * 0.8, "rank {rank}: {err}");
        }
        println!("{:<40} {:>10} {:>8}", "codec", "rel.error", "ratio");
        for (name, err, ratio) in &report {
            println!("{name:<40} {err:>10.5} {ratio:>7.2}x");
        }
    }

    /// With error feedback, what was sent plus what is kept equals what was to be sent, and the
    /// sum of what was sent over rounds tracks the sum of the inputs (the residual stays bounded).
    #[test]
    fn error_feedback_keeps_the_residual_identity() {
        let (rows, cols) = (20, 33);
        let mut rng = SplitMix64::new(5);
        let b = CpuBackend::new();
        let ids = b.upload_index(&(0..rows as u32).collect::<Vec<_>>(), MemCategory::Activations, "ids").unwrap();
        let codecs = [
            crate::backend::RowCodec::Uniform { bits: 2 },
            crate::backend::RowCodec::OneBit,
            crate::backend::RowCodec::TopK { k: 3 },
            crate::backend::RowCodec::RandK { k: 3 },
            crate::backend::RowCodec::Sign,
            crate::backend::RowCodec::Qsgd { levels: 2 },
        ];
        for codec in codecs {
            let mut e = b.alloc(rows, cols, MemCategory::Activations, "e").unwrap();
            let mut sent_total = vec![0.0f64; rows * cols];
            let mut x_total = vec![0.0f64; rows * cols];
            for round in 0..30u32 {
                let host = HostMatrix::from_vec(rows, cols, (0..rows * cols).map(|_| rng.normal() as f32).collect());
                let x = b.upload(&host, MemCategory::Activations, "x").unwrap();
                let e_old = b.download(&e).unwrap().data;
                let mut out = b.alloc(rows, cols, MemCategory::Activations, "out").unwrap();
                let step = CompressStep { codec, stream: round };
                b.compress_rows(&x, &ids, &step, Some(&mut e), &mut out);
                let (sent, e_new) = (b.download(&out).unwrap().data, b.download(&e).unwrap().data);
                for i in 0..rows * cols {
                    let want = host.data[i] + e_old[i];
                    let got = sent[i] + e_new[i];
                    // e_new = v − sent is rounded once; adding it back is exact to an ulp of v.
                    assert!((got - want).abs() <= 2.0 * f32::EPSILON * want.abs().max(sent[i].abs()), "{codec:?}");
                    sent_total[i] += sent[i] as f64;
                    x_total[i] += host.data[i] as f64;
                }
            }
            // Σ sent = Σ x − e_final: the drift is the last residual, not the sum of 30 errors.
            let e_final = b.download(&e).unwrap().data;
            for i in 0..rows * cols {
                let drift = x_total[i] - sent_total[i] - e_final[i] as f64;
                assert!(drift.abs() < 1e-3, "{codec:?}: element {i} drifts {drift}");
            }
        }
    }

    #[test]
    fn metered_charges_each_codec_its_work() {
        use crate::backend::compress::{compress_work, powersgd_work};
        use crate::backend::{KernelClass, RowCodec};
        use crate::cost::DeviceProfile;
        use crate::sim::metered::Metered;
        let cpu = CpuBackend::new();
        let profile = DeviceProfile::h100();
        let m = Metered::new(&cpu, profile.clone(), 2);
        m.attribute(Some(1));
        let host = HostMatrix::from_vec(6, 5, (0..30).map(|i| i as f32 - 7.5).collect());
        let x = m.upload(&host, MemCategory::Activations, "x").unwrap();
        let ids = m.upload_index(&[0, 1, 2, 3, 4, 5], MemCategory::Activations, "ids").unwrap();
        let mut e = m.alloc(6, 5, MemCategory::Activations, "e").unwrap();
        let mut out = m.alloc(6, 5, MemCategory::Activations, "out").unwrap();
        let topk = RowCodec::TopK { k: 2 };
        m.compress_rows(&x, &ids, &CompressStep { codec: topk, stream: 0 }, Some(&mut e), &mut out);
        let want = profile.work_time(&compress_work(&topk, 6, 5, true));
        assert_eq!(m.take_totals(), vec![0.0, want]);
        // Error feedback costs more than none; int8 is element-wise, top-k a reduction.
        assert!(want > profile.work_time(&compress_work(&topk, 6, 5, false)));
        let int8 = RowCodec::Uniform { bits: 8 };
        assert_eq!(compress_work(&int8, 6, 5, false).class, KernelClass::Elementwise);
        let mut q = m
            .upload(&HostMatrix::from_vec(5, 2, powersgd_initial_q(1, 1, 0, 5, 2)), MemCategory::Activations, "q")
            .unwrap();
        let mut p = m.alloc(6, 2, MemCategory::Activations, "p").unwrap();
        m.powersgd(&x, &mut q, &mut p, None, &mut out);
        assert_eq!(m.take_totals(), vec![0.0, profile.work_time(&powersgd_work(6, 5, 2, false))]);
        let classes = m.class_totals();
        assert!(classes.contains_key(&KernelClass::Reduction) && classes.contains_key(&KernelClass::Matmul));
    }
}
