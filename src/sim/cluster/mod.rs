//! The simulated cluster around the parameter server: its options ([`ClusterConfig`]),
//! stragglers, failures and heartbeats, and the record of what every worker did
//! ([`ClusterTrace`]). The loops that use them are `sim::rounds` (BSP) and `sim::relaxed`
//! (SSP, ASP); the cost models are in `crate::cost`.

pub mod breakdown;
pub mod config;
pub mod failures;
pub mod heartbeat;
mod spec;
pub mod stragglers;
pub mod trace;

pub use breakdown::RoundBreakdown;
pub use config::{Cluster, ClusterConfig, ComputeTime, Consistency, OnFailure};
pub use failures::FailureSpec;
pub use heartbeat::detection_time;
pub use spec::SpecError;
pub use stragglers::Stragglers;
pub use trace::{Activity, ClusterTrace, FailureRecord, Fate, GradientAccounting, GradientRecord, WorkerInterval};
