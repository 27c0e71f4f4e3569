//! Stragglers: a factor on a worker's compute time, drawn per (seed, worker, step) from a
//! counter-based generator, so a run is reproducible and every consistency model sees the same
//! slow steps.

use std::fmt;
use std::str::FromStr;

use super::spec::{parse_fields, SpecError};
use crate::rng::SplitMix64;

/// Largest slow-down factor: a step 10⁴ times slower is already a dead worker in all but name.
pub const MAX_FACTOR: f64 = 1e4;
/// Largest σ of `lognormal`: at σ = 3 the mean factor is e^4.5 ≈ 90 and a 1-in-10⁶ step is
/// e^14 ≈ 10⁶ times slower; σ = 1000 made factors of e^1000 = ∞ and the clock infinite.
pub const MAX_SIGMA: f64 = 3.0;

/// Tag of the straggler stream, so its draws are independent of weights, dropout and sampling.
const STREAM: u64 = 0x5354_5241_4747_4c45;

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Stragglers {
    #[default]
    None,
    /// Worker `worker` is always `factor` times slower.
    Fixed { worker: usize, factor: f64 },
    /// Every step is slowed by exp(σ·z), z standard normal (median 1).
    LogNormal { sigma: f64 },
    /// With probability `p` a step is `factor` times slower (transient stragglers).
    Bernoulli { p: f64, factor: f64 },
}

impl Stragglers {
    /// The slow-down of `worker`'s `step`-th compute step (≥ 0).
    pub fn factor(&self, seed: u64, worker: usize, step: u64) -> f64 {
        let rng = || SplitMix64::new(seed ^ STREAM).fork(((worker as u64) << 40) ^ step);
        match *self {
            Stragglers::None => 1.0,
            Stragglers::Fixed { worker: slow, factor } => {
                if worker == slow {
                    factor
                } else {
                    1.0
                }
            }
            Stragglers::LogNormal { sigma } => (sigma * rng().normal()).exp(),
            Stragglers::Bernoulli { p, factor } => {
                if rng().next_f64() < p {
                    factor
                } else {
                    1.0
                }
            }
        }
    }
}

impl FromStr for Stragglers {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        let expect = "none, fixed:worker=K,factor=F, lognormal:sigma=S or bernoulli:p=P,factor=F";
        match kind {
            "none" if rest.is_empty() => Ok(Stragglers::None),
            "fixed" => {
                let f = parse_fields(s, rest, &["worker", "factor"], &["worker", "factor"])?;
                let factor = f.at_most("factor", MAX_FACTOR, true)?;
                Ok(Stragglers::Fixed { worker: f.index("worker")?, factor })
            }
            "lognormal" => {
                let f = parse_fields(s, rest, &["sigma"], &["sigma"])?;
                Ok(Stragglers::LogNormal { sigma: f.at_most("sigma", MAX_SIGMA, false)? })
            }
            "bernoulli" => {
                let f = parse_fields(s, rest, &["p", "factor"], &["p", "factor"])?;
                let p = f.non_negative("p")?;
                if p > 1.0 {
                    return Err(SpecError::new(s, format!("p must be a probability in [0, 1], got {p}")));
                }
                Ok(Stragglers::Bernoulli { p, factor: f.at_most("factor", MAX_FACTOR, true)? })
            }
            _ => Err(SpecError::new(s, format!("unknown straggler model; expected {expect}"))),
        }
    }
}

impl fmt::Display for Stragglers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stragglers::None => write!(f, "none"),
            Stragglers::Fixed { worker, factor } => write!(f, "fixed:worker={worker},factor={factor}"),
            Stragglers::LogNormal { sigma } => write!(f, "lognormal:sigma={sigma}"),
            Stragglers::Bernoulli { p, factor } => write!(f, "bernoulli:p={p},factor={factor}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for s in ["none", "fixed:worker=2,factor=3", "lognormal:sigma=0.5", "bernoulli:p=0.1,factor=8"] {
            assert_eq!(s.parse::<Stragglers>().unwrap().to_string(), s);
        }
        for bad in
            ["slow", "fixed:worker=1", "bernoulli:p=1.5,factor=2", "lognormal:sigma=-1", "fixed:worker=x,factor=2"]
        {
            let e = bad.parse::<Stragglers>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        // Physical bounds, named in the message.
        for (bad, bound) in [
            ("lognormal:sigma=1000", "`sigma` must be at most 3, got 1000"),
            ("fixed:worker=0,factor=1e300", "`factor` must be at most 10000, got 1e300"),
            ("bernoulli:p=0.5,factor=20000", "`factor` must be at most 10000"),
        ] {
            let e = bad.parse::<Stragglers>().unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(bound), "{e}");
        }
        assert!("lognormal:sigma=3".parse::<Stragglers>().is_ok());
        assert!("fixed:worker=0,factor=1e4".parse::<Stragglers>().is_ok());
    }

    #[test]
    fn the_largest_allowed_draws_are_finite() {
        // σ = 3 with the most extreme normal draw SplitMix64 can give stays far below f64's range.
        let ln: Stragglers = "lognormal:sigma=3".parse().unwrap();
        assert!((0..100_000).all(|t| ln.factor(7, 1, t).is_finite()));
    }

    #[test]
    fn draws_are_reproducible_and_have_the_asked_rate() {
        let s: Stragglers = "bernoulli:p=0.1,factor=8".parse().unwrap();
        let slow =
            (0..8).flat_map(|w| (0..1000).map(move |t| (w, t))).filter(|&(w, t)| s.factor(3, w, t) == 8.0).count();
        assert!((700..900).contains(&slow), "{slow} of 8000 steps slow");
        assert_eq!(s.factor(3, 5, 77), s.factor(3, 5, 77));
        let differs = (0..200).filter(|&t| s.factor(3, 1, t) != s.factor(4, 1, t)).count();
        assert!(differs > 10, "seeds must give different draws");
        let ln: Stragglers = "lognormal:sigma=0.5".parse().unwrap();
        let logs: Vec<f64> = (0..4000).map(|t| ln.factor(1, 0, t).ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!(mean.abs() < 0.03 && (sd - 0.5).abs() < 0.03, "mean {mean} sd {sd}");
        let fixed: Stragglers = "fixed:worker=2,factor=3".parse().unwrap();
        assert_eq!((fixed.factor(0, 2, 9), fixed.factor(0, 1, 9)), (3.0, 1.0));
    }
}
