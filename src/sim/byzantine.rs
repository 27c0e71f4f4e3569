//! Byzantine workers and robust aggregation: the run's options (also `train`'s flags and
//! experiment keys, like [`crate::sim::TrainConfig`]) and their resolution into the server's
//! [`RobustPlan`].
//!
//! What is supported, and why the rest is refused:
//! - consistency `bsp` and `ssp`: the server combines the P gradients of one step at once, so a
//!   rule can compare them and an omniscient attack can read them. Under `asp` every gradient is
//!   applied alone.
//! - boundaries `replicate` and `drop`: each worker's gradient is the gradient of its own
//!   training nodes' mean loss. With `exchange`, `stale` and `sample` the backward pass sends
//!   gradient rows across partitions, so a worker's weight gradient mixes every partition's
//!   loss: not an estimate a robust rule can compare with the others.
//! - topology `flat`: a robust rule needs every row at the server.

use super::options::{invalid, ConfigError};
use super::Consistency;
use crate::graph::local::Boundary;
use crate::ps::robust::{choose_byzantine, Attack, PreAggregation, RobustError, RobustPlan, RobustRule};
use crate::ps::{Aggregation, Aggregator};

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct ByzantineConfig {
    /// Number of Byzantine workers F (they send `--attack` instead of their gradient).
    #[arg(long, default_value_t = 0)]
    pub byzantine: usize,
    /// Which workers are Byzantine (comma-separated ids); default: F chosen by the seed.
    #[arg(long, value_delimiter = ',', value_name = "I,J,...")]
    pub byzantine_workers: Vec<usize>,
    /// What Byzantine workers send: none, sign_flip[:of=mean|own] (−g), scaled[:factor=K,of=…]
    /// (K·g, default 100), g the honest workers' mean (default) or the worker's own gradient;
    /// gaussian[:sigma=S] (honest mean + N(0, S²), default 200), zero, alie[:z=Z] (honest mean −
    /// z·std, z from P and F as in Baruch et al. unless given), ipm[:eps=E] (−E·honest mean,
    /// default 0.1), mimic[:target=J] (a copy of honest worker J, default the first),
    /// label_flip (trains on labels c → C−1−c).
    #[arg(long, default_value_t = Attack::None)]
    pub attack: Attack,
    /// The number of Byzantine workers the rule assumes (trimmed_mean, krum, multi_krum, nnm);
    /// default: the actual F. A rule's own `f=` key wins over it.
    #[arg(long, value_name = "F")]
    pub assume_byzantine: Option<usize>,
    /// Multi-Krum's m, the rows averaged (default P − f). The rule's own `m=` key wins over it.
    #[arg(long, value_name = "M")]
    pub krum_select: Option<usize>,
    /// Before the robust rule: none, nnm[:f=F] (nearest-neighbour mixing), bucketing[:s=S]
    /// (average random buckets of S, default 2).
    #[arg(long, default_value_t = PreAggregation::None)]
    pub pre_aggregate: PreAggregation,
}

/// The options that decide whether and how the server aggregates robustly.
pub struct Context {
    pub workers: usize,
    pub seed: u64,
    pub aggregate: Aggregator,
    pub consistency: Consistency,
    pub boundary: Boundary,
    pub flat_topology: bool,
}

impl ByzantineConfig {
    /// Whether this run needs the robust server at all.
    pub fn active(&self, aggregate: Aggregator) -> bool {
        self.byzantine > 0 || aggregate.robust().is_some() || self.pre_aggregate != PreAggregation::None
    }

    /// The Byzantine workers: as given, or chosen by the seed.
    pub fn workers(&self, workers: usize, seed: u64) -> Vec<usize> {
        if self.byzantine_workers.is_empty() {
            choose_byzantine(seed, workers, self.byzantine)
        } else {
            let mut w = self.byzantine_workers.clone();
            w.sort_unstable();
            w
        }
    }

