//! Optimizers, stepped on the PS side on the aggregated gradient (weight decay included).

pub use super::optimizer_spec::OptimizerKind;
use super::optimizer_spec::OptimizerSpec;
use super::schedule::LrSchedule;
use crate::backend::snapshot::{download_all, overwrite_all, RestoreError};
use crate::backend::{AdamStep, Backend, BackendError, MemCategory, OptimizerStep, Shape};
use crate::tensor::HostMatrix;

/// The kernel step of `spec` at step `t` (1-based) with learning rate `lr`.
pub fn kernel_step(spec: &OptimizerSpec, lr: f32, weight_decay: f32, t: u32) -> OptimizerStep {
    let s = spec;
    // Adam's bias corrections folded into the step size, in f64, as TensorFlow does.
    let adam_lr_t = || {
        let t = t as i32;
        (lr as f64 * (1.0 - (s.beta2 as f64).powi(t)).sqrt() / (1.0 - (s.beta1 as f64).powi(t))) as f32
    };
    match s.kind {
        OptimizerKind::Adam => OptimizerStep::Adam(AdamStep {
            lr_t: adam_lr_t(),
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            weight_decay,
        }),
        OptimizerKind::Sgd => OptimizerStep::Sgd { lr, weight_decay },
        OptimizerKind::Momentum => OptimizerStep::Momentum { lr, weight_decay, momentum: s.mu },
        OptimizerKind::Nesterov => OptimizerStep::Nesterov { lr, weight_decay, momentum: s.mu },
        OptimizerKind::Adagrad => OptimizerStep::Adagrad { lr, weight_decay, eps: s.eps },
        OptimizerKind::Rmsprop => OptimizerStep::Rmsprop { lr, weight_decay, rho: s.rho, eps: s.eps },
        OptimizerKind::Adamw => {
            let keep = 1.0 - lr * weight_decay;
            OptimizerStep::AdamW { lr_t: adam_lr_t(), beta1: s.beta1, beta2: s.beta2, eps: s.eps, keep }
        }
        OptimizerKind::Ftrl => OptimizerStep::Ftrl { alpha: lr, beta: s.beta, l1: s.l1, l2: weight_decay },
    }
}

/// (name, initial value) of each state slot of `spec`'s step, in `OptimizerStep`'s order.
pub fn state_layout(spec: &OptimizerSpec) -> Vec<(&'static str, f32)> {
    let names = match spec.kind {
        OptimizerKind::Adam | OptimizerKind::Adamw => vec![("adam_m", 0.0), ("adam_v", 0.0)],
        OptimizerKind::Sgd => vec![],
        OptimizerKind::Momentum | OptimizerKind::Nesterov => vec![("velocity", 0.0)],
        OptimizerKind::Adagrad => vec![("adagrad_acc", spec.init)],
        OptimizerKind::Rmsprop => vec![("rmsprop_sq", 0.0)],
        OptimizerKind::Ftrl => vec![("ftrl_z", 0.0), ("ftrl_n", 0.0)],
    };
    assert_eq!(names.len(), kernel_step(spec, 1.0, 0.0, 1).state_slots(), "optimizer: a name per state slot");
    names
}

/// An optimizer's state between two steps (a checkpoint's copy).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimizerState {
    pub step: u32,
    /// Per layer, the state slots.
    pub slots: Vec<Vec<HostMatrix>>,
}

pub struct Optimizer<B: Backend> {
    spec: OptimizerSpec,
    lr: f32,
    /// Per layer: Kipf applies weight decay to the first layer only.
    weight_decay: Vec<f32>,
    /// Per layer, the step's state matrices (`OptimizerStep::state_slots`: Adam's m and v).
    state: Vec<Vec<B::Matrix>>,
    step: u32,
    schedule: LrSchedule,
    /// The run's length, which cosine annealing spans.
    epochs: u32,
}

impl<B: Backend> Optimizer<B> {
    pub fn new(
        b: &B,
        spec: impl Into<OptimizerSpec>,
        lr: f32,
        weight_decay: Vec<f32>,
        params: &[B::Matrix],
    ) -> Result<Self, BackendError> {
        assert_eq!(weight_decay.len(), params.len(), "optimizer: one weight decay per layer");
        let spec = spec.into();
        let names = state_layout(&spec);
        let state = params
            .iter()
            .enumerate()
            .map(|(l, p)| {
                names
                    .iter()
                    .map(|&(name, init)| {
                        let label = format!("ps/{name}{l}");
                        if init == 0.0 {
                            b.alloc(p.rows(), p.cols(), MemCategory::OptimizerState, &label)
                        } else {
                            let filled = HostMatrix::from_vec(p.rows(), p.cols(), vec![init; p.rows() * p.cols()]);
                            b.upload(&filled, MemCategory::OptimizerState, &label)
                        }
                    })
                    .collect::<Result<Vec<_>, BackendError>>()
            })
            .collect::<Result<_, BackendError>>()?;
        Ok(Self { spec, lr, weight_decay, state, step: 0, schedule: LrSchedule::default(), epochs: 1 })
    }

