//! Cost models for the discrete-event simulator: how long a kernel takes on a device, and how
//! long messages take on a network. Pure functions of shapes, byte counts and ready times; no
//! state.
//!
//! - [`device`]: [`DeviceProfile`] (peak f32 FLOP/s, memory bandwidth, launch latency), presets
//!   with their sources, TOML files.
//! - [`roofline`]: [`KernelCost`] of each backend op from its shapes, and
//!   [`DeviceProfile::kernel_time`].
//! - [`network`]: [`NetworkProfile`] (α, β), presets, TOML files, [`NetworkProfile::p2p_time`].
//!
//! # What the models assume, and where they are crude
//!
//! **Roofline.** A kernel takes `launch_latency + max(flops / peak_flops, bytes / mem_bandwidth)`:
//! compute and memory overlap perfectly, and a kernel reaches the device's peak of whichever
//! bounds it. Traffic is compulsory traffic (each input read once, each output written once),
//! except SpMM, whose gathered rows of x are counted per nonzero. Caches, occupancy, tail
//! effects of small grids, atomics, integer work (the dropout hash) and special-function
//! throughput (exp, sqrt) are ignored, so small and irregular kernels run slower than modelled
//! and kernels with cache reuse beyond the assumed one run faster. Launch latency is one number
//! per device, for every kernel, whether or not launches overlap with earlier work.

pub mod device;
pub mod network;
mod profile;
pub mod roofline;

pub use device::DeviceProfile;
pub use network::NetworkProfile;
pub use profile::ProfileError;
pub use roofline::KernelCost;
