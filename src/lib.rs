//! gcnsim: simulated parameter-server training of graph convolutional networks.
//!
//! The tree is the architecture: `data` loads or generates graphs, `graph` holds CSR and its
//! preprocessing, `model` is the GCN written once over `backend::Backend`, `ps` is the
//! parameter server (versioned weights, aggregation, optimizers), `sim` drives epochs and
//! workers, `report` writes CSVs, plots and progress.
//!
//! Layers point one way (`tests/layering.rs` checks it): a module uses only modules on lower
//! floors. From the bottom: the utilities (`rng`, `tensor`, `host`, `bounded`, `spec`), `fuzz`,
//! `graph`, `data` and `backend`, `model` and `ps`, `cost`, `sim`, `report`, `experiment` and
//! `cli`, `app`. A type shared by two floors lives on the lower one (the boundary mode beside the
//! local graphs in `graph::local`, each op's `KernelCost` in `backend`); the higher floor
//! re-exports it where its users always found it.

pub mod app;
pub mod backend;
pub mod bounded;
pub mod cli;
pub mod compress;
pub mod cost;
pub mod data;
pub mod experiment;
pub mod fuzz;
pub mod graph;
pub mod host;
pub mod model;
pub mod ps;
pub mod report;
pub mod rng;
pub mod sim;
pub mod spec;
pub mod tensor;
