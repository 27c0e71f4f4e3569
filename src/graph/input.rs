//! What one worker trains on: its local graph (the whole graph for serial training).

use super::layout::Boundary;
use super::Csr;
use crate::tensor::HostMatrix;

/// Input features in the storage that suits them: Kipf's code keeps bag-of-words features
/// sparse (sparse dropout, sparse × dense first layer); dense Gaussian features stay dense.
#[derive(Clone, Debug)]
pub enum InputFeatures {
    Dense(HostMatrix),
    Sparse(Csr),
}

impl InputFeatures {
    /// Sparse when at least half the entries are zero.
    pub fn auto(features: HostMatrix) -> Result<Self, super::csr::TooLarge> {
        Ok(if features.sparsity() >= 0.5 {
            InputFeatures::Sparse(Csr::from_dense(&features)?)
        } else {
            InputFeatures::Dense(features)
        })
    }

    pub fn cols(&self) -> usize {
        match self {
            InputFeatures::Dense(m) => m.cols,
            InputFeatures::Sparse(s) => s.cols,
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            InputFeatures::Dense(m) => m.rows,
            InputFeatures::Sparse(s) => s.rows,
        }
    }

    /// The rows of `nodes`, in order, in the same storage.
    pub fn gather_rows(&self, nodes: &[u32]) -> InputFeatures {
        match self {
            InputFeatures::Dense(m) => InputFeatures::Dense(m.gather_rows(nodes)),
            InputFeatures::Sparse(s) => {
                let all_cols: Vec<u32> = (0..s.cols as u32).collect();
                InputFeatures::Sparse(s.submatrix(nodes, &all_cols))
            }
        }
    }

    /// Bytes of the rows in `rows`, as `gather_rows` of them would hold (values, plus row
    /// offsets and column indices when sparse).
    pub fn rows_byte_len(&self, rows: std::ops::Range<usize>) -> u64 {
        if rows.is_empty() {
            return 0;
        }
        match self {
            InputFeatures::Dense(m) => 4 * (rows.len() * m.cols) as u64,
            InputFeatures::Sparse(s) => {
                let nnz = (s.row_ptr[rows.end] - s.row_ptr[rows.start]) as u64;
                4 * (rows.len() as u64 + 1 + 2 * nnz)
            }
        }
    }

    pub fn byte_len(&self) -> u64 {
        match self {
            InputFeatures::Dense(m) => m.byte_len(),
            InputFeatures::Sparse(s) => s.byte_len(),
        }
    }
}

/// How a worker's rows relate to the rest of the graph.
#[derive(Clone, Debug)]
pub enum Neighbourhood {
    /// The local rows are all the worker needs (serial training, `replicate` halos).
    Complete,
    /// Training and evaluation read the boundary rows from their owners every layer; `a_hat`
    /// has `rows + boundary.len()` columns (exchange, stale, sample).
    Exchange { boundary: Boundary },
    /// Training uses the induced subgraph (`a_hat`); evaluation on the full graph uses
    /// `full_a_hat` (owned rows × owned + boundary columns) with exchanged boundary rows.
    Dropped { boundary: Boundary, full_a_hat: Csr },
}

impl Neighbourhood {
    pub fn boundary(&self) -> Option<&Boundary> {
        match self {
            Neighbourhood::Complete => None,
            Neighbourhood::Exchange { boundary } | Neighbourhood::Dropped { boundary, .. } => Some(boundary),
        }
    }
}

/// The graph one worker holds: its nodes (owned first, then halo), the propagation operator on
/// them, their features, labels and split codes (0 for halo nodes, which carry no loss).
#[derive(Clone, Debug)]
pub struct LocalGraph {
    /// Global id of each local node (row of the worker's activations).
    pub node_ids: Vec<u32>,
    pub num_owned: usize,
    /// The training operator Â: local rows × local columns (+ boundary columns with exchange).
    pub a_hat: Csr,
    pub features: InputFeatures,
    pub labels: Vec<u32>,
    pub split_codes: Vec<u32>,
    pub neighbourhood: Neighbourhood,
}

impl LocalGraph {
    pub fn num_nodes(&self) -> usize {
        self.node_ids.len()
    }

    /// Owned training nodes: the denominator of this worker's mean loss.
    pub fn num_train(&self) -> usize {
        self.split_codes.iter().filter(|&&c| c == SplitCode::Train as u32).count()
    }
}

/// Which split a node belongs to, as a small code shared with the GPU kernels.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitCode {
    None = 0,
    Train = 1,
    Valid = 2,
    Test = 3,
}
