//! Spec strings: `name` or `name:key=value,…`, in the style of the dataset's `csbm:…` specs.
//! Errors name the offending key or value and list the valid ones. `Display` writes the keys
//! that differ from the defaults in the grammar's order, so a spec round-trips.

use std::fmt;
use std::str::FromStr;

use crate::spec::{non_default, write_spec, Parsed};

use super::{
    Attack, AttackBasis, PreAggregation, RobustError, RobustRule, DEFAULT_BUCKET, DEFAULT_CLIPPING_ITERS,
    DEFAULT_FACTOR, DEFAULT_IPM_EPS, DEFAULT_NU, DEFAULT_SIGMA, DEFAULT_TAU, DEFAULT_TOL, DEFAULT_WEISZFELD_ITERS,
    MAX_ROBUST_ITERS,
};

/// (name, keys) of every rule.
pub const RULES: &[(&str, &[&str])] = &[
    ("median", &[]),
    ("trimmed_mean", &["f"]),
    ("krum", &["f"]),
    ("multi_krum", &["f", "m"]),
    ("geometric_median", &["nu", "tol", "iters"]),
    ("centered_clipping", &["tau", "iters"]),
];
pub const PRE_AGGREGATIONS: &[(&str, &[&str])] = &[("none", &[]), ("nnm", &["f"]), ("bucketing", &["s"])];
pub const ATTACKS: &[(&str, &[&str])] = &[
    ("none", &[]),
    ("sign_flip", &["of"]),
    ("scaled", &["factor", "of"]),
    ("gaussian", &["sigma"]),
    ("zero", &[]),
    ("alie", &["z"]),
    ("ipm", &["eps"]),
    ("mimic", &["target"]),
    ("label_flip", &[]),
];

impl FromStr for RobustRule {
    type Err = RobustError;

    fn from_str(s: &str) -> Result<Self, RobustError> {
        let p = Parsed::new("robust rule", s, RULES)?;
        Ok(match p.name {
            "median" => RobustRule::Median,
            "trimmed_mean" => RobustRule::TrimmedMean { f: p.count("f")? },
            "krum" => RobustRule::Krum { f: p.count("f")? },
            "multi_krum" => RobustRule::MultiKrum { f: p.count("f")?, m: p.positive_count("m")? },
            "geometric_median" => RobustRule::GeometricMedian {
                nu: p.positive("nu")?.unwrap_or(DEFAULT_NU),
                tol: p.non_negative("tol")?.unwrap_or(DEFAULT_TOL),
                iters: iters(&p)?.unwrap_or(DEFAULT_WEISZFELD_ITERS),
            },
            "centered_clipping" => RobustRule::CenteredClipping {
                tau: p.positive("tau")?.unwrap_or(DEFAULT_TAU),
                iters: iters(&p)?.unwrap_or(DEFAULT_CLIPPING_ITERS),
            },
            _ => unreachable!("Parsed::new accepts only names of RULES"),
        })
    }
}

impl FromStr for PreAggregation {
    type Err = RobustError;

    fn from_str(s: &str) -> Result<Self, RobustError> {
        let p = Parsed::new("pre-aggregation", s, PRE_AGGREGATIONS)?;
        Ok(match p.name {
            "none" => PreAggregation::None,
            "nnm" => PreAggregation::Nnm { f: p.count("f")? },
            "bucketing" => PreAggregation::Bucketing { s: p.positive_count("s")?.unwrap_or(DEFAULT_BUCKET) },
            _ => unreachable!("Parsed::new accepts only names of PRE_AGGREGATIONS"),
        })
    }
}

impl FromStr for Attack {
    type Err = RobustError;

    fn from_str(s: &str) -> Result<Self, RobustError> {
        let p = Parsed::new("attack", s, ATTACKS)?;
        Ok(match p.name {
            "none" => Attack::None,
            "sign_flip" => Attack::SignFlip { of: basis(&p)? },
            "scaled" => Attack::Scaled { factor: p.finite("factor")?.unwrap_or(DEFAULT_FACTOR), of: basis(&p)? },
            "gaussian" => Attack::Gaussian { sigma: p.non_negative("sigma")?.unwrap_or(DEFAULT_SIGMA) },
            "zero" => Attack::Zero,
            "alie" => Attack::Alie { z: p.finite("z")? },
            "ipm" => Attack::Ipm { eps: p.finite("eps")?.unwrap_or(DEFAULT_IPM_EPS) },
            "mimic" => Attack::Mimic { target: p.count("target")? },
            "label_flip" => Attack::LabelFlip,
            _ => unreachable!("Parsed::new accepts only names of ATTACKS"),
        })
    }
}

