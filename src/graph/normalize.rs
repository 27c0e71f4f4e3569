//! Preprocessing, named: the GCN propagation operator and feature normalization.

use super::csr::{check_fits, TooLarge, MAX_ENTRIES};
use super::Csr;
use crate::tensor::HostMatrix;

/// How the adjacency becomes the propagation operator Â.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Â = D^-1/2 (A+I) D^-1/2, D the degree of A+I: Kipf & Welling's renormalization trick.
    Symmetric,
    /// A_ij / deg(i) without self-loops (rows without neighbours stay empty): the mean over
    /// neighbours of GraphSAGE's mean aggregator.
    Mean,
    /// A+I with every value 1: the edges attention is computed over (GAT).
    SelfLoops,
}

impl Normalization {
    /// Â for a symmetric pattern `adj` without self-loops. Values are computed in f64 and rounded
    /// once, so partitioned copies of a row (halo mode) carry the same f32 values. Fails when the
    /// added self-loops outgrow u32 offsets.
    pub fn apply(self, adj: &Csr) -> Result<Csr, TooLarge> {
        match self {
            Normalization::Symmetric => symmetric_with_self_loops(adj),
            Normalization::Mean => Ok(row_mean(adj)),
            Normalization::SelfLoops => {
                let ones = vec![1.0; adj.rows.max(adj.cols)];
                symmetric_with_degrees(adj, &ones, &ones)
            }
        }
    }
}

/// Every row of `adj` scaled to sum 1 (values computed in f64, rounded once).
fn row_mean(adj: &Csr) -> Csr {
    let values = (0..adj.rows)
        .flat_map(|r| {
            let d = adj.degree(r);
            std::iter::repeat_n((1.0 / d as f64) as f32, d)
        })
        .collect();
    Csr { rows: adj.rows, cols: adj.cols, row_ptr: adj.row_ptr.clone(), col_idx: adj.col_idx.clone(), values }
}

/// Degree of A+I per node.
pub fn degrees_with_self_loops(adj: &Csr) -> Vec<f64> {
    (0..adj.rows).map(|r| adj.degree(r) as f64 + 1.0).collect()
}

fn symmetric_with_self_loops(adj: &Csr) -> Result<Csr, TooLarge> {
    let deg = degrees_with_self_loops(adj);
    symmetric_with_degrees(adj, &deg, &deg)
}

/// D_r^-1/2 (A+I) D_c^-1/2 with given row and column degrees. Self-loops are added on the
/// diagonal (rows that index a column of the same local id; the caller keeps ids aligned).
pub fn symmetric_with_degrees(adj: &Csr, row_deg: &[f64], col_deg: &[f64]) -> Result<Csr, TooLarge> {
    symmetric_with_degrees_within(adj, row_deg, col_deg, MAX_ENTRIES)
}

fn symmetric_with_degrees_within(adj: &Csr, row_deg: &[f64], col_deg: &[f64], limit: usize) -> Result<Csr, TooLarge> {
    // At most one self-loop per row is added.
    check_fits("the normalized adjacency (edges plus self-loops)", adj.nnz() as u128 + adj.rows as u128, limit)?;
    let mut row_ptr = Vec::with_capacity(adj.rows + 1);
    row_ptr.push(0u32);
    let mut col_idx = Vec::with_capacity(adj.nnz() + adj.rows);
    let mut values = Vec::with_capacity(adj.nnz() + adj.rows);
    for r in 0..adj.rows {
        let mut self_done = r >= adj.cols;
        for &c in adj.row(r) {
            if !self_done && c as usize > r {
                col_idx.push(r as u32);
                values.push((1.0 / (row_deg[r].sqrt() * col_deg[r].sqrt())) as f32);
                self_done = true;
            }
            col_idx.push(c);
            values.push((1.0 / (row_deg[r].sqrt() * col_deg[c as usize].sqrt())) as f32);
        }
        if !self_done {
            col_idx.push(r as u32);
            values.push((1.0 / (row_deg[r].sqrt() * col_deg[r].sqrt())) as f32);
        }
        // ≤ nnz + rows, checked above; r < rows of a valid CSR.
        row_ptr.push(col_idx.len() as u32);
    }
    Ok(Csr { rows: adj.rows, cols: adj.cols, row_ptr, col_idx, values })
}

/// Scales every row of the features to sum 1 (rows summing to 0 stay 0), as Kipf's
/// `preprocess_features`.
pub fn row_normalize(features: &mut HostMatrix) {
    for r in 0..features.rows {
        let row = features.row_mut(r);
        let sum: f64 = row.iter().map(|&x| x as f64).sum();
        if sum != 0.0 {
            let inv = 1.0 / sum;
            for x in row.iter_mut() {
                *x = (*x as f64 * inv) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_self_loop_operators() {
        // 0-1, 0-2; node 3 isolated.
        let adj = Csr::from_pairs(4, 4, vec![(0, 1), (1, 0), (0, 2), (2, 0)], false).unwrap();
        let mean = Normalization::Mean.apply(&adj).unwrap();
        assert_eq!(mean.row_ptr, adj.row_ptr);
        assert_eq!(mean.values, vec![0.5, 0.5, 1.0, 1.0]);
        let loops = Normalization::SelfLoops.apply(&adj).unwrap();
        assert_eq!(loops.nnz(), adj.nnz() + 4);
        assert!(loops.values.iter().all(|&v| v == 1.0));
        assert_eq!(loops.row(3), &[3]);
    }

    #[test]
    fn symmetric_matches_dense_formula() {
        let adj = Csr::from_pairs(3, 3, vec![(0, 1), (1, 0), (1, 2), (2, 1)], true).unwrap();
        let a_hat = Normalization::Symmetric.apply(&adj).unwrap().to_dense();
        let deg = [2.0f64, 3.0, 2.0];
        let a_plus_i = [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]];
        for r in 0..3 {
            for c in 0..3 {
                let want = a_plus_i[r][c] / (deg[r] * deg[c]).sqrt();
                assert!((a_hat.get(r, c) as f64 - want).abs() < 1e-7);
            }
        }
    }

    #[test]
    fn self_loops_beyond_u32_offsets_are_an_error() {
        let adj = Csr::from_pairs(3, 3, vec![(0, 1), (1, 0), (1, 2), (2, 1)], true).unwrap();
        let deg = degrees_with_self_loops(&adj);
        assert!(symmetric_with_degrees_within(&adj, &deg, &deg, 7).is_ok());
        let err = symmetric_with_degrees_within(&adj, &deg, &deg, 6).unwrap_err();
        assert!(err.to_string().contains("self-loops"), "{err}");
    }

    #[test]
    fn row_normalize_sums_to_one() {
        let mut m = HostMatrix::from_vec(2, 3, vec![1.0, 1.0, 2.0, 0.0, 0.0, 0.0]);
        row_normalize(&mut m);
        assert_eq!(m.row(0), &[0.25, 0.25, 0.5]);
        assert_eq!(m.row(1), &[0.0, 0.0, 0.0]);
    }
}
