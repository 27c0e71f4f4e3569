//! [`KernelCost`]: the work of each backend op from the shapes it runs, counted for the
//! roofline (`cost::roofline` turns it into time on a device).
//!
//! Counting convention, for every op:
//! - f32 values, u32 indices: 4 bytes each;
//! - **compulsory traffic**: each input read once, each output written once, as if caches held
//!   everything a kernel reuses — except SpMM's gathered rows of x, see [`KernelCost::spmm`];
//! - one add, multiply, compare, select, exp, log, sqrt or divide is one FLOP (the GPU's special
//!   function units make exp/log/sqrt slower than that; the roofline ignores it);
//! - integer work (indexing, the dropout mask hash) is not counted;
//! - per-op scalars (learning rate, β, stats slots of a few floats) are not counted unless noted.
//!
//! Adding two costs models one fused kernel (one launch).

use std::iter::Sum;
use std::ops::{Add, AddAssign};

const F32: f64 = 4.0;
const U32: f64 = 4.0;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KernelCost {
    /// f32 floating-point operations.
    pub flops: f64,
    /// Bytes moved between the device memory and the cores.
    pub bytes: f64,
}

impl Add for KernelCost {
    type Output = KernelCost;

    fn add(self, o: KernelCost) -> KernelCost {
        KernelCost { flops: self.flops + o.flops, bytes: self.bytes + o.bytes }
    }
}

impl AddAssign for KernelCost {
    fn add_assign(&mut self, o: KernelCost) {
        *self = *self + o;
    }
}

impl Sum for KernelCost {
    fn sum<I: Iterator<Item = KernelCost>>(iter: I) -> KernelCost {
        iter.fold(KernelCost::default(), Add::add)
    }
}

impl KernelCost {
    /// `out (rows × k) = A (rows × cols, CSR, nnz entries) · x (cols × k)`.
    ///
    /// FLOPs: 2·nnz·k (a multiply and an add per entry and column).
    /// Bytes: row_ptr (rows + 1)·4, col_idx and values nnz·8, **x gathered per entry** nnz·k·4,
    /// out rows·k·4. Each entry reads the k-wide row of x its column points to; on graphs those
    /// rows are scattered and reused little before eviction, so the gathered traffic (not the
    /// compulsory cols·k·4) is the usual SpMM roofline. It overestimates traffic for graphs
    /// whose x fits in cache (small cols·k) or that are reordered for locality.
    pub fn spmm(rows: usize, cols: usize, nnz: usize, k: usize) -> Self {
        assert!(nnz as u128 <= rows as u128 * cols as u128, "spmm: {nnz} entries do not fit a {rows}x{cols} matrix");
        let (rows, nnz, k) = (rows as f64, nnz as f64, k as f64);
        KernelCost {
            flops: 2.0 * nnz * k,
            bytes: (rows + 1.0) * U32 + nnz * (U32 + F32) + nnz * k * F32 + rows * k * F32,
        }
    }

    /// `out (m × n) = op(A) (m × k) · op(B) (k × n)`, any transposes (they change the access
    /// pattern, not the compulsory traffic). FLOPs 2·m·k·n; bytes (m·k + k·n + m·n)·4, i.e. perfect
    /// reuse through caches/shared memory, which tiled kernels approach for the GCN's small W.
    pub fn matmul(m: usize, k: usize, n: usize) -> Self {
        let (m, k, n) = (m as f64, k as f64, n as f64);
        KernelCost { flops: 2.0 * m * k * n, bytes: (m * k + k * n + m * n) * F32 }
    }

    /// `n` independent elements, each reading `inputs` f32s, writing `outputs` f32s and doing
    /// `flops_per_element` FLOPs. The per-op helpers below fix these numbers.
    pub fn elementwise(n: usize, inputs: usize, outputs: usize, flops_per_element: f64) -> Self {
        let n = n as f64;
        KernelCost { flops: n * flops_per_element, bytes: n * (inputs + outputs) as f64 * F32 }
    }

    /// `out = max(x, 0)`: 1 in, 1 out, 1 FLOP (compare).
    pub fn relu(n: usize) -> Self {
        Self::elementwise(n, 1, 1, 1.0)
    }

    /// `out = grad · [output > 0]`: 2 in, 1 out, 1 FLOP (compare; the select is free).
    pub fn relu_backward(n: usize) -> Self {
        Self::elementwise(n, 2, 1, 1.0)
    }

    /// `dst = src`: 1 in, 1 out, no FLOPs.
    pub fn copy(n: usize) -> Self {
        Self::elementwise(n, 1, 1, 0.0)
    }

