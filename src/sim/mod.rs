//! The driver: prepares the problem (normalization, partitions, halos), runs the training over
//! P simulated workers and the parameter server on a simulated cluster (BSP rounds, or SSP and
//! ASP events), and records metrics and what every worker did.

pub mod budget;
pub mod byzantine;
pub mod calibrate;
pub mod checkpoint;
pub mod cluster;
pub mod config;
pub mod driver;
pub mod metered;
pub mod options;
pub mod problem;
#[cfg(test)]
mod push_tests;
pub mod record;
mod relaxed;
mod rounds;
pub mod task;

pub use byzantine::ByzantineConfig;
pub use cluster::{ClusterConfig, Consistency, OnFailure};
pub use config::{Boundary, ConfigError, EvalMode, FeatureNorm, FeatureSource, ParallelConfig, RunConfig, TrainConfig};
pub use driver::{run, run_persistent, SimError};
pub use problem::{prepare, Problem};
pub use record::{EpochRecord, RunOutcome};
pub use task::{TrainTask, TrainedRun};
