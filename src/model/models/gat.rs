//! GAT (Veličković et al. 2018; PyG's `GATConv`). Per head h of layer l: `z = H_d·W`,
//! `e_ij = LeakyReLU(a_srcᵀz_j + a_dstᵀz_i)` over the edges of A+I, `α_ij = softmax_j e_ij`
//! per destination (max-subtracted), dropout on α, `h'_i = Σ_j α_ij z_j`; hidden layers
//! concatenate their heads (then ELU), the output layer averages them; a bias after either.
//!
//! What a destination needs from a source row j is `z_j` and its source scores `a_srcᵀz_j`
//! (one per head): that is what crosses partitions (H·C + H wide), and the backward returns
//! the gradients of exactly those. The destination scores stay with their owner.

use crate::backend::{Backend, DropoutSpec, MemCategory, Shape};
use crate::graph::Normalization;
use crate::model::layer::{
    Activation, Architecture, Init, LayerOps, LayerPlan, LayerResult, LayerSite, Operators, ParamSpec, Preset,
};
use crate::model::{GcnShape, Pass};
use crate::rng::MaskKey;
use crate::tensor::HostMatrix;

/// Attention-dropout streams: `MaskKey::layer` with this bit set and the layer in the low bits
/// (feature dropout uses layers below 64, embeddings bit 30, boundary sampling bit 31).
const ATTENTION_DROPOUT_STREAM: u32 = 1 << 29;

#[derive(Clone, Copy, Debug)]
pub struct Gat {
    pub heads: usize,
    pub out_heads: usize,
    pub negative_slope: f32,
    pub attn_dropout: f32,
}

impl Gat {
    /// (heads, columns per head, whether the heads are averaged) of layer l of `layers`.
    fn heads_of(&self, l: usize, layers: usize, out: usize) -> (usize, usize, bool) {
        if l + 1 == layers {
            (self.out_heads, out, true)
        } else {
            (self.heads, out / self.heads, false)
        }
    }
}

impl Architecture for Gat {
    fn normalization(&self) -> Normalization {
        Normalization::SelfLoops
    }

    /// The paper's Cora protocol: 8 hidden per head, dropout 0.6 (inputs; α has its own),
    /// rate 0.005, decay 5e-4, patience 100, at most 1000 epochs.
    fn preset(&self) -> Preset {
        Preset { epochs: 1000, hidden: 8, lr: 0.005, dropout: 0.6, weight_decay: 5e-4, patience: Some(100) }
    }

    fn activation(&self) -> Activation {
        Activation::Elu
    }

    /// `hidden` is per head: a hidden layer is `heads × hidden` wide. Weight decay on W and
    /// the attention vectors, not the biases (the GAT paper's code).
    fn plan(&self, shape: &GcnShape) -> Vec<LayerPlan> {
        let mut fan_in = shape.in_features + shape.embedding_dim;
        (0..shape.layers)
            .map(|l| {
                let last = l + 1 == shape.layers;
                let (heads, c) = if last { (self.out_heads, shape.classes) } else { (self.heads, shape.hidden) };
                let out = if last { c } else { heads * c };
                let glorot = |fan_in, fan_out| Init::Glorot { fan_in, fan_out };
                let param = |name: &str, rows, cols, decay, init| ParamSpec {
                    name: format!("{name}{l}"),
                    rows,
                    cols,
                    decay,
                    init,
                };
                let plan = LayerPlan {
                    fan_in,
                    out,
                    projection: heads * c,
                    exchange: heads * c + heads,
                    params: vec![
                        param("W", fan_in, heads * c, true, glorot(fan_in, heads * c)),
                        param("att_src", heads, c, true, glorot(heads, c)),
                        param("att_dst", heads, c, true, glorot(heads, c)),
                        param("b", 1, out, false, Init::Zeros),
                    ],
                };
                fan_in = out;
                plan
            })
            .collect()
    }

    fn needs_column_ids(&self) -> bool {
        self.attn_dropout > 0.0
    }

    fn draws_in_training(&self) -> bool {
        self.attn_dropout > 0.0
    }

    fn needs_transpose_permutation(&self) -> bool {
        true
    }

    fn layer_bytes(&self, plan: &[LayerPlan], l: usize, n: u128, m: u128, e: u128) -> u128 {
        let p = &plan[l];
        let (h, c, mean) = self.heads_of(l, plan.len(), p.out);
        let (h, hc, out) = (h as u128, (h * c) as u128, p.out as u128);
        let dropout = u128::from(self.attn_dropout > 0.0);
        let mean = u128::from(mean);
        // Scores, exchange rows, gathered rows, per-edge buffers, bias, and their gradients.
        let forward = 2 * n * h + n * (hc + h) + m * (hc + h) + (2 + dropout) * e * h + n + n * out;
        let averaging = mean * (n * hc + hc * c as u128);
        let backward = mean * n * hc + 2 * e * h + m * (hc + h) + n * h + n * (hc + h) + n * hc + n * h;
        4 * (forward + averaging + backward)
    }
}

