//! The models, one module each, and their registration: [`ModelSpec::architecture`] (what the
//! configuration, the server and the memory estimate need) and [`ModelSpec::layer`] (a layer
//! on a device). Adding a model: its module, a `MODELS` entry, and its variant with an arm in
//! each of the two functions here.

pub mod gat;
pub mod gcn;
pub mod sage;
pub mod spec;

pub use spec::ModelSpec;

use crate::backend::Backend;
pub use crate::model::layer::Preset;
use crate::model::layer::{Architecture, LayerResult, LayerSite};

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

    /// The model's published settings (see each model's `Architecture::preset`).
    pub fn preset(&self) -> Preset {
        self.architecture().preset()
    }
}
