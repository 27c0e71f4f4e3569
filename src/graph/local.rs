//! Local graphs of partitions for every boundary mode, and their statistics.
//!
//! Every mode but `replicate` keeps the partition's 1-hop boundary ([`layout::Boundary`]): the
//! exchange modes train with it, `drop` evaluates on the full graph with it. Local node ids are
//! the owned nodes (ascending) then, for `replicate`, the halo by hop; the boundary rows of an
//! exchange come after the owned rows of the receive buffer. Â rows keep the full graph's entry
//! order (ascending global id), so a partition sums each row in the serial order.
//!
//! Building all partitions is O(N + E) (plus the L-hop halos of `replicate`, which are the
//! point of that mode): one stamp array and one local-id array are reused, never allocated per
//! partition.

use super::layout::{self, Layout};
use super::{normalize, Csr, InputFeatures, LocalGraph, Neighbourhood, SplitCode};

/// What a partition does with edges that leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// Each partition holds its owned nodes plus their 1-hop neighbours (boundary nodes), with
    /// the full graph's Â; per layer the owners send the boundary rows of H·W, and in the
    /// backward pass the boundary rows' gradients go back to their owners and are summed there
    /// (DistGNN, CAGNET, BNS-GCN with rate 1). Owned outputs and gradients equal the serial ones.
    #[default]
    Exchange,
    /// Each partition holds its whole L-hop neighbourhood (halo) and recomputes it: no
    /// communication during training, redundant compute and memory. `exact` is its old name.
    #[serde(alias = "exact")]
    #[value(alias = "exact")]
    Replicate,
    /// Each partition trains on its induced subgraph, normalized on that subgraph (Cluster-GCN).
    Drop,
    /// As `exchange`, but the boundary activations and gradients used in epoch t are the ones
    /// exchanged in epoch t−1 (PipeGCN): communication could overlap compute; staleness is
    /// bounded by one epoch. Epoch 1 uses fresh ones.
    Stale,
    /// As `exchange`, but each epoch each partition keeps a random fraction `sample_rate` of its
    /// boundary nodes (BNS-GCN): kept rows are scaled by 1/rate (an unbiased estimate of the full
    /// aggregation, as BNS-GCN's code does), dropped ones are not sent.
    Sample,
}

impl Boundary {
    pub fn name(self) -> &'static str {
        match self {
            Boundary::Exchange => "exchange",
            Boundary::Replicate => "replicate",
            Boundary::Drop => "drop",
            Boundary::Stale => "stale",
            Boundary::Sample => "sample",
        }
    }

    /// Whether training moves boundary rows between partitions every layer.
    pub fn exchanges(self) -> bool {
        matches!(self, Boundary::Exchange | Boundary::Stale | Boundary::Sample)
    }
}

/// The full graph, preprocessed.
pub struct GlobalGraph<'a> {
    pub adjacency: &'a Csr,
    /// The model's operator over the whole graph (`normalization` of `adjacency`).
    pub a_hat: &'a Csr,
    /// How `a_hat` came from `adjacency` (`drop` normalizes each induced subgraph the same way).
    pub normalization: normalize::Normalization,
    pub features: &'a InputFeatures,
    pub labels: &'a [u32],
    pub split_codes: &'a [u32],
}

/// What one partition holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartitionStats {
    pub part: usize,
    pub owned: usize,
    pub owned_train: usize,
    /// Adjacency entries from an owned node to a node owned elsewhere.
    pub cut_edges: usize,
    /// 1-hop neighbours owned elsewhere: the rows an exchange receives per layer.
    pub boundary_nodes: usize,
    /// Halo nodes at hop 1, 2, … (`replicate` only).
    pub halo_per_hop: Vec<usize>,
    /// Rows held: owned + halo (`replicate`) or owned + boundary (exchange modes) or owned.
    pub local_nodes: usize,
    /// Input-feature bytes of the halo, fetched once at set-up (`replicate`).
    pub halo_feature_bytes: u64,
}

impl PartitionStats {
    /// Nodes held but owned elsewhere.
    pub fn halo(&self) -> usize {
        self.local_nodes - self.owned
    }
}

