//! `--optimizer NAME[:key=value,…]`: an optimizer and its constants, each defaulting to the
//! reference the book's parameter-server chapter cites (TensorFlow/Keras for Adam, Adagrad and RMSprop, PyTorch's μ for
//! momentum, TensorFlow's FTRL defaults). The learning rate (FTRL's α) is `--lr` and the L2
//! strength `--weight-decay` for every optimizer.

use std::fmt;
use std::str::FromStr;

use crate::spec::{non_default, write_spec, Parsed, SpecError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with TensorFlow's defaults (β1 0.9, β2 0.999, ε 1e-8), as Kipf's code.
    #[default]
    Adam,
    /// Plain stochastic gradient descent.
    Sgd,
    /// SGD with heavy-ball momentum μ = 0.9 (Polyak; PyTorch's form).
    Momentum,
    /// SGD with Nesterov momentum μ = 0.9 (Sutskever et al.; PyTorch's form).
    Nesterov,
    /// Adagrad (Duchi et al.), initial accumulator 0.1 and ε = 1e-7 as Keras/TensorFlow.
    Adagrad,
    /// RMSprop (Hinton), ρ = 0.9 and ε = 1e-7 as Keras.
    Rmsprop,
    /// AdamW (Loshchilov & Hutter): Adam's constants, `--weight-decay` decoupled from the
    /// gradient (p ·= 1 − lr·λ each step, on the layers it applies to).
    Adamw,
    /// FTRL-Proximal (McMahan et al. 2013) with α = `--lr`, β = 0 and λ1 = 0 (TensorFlow's
    /// defaults) and λ2 = the layer's `--weight-decay` (the paper's λ2; TensorFlow's l2 is
    /// λ2 / 2). The first step replaces the initial weights by −z·α/(β + √n) (the method's own
    /// form); with β = 1 GCN gradients (~1e-3) gave weights near 0 that never left chance.
    Ftrl,
}

/// The other optimizers' constants (documented on [`OptimizerKind`]).
pub const MOMENTUM: f32 = 0.9;
pub const ADAGRAD_INITIAL_ACCUMULATOR: f32 = 0.1;
pub const ADAGRAD_EPS: f32 = 1e-7;
pub const RMSPROP_RHO: f32 = 0.9;
pub const RMSPROP_EPS: f32 = 1e-7;
pub const FTRL_BETA: f32 = 0.0;
pub const FTRL_L1: f32 = 0.0;

/// Adam's constants: TensorFlow's defaults, as Kipf's code.
pub const ADAM_BETA1: f32 = 0.9;
pub const ADAM_BETA2: f32 = 0.999;
pub const ADAM_EPS: f32 = 1e-8;

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
