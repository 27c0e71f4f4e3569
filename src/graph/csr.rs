//! Compressed sparse rows with u32 indices; the one sparse format of gcnsim.
//!
//! Used for the adjacency (values empty = all ones), the normalized operator Â, and sparse
//! input features (rows = nodes, columns = feature dimensions).

use crate::tensor::HostMatrix;

/// The most entries (and rows, columns) a CSR can hold: offsets and indices are u32, the widest
/// integer WGSL has.
pub const MAX_ENTRIES: usize = u32::MAX as usize;

/// A sparse matrix that needs more entries than u32 offsets can address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} needs {count} entries, more than the {limit} that gcnsim's 32-bit sparse offsets can address; \
     the graph is too large (use a smaller graph, fewer features, or fewer halo hops)"
)]
pub struct TooLarge {
    pub what: String,
    pub count: u128,
    pub limit: usize,
}

/// `Ok` when `count` entries fit offsets bounded by `limit`.
pub fn check_fits(what: &str, count: u128, limit: usize) -> Result<(), TooLarge> {
    if count > limit as u128 {
        return Err(TooLarge { what: what.to_string(), count, limit });
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    pub rows: usize,
    pub cols: usize,
    /// `rows + 1` offsets into `col_idx`.
    pub row_ptr: Vec<u32>,
    pub col_idx: Vec<u32>,
    /// One value per entry, or empty for a pattern (every value 1).
    pub values: Vec<f32>,
}

impl Csr {
    pub fn empty(rows: usize, cols: usize) -> Self {
        Self { rows, cols, row_ptr: vec![0; rows + 1], col_idx: Vec::new(), values: Vec::new() }
    }

    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }

    pub fn row(&self, r: usize) -> &[u32] {
        &self.col_idx[self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize]
    }

    pub fn row_values(&self, r: usize) -> &[f32] {
        &self.values[self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize]
    }

    pub fn degree(&self, r: usize) -> usize {
        (self.row_ptr[r + 1] - self.row_ptr[r]) as usize
    }

    pub fn has_values(&self) -> bool {
        !self.values.is_empty() || self.nnz() == 0
    }

    /// Value of entry `k` (1 for a pattern).
    #[inline]
    pub fn value(&self, k: usize) -> f32 {
        if self.values.is_empty() {
            1.0
        } else {
            self.values[k]
        }
    }

    /// Builds a pattern from (row, col) pairs: sorted columns, duplicates removed, and self-loops
    /// dropped when `drop_self_loops`. `pairs` is consumed (sorted in place).
    pub fn from_pairs(
        rows: usize,
        cols: usize,
        pairs: Vec<(u32, u32)>,
        drop_self_loops: bool,
    ) -> Result<Self, TooLarge> {
        Self::from_pairs_within(rows, cols, pairs, drop_self_loops, MAX_ENTRIES)
    }

    /// [`Self::from_pairs`] with the offset limit as a parameter (tests use a small one).
    fn from_pairs_within(
        rows: usize,
        cols: usize,
        mut pairs: Vec<(u32, u32)>,
        drop_self_loops: bool,
        limit: usize,
    ) -> Result<Self, TooLarge> {
        check_fits("a sparse matrix's rows", rows as u128, limit)?;
        check_fits("a sparse matrix's columns", cols as u128, limit)?;
        if drop_self_loops {
            pairs.retain(|&(r, c)| r != c);
        }
        pairs.sort_unstable();
        pairs.dedup();
        check_fits("a sparse matrix", pairs.len() as u128, limit)?;
        // Every count below is at most pairs.len(), checked to fit.
        let mut row_ptr = vec![0u32; rows + 1];
        for &(r, _) in &pairs {
            row_ptr[r as usize + 1] += 1;
        }
        for r in 0..rows {
            row_ptr[r + 1] += row_ptr[r];
        }
        let col_idx = pairs.into_iter().map(|(_, c)| c).collect();
        Ok(Self { rows, cols, row_ptr, col_idx, values: Vec::new() })
    }

    /// The CSR of `pairs` (and their reverses when `symmetrize`), rows sorted, self-loops and
    /// duplicates dropped: what [`Csr::from_pairs`] gives, by a counting sort and parallel row sorts
    /// instead of one global sort of twice the pairs (ogbn-products: 124M entries).
    pub fn from_pairs_bucketed(nodes: usize, pairs: &[(u32, u32)], symmetrize: bool) -> Csr {
        let mut fill = vec![0usize; nodes + 1];
        for &(u, v) in pairs.iter().filter(|(u, v)| u != v) {
            fill[u as usize + 1] += 1;
            if symmetrize {
                fill[v as usize + 1] += 1;
            }
        }
        for r in 0..nodes {
            fill[r + 1] += fill[r];
        }
        let bounds = fill.clone();
        let mut cols = vec![0u32; fill[nodes]];
        for &(u, v) in pairs.iter().filter(|(u, v)| u != v) {
            cols[fill[u as usize]] = v;
            fill[u as usize] += 1;
            if symmetrize {
                cols[fill[v as usize]] = u;
                fill[v as usize] += 1;
            }
        }
        drop(fill);
        sort_rows_parallel(&bounds, &mut cols);
        let mut row_ptr = Vec::with_capacity(nodes + 1);
        row_ptr.push(0u32);
        let mut write = 0usize;
        for r in 0..nodes {
            let mut last = None;
            for k in bounds[r]..bounds[r + 1] {
                let c = cols[k];
                if last != Some(c) {
                    cols[write] = c;
                    write += 1;
                    last = Some(c);
                }
            }
            // At most the entries, which callers keep within u32 (`read_adjacency` and
            // `CsbmParams::validate` check it).
            row_ptr.push(write as u32);
        }
        cols.truncate(write);
        cols.shrink_to_fit();
        Csr { rows: nodes, cols: nodes, row_ptr, col_idx: cols, values: Vec::new() }
    }

    /// Undirected version: every edge in both directions, self-loops and duplicates removed.
    /// Fails if the result (up to twice the entries) outgrows u32 offsets.
    pub fn symmetrized(&self) -> Result<Csr, TooLarge> {
        assert_eq!(self.rows, self.cols, "symmetrize needs a square matrix");
        let mut pairs = Vec::with_capacity(self.nnz() * 2);
        for r in 0..self.rows {
            // r < rows ≤ MAX_ENTRIES: a valid CSR's row ids fit u32.
            for &c in self.row(r) {
                pairs.push((r as u32, c));
                pairs.push((c, r as u32));
            }
        }
        Csr::from_pairs(self.rows, self.cols, pairs, true)
    }

    /// Whether every entry (r, c) has a matching (c, r).
    pub fn is_symmetric(&self) -> bool {
        self.rows == self.cols
            && (0..self.rows)
                .all(|r| self.row(r).iter().all(|&c| self.row(c as usize).binary_search(&(r as u32)).is_ok()))
    }

    /// The transpose, with values carried along. Entries of each output row stay sorted by column
    /// because input rows are visited in order (a stable counting sort). Same entry count, so
    /// the offsets fit whenever `self`'s do.
    pub fn transpose(&self) -> Csr {
        self.transpose_with_permutation().0
    }

    /// The transpose and, for each of its entries, the position of the same entry in `self`
    /// (what a kernel reading per-edge values of `self` in the transpose's order needs).
    pub fn transpose_with_permutation(&self) -> (Csr, Vec<u32>) {
        let mut row_ptr = vec![0u32; self.cols + 1];
        for &c in &self.col_idx {
            row_ptr[c as usize + 1] += 1;
        }
        for c in 0..self.cols {
            row_ptr[c + 1] += row_ptr[c];
        }
        let mut next = row_ptr.clone();
        let mut col_idx = vec![0u32; self.nnz()];
        let mut permutation = vec![0u32; self.nnz()];
        let mut values = if self.values.is_empty() { Vec::new() } else { vec![0.0f32; self.nnz()] };
        for r in 0..self.rows {
            for k in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
                let c = self.col_idx[k] as usize;
                let dst = next[c] as usize;
                next[c] += 1;
                col_idx[dst] = r as u32;
                permutation[dst] = k as u32;
                if !values.is_empty() {
                    values[dst] = self.values[k];
                }
            }
        }
        (Csr { rows: self.cols, cols: self.rows, row_ptr, col_idx, values }, permutation)
    }

    /// Sparse copy of a dense matrix, keeping entries that are not exactly zero.
    pub fn from_dense(m: &HostMatrix) -> Result<Csr, TooLarge> {
        Self::from_dense_within(m, MAX_ENTRIES)
    }

    fn from_dense_within(m: &HostMatrix, limit: usize) -> Result<Csr, TooLarge> {
        check_fits("a sparse matrix's rows", m.rows as u128, limit)?;
        check_fits("a sparse matrix's columns", m.cols as u128, limit)?;
        let nnz = m.data.iter().filter(|&&v| v != 0.0).count();
        check_fits("the sparse input features", nnz as u128, limit)?;
        let mut row_ptr = Vec::with_capacity(m.rows + 1);
        let mut col_idx = Vec::with_capacity(nnz);
        let mut values = Vec::with_capacity(nnz);
        row_ptr.push(0u32);
        for r in 0..m.rows {
            for (c, &v) in m.row(r).iter().enumerate() {
                if v != 0.0 {
                    col_idx.push(c as u32); // c < cols ≤ limit
                    values.push(v);
                }
            }
            row_ptr.push(col_idx.len() as u32); // ≤ nnz ≤ limit
        }
        Ok(Csr { rows: m.rows, cols: m.cols, row_ptr, col_idx, values })
    }

    pub fn to_dense(&self) -> HostMatrix {
        let mut m = HostMatrix::zeros(self.rows, self.cols);
        for r in 0..self.rows {
            for k in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
                m.data[r * self.cols + self.col_idx[k] as usize] += self.value(k);
            }
        }
        m
    }

    /// The submatrix on `rows` × `cols` given as sorted global ids; indices renumbered to
    /// positions in those lists. Entries whose column is not in `cols` are dropped. At most
    /// `self`'s entries, so the offsets fit whenever `self`'s do.
    pub fn submatrix(&self, rows: &[u32], cols: &[u32]) -> Csr {
        let mut local_of = vec![u32::MAX; self.cols];
        for (i, &c) in cols.iter().enumerate() {
            local_of[c as usize] = i as u32;
        }
        let mut row_ptr = Vec::with_capacity(rows.len() + 1);
        row_ptr.push(0u32);
        let mut col_idx = Vec::new();
        let mut values = Vec::new();
        for &r in rows {
            let r = r as usize;
            for k in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
                let l = local_of[self.col_idx[k] as usize];
                if l != u32::MAX {
                    col_idx.push(l);
                    if !self.values.is_empty() {
                        values.push(self.values[k]);
                    }
                }
            }
            row_ptr.push(col_idx.len() as u32);
        }
        Csr { rows: rows.len(), cols: cols.len(), row_ptr, col_idx, values }
    }

    pub fn byte_len(&self) -> u64 {
        4 * (self.row_ptr.len() + self.col_idx.len() + self.values.len()) as u64
    }
}

