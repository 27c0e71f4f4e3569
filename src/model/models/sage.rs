//! GraphSAGE with the mean aggregator (Hamilton et al. 2017; PyG's `SAGEConv`, full-graph):
//! `Z = H_d·W_root + mean_{j∈N(i)} (H_d·W_neigh)_j + b` over the raw adjacency (no self-loops).
//! The mean of projected rows equals the projection of the mean, so what crosses partitions is
//! `H·W_neigh` (out wide), as for the GCN. The two weights are one tensor `[W_neigh | W_root]`
//! (fan_in × 2·out, each block Glorot-initialized), so one projection computes both.

use crate::backend::{Backend, MemCategory};
use crate::graph::Normalization;
use crate::model::layer::{
    Activation, Architecture, Init, LayerOps, LayerPlan, LayerResult, LayerSite, Operators, ParamSpec, Preset,
};
use crate::model::GcnShape;
use crate::tensor::HostMatrix;

#[derive(Clone, Copy, Debug)]
pub struct Sage {
    /// Whether the root term `H·W_root` is added (PyG's `root_weight`).
    pub root: bool,
}

impl Architecture for Sage {
    fn normalization(&self) -> Normalization {
        Normalization::Mean
    }

    /// PyG's full-graph settings for Cora with hidden 64 (chosen over 16 on validation accuracy:
    /// the book's models chapter).
    fn preset(&self) -> Preset {
        Preset { epochs: 200, hidden: 64, lr: 0.01, dropout: 0.5, weight_decay: 5e-4, patience: None }
    }

    fn activation(&self) -> Activation {
        Activation::Relu
    }

    /// Per layer `[W_neigh | W_root]` and a bias; weight decay on the weights.
    fn plan(&self, shape: &GcnShape) -> Vec<LayerPlan> {
        let blocks = if self.root { 2 } else { 1 };
        shape
            .layer_dims()
            .into_iter()
            .enumerate()
            .map(|(l, (fan_in, out))| LayerPlan {
                fan_in,
                out,
                projection: blocks * out,
                exchange: out,
                params: vec![
                    ParamSpec {
                        name: format!("W{l}"),
                        rows: fan_in,
                        cols: blocks * out,
                        decay: true,
                        init: Init::Glorot { fan_in, fan_out: out },
                    },
                    ParamSpec { name: format!("b{l}"), rows: 1, cols: out, decay: false, init: Init::Zeros },
                ],
            })
            .collect()
    }

    fn layer_bytes(&self, plan: &[LayerPlan], l: usize, rows: u128, _cols: u128, _nnz: u128) -> u128 {
        let out = plan[l].out as u128;
        // ones, scratch, d_exchange; with the root term also the neighbour rows and dP.
        let root = if self.root { rows * out + rows * 2 * out } else { 0 };
        4 * (rows + 2 * rows * out + root)
    }
}

pub struct SageLayer<M> {
    root: bool,
    out: usize,
    rows: usize,
    /// A column of ones: the bias as a rank-1 product, and its gradient as `1ᵀ·dZ`.
    ones: M,
    scratch: M,
    /// `H·W_neigh` (the first block of P) when P also holds the root block.
    neigh: Option<M>,
    d_exchange: M,
    /// `[dNeigh | dZ]` with the root term.
    d_projection: Option<M>,
}

pub fn layer<B: Backend>(b: &B, site: &LayerSite<'_>, root: bool) -> LayerResult<B> {
    let (l, n, out) = (site.layer, site.rows, site.plan[site.layer].out);
    let lbl = |what: &str| format!("{}/{what}{l}", site.label);
    let ones = b.upload(&HostMatrix::from_vec(n, 1, vec![1.0; n]), MemCategory::Activations, &lbl("ones"))?;
    let scratch = b.alloc(n, out, MemCategory::Activations, &lbl("sage_scratch"))?;
    let neigh = if root { Some(b.alloc(n, out, MemCategory::Activations, &lbl("neigh"))?) } else { None };
    let d_exchange = b.alloc(n, out, MemCategory::Gradients, &lbl("d_neigh"))?;
    let d_projection =
        if root { Some(b.alloc(n, 2 * out, MemCategory::Gradients, &lbl("d_projection"))?) } else { None };
    Ok(Box::new(SageLayer::<B::Matrix> { root, out, rows: n, ones, scratch, neigh, d_exchange, d_projection }))
}

impl<B: Backend> LayerOps<B> for SageLayer<B::Matrix> {
    fn after_projection(&mut self, b: &B, _params: &[B::Matrix], projection: &B::Matrix) {
        if let Some(neigh) = self.neigh.as_mut() {
            b.copy_cols(projection, 0, neigh, 0, self.rows, self.out);
        }
    }

    fn exchange_rows<'a>(&'a self, projection: &'a B::Matrix) -> &'a B::Matrix {
        self.neigh.as_ref().unwrap_or(projection)
    }

    fn aggregate(
        &mut self,
        b: &B,
        ops: &Operators<'_, B>,
        params: &[B::Matrix],
        projection: &B::Matrix,
        gathered: Option<&B::Matrix>,
        z: &mut B::Matrix,
    ) {
        let own = self.neigh.as_ref().unwrap_or(projection);
        b.spmm(ops.a, gathered.unwrap_or(own), z);
        if self.root {
            b.copy_cols(projection, self.out, &mut self.scratch, 0, self.rows, self.out);
            b.add_rows(&self.scratch, 0, z, 0, self.rows);
        }
        b.matmul(&self.ones, &params[0], &mut self.scratch, false, false);
        b.add_rows(&self.scratch, 0, z, 0, self.rows);
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
        b.spmm(ops.a_t, dz, out.unwrap_or(&mut self.d_exchange));
    }

    fn d_exchange_mut(&mut self) -> &mut B::Matrix {
        &mut self.d_exchange
    }

    fn finish_backward(
        &mut self,
        b: &B,
        _params: &[B::Matrix],
        _projection: &B::Matrix,
        dz: &B::Matrix,
        d_params: &mut [B::Matrix],
    ) {
        if let Some(dp) = self.d_projection.as_mut() {
            b.copy_cols(&self.d_exchange, 0, dp, 0, self.rows, self.out);
            b.copy_cols(dz, 0, dp, self.out, self.rows, self.out);
        }
        // db = 1ᵀ·dZ.
        b.matmul(&self.ones, dz, &mut d_params[0], true, false);
    }

    fn d_projection(&self) -> &B::Matrix {
        self.d_projection.as_ref().unwrap_or(&self.d_exchange)
    }
}
