//! The epoch loop: workers compute gradients from the published weight version, the BSP
//! barrier collects them, the PS reduces them on the device, steps the optimizer, publishes the
//! next version and releases the old one. One epoch is one submission; the only readback is the
//! small stats buffer.

use std::time::Instant;

use super::config::RunConfig;
use super::problem::Problem;
use super::record::{EpochRecord, RunOutcome};
use crate::backend::{stat, Backend, BackendError, MemCategory, STATS_WIDTH};
use crate::model::{glorot_uniform, PartitionedGcn};
use crate::ps::{BspBarrier, EventKind, EventLog, Optimizer, PsError, WeightStore};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] super::ConfigError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Protocol(#[from] PsError),
    #[error(transparent)]
    Partition(#[from] crate::graph::partition::PartitionError),
    #[error(transparent)]
    TooLarge(#[from] crate::graph::csr::TooLarge),
    #[error(transparent)]
    Memory(#[from] super::budget::MemoryError),
    #[error("training diverged at epoch {epoch}: the training loss is {loss}")]
    Diverged { epoch: u32, loss: f64 },
}

/// Runs the whole training. `on_epoch` sees every record as it is made (progress bars, traces).
pub fn run<B: Backend>(
    b: &B,
    problem: &Problem,
    cfg: &RunConfig,
    events: &mut EventLog,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(Vec<EpochRecord>, RunOutcome), SimError> {
    cfg.validate()?;
    let t = &cfg.train;
    let p = problem.locals.len();
    let par = &cfg.parallel;
    super::budget::check(problem, cfg, super::budget::device_bytes::<B>(problem, par.boundary), b.memory_budget())?;
    let mut model = PartitionedGcn::new(b, problem, par.boundary, t.dropout)?;
    let init = glorot_uniform(&problem.shape, t.seed);
    let mut store = WeightStore::new(b, &init, cfg.parallel.keep_versions)?;
    let layer_decay: Vec<f32> = (0..t.layers).map(|l| if l == 0 { t.weight_decay } else { 0.0 }).collect();
    let mut optimizer = Optimizer::new(b, t.optimizer, t.lr, layer_decay, store.master())?;
    let mut aggregated = init
        .iter()
        .enumerate()
        .map(|(l, w)| b.alloc(w.rows, w.cols, MemCategory::Gradients, &format!("ps/aggregated_dW{l}")))
        .collect::<Result<Vec<_>, _>>()?;
    let train_counts: Vec<usize> = model.workers.iter().map(|w| w.num_train()).collect();
    let (grad_scales, agg_weights) = par.aggregate.loss_weighting(&train_counts, model.trains_with_exchange());
    // Slots: 2p = worker p's training pass, 2p+1 its evaluation pass; 2P, 2P+1 = ‖W0‖² of the
    // version trained from and of the next one.
    let mut stats = b.alloc_stats(2 * p + 2, "ps/stats")?;
    let mut barrier = BspBarrier::new(p, 0);
    let set_bytes = store.set_bytes();

    let v0 = store.publish(b)?;
    events.push(0, EventKind::Publish, v0, None, format!("{} bytes to {p} workers", set_bytes));

    let mut records: Vec<EpochRecord> = Vec::new();
    let mut pair_bytes = vec![vec![0u64; p]; p];
    let row_bytes: u64 = problem.shape.layer_dims().iter().map(|&(_, w)| 2 * 4 * w as u64).sum();
    let mut stopped_early = false;
    for e in 0..t.epochs as u32 {
        let started = Instant::now();
        b.memory().reset_peak();
        let epoch = e + 1;
        let (version, weights) = store.current();
        let all: Vec<&[B::Matrix]> = vec![weights; p];
        model.train(b, &all, t.seed, e, par.sample_rate, &grad_scales, &mut stats, |i| 2 * i);
        let traffic = model.traffic(problem, t.seed, e, par.sample_rate);
        for (i, w) in model.workers.iter().enumerate() {
            barrier.arrive(i, version)?;
            let (owned, held) = (problem.locals[i].num_owned, w.num_rows() + w.boundary_len());
            let received: u64 = traffic.rows.iter().map(|r| r[i]).sum();
            let detail = if model.trains_with_exchange() {
                format!("{owned} owned + {received} boundary rows received per layer, {} training", w.num_train())
            } else {
                format!("{owned} owned + {} halo nodes, {} training", held - owned, w.num_train())
            };
            events.push(epoch, EventKind::Compute, version, Some(i), detail);
        }
        for (q, row) in traffic.rows.iter().enumerate() {
            for (dst, r) in row.iter().enumerate() {
                pair_bytes[q][dst] += r * row_bytes;
            }
        }
        b.sum_squares(&weights[0], &mut stats, 2 * p);
        barrier.advance()?;
        for (l, out) in aggregated.iter_mut().enumerate() {
            let grads: Vec<&B::Matrix> = model.workers.iter().map(|w| &w.weight_grads()[l]).collect();
            b.weighted_sum(&grads, &agg_weights, cfg.parallel.reduce, out);
        }
        events.push(
            epoch,
            EventKind::Aggregate,
            version,
            None,
            format!("{:?} over {p} gradients, {:?} order", cfg.parallel.aggregate, cfg.parallel.reduce).to_lowercase(),
        );
        optimizer.step(b, store.master_mut(), &aggregated);
        events.push(epoch, EventKind::Update, version, None, format!("{:?}", t.optimizer).to_lowercase());
        let next = store.publish(b)?;
        events.push(epoch, EventKind::Publish, next, None, format!("{set_bytes} bytes to {p} workers"));
        for released in store.release_older_than(next) {
            events.push(epoch, EventKind::Release, released, None, format!("{set_bytes} bytes"));
        }
        let (_, next_weights) = store.current();
        model.evaluate(b, next_weights, par.eval, &mut stats, |i| 2 * i + 1);
        b.sum_squares(&next_weights[0], &mut stats, 2 * p + 1);
        let values = b.read_stats(&stats)?;

        let mut record = epoch_record(&values, p, t.weight_decay, epoch, version, b, &store, problem, e == 0, started);
        record.comm_boundary_forward = traffic.forward;
        record.comm_boundary_backward = traffic.backward;
        if !record.train_loss.is_finite() {
            return Err(SimError::Diverged { epoch, loss: record.train_loss });
        }
        on_epoch(&record);
        records.push(record);
        if let Some(window) = t.early_stopping {
            if kipf_early_stop(&records, window) {
                stopped_early = true;
                break;
            }
        }
    }
    let mut outcome = RunOutcome::from_records(&records, stopped_early);
    let epochs = records.len().max(1) as f64;
    outcome.exchange_bytes_per_epoch =
        pair_bytes.iter().map(|row| row.iter().map(|&v| v as f64 / epochs).collect()).collect();
    Ok((records, outcome))
}

/// Kipf's rule: after `window` epochs, stop when the validation loss exceeds the mean of the
/// previous `window` epochs.
fn kipf_early_stop(records: &[EpochRecord], window: usize) -> bool {
    let n = records.len();
    if n <= window {
        return false;
    }
    let previous = &records[n - 1 - window..n - 1];
    let mean = previous.iter().map(|r| r.valid_loss).sum::<f64>() / window as f64;
    records[n - 1].valid_loss > mean
}

#[allow(clippy::too_many_arguments)]
fn epoch_record<B: Backend>(
    values: &[f32],
    p: usize,
    weight_decay: f32,
    epoch: u32,
    version: u64,
    b: &B,
    store: &WeightStore<B>,
    problem: &Problem,
    first: bool,
    started: Instant,
) -> EpochRecord {
    // Sum the workers' slots in worker order (fixed, so deterministic).
    let sum = |pass: usize, offset: usize| -> f64 {
        (0..p).map(|i| values[(2 * i + pass) * STATS_WIDTH + offset] as f64).sum()
    };
    let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
    let decay = |slot: usize| 0.5 * weight_decay as f64 * values[slot * STATS_WIDTH + stat::AUX] as f64;
    let set_bytes = store.set_bytes();
    EpochRecord {
        epoch,
        version,
        train_loss: ratio(sum(0, stat::TRAIN + stat::LOSS), sum(0, stat::TRAIN + stat::COUNT)) + decay(2 * p),
        train_acc: ratio(sum(0, stat::TRAIN + stat::CORRECT), sum(0, stat::TRAIN + stat::COUNT)),
        valid_loss: ratio(sum(1, stat::VALID + stat::LOSS), sum(1, stat::VALID + stat::COUNT)) + decay(2 * p + 1),
        valid_acc: ratio(sum(1, stat::VALID + stat::CORRECT), sum(1, stat::VALID + stat::COUNT)),
        test_loss: ratio(sum(1, stat::TEST + stat::LOSS), sum(1, stat::TEST + stat::COUNT)),
        test_acc: ratio(sum(1, stat::TEST + stat::CORRECT), sum(1, stat::TEST + stat::COUNT)),
        memory: b.memory().snapshot(),
        comm_broadcast_bytes: p as u64 * set_bytes,
        comm_gradient_bytes: p as u64 * set_bytes,
        comm_halo_bytes: if first { problem.halo_feature_bytes() } else { 0 },
        comm_boundary_forward: Vec::new(),
        comm_boundary_backward: Vec::new(),
        live_versions: store.live_versions().len(),
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::MemorySnapshot;
    use crate::data::DatasetSpec;
    use crate::ps::OptimizerKind;

    fn record(epoch: u32, valid_loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            version: epoch as u64 - 1,
            train_loss: 1.0,
            train_acc: 0.0,
            valid_loss,
            valid_acc: 0.0,
            test_loss: 0.0,
            test_acc: 0.0,
            memory: MemorySnapshot::default(),
            comm_broadcast_bytes: 0,
            comm_gradient_bytes: 0,
            comm_halo_bytes: 0,
            comm_boundary_forward: Vec::new(),
            comm_boundary_backward: Vec::new(),
            live_versions: 1,
            wall_ms: 0.0,
        }
    }

    #[test]
    fn kipf_early_stopping_rule() {
        // Falling validation loss: never stop.
        let falling: Vec<EpochRecord> = (1..=30).map(|e| record(e, 2.0 - e as f64 * 0.01)).collect();
        assert!((11..=30).all(|n| !kipf_early_stop(&falling[..n], 10)));
        // Not before the window is full, even if the loss jumps.
        let mut jump: Vec<EpochRecord> = (1..=10).map(|e| record(e, 1.0)).collect();
        jump.push(record(11, 1.0));
        assert!(!kipf_early_stop(&jump[..10], 10));
        // Above the mean of the previous 10: stop.
        jump.push(record(12, 1.01));
        assert!(kipf_early_stop(&jump, 10));
    }

    #[test]
    fn early_stopping_ends_a_run_and_sgd_trains() {
        let ds = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
        let mut cfg = RunConfig::default();
        cfg.train.epochs = 300;
        cfg.train.early_stopping = Some(10);
        let problem = super::super::prepare(&ds, &cfg).unwrap();
        let (records, outcome) =
            run(&CpuBackend::new(), &problem, &cfg, &mut EventLog::default(), &mut |_| {}).unwrap();
        assert!(outcome.stopped_early && records.len() < 300, "ran {} epochs", records.len());
        assert!(kipf_early_stop(&records, 10));

        cfg.train.early_stopping = None;
        cfg.train.epochs = 100;
        cfg.train.optimizer = OptimizerKind::Sgd;
        cfg.train.lr = 0.5;
        let (records, outcome) =
            run(&CpuBackend::new(), &problem, &cfg, &mut EventLog::default(), &mut |_| {}).unwrap();
        assert!(records.last().unwrap().train_loss < 0.8 * records[0].train_loss, "SGD did not reduce the loss");
        assert!(outcome.final_test_acc > 0.6, "SGD test accuracy {} (chance 0.2)", outcome.final_test_acc);
    }
}
