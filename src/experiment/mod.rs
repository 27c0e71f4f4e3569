//! Experiment files: a dataset, base hyperparameters and a grid of runs, in TOML.
//!
//! ```toml
//! name = "bsp_vs_serial"            # optional, default: the file name
//! description = "…"
//! dataset = "cora"                  # as `gcnsim train --dataset`
//! backend = "auto"                  # auto | gpu | cpu
//!
//! [base]                            # any run key, see `RunKeys`
//! epochs = 200
//!
//! [grid]                            # every combination of these lists is one run
//! partitions = [1, 2, 4, 8]
//! boundary = ["exact", "drop"]
//! seed = [0, 1, 2]
//! ```
//! For P = 1 the partitioning keys mean nothing, so serial runs that differ only in them are
//! one run.

pub mod file;
pub mod jobs;
pub mod merge;
pub mod results;
pub mod runner;
pub mod shard;
pub mod stored;

pub use file::{Experiment, ExperimentError, RunSpec};
pub use runner::{run_experiment, run_sweep, RunOptions};