    /// Scales the learning rate by `schedule` over a run of `epochs`.
    pub fn scheduled(mut self, schedule: LrSchedule, epochs: usize) -> Self {
        self.schedule = schedule;
        self.epochs = epochs.try_into().unwrap_or(u32::MAX);
        self
    }

    /// The step count and state matrices, on the host.
    pub fn save(&self, b: &B) -> Result<OptimizerState, BackendError> {
        let slots = self.state.iter().map(|s| download_all(b, s)).collect::<Result<_, _>>()?;
        Ok(OptimizerState { step: self.step, slots })
    }

    pub fn restore(&mut self, b: &B, s: &OptimizerState) -> Result<(), RestoreError> {
        if s.slots.len() != self.state.len() {
            let what = "optimizer state layers".to_string();
            return Err(RestoreError::Count { what, expected: self.state.len(), got: s.slots.len() });
        }
        for (l, (dst, src)) in self.state.iter_mut().zip(&s.slots).enumerate() {
            overwrite_all(b, dst, src, &format!("optimizer state of layer {l}"))?;
        }
        self.step = s.step;
        Ok(())
    }

    /// The learning rate at `epoch` (1-based), before any staleness scaling.
    pub fn lr_at(&self, epoch: u32) -> f32 {
        self.schedule.lr(self.lr, epoch, self.epochs)
    }

    /// The optimizer's name, and its learning rate at `epoch` when a schedule is set (events' detail).
    pub fn describe(&self, epoch: u32) -> String {
        let name = self.spec.to_string();
        if self.schedule == LrSchedule::default() {
            name
        } else {
            format!("{name}, lr {} ({})", self.lr_at(epoch), self.schedule)
        }
    }

    /// One step on every layer, at `epoch`'s learning rate.
    pub fn step(&mut self, b: &B, params: &mut [B::Matrix], grads: &[B::Matrix], epoch: u32) {
        self.step_scaled(b, params, grads, 1.0, epoch);
    }

    /// One step with `epoch`'s learning rate multiplied by `lr_scale` (staleness-aware
    /// asynchronous SGD divides it by 1 + staleness). A scale of 1 is exactly [`Self::step`].
    pub fn step_scaled(&mut self, b: &B, params: &mut [B::Matrix], grads: &[B::Matrix], lr_scale: f32, epoch: u32) {
        self.step += 1;
        let lr = self.lr_at(epoch);
        let lr = if lr_scale == 1.0 { lr } else { lr * lr_scale };
        for (l, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let step = kernel_step(&self.spec, lr, self.weight_decay[l], self.step);
            b.optimizer_step(p, g, &mut self.state[l], &step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::optimizer_spec::ADAGRAD_EPS;

    #[test]
    fn kernel_steps_carry_the_constants() {
        let step = |text: &str, t| kernel_step(&text.parse().unwrap(), 0.1, 0.01, t);
        assert_eq!(step("momentum:mu=0.5", 1), OptimizerStep::Momentum { lr: 0.1, weight_decay: 0.01, momentum: 0.5 });
        assert_eq!(step("ftrl:beta=1,l1=0.2", 1), OptimizerStep::Ftrl { alpha: 0.1, beta: 1.0, l1: 0.2, l2: 0.01 });
        assert_eq!(
            step("rmsprop:rho=0.5,eps=0.25", 1),
            OptimizerStep::Rmsprop { lr: 0.1, weight_decay: 0.01, rho: 0.5, eps: 0.25 }
        );
        // Adam's bias-corrected rate at t = 2 with β1 = 0.5, β2 = 0.75: 0.1·√(1 − 0.75²)/(1 − 0.5²).
        let lr_t = (0.1f32 as f64 * (1.0 - 0.5625f64).sqrt() / 0.75) as f32;
        let adam = AdamStep { lr_t, beta1: 0.5, beta2: 0.75, eps: 1e-8, weight_decay: 0.01 };
        assert_eq!(step("adam:beta1=0.5,beta2=0.75", 2), OptimizerStep::Adam(adam));
        // The defaults are the constants the kernels stepped with before they could be set.
        assert_eq!(step("adagrad", 1), OptimizerStep::Adagrad { lr: 0.1, weight_decay: 0.01, eps: ADAGRAD_EPS });
    }
}
