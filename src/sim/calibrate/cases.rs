//! The microbenchmarks: each kernel class's ops on synthetic inputs over a range of shapes,
//! measured through a recording [`Metered`] so that every sample carries the [`Work`] the clock
//! charges for that op. None of them is a training run: the GCN configurations that
//! `gcnsim validate` checks are never fitted on.

use std::time::{Duration, Instant};

use super::fit::Sample;
use crate::backend::{
    AdamStep, Backend, BackendError, DropoutSpec, KernelClass, MemCategory, Nonzeros, OptimizerStep, ReduceOrder,
    RobustStep, SparseLayout,
};
use crate::graph::Csr;
use crate::rng::{MaskKey, SplitMix64};
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
    let scratch = vec![0u8; *EVICTION_BYTES.iter().max().expect("eviction sizes")];
    let rng = SplitMix64::new(0x5eed);
    let mut bench = Bench { meter: &meter, budget, out: Vec::new(), progress, rng, scratch, evict: 0 };
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
    /// Written between repetitions ([`Bench::evict_private_caches`]).
    scratch: Vec<u8>,
    /// Bytes of `scratch` written between repetitions of the current shape.
    evict: usize,
}

/// Bytes written between repetitions, by turns: within a core's private cache (1–4 MiB
/// today), and beyond a last-level cache (tens of MiB).
const EVICTION_BYTES: [usize; 3] = [1 << 20, 8 << 20, 32 << 20];