    /// `out = x > 0 ? x : exp(x) − 1`: 1 in, 1 out, 3 FLOPs (compare, exp, subtract).
    pub fn elu(n: usize) -> Self {
        Self::elementwise(n, 1, 1, 3.0)
    }

    /// `out = grad · (output > 0 ? 1 : output + 1)`: 2 in, 1 out, 3 FLOPs (compare, add, multiply).
    pub fn elu_backward(n: usize) -> Self {
        Self::elementwise(n, 2, 1, 3.0)
    }

    /// `s (rows × heads) = per-head dots of x (rows × heads·c) with att (heads × c)`: 2·rows·heads·c
    /// FLOPs; x, att read once, s written once.
    pub fn head_dot(rows: usize, heads: usize, c: usize) -> Self {
        let (r, h, c) = (rows as f64, heads as f64, c as f64);
        KernelCost { flops: 2.0 * r * h * c, bytes: (r * h * c + h * c + r * h) * F32 }
    }

    /// Backward of [`Self::head_dot`]: `dx += ds · att` (2 FLOPs per element of x; dx read and
    /// written) and `d_att = Σ_rows ds · x` (2 per element of x); x, ds, att read once, d_att
    /// written once. The row-block partials of d_att (heads·c per 256 rows) are not counted.
    pub fn head_dot_backward(rows: usize, heads: usize, c: usize) -> Self {
        let (r, h, c) = (rows as f64, heads as f64, c as f64);
        KernelCost { flops: 4.0 * r * h * c, bytes: (3.0 * r * h * c + r * h + 2.0 * h * c) * F32 }
    }

    /// `out (rows × heads)`: per row of a CSR with `nnz` entries, the sum of its entries' rows of
    /// a per-edge matrix (nnz × heads), through a permutation if `permuted`. FLOPs nnz·heads
    /// (one add each); bytes: row_ptr, the values (absent entries are skipped), the permutation,
    /// the per-edge rows and out.
    pub fn edge_row_sum(rows: usize, nnz: usize, heads: usize, permuted: bool) -> Self {
        let (r, e, h) = (rows as f64, nnz as f64, heads as f64);
        let perm = if permuted { e * U32 } else { 0.0 };
        KernelCost { flops: e * h, bytes: (r + 1.0) * U32 + e * F32 + perm + e * h * F32 + r * h * F32 }
    }

    /// `d_alpha (nnz × heads)`: per entry (i, j) of a CSR and head, the dot of row i of d_out with
    /// row j of x over the head's c columns. FLOPs 2·nnz·heads·c; bytes as [`Self::spmm`]'s
    /// (row_ptr, col_idx and values, x's rows **gathered per entry**, d_out's rows read once)
    /// plus d_alpha written once.
    pub fn attention_spmm_backward_alpha(rows: usize, nnz: usize, heads: usize, c: usize) -> Self {
        let (r, e, h, c) = (rows as f64, nnz as f64, heads as f64, c as f64);
        KernelCost {
            flops: 2.0 * e * h * c,
            bytes: (r + 1.0) * U32 + e * (U32 + F32) + e * h * c * F32 + r * h * c * F32 + e * h * F32,
        }
    }

    /// Dense dropout of a rows × cols matrix: 1 in, 1 out, 1 FLOP (the scale multiply) per element,
    /// plus one u32 node id per row. The mask hash is integer work and not counted.
    pub fn dropout(rows: usize, cols: usize) -> Self {
        Self::elementwise(rows * cols, 1, 1, 1.0) + KernelCost { flops: 0.0, bytes: rows as f64 * U32 }
    }

    /// Dropout on the `nnz` stored values of a CSR matrix with `rows` rows, reading `node_ids`
    /// ids (rows for the node-rows layout, cols for the transposed one): values in and out, 1
    /// FLOP each, plus row_ptr, col_idx and the ids.
    pub fn dropout_sparse(rows: usize, nnz: usize, node_ids: usize) -> Self {
        Self::elementwise(nnz, 1, 1, 1.0) + KernelCost { flops: 0.0, bytes: ((rows + 1) + nnz + node_ids) as f64 * U32 }
    }

    /// One step of `step` on `n` parameters: reads param, grad and the state slots, writes param
    /// and the state; FLOPs as `OptimizerStep::flops_per_element` counts them.
    pub fn optimizer_step(n: usize, step: &super::OptimizerStep) -> Self {
        let slots = step.state_slots();
        Self::elementwise(n, 2 + slots, 1 + slots, step.flops_per_element())
    }

