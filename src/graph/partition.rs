//! Partitioners: which worker owns which node. Seeded and deterministic.

use super::Csr;
use crate::rng::SplitMix64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PartitionerKind {
    /// Uniformly random, balanced (a seeded shuffle dealt round-robin).
    Random,
    /// Id ranges: node i goes to ⌊i·P/N⌋.
    Contiguous,
    /// METIS k-way (vendored), fixed seed, on the symmetrized graph.
    #[default]
    Metis,
}

#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("cannot split {nodes} nodes into {parts} partitions: every partition needs a node")]
    TooManyParts { parts: usize, nodes: usize },
    #[error("METIS failed on a graph of {nodes} nodes into {parts} parts: {message}")]
    Metis { nodes: usize, parts: usize, message: String },
    #[error(transparent)]
    TooLarge(#[from] super::csr::TooLarge),
}

/// Partition id of every node.
pub fn assign(adj: &Csr, parts: usize, kind: PartitionerKind, seed: u64) -> Result<Vec<u32>, PartitionError> {
    let n = adj.rows;
    if parts == 0 || parts > n {
        return Err(PartitionError::TooManyParts { parts, nodes: n });
    }
    if parts == 1 {
        return Ok(vec![0; n]);
    }
    let mut part = match kind {
        PartitionerKind::Random => random(n, parts, seed),
        PartitionerKind::Contiguous => (0..n).map(|i| (i as u64 * parts as u64 / n as u64) as u32).collect(),
        PartitionerKind::Metis => metis_kway(adj, parts, seed)?,
    };
    fill_empty_parts(&mut part, parts);
    Ok(part)
}

fn random(n: usize, parts: usize, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    SplitMix64::new(seed ^ 0x7061_7274).shuffle(&mut order); // "part"
    let mut part = vec![0u32; n];
    for (i, &node) in order.iter().enumerate() {
        part[node as usize] = (i % parts) as u32;
    }
    part
}

fn metis_kway(adj: &Csr, parts: usize, seed: u64) -> Result<Vec<u32>, PartitionError> {
    let sym = if adj.is_symmetric() { adj.clone() } else { adj.symmetrized()? };
    let err = |message: String| PartitionError::Metis { nodes: adj.rows, parts, message };
    // METIS indexes with i32: every offset must fit.
    if sym.nnz() > i32::MAX as usize || parts > i32::MAX as usize {
        return Err(err(format!(
            "{} adjacency entries exceed METIS's 32-bit signed indices; use --partitioner random or contiguous",
            sym.nnz()
        )));
    }
    let xadj: Vec<metis::Idx> = sym.row_ptr.iter().map(|&x| x as metis::Idx).collect();
    let adjncy: Vec<metis::Idx> = sym.col_idx.iter().map(|&x| x as metis::Idx).collect();
    let mut part = vec![0 as metis::Idx; adj.rows];
    // METIS seeds one process-wide random state: two threads partitioning at once interleave
    // their draws and get different parts. One partitioning at a time keeps every run
    // reproducible (found when tests ran concurrently in one process).
    static METIS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = METIS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    metis::Graph::new(1, parts as metis::Idx, &xadj, &adjncy)
        .map_err(|e| err(format!("{e:?}")))?
        .set_option(metis::option::Seed((seed % (i32::MAX as u64)) as metis::Idx))
        .part_kway(&mut part)
        .map_err(|e| err(format!("{e:?}")))?;
    Ok(part.into_iter().map(|p| p as u32).collect())
}

/// METIS may leave a part empty on tiny or disconnected graphs; a worker without nodes makes no
/// sense, so move the highest-id node of the largest part into each empty one (deterministic).
fn fill_empty_parts(part: &mut [u32], parts: usize) {
    loop {
        let mut sizes = vec![0usize; parts];
        for &p in part.iter() {
            sizes[p as usize] += 1;
        }
        let Some(empty) = sizes.iter().position(|&s| s == 0) else { return };
        let largest = (0..parts).max_by_key(|&p| (sizes[p], std::cmp::Reverse(p))).expect("parts ≥ 1") as u32;
        let node = part.iter().rposition(|&p| p == largest).expect("largest part has a node");
        part[node] = empty as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: u32) -> Csr {
        Csr::from_pairs(
            n as usize,
            n as usize,
            (0..n).flat_map(|i| [(i, (i + 1) % n), ((i + 1) % n, i)]).collect(),
            true,
        )
        .unwrap()
    }

    #[test]
    fn every_partitioner_is_balanced_and_deterministic() {
        let g = ring(100);
        for kind in [PartitionerKind::Random, PartitionerKind::Contiguous, PartitionerKind::Metis] {
            let a = assign(&g, 4, kind, 1).unwrap();
            assert_eq!(a, assign(&g, 4, kind, 1).unwrap(), "{kind:?} is not deterministic");
            let mut sizes = [0usize; 4];
            a.iter().for_each(|&p| sizes[p as usize] += 1);
            assert!(sizes.iter().all(|&s| (20..=30).contains(&s)), "{kind:?}: {sizes:?}");
        }
    }

    #[test]
    fn metis_cuts_a_ring_into_arcs() {
        let a = assign(&ring(100), 4, PartitionerKind::Metis, 0).unwrap();
        let cut = (0..100).filter(|&i| a[i] != a[(i + 1) % 100]).count();
        assert!(cut <= 8, "a ring into 4 arcs cuts ~4 edges, got {cut}");
    }

    #[test]
    fn rejects_more_parts_than_nodes() {
        assert!(matches!(
            assign(&ring(3), 4, PartitionerKind::Random, 0),
            Err(PartitionError::TooManyParts { parts: 4, nodes: 3 })
        ));
    }

    #[test]
    fn empty_parts_get_a_node() {
        let mut part = vec![0, 0, 0, 1];
        fill_empty_parts(&mut part, 3);
        assert_eq!(part, vec![0, 0, 2, 1]);
    }
}
