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
];