    /// The server's plan, or `None` for plain training. Every error names its key.
    pub fn resolve(&self, c: &Context) -> Result<Option<RobustPlan>, ConfigError> {
        let (p, f) = (c.workers, self.byzantine);
        if !self.byzantine_workers.is_empty() {
            let mut w = self.byzantine_workers.clone();
            w.sort_unstable();
            w.dedup();
            if w.len() != self.byzantine_workers.len() {
                return Err(invalid("byzantine_workers", "a worker is listed twice"));
            }
            if w.len() != f {
                return Err(invalid(
                    "byzantine_workers",
                    format!("lists {} workers, but byzantine = {f}", self.byzantine_workers.len()),
                ));
            }
            if let Some(&bad) = w.iter().find(|&&i| i >= p) {
                return Err(invalid("byzantine_workers", format!("worker {bad} does not exist: workers are 0..{p}")));
            }
        }
        if !self.active(c.aggregate) {
            if self.attack != Attack::None {
                return Err(invalid("attack", "no worker is Byzantine: set byzantine (the number of attackers)"));
            }
            if self.krum_select.is_some() || self.assume_byzantine.is_some() {
                let key = if self.krum_select.is_some() { "krum_select" } else { "assume_byzantine" };
                return Err(invalid(key, format!("applies to robust rules, but aggregate = {}", c.aggregate)));
            }
            return Ok(None);
        }
        if p < 2 {
            let key = if f > 0 { "byzantine" } else { "aggregate" };
            return Err(invalid(key, "needs a parameter server with several workers: set partitions ≥ 2"));
        }
        if f >= p {
            return Err(invalid("byzantine", format!("{f} of {p} workers: at least one worker must be honest")));
        }
        if c.consistency == Consistency::Asp {
            return Err(invalid(
                "consistency",
                "asp applies every gradient alone, so no rule can compare it with others and no attack can read \
                 the honest ones; Byzantine workers and robust rules need bsp or ssp",
            ));
        }
        if c.boundary.exchanges() {
            return Err(invalid(
                "boundary",
                format!(
                    "with {} the backward pass sends gradient rows across partitions, so a worker's weight gradient \
                     mixes every partition's loss and is no estimate to compare; use replicate (no edge lost) or drop",
                    c.boundary.name()
                ),
            ));
        }
        if !c.flat_topology {
            return Err(invalid("topology", "robust aggregation and attacks need every gradient at the server: flat"));
        }
        let rule = match c.aggregate.robust() {
            Some(rule) => Some(self.fill_rule(rule)?),
            None => {
                if self.pre_aggregate != PreAggregation::None {
                    return Err(invalid("pre_aggregate", "applies before a robust rule; aggregate is linear"));
                }
                if self.krum_select.is_some() {
                    return Err(invalid("krum_select", format!("applies to multi_krum, not {}", c.aggregate)));
                }
                None
            }
        };
        let pre = match self.pre_aggregate {
            PreAggregation::Nnm { f: None } => PreAggregation::Nnm { f: self.assume_byzantine },
            other => other,
        };
        let linear = match c.aggregate {
            crate::ps::Aggregator::Linear(a) => a,
            crate::ps::Aggregator::Robust(_) => Aggregation::Mean,
        };
        let mut byzantine = vec![false; p];
        for i in self.workers(p, c.seed) {
            byzantine[i] = true;
        }
        let plan = RobustPlan { byzantine, attack: self.attack, pre, rule, linear };
        plan.check(c.seed).map_err(|e| {
            let key = match &e {
                RobustError::Spec { what, .. } if what.contains("attack") => "attack",
                RobustError::Invalid { name, .. } if plan.attack.name() == *name => "attack",
                _ if matches!(e, RobustError::TooFewWorkers { name: "nnm", .. }) => "pre_aggregate",
                _ => "aggregate",
            };
            let rows = plan.rows();
            let note = if key == "aggregate" && rows != p {
                format!(" (the {} rows that {} leaves of the {p} workers' gradients)", rows, plan.pre)
            } else {
                String::new()
            };
            invalid(key, format!("{e}{note}"))
        })?;
        Ok(Some(plan))
    }

    /// The rule with `assume_byzantine` and `krum_select` filled in where its spec left them.
    fn fill_rule(&self, rule: RobustRule) -> Result<RobustRule, ConfigError> {
        let f = self.assume_byzantine;
        Ok(match rule {
            RobustRule::TrimmedMean { f: None } => RobustRule::TrimmedMean { f },
            RobustRule::Krum { f: None } => RobustRule::Krum { f },
            RobustRule::MultiKrum { f: rf, m } => RobustRule::MultiKrum { f: rf.or(f), m: m.or(self.krum_select) },
            other => {
                if self.krum_select.is_some() {
                    return Err(invalid("krum_select", format!("applies to multi_krum, not {}", other.name())));
                }
                other
            }
        })
    }

