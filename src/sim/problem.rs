//! From a dataset and a config to what the workers train on: normalized features, Â, and one
//! local graph per partition.

use super::config::{Boundary, FeatureNorm, FeatureSource, RunConfig};
use crate::data::Dataset;
use crate::graph::local;
use crate::graph::{normalize, partition};
pub use crate::model::Problem;
use crate::model::{GcnShape, InputFeatures};

/// Preprocesses `ds` for `cfg` (validated against the dataset first).
pub fn prepare(ds: &Dataset, cfg: &RunConfig) -> Result<Problem, super::SimError> {
    cfg.validate_for(ds.num_nodes())?;
    let mut features = match cfg.train.features {
        FeatureSource::Dataset => ds.features.clone(),
        FeatureSource::None => crate::tensor::HostMatrix::from_vec(ds.num_nodes(), 0, Vec::new()),
    };
    let row_normalized = match cfg.train.feature_norm {
        FeatureNorm::Row => true,
        FeatureNorm::None => false,
        FeatureNorm::Auto => features.data.iter().all(|&x| x >= 0.0),
    };
    if row_normalized {
        normalize::row_normalize(&mut features);
    }
    let features = InputFeatures::auto(features)?;
    let normalization = cfg.train.model.architecture().normalization();
    let a_hat = normalization.apply(&ds.adjacency)?;
    let codes = ds.split.codes(ds.num_nodes());
    let p = &cfg.parallel;
    let assignment = partition::assign(&ds.adjacency, p.partitions, p.partitioner, cfg.train.seed)?;
    // One partition holds the whole graph: nothing to exchange, replicate or drop.
    let mode = if p.partitions == 1 { Boundary::Replicate } else { p.boundary };
    let built = local::build(
        &local::GlobalGraph {
            adjacency: &ds.adjacency,
            a_hat: &a_hat,
            normalization,
            features: &features,
            labels: &ds.labels,
            split_codes: &codes,
        },
        &assignment,
        p.partitions,
        mode,
        cfg.train.layers,
    );
    let shape = GcnShape {
        model: cfg.train.model,
        in_features: features.cols(),
        embedding_dim: cfg.train.embedding_dim,
        hidden: cfg.train.hidden,
        layers: cfg.train.layers,
        classes: ds.num_classes,
    };
    let embedding_rows = if cfg.train.embedding_dim > 0 {
        crate::model::receptive::gradient_rows(&built.locals, cfg.train.layers, ds.num_nodes())
    } else {
        vec![Vec::new(); built.locals.len()]
    };
    Ok(Problem {
        name: ds.name.clone(),
        dataset_fingerprint: ds.fingerprint(),
        embedding_rows,
        shape,
        layout: built.layout,
        locals: built.locals,
        partitions: built.stats,
        undirected_edges: ds.num_undirected_edges(),
        row_normalized,
    })
}
