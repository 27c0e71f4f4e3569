//! Kipf & Welling's GCN layer: `Z = Â·(H_d·W)`, Â = D^-1/2 (A+I) D^-1/2. What crosses partitions
//! is the projection `H·W` itself (fan_out wide: the smaller of H and H·W on every dataset here).

use crate::backend::{Backend, MemCategory};
use crate::graph::Normalization;
use crate::model::layer::{
    Activation, Architecture, Init, LayerOps, LayerPlan, LayerResult, LayerSite, Operators, ParamSpec, Preset,
};
use crate::model::GcnShape;

#[derive(Clone, Copy, Debug, Default)]
pub struct Gcn;

impl Architecture for Gcn {
    fn normalization(&self) -> Normalization {
        Normalization::Symmetric
    }

    /// Kipf & Welling's: 200 epochs, 16 hidden, rate 0.01, dropout 0.5, decay 5e-4 (first layer).
    fn preset(&self) -> Preset {
        Preset { epochs: 200, hidden: 16, lr: 0.01, dropout: 0.5, weight_decay: 5e-4, patience: None }
    }

    fn activation(&self) -> Activation {
        Activation::Relu
    }

    /// One weight per layer; weight decay on the first only (Kipf's code).
    fn plan(&self, shape: &GcnShape) -> Vec<LayerPlan> {
        shape
            .layer_dims()
            .into_iter()
            .enumerate()
            .map(|(l, (fan_in, fan_out))| LayerPlan {
                fan_in,
                out: fan_out,
                projection: fan_out,
                exchange: fan_out,
                params: vec![ParamSpec {
                    name: format!("W{l}"),
                    rows: fan_in,
                    cols: fan_out,
                    decay: l == 0,
                    init: Init::Glorot { fan_in, fan_out },
                }],
            })
            .collect()
    }

    fn layer_bytes(&self, plan: &[LayerPlan], l: usize, rows: u128, _cols: u128, _nnz: u128) -> u128 {
        // dSupport.
        4 * rows * plan[l].out as u128
    }
}

/// The layer's own buffer: `dSupport = Âᵀ·dZ` (the projection's gradient).
pub struct GcnLayer<M> {
    d_support: M,
}

pub fn layer<B: Backend>(b: &B, site: &LayerSite<'_>) -> LayerResult<B> {
    let (l, out) = (site.layer, site.plan[site.layer].out);
    let d_support = b.alloc(site.rows, out, MemCategory::Gradients, &format!("{}/d_support{l}", site.label))?;
    Ok(Box::new(GcnLayer::<B::Matrix> { d_support }))
}

impl<B: Backend> LayerOps<B> for GcnLayer<B::Matrix> {
    fn after_projection(&mut self, _b: &B, _params: &[B::Matrix], _projection: &B::Matrix) {}

    fn exchange_rows<'a>(&'a self, projection: &'a B::Matrix) -> &'a B::Matrix {
        projection
    }

    fn aggregate(
        &mut self,
        b: &B,
        ops: &Operators<'_, B>,
        _params: &[B::Matrix],
        projection: &B::Matrix,
        gathered: Option<&B::Matrix>,
        z: &mut B::Matrix,
    ) {
        b.spmm(ops.a, gathered.unwrap_or(projection), z);
    }

    fn propagate(
        &mut self,
        b: &B,
        ops: &Operators<'_, B>,
        _params: &[B::Matrix],
        _projection: &B::Matrix,
        dz: &B::Matrix,
        out: Option<&mut B::Matrix>,
    ) {
        // Âᵀ through the precomputed transpose: no atomics, deterministic.
        b.spmm(ops.a_t, dz, out.unwrap_or(&mut self.d_support));
    }

    fn d_exchange_mut(&mut self) -> &mut B::Matrix {
        &mut self.d_support
    }

    fn finish_backward(
        &mut self,
        _b: &B,
        _params: &[B::Matrix],
        _projection: &B::Matrix,
        _dz: &B::Matrix,
        _d_params: &mut [B::Matrix],
    ) {
    }

    fn d_projection(&self) -> &B::Matrix {
        &self.d_support
    }
}
