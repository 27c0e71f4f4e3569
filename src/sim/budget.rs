//! Memory a run will need, estimated before anything is allocated: a run that cannot fit is an
//! error naming what to change, not an abort in the middle of an allocation.

use super::Boundary;
use super::{Problem, RunConfig};
use crate::model::{PartitionedModel, Workspace};

#[derive(Debug, thiserror::Error)]
#[error(
    "the run needs about {} of {where_} memory but {} is available: {hint}",
    human(*needed),
    human(*available as u128)
)]
pub struct MemoryError {
    pub needed: u128,
    pub available: u64,
    pub where_: &'static str,
    pub hint: String,
}

pub use crate::host::human;

/// Bytes the workers and the parameter server allocate on the backend's device.
pub fn device_bytes<B: crate::backend::Backend>(problem: &Problem, mode: Boundary) -> u128 {
    let sampling = mode == Boundary::Sample;
    let workers: u128 =
        problem.locals.iter().map(|g| Workspace::<B>::device_bytes(g, &problem.shape, sampling)).sum::<u128>()
            + problem
                .embedding_rows
                .iter()
                .map(|rows| Workspace::<B>::push_bytes(rows.len(), problem.shape.embedding_dim))
                .sum::<u128>();
    // Master copy, the published version, the aggregated gradient and Adam's two moments.
    workers + PartitionedModel::<B>::exchange_bytes(problem, mode) + 5 * parameter_bytes(problem)
}

/// Bytes of the server's embedding table (`ps::embedding`), 0 without embeddings.
pub fn embedding_bytes(problem: &Problem, settings: Option<&crate::ps::embedding::EmbeddingSettings>) -> u128 {
    let Some(settings) = settings else { return 0 };
    let num_nodes = problem.layout.order.len();
    let mut pushed = vec![false; num_nodes];
    for (g, rows) in problem.locals.iter().zip(&problem.embedding_rows) {
        for &r in rows {
            pushed[g.node_ids[r as usize] as usize] = true;
        }
    }
    let updated = pushed.iter().filter(|&&p| p).count();
    let total_pushed: usize = problem.embedding_rows.iter().map(|r| r.len()).sum();
    crate::ps::embedding::EmbeddingTable::<crate::backend::cpu::CpuBackend>::device_bytes(
        settings,
        num_nodes,
        updated,
        total_pushed,
    )
}

fn parameter_bytes(problem: &Problem) -> u128 {
    4 * problem.shape.parameter_count() as u128
}

/// Refuses a run whose device buffers exceed `device_budget` (when the backend knows it) or
/// whose initial weights exceed the host's available memory.
pub fn check(
    problem: &Problem,
    cfg: &RunConfig,
    device_needed: u128,
    device_budget: Option<u64>,
) -> Result<(), MemoryError> {
    let widths = format!(
        "activations are nodes × widths ({} nodes in all partitions, hidden {}, {} layers): lower `hidden` or `layers`, \
         or use a smaller graph",
        problem.locals.iter().map(|g| g.num_nodes()).sum::<usize>(),
        cfg.train.hidden,
        cfg.train.layers
    );
    // The host builds the initial weights (and the CPU backend keeps everything there).
    let host_needed = 2 * parameter_bytes(problem);
    if let Some(available) = host_available_bytes() {
        if host_needed > available as u128 {
            return Err(MemoryError {
                needed: host_needed,
                available,
                where_: "host",
                hint: format!(
                    "the weights alone are {} × {} and more: lower `hidden`",
                    problem.shape.in_features, cfg.train.hidden
                ),
            });
        }
    }
    if let Some(available) = device_budget {
        if device_needed > available as u128 {
            return Err(MemoryError { needed: device_needed, available, where_: "backend", hint: widths });
        }
    }
    Ok(())
}

pub use crate::host::available_bytes as host_available_bytes;

#[cfg(test)]
mod estimate_tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::{Backend, MemCategory};
    use crate::data::DatasetSpec;
    use crate::sim::RunConfig;

    /// The estimate is what the workers and the exchange really allocate, in every mode.
    #[test]
    fn device_bytes_is_what_a_partitioned_model_allocates() {
        let ds = "csbm:nodes=2000".parse::<DatasetSpec>().unwrap().load().unwrap();
        for mode in [Boundary::Exchange, Boundary::Replicate, Boundary::Drop, Boundary::Stale, Boundary::Sample] {
            let mut cfg = RunConfig::default();
            cfg.parallel.partitions = 3;
            cfg.parallel.boundary = mode;
            let problem = crate::sim::prepare(&ds, &cfg).unwrap();
            let b = CpuBackend::new();
            let model = PartitionedModel::new(&b, &problem, mode, 0.5).unwrap();
            let live = b.memory().snapshot();
            let workers_and_exchange = live.live_total() as u128;
            // device_bytes adds the server's five weight-sized sets on top.
            assert_eq!(
                device_bytes::<CpuBackend>(&problem, mode) - 5 * parameter_bytes(&problem),
                workers_and_exchange,
                "{mode:?}"
            );
            assert_eq!(live.live(MemCategory::Exchange) > 0, mode != Boundary::Replicate, "{mode:?}");
            drop(model);
        }
    }

    /// With embeddings: the workers' pulled rows and push messages are in the estimate exactly,
    /// the server's table, state and compact buffers (every weight 1 under exchange) too.
    #[test]
    fn device_bytes_counts_embeddings() {
        let ds = "csbm:nodes=2000,train_per_class=3,avg_degree=3".parse::<DatasetSpec>().unwrap().load().unwrap();
        let mut cfg = RunConfig::default();
        (cfg.train.embedding_dim, cfg.parallel.partitions) = (6, 3);
        let problem = crate::sim::prepare(&ds, &cfg).unwrap();
        let b = CpuBackend::new();
        let model = PartitionedModel::new(&b, &problem, Boundary::Exchange, 0.5).unwrap();
        let workers = b.memory().snapshot().live_total() as u128;
        assert_eq!(device_bytes::<CpuBackend>(&problem, Boundary::Exchange) - 5 * parameter_bytes(&problem), workers);
        let settings = crate::ps::embedding::EmbeddingSettings {
            dim: 6,
            seed: 0,
            optimizer: cfg.train.optimizer,
            decay: 0.0,
            prune_after: None,
        };
        let rows: Vec<Vec<u32>> = problem
            .locals
            .iter()
            .zip(&problem.embedding_rows)
            .map(|(g, r)| r.iter().map(|&r| g.node_ids[r as usize]).collect())
            .collect();
        let worker_rows: Vec<_> = problem
            .locals
            .iter()
            .zip(&rows)
            .map(|(g, pushed)| crate::ps::embedding::WorkerRows { pulled: &g.node_ids, pushed, weight: 1.0 })
            .collect();
        let table = crate::ps::embedding::EmbeddingTable::new(&b, settings.clone(), 2000, &worker_rows).unwrap();
        let table_bytes = b.memory().snapshot().live_total() as u128 - workers;
        let pushed: u128 = rows.iter().map(|r| r.len() as u128).sum();
        // The bound counts a scaled receive buffer per pushed row; weights of 1 need none.
        assert_eq!(embedding_bytes(&problem, Some(&settings)) - 4 * 6 * pushed, table_bytes);
        drop((model, table));
    }
}