/// FNV-1a: a fixed, well-mixed hash of a shape's label (the same on every machine and run).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
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
        // Shapes see a little competing data (it fits in a core's private cache) or much (more
        // than a last-level cache), so the fit sees both sides of the cache. The amount is drawn
        // from the label rather than taken by turns: by turns it would follow the loops' nesting
        // (every k = 256 SpMM, every transposed matmul at one amount), and the fit would read a
        // shape's effect as the cache's.
        self.evict = EVICTION_BYTES[(fnv1a(label.as_bytes()) % EVICTION_BYTES.len() as u64) as usize];
        self.meter.set_context_bytes(Some(self.evict as f64));
        op();
        self.meter.flush()?;
        self.meter.take_records();
        let started = Instant::now();
        let mut samples = Vec::new();
        while samples.len() < 3 || (started.elapsed() < self.budget.per_shape && samples.len() < 200) {
            self.evict_private_caches();
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
        let label = format!("{label} (evicting {} MiB)", self.evict >> 20);
        let measured = Measured { label, sample };
        (self.progress)(&measured);
        self.out.push(measured);
        Ok(())
    }

    /// Writes the first `self.evict` bytes of the scratch buffer between repetitions, as other
    /// kernels of a training step touch other data between two uses of a kernel's inputs; the
    /// kernel's `Work` says so ([`Work::context_bytes`]), so the fit sees what competed with it.
    fn evict_private_caches(&mut self) {
        for chunk in self.scratch[..self.evict].chunks_mut(64) {
            chunk[0] = chunk[0].wrapping_add(1);
        }
        std::hint::black_box(&self.scratch);
    }

    fn index(&mut self, values: Vec<u32>) -> Result<B::Index, BackendError> {
        self.meter.upload_index(&values, MemCategory::Graph, "calibration")
    }

    /// `n` uniformly random values below `below`.
    fn random_index(&mut self, n: usize, below: usize) -> Result<B::Index, BackendError> {
        let values = (0..n).map(|_| self.rng.below(below as u64) as u32).collect();
        self.index(values)
    }

    fn dropout_spec(&self) -> DropoutSpec {
        DropoutSpec::new(MaskKey { seed: 7, epoch: 1, layer: 0 }, 0.5)
    }

    /// Dense shapes (rows × width) for the row-wise ops: from a small partition's slice of a
    /// narrow layer to a large graph's widest, where the per-call cost and the memory bandwidth
    /// each dominate at one end.
    fn dense_shapes(&self) -> Vec<(usize, usize)> {
        let rows = self.pick(&[100, 2000], &[40, 200, 3000, 30_000, 200_000]);
        let widths = self.pick(&[16, 64], &[16, 64, 256]);
        let shapes: Vec<(usize, usize)> = rows.iter().flat_map(|&r| widths.iter().map(move |&w| (r, w))).collect();
        // The widest operand is `copy_cols`' destination, twice as wide.
        shapes.into_iter().filter(|&(r, w)| self.fits(&format!("row-wise ops {r}x{w}"), r * 2 * w)).collect()
    }

    fn spmm(&mut self) -> Result<(), BackendError> {
        for n in self.pick(&[256, 8192], &[64, 256, 4096, 32_768, 262_144]) {
            for degree in self.pick(&[4], &[4, 8, 16]) {
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
        let shapes = self.pick(
            &[(16, 16), (256, 16)],
            &[(16, 16), (32, 64), (64, 64), (32, 256), (256, 256), (1433, 16), (128, 7), (256, 7)],
        );
        for m in self.pick(&[500, 4000], &[40, 200, 2000, 20_000, 100_000]) {
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

    /// Every element-wise op the models run, at every dense shape.
    fn elementwise(&mut self) -> Result<(), BackendError> {
        let spec = self.dropout_spec();
        let mut stats = self.meter.alloc_stats(1, "calibration")?;
        for (rows, width) in self.dense_shapes() {
            let shape = format!("{rows}x{width}");
            let (x, g) = (self.matrix(rows, width)?, self.matrix(rows, width)?);
            let mut out = self.matrix(rows, width)?;
            let mut wide = self.matrix(rows, 2 * width)?;
            let node_ids = self.index((0..rows as u32).collect())?;
            let picks = self.random_index(rows, rows)?;
            let labels = self.random_index(rows, width)?;
            // Every row a training row (split code 1), so the loss and its gradient are computed.
            let train = self.index(vec![1; rows])?;
            self.time(format!("relu {shape}"), || self.meter.relu(&x, &mut out))?;
            self.time(format!("relu backward {shape}"), || self.meter.relu_backward(&x, &g, &mut out))?;
            self.time(format!("elu {shape}"), || self.meter.elu(&x, &mut out))?;
            self.time(format!("elu backward {shape}"), || self.meter.elu_backward(&x, &g, &mut out))?;
            self.time(format!("copy {shape}"), || self.meter.copy(&x, &mut out))?;
            self.time(format!("zero {shape}"), || self.meter.zero(&mut out))?;
            self.time(format!("copy rows {shape}"), || self.meter.copy_rows(&x, 0, &mut out, 0, rows))?;
            self.time(format!("add rows {shape}"), || self.meter.add_rows(&x, 0, &mut out, 0, rows))?;
            self.time(format!("gather rows {shape}"), || self.meter.gather_rows(&x, &picks, &mut out, 0))?;
            self.time(format!("scatter-add rows {shape}"), || self.meter.scatter_add_rows(&x, 0, &picks, &mut out))?;
            self.time(format!("copy cols {shape} into {rows}x{}", 2 * width), || {
                self.meter.copy_cols(&x, 0, &mut wide, width, rows, width)
            })?;
            self.time(format!("dropout {shape}"), || self.meter.dropout(&x, &node_ids, &spec, &mut out))?;
            self.time(format!("softmax cross-entropy {shape}"), || {
                self.meter.softmax_xent(&x, &labels, &train, 1.0, Some(&mut out), &mut stats, 0)
            })?;
        }
        // Dropout on sparse input features (bag-of-words rows, ~18 words of 1433 as in Cora).
        for rows in self.pick(&[100, 2000], &[200, 3000, 30_000, 200_000]) {
            let x = self.graph(rows, 1433, 18)?;
            let mut out = self.meter.sparse_like(&x, MemCategory::Graph, "calibration")?;
            let node_ids = self.index((0..rows as u32).collect())?;
            self.time(format!("sparse dropout {rows}x1433 degree=18"), || {
                self.meter.dropout_sparse(&x, &node_ids, SparseLayout::NodeRows, &spec, &mut out)
            })?;
        }
        Ok(())
    }

    fn reductions(&mut self) -> Result<(), BackendError> {
        let mut stats = self.meter.alloc_stats(1, "calibration")?;
        for (rows, width) in self.dense_shapes() {
            let x = self.matrix(rows, width)?;
            self.time(format!("sum of squares {rows}x{width}"), || self.meter.sum_squares(&x, &mut stats, 0))?;
        }
        for p in self.pick(&[4], &[4, 16]) {
            for n in self.pick(&[10_000], &[1000, 10_000, 100_000, 1_000_000]) {
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
        for n in self.pick(&[1000, 100_000], &[100, 1000, 10_000, 100_000, 1_000_000]) {
            let (rows, cols) = if n < 100 { (1, n) } else { (n / 100, 100) };
            let (mut p, g) = (self.matrix(rows, cols)?, self.matrix(rows, cols)?);
            let mut state = vec![self.matrix(rows, cols)?, self.matrix(rows, cols)?];
            self.time(format!("adam n={n}"), || self.meter.optimizer_step(&mut p, &g, &mut state, &adam))?;
        }
        Ok(())
    }

    /// GAT's kernels, forward and backward, over random graphs of degree 8 with 8 heads.
    fn attention(&mut self) -> Result<(), BackendError> {
        let heads = 8;
        let spec = self.dropout_spec();
        for n in self.pick(&[256, 2048], &[256, 4096, 32_768, 131_072]) {
            if !self.fits(&format!("attention n={n} heads={heads}"), n * heads * 32) {
                continue;
            }
            let a = self.graph(n, n, 8)?;
            // Repeated random columns merge: fewer than 8n entries.
            let nnz = a.nnz();
            let ids = self.index((0..n as u32).collect())?;
            // A permutation of the entries, as the transposed adjacency's map into CSR order.
            let mut order: Vec<u32> = (0..nnz as u32).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, self.rng.below(i as u64 + 1) as usize);
            }
            let perm = self.index(order)?;
            let (s_src, s_dst) = (self.matrix(n, heads)?, self.matrix(n, heads)?);
            let (mut pre, mut alpha) = (self.matrix(nnz, heads)?, self.matrix(nnz, heads)?);
            let (d_alpha, mut d_pre) = (self.matrix(nnz, heads)?, self.matrix(nnz, heads)?);
            let mut per_node = self.matrix(n, heads)?;
            self.time(format!("edge softmax n={n} heads={heads}"), || {
                self.meter.edge_softmax(&a, &s_src, &s_dst, 0.2, &mut pre, &mut alpha)
            })?;
            self.time(format!("edge softmax backward n={n} heads={heads}"), || {
                self.meter.edge_softmax_backward(&a, &pre, &alpha, &d_alpha, 0.2, &mut d_pre)
            })?;
            self.time(format!("edge dropout n={n} heads={heads}"), || {
                self.meter.edge_dropout(&a, &ids, &ids, &spec, &alpha, &mut d_pre)
            })?;
            self.time(format!("edge row sum n={n} heads={heads}"), || {
                self.meter.edge_row_sum(&a, None, &alpha, &mut per_node)
            })?;
            self.time(format!("edge row sum (transposed) n={n} heads={heads}"), || {
                self.meter.edge_row_sum(&a, Some(&perm), &alpha, &mut per_node)
            })?;
            for c in self.pick(&[8], &[8, 32]) {
                let (x, att) = (self.matrix(n, heads * c)?, self.matrix(heads, c)?);
                let (d_out, mut out, mut dx) =
                    (self.matrix(n, heads * c)?, self.matrix(n, heads * c)?, self.matrix(n, heads * c)?);
                let mut d_att = self.matrix(heads, c)?;
                let mut scores = self.matrix(n, heads)?;
                self.time(format!("attention spmm n={n} heads={heads} c={c}"), || {
                    self.meter.attention_spmm(&a, None, &alpha, &x, &mut out)
                })?;
                self.time(format!("attention spmm (transposed) n={n} heads={heads} c={c}"), || {
                    self.meter.attention_spmm(&a, Some(&perm), &alpha, &x, &mut out)
                })?;
                self.time(format!("attention alpha backward n={n} heads={heads} c={c}"), || {
                    self.meter.attention_spmm_backward_alpha(&a, &x, &d_out, &mut d_pre)
                })?;
                self.time(format!("head dot n={n} heads={heads} c={c}"), || {
                    self.meter.head_dot(&x, &att, &mut scores)
                })?;
                self.time(format!("head dot backward n={n} heads={heads} c={c}"), || {
                    self.meter.head_dot_backward(&x, &att, &per_node, &mut dx, &mut d_att)
                })?;
            }
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
