//! `--optimizer NAME[:key=value,…]`: an optimizer and its constants, each defaulting to the
//! reference the README cites (TensorFlow/Keras for Adam, Adagrad and RMSprop, PyTorch's μ for
//! momentum, TensorFlow's FTRL defaults). The learning rate (FTRL's α) is `--lr` and the L2
//! strength `--weight-decay` for every optimizer.

use std::fmt;
use std::str::FromStr;

use super::optimizer::{
    OptimizerKind, ADAGRAD_EPS, ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPS, FTRL_BETA, FTRL_L1,
    MOMENTUM, RMSPROP_EPS, RMSPROP_RHO,
};
use crate::spec::{non_default, write_spec, Parsed, SpecError};

/// (name, keys) of every optimizer.
pub const OPTIMIZERS: &[(&str, &[&str])] = &[
    ("adam", &["beta1", "beta2", "eps"]),
    ("sgd", &[]),
    ("momentum", &["mu"]),
    ("nesterov", &["mu"]),
    ("adagrad", &["init", "eps"]),
    ("rmsprop", &["rho", "eps"]),
    ("adamw", &["beta1", "beta2", "eps"]),
    ("ftrl", &["beta", "l1"]),
];

/// An optimizer with its constants; the ones its kind does not use keep their defaults.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    /// Adam, AdamW: the moment decays.
    pub beta1: f32,
    pub beta2: f32,
    /// Adam, AdamW, Adagrad, RMSprop: the denominator's ε.
    pub eps: f32,
    /// Momentum, Nesterov: μ.
    pub mu: f32,
    /// Adagrad: the accumulator's initial value.
    pub init: f32,
    /// RMSprop: the square average's decay ρ.
    pub rho: f32,
    /// FTRL: β of the per-coordinate rate α/(β + √n), and the L1 strength λ1.
    pub beta: f32,
    pub l1: f32,
}

impl OptimizerSpec {
    /// `kind` with every constant at its default.
    pub const fn of(kind: OptimizerKind) -> Self {
        let eps = match kind {
            OptimizerKind::Adagrad => ADAGRAD_EPS,
            OptimizerKind::Rmsprop => RMSPROP_EPS,
            _ => ADAM_EPS,
        };
        Self {
            kind,
            beta1: ADAM_BETA1,
            beta2: ADAM_BETA2,
            eps,
            mu: MOMENTUM,
            init: ADAGRAD_INITIAL_ACCUMULATOR,
            rho: RMSPROP_RHO,
            beta: FTRL_BETA,
            l1: FTRL_L1,
        }
    }

    /// The name `--optimizer` takes.
    pub fn name(&self) -> &'static str {
        OPTIMIZERS[self.kind as usize].0
    }
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        Self::of(OptimizerKind::default())
    }
}

impl From<OptimizerKind> for OptimizerSpec {
    fn from(kind: OptimizerKind) -> Self {
        Self::of(kind)
    }
}

impl FromStr for OptimizerSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let p = Parsed::new("optimizer", s, OPTIMIZERS)?;
        let kind = match p.name {
            "adam" => OptimizerKind::Adam,
            "sgd" => OptimizerKind::Sgd,
            "momentum" => OptimizerKind::Momentum,
            "nesterov" => OptimizerKind::Nesterov,
            "adagrad" => OptimizerKind::Adagrad,
            "rmsprop" => OptimizerKind::Rmsprop,
            "adamw" => OptimizerKind::Adamw,
            "ftrl" => OptimizerKind::Ftrl,
            _ => unreachable!("Parsed::new accepts only names of OPTIMIZERS"),
        };
        let d = Self::of(kind);
        let unit = |key: &str| p.get(key, "a number in [0, 1)", |v: f32| (0.0..1.0).contains(&v));
        Ok(Self {
            kind,
            beta1: unit("beta1")?.unwrap_or(d.beta1),
            beta2: unit("beta2")?.unwrap_or(d.beta2),
            eps: p.positive("eps")?.unwrap_or(d.eps),
            mu: unit("mu")?.unwrap_or(d.mu),
            init: p.non_negative("init")?.unwrap_or(d.init),
            rho: unit("rho")?.unwrap_or(d.rho),
            beta: p.non_negative("beta")?.unwrap_or(d.beta),
            l1: p.non_negative("l1")?.unwrap_or(d.l1),
        })
    }
}

impl fmt::Display for OptimizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Self::of(self.kind);
        let value = |key: &str| -> Option<String> {
            match key {
                "beta1" => non_default(self.beta1, d.beta1),
                "beta2" => non_default(self.beta2, d.beta2),
                "eps" => non_default(self.eps, d.eps),
                "mu" => non_default(self.mu, d.mu),
                "init" => non_default(self.init, d.init),
                "rho" => non_default(self.rho, d.rho),
                "beta" => non_default(self.beta, d.beta),
                "l1" => non_default(self.l1, d.l1),
                _ => None,
            }
        };
        let (name, keys) = OPTIMIZERS[self.kind as usize];
        let set: Vec<(&str, Option<String>)> = keys.iter().map(|&k| (k, value(k))).collect();
        write_spec(f, name, &set)
    }
}

crate::spec_serde!(OptimizerSpec, SpecError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kinds() {
        for (i, (name, _)) in OPTIMIZERS.iter().enumerate() {
            let spec: OptimizerSpec = name.parse().unwrap();
            assert_eq!(spec.kind as usize, i);
            assert_eq!(spec.name(), *name);
            assert_eq!(spec, OptimizerSpec::of(spec.kind));
        }
    }

    #[test]
    fn kernel_steps_carry_the_constants() {
        use super::super::optimizer::kernel_step;
        use crate::backend::{AdamStep, OptimizerStep};
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

    #[test]
    fn constants_parse_validate_and_round_trip() {
        let s: OptimizerSpec = "ftrl:beta=1,l1=0.001".parse().unwrap();
        assert_eq!((s.kind, s.beta, s.l1), (OptimizerKind::Ftrl, 1.0, 0.001));
        assert_eq!("momentum:mu=0.5".parse::<OptimizerSpec>().unwrap().mu, 0.5);
        assert_eq!("adagrad".parse::<OptimizerSpec>().unwrap().eps, ADAGRAD_EPS);
        for text in [
            "adam",
            "adam:beta1=0.8,eps=0.001",
            "momentum:mu=0.5",
            "adagrad:init=0",
            "rmsprop:rho=0.99",
            "ftrl:beta=1,l1=0.01",
        ] {
            assert_eq!(text.parse::<OptimizerSpec>().unwrap().to_string(), text);
        }
        // Defaults are not written back.
        assert_eq!("adam:beta2=0.999".parse::<OptimizerSpec>().unwrap().to_string(), "adam");
        let e = |t: &str| t.parse::<OptimizerSpec>().unwrap_err().to_string();
        assert!(e("momentum:mu=1").contains("key `mu`") && e("momentum:mu=1").contains("[0, 1)"));
        assert!(e("sgd:mu=0.5").contains("`sgd` takes no keys"));
        assert!(e("adam:rho=0.9").contains("valid keys for `adam`: beta1, beta2, eps"));
        assert!(e("adam:eps=0").contains("> 0"));
        assert!(e("lion").contains("unknown optimizer `lion`"));
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct C {
            optimizer: OptimizerSpec,
        }
        let c: C = toml::from_str("optimizer = \"nesterov:mu=0.95\"").unwrap();
        assert_eq!(c.optimizer.mu, 0.95);
        assert_eq!(toml::from_str::<C>(&toml::to_string(&c).unwrap()).unwrap(), c);
    }
}
