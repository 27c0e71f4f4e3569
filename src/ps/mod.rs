//! The parameter server: a versioned weight store, the BSP barrier, gradient aggregation and
//! the optimizer, with an event log of the protocol.

pub mod aggregate;
pub mod barrier;
pub mod consistency;
pub mod embedding;
pub mod events;
pub mod optimizer;
pub mod optimizer_spec;
pub mod robust;
pub mod schedule;
pub mod shards;
pub mod weights;

pub use aggregate::{Aggregation, Aggregator};
pub use barrier::BspBarrier;
pub use consistency::ClockTable;
pub use events::{Event, EventKind, EventLog};
pub use optimizer::{Optimizer, OptimizerKind};
pub use optimizer_spec::OptimizerSpec;
pub use schedule::LrSchedule;
pub use weights::WeightStore;

/// Protocol violations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PsError {
    #[error("worker {worker} pushed a gradient computed from weight version {got}, but the barrier waits for version {expected}: stale gradients are rejected under BSP")]
    StaleGradient { worker: usize, got: u64, expected: u64 },
    #[error("worker {worker} pushed twice for weight version {version}")]
    DuplicateGradient { worker: usize, version: u64 },
    #[error("worker {worker} does not exist (the barrier has {workers} workers)")]
    UnknownWorker { worker: usize, workers: usize },
    #[error(
        "update to version {next} requested while {missing} of {workers} gradients for version {version} are missing"
    )]
    BarrierIncomplete { version: u64, next: u64, missing: usize, workers: usize },
    #[error("partition {partition} pushed its clock {clock} gradient computed from weight version {got}: the staleness bound {bound} requires version ≥ {}", clock.saturating_sub(*bound) )]
    TooStale { partition: usize, clock: u32, got: u64, bound: u32 },
    #[error("partition {partition} pushed clock {got}, but the server expects its clock {expected} next")]
    OutOfOrder { partition: usize, got: u32, expected: u32 },
}