    /// Masked softmax cross-entropy over `rows × classes` logits (the `Backend::softmax_xent` op).
    ///
    /// Per row: max (c − 1 compares), exp(x − max) (2c), their sum (c − 1), log and lse (2), the
    /// loss (1): 4c + 1 FLOPs; with the gradient, `(exp(x − lse) − onehot)·scale` adds 4c.
    /// Bytes: logits, labels and split codes read once, the gradient written once if asked, and
    /// the 9 stats floats.
    pub fn softmax_xent(rows: usize, classes: usize, with_grad: bool) -> Self {
        let (r, c) = (rows as f64, classes as f64);
        let flops_per_row = 4.0 * c + 1.0 + if with_grad { 4.0 * c } else { 0.0 };
        let grad_bytes = if with_grad { r * c * F32 } else { 0.0 };
        KernelCost { flops: r * flops_per_row, bytes: r * c * F32 + 2.0 * r * U32 + grad_bytes + 9.0 * F32 }
    }

    /// `Σ x²` over `n` values (`sum_squares`): 2 FLOPs per element, n floats in, one out.
    pub fn reduction(n: usize) -> Self {
        KernelCost { flops: 2.0 * n as f64, bytes: (n as f64 + 1.0) * F32 }
    }

    /// `out = Σ_p w_p · inputs[p]` over `p` inputs of `n` elements: p multiplies and p − 1 adds per
    /// element; reads p·n values and p weights, writes n. The summation order (flat or tree)
    /// does not change the count.
    pub fn weighted_sum(p: usize, n: usize) -> Self {
        assert!(p > 0, "weighted_sum: no inputs");
        let (p, n) = (p as f64, n as f64);
        KernelCost { flops: (2.0 * p - 1.0) * n, bytes: (p * n + p + n) * F32 }
    }

    /// A robust rule over `rows` rows of `d` (`Backend::robust_aggregate`), as its kernels work:
    /// - median, trimmed mean: per coordinate every value is ranked against the others (r²
    ///   compares), then r − 2f averaged; the rows read once, the aggregate written once;
    /// - (multi-)Krum: the Gram matrix (a matmul, r·d·r), then the m chosen rows averaged;
    /// - geometric median: the coordinate-wise median (as above), then per Weiszfeld step the r
    ///   row-space distances (two passes over the rows: the largest difference, 2 FLOPs per
    ///   element, then the scaled squares as exact partial products, 10) and the reweighted sum
    ///   (exact partial products, 8), each pass reading the rows again;
    /// - centered clipping: per round the same distances and reweighted sum.
    ///
    /// The n × n selection steps and the selection row are negligible and not counted.
    pub fn robust_aggregate(rule: &super::RobustStep, rows: usize, d: usize) -> Self {
        use super::RobustStep;
        let r = rows as f64;
        let pass = |flops: f64| Self::elementwise(rows * d, 1, 0, flops);
        let write = Self::elementwise(d, 0, 1, 0.0);
        match *rule {
            RobustStep::Median | RobustStep::TrimmedMean { .. } => pass(r + 1.0) + write,
            RobustStep::Krum { m, .. } => Self::matmul(rows, d, rows) + Self::elementwise(m * d, 1, 0, 1.0) + write,
            RobustStep::GeometricMedian { iters, .. } => {
                pass(r + 1.0) + write + (0..iters).map(|_| pass(2.0) + pass(10.0) + pass(8.0) + write).sum()
            }
            RobustStep::CenteredClipping { iters, .. } => {
                (0..iters).map(|_| pass(2.0) + pass(10.0) + pass(8.0) + write).sum()
            }
        }
    }

    /// A pre-aggregation of n rows of `d` (`Backend::pre_aggregate`): NNM computes the Gram
    /// matrix and averages n − f rows per output row; bucketing averages every row into its
    /// bucket once.
    pub fn pre_aggregate(pre: &super::PreAggregationStep, n: usize, d: usize) -> Self {
        use super::PreAggregationStep;
        match pre {
            PreAggregationStep::None => Self::default(),
            PreAggregationStep::Nnm { f } => Self::matmul(n, d, n) + Self::elementwise(n * d, n - f, 1, (n - f) as f64),
            PreAggregationStep::Bucketing { .. } => {
                Self::elementwise(n * d, 1, 0, 1.0) + Self::elementwise(pre.rows_out(n) * d, 0, 1, 0.0)
            }
        }
    }
}
