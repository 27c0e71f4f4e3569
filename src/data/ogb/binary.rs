//! OGB's binary raw layout (`read_binary_graph_raw`, used by ogbn-papers100M):
//!
//! ```text
//! raw/data.npz        edge_index [2, E], num_nodes_list [1], num_edges_list [1],
//!                     node_feat [N, F] (and other node_*/edge_* arrays, ignored)
//! raw/node-label.npz  node_label [N] or [N, 1]; NaN marks a node without a label
//! ```
//!
//! Node property prediction has one graph, so both lists hold one number. OGB refuses
//! `add_inverse_edge` for this layout; edges are read as they are (and symmetrized for GCN).

use std::path::Path;

use super::{Parts, MAX_CLASSES};
use crate::data::npz::{Npz, Number};
use crate::data::DataError;
use crate::graph::Csr;
use crate::tensor::HostMatrix;

pub(super) const DATA: &str = "data.npz";
pub(super) const LABELS: &str = "node-label.npz";

/// Reads `raw/data.npz` and `raw/node-label.npz`; edges in both directions when `symmetrize`.
pub(super) fn read(raw: &Path, symmetrize: bool) -> Result<Parts, DataError> {
    let data_path = raw.join(DATA);
    let mut data = Npz::open(&data_path)?;
    let num_nodes = single_count(&mut data, "num_nodes_list")?;
    if num_nodes == 0 || num_nodes > u32::MAX as u64 {
        return Err(invalid(&data_path, format!("array `num_nodes_list`: unsupported node count {num_nodes}")));
    }
    let num_nodes = num_nodes as usize;
    let declared_edges = single_count(&mut data, "num_edges_list")?;
    let features = read_features(&mut data, num_nodes)?;
    let (pairs, edge_count) = read_edge_index(&mut data, num_nodes, symmetrize)?;
    if declared_edges != edge_count {
        let message =
            format!("array `num_edges_list` declares {declared_edges} edges but `edge_index` has {edge_count}");
        return Err(invalid(&data_path, message));
    }
    let (labels, unlabeled) = read_labels(&raw.join(LABELS), num_nodes)?;
    let adjacency = Csr::from_pairs(num_nodes, num_nodes, pairs, true)
        .map_err(|e| DataError::Invalid { path: data_path.clone(), message: e.to_string() })?;
    Ok(Parts { num_nodes, labels, unlabeled, features, adjacency, edge_count, warnings: Vec::new() })
}

/// A one-element list (one graph).
fn single_count(npz: &mut Npz, key: &str) -> Result<u64, DataError> {
    let list = npz.read(key, |v, _| match v.as_i64() {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(format!("expected a non-negative integer, found {v}")),
    })?;
    match list.data[..] {
        [n] => Ok(n),
        _ => Err(invalid(
            npz.path(),
            format!("array `{key}`: holds {} numbers; node property prediction has one graph", list.data.len()),
        )),
    }
}

fn read_features(npz: &mut Npz, num_nodes: usize) -> Result<HostMatrix, DataError> {
    let shape = npz.shape("node_feat")?;
    let [rows, cols] = shape[..] else {
        return Err(invalid(npz.path(), format!("array `node_feat`: expected shape [N, F], found {shape:?}")));
    };
    if rows != num_nodes {
        let message = format!("array `node_feat`: {rows} rows but num_nodes_list says {num_nodes} nodes");
        return Err(invalid(npz.path(), message));
    }
    let array = npz.read("node_feat", |v, _| {
        let x = v.as_f64() as f32;
        if x.is_finite() {
            Ok(x)
        } else {
            Err(format!("feature is not finite ({v})"))
        }
    })?;
    Ok(HostMatrix::from_vec(rows, cols, array.data))
}

/// `edge_index` [2, E] as (src, dst) pairs, and E.
fn read_edge_index(npz: &mut Npz, num_nodes: usize, symmetrize: bool) -> Result<(Vec<(u32, u32)>, u64), DataError> {
    let shape = npz.shape("edge_index")?;
    let [2, edges] = shape[..] else {
        return Err(invalid(npz.path(), format!("array `edge_index`: expected shape [2, E], found {shape:?}")));
    };
    // Csr offsets are u32.
    if edges.saturating_mul(if symmetrize { 2 } else { 1 }) > u32::MAX as usize {
        return Err(invalid(npz.path(), format!("array `edge_index`: {edges} edges are too many for u32 offsets")));
    }
    let ids = npz.read("edge_index", |v, _| node_id(v, num_nodes))?;
    let (src, dst) = ids.data.split_at(edges);
    let mut pairs = Vec::with_capacity(if symmetrize { 2 * edges } else { edges });
    for (&s, &d) in src.iter().zip(dst) {
        pairs.push((s, d));
        if symmetrize {
            pairs.push((d, s));
        }
    }
    Ok((pairs, edges as u64))
}

fn node_id(v: Number, num_nodes: usize) -> Result<u32, String> {
    match v.as_i64() {
        Some(id) if id >= 0 && (id as u64) < num_nodes as u64 => Ok(id as u32),
        Some(id) => Err(format!("node id {id} out of range (the graph has {num_nodes} nodes)")),
        None => Err(format!("node id {v} is not an integer")),
    }
}

/// Labels, and the nodes whose label is NaN (they get 0 and must stay out of the split).
fn read_labels(path: &Path, num_nodes: usize) -> Result<(Vec<u32>, Vec<u32>), DataError> {
    let mut npz = Npz::open(path)?;
    let shape = npz.shape("node_label")?;
    if !matches!(shape[..], [n] | [n, 1] if n == num_nodes) {
        let message = if shape.len() == 2 && shape[1] > 1 {
            format!(
                "array `node_label`: shape {shape:?} holds {} labels per node; gcnsim trains single-label classification",
                shape[1]
            )
        } else {
            format!("array `node_label`: expected shape [{num_nodes}] or [{num_nodes}, 1], found {shape:?}")
        };
        return Err(invalid(path, message));
    }
    let mut unlabeled = Vec::new();
    let labels = npz.read("node_label", |v, i| {
        if matches!(v, Number::Float(x) if x.is_nan()) {
            unlabeled.push(i as u32);
            return Ok(0);
        }
        match v.as_i64() {
            Some(y) if (0..MAX_CLASSES as i64).contains(&y) => Ok(y as u32),
            _ => Err(format!("label {v} is not a class id (an integer in 0..{MAX_CLASSES}, or NaN for none)")),
        }
    })?;
    Ok((labels.data, unlabeled))
}

fn invalid(path: &Path, message: String) -> DataError {
    DataError::Invalid { path: path.to_owned(), message }
}
