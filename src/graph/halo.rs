//! Local graphs of partitions, with or without halos, and their statistics.

use super::{normalize, Csr};
use crate::model::{InputFeatures, LocalGraph};
use crate::sim::Boundary;

/// The full graph, preprocessed.
pub struct GlobalGraph<'a> {
    pub adjacency: &'a Csr,
    pub a_hat: &'a Csr,
    pub features: &'a InputFeatures,
    pub labels: &'a [u32],
    pub split_codes: &'a [u32],
}

/// What one partition holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PartitionStats {
    pub part: usize,
    pub owned: usize,
    pub owned_train: usize,
    /// Adjacency entries from an owned node to a node owned elsewhere.
    pub cut_edges: usize,
    /// Halo nodes at hop 1, 2, … (empty for `drop`).
    pub halo_per_hop: Vec<usize>,
    pub local_nodes: usize,
    /// Input-feature bytes of the halo, fetched once at set-up.
    pub halo_feature_bytes: u64,
}

impl PartitionStats {
    pub fn halo(&self) -> usize {
        self.halo_per_hop.iter().sum()
    }
}

/// Whole-partitioning summaries.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartitioningSummary {
    pub parts: usize,
    /// Undirected edges whose ends are owned by different partitions.
    pub edge_cut: usize,
    pub edge_cut_fraction: f64,
    /// Σ local nodes / N: how many copies of a node exist on average.
    pub replication_factor: f64,
    /// Largest owned count over the mean.
    pub balance: f64,
    pub halo_nodes: usize,
}

pub fn summarize(stats: &[PartitionStats], num_nodes: usize, undirected_edges: usize) -> PartitioningSummary {
    let cut: usize = stats.iter().map(|s| s.cut_edges).sum::<usize>() / 2;
    let local: usize = stats.iter().map(|s| s.local_nodes).sum();
    let max_owned = stats.iter().map(|s| s.owned).max().unwrap_or(0);
    PartitioningSummary {
        parts: stats.len(),
        edge_cut: cut,
        edge_cut_fraction: if undirected_edges == 0 { 0.0 } else { cut as f64 / undirected_edges as f64 },
        replication_factor: local as f64 / num_nodes as f64,
        balance: max_owned as f64 / (num_nodes as f64 / stats.len() as f64),
        halo_nodes: stats.iter().map(|s| s.halo()).sum(),
    }
}

/// One local graph per partition. With `Exact`, partition p holds its owned nodes and their
/// `layers`-hop neighbourhood; rows of nodes within `layers − 1` hops carry the full graph's Â
/// row, so owned outputs equal the full-graph outputs; nodes at the last hop only feed inputs and
/// get empty rows. With `Drop`, partition p holds the subgraph induced by its nodes, normalized
/// on that subgraph.
pub fn build_local_graphs(
    g: &GlobalGraph<'_>,
    assignment: &[u32],
    parts: usize,
    boundary: Boundary,
    layers: usize,
) -> (Vec<LocalGraph>, Vec<PartitionStats>) {
    let mut owned_by: Vec<Vec<u32>> = vec![Vec::new(); parts];
    for (node, &p) in assignment.iter().enumerate() {
        owned_by[p as usize].push(node as u32);
    }
    owned_by.iter().enumerate().map(|(p, owned)| build_one(g, assignment, p, owned, boundary, layers)).unzip()
}

