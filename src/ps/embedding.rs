//! The parameter server's learnable node-embedding table (`--embedding-dim D`): N × D rows on
//! the device, one per node, with the optimizer's state row for row.
//!
//! Per BSP round:
//! 1. [`EmbeddingTable::begin_round`] evicts the rows no push has updated for `prune_after`
//!    epochs and re-initializes them, since this round's pulls read every row (full-batch
//!    training pulls each node's row by its owner): fresh N(0, 1/D) values from a counter-based
//!    hash of (seed, row, generation), their optimizer state back to its initial value;
//! 2. each worker pulls the rows its layer-0 input reads (`Workspace::pull_embeddings`);
//! 3. each worker pushes the rows its loss reaches (`model::receptive`): row ids + values;
//! 4. [`EmbeddingTable::apply`] sums the pushes per row (weighted as the dense gradients are),
//!    then steps only the rows pushed (a lazy sparse update, as PyTorch's SparseAdam and
//!    TensorFlow's LazyAdam): their values and state are gathered into compact buffers, stepped
//!    with the server's optimizer kernel at the table's own step count, and scattered back.
//!    `embedding_decay` is that step's weight decay, so it too touches only pushed rows.
//!
//! The device table is dense (a row's slot exists while it is evicted); eviction is the
//! platforms' policy (a row unused for K steps is dropped and re-created from the initializer
//! on next use, as TensorFlow's EmbeddingVariable `GlobalStepEvict`), counted per epoch.

use super::optimizer::{kernel_step, state_layout};
use super::OptimizerSpec;
use crate::backend::snapshot::{download_all, overwrite, overwrite_all, RestoreError};
use crate::backend::KernelCost;
use crate::backend::{Backend, BackendError, MemCategory, OptimizerStep, ReduceOrder};
use crate::rng::{mask_uniform, MaskKey};
use crate::tensor::HostMatrix;

/// Initial-value streams: `MaskKey::layer` of the init hash (distinct from dropout's and the
/// boundary sample's), `MaskKey::epoch` the row's generation.
const INIT_STREAM: u32 = (1 << 30) | 1;

/// A round's embedding traffic and table changes (`embeddings.csv`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddingCounts {
    /// Rows pulled by all workers, and their bytes (D floats a row).
    pub pulled_rows: u64,
    pub pull_bytes: u64,
    /// Rows pushed by all workers, and their bytes (a u32 row id and D floats a row).
    pub pushed_rows: u64,
    pub push_bytes: u64,
    /// Distinct rows the server stepped.
    pub updated_rows: u64,
    /// Rows evicted and re-initialized at the start of the round.
    pub pruned_rows: u64,
}

/// The table between two rounds (a checkpoint's copy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddingState {
    pub table: HostMatrix,
    pub slots: Vec<HostMatrix>,
    pub step: u32,
    pub last_touch: Vec<u32>,
    pub generation: Vec<u32>,
}

/// The table's settings (from `TrainConfig`).
#[derive(Clone, Debug)]
pub struct EmbeddingSettings {
    pub dim: usize,
    pub seed: u64,
    pub optimizer: OptimizerSpec,
    pub decay: f32,
    pub prune_after: Option<u32>,
}

/// What the workers pull and push: per worker, the global ids of its pulled rows and of its
/// pushed rows (in the order of its push message), and the weight of its gradient in the sum.
pub struct WorkerRows<'a> {
    pub pulled: &'a [u32],
    pub pushed: &'a [u32],
    pub weight: f32,
}

/// One worker's push as the server receives it.
struct Receiver<B: Backend> {
    /// Positions of the worker's rows among the updated rows.
    positions: B::Index,
    /// `weight · message` when the weight is not 1.
    scaled: Option<B::Matrix>,
    weight: f32,
}