pub struct GatLayer<M> {
    heads: usize,
    hc: usize,
    rows: usize,
    slope: f32,
    attn_dropout: f32,
    s_src: M,
    s_dst: M,
    exchange: M,
    z_gathered: M,
    s_gathered: M,
    pre: M,
    alpha: M,
    alpha_drop: Option<M>,
    /// The output layer: heads before averaging, and the averaging matrix (H·C × C, 1/H).
    mean: Option<(M, M)>,
    ones: M,
    scratch: M,
    d_heads: Option<M>,
    d_edge: [M; 2],
    /// Which of `d_edge` holds dPre after `propagate`.
    d_pre_at: usize,
    /// Whether the last forward read gathered rows (else its own).
    gathered: bool,
    dz_gathered: M,
    ds_gathered: M,
    ds_dst: M,
    d_exchange: M,
    d_projection: M,
    ds_src: M,
}

pub fn layer<B: Backend>(b: &B, site: &LayerSite<'_>, gat: &Gat) -> LayerResult<B> {
    let (l, n, m, e) = (site.layer, site.rows, site.cols, site.nnz);
    let p = &site.plan[l];
    let (h, c, mean) = gat.heads_of(l, site.plan.len(), p.out);
    let hc = h * c;
    let lbl = |what: &str| format!("{}/{what}{l}", site.label);
    let act = |rows, cols, what: &str| b.alloc(rows, cols, MemCategory::Activations, &lbl(what));
    let grad = |rows, cols, what: &str| b.alloc(rows, cols, MemCategory::Gradients, &lbl(what));
    let mean = if mean {
        let mut avg = HostMatrix::from_vec(hc, c, vec![0.0; hc * c]);
        for head in 0..h {
            for col in 0..c {
                avg.data[(head * c + col) * c + col] = 1.0 / h as f32;
            }
        }
        Some((act(n, hc, "heads")?, b.upload(&avg, MemCategory::Activations, &lbl("head_mean"))?))
    } else {
        None
    };
    Ok(Box::new(GatLayer::<B::Matrix> {
        heads: h,
        hc,
        rows: n,
        slope: gat.negative_slope,
        attn_dropout: gat.attn_dropout,
        s_src: act(n, h, "s_src")?,
        s_dst: act(n, h, "s_dst")?,
        exchange: act(n, hc + h, "exchange_rows")?,
        z_gathered: act(m, hc, "z_gathered")?,
        s_gathered: act(m, h, "s_gathered")?,
        pre: act(e, h, "attention_pre")?,
        alpha: act(e, h, "attention")?,
        alpha_drop: if gat.attn_dropout > 0.0 { Some(act(e, h, "attention_drop")?) } else { None },
        mean,
        ones: b.upload(&HostMatrix::from_vec(n, 1, vec![1.0; n]), MemCategory::Activations, &lbl("ones"))?,
        scratch: act(n, p.out, "gat_scratch")?,
        d_heads: if gat.heads_of(l, site.plan.len(), p.out).2 { Some(grad(n, hc, "d_heads")?) } else { None },
        d_edge: [grad(e, h, "d_attention")?, grad(e, h, "d_attention_pre")?],
        d_pre_at: 0,
        gathered: false,
        dz_gathered: grad(m, hc, "dz_gathered")?,
        ds_gathered: grad(m, h, "ds_gathered")?,
        ds_dst: grad(n, h, "ds_dst")?,
        d_exchange: grad(n, hc + h, "d_exchange")?,
        d_projection: grad(n, hc, "d_projection")?,
        ds_src: grad(n, h, "ds_src")?,
    }))
}

/// The attention dropout of a training pass (the same mask forward and backward).
fn attention_dropout(rate: f32, pass: Pass, layer: usize) -> Option<DropoutSpec> {
    match pass {
        Pass::Train { seed, epoch } if rate > 0.0 => {
            let key = MaskKey { seed, epoch, layer: ATTENTION_DROPOUT_STREAM | layer as u32 };
            Some(DropoutSpec::new(key, rate))
        }
        _ => None,
    }
}

impl<B: Backend> LayerOps<B> for GatLayer<B::Matrix> {
    fn after_projection(&mut self, b: &B, params: &[B::Matrix], projection: &B::Matrix) {
        b.head_dot(projection, &params[0], &mut self.s_src);
        b.head_dot(projection, &params[1], &mut self.s_dst);
        b.copy_cols(projection, 0, &mut self.exchange, 0, self.rows, self.hc);
        b.copy_cols(&self.s_src, 0, &mut self.exchange, self.hc, self.rows, self.heads);
    }

