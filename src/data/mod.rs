//! Datasets: the in-memory form, the readers (OGB folders, Planetoid's pickles, Reddit's npz
//! files), and the CSBM generator.

pub mod cache;
pub mod csbm;
pub mod export;
pub mod fetch;
pub mod format;
pub mod info;
pub mod lines;
pub mod npz;
pub mod ogb;
pub mod pickle;
pub mod planetoid;
pub mod reddit;
pub mod spec;
pub mod testdata;

use std::path::PathBuf;

use crate::graph::Csr;
use crate::tensor::HostMatrix;

pub use crate::graph::SplitCode;
pub use spec::DatasetSpec;

/// A node-classification dataset as loaded, before any preprocessing.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    /// Symmetric adjacency pattern, no self-loops, no duplicates.
    pub adjacency: Csr,
    /// Raw dense features, one row per node.
    pub features: HostMatrix,
    /// One label per node, in `0..num_classes`.
    pub labels: Vec<u32>,
    pub num_classes: usize,
    pub split: Split,
    /// Things that load but look wrong (e.g. an edge file without edges); the CLI prints them.
    pub warnings: Vec<String>,
}

impl Dataset {
    pub fn num_nodes(&self) -> usize {
        self.adjacency.rows
    }

    /// Sizes and a CRC-32 of the graph, features, labels and split: a resumed run checks that
    /// it loaded the dataset its checkpoint was trained on.
    pub fn fingerprint(&self) -> String {
        let mut h = crc32fast::Hasher::new();
        let a = &self.adjacency;
        h.update(bytemuck::cast_slice(&a.row_ptr));
        h.update(bytemuck::cast_slice(&a.col_idx));
        h.update(bytemuck::cast_slice(&a.values));
        h.update(bytemuck::cast_slice(&self.features.data));
        h.update(bytemuck::cast_slice(&self.labels));
        for part in [&self.split.train, &self.split.valid, &self.split.test] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(bytemuck::cast_slice(part));
        }
        format!(
            "{} nodes, {} edges, {} features, {} classes, crc32 {:08x}",
            self.num_nodes(),
            self.num_undirected_edges(),
            self.features.cols,
            self.num_classes,
            h.finalize()
        )
    }

    /// Undirected edges (each counted once).
    pub fn num_undirected_edges(&self) -> usize {
        self.adjacency.nnz() / 2
    }
}

/// Train/valid/test node sets: sorted, disjoint, non-empty global node ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
    pub test: Vec<u32>,
}

impl Split {
    /// One code per node (see [`SplitCode`]).
    pub fn codes(&self, num_nodes: usize) -> Vec<u32> {
        let mut codes = vec![SplitCode::None as u32; num_nodes];
        for (ids, code) in
            [(&self.train, SplitCode::Train), (&self.valid, SplitCode::Valid), (&self.test, SplitCode::Test)]
        {
            for &i in ids {
                codes[i as usize] = code as u32;
            }
        }
        codes
    }
}

/// Everything that can be wrong with a dataset. Each variant names the file (and line where
/// there is one) so a user can go and fix it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Parse { path: PathBuf, line: u64, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("dataset spec `{spec}`: {message}")]
    Spec { spec: String, message: String },
    /// A named dataset that could not be fetched or verified.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
}