fn build_one(
    g: &GlobalGraph<'_>,
    assignment: &[u32],
    part: usize,
    owned: &[u32],
    boundary: Boundary,
    layers: usize,
) -> (LocalGraph, PartitionStats) {
    let n = g.adjacency.rows;
    let cut_edges = owned
        .iter()
        .map(|&u| g.adjacency.row(u as usize).iter().filter(|&&v| assignment[v as usize] as usize != part).count())
        .sum();
    // Hop distance from the owned set (u32::MAX = not local).
    let mut hop = vec![u32::MAX; n];
    owned.iter().for_each(|&u| hop[u as usize] = 0);
    let mut nodes: Vec<u32> = owned.to_vec();
    let mut halo_per_hop = Vec::new();
    if boundary == Boundary::Exact {
        let mut frontier = owned.to_vec();
        for h in 1..=layers as u32 {
            let mut next = Vec::new();
            for &u in &frontier {
                for &v in g.adjacency.row(u as usize) {
                    if hop[v as usize] == u32::MAX {
                        hop[v as usize] = h;
                        next.push(v);
                    }
                }
            }
            next.sort_unstable();
            halo_per_hop.push(next.len());
            nodes.extend_from_slice(&next);
            frontier = next;
        }
    }
    let a_hat = match boundary {
        Boundary::Exact => {
            let mut a = g.a_hat.submatrix(&nodes, &nodes);
            empty_rows_beyond(&mut a, &nodes, &hop, layers as u32 - 1);
            a
        }
        Boundary::Drop => {
            let sub = g.adjacency.submatrix(&nodes, &nodes);
            // A subgraph plus its self-loops is no larger than the full graph's Â, which fit.
            normalize::Normalization::Symmetric.apply(&sub).expect("a subgraph's Â fits when the full graph's does")
        }
    };
    let owned_count = owned.len();
    let split_codes: Vec<u32> =
        nodes.iter().enumerate().map(|(i, &v)| if i < owned_count { g.split_codes[v as usize] } else { 0 }).collect();
    let owned_train = split_codes.iter().filter(|&&c| c == crate::data::SplitCode::Train as u32).count();
    let features = g.features.gather_rows(&nodes);
    // Halo rows follow the owned rows in the local features: count them there, no second gather.
    let halo_feature_bytes = features.rows_byte_len(owned_count..nodes.len());
    let stats = PartitionStats {
        part,
        owned: owned_count,
        owned_train,
        cut_edges,
        halo_per_hop,
        local_nodes: nodes.len(),
        halo_feature_bytes,
    };
    let local = LocalGraph {
        labels: nodes.iter().map(|&v| g.labels[v as usize]).collect(),
        node_ids: nodes,
        num_owned: owned_count,
        a_hat,
        features,
        split_codes,
    };
    (local, stats)
}

/// Clears the rows of nodes farther than `max_hop` from the owned set: their inputs are
/// incomplete, and no owned output depends on them.
fn empty_rows_beyond(a: &mut Csr, nodes: &[u32], hop: &[u32], max_hop: u32) {
    let mut row_ptr = Vec::with_capacity(a.rows + 1);
    let mut col_idx = Vec::with_capacity(a.nnz());
    let mut values = Vec::with_capacity(a.nnz());
    row_ptr.push(0u32);
    for (r, &v) in nodes.iter().enumerate() {
        if hop[v as usize] <= max_hop {
            let range = a.row_ptr[r] as usize..a.row_ptr[r + 1] as usize;
            col_idx.extend_from_slice(&a.col_idx[range.clone()]);
            values.extend_from_slice(&a.values[range]);
        }
        row_ptr.push(col_idx.len() as u32);
    }
    *a = Csr { rows: a.rows, cols: a.cols, row_ptr, col_idx, values };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Normalization;
    use crate::tensor::HostMatrix;

    fn path(n: u32) -> Csr {
        Csr::from_pairs(n as usize, n as usize, (0..n - 1).flat_map(|i| [(i, i + 1), (i + 1, i)]).collect(), true)
            .unwrap()
    }

    #[test]
    fn exact_halo_on_a_path() {
        let adj = path(6);
        let a_hat = Normalization::Symmetric.apply(&adj).unwrap();
        let feats = InputFeatures::Dense(HostMatrix::zeros(6, 2));
        let labels = vec![0u32; 6];
        let codes = vec![1u32; 6];
        let g = GlobalGraph { adjacency: &adj, a_hat: &a_hat, features: &feats, labels: &labels, split_codes: &codes };
        let assignment = [0, 0, 0, 1, 1, 1];
        let (locals, stats) = build_local_graphs(&g, &assignment, 2, Boundary::Exact, 2);
        assert_eq!(locals[0].node_ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(stats[0].halo_per_hop, vec![1, 1]);
        assert_eq!(stats[0].cut_edges, 1);
        // Node 3 (hop 1) keeps its full row; node 4 (hop 2 = L) has an empty row.
        assert_eq!(locals[0].a_hat.row(3).len(), 3);
        assert_eq!(locals[0].a_hat.row(4).len(), 0);
        assert_eq!(locals[0].split_codes, vec![1, 1, 1, 0, 0]);
        let summary = summarize(&stats, 6, 5);
        assert_eq!(summary.edge_cut, 1);
        assert!((summary.replication_factor - 10.0 / 6.0).abs() < 1e-12);

        let (drop, dstats) = build_local_graphs(&g, &assignment, 2, Boundary::Drop, 2);
        assert_eq!(drop[1].node_ids, vec![3, 4, 5]);
        assert!(dstats[1].halo_per_hop.is_empty());
        // Node 3 is an end of the induced path: degree 1 + self-loop.
        assert!((drop[1].a_hat.row_values(0)[0] - 0.5).abs() < 1e-7);
    }
}
