//! Optimizers, stepped on the PS side on the aggregated gradient (weight decay included).

use crate::backend::{AdamStep, Backend, BackendError, MemCategory, SgdStep, Shape};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with TensorFlow's defaults (β1 0.9, β2 0.999, ε 1e-8), as Kipf's code.
    #[default]
    Adam,
    /// Plain stochastic gradient descent.
    Sgd,
}

pub struct Optimizer<B: Backend> {
    kind: OptimizerKind,
    lr: f32,
    /// Per layer: Kipf applies weight decay to the first layer only.
    weight_decay: Vec<f32>,
    /// Adam's (m, v) per layer.
    moments: Vec<(B::Matrix, B::Matrix)>,
    step: u32,
}

impl<B: Backend> Optimizer<B> {
    pub const BETA1: f32 = 0.9;
    pub const BETA2: f32 = 0.999;
    pub const EPS: f32 = 1e-8;

    pub fn new(
        b: &B,
        kind: OptimizerKind,
        lr: f32,
        weight_decay: Vec<f32>,
        params: &[B::Matrix],
    ) -> Result<Self, BackendError> {
        assert_eq!(weight_decay.len(), params.len(), "optimizer: one weight decay per layer");
        let moments = match kind {
            OptimizerKind::Adam => params
                .iter()
                .enumerate()
                .map(|(l, p)| {
                    Ok((
                        b.alloc(p.rows(), p.cols(), MemCategory::OptimizerState, &format!("ps/adam_m{l}"))?,
                        b.alloc(p.rows(), p.cols(), MemCategory::OptimizerState, &format!("ps/adam_v{l}"))?,
                    ))
                })
                .collect::<Result<_, BackendError>>()?,
            OptimizerKind::Sgd => Vec::new(),
        };
        Ok(Self { kind, lr, weight_decay, moments, step: 0 })
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
        match self.kind {
            OptimizerKind::Adam => {
                let t = self.step as i32;
                let lr_t = (lr as f64 * (1.0 - (Self::BETA2 as f64).powi(t)).sqrt()
                    / (1.0 - (Self::BETA1 as f64).powi(t))) as f32;
                for (l, (p, g)) in params.iter_mut().zip(grads).enumerate() {
                    let (m, v) = &mut self.moments[l];
                    b.adam_step(
                        p,
                        g,
                        m,
                        v,
                        &AdamStep {
                            lr_t,
                            beta1: Self::BETA1,
                            beta2: Self::BETA2,
                            eps: Self::EPS,
                            weight_decay: self.weight_decay[l],
                        },
                    );
                }
            }
            OptimizerKind::Sgd => {
                for (l, (p, g)) in params.iter_mut().zip(grads).enumerate() {
                    b.sgd_step(p, g, &SgdStep { lr, weight_decay: self.weight_decay[l] });
                }
            }
        }
    }
}
