//! The server's optimizer steps as one element-wise backend op ([`super::Backend::optimizer_step`]):
//! every optimizer is a kernel (`shaders/optimizer.wgsl`) with a CPU twin (`cpu::optim`), both in
//! the operation order written here. `g` is the aggregated gradient, `p` the parameter; coupled
//! weight decay `wd` (all but AdamW and FTRL) adds `wd·p` to `g` first, as Kipf's Adam does.

use super::AdamStep;

/// One step's hyper-parameters, already scheduled (the learning rate of this step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerStep {
    /// `p −= lr·g`.
    Sgd { lr: f32, weight_decay: f32 },
    /// Heavy ball (PyTorch's form): `v = μ·v + g; p −= lr·v`. State: v.
    Momentum { lr: f32, weight_decay: f32, momentum: f32 },
    /// Nesterov momentum (PyTorch's form): `v = μ·v + g; p −= lr·(g + μ·v)`. State: v.
    Nesterov { lr: f32, weight_decay: f32, momentum: f32 },
    /// Adagrad (Duchi et al.; Keras's form): `a += g²; p −= lr·g / (√a + ε)`. State: a, which
    /// the caller initialises to the initial accumulator value (Keras/TensorFlow: 0.1).
    Adagrad { lr: f32, weight_decay: f32, eps: f32 },
    /// RMSprop (Hinton; PyTorch's form): `s = ρ·s + (1 − ρ)·g²; p −= lr·g / (√s + ε)`. State: s.
    Rmsprop { lr: f32, weight_decay: f32, rho: f32, eps: f32 },
    /// Adam, TensorFlow's form (see [`AdamStep`]). State: m, v.
    Adam(AdamStep),
    /// AdamW (Loshchilov & Hutter, PyTorch's order): `p ·= keep` with `keep = 1 − lr·λ`
    /// (decoupled decay, computed on the host in f32), then Adam's update with `lr_t` and no
    /// decay in g. State: m, v.
    AdamW { lr_t: f32, beta1: f32, beta2: f32, eps: f32, keep: f32 },
    /// FTRL-Proximal (McMahan et al. 2013, Algorithm 1, per coordinate):
    /// `σ = (√(n + g²) − √n) / α; z += g − σ·p; n += g²;`
    /// `p = 0 if |z| ≤ λ1, else −(z − sign(z)·λ1) / ((β + √n) / α + λ2)`.
    /// λ2 is the paper's: the per-coordinate objective carries (λ2 / 2)·p², so TensorFlow's
    /// `l2_regularization_strength` is λ2 / 2. State: z, n (both start at 0).
    Ftrl { alpha: f32, beta: f32, l1: f32, l2: f32 },
}

impl OptimizerStep {
    /// Parameter-shaped state matrices the step reads and writes, in the order above.
    pub fn state_slots(&self) -> usize {
        match self {
            OptimizerStep::Sgd { .. } => 0,
            OptimizerStep::Momentum { .. } | OptimizerStep::Nesterov { .. } => 1,
            OptimizerStep::Adagrad { .. } | OptimizerStep::Rmsprop { .. } => 1,
            OptimizerStep::Adam(_) | OptimizerStep::AdamW { .. } | OptimizerStep::Ftrl { .. } => 2,
        }
    }

    /// The kernel's name (and the op's, in diagnostics).
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerStep::Sgd { .. } => "sgd_step",
            OptimizerStep::Momentum { .. } => "momentum_step",
            OptimizerStep::Nesterov { .. } => "nesterov_step",
            OptimizerStep::Adagrad { .. } => "adagrad_step",
            OptimizerStep::Rmsprop { .. } => "rmsprop_step",
            OptimizerStep::Adam(_) => "adam_step",
            OptimizerStep::AdamW { .. } => "adamw_step",
            OptimizerStep::Ftrl { .. } => "ftrl_step",
        }
    }

    /// FLOPs per parameter (the roofline's count): the formulas above, a square root or a
    /// division counted as one.
    pub fn flops_per_element(&self) -> f64 {
        match self {
            OptimizerStep::Sgd { .. } => 4.0,
            OptimizerStep::Momentum { .. } => 6.0,
            OptimizerStep::Nesterov { .. } => 9.0,
            OptimizerStep::Adagrad { .. } => 9.0,
            OptimizerStep::Rmsprop { .. } => 12.0,
            OptimizerStep::Adam(_) => 14.0,
            OptimizerStep::AdamW { .. } => 13.0,
            OptimizerStep::Ftrl { .. } => 20.0,
        }
    }

    /// The eight parameters a kernel receives, in the WGSL `Params` order after `n`:
    /// (lr, b1, b2, eps, wd, extra) as each kernel documents.
    pub fn packed(&self) -> [f32; 6] {
        match *self {
            OptimizerStep::Sgd { lr, weight_decay } => [lr, 0.0, 0.0, 0.0, weight_decay, 0.0],
            OptimizerStep::Momentum { lr, weight_decay, momentum }
            | OptimizerStep::Nesterov { lr, weight_decay, momentum } => [lr, momentum, 0.0, 0.0, weight_decay, 0.0],
            OptimizerStep::Adagrad { lr, weight_decay, eps } => [lr, 0.0, 0.0, eps, weight_decay, 0.0],
            OptimizerStep::Rmsprop { lr, weight_decay, rho, eps } => [lr, rho, 0.0, eps, weight_decay, 0.0],
            OptimizerStep::Adam(s) => [s.lr_t, s.beta1, s.beta2, s.eps, s.weight_decay, 0.0],
            OptimizerStep::AdamW { lr_t, beta1, beta2, eps, keep } => [lr_t, beta1, beta2, eps, 0.0, keep],
            OptimizerStep::Ftrl { alpha, beta, l1, l2 } => [alpha, beta, l1, 0.0, l2, 0.0],
        }
    }
}