/// `iters` of the iterative rules, 1 to [`MAX_ROBUST_ITERS`].
fn iters(p: &Parsed) -> Result<Option<u32>, RobustError> {
    let range = format!("an integer from 1 to {MAX_ROBUST_ITERS}");
    Ok(p.get("iters", &range, |n: u32| (1..=MAX_ROBUST_ITERS).contains(&n))?)
}

/// The `of` key of `sign_flip` and `scaled`.
fn basis(p: &Parsed) -> Result<AttackBasis, RobustError> {
    let range = "`mean` (the honest workers' mean gradient) or `own` (the worker's own gradient)";
    Ok(p.get("of", range, |_: AttackBasis| true)?.unwrap_or_default())
}

impl fmt::Display for RobustRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<usize>| v.map(|v| v.to_string());
        match *self {
            RobustRule::Median => write_spec(f, "median", &[]),
            RobustRule::TrimmedMean { f: ff } => write_spec(f, "trimmed_mean", &[("f", opt(ff))]),
            RobustRule::Krum { f: ff } => write_spec(f, "krum", &[("f", opt(ff))]),
            RobustRule::MultiKrum { f: ff, m } => write_spec(f, "multi_krum", &[("f", opt(ff)), ("m", opt(m))]),
            RobustRule::GeometricMedian { nu, tol, iters } => write_spec(
                f,
                "geometric_median",
                &[
                    ("nu", non_default(nu, DEFAULT_NU)),
                    ("tol", non_default(tol, DEFAULT_TOL)),
                    ("iters", non_default(iters, DEFAULT_WEISZFELD_ITERS)),
                ],
            ),
            RobustRule::CenteredClipping { tau, iters } => write_spec(
                f,
                "centered_clipping",
                &[("tau", non_default(tau, DEFAULT_TAU)), ("iters", non_default(iters, DEFAULT_CLIPPING_ITERS))],
            ),
        }
    }
}

impl fmt::Display for PreAggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PreAggregation::None => write_spec(f, "none", &[]),
            PreAggregation::Nnm { f: ff } => write_spec(f, "nnm", &[("f", ff.map(|v| v.to_string()))]),
            PreAggregation::Bucketing { s } => write_spec(f, "bucketing", &[("s", non_default(s, DEFAULT_BUCKET))]),
        }
    }
}

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Attack::SignFlip { of } => write_spec(f, "sign_flip", &[("of", non_default(of, AttackBasis::default()))]),
            Attack::Scaled { factor, of } => write_spec(
                f,
                "scaled",
                &[("factor", non_default(factor, DEFAULT_FACTOR)), ("of", non_default(of, AttackBasis::default()))],
            ),
            Attack::Gaussian { sigma } => write_spec(f, "gaussian", &[("sigma", non_default(sigma, DEFAULT_SIGMA))]),
            Attack::Alie { z } => write_spec(f, "alie", &[("z", z.map(|z| z.to_string()))]),
            Attack::Ipm { eps } => write_spec(f, "ipm", &[("eps", non_default(eps, DEFAULT_IPM_EPS))]),
            Attack::Mimic { target } => write_spec(f, "mimic", &[("target", target.map(|t| t.to_string()))]),
            other => write_spec(f, other.name(), &[]),
        }
    }
}