/// Sorts every row `cols[bounds[r]..bounds[r + 1]]`, rows shared out in parallel chunks.
fn sort_rows_parallel(bounds: &[usize], cols: &mut [u32]) {
    use rayon::prelude::*;
    const ROWS_PER_CHUNK: usize = 4096;
    let windows: Vec<&[usize]> = bounds.windows(2).collect();
    let mut chunks = Vec::new();
    let mut rest = cols;
    for rows in windows.chunks(ROWS_PER_CHUNK) {
        let (start, end) = (rows[0][0], rows[rows.len() - 1][1]);
        let (chunk, tail) = rest.split_at_mut(end - start);
        chunks.push((rows, chunk, start));
        rest = tail;
    }
    chunks.into_par_iter().for_each(|(rows, chunk, start)| {
        for w in rows {
            chunk[w[0] - start..w[1] - start].sort_unstable();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Csr {
        // 0-1, 1-2 one-directional with a self-loop and a duplicate.
        Csr::from_pairs(3, 3, vec![(0, 1), (1, 2), (1, 2), (2, 2)], false).unwrap()
    }

    #[test]
    fn offsets_beyond_the_limit_are_an_error_not_a_wrap() {
        let pairs = vec![(0, 1), (1, 0), (1, 2), (2, 1)];
        assert!(Csr::from_pairs_within(3, 3, pairs.clone(), true, 4).is_ok());
        let err = Csr::from_pairs_within(3, 3, pairs, true, 3).unwrap_err();
        assert_eq!((err.count, err.limit), (4, 3));
        assert!(err.to_string().contains("too large"), "{err}");
        let dense = HostMatrix::from_vec(2, 2, vec![1.0, 0.0, 2.0, 3.0]);
        assert!(Csr::from_dense_within(&dense, 3).is_ok());
        assert!(Csr::from_dense_within(&dense, 2).is_err());
        // Row ids beyond the limit are refused too.
        assert!(Csr::from_pairs_within(5, 5, vec![], false, 4).is_err());
    }

    #[test]
    fn from_pairs_dedups_and_sorts() {
        let a = small();
        assert_eq!(a.row_ptr, vec![0, 1, 2, 3]);
        assert_eq!(a.col_idx, vec![1, 2, 2]);
    }

    #[test]
    fn symmetrize_drops_self_loops() {
        let s = small().symmetrized().unwrap();
        assert_eq!(s.row(0), &[1]);
        assert_eq!(s.row(1), &[0, 2]);
        assert_eq!(s.row(2), &[1]);
        assert!(s.is_symmetric());
        assert!(!small().is_symmetric());
    }

    #[test]
    fn transpose_twice_is_identity_and_matches_dense() {
        let mut a = small();
        a.values = vec![1.0, 2.0, 3.0];
        let t = a.transpose();
        let (d, dt) = (a.to_dense(), t.to_dense());
        for r in 0..3 {
            for c in 0..3 {
                assert_eq!(d.get(r, c), dt.get(c, r));
            }
        }
        assert_eq!(t.transpose(), a);
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // row i indexes row_ptr and perm's entries
    fn transpose_permutation_points_at_the_original_entries() {
        let mut a = small();
        a.values = (0..a.nnz()).map(|k| k as f32 + 1.0).collect();
        let (t, perm) = a.transpose_with_permutation();
        assert_eq!(t, a.transpose());
        let mut seen = perm.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..a.nnz() as u32).collect::<Vec<_>>(), "perm is a permutation");
        for i in 0..t.rows {
            for e in t.row_ptr[i] as usize..t.row_ptr[i + 1] as usize {
                let k = perm[e] as usize;
                assert_eq!(t.values[e], a.values[k]);
                assert_eq!(a.col_idx[k] as usize, i, "the original entry's column is the transpose's row");
                let row = a.row_ptr.partition_point(|&p| p as usize <= k) - 1;
                assert_eq!(row as u32, t.col_idx[e]);
            }
        }
    }

    #[test]
    fn submatrix_renumbers() {
        let s = small().symmetrized().unwrap();
        let sub = s.submatrix(&[1, 2], &[1, 2]);
        assert_eq!(sub.row(0), &[1]);
        assert_eq!(sub.row(1), &[0]);
    }

    #[test]
    fn the_counting_sort_adjacency_equals_from_pairs() {
        let mut rng = crate::rng::SplitMix64::new(7);
        let nodes = 300;
        // Duplicates, reverse duplicates and self-loops, as edge files may hold them.
        let pairs: Vec<(u32, u32)> =
            (0..5000).map(|_| (rng.below(nodes as u64) as u32, rng.below(nodes as u64) as u32)).collect();
        let both: Vec<(u32, u32)> = pairs.iter().flat_map(|&(u, v)| [(u, v), (v, u)]).collect();
        assert_eq!(Csr::from_pairs_bucketed(nodes, &pairs, true), Csr::from_pairs(nodes, nodes, both, true).unwrap());
        assert_eq!(
            Csr::from_pairs_bucketed(nodes, &pairs, false),
            Csr::from_pairs(nodes, nodes, pairs.clone(), true).unwrap()
        );
    }
}
