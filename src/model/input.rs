//! What one worker trains on: its local graph (the whole graph for serial training).

use crate::graph::Csr;
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
    pub fn auto(features: HostMatrix) -> Result<Self, crate::graph::csr::TooLarge> {
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

/// The graph one worker holds: its nodes (owned first, then halo), the propagation operator on
/// them, their features, labels and split codes (0 for halo nodes, which carry no loss).
#[derive(Clone, Debug)]
pub struct LocalGraph {
    /// Global id of each local node.
    pub node_ids: Vec<u32>,
    pub num_owned: usize,
    /// Local Â (local rows × local columns).
    pub a_hat: Csr,
    pub features: InputFeatures,
    pub labels: Vec<u32>,
    pub split_codes: Vec<u32>,
}

impl LocalGraph {
    pub fn num_nodes(&self) -> usize {
        self.node_ids.len()
    }

    /// Owned training nodes: the denominator of this worker's mean loss.
    pub fn num_train(&self) -> usize {
        self.split_codes.iter().filter(|&&c| c == crate::data::SplitCode::Train as u32).count()
    }
}