    /// Words for a run's label: `F=3 [workers 1,4,7] scaled:factor=-10 nnm`.
    pub fn label_parts(&self, varies: impl Fn(&str) -> bool) -> Vec<String> {
        let mut parts = Vec::new();
        if self.byzantine > 0 || varies("byzantine") {
            parts.push(format!("F={}", self.byzantine));
        }
        if !self.byzantine_workers.is_empty() {
            let ids: Vec<String> = self.byzantine_workers.iter().map(|i| i.to_string()).collect();
            parts.push(format!("workers {}", ids.join(",")));
        }
        if self.attack != Attack::None || varies("attack") {
            parts.push(self.attack.to_string());
        }
        if let Some(f) = self.assume_byzantine {
            parts.push(format!("assume f={f}"));
        }
        if let Some(m) = self.krum_select {
            parts.push(format!("m={m}"));
        }
        if self.pre_aggregate != PreAggregation::None || varies("pre_aggregate") {
            parts.push(format!("pre={}", self.pre_aggregate));
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::robust::AttackBasis;

    fn context(aggregate: &str) -> Context {
        Context {
            workers: 10,
            seed: 0,
            aggregate: aggregate.parse().unwrap(),
            consistency: Consistency::Bsp,
            boundary: Boundary::Replicate,
            flat_topology: true,
        }
    }

    #[test]
    fn plain_runs_need_no_plan() {
        assert_eq!(ByzantineConfig::default().resolve(&context("weighted")), Ok(None));
        let c = ByzantineConfig { attack: Attack::SignFlip { of: AttackBasis::HonestMean }, ..Default::default() };
        assert_eq!(c.resolve(&context("mean")).unwrap_err().key, "attack");
    }

    #[test]
    fn resolves_workers_and_fills_the_rule() {
        let c = ByzantineConfig {
            byzantine: 3,
            attack: Attack::Scaled { factor: -10.0, of: AttackBasis::HonestMean },
            krum_select: Some(5),
            ..Default::default()
        };
        let plan = c.resolve(&context("multi_krum")).unwrap().unwrap();
        assert_eq!(plan.byzantine_workers(), choose_byzantine(0, 10, 3));
        assert_eq!(plan.rule, Some(RobustRule::MultiKrum { f: None, m: Some(5) }));
        let given = ByzantineConfig { byzantine_workers: vec![9, 0, 4], ..c.clone() };
        assert_eq!(given.resolve(&context("mean")).unwrap_err().key, "krum_select");
        let given = ByzantineConfig { krum_select: None, ..given };
        assert_eq!(given.resolve(&context("mean")).unwrap().unwrap().byzantine_workers(), vec![0, 4, 9]);
    }

    #[test]
    fn impossible_settings_name_their_key() {
        let c = ByzantineConfig {
            byzantine: 2,
            attack: Attack::SignFlip { of: AttackBasis::HonestMean },
            ..Default::default()
        };
        type Change = Box<dyn Fn(&mut ByzantineConfig, &mut Context)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|c, _| c.byzantine_workers = vec![1]), "byzantine_workers"),
            (Box::new(|c, _| c.byzantine_workers = vec![1, 1]), "byzantine_workers"),
            (Box::new(|c, _| c.byzantine_workers = vec![1, 10]), "byzantine_workers"),
            (Box::new(|c, _| c.byzantine = 10), "byzantine"),
            (Box::new(|_, x| x.consistency = Consistency::Asp), "consistency"),
            (Box::new(|_, x| x.boundary = Boundary::Exchange), "boundary"),
            (Box::new(|_, x| x.flat_topology = false), "topology"),
            (Box::new(|_, x| x.workers = 1), "byzantine"),
            (Box::new(|c, _| c.pre_aggregate = PreAggregation::Nnm { f: None }), "pre_aggregate"),
            (Box::new(|_, x| x.aggregate = "krum:f=4".parse().unwrap()), "aggregate"),
            (Box::new(|c, _| c.attack = Attack::Mimic { target: Some(20) }), "attack"),
        ];
        for (i, (change, key)) in cases.into_iter().enumerate() {
            let (mut cfg, mut ctx) = (c.clone(), context("mean"));
            change(&mut cfg, &mut ctx);
            let e = cfg.resolve(&ctx).expect_err(&format!("case {i}"));
            assert_eq!(e.key, key, "case {i}: {e}");
        }
        // Krum needs n ≥ 2f + 3: f = 4 of 10 workers is impossible, named with the numbers.
        let four = ByzantineConfig {
            byzantine: 4,
            attack: Attack::SignFlip { of: AttackBasis::HonestMean },
            ..Default::default()
        };
        let e = four.resolve(&context("krum")).unwrap_err();
        assert!(e.key == "aggregate" && e.message.contains("2f + 3 = 11"), "{e}");
    }
}
