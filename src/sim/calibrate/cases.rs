//! The microbenchmarks: each kernel class's ops on synthetic inputs over a range of shapes,
//! measured through a recording [`Metered`] so that every sample carries the [`Work`] the clock
//! charges for that op. None of them is a training run: the GCN configurations that
//! `gcnsim validate` checks are never fitted on.

use std::time::{Duration, Instant};

use super::fit::Sample;
use crate::backend::{
    AdamStep, Backend, BackendError, KernelClass, MemCategory, OptimizerStep, ReduceOrder, RobustStep,
};
use crate::graph::Csr;
use crate::rng::SplitMix64;
use crate::sim::metered::Metered;
use crate::tensor::HostMatrix;

/// One measured shape: what it was, and its sample.
#[derive(Clone, Debug)]
pub struct Measured {
    pub label: String,
    pub sample: Sample,
}

/// How much to measure.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Smaller shapes and shorter timing, for tests.
    pub quick: bool,
    /// Time spent repeating one shape (after a warm-up call), at least three calls.
    pub per_shape: Duration,
}

/// Runs every class's microbenchmarks on `b` (one that runs kernels when called, timed by the
/// host clock, or one that times ops on its device: [`Backend::device_timing`]), calling
/// `progress` with each finished shape.
pub fn run_all<B: Backend>(
    b: &B,
    budget: Budget,
    progress: &mut dyn FnMut(&Measured),
) -> Result<Vec<Measured>, BackendError> {
    if !b.runs_when_called() {
        b.device_timing().map_err(|why| BackendError::Device(format!("calibration times each kernel, but {why}")))?;
    }
    let meter = Metered::new(b, crate::cost::DeviceProfile::cpu(), 1).measuring().recording();
    let mut bench = Bench { meter: &meter, budget, out: Vec::new(), progress, rng: SplitMix64::new(0x5eed) };
    bench.spmm()?;
    bench.matmul()?;
    bench.elementwise()?;
    bench.reductions()?;
    bench.optimizer()?;
    bench.attention()?;
    bench.robust()?;
    Ok(bench.out)
}

struct Bench<'a, 'p, B: Backend> {
    meter: &'a Metered<'a, B>,
    budget: Budget,
    out: Vec<Measured>,
    progress: &'p mut dyn FnMut(&Measured),
    rng: SplitMix64,
}

impl<B: Backend> Bench<'_, '_, B> {
    fn pick<T: Copy>(&self, quick: &[T], full: &[T]) -> Vec<T> {
        if self.budget.quick {
            quick.to_vec()
        } else {
            full.to_vec()
        }
    }

    fn matrix(&mut self, rows: usize, cols: usize) -> Result<B::Matrix, BackendError> {
        let data = (0..rows * cols).map(|_| self.rng.next_f64() as f32 - 0.5).collect();
        self.meter.upload(&HostMatrix::from_vec(rows, cols, data), MemCategory::Activations, "calibration")
    }

    /// `rows × cols` with `degree` uniformly random columns per row and values 1/degree.
    fn graph(&mut self, rows: usize, cols: usize, degree: usize) -> Result<B::Sparse, BackendError> {
        let pairs: Vec<(u32, u32)> = (0..rows)
            .flat_map(|r| std::iter::repeat_n(r as u32, degree))
            .map(|r| (r, self.rng.below(cols as u64) as u32))
            .collect();
        let mut csr = Csr::from_pairs(rows, cols, pairs, false).expect("calibration graphs fit a CSR");
        csr.values = vec![1.0 / degree as f32; csr.nnz()];
        self.meter.upload_sparse(&csr, MemCategory::Graph, "calibration")
    }

    /// Whether a shape whose largest operand has `elems` elements fits one binding of the
    /// device; some kernels bind an operand whole (SpMM's dense ones, transposed matmuls), so a
    /// device with small bindings (lavapipe's 128 MiB) skips the largest shapes, saying so.
    fn fits(&self, label: &str, elems: usize) -> bool {
        let bytes = 4 * elems as u64;
        match self.meter.max_binding_bytes().filter(|&limit| bytes > limit) {
            Some(limit) => {
                eprintln!("  {label:<48} skipped: an operand of {bytes} B exceeds one binding ({limit} B)");
                false
            }
            None => true,
        }
    }