/// Whole-partitioning summaries.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartitioningSummary {
    pub parts: usize,
    /// Undirected edges whose ends are owned by different partitions.
    pub edge_cut: usize,
    #[serde(with = "crate::report::nonfinite")]
    pub edge_cut_fraction: f64,
    /// Σ local nodes / N: how many copies of a node exist on average.
    #[serde(with = "crate::report::nonfinite")]
    pub replication_factor: f64,
    /// Largest owned count over the mean.
    #[serde(with = "crate::report::nonfinite")]
    pub balance: f64,
    /// Nodes held but owned elsewhere, summed over partitions.
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

/// All partitions' local graphs for `mode`, with the layout of the exchange buffers.
pub struct Partitioning {
    pub layout: Layout,
    pub locals: Vec<LocalGraph>,
    pub stats: Vec<PartitionStats>,
}

/// Reused per-node scratch: local id of a node in the partition being built (`u32::MAX`: not
/// local). Entries set for one partition are reset before the next.
struct LocalIds(Vec<u32>);

impl LocalIds {
    fn assign(&mut self, nodes: &[u32], first: usize) {
        for (i, &v) in nodes.iter().enumerate() {
            // Local ids < nodes held ≤ N ≤ u32::MAX.
            self.0[v as usize] = (first + i) as u32;
        }
    }

    fn clear(&mut self, nodes: &[u32]) {
        for &v in nodes {
            self.0[v as usize] = u32::MAX;
        }
    }

    fn get(&self, v: u32) -> Option<u32> {
        let l = self.0[v as usize];
        (l != u32::MAX).then_some(l)
    }
}

/// One local graph per partition; see the module docs.
pub fn build(g: &GlobalGraph<'_>, assignment: &[u32], parts: usize, mode: Boundary, layers: usize) -> Partitioning {
    let layout = Layout::new(assignment, parts);
    let boundaries = if mode == Boundary::Replicate {
        vec![layout::Boundary::default(); parts]
    } else {
        layout::boundaries(g.adjacency, &layout)
    };
    let mut ids = LocalIds(vec![u32::MAX; g.adjacency.rows]);
    let mut hop = vec![u32::MAX; g.adjacency.rows];
    let (locals, stats) = boundaries
        .into_iter()
        .enumerate()
        .map(|(p, boundary)| {
            let owned = layout.owned(p);
            let cut_edges = owned
                .iter()
                .map(|&u| {
                    g.adjacency.row(u as usize).iter().filter(|&&v| layout.owner[v as usize] as usize != p).count()
                })
                .sum();
            let (local, mut stats) = match mode {
                Boundary::Replicate => replicate(g, owned, layers, &mut ids, &mut hop),
                Boundary::Drop => drop_subgraph(g, owned, boundary, &mut ids),
                Boundary::Exchange | Boundary::Stale | Boundary::Sample => exchanging(g, owned, boundary, &mut ids),
            };
            stats.part = p;
            stats.cut_edges = cut_edges;
            (local, stats)
        })
        .unzip();
    Partitioning { layout, locals, stats }
}

fn stats_of(local: &LocalGraph, boundary_nodes: usize, local_nodes: usize) -> PartitionStats {
    let train = SplitCode::Train as u32;
    PartitionStats {
        part: 0,
        owned: local.num_owned,
        owned_train: local.split_codes[..local.num_owned].iter().filter(|&&c| c == train).count(),
        cut_edges: 0,
        boundary_nodes,
        halo_per_hop: Vec::new(),
        local_nodes,
        halo_feature_bytes: 0,
    }
}