crate::spec_serde!(RobustRule, RobustError);
crate::spec_serde!(PreAggregation, RobustError);
crate::spec_serde!(Attack, RobustError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_with_defaults() {
        assert_eq!("median".parse(), Ok(RobustRule::Median));
        assert_eq!("trimmed_mean".parse(), Ok(RobustRule::TrimmedMean { f: None }));
        assert_eq!("trimmed_mean:f=2".parse(), Ok(RobustRule::TrimmedMean { f: Some(2) }));
        assert_eq!("multi_krum:m=4, f=1".parse(), Ok(RobustRule::MultiKrum { f: Some(1), m: Some(4) }));
        assert_eq!(
            "geometric_median:iters=3".parse(),
            Ok(RobustRule::GeometricMedian { nu: DEFAULT_NU, tol: DEFAULT_TOL, iters: 3 })
        );
        assert_eq!(
            "centered_clipping:tau=0.5".parse(),
            Ok(RobustRule::CenteredClipping { tau: 0.5, iters: DEFAULT_CLIPPING_ITERS })
        );
        assert_eq!("bucketing".parse(), Ok(PreAggregation::Bucketing { s: 2 }));
        assert_eq!("nnm:f=3".parse(), Ok(PreAggregation::Nnm { f: Some(3) }));
        assert_eq!("alie".parse(), Ok(Attack::Alie { z: None }));
        assert_eq!("scaled:factor=-4".parse(), Ok(Attack::Scaled { factor: -4.0, of: AttackBasis::HonestMean }));
        assert_eq!("scaled:of=own,factor=2".parse(), Ok(Attack::Scaled { factor: 2.0, of: AttackBasis::Own }));
        assert_eq!("sign_flip".parse(), Ok(Attack::SignFlip { of: AttackBasis::HonestMean }));
        assert_eq!("sign_flip:of=own".parse(), Ok(Attack::SignFlip { of: AttackBasis::Own }));
        assert_eq!("mimic:target=2".parse(), Ok(Attack::Mimic { target: Some(2) }));
        assert_eq!("label_flip".parse(), Ok(Attack::LabelFlip));
    }

    #[test]
    fn errors_name_the_key_and_list_valid_ones() {
        let e = "krumm".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("`krumm`") && e.contains("median, trimmed_mean, krum, multi_krum"), "{e}");
        let e = "krum:m=3".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("unknown key `m`") && e.contains("valid keys for `krum`: f"), "{e}");
        let e = "median:f=1".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("`median` takes no keys"), "{e}");
        let e = "geometric_median:nu=0".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("key `nu`") && e.contains("`0`") && e.contains("> 0"), "{e}");
        let e = "centered_clipping:iters=0".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("key `iters`") && e.contains("from 1 to 1000"), "{e}");
        for spec in ["geometric_median:iters=4294967295", "centered_clipping:iters=1001"] {
            let e = spec.parse::<RobustRule>().unwrap_err().to_string();
            assert!(e.contains("key `iters`") && e.contains("from 1 to 1000"), "{spec}: {e}");
        }
        assert!("geometric_median:iters=1000".parse::<RobustRule>().is_ok());
        let e = "trimmed_mean:f=-1".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("key `f`") && e.contains("`-1`"), "{e}");
        let e = "trimmed_mean:f".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("key=value"), "{e}");
        let e = "krum:f=1,f=2".parse::<RobustRule>().unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
        let e = "bucketing:s=0".parse::<PreAggregation>().unwrap_err().to_string();
        assert!(e.contains("pre-aggregation") && e.contains("key `s`"), "{e}");
        let e = "alie:z=inf".parse::<Attack>().unwrap_err().to_string();
        assert!(e.contains("key `z`") && e.contains("finite"), "{e}");
        let e = "sign_flip:of=self".parse::<Attack>().unwrap_err().to_string();
        assert!(e.contains("key `of`") && e.contains("`self`") && e.contains("`own`"), "{e}");
        let e = "flip".parse::<Attack>().unwrap_err().to_string();
        assert!(e.contains("sign_flip") && e.contains("label_flip"), "{e}");
    }

    #[test]
    fn display_round_trips() {
        let rules = [
            "median",
            "trimmed_mean",
            "trimmed_mean:f=2",
            "krum:f=1",
            "multi_krum",
            "multi_krum:f=1,m=4",
            "geometric_median",
            "geometric_median:nu=0.001,tol=0,iters=10",
            "centered_clipping:tau=0.5,iters=3",
        ];
        for s in rules {
            assert_eq!(s.parse::<RobustRule>().unwrap().to_string(), s);
        }
        for s in ["none", "nnm", "nnm:f=2", "bucketing", "bucketing:s=3"] {
            assert_eq!(s.parse::<PreAggregation>().unwrap().to_string(), s);
        }
        let attacks = [
            "none",
            "sign_flip",
            "sign_flip:of=own",
            "scaled",
            "scaled:factor=-2.5",
            "scaled:factor=-10,of=own",
            "scaled:of=own",
            "gaussian:sigma=0.1",
            "zero",
            "alie",
            "alie:z=1.5",
            "ipm:eps=2",
            "mimic",
            "mimic:target=3",
            "label_flip",
        ];
        for s in attacks {
            assert_eq!(s.parse::<Attack>().unwrap().to_string(), s);
        }
        assert_eq!("geometric_median:iters=5".parse::<RobustRule>().unwrap().to_string(), "geometric_median");
    }

    #[test]
    fn serde_uses_the_spec_string() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Config {
            robust: RobustRule,
            pre: PreAggregation,
            attack: Attack,
        }
        let c: Config = toml::from_str("robust = \"krum:f=2\"\npre = \"bucketing\"\nattack = \"alie:z=1\"").unwrap();
        assert_eq!(
            c,
            Config {
                robust: RobustRule::Krum { f: Some(2) },
                pre: PreAggregation::Bucketing { s: 2 },
                attack: Attack::Alie { z: Some(1.0) }
            }
        );
        assert_eq!(toml::from_str::<Config>(&toml::to_string(&c).unwrap()).unwrap(), c);
        let e = toml::from_str::<Config>("robust = \"krum:g=2\"\npre = \"none\"\nattack = \"zero\"").unwrap_err();
        assert!(e.to_string().contains("unknown key `g`"), "{e}");
    }
}
