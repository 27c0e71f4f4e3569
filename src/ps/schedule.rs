//! Learning-rate schedules: the server's learning rate at epoch e is `--lr` × the schedule's
//! factor at e. Epochs count from 1; under SSP and ASP an epoch is a recorded round, so every
//! update applied in that round uses the same rate.

use std::fmt;
use std::str::FromStr;

use crate::spec::{non_default, write_spec, Parsed, SpecError};

/// PyTorch's `StepLR` default γ.
pub const DEFAULT_STEP_GAMMA: f32 = 0.1;
/// Epochs between two decays of `step` when not given.
pub const DEFAULT_STEP_EVERY: u32 = 100;
/// Cosine annealing's floor as a fraction of `--lr` (PyTorch's `eta_min` = 0).
pub const DEFAULT_COSINE_MIN: f32 = 0.0;

/// (name, keys) of every schedule; `warmup:epochs=W` is `constant:warmup=W`.
pub const SCHEDULES: &[(&str, &[&str])] = &[
    ("constant", &["warmup"]),
    ("step", &["every", "gamma", "warmup"]),
    ("cosine", &["min", "warmup"]),
    ("warmup", &["epochs"]),
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decay {
    /// The rate stays `--lr`.
    Constant,
    /// Multiplied by `gamma` every `every` epochs (PyTorch `StepLR`).
    Step { every: u32, gamma: f32 },
    /// Cosine annealing from `--lr` down to `min`·`--lr` at the last epoch (Loshchilov & Hutter,
    /// SGDR, without restarts; PyTorch `CosineAnnealingLR` with T_max = the epochs after warm-up).
    Cosine { min: f32 },
}

/// A decay after an optional linear warm-up: over the first `warmup` epochs the factor rises
/// linearly, e/W at epoch e (Goyal et al. 2017), reaching 1 at epoch W; the decay then starts
/// from 1 at epoch W + 1.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LrSchedule {
    pub decay: Decay,
    pub warmup: u32,
}

impl Default for LrSchedule {
    fn default() -> Self {
        Self { decay: Decay::Constant, warmup: 0 }
    }
}

impl LrSchedule {
    /// The factor on `--lr` at `epoch` (1-based) of a run of `epochs`; exactly 1 wherever the
    /// schedule leaves the rate alone, so a constant schedule reproduces an unscheduled run.
    pub fn factor(&self, epoch: u32, epochs: u32) -> f64 {
        let e = epoch.max(1);
        if e <= self.warmup {
            return e as f64 / self.warmup as f64;
        }
        let after = (e - self.warmup - 1) as f64; // epochs since the decay began
        match self.decay {
            Decay::Constant => 1.0,
            Decay::Step { every, gamma } => (gamma as f64).powi((after as u32 / every) as i32),
            Decay::Cosine { min } => {
                let span = epochs.saturating_sub(self.warmup).max(1) as f64;
                let min = min as f64;
                min + (1.0 - min) * 0.5 * (1.0 + (std::f64::consts::PI * after / span).cos())
            }
        }
    }

    /// The learning rate at `epoch`: `lr` itself (same bits) where the factor is 1.
    pub fn lr(&self, lr: f32, epoch: u32, epochs: u32) -> f32 {
        let f = self.factor(epoch, epochs);
        if f == 1.0 {
            lr
        } else {
            (lr as f64 * f) as f32
        }
    }

    /// Whether the schedule is impossible for a run of `epochs` (a warm-up that never ends).
    pub fn check(&self, epochs: usize) -> Result<(), String> {
        if self.warmup as usize >= epochs && self.warmup > 0 {
            return Err(format!(
                "a warm-up of {} epochs never reaches the full learning rate in a run of {epochs} epochs",
                self.warmup
            ));
        }
        Ok(())
    }
}

impl FromStr for LrSchedule {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let p = Parsed::new("learning-rate schedule", s, SCHEDULES)?;
        let warmup = p.count("warmup")?.unwrap_or(0);
        let decay = match p.name {
            "constant" => Decay::Constant,
            "step" => Decay::Step {
                every: p.positive_count("every")?.unwrap_or(DEFAULT_STEP_EVERY),
                gamma: p.positive("gamma")?.unwrap_or(DEFAULT_STEP_GAMMA),
            },
            "cosine" => Decay::Cosine {
                min: p
                    .get("min", "a number in [0, 1]", |v: f32| (0.0..=1.0).contains(&v))?
                    .unwrap_or(DEFAULT_COSINE_MIN),
            },
            "warmup" => {
                let epochs = p.positive_count("epochs")?;
                let epochs = epochs.ok_or_else(|| p.fail("needs `epochs=W`, the warm-up's length".into()))?;
                return Ok(Self { decay: Decay::Constant, warmup: epochs });
            }
            _ => unreachable!("Parsed::new accepts only names of SCHEDULES"),
        };
        let warmup = u32::try_from(warmup).map_err(|_| p.fail(format!("warm-up of {warmup} epochs is too long")))?;
        Ok(Self { decay, warmup })
    }
}

impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warmup = ("warmup", non_default(self.warmup, 0));
        match self.decay {
            Decay::Constant => write_spec(f, "constant", &[warmup]),
            Decay::Step { every, gamma } => write_spec(
                f,
                "step",
                &[
                    ("every", non_default(every, DEFAULT_STEP_EVERY)),
                    ("gamma", non_default(gamma, DEFAULT_STEP_GAMMA)),
                    warmup,
                ],
            ),
            Decay::Cosine { min } => write_spec(f, "cosine", &[("min", non_default(min, DEFAULT_COSINE_MIN)), warmup]),
        }
    }
}

crate::spec_serde!(LrSchedule, SpecError);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> LrSchedule {
        s.parse().unwrap()
    }

    #[test]
    fn known_factors() {
        let c = parse("constant");
        assert!((1..=200).all(|e| c.factor(e, 200) == 1.0));
        // Step: 1 for epochs 1–10, 0.5 for 11–20, 0.25 from 21.
        let s = parse("step:every=10,gamma=0.5");
        assert_eq!([1, 10, 11, 20, 21].map(|e| s.factor(e, 100)), [1.0, 1.0, 0.5, 0.5, 0.25]);
        // Cosine over 100 epochs: 1 at the start, ½ halfway, (1 + cos(99π/100))/2 at the end.
        let k = parse("cosine");
        assert_eq!(k.factor(1, 100), 1.0);
        assert!((k.factor(51, 100) - 0.5).abs() < 1e-15);
        let last = 0.5 * (1.0 + (std::f64::consts::PI * 0.99).cos());
        assert!((k.factor(100, 100) - last).abs() < 1e-15 && last < 3e-4);
        // A floor of 0.1: halfway is 0.1 + 0.9 · ½.
        assert!((parse("cosine:min=0.1").factor(51, 100) - 0.55).abs() < 1e-8);
        // Warm-up of 4: ¼, ½, ¾, 1, then the decay from 1.
        let w = parse("step:every=2,gamma=0.5,warmup=4");
        assert_eq!((1..=8).map(|e| w.factor(e, 50)).collect::<Vec<_>>(), [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.5, 0.5]);
        // Cosine after a warm-up spans the remaining epochs: halfway through them is ½.
        let kw = parse("cosine:warmup=10");
        assert_eq!(kw.factor(11, 110), 1.0);
        assert!((kw.factor(61, 110) - 0.5).abs() < 1e-15);
        assert_eq!(parse("warmup:epochs=5"), parse("constant:warmup=5"));
    }

    #[test]
    fn unit_factor_keeps_the_bits_of_the_rate() {
        let lr = 0.01f32;
        assert_eq!(parse("constant").lr(lr, 7, 200).to_bits(), lr.to_bits());
        assert_eq!(parse("step:every=10").lr(lr, 10, 200).to_bits(), lr.to_bits());
        assert_eq!(parse("step:every=10").lr(lr, 11, 200), (0.01f64 * 0.1f32 as f64) as f32);
    }

    #[test]
    fn errors_name_the_key() {
        let e = "step:every=0".parse::<LrSchedule>().unwrap_err().to_string();
        assert!(e.contains("key `every`") && e.contains("≥ 1"), "{e}");
        let e = "cosine:min=2".parse::<LrSchedule>().unwrap_err().to_string();
        assert!(e.contains("key `min`") && e.contains("[0, 1]"), "{e}");
        let e = "warmup".parse::<LrSchedule>().unwrap_err().to_string();
        assert!(e.contains("epochs=W"), "{e}");
        let e = "linear".parse::<LrSchedule>().unwrap_err().to_string();
        assert!(e.contains("constant, step, cosine, warmup"), "{e}");
        assert!(parse("constant:warmup=200").check(200).is_err());
        assert!(parse("constant:warmup=199").check(200).is_ok());
    }

    #[test]
    fn display_round_trips() {
        for s in
            ["constant", "constant:warmup=3", "step", "step:every=5,gamma=0.5,warmup=2", "cosine", "cosine:min=0.1"]
        {
            assert_eq!(parse(s).to_string(), s);
        }
        assert_eq!(parse("warmup:epochs=7").to_string(), "constant:warmup=7");
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct C {
            lr_schedule: LrSchedule,
        }
        let c: C = toml::from_str("lr_schedule = \"cosine:warmup=10\"").unwrap();
        assert_eq!(c.lr_schedule, LrSchedule { decay: Decay::Cosine { min: 0.0 }, warmup: 10 });
        assert_eq!(toml::from_str::<C>(&toml::to_string(&c).unwrap()).unwrap(), c);
    }
}
