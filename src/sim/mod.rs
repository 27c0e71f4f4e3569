//! The driver: prepares the problem (normalization, partitions, halos), runs epochs of
//! bulk-synchronous training over P workers and the parameter server, and records metrics.

pub mod budget;
pub mod config;
pub mod driver;
pub mod metered;
pub mod problem;
pub mod record;
pub mod task;

pub use config::{Boundary, ConfigError, EvalMode, FeatureNorm, ParallelConfig, RunConfig, TrainConfig};
pub use driver::{run, SimError};
pub use problem::{prepare, Problem};
pub use record::{EpochRecord, RunOutcome};
pub use task::{TrainTask, TrainedRun};