    fn exchange_rows<'a>(&'a self, _projection: &'a B::Matrix) -> &'a B::Matrix {
        &self.exchange
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
        self.gathered = gathered.is_some();
        let (z_src, s_src) = match gathered {
            Some(g) => {
                let m = ops.a.cols();
                b.copy_cols(g, 0, &mut self.z_gathered, 0, m, self.hc);
                b.copy_cols(g, self.hc, &mut self.s_gathered, 0, m, self.heads);
                (&self.z_gathered, &self.s_gathered)
            }
            None => (projection, &self.s_src),
        };
        b.edge_softmax(ops.a, s_src, &self.s_dst, self.slope, &mut self.pre, &mut self.alpha);
        let alpha = match (attention_dropout(self.attn_dropout, ops.pass, ops.layer), self.alpha_drop.as_mut()) {
            (Some(spec), Some(dropped)) => {
                let col_ids = ops.col_ids.expect("attention dropout reads the columns' node ids");
                b.edge_dropout(ops.a, ops.row_ids, col_ids, &spec, &self.alpha, dropped);
                &*dropped
            }
            _ => &self.alpha,
        };
        match self.mean.as_mut() {
            Some((heads, avg)) => {
                b.attention_spmm(ops.a, None, alpha, z_src, heads);
                b.matmul(heads, avg, z, false, false);
            }
            None => b.attention_spmm(ops.a, None, alpha, z_src, z),
        }
        b.matmul(&self.ones, &params[2], &mut self.scratch, false, false);
        b.add_rows(&self.scratch, 0, z, 0, self.rows);
    }

    fn propagate(
        &mut self,
        b: &B,
        ops: &Operators<'_, B>,
        _params: &[B::Matrix],
        projection: &B::Matrix,
        dz: &B::Matrix,
        out: Option<&mut B::Matrix>,
    ) {
        let d_heads = match (self.mean.as_ref(), self.d_heads.as_mut()) {
            (Some((_, avg)), Some(d)) => {
                b.matmul(dz, avg, d, false, true);
                &*d
            }
            _ => dz,
        };
        // The sources' z as the forward read them.
        let z_src = if self.gathered { &self.z_gathered } else { projection };
        let [e0, e1] = &mut self.d_edge;
        b.attention_spmm_backward_alpha(ops.a, z_src, d_heads, e0);
        let spec = attention_dropout(self.attn_dropout, ops.pass, ops.layer);
        let alpha_used = match (spec, self.alpha_drop.as_ref()) {
            (Some(spec), Some(dropped)) => {
                let col_ids = ops.col_ids.expect("attention dropout reads the columns' node ids");
                b.edge_dropout(ops.a, ops.row_ids, col_ids, &spec, e0, e1);
                b.edge_softmax_backward(ops.a, &self.pre, &self.alpha, e1, self.slope, e0);
                self.d_pre_at = 0;
                dropped
            }
            _ => {
                b.edge_softmax_backward(ops.a, &self.pre, &self.alpha, e0, self.slope, e1);
                self.d_pre_at = 1;
                &self.alpha
            }
        };
        let d_pre = &self.d_edge[self.d_pre_at];
        let perm = ops.a_t_perm.expect("GAT's backward reads α in the transpose's order");
        b.attention_spmm(ops.a_t, Some(perm), alpha_used, d_heads, &mut self.dz_gathered);
        b.edge_row_sum(ops.a_t, Some(perm), d_pre, &mut self.ds_gathered);
        b.edge_row_sum(ops.a, None, d_pre, &mut self.ds_dst);
        let m = ops.a.cols();
        let target = out.unwrap_or(&mut self.d_exchange);
        b.copy_cols(&self.dz_gathered, 0, target, 0, m, self.hc);
        b.copy_cols(&self.ds_gathered, 0, target, self.hc, m, self.heads);
    }

    fn d_exchange_mut(&mut self) -> &mut B::Matrix {
        &mut self.d_exchange
    }

    fn finish_backward(
        &mut self,
        b: &B,
        params: &[B::Matrix],
        projection: &B::Matrix,
        dz: &B::Matrix,
        d_params: &mut [B::Matrix],
    ) {
        let n = self.rows;
        b.copy_cols(&self.d_exchange, 0, &mut self.d_projection, 0, n, self.hc);
        b.copy_cols(&self.d_exchange, self.hc, &mut self.ds_src, 0, n, self.heads);
        let (d_att_src, rest) = d_params.split_first_mut().expect("att_src, att_dst, b");
        b.head_dot_backward(projection, &params[0], &self.ds_src, &mut self.d_projection, d_att_src);
        b.head_dot_backward(projection, &params[1], &self.ds_dst, &mut self.d_projection, &mut rest[0]);
        // db = 1ᵀ·dZ.
        b.matmul(&self.ones, dz, &mut rest[1], true, false);
    }

    fn d_projection(&self) -> &B::Matrix {
        &self.d_projection
    }

    /// The side of every LeakyReLU input; inputs within 1e-6 of the kink count as below it (a
    /// step that keeps them that close changes the loss by less than the check resolves).
    fn kink_sides(&self, b: &B) -> Vec<bool> {
        b.download(&self.pre).map(|m| m.data.iter().map(|&x| x > 1e-6).collect()).unwrap_or_default()
    }
}
