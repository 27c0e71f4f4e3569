//! The gradient push and the weight pull as the workers and the server see them, over the
//! backend's codec ops.
//!
//! [`PushEncoder`] is the workers' side of `--compress-push`: each worker encodes each of its
//! parameter matrices' gradients on its own device, and the server receives what the encoded
//! message decodes to (the fused ops compute `decode(encode(v))`, see
//! [`crate::backend::compress`]). Per tensor, as GRACE and BytePS compress:
//! - a row codec (fp16, top-k, rand-k, QSGD, signSGD) sees the matrix flattened into one row of
//!   rows·cols values, keyed by the worker id (the row id of its random draws), the round's clock
//!   and the matrix's index, so the per-row norm, scale and k are the matrix's;
//! - PowerSGD works on the matrix itself with a Q per worker and matrix, warm-started from
//!   [`powersgd_initial_q`] and kept from round to round; a matrix with min(rows, cols) ≤ rank
//!   travels uncompressed, as PyTorch's hook leaves it;
//! - with `ef`, each worker keeps a residual per matrix (Karimireddy et al. 2019).
//!
//! The worker's state (residuals, Q) is allocated as [`MemCategory::OptimizerState`]: it is the
//! worker's half of an error-feedback optimizer. Compression happens on the worker, before
//! anything the server does: a Byzantine worker's attack (`ps::robust`) edits the decoded
//! gradient at the server, after this.
//!
//! [`WeightPull`] is `--compress-pull fp16`: the server keeps fp32 master weights and every
//! worker computes from their fp16-rounded copy.

use crate::backend::compress::{codec_stream, powersgd_initial_q, CodecStream, CompressStep, RowCodec};
use crate::backend::{stat, Backend, BackendError, MemCategory, ReduceOrder, Shape, STATS_WIDTH};
use crate::rng::MaskKey;
use crate::tensor::HostMatrix;

use super::spec::{PullCompression, PushCodec, PushCompression};

/// How one parameter matrix travels.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    /// Flattened into one row for a row codec.
    Rows(RowCodec),
    /// PowerSGD at this rank.
    PowerSgd(usize),
    /// Plain f32 (no codec, or PowerSGD's small matrices).
    Plain,
}

/// One worker's state for one parameter matrix.
struct Slot<B: Backend> {
    /// The error-feedback residual (the matrix's shape; flattened for row codecs).
    residual: Option<B::Matrix>,
    /// PowerSGD's Q (cols × rank), warm from the previous round.
    q: Option<B::Matrix>,
}

/// Server-side scratch of one parameter matrix, shared by the workers' encodes in turn.
struct Scratch<B: Backend> {
    /// The gradient flattened, and the decoded row (row codecs).
    flat_in: Option<B::Matrix>,
    flat_out: Option<B::Matrix>,
    /// PowerSGD's P (rows × rank).
    p: Option<B::Matrix>,
    /// decoded − original, for the relative error.
    diff: B::Matrix,
}

/// The workers' encoders of `--compress-push` (see the module's doc).
pub struct PushEncoder<B: Backend> {
    spec: PushCompression,
    seed: u64,
    shapes: Vec<(usize, usize)>,
    routes: Vec<Route>,
    /// `state[worker][matrix]`.
    state: Vec<Vec<Slot<B>>>,
    scratch: Vec<Scratch<B>>,
    /// Per worker, its id (the row id of its draws).
    ids: Vec<B::Index>,
    /// Per worker and matrix, two stats slots: ‖decoded − original‖² and ‖original‖².
    stats: B::Stats,
    /// Workers whose stats slots hold sums not yet read.
    staged: Vec<bool>,
    /// Σ‖decoded − original‖² and Σ‖original‖² read since the last [`Self::take_rel_error`].
    sums: (f64, f64),
    /// With `keep_sets`: per worker, the decoded set the server holds ([`Self::encode_set`]).
    sets: Vec<Vec<B::Matrix>>,
}