    /// Times `op` (one backend call) after a warm-up; records the median of the calls.
    fn time(&mut self, label: String, mut op: impl FnMut()) -> Result<(), BackendError> {
        op();
        self.meter.flush()?;
        self.meter.take_records();
        let started = Instant::now();
        let mut samples = Vec::new();
        while samples.len() < 3 || (started.elapsed() < self.budget.per_shape && samples.len() < 200) {
            op();
            self.meter.flush()?;
            let records = self.meter.take_records();
            assert_eq!(records.len(), 1, "{label}: one backend call is one kernel");
            samples.push(Sample { work: records[0].0, seconds: records[0].1 });
        }
        samples.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let mut sample = samples[samples.len() / 2];
        // A timer tick of 0 would make the log error infinite: no kernel takes under 1 ns.
        sample.seconds = sample.seconds.max(1e-9);
        let measured = Measured { label, sample };
        (self.progress)(&measured);
        self.out.push(measured);
        Ok(())
    }

    fn spmm(&mut self) -> Result<(), BackendError> {
        for n in self.pick(&[1024, 8192], &[4096, 32_768, 262_144]) {
            for degree in self.pick(&[4], &[4, 16]) {
                let a = self.graph(n, n, degree)?;
                for k in self.pick(&[16, 64], &[16, 64, 256]) {
                    if !self.fits(&format!("spmm n={n} degree={degree} k={k}"), n * k) {
                        continue;
                    }
                    let x = self.matrix(n, k)?;
                    let mut out = self.matrix(n, k)?;
                    self.time(format!("spmm n={n} degree={degree} k={k}"), || self.meter.spmm(&a, &x, &mut out))?;
                }
            }
        }
        Ok(())
    }

    fn matmul(&mut self) -> Result<(), BackendError> {
        let shapes = self.pick(&[(16, 16), (256, 16)], &[(16, 16), (64, 64), (256, 256), (1433, 16), (128, 7)]);
        for m in self.pick(&[500, 4000], &[1000, 10_000, 100_000]) {
            for &(k, n) in &shapes {
                if !self.fits(&format!("matmul m={m} k={k} n={n}"), m * k.max(n)) {
                    continue;
                }
                // The three forms the models use: X·W, Xᵀ·G (weight gradient), G·Wᵀ (input gradient).
                let (x, w, g) = (self.matrix(m, k)?, self.matrix(k, n)?, self.matrix(m, n)?);
                let (mut p, mut dw, mut dx) = (self.matrix(m, n)?, self.matrix(k, n)?, self.matrix(m, k)?);
                self.time(format!("matmul X·W {m}x{k}·{k}x{n}"), || self.meter.matmul(&x, &w, &mut p, false, false))?;
                self.time(format!("matmul Xᵀ·G {k}x{m}·{m}x{n}"), || {
                    self.meter.matmul(&x, &g, &mut dw, true, false)
                })?;
                self.time(format!("matmul G·Wᵀ {m}x{n}·{n}x{k}"), || {
                    self.meter.matmul(&g, &w, &mut dx, false, true)
                })?;
            }
        }
        Ok(())
    }

    fn sizes(&self) -> Vec<usize> {
        self.pick(&[1000, 100_000], &[1000, 10_000, 100_000, 1_000_000, 10_000_000])
    }

    fn elementwise(&mut self) -> Result<(), BackendError> {
        for n in self.sizes() {
            let (x, g) = (self.matrix(n / 100, 100)?, self.matrix(n / 100, 100)?);
            let mut out = self.matrix(n / 100, 100)?;
            self.time(format!("relu n={n}"), || self.meter.relu(&x, &mut out))?;
            self.time(format!("relu backward n={n}"), || self.meter.relu_backward(&x, &g, &mut out))?;
            self.time(format!("copy n={n}"), || self.meter.copy(&x, &mut out))?;
        }
        Ok(())
    }

