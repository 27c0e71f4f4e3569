//! Optimizers, stepped on the PS side on the aggregated gradient (weight decay included).

use crate::backend::{AdamStep, Backend, BackendError, MemCategory, OptimizerStep, Shape};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with TensorFlow's defaults (β1 0.9, β2 0.999, ε 1e-8), as Kipf's code.
    #[default]
    Adam,
    /// Plain stochastic gradient descent.
    Sgd,
}

/// Adam's constants: TensorFlow's defaults, as Kipf's code.
pub const ADAM_BETA1: f32 = 0.9;
pub const ADAM_BETA2: f32 = 0.999;
pub const ADAM_EPS: f32 = 1e-8;

/// The kernel step of `kind` at step `t` (1-based) with learning rate `lr`.
pub fn kernel_step(kind: OptimizerKind, lr: f32, weight_decay: f32, t: u32) -> OptimizerStep {
    match kind {
        OptimizerKind::Adam => {
            // Bias corrections folded into the step size, in f64, as TensorFlow does.
            let t = t as i32;
            let lr_t =
                (lr as f64 * (1.0 - (ADAM_BETA2 as f64).powi(t)).sqrt() / (1.0 - (ADAM_BETA1 as f64).powi(t))) as f32;
            OptimizerStep::Adam(AdamStep { lr_t, beta1: ADAM_BETA1, beta2: ADAM_BETA2, eps: ADAM_EPS, weight_decay })
        }
        OptimizerKind::Sgd => OptimizerStep::Sgd { lr, weight_decay },
    }
}

pub struct Optimizer<B: Backend> {
    kind: OptimizerKind,
    lr: f32,
    /// Per layer: Kipf applies weight decay to the first layer only.
    weight_decay: Vec<f32>,
    /// Per layer, the step's state matrices (`OptimizerStep::state_slots`: Adam's m and v).
    state: Vec<Vec<B::Matrix>>,
    step: u32,
}

impl<B: Backend> Optimizer<B> {
    pub fn new(
        b: &B,
        kind: OptimizerKind,
        lr: f32,
        weight_decay: Vec<f32>,
        params: &[B::Matrix],
    ) -> Result<Self, BackendError> {
        assert_eq!(weight_decay.len(), params.len(), "optimizer: one weight decay per layer");
        let slots = kernel_step(kind, lr, 0.0, 1).state_slots();
        let names: &[&str] = match kind {
            OptimizerKind::Adam => &["adam_m", "adam_v"],
            OptimizerKind::Sgd => &[],
        };
        assert_eq!(names.len(), slots, "optimizer: a name per state slot");
        let state = params
            .iter()
            .enumerate()
            .map(|(l, p)| {
                names
                    .iter()
                    .map(|name| b.alloc(p.rows(), p.cols(), MemCategory::OptimizerState, &format!("ps/{name}{l}")))
                    .collect::<Result<Vec<_>, BackendError>>()
            })
            .collect::<Result<_, BackendError>>()?;
        Ok(Self { kind, lr, weight_decay, state, step: 0 })
    }

    /// One step on every layer.
    pub fn step(&mut self, b: &B, params: &mut [B::Matrix], grads: &[B::Matrix]) {
        self.step_scaled(b, params, grads, 1.0);
    }

    /// One step with the learning rate multiplied by `lr_scale` (staleness-aware asynchronous
    /// SGD divides it by 1 + staleness). A scale of 1 is exactly [`Self::step`].
    pub fn step_scaled(&mut self, b: &B, params: &mut [B::Matrix], grads: &[B::Matrix], lr_scale: f32) {
        self.step += 1;
        let lr = if lr_scale == 1.0 { self.lr } else { self.lr * lr_scale };
        for (l, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let step = kernel_step(self.kind, lr, self.weight_decay[l], self.step);
            b.optimizer_step(p, g, &mut self.state[l], &step);
        }
    }
}