impl<B: Backend> PushEncoder<B> {
    /// Encoders for `workers` workers pushing matrices of `shapes`; `seed` is the run's. With
    /// `keep_sets`, a decoded set per worker for [`Self::encode_set`] (BSP, where the server
    /// holds every worker's gradient of the round at once).
    pub fn new(
        b: &B,
        spec: PushCompression,
        shapes: &[(usize, usize)],
        workers: usize,
        seed: u64,
        keep_sets: bool,
    ) -> Result<Self, BackendError> {
        let routes: Vec<Route> = shapes.iter().map(|&(r, c)| route(&spec, r, c)).collect();
        let mut state = Vec::with_capacity(workers);
        for w in 0..workers {
            let mut slots = Vec::with_capacity(shapes.len());
            for (l, (&(rows, cols), route)) in shapes.iter().zip(&routes).enumerate() {
                let label = |what: &str| format!("worker{w}/push_{what}_dW{l}");
                let residual = match route {
                    Route::Plain => None,
                    Route::Rows(_) if spec.error_feedback => {
                        Some(b.alloc(1, rows * cols, MemCategory::OptimizerState, &label("residual"))?)
                    }
                    Route::PowerSgd(_) if spec.error_feedback => {
                        Some(b.alloc(rows, cols, MemCategory::OptimizerState, &label("residual"))?)
                    }
                    _ => None,
                };
                let q = match *route {
                    Route::PowerSgd(rank) => {
                        let q0 = powersgd_initial_q(seed, w as u32, l as u32, cols, rank);
                        let host = HostMatrix::from_vec(cols, rank, q0);
                        Some(b.upload(&host, MemCategory::OptimizerState, &label("powersgd_q"))?)
                    }
                    _ => None,
                };
                slots.push(Slot { residual, q });
            }
            state.push(slots);
        }
        let mut scratch = Vec::with_capacity(shapes.len());
        for (l, (&(rows, cols), route)) in shapes.iter().zip(&routes).enumerate() {
            let alloc = |r: usize, c: usize, what: &str| {
                b.alloc(r, c, MemCategory::Gradients, &format!("ps/push_{what}_dW{l}"))
            };
            let flat = matches!(route, Route::Rows(_));
            scratch.push(Scratch {
                flat_in: if flat { Some(alloc(1, rows * cols, "flat_in")?) } else { None },
                flat_out: if flat { Some(alloc(1, rows * cols, "flat_out")?) } else { None },
                p: match *route {
                    Route::PowerSgd(rank) => Some(alloc(rows, rank, "powersgd_p")?),
                    _ => None,
                },
                diff: alloc(rows, cols, "diff")?,
            });
        }
        let ids = (0..workers)
            .map(|w| b.upload_index(&[w as u32], MemCategory::Gradients, &format!("worker{w}/push_id")))
            .collect::<Result<Vec<_>, _>>()?;
        let stats = b.alloc_stats(2 * workers * shapes.len(), "ps/push_stats")?;
        let mut sets = Vec::new();
        for w in (0..workers).filter(|_| keep_sets) {
            let set = shapes
                .iter()
                .enumerate()
                .map(|(l, &(r, c))| b.alloc(r, c, MemCategory::Gradients, &format!("ps/push_decoded{w}/dW{l}")))
                .collect::<Result<Vec<_>, _>>()?;
            sets.push(set);
        }
        Ok(Self {
            spec,
            seed,
            shapes: shapes.to_vec(),
            routes,
            state,
            scratch,
            ids,
            stats,
            staged: vec![false; workers],
            sums: (0.0, 0.0),
            sets,
        })
    }

    /// Bytes of one worker's encoded gradient set on the wire.
    pub fn set_bytes(&self) -> u64 {
        encoded_set_bytes(&self.spec, &self.shapes)
    }

    /// Whether the encoders keep state between rounds (residuals or PowerSGD's Q).
    pub fn is_stateful(&self) -> bool {
        is_stateful(&self.spec)
    }

