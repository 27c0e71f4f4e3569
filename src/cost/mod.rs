//! Cost models for the discrete-event simulator: how long a kernel takes on a device, and how
//! long messages take on a network. Pure functions of shapes, byte counts and ready times; no
//! state beyond the links a [`Fabric`] keeps busy.
//!
//! - [`device`]: [`DeviceProfile`] (peak f32 FLOP/s, memory bandwidth, launch latency), presets
//!   with their sources, TOML files.
//! - [`roofline`]: [`KernelCost`] of each backend op from its shapes, and
//!   [`DeviceProfile::kernel_time`].
//! - [`network`]: [`NetworkProfile`] (α, β), presets, TOML files, [`NetworkProfile::p2p_time`].
//! - [`link`]: FIFO [`Link`]s, the [`Fabric`] of all workers' and the server's links, and the
//!   engine that runs dependent transfers over them.
//! - [`topology`]: [`Topology`] and the summation structure ([`tree_levels`] follows Spark's
//!   `treeAggregate`), as data the GPU reduction can follow.
//! - [`schedule`]: aggregation, broadcast and pairwise-exchange schedules from per-worker ready
//!   times.
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
//!
//! **Network.** α-β per message on FIFO links, one message at a time per link direction,
//! cut-through (a message holds the sender's uplink and the receiver's downlink for bytes/β and
//! arrives α after its last byte). No switch buffers, no congestion control or packet loss, no
//! TCP slow start, no pipelining of one message's chunks across hops: a forwarded message starts
//! only once it has fully arrived. The switch fabric is non-blocking: only end-point links
//! contend. Traffic contends only where it shares a link *in the same [`Fabric`]*: gradient
//! pushes and halo exchange slow each other down only if the simulator runs both on one fabric,
//! and then in the order it issues them (a link never lets a later call's message overtake an
//! earlier call's). Summing partials and the optimizer step take no time inside a schedule; the
//! simulator adds them (e.g. `update` in [`Fabric::aggregate`]).
//!
//! **Topologies.** Flat and Spark's tree end at a server with one full-duplex port; the binary
//! tree and the ring have no server (the binary tree's root, worker 0, plays it). Spark's own
//! summation order inside a group is the shuffle's fetch order, which is not deterministic; ours
//! is ascending partial index, so the GPU can reproduce it.

pub mod device;
pub mod kernel_rates;
pub mod link;
pub mod network;
mod profile;
pub mod roofline;
pub mod schedule;
pub mod topology;

pub use device::DeviceProfile;
pub use kernel_rates::{CacheRates, ClassRates, KernelRates};
pub use link::{Fabric, Link, Message, Node, Transfer};
pub use network::NetworkProfile;
pub use profile::{readable, ProfileError};
pub use roofline::KernelCost;
pub use schedule::{
    aggregation_schedule, broadcast_schedule, exchange_schedule, AggregationSchedule, BroadcastSchedule,
    ExchangeSchedule,
};
pub use topology::{binary_tree_levels, hosts, tree_levels, Levels, Root, Topology, TopologyError};