/// Rows of `g.a_hat` for `rows`, their columns mapped through `ids` (entries whose column is not
/// local are dropped); the entry order stays the full graph's. Rows of nodes `empty` says are
/// left empty.
fn a_hat_rows(g: &GlobalGraph<'_>, rows: &[u32], cols: usize, ids: &LocalIds, empty: impl Fn(usize) -> bool) -> Csr {
    let mut row_ptr = Vec::with_capacity(rows.len() + 1);
    row_ptr.push(0u32);
    let (mut col_idx, mut values) = (Vec::new(), Vec::new());
    for (r, &u) in rows.iter().enumerate() {
        if !empty(r) {
            let range = g.a_hat.row_ptr[u as usize] as usize..g.a_hat.row_ptr[u as usize + 1] as usize;
            for k in range {
                if let Some(l) = ids.get(g.a_hat.col_idx[k]) {
                    col_idx.push(l);
                    values.push(g.a_hat.values[k]);
                }
            }
        }
        // At most the full Â's entries, whose offsets fit.
        row_ptr.push(col_idx.len() as u32);
    }
    Csr { rows: rows.len(), cols, row_ptr, col_idx, values }
}

fn local_graph(g: &GlobalGraph<'_>, nodes: Vec<u32>, num_owned: usize, a_hat: Csr) -> LocalGraph {
    let split_codes =
        nodes.iter().enumerate().map(|(i, &v)| if i < num_owned { g.split_codes[v as usize] } else { 0 }).collect();
    LocalGraph {
        labels: nodes.iter().map(|&v| g.labels[v as usize]).collect(),
        features: g.features.gather_rows(&nodes),
        node_ids: nodes,
        num_owned,
        a_hat,
        split_codes,
        neighbourhood: Neighbourhood::Complete,
    }
}

/// `exchange`, `stale`, `sample`: owned rows, full-graph Â over owned + boundary columns.
fn exchanging(
    g: &GlobalGraph<'_>,
    owned: &[u32],
    boundary: layout::Boundary,
    ids: &mut LocalIds,
) -> (LocalGraph, PartitionStats) {
    let n = owned.len();
    ids.assign(owned, 0);
    ids.assign(&boundary.nodes, n);
    let a_hat = a_hat_rows(g, owned, n + boundary.len(), ids, |_| false);
    ids.clear(owned);
    ids.clear(&boundary.nodes);
    let b = boundary.len();
    let mut local = local_graph(g, owned.to_vec(), n, a_hat);
    local.neighbourhood = Neighbourhood::Exchange { boundary };
    let stats = stats_of(&local, b, n + b);
    (local, stats)
}

/// `drop`: the induced subgraph normalized on itself for training; the full-graph operator with
/// the boundary kept for evaluation.
fn drop_subgraph(
    g: &GlobalGraph<'_>,
    owned: &[u32],
    boundary: layout::Boundary,
    ids: &mut LocalIds,
) -> (LocalGraph, PartitionStats) {
    let n = owned.len();
    ids.assign(owned, 0);
    ids.assign(&boundary.nodes, n);
    let eval_a_hat = a_hat_rows(g, owned, n + boundary.len(), ids, |_| false);
    ids.clear(&boundary.nodes);
    // The induced adjacency: owned rows, owned columns.
    let mut row_ptr = vec![0u32];
    let mut col_idx = Vec::new();
    for &u in owned {
        col_idx.extend(g.adjacency.row(u as usize).iter().filter_map(|&v| ids.get(v)));
        row_ptr.push(col_idx.len() as u32);
    }
    ids.clear(owned);
    let sub = Csr { rows: n, cols: n, row_ptr, col_idx, values: Vec::new() };
    // A subgraph plus its self-loops is no larger than the full graph's Â, which fit.
    let a_hat = g.normalization.apply(&sub).expect("a subgraph's operator fits when the full graph's does");
    let b = boundary.len();
    let mut local = local_graph(g, owned.to_vec(), n, a_hat);
    local.neighbourhood = Neighbourhood::Dropped { boundary, full_a_hat: eval_a_hat };
    let stats = stats_of(&local, b, n);
    (local, stats)
}