    /// Worker `worker` encodes its gradients `grads` of round `clock`; `out` receives what the
    /// server decodes. The codec kernels are charged to the worker (`b.attribute(Some(worker))`);
    /// the copies that flatten a matrix into a row and back are the simulator's layout (a
    /// kernel reads the matrix as one row in place), and the measurement of the relative error
    /// is the simulator's: both are charged to nobody's clock. The attribution is left at `None`.
    pub fn encode(
        &mut self,
        b: &B,
        worker: usize,
        grads: &[B::Matrix],
        clock: u32,
        out: &mut [B::Matrix],
    ) -> Result<(), BackendError> {
        assert!(grads.len() == self.shapes.len() && out.len() == self.shapes.len(), "push: one matrix per parameter");
        if self.staged[worker] {
            self.settle(b)?;
        }
        let key = |l: usize| MaskKey { seed: self.seed, epoch: clock, layer: l as u32 };
        for l in 0..self.shapes.len() {
            let (g, o) = (&grads[l], &mut out[l]);
            let len = g.len();
            let slot = &mut self.state[worker][l];
            let scratch = &mut self.scratch[l];
            b.attribute(None);
            match self.routes[l] {
                Route::Plain => b.copy(g, o),
                Route::Rows(codec) => {
                    let (x, y) =
                        (scratch.flat_in.as_mut().expect("row route"), scratch.flat_out.as_mut().expect("row"));
                    b.copy_region(g, 0, x, 0, len);
                    let step = CompressStep { codec, stream: codec_stream(key(l), CodecStream::Push) };
                    b.attribute(Some(worker));
                    b.compress_rows(x, &self.ids[worker], &step, slot.residual.as_mut(), y);
                    b.attribute(None);
                    b.copy_region(y, 0, o, 0, len);
                }
                Route::PowerSgd(_) => {
                    let (q, p) = (slot.q.as_mut().expect("powersgd route"), scratch.p.as_mut().expect("powersgd"));
                    b.attribute(Some(worker));
                    b.powersgd(g, q, p, slot.residual.as_mut(), o);
                }
            }
        }
        // The measurement: ‖decoded − original‖² and ‖original‖² of every matrix.
        b.attribute(None);
        for l in 0..self.shapes.len() {
            let base = 2 * (worker * self.shapes.len() + l);
            let diff = &mut self.scratch[l].diff;
            b.weighted_sum(&[&out[l], &grads[l]], &[1.0, -1.0], ReduceOrder::Flat, diff);
            b.sum_squares(diff, &mut self.stats, base);
            b.sum_squares(&grads[l], &mut self.stats, base + 1);
        }
        self.staged[worker] = true;
        Ok(())
    }

    /// [`Self::encode`] into the worker's own decoded set (see [`Self::sets`]).
    pub fn encode_set(&mut self, b: &B, worker: usize, grads: &[B::Matrix], clock: u32) -> Result<(), BackendError> {
        let mut sets = std::mem::take(&mut self.sets);
        let done = self.encode(b, worker, grads, clock, &mut sets[worker]);
        self.sets = sets;
        done
    }

    /// The decoded sets of [`Self::encode_set`], one per worker in order.
    pub fn sets(&self) -> Vec<&[B::Matrix]> {
        self.sets.iter().map(|s| s.as_slice()).collect()
    }

    /// Reads the staged sums into the running totals.
    fn settle(&mut self, b: &B) -> Result<(), BackendError> {
        if !self.staged.iter().any(|&s| s) {
            return Ok(());
        }
        let values = b.read_stats(&self.stats)?;
        let m = self.shapes.len();
        for (w, staged) in self.staged.iter_mut().enumerate() {
            if !std::mem::take(staged) {
                continue;
            }
            for l in 0..m {
                let base = 2 * (w * m + l);
                self.sums.0 += values[base * STATS_WIDTH + stat::AUX] as f64;
                self.sums.1 += values[(base + 1) * STATS_WIDTH + stat::AUX] as f64;
            }
        }
        Ok(())
    }

    /// ‖decoded − original‖ / ‖original‖ over every push encoded since the last call (the
    /// norms over all of them together; 0 when the originals are all zero), and resets.
    pub fn take_rel_error(&mut self, b: &B) -> Result<f64, BackendError> {
        self.settle(b)?;
        let (err, norm) = std::mem::take(&mut self.sums);
        Ok(if norm > 0.0 { (err.max(0.0) / norm).sqrt() } else { 0.0 })
    }
}

/// What the workers' encoders carry from round to round, for checkpoints: every residual and
/// every PowerSGD Q, in (worker, matrix) order, those that exist.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PushState {
    pub residuals: Vec<HostMatrix>,
    pub q: Vec<HostMatrix>,
}

impl<B: Backend> PushEncoder<B> {
    /// The state a checkpoint keeps (downloads from the device).
    pub fn save(&self, b: &B) -> Result<PushState, BackendError> {
        let mut state = PushState::default();
        for slot in self.state.iter().flatten() {
            if let Some(e) = &slot.residual {
                state.residuals.push(b.download(e)?);
            }
            if let Some(q) = &slot.q {
                state.q.push(b.download(q)?);
            }
        }
        Ok(state)
    }

