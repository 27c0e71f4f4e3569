//! Which layer-0 rows a training pass can give a gradient: the rows a worker pushes for its
//! learnable embeddings (a row outside this set always gets an exact zero, so sending it would
//! move bytes for nothing, and leaving it out is what lets unused rows age and be pruned).
//!
//! The backward pass sends the loss gradient from the training rows through `Âᵀ` once per layer
//! (`dSupport_l = Âᵀ · dZ_l`, and `dZ_{l−1}` has the rows of `dSupport_l`), so the layer-0 rows
//! reached are the training rows' L-hop neighbourhood in the training operator (Â has self
//! loops, so the set only grows). Structural: a ReLU or dropout zero inside it is still pushed.
//! `sample` is computed on the unsampled operator (a superset of every epoch's sample).

use super::{LocalGraph, Neighbourhood};
use crate::graph::SplitCode;

/// Per worker, its local rows (ascending) whose layer-0 gradient a training pass of `layers`
/// layers can make nonzero. `num_nodes`: the global graph's nodes.
pub fn gradient_rows(locals: &[LocalGraph], layers: usize, num_nodes: usize) -> Vec<Vec<u32>> {
    // Exchange workers share one graph: gradients cross partitions with the boundary rows, so
    // the reach is global (every node is owned by exactly one exchange worker).
    let exchange: Vec<usize> =
        (0..locals.len()).filter(|&i| matches!(locals[i].neighbourhood, Neighbourhood::Exchange { .. })).collect();
    let mut global = vec![false; num_nodes];
    if !exchange.is_empty() {
        for &i in &exchange {
            let g = &locals[i];
            for r in 0..g.num_owned {
                if g.split_codes[r] == SplitCode::Train as u32 {
                    global[g.node_ids[r] as usize] = true;
                }
            }
        }
        for _ in 0..layers {
            let mut next = global.clone();
            for &i in &exchange {
                let g = &locals[i];
                let Some(bd) = g.neighbourhood.boundary() else { continue };
                let column_node =
                    |c: usize| if c < g.num_nodes() { g.node_ids[c] } else { bd.nodes[c - g.num_nodes()] } as usize;
                for r in 0..g.num_nodes() {
                    if global[g.node_ids[r] as usize] {
                        for &c in g.a_hat.row(r) {
                            next[column_node(c as usize)] = true;
                        }
                    }
                }
            }
            global = next;
        }
    }
    locals
        .iter()
        .map(|g| match g.neighbourhood {
            Neighbourhood::Exchange { .. } => {
                (0..g.num_nodes() as u32).filter(|&r| global[g.node_ids[r as usize] as usize]).collect()
            }
            // The worker's own operator holds every path its loss takes.
            Neighbourhood::Complete | Neighbourhood::Dropped { .. } => local_reach(g, layers),
        })
        .collect()
}

/// The L-hop reach of the worker's own training rows through its local `Â` (local columns only).
fn local_reach(g: &LocalGraph, layers: usize) -> Vec<u32> {
    let n = g.num_nodes();
    let mut reached: Vec<bool> = (0..n).map(|r| g.split_codes[r] == SplitCode::Train as u32).collect();
    for _ in 0..layers {
        let mut next = reached.clone();
        for r in (0..n).filter(|&r| reached[r]) {
            for &c in g.a_hat.row(r) {
                if (c as usize) < n {
                    next[c as usize] = true;
                }
            }
        }
        reached = next;
    }
    (0..n as u32).filter(|&r| reached[r as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetSpec;
    use crate::sim::{prepare, Boundary, RunConfig};

    /// Rows reached by brute force: BFS on the global graph from the training nodes.
    fn global_reach(ds: &crate::data::Dataset, layers: usize) -> Vec<bool> {
        let codes = ds.split.codes(ds.num_nodes());
        let mut reached: Vec<bool> = codes.iter().map(|&c| c == SplitCode::Train as u32).collect();
        for _ in 0..layers {
            let mut next = reached.clone();
            for v in (0..ds.num_nodes()).filter(|&v| reached[v]) {
                for &u in ds.adjacency.row(v) {
                    next[u as usize] = true;
                }
            }
            reached = next;
        }
        reached
    }

    #[test]
    fn exchange_and_serial_push_the_training_nodes_l_hop_neighbourhood() {
        let ds = "csbm:nodes=3000,train_per_class=2,avg_degree=3".parse::<DatasetSpec>().unwrap().load().unwrap();
        for layers in [1, 2, 3] {
            let want = global_reach(&ds, layers);
            let reached_count = want.iter().filter(|&&r| r).count();
            assert!(reached_count < ds.num_nodes(), "{layers} layers reach every node: the test says nothing");
            for (partitions, boundary) in [(1, Boundary::Exchange), (4, Boundary::Exchange), (3, Boundary::Stale)] {
                let mut cfg = RunConfig::default();
                cfg.train.layers = layers;
                cfg.parallel.partitions = partitions;
                cfg.parallel.boundary = boundary;
                let problem = prepare(&ds, &cfg).unwrap();
                let rows = gradient_rows(&problem.locals, layers, ds.num_nodes());
                let mut pushed: Vec<u32> = rows
                    .iter()
                    .zip(&problem.locals)
                    .flat_map(|(r, g)| r.iter().map(|&r| g.node_ids[r as usize]))
                    .collect();
                pushed.sort_unstable();
                let expected: Vec<u32> = (0..ds.num_nodes() as u32).filter(|&v| want[v as usize]).collect();
                assert_eq!(pushed, expected, "{layers} layers, P = {partitions} {boundary:?}");
            }
        }
    }

    #[test]
    fn replicate_and_drop_reach_within_the_workers_own_operator() {
        let ds = "csbm:nodes=3000,train_per_class=2,avg_degree=3".parse::<DatasetSpec>().unwrap().load().unwrap();
        let mut cfg = RunConfig::default();
        cfg.parallel.partitions = 4;
        for boundary in [Boundary::Replicate, Boundary::Drop] {
            cfg.parallel.boundary = boundary;
            let problem = prepare(&ds, &cfg).unwrap();
            let rows = gradient_rows(&problem.locals, 2, ds.num_nodes());
            let want = global_reach(&ds, 2);
            for (g, rows) in problem.locals.iter().zip(&rows) {
                // Every pushed row's node is within 2 hops of a training node globally…
                assert!(rows.iter().all(|&r| want[g.node_ids[r as usize] as usize]), "{boundary:?}");
                // …and every owned training row pushes.
                for r in 0..g.num_owned {
                    if g.split_codes[r] == SplitCode::Train as u32 {
                        assert!(rows.contains(&(r as u32)), "{boundary:?}: training row {r} not pushed");
                    }
                }
            }
            if boundary == Boundary::Replicate {
                // The halo carries gradient back: some pushed rows are not owned.
                assert!(problem.locals.iter().zip(&rows).any(|(g, r)| r.iter().any(|&r| r as usize >= g.num_owned)));
            } else {
                assert!(problem.locals.iter().zip(&rows).all(|(g, r)| r.iter().all(|&r| (r as usize) < g.num_owned)));
            }
        }
    }
}