pub struct EmbeddingTable<B: Backend> {
    settings: EmbeddingSettings,
    table: B::Matrix,
    state: Vec<B::Matrix>,
    state_init: Vec<f32>,
    step: u32,
    /// Per row: the round of its last update, or of its (re-)initialization (0 = the start).
    last_touch: Vec<u32>,
    /// Per row: how many times it was re-initialized (its init stream).
    generation: Vec<u32>,
    /// Rows pulled by some worker.
    pulled: Vec<bool>,
    /// Per worker, with a push: where its rows go.
    receivers: Vec<Option<Receiver<B>>>,
    /// The rows pushed by any worker, ascending, and compact buffers of that many rows.
    updated: Vec<u32>,
    updated_index: Option<B::Index>,
    grad: Option<B::Matrix>,
    rows: Option<B::Matrix>,
    rows_state: Vec<B::Matrix>,
    /// Per worker: rows pulled and pushed every round (fixed by the partitioning).
    pulled_per_worker: Vec<u64>,
    pushed_per_worker: Vec<u64>,
}

/// N(0, 1/D) values of `rows` at their generations: Box–Muller on two counter-based uniforms per
/// value, so every backend and every resume get the same bits.
pub fn initial_rows(seed: u64, dim: usize, rows: &[u32], generations: &[u32]) -> HostMatrix {
    let sigma = 1.0 / (dim as f64).sqrt();
    let mut data = Vec::with_capacity(rows.len() * dim);
    for (&row, &generation) in rows.iter().zip(generations) {
        let stream = MaskKey { seed, epoch: generation, layer: INIT_STREAM }.stream();
        for c in 0..dim as u32 {
            let u1 = mask_uniform(stream, row, 2 * c) as f64;
            let u2 = mask_uniform(stream, row, 2 * c + 1) as f64;
            // 1 − u1 ∈ (0, 1]: the logarithm is finite.
            let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            data.push((sigma * z) as f32);
        }
    }
    HostMatrix::from_vec(rows.len(), dim, data)
}

