//! Graph structure: CSR storage, normalization, partitioning and halos.

pub mod csr;
pub mod layout;
pub mod local;
pub mod normalize;
pub mod partition;

pub use csr::Csr;
pub use normalize::Normalization;