/// `replicate`: the owned nodes and their `layers`-hop neighbourhood; rows of nodes within
/// `layers − 1` hops carry the full graph's Â row, so owned outputs equal the full-graph
/// outputs; nodes at the last hop only feed inputs and get empty rows.
fn replicate(
    g: &GlobalGraph<'_>,
    owned: &[u32],
    layers: usize,
    ids: &mut LocalIds,
    hop: &mut [u32],
) -> (LocalGraph, PartitionStats) {
    owned.iter().for_each(|&u| hop[u as usize] = 0);
    let mut nodes: Vec<u32> = owned.to_vec();
    let mut halo_per_hop = Vec::new();
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
    ids.assign(&nodes, 0);
    let last = layers as u32;
    let a_hat = a_hat_rows(g, &nodes, nodes.len(), ids, |r| hop[nodes[r] as usize] >= last);
    ids.clear(&nodes);
    nodes.iter().for_each(|&v| hop[v as usize] = u32::MAX);
    let owned_count = owned.len();
    let local = local_graph(g, nodes, owned_count, a_hat);
    let mut stats = stats_of(&local, halo_per_hop.first().copied().unwrap_or(0), local.num_nodes());
    // Halo rows follow the owned rows in the local features: count them there.
    stats.halo_feature_bytes = local.features.rows_byte_len(owned_count..local.num_nodes());
    stats.halo_per_hop = halo_per_hop;
    (local, stats)
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

    fn global<'a>(
        adj: &'a Csr,
        a_hat: &'a Csr,
        feats: &'a InputFeatures,
        labels: &'a [u32],
        codes: &'a [u32],
    ) -> GlobalGraph<'a> {
        GlobalGraph {
            adjacency: adj,
            a_hat,
            normalization: Normalization::Symmetric,
            features: feats,
            labels,
            split_codes: codes,
        }
    }

    #[test]
    fn every_mode_on_a_path() {
        let adj = path(6);
        let a_hat = Normalization::Symmetric.apply(&adj).unwrap();
        let feats = InputFeatures::Dense(HostMatrix::zeros(6, 2));
        let (labels, codes) = (vec![0u32; 6], vec![1u32; 6]);
        let g = global(&adj, &a_hat, &feats, &labels, &codes);
        let assignment = [0, 0, 0, 1, 1, 1];

        let r = build(&g, &assignment, 2, Boundary::Replicate, 2);
        assert_eq!(r.locals[0].node_ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(r.stats[0].halo_per_hop, vec![1, 1]);
        assert_eq!(r.stats[0].cut_edges, 1);
        // Node 3 (hop 1) keeps its full row; node 4 (hop 2 = L) has an empty row.
        assert_eq!(r.locals[0].a_hat.row(3).len(), 3);
        assert_eq!(r.locals[0].a_hat.row(4).len(), 0);
        assert_eq!(r.locals[0].split_codes, vec![1, 1, 1, 0, 0]);
        let summary = summarize(&r.stats, 6, 5);
        assert_eq!(summary.edge_cut, 1);
        assert!((summary.replication_factor - 10.0 / 6.0).abs() < 1e-12);

        let e = build(&g, &assignment, 2, Boundary::Exchange, 2);
        let l1 = &e.locals[1];
        assert_eq!(l1.node_ids, vec![3, 4, 5]);
        assert_eq!(l1.neighbourhood.boundary().unwrap().nodes, vec![2]);
        // Node 3's full row: 2 (boundary, local 3), 3, 4 — in global order, full-graph values.
        assert_eq!(l1.a_hat.row(0), &[3, 0, 1]);
        assert_eq!(l1.a_hat.row_values(0), a_hat.row_values(3));
        assert_eq!((l1.a_hat.rows, l1.a_hat.cols), (3, 4));
        assert_eq!(e.stats[1].local_nodes, 4);
        assert!(l1.features.rows() == 3, "owned rows only");

        let d = build(&g, &assignment, 2, Boundary::Drop, 2);
        let l1 = &d.locals[1];
        // Node 3 is an end of the induced path: degree 1 + self-loop.
        assert!((l1.a_hat.row_values(0)[0] - 0.5).abs() < 1e-7);
        let Neighbourhood::Dropped { full_a_hat, .. } = &l1.neighbourhood else { panic!("drop keeps the full rows") };
        assert_eq!(full_a_hat.row(0), &[3, 0, 1]);
        assert_eq!(d.stats[1].halo(), 0);
    }
}
