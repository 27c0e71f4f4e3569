//! The models, one module each, and their registration: [`ModelSpec::architecture`] (what the
//! configuration, the server and the memory estimate need) and [`ModelSpec::layer`] (a layer
//! on a device). Adding a model: its module, a `MODELS` entry and a variant with its arms here.

pub mod gat;
pub mod gcn;
pub mod sage;
pub mod spec;

pub use spec::ModelSpec;

use crate::backend::Backend;
use crate::model::layer::{Architecture, LayerResult, LayerSite};

/// A model's published training settings: what `--model NAME` trains with unless a flag says
/// otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    pub epochs: usize,
    pub hidden: usize,
    pub lr: f32,
    pub dropout: f32,
    pub weight_decay: f32,
    /// Stop when neither the validation loss nor the validation accuracy improved for this
    /// many epochs (the GAT paper's rule).
    pub patience: Option<usize>,
}

impl ModelSpec {
    pub fn architecture(&self) -> Box<dyn Architecture> {
        match *self {
            ModelSpec::Gcn => Box::new(gcn::Gcn),
            ModelSpec::Sage { root } => Box::new(sage::Sage { root }),
            ModelSpec::Gat { heads, out_heads, negative_slope, attn_dropout } => {
                Box::new(gat::Gat { heads, out_heads, negative_slope, attn_dropout })
            }
        }
    }

    /// Layer `site.layer` on a worker.
    pub fn layer<B: Backend>(&self, b: &B, site: &LayerSite<'_>) -> LayerResult<B> {
        match *self {
            ModelSpec::Gcn => gcn::layer(b, site),
            ModelSpec::Sage { root } => sage::layer(b, site, root),
            ModelSpec::Gat { heads, out_heads, negative_slope, attn_dropout } => {
                gat::layer(b, site, &gat::Gat { heads, out_heads, negative_slope, attn_dropout })
            }
        }
    }

    /// The model's published settings. GCN: Kipf & Welling's (200 epochs, 16 hidden, rate
    /// 0.01, dropout 0.5, decay 5e-4 on the first layer). GraphSAGE: PyG's full-graph example
    /// settings for Cora (see the book's models chapter for the sweep that chose hidden 64).
    /// GAT: the paper's Cora protocol (8 heads × 8 hidden, dropout 0.6 on inputs and attention,
    /// rate 0.005, decay 5e-4, patience 100, at most 1000 epochs).
    pub fn preset(&self) -> Preset {
        match self {
            ModelSpec::Gcn => {
                Preset { epochs: 200, hidden: 16, lr: 0.01, dropout: 0.5, weight_decay: 5e-4, patience: None }
            }
            ModelSpec::Sage { .. } => {
                Preset { epochs: 200, hidden: 64, lr: 0.01, dropout: 0.5, weight_decay: 5e-4, patience: None }
            }
            ModelSpec::Gat { .. } => {
                Preset { epochs: 1000, hidden: 8, lr: 0.005, dropout: 0.6, weight_decay: 5e-4, patience: Some(100) }
            }
        }
    }
}
