//! Graph structure: CSR storage, normalization, partitioning and halos, and the local graph
//! each worker holds (with its boundary mode).

pub mod csr;
pub mod input;
pub mod layout;
pub mod local;
pub mod normalize;
pub mod partition;

pub use csr::Csr;
pub use input::{InputFeatures, LocalGraph, Neighbourhood, SplitCode};
pub use normalize::Normalization;