    /// Puts a checkpoint's state in place; the counts and shapes must be this run's.
    pub fn restore(&mut self, b: &B, state: &PushState) -> Result<(), crate::backend::snapshot::RestoreError> {
        use crate::backend::snapshot::{overwrite, RestoreError};
        let (mut residuals, mut qs): (Vec<&mut B::Matrix>, Vec<&mut B::Matrix>) = (Vec::new(), Vec::new());
        for slot in self.state.iter_mut().flatten() {
            residuals.extend(slot.residual.as_mut());
            qs.extend(slot.q.as_mut());
        }
        for (what, dst, host) in
            [("push residuals", &mut residuals, &state.residuals), ("PowerSGD's Q", &mut qs, &state.q)]
        {
            if dst.len() != host.len() {
                return Err(RestoreError::Count { what: what.into(), expected: dst.len(), got: host.len() });
            }
            for (i, (d, h)) in dst.iter_mut().zip(host).enumerate() {
                overwrite(b, d, h, &format!("{what}[{i}]"))?;
            }
        }
        Ok(())
    }
}

/// How a `rows × cols` matrix travels under `spec`.
fn route(spec: &PushCompression, rows: usize, cols: usize) -> Route {
    match spec.codec {
        PushCodec::None => Route::Plain,
        PushCodec::PowerSgd { rank } if rows.min(cols) <= rank => Route::Plain,
        PushCodec::PowerSgd { rank } => Route::PowerSgd(rank),
        _ => spec.row_codec(rows * cols).map_or(Route::Plain, Route::Rows),
    }
}

/// Bytes of one worker's gradient set of matrices `shapes` on the wire under `spec`: each
/// matrix's `encoded_bytes` (a row codec's as one row of rows·cols; PowerSGD's small matrices
/// as plain f32).
pub fn encoded_set_bytes(spec: &PushCompression, shapes: &[(usize, usize)]) -> u64 {
    shapes
        .iter()
        .map(|&(r, c)| match route(spec, r, c) {
            Route::Plain => 4 * (r * c) as u64,
            Route::Rows(_) => spec.encoded_bytes(1, r * c),
            Route::PowerSgd(_) => spec.encoded_bytes(r, c),
        })
        .sum()
}

/// Whether `spec`'s encoders keep state between rounds (residuals, PowerSGD's Q).
pub fn is_stateful(spec: &PushCompression) -> bool {
    spec.error_feedback || matches!(spec.codec, PushCodec::PowerSgd { .. })
}

/// `--compress-pull fp16`: the copy of the weights the workers compute from.
pub struct WeightPull<B: Backend> {
    weights: Vec<B::Matrix>,
    /// Row ids for the fp16 op (it draws nothing; the op wants one per row).
    ids: B::Index,
}

impl<B: Backend> WeightPull<B> {
    /// `None` for `none`; else buffers for weights of `shapes`.
    pub fn new(b: &B, spec: PullCompression, shapes: &[(usize, usize)]) -> Result<Option<Self>, BackendError> {
        if spec.is_none() {
            return Ok(None);
        }
        let weights = shapes
            .iter()
            .enumerate()
            .map(|(l, &(r, c))| b.alloc(r, c, MemCategory::Weights, &format!("worker/pulled_W{l}")))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = shapes.iter().map(|s| s.0).max().unwrap_or(1).max(1);
        let ids = b.upload_index(&(0..rows as u32).collect::<Vec<_>>(), MemCategory::Weights, "worker/pulled_ids")?;
        Ok(Some(Self { weights, ids }))
    }

    /// The workers' copy of `master`: every value rounded to IEEE half (what an fp16 message
    /// decodes to). The server encodes once per version: charged to nobody's worker clock (the
    /// attribution is left at `None`).
    pub fn pull(&mut self, b: &B, master: &[B::Matrix]) -> &[B::Matrix] {
        b.attribute(None);
        let step = CompressStep { codec: RowCodec::Fp16, stream: 0 };
        for (w, out) in master.iter().zip(self.weights.iter_mut()) {
            b.compress_rows(w, &self.ids, &step, None, out);
        }
        &self.weights
    }
}

/// Bytes of one weight set of `shapes` pulled under `spec`.
pub fn pull_set_bytes(spec: &PullCompression, shapes: &[(usize, usize)]) -> u64 {
    shapes.iter().map(|&(r, c)| spec.encoded_bytes(r, c)).sum()
}
