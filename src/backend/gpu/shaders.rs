//! The WGSL sources, compiled into the binary. One file per kernel family under `shaders/`.

pub const SPMM: &str = include_str!("../../../shaders/spmm.wgsl");
pub const MATMUL: &str = include_str!("../../../shaders/matmul.wgsl");
pub const RELU: &str = include_str!("../../../shaders/relu.wgsl");
pub const DROPOUT: &str = include_str!("../../../shaders/dropout.wgsl");
pub const SOFTMAX_XENT: &str = include_str!("../../../shaders/softmax_xent.wgsl");
pub const REDUCE: &str = include_str!("../../../shaders/reduce.wgsl");
pub const WEIGHTED_SUM: &str = include_str!("../../../shaders/weighted_sum.wgsl");
pub const OPTIMIZER: &str = include_str!("../../../shaders/optimizer.wgsl");
pub const EXCHANGE: &str = include_str!("../../../shaders/exchange.wgsl");
pub const TRIMMED_MEAN: &str = include_str!("../../../shaders/trimmed_mean.wgsl");
pub const PAIRWISE_SQ_DISTS: &str = include_str!("../../../shaders/pairwise_sq_dists.wgsl");
pub const KRUM: &str = include_str!("../../../shaders/krum.wgsl");
pub const NNM: &str = include_str!("../../../shaders/nnm.wgsl");
pub const COMBINE_ROWS: &str = include_str!("../../../shaders/combine_rows.wgsl");
/// The row-space helpers, prepended to each kernel that uses them (WGSL has no includes).
macro_rules! with_row_space {
    ($file:literal) => {
        concat!(include_str!("../../../shaders/row_space.wgsl"), "\n", include_str!($file))
    };
}
pub const ROW_DISTANCES: &str = with_row_space!("../../../shaders/row_distances.wgsl");
pub const WEIGHTED_ROWS: &str = with_row_space!("../../../shaders/weighted_rows.wgsl");
pub const GEOMETRIC_MEDIAN: &str = with_row_space!("../../../shaders/geometric_median.wgsl");
pub const CENTERED_CLIPPING: &str = with_row_space!("../../../shaders/centered_clipping.wgsl");
pub const BYZANTINE_ATTACK: &str = include_str!("../../../shaders/byzantine_attack.wgsl");
pub const ATTENTION: &str = include_str!("../../../shaders/attention.wgsl");
pub const ELU: &str = include_str!("../../../shaders/elu.wgsl");
pub const HEADS: &str = include_str!("../../../shaders/heads.wgsl");
pub const EDGE_SUMS: &str = include_str!("../../../shaders/edge_sums.wgsl");
pub const QUANTIZE: &str = include_str!("../../../shaders/quantize.wgsl");
pub const SPARSIFY: &str = include_str!("../../../shaders/sparsify.wgsl");
pub const POWERSGD: &str = include_str!("../../../shaders/powersgd.wgsl");

/// (file name, source) of every shader.
pub const ALL: &[(&str, &str)] = &[
    ("spmm.wgsl", SPMM),
    ("matmul.wgsl", MATMUL),
    ("relu.wgsl", RELU),
    ("dropout.wgsl", DROPOUT),
    ("softmax_xent.wgsl", SOFTMAX_XENT),
    ("reduce.wgsl", REDUCE),
    ("weighted_sum.wgsl", WEIGHTED_SUM),
    ("optimizer.wgsl", OPTIMIZER),
    ("exchange.wgsl", EXCHANGE),
    ("trimmed_mean.wgsl", TRIMMED_MEAN),
    ("pairwise_sq_dists.wgsl", PAIRWISE_SQ_DISTS),
    ("krum.wgsl", KRUM),
    ("nnm.wgsl", NNM),
    ("combine_rows.wgsl", COMBINE_ROWS),
    ("row_distances.wgsl", ROW_DISTANCES),
    ("weighted_rows.wgsl", WEIGHTED_ROWS),
    ("geometric_median.wgsl", GEOMETRIC_MEDIAN),
    ("centered_clipping.wgsl", CENTERED_CLIPPING),
    ("byzantine_attack.wgsl", BYZANTINE_ATTACK),
    ("attention.wgsl", ATTENTION),
    ("elu.wgsl", ELU),
    ("heads.wgsl", HEADS),
    ("edge_sums.wgsl", EDGE_SUMS),
    ("quantize.wgsl", QUANTIZE),
    ("sparsify.wgsl", SPARSIFY),
    ("powersgd.wgsl", POWERSGD),
];
