//! The partition-major node order and what each partition exchanges.
//!
//! Exchange buffers on the device hold one row per node in *partition-major* order: partition
//! 0's owned nodes (ascending id), then partition 1's, and so on, so each owner writes one
//! contiguous block and each receiver gathers its boundary rows by position.

use super::Csr;

/// Partition-major order of the nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Partition p owns positions `offsets[p]..offsets[p + 1]`.
    pub offsets: Vec<usize>,
    /// Position → global node id.
    pub order: Vec<u32>,
    /// Global node id → position.
    pub position: Vec<u32>,
    /// Global node id → owning partition.
    pub owner: Vec<u32>,
}

impl Layout {
    /// From each node's partition; nodes keep ascending id order within their partition.
    pub fn new(assignment: &[u32], parts: usize) -> Self {
        let mut offsets = vec![0usize; parts + 1];
        for &p in assignment {
            offsets[p as usize + 1] += 1;
        }
        for p in 0..parts {
            offsets[p + 1] += offsets[p];
        }
        let mut next = offsets.clone();
        let mut order = vec![0u32; assignment.len()];
        let mut position = vec![0u32; assignment.len()];
        for (node, &p) in assignment.iter().enumerate() {
            let at = next[p as usize];
            next[p as usize] += 1;
            // node < n ≤ u32::MAX: node counts are checked when a dataset is loaded.
            order[at] = node as u32;
            position[node] = at as u32;
        }
        Self { offsets, order, position, owner: assignment.to_vec() }
    }

    pub fn parts(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The owned nodes of partition `p`, ascending.
    pub fn owned(&self, p: usize) -> &[u32] {
        &self.order[self.offsets[p]..self.offsets[p + 1]]
    }
}

/// The boundary of one partition: the nodes owned elsewhere that are 1-hop neighbours of its
/// owned nodes, whose rows it receives every layer (and whose gradients it sends back).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Boundary {
    /// Global ids, ascending: local rows `owned .. owned + len` of the receive buffer.
    pub nodes: Vec<u32>,
    /// Their positions in [`Layout`] order (rows of the exchange buffers).
    pub positions: Vec<u32>,
    /// How many of them each partition owns (index: the owning partition).
    pub rows_from: Vec<usize>,
}

impl Boundary {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Every partition's boundary in one pass over the adjacency: O(N + E) in all, one reused
/// stamp array (no per-partition O(N) allocation).
pub fn boundaries(adjacency: &Csr, layout: &Layout) -> Vec<Boundary> {
    let parts = layout.parts();
    // stamp[v] = 1 + the last partition that recorded v as a boundary node.
    let mut stamp = vec![0u32; adjacency.rows];
    (0..parts)
        .map(|p| {
            let mark = p as u32 + 1;
            let mut nodes = Vec::new();
            for &u in layout.owned(p) {
                for &v in adjacency.row(u as usize) {
                    if layout.owner[v as usize] as usize != p && stamp[v as usize] != mark {
                        stamp[v as usize] = mark;
                        nodes.push(v);
                    }
                }
            }
            nodes.sort_unstable();
            let positions = nodes.iter().map(|&v| layout.position[v as usize]).collect();
            let mut rows_from = vec![0usize; parts];
            for &v in &nodes {
                rows_from[layout.owner[v as usize] as usize] += 1;
            }
            Boundary { nodes, positions, rows_from }
        })
        .collect()
}

/// Rows that partition q sends partition p per exchange: `m[q][p]`.
pub fn pair_rows(boundaries: &[Boundary]) -> Vec<Vec<usize>> {
    let parts = boundaries.len();
    let mut m = vec![vec![0usize; parts]; parts];
    for (p, b) in boundaries.iter().enumerate() {
        for (q, &rows) in b.rows_from.iter().enumerate() {
            m[q][p] += rows;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_major_order_and_boundaries_of_a_path() {
        // 0-1-2-3-4-5, partitions {0,2,4} and {1,3,5}: every edge is cut.
        let adj = Csr::from_pairs(6, 6, (0..5u32).flat_map(|i| [(i, i + 1), (i + 1, i)]).collect(), true).unwrap();
        let layout = Layout::new(&[0, 1, 0, 1, 0, 1], 2);
        assert_eq!(layout.order, [0, 2, 4, 1, 3, 5]);
        assert_eq!(layout.position, [0, 3, 1, 4, 2, 5]);
        assert_eq!(layout.owned(1), [1, 3, 5]);
        let b = boundaries(&adj, &layout);
        assert_eq!(b[0].nodes, [1, 3, 5]);
        assert_eq!(b[0].positions, [3, 4, 5]);
        assert_eq!(b[1].nodes, [0, 2, 4]);
        assert_eq!(b[0].rows_from, [0, 3]);
        assert_eq!(pair_rows(&b), [[0, 3], [3, 0]]);
        // Contiguous halves: one boundary node each.
        let layout = Layout::new(&[0, 0, 0, 1, 1, 1], 2);
        let b = boundaries(&adj, &layout);
        assert_eq!((b[0].nodes.clone(), b[1].nodes.clone()), (vec![3], vec![2]));
    }
}