    fn reductions(&mut self) -> Result<(), BackendError> {
        let mut stats = self.meter.alloc_stats(1, "calibration")?;
        for n in self.sizes() {
            let x = self.matrix(n / 100, 100)?;
            self.time(format!("sum of squares n={n}"), || self.meter.sum_squares(&x, &mut stats, 0))?;
        }
        for p in self.pick(&[4], &[4, 16]) {
            for n in self.pick(&[10_000], &[10_000, 100_000, 1_000_000]) {
                let inputs = (0..p).map(|_| self.matrix(n / 100, 100)).collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<&B::Matrix> = inputs.iter().collect();
                let weights = vec![1.0 / p as f32; p];
                let mut out = self.matrix(n / 100, 100)?;
                self.time(format!("weighted sum p={p} n={n}"), || {
                    self.meter.weighted_sum(&refs, &weights, ReduceOrder::Flat, &mut out)
                })?;
            }
        }
        Ok(())
    }

    fn optimizer(&mut self) -> Result<(), BackendError> {
        let adam =
            OptimizerStep::Adam(AdamStep { lr_t: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 5e-4 });
        for n in self.pick(&[1000, 100_000], &[1000, 10_000, 100_000, 1_000_000]) {
            let (mut p, g) = (self.matrix(n / 100, 100)?, self.matrix(n / 100, 100)?);
            let mut state = vec![self.matrix(n / 100, 100)?, self.matrix(n / 100, 100)?];
            self.time(format!("adam n={n}"), || self.meter.optimizer_step(&mut p, &g, &mut state, &adam))?;
        }
        Ok(())
    }

    fn attention(&mut self) -> Result<(), BackendError> {
        let (heads, c) = (8, 8);
        for n in self.pick(&[2048], &[4096, 32_768, 131_072]) {
            let a = self.graph(n, n, 8)?;
            let nnz = n * 8;
            let (s_src, s_dst) = (self.matrix(n, heads)?, self.matrix(n, heads)?);
            let (mut pre, mut alpha) = (self.matrix(nnz, heads)?, self.matrix(nnz, heads)?);
            let (x, att) = (self.matrix(n, heads * c)?, self.matrix(heads, c)?);
            let mut out = self.matrix(n, heads * c)?;
            let mut scores = self.matrix(n, heads)?;
            self.time(format!("edge softmax n={n} heads={heads}"), || {
                self.meter.edge_softmax(&a, &s_src, &s_dst, 0.2, &mut pre, &mut alpha)
            })?;
            self.time(format!("attention spmm n={n} heads={heads} c={c}"), || {
                self.meter.attention_spmm(&a, None, &alpha, &x, &mut out)
            })?;
            self.time(format!("attention alpha backward n={n} heads={heads} c={c}"), || {
                self.meter.attention_spmm_backward_alpha(&a, &x, &out, &mut pre)
            })?;
            self.time(format!("head dot n={n} heads={heads} c={c}"), || self.meter.head_dot(&x, &att, &mut scores))?;
        }
        Ok(())
    }

    fn robust(&mut self) -> Result<(), BackendError> {
        for workers in self.pick(&[8], &[8, 16]) {
            for d in self.pick(&[10_000], &[10_000, 100_000]) {
                let g = self.matrix(workers, d)?;
                let (mut out, mut selection) = (self.matrix(1, d)?, self.matrix(1, workers)?);
                let rules = [("median", RobustStep::Median), ("krum", RobustStep::Krum { f: 1, m: 1 })];
                for (name, rule) in rules {
                    self.time(format!("{name} n={workers} d={d}"), || {
                        self.meter.robust_aggregate(&g, &rule, None, &mut out, &mut selection)
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// The classes whose kernels gather rows (and so get a cache model).
pub fn gathers(class: KernelClass) -> bool {
    matches!(class, KernelClass::Spmm | KernelClass::Attention)
}
