//! Shards: which runs of an experiment one machine of a cluster runs (`gcnsim run --shard K/N`).
//!
//! A run belongs to shard `1 + hash(configuration) mod N`. The hash is of the run's full
//! configuration (what its id names), not of its position or its id: adding a seed or a grid
//! value adds runs without moving any existing run to another shard (a key that gains its
//! second value renames the runs, since labels name the keys that vary, but changes no
//! configuration).

use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::RunSpec;

/// Shard `index` of `count`, counted from 1 (as `cargo nextest --partition count:K/N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// More shards than an experiment may hold runs would leave shards empty by construction.
pub const MAX_SHARDS: usize = super::file::MAX_RUNS;

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a shard: write K/N, e.g. 2/8 for the second of 8 shards");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        Shard::new(index, count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Self, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("{count} shards: between 1 and {MAX_SHARDS}"));
        }
        if index == 0 || index > count {
            return Err(format!("shard {index} of {count}: shards are counted from 1 to {count}"));
        }
        Ok(Shard { index, count })
    }

    /// Whether `run` belongs to this shard.
    pub fn holds(&self, run: &RunSpec) -> bool {
        shard_of(run, self.count) == self.index
    }
}

/// The first 8 bytes of SHA-256: the same on every machine, version and platform.
pub fn hash64(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// The shard (1 to `count`) that runs `run`.
pub fn shard_of(run: &RunSpec, count: usize) -> usize {
    let config = serde_json::to_string(&run.config).expect("a run configuration serializes");
    (hash64(config.as_bytes()) % count as u64) as usize + 1
}

/// The shard to run: `--shard`, else a Slurm array task (`SLURM_ARRAY_TASK_ID` from
/// `SLURM_ARRAY_TASK_MIN`, 0 if unset, among `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes
/// Indexed Job's `JOB_COMPLETION_INDEX` (from 0) among `--shards N`; with a line saying where
/// an environment shard came from. `var` reads the environment.
pub fn choose(
    explicit: Option<Shard>,
    shards: Option<usize>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<(Shard, Option<String>)>, String> {
    if let Some(shard) = explicit {
        return Ok(Some((shard, None)));
    }
    let number = |name: &str| -> Result<Option<usize>, String> {
        match var(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}={v} is not a whole number ≥ 0")),
        }
    };
    if let (Some(id), Some(count)) = (number("SLURM_ARRAY_TASK_ID")?, number("SLURM_ARRAY_TASK_COUNT")?) {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let index = id.checked_sub(min).map(|i| i + 1).unwrap_or(0);
        let shard = Shard::new(index, count).map_err(|e| {
            format!(
                "SLURM_ARRAY_TASK_ID={id} (from SLURM_ARRAY_TASK_MIN={min}) of SLURM_ARRAY_TASK_COUNT={count}: {e}; \
                 use a contiguous array (--array=0-{}) or pass --shard K/N",
                count.saturating_sub(1)
            )
        })?;
        let note = format!("shard {shard} from SLURM_ARRAY_TASK_ID={id} of SLURM_ARRAY_TASK_COUNT={count}");
        return Ok(Some((shard, Some(note))));
    }
    match (number("JOB_COMPLETION_INDEX")?, shards) {
        (Some(index), Some(count)) => {
            let shard = Shard::new(index.saturating_add(1), count)
                .map_err(|e| format!("JOB_COMPLETION_INDEX={index} with --shards {count}: {e}"))?;
            Ok(Some((shard, Some(format!("shard {shard} from JOB_COMPLETION_INDEX={index} and --shards {count}")))))
        }
        (None, Some(count)) => Err(format!(
            "--shards {count} needs JOB_COMPLETION_INDEX (set in a Kubernetes Indexed Job); elsewhere pass --shard K/{count}"
        )),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Experiment;
    use std::collections::HashMap;
    use std::path::Path;

    fn parse(text: &str) -> Experiment {
        Experiment::parse(text, Path::new("t.toml")).unwrap()
    }

    const GRID: &str = "dataset = \"csbm\"\n[base]\nepochs = 5\n[grid]\npartitions = [1, 2, 4]\nboundary = [\"exchange\", \"drop\"]\nlr = [0.01]\n";

    #[test]
    fn every_run_lands_in_exactly_one_shard() {
        let e = parse(&format!("{GRID}seed = [0, 1, 2]\n"));
        for count in [1, 2, 3, 7] {
            for run in &e.runs {
                let holders = (1..=count).filter(|&k| Shard::new(k, count).unwrap().holds(run)).count();
                assert_eq!(holders, 1, "{} in {count} shards", run.run_id);
            }
        }
    }

    #[test]
    fn adding_a_seed_or_a_grid_value_moves_no_run() {
        let before = parse(&format!("{GRID}seed = [0, 1]\n"));
        let grown = [
            parse(&format!("{GRID}seed = [0, 1, 7]\n")),
            parse(&format!("{}seed = [0, 1]\n", GRID.replace("[1, 2, 4]", "[1, 2, 4, 8]"))),
            parse(&format!("{}seed = [0, 1]\n", GRID.replace("[0.01]", "[0.01, 0.1]"))),
        ];
        for after in &grown {
            assert!(after.runs.len() > before.runs.len());
            for count in [2, 3, 7] {
                let shard_of_config: HashMap<String, usize> = after
                    .runs
                    .iter()
                    .map(|r| (serde_json::to_string(&r.config).unwrap(), shard_of(r, count)))
                    .collect();
                for run in &before.runs {
                    let config = serde_json::to_string(&run.config).unwrap();
                    assert_eq!(shard_of_config[&config], shard_of(run, count), "{} moved", run.run_id);
                }
            }
        }
        // The first two keep their run ids too; a key's second value renames (not moves) runs.
        let ids = |e: &Experiment| e.runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>();
        assert!(ids(&before).iter().all(|id| ids(&grown[0]).contains(id)));
    }

    #[test]
    fn shard_arguments_are_checked() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_environment_names_the_shard() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let none: &[(&str, &str)] = &[];
        assert_eq!(choose(None, None, env(none)), Ok(None));
        let slurm = &[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        let (shard, note) = choose(None, None, env(slurm)).unwrap().unwrap();
        assert_eq!((shard.index, shard.count), (1, 4));
        assert!(note.unwrap().contains("SLURM_ARRAY_TASK_ID=0"));
        let from_one = &[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "1")];
        assert_eq!(choose(None, None, env(from_one)).unwrap().unwrap().0, Shard { index: 4, count: 4 });
        let stepped = &[("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert!(choose(None, None, env(stepped)).unwrap_err().contains("contiguous"));
        // An explicit --shard wins.
        assert_eq!(choose(Some(Shard { index: 2, count: 2 }), None, env(slurm)).unwrap().unwrap().1, None);
        let k8s = &[("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(choose(None, Some(3), env(k8s)).unwrap().unwrap().0, Shard { index: 3, count: 3 });
        assert!(choose(None, Some(2), env(k8s)).is_err(), "index 2 of 2 shards");
        assert_eq!(choose(None, None, env(k8s)), Ok(None), "an index alone names no shard count");
        assert!(choose(None, Some(2), env(none)).unwrap_err().contains("JOB_COMPLETION_INDEX"));
        assert!(choose(None, None, env(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "2")])).is_err());
    }
}