impl<B: Backend> EmbeddingTable<B> {
    pub fn new(
        b: &B,
        settings: EmbeddingSettings,
        num_nodes: usize,
        workers: &[WorkerRows],
    ) -> Result<Self, BackendError> {
        let d = settings.dim;
        let all: Vec<u32> = (0..num_nodes as u32).collect();
        let table = b.upload(
            &initial_rows(settings.seed, d, &all, &vec![0; num_nodes]),
            MemCategory::Embeddings,
            "ps/embedding_table",
        )?;
        let layout = state_layout(&settings.optimizer);
        let state = layout
            .iter()
            .map(|&(name, init)| {
                filled(b, num_nodes, d, init, MemCategory::EmbeddingState, &format!("ps/embedding_{name}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut pulled = vec![false; num_nodes];
        let mut pushed = vec![false; num_nodes];
        for w in workers {
            for &r in w.pulled {
                pulled[r as usize] = true;
            }
            for &r in w.pushed {
                pushed[r as usize] = true;
            }
        }
        let updated: Vec<u32> = (0..num_nodes as u32).filter(|&r| pushed[r as usize]).collect();
        let mut position = vec![u32::MAX; num_nodes];
        for (k, &r) in updated.iter().enumerate() {
            position[r as usize] = k as u32;
        }
        let receivers = workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if w.pushed.is_empty() {
                    return Ok(None);
                }
                let positions: Vec<u32> = w.pushed.iter().map(|&r| position[r as usize]).collect();
                let label = format!("ps/embedding_push_positions{i}");
                let positions = b.upload_index(&positions, MemCategory::Embeddings, &label)?;
                let scaled = if w.weight == 1.0 {
                    None
                } else {
                    Some(b.alloc(w.pushed.len(), d, MemCategory::Gradients, &format!("ps/embedding_received{i}"))?)
                };
                Ok(Some(Receiver { positions, scaled, weight: w.weight }))
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        let k = updated.len();
        let (updated_index, grad, rows, rows_state) = if k == 0 {
            (None, None, None, Vec::new())
        } else {
            let rows_state = layout
                .iter()
                .map(|&(name, _)| b.alloc(k, d, MemCategory::EmbeddingState, &format!("ps/embedding_updated_{name}")))
                .collect::<Result<Vec<_>, _>>()?;
            (
                Some(b.upload_index(&updated, MemCategory::Embeddings, "ps/embedding_updated_rows")?),
                Some(b.alloc(k, d, MemCategory::Gradients, "ps/embedding_grad")?),
                Some(b.alloc(k, d, MemCategory::Embeddings, "ps/embedding_updated")?),
                rows_state,
            )
        };
        Ok(Self {
            table,
            state,
            state_init: layout.iter().map(|&(_, init)| init).collect(),
            step: 0,
            last_touch: vec![0; num_nodes],
            generation: vec![0; num_nodes],
            pulled,
            receivers,
            updated,
            updated_index,
            grad,
            rows,
            rows_state,
            pulled_per_worker: workers.iter().map(|w| w.pulled.len() as u64).collect(),
            pushed_per_worker: workers.iter().map(|w| w.pushed.len() as u64).collect(),
            settings,
        })
    }

    /// Bytes [`Self::new`] allocates, at most, for `num_nodes` rows of which `updated` are pushed
    /// by someone, the workers pushing `pushed` rows in all: exact when every worker's weight
    /// is 1 but for the scaled receive buffers, counted as if every worker needed one.
    pub fn device_bytes(settings: &EmbeddingSettings, num_nodes: usize, updated: usize, pushed: usize) -> u128 {
        let (d, slots) = (settings.dim as u128, state_layout(&settings.optimizer).len() as u128);
        let (n, k) = (num_nodes as u128, updated as u128);
        4 * ((1 + slots) * n * d + (2 + slots) * k * d + k + pushed as u128 * (d + 1))
    }

    /// The table, for the workers' pulls.
    pub fn table(&self) -> &B::Matrix {
        &self.table
    }

    /// Bytes worker `i` pulls and pushes each round.
    pub fn pull_bytes(&self, i: usize) -> u64 {
        4 * self.settings.dim as u64 * self.pulled_per_worker[i]
    }

    pub fn push_bytes(&self, i: usize) -> u64 {
        4 * (self.settings.dim as u64 + 1) * self.pushed_per_worker[i]
    }

    /// Evicts the rows no push updated in the last `prune_after` rounds before round `epoch`
    /// (1-based) and re-initializes those this round pulls; returns how many.
    pub fn begin_round(&mut self, b: &B, epoch: u32) -> Result<u64, BackendError> {
        let Some(k) = self.settings.prune_after else { return Ok(0) };
        let before = epoch.saturating_sub(1);
        let evicted: Vec<u32> = (0..self.last_touch.len() as u32)
            .filter(|&r| self.pulled[r as usize] && before - self.last_touch[r as usize].min(before) >= k)
            .collect();
        if evicted.is_empty() {
            return Ok(0);
        }
        for &r in &evicted {
            self.generation[r as usize] += 1;
            self.last_touch[r as usize] = before;
        }
        let generations: Vec<u32> = evicted.iter().map(|&r| self.generation[r as usize]).collect();
        let d = self.settings.dim;
        let index = b.upload_index(&evicted, MemCategory::Staging, "ps/embedding_evicted")?;
        let fresh = b.upload(
            &initial_rows(self.settings.seed, d, &evicted, &generations),
            MemCategory::Staging,
            "ps/embedding_fresh",
        )?;
        b.scatter_rows(&fresh, 0, &index, &mut self.table);
        for (slot, &init) in self.state.iter_mut().zip(&self.state_init) {
            let reset = filled(b, evicted.len(), d, init, MemCategory::Staging, "ps/embedding_fresh_state")?;
            b.scatter_rows(&reset, 0, &index, slot);
        }
        // The staging buffers are freed here: the GPU keeps them alive until the work is done.
        Ok(evicted.len() as u64)
    }

    /// One lazy step on the pushed rows at learning rate `lr`: `pushes[i]` is worker i's push
    /// message (`None` for a worker that pushes nothing), marks them touched in round `epoch`.
    pub fn apply(&mut self, b: &B, pushes: &[Option<&B::Matrix>], lr: f32, epoch: u32) {
        assert_eq!(pushes.len(), self.receivers.len(), "embedding apply: one push per worker");
        self.step += 1;
        let step = self.kernel_step(lr);
        let (Some(grad), Some(rows), Some(index)) =
            (self.grad.as_mut(), self.rows.as_mut(), self.updated_index.as_ref())
        else {
            return;
        };
        b.attribute(None);
        b.zero(grad);
        for (push, receiver) in pushes.iter().zip(self.receivers.iter_mut()) {
            match (push, receiver) {
                (Some(message), Some(r)) => {
                    let received = match r.scaled.as_mut() {
                        Some(scaled) => {
                            b.weighted_sum(&[message], &[r.weight], ReduceOrder::Flat, scaled);
                            &*scaled
                        }
                        None => message,
                    };
                    b.scatter_add_rows(received, 0, &r.positions, grad);
                }
                (None, None) => {}
                _ => panic!("embedding apply: a worker's push does not match its rows"),
            }
        }
        b.gather_rows(&self.table, index, rows, 0);
        for (compact, slot) in self.rows_state.iter_mut().zip(&self.state) {
            b.gather_rows(slot, index, compact, 0);
        }
        b.optimizer_step(rows, grad, &mut self.rows_state, &step);
        b.scatter_rows(rows, 0, index, &mut self.table);
        for (compact, slot) in self.rows_state.iter().zip(self.state.iter_mut()) {
            b.scatter_rows(compact, 0, index, slot);
        }
        for &r in &self.updated {
            self.last_touch[r as usize] = epoch;
        }
    }

    fn kernel_step(&self, lr: f32) -> OptimizerStep {
        kernel_step(&self.settings.optimizer, lr, self.settings.decay, self.step.max(1))
    }

    /// The server's work in [`Self::apply`] (the roofline's count).
    pub fn update_cost(&self) -> KernelCost {
        let (k, d) = (self.updated.len(), self.settings.dim);
        if k == 0 {
            return KernelCost::default();
        }
        let pushed: usize = self.pushed_per_worker.iter().sum::<u64>() as usize;
        let slots = self.rows_state.len();
        // Values and state gathered, then scattered back.
        let moves = KernelCost::copy(2 * (1 + slots) * k * d);
        let sum = KernelCost::elementwise(pushed * d, 2, 1, 1.0) + KernelCost::copy(k * d);
        moves + sum + KernelCost::optimizer_step(k * d, &self.kernel_step(1.0))
    }

    /// This round's counts, `pruned` rows re-initialized at its start.
    pub fn counts(&self, pruned: u64) -> EmbeddingCounts {
        let pulled_rows: u64 = self.pulled_per_worker.iter().sum();
        let pushed_rows: u64 = self.pushed_per_worker.iter().sum();
        let d = self.settings.dim as u64;
        EmbeddingCounts {
            pulled_rows,
            pull_bytes: 4 * d * pulled_rows,
            pushed_rows,
            push_bytes: 4 * (d + 1) * pushed_rows,
            updated_rows: self.updated.len() as u64,
            pruned_rows: pruned,
        }
    }

    /// Rows with their last update (or initialization) in round `round`, for tests and reports.
    pub fn last_touch(&self) -> &[u32] {
        &self.last_touch
    }

    pub fn generation(&self) -> &[u32] {
        &self.generation
    }

    pub fn save(&self, b: &B) -> Result<EmbeddingState, BackendError> {
        Ok(EmbeddingState {
            table: b.download(&self.table)?,
            slots: download_all(b, &self.state)?,
            step: self.step,
            last_touch: self.last_touch.clone(),
            generation: self.generation.clone(),
        })
    }

    pub fn restore(&mut self, b: &B, s: &EmbeddingState) -> Result<(), RestoreError> {
        let n = self.last_touch.len();
        if s.last_touch.len() != n || s.generation.len() != n {
            let what = "embedding rows' bookkeeping".to_string();
            return Err(RestoreError::Count { what, expected: n, got: s.last_touch.len().min(s.generation.len()) });
        }
        overwrite(b, &mut self.table, &s.table, "embedding table")?;
        overwrite_all(b, &mut self.state, &s.slots, "embedding optimizer state")?;
        self.step = s.step;
        self.last_touch.clone_from(&s.last_touch);
        self.generation.clone_from(&s.generation);
        Ok(())
    }
}

/// A rows × cols matrix of `value` (zeros without an upload).
fn filled<B: Backend>(
    b: &B,
    rows: usize,
    cols: usize,
    value: f32,
    category: MemCategory,
    label: &str,
) -> Result<B::Matrix, BackendError> {
    if value == 0.0 {
        b.alloc(rows, cols, category, label)
    } else {
        b.upload(&HostMatrix::from_vec(rows, cols, vec![value; rows * cols]), category, label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::ps::OptimizerKind;

    const N: usize = 10;
    const D: usize = 3;

    fn settings(kind: OptimizerKind, prune_after: Option<u32>) -> EmbeddingSettings {
        EmbeddingSettings { dim: D, seed: 7, optimizer: kind.into(), decay: 0.01, prune_after }
    }

    fn message(b: &CpuBackend, rows: usize, base: f32) -> crate::backend::cpu::CpuMatrix {
        let data = (0..rows * D).map(|i| base + 0.1 * i as f32 - 0.25).collect();
        b.upload(&HostMatrix::from_vec(rows, D, data), MemCategory::Gradients, "push").unwrap()
    }

    /// Worker 0 pushes rows 1, 3, 5 (weight 1), worker 1 rows 5, 8 (weight `w1`); row 5 gets
    /// the sum. Only those rows change, each exactly as the dense kernel steps it alone.
    fn lazy_step(kind: OptimizerKind, w1: f32) {
        let b = CpuBackend::new();
        let pulled: Vec<u32> = (0..N as u32).collect();
        let workers = [
            WorkerRows { pulled: &pulled[..6], pushed: &[1, 3, 5], weight: 1.0 },
            WorkerRows { pulled: &pulled[5..], pushed: &[5, 8], weight: w1 },
        ];
        let mut t = EmbeddingTable::new(&b, settings(kind, None), N, &workers).unwrap();
        let before = b.download(t.table()).unwrap();
        let (m0, m1) = (message(&b, 3, 0.0), message(&b, 2, 1.0));
        for round in 1..=2 {
            let start = b.download(t.table()).unwrap();
            let state_start: Vec<HostMatrix> = t.state.iter().map(|s| b.download(s).unwrap()).collect();
            t.apply(&b, &[Some(&m0), Some(&m1)], 0.1, round);
            let after = b.download(t.table()).unwrap();
            let (h0, h1) = (b.download(&m0).unwrap(), b.download(&m1).unwrap());
            for r in 0..N {
                let grad: Option<Vec<f32>> = match r {
                    1 | 3 => Some(h0.row([1, 3].iter().position(|&x| x == r).unwrap()).to_vec()),
                    5 => Some((0..D).map(|c| 0.0 + h0.row(2)[c] + w1 * h1.row(0)[c]).collect()),
                    8 => Some((0..D).map(|c| 0.0 + w1 * h1.row(1)[c]).collect()),
                    _ => None,
                };
                let Some(grad) = grad else {
                    assert_eq!(after.row(r), start.row(r), "{kind:?}: row {r} was not pushed but changed");
                    continue;
                };
                let mut p =
                    b.upload(&HostMatrix::from_vec(1, D, start.row(r).to_vec()), MemCategory::Weights, "p").unwrap();
                let g = b.upload(&HostMatrix::from_vec(1, D, grad), MemCategory::Gradients, "g").unwrap();
                let mut s: Vec<_> = state_start
                    .iter()
                    .map(|m| {
                        b.upload(&HostMatrix::from_vec(1, D, m.row(r).to_vec()), MemCategory::OptimizerState, "s")
                            .unwrap()
                    })
                    .collect();
                b.optimizer_step(&mut p, &g, &mut s, &t.kernel_step(0.1));
                let want = b.download(&p).unwrap();
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(after.row(r)), bits(&want.data), "{kind:?} round {round}: row {r}");
                assert_ne!(after.row(r), before.row(r), "{kind:?}: pushed row {r} did not move");
            }
        }
        assert_eq!(t.counts(0).updated_rows, 4);
        assert_eq!(t.last_touch(), &[0, 2, 0, 2, 0, 2, 0, 0, 2, 0]);
    }

    #[test]
    fn lazy_updates_step_only_pushed_rows() {
        for kind in [OptimizerKind::Adam, OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::Ftrl] {
            lazy_step(kind, 1.0);
        }
        // A weighted aggregate (no exchange): the server scales the push it receives.
        lazy_step(OptimizerKind::Momentum, 0.25);
    }

    /// Row 1 is pushed every round, the others never: with K = 3 they are evicted and
    /// re-initialized at rounds 4 and 7 (fresh values of the next generation, optimizer state
    /// back to its initial value), row 1 never.
    #[test]
    fn untouched_rows_are_pruned_after_k_epochs() {
        let b = CpuBackend::new();
        let pulled: Vec<u32> = (0..N as u32).collect();
        let workers = [WorkerRows { pulled: &pulled, pushed: &[1], weight: 1.0 }];
        let mut t = EmbeddingTable::new(&b, settings(OptimizerKind::Adagrad, Some(3)), N, &workers).unwrap();
        let m = message(&b, 1, 0.5);
        let initial = b.download(t.table()).unwrap();
        assert_eq!(initial, initial_rows(7, D, &pulled, &[0; N]));
        let mut pruned_at = Vec::new();
        for round in 1..=8 {
            let pruned = t.begin_round(&b, round).unwrap();
            if pruned > 0 {
                assert_eq!(pruned, N as u64 - 1, "round {round}");
                pruned_at.push(round);
                let table = b.download(t.table()).unwrap();
                let generation = pruned_at.len() as u32;
                let fresh = initial_rows(7, D, &[0, 9], &[generation, generation]);
                assert_eq!((table.row(0), table.row(9)), (fresh.row(0), fresh.row(1)), "round {round}");
                assert_ne!(table.row(0), initial.row(0));
                let acc = b.download(&t.state[0]).unwrap();
                assert!(
                    acc.data.iter().enumerate().all(|(i, &a)| (i / D == 1) != (a == 0.1)),
                    "round {round}: {acc:?}"
                );
            }
            t.apply(&b, &[Some(&m)], 0.1, round);
        }
        assert_eq!(pruned_at, vec![4, 7]);
        assert_eq!(t.generation()[1], 0);
        assert!(t.generation().iter().enumerate().all(|(r, &g)| r == 1 || g == 2));
    }

    #[test]
    fn initial_rows_are_normal_with_variance_one_over_d() {
        let rows: Vec<u32> = (0..4000).collect();
        let m = initial_rows(3, 16, &rows, &vec![0; 4000]);
        let n = m.data.len() as f64;
        let mean = m.data.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = m.data.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.005 && (var * 16.0 - 1.0).abs() < 0.03, "mean {mean}, variance × D {}", var * 16.0);
        assert_ne!(initial_rows(3, 16, &[5], &[1]), initial_rows(3, 16, &[5], &[0]), "generations differ");
    }
}
