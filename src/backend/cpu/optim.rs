//! CPU twin of the optimizer kernels (`shaders/optimizer.wgsl`): the formulas of
//! [`OptimizerStep`], element by element, in the same operation order.

use crate::backend::OptimizerStep;

/// One step of `step` on `param` with `grad`; `state` holds `step.state_slots()` slices of the
/// parameter's length.
pub fn optimizer_step(param: &mut [f32], grad: &[f32], state: &mut [&mut [f32]], step: &OptimizerStep) {
    assert_eq!(state.len(), step.state_slots(), "{}: state slots", step.name());
    assert_eq!(grad.len(), param.len(), "{}: grad length", step.name());
    assert!(state.iter().all(|s| s.len() == param.len()), "{}: state length", step.name());
    match (*step, state) {
        (OptimizerStep::Sgd { lr, weight_decay }, []) => {
            for (p, &g) in param.iter_mut().zip(grad) {
                *p -= lr * (g + weight_decay * *p);
            }
        }
        (OptimizerStep::Momentum { lr, weight_decay, momentum }, [v]) => {
            for i in 0..param.len() {
                let g = grad[i] + weight_decay * param[i];
                v[i] = momentum * v[i] + g;
                param[i] -= lr * v[i];
            }
        }
        (OptimizerStep::Nesterov { lr, weight_decay, momentum }, [v]) => {
            for i in 0..param.len() {
                let g = grad[i] + weight_decay * param[i];
                v[i] = momentum * v[i] + g;
                param[i] -= lr * (g + momentum * v[i]);
            }
        }
        (OptimizerStep::Adagrad { lr, weight_decay, eps }, [acc]) => {
            for i in 0..param.len() {
                let g = grad[i] + weight_decay * param[i];
                acc[i] += g * g;
                param[i] -= lr * g / (acc[i].sqrt() + eps);
            }
        }
        (OptimizerStep::Rmsprop { lr, weight_decay, rho, eps }, [s]) => {
            for i in 0..param.len() {
                let g = grad[i] + weight_decay * param[i];
                s[i] = rho * s[i] + (1.0 - rho) * g * g;
                param[i] -= lr * g / (s[i].sqrt() + eps);
            }
        }
        (OptimizerStep::Adam(a), [m, v]) => {
            for i in 0..param.len() {
                let g = grad[i] + a.weight_decay * param[i];
                m[i] = a.beta1 * m[i] + (1.0 - a.beta1) * g;
                v[i] = a.beta2 * v[i] + (1.0 - a.beta2) * g * g;
                param[i] -= a.lr_t * m[i] / (v[i].sqrt() + a.eps);
            }
        }
        (OptimizerStep::AdamW { lr_t, beta1, beta2, eps, keep }, [m, v]) => {
            for i in 0..param.len() {
                let g = grad[i];
                m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                param[i] = param[i] * keep - lr_t * m[i] / (v[i].sqrt() + eps);
            }
        }
        (OptimizerStep::Ftrl { alpha, beta, l1, l2 }, [z, n]) => {
            for i in 0..param.len() {
                let g = grad[i];
                let n_new = n[i] + g * g;
                let sigma = (n_new.sqrt() - n[i].sqrt()) / alpha;
                z[i] += g - sigma * param[i];
                n[i] = n_new;
                param[i] = if z[i].abs() <= l1 {
                    0.0
                } else {
                    -(z[i] - z[i].signum() * l1) / ((beta + n_new.sqrt()) / alpha + l2)
                };
            }
        }
        (step, state) => unreachable!("{}: {} state slots", step.name(), state.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::AdamStep;

    /// One element, hand-computed (p = 1, g = 0.5 unless stated).
    fn one(step: OptimizerStep, state: &mut [f32]) -> f32 {
        let mut p = [1.0f32];
        let mut slots: Vec<&mut [f32]> = state.chunks_mut(1).collect();
        optimizer_step(&mut p, &[0.5], &mut slots, &step);
        p[0]
    }

    #[test]
    fn known_answers() {
        // SGD: 1 − 0.1·(0.5 + 0.1·1) = 0.94.
        assert!((one(OptimizerStep::Sgd { lr: 0.1, weight_decay: 0.1 }, &mut []) - 0.94).abs() < 1e-7);
        // Momentum: v = 0.9·1 + 0.5 = 1.4; p = 1 − 0.1·1.4 = 0.86.
        let mut v = [1.0];
        let p = one(OptimizerStep::Momentum { lr: 0.1, weight_decay: 0.0, momentum: 0.9 }, &mut v);
        assert!((v[0] - 1.4).abs() < 1e-7 && (p - 0.86).abs() < 1e-7, "{v:?} {p}");
        // Nesterov: v = 1.4; p = 1 − 0.1·(0.5 + 0.9·1.4) = 0.824.
        let mut v = [1.0];
        let p = one(OptimizerStep::Nesterov { lr: 0.1, weight_decay: 0.0, momentum: 0.9 }, &mut v);
        assert!((p - 0.824).abs() < 1e-7, "{p}");
        // Adagrad from Keras's 0.1: a = 0.35; p = 1 − 0.1·0.5/√0.35.
        let mut a = [0.1];
        let p = one(OptimizerStep::Adagrad { lr: 0.1, weight_decay: 0.0, eps: 0.0 }, &mut a);
        assert!((a[0] - 0.35).abs() < 1e-7 && (p - (1.0 - 0.05 / 0.35f32.sqrt())).abs() < 1e-6, "{p}");
        // RMSprop from 0: s = 0.1·0.25 = 0.025; p = 1 − 0.01·0.5/√0.025.
        let mut s = [0.0];
        let p = one(OptimizerStep::Rmsprop { lr: 0.01, weight_decay: 0.0, rho: 0.9, eps: 0.0 }, &mut s);
        assert!((p - (1.0 - 0.005 / 0.025f32.sqrt())).abs() < 1e-6, "{p}");
        // Adam from m = v = 0: m = 0.05, v = 0.00025; p = 1 − 0.01·0.05/√0.00025.
        let adam = AdamStep { lr_t: 0.01, beta1: 0.9, beta2: 0.999, eps: 0.0, weight_decay: 0.0 };
        let mut mv = [0.0, 0.0];
        let p = one(OptimizerStep::Adam(adam), &mut mv);
        // (1 − 0.999 in f32 is 0.00099999, so v is 2.49997e-4.)
        assert!((mv[0] - 0.05).abs() < 1e-7 && (mv[1] - 0.00025).abs() < 1e-8, "{mv:?}");
        assert!((p - (1.0 - 0.01 * 0.05 / 0.00025f32.sqrt())).abs() < 1e-6, "{p}");
        // AdamW: decay first (keep 0.99), then Adam's move: 0.99 − 0.01·0.05/√0.00025.
        let mut mv = [0.0, 0.0];
        let p = one(OptimizerStep::AdamW { lr_t: 0.01, beta1: 0.9, beta2: 0.999, eps: 0.0, keep: 0.99 }, &mut mv);
        assert!((p - (0.99 - 0.01 * 0.05 / 0.00025f32.sqrt())).abs() < 1e-6, "{p}");
        // FTRL from z = n = 0, α = 1, β = 1, λ1 = 0.1, λ2 = 1: σ = 0.5; z = 0.5 − 0.5·1 = 0;
        // |z| ≤ λ1 so p = 0.
        let mut zn = [0.0, 0.0];
        let p = one(OptimizerStep::Ftrl { alpha: 1.0, beta: 1.0, l1: 0.1, l2: 1.0 }, &mut zn);
        assert_eq!((p, zn), (0.0, [0.0, 0.25]));
        // From z = 2, n = 0.75: n' = 1, σ = (1 − √0.75)/1; z = 2 + 0.5 − σ;
        // p = −(z − 0.1) / ((1 + 1)/1 + 1).
        let mut zn = [2.0, 0.75];
        let p = one(OptimizerStep::Ftrl { alpha: 1.0, beta: 1.0, l1: 0.1, l2: 1.0 }, &mut zn);
        let z = 2.5 - (1.0 - 0.75f32.sqrt());
        assert!((zn[0] - z).abs() < 1e-6 && (p + (z - 0.1) / 3.0).abs() < 1e-6, "{zn:?} {p}");
    }
}
