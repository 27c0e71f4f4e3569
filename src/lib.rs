//! gcnsim: simulated parameter-server training of graph convolutional networks.
//!
//! The tree is the architecture: `data` loads or generates graphs, `graph` holds CSR and its
//! preprocessing, `model` is the GCN written once over `backend::Backend`, `ps` is the
//! parameter server (versioned weights, aggregation, optimizers), `sim` drives epochs and
//! workers, `report` writes CSVs, plots and progress.

pub mod app;
pub mod backend;
pub mod cli;
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
