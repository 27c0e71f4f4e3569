//! Finished runs kept on disk, one file each, and what they came from.
//!
//! A sweep keeps every finished run in `.NAME.sweep/` beside its destination (its own staging
//! folder, which outlives the process: SIGKILL included). A run's file `run.RUN_ID.json` is
//! written to a temporary name and renamed when whole, so its presence is the run's completion
//! mark. Started again with the same command, the sweep keeps those runs and runs the rest; the
//! folder goes when the results are in place (and on SIGINT or SIGTERM before any run finished). A shard folder (`run --shard`) holds the same run
//! files with `shard.json`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Experiment;
use crate::report::atomic::{write_atomic, write_json_atomic};
use crate::report::provenance::SourceState;

/// What a sweep's results come from: two sweeps (or shards) with equal identities compute the
/// same rows for the same run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub name: String,
    pub dataset: String,
    pub per_epoch: bool,
    pub traces: bool,
    pub seeds: Vec<u64>,
    /// Every run id of the experiment, in its order (the order of the rows).
    pub run_ids: Vec<String>,
    /// `experiment.resolved.toml`: every run's full configuration.
    pub resolved: String,
    pub source_commit: Option<String>,
    pub source_dirty: Option<bool>,
    pub dataset_fingerprint: String,
    /// The accuracy targets of `runs.csv`'s time-to-accuracy columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<f64>,
}

impl Identity {
    pub fn new(exp: &Experiment, dataset_fingerprint: String) -> anyhow::Result<Self> {
        let source = SourceState::of_this_build();
        Ok(Self {
            name: exp.name.clone(),
            dataset: exp.dataset.clone(),
            per_epoch: exp.per_epoch,
            traces: exp.traces,
            seeds: exp.seeds(),
            run_ids: exp.runs.iter().map(|r| r.run_id.clone()).collect(),
            resolved: toml::to_string_pretty(exp).context("serializing the resolved experiment")?,
            source_commit: source.as_ref().map(|s| s.commit.clone()),
            source_dirty: source.as_ref().map(|s| s.dirty),
            dataset_fingerprint,
            targets: exp.targets.clone(),
        })
    }

    /// The result files a run contributes to, in the order `write_results` writes them.
    pub fn files(&self) -> Vec<&'static str> {
        let mut files = vec!["runs.csv"];
        if self.per_epoch {
            files.extend(["metrics.csv", "comm.csv"]);
            if self.traces {
                files.extend(["workers.csv", "gradients.csv"]);
            }
        }
        files.push("timing.csv");
        files
    }
}

/// One finished run: its rows of each result file, as the CSV text (header first) that the
/// one-machine results hold for it, and its validation curve (`curve.csv`, which no result file
/// holds: `runs.csv`'s time to accuracy is computed from it when every run is known).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredRun {
    pub run_id: String,
    /// The backend's label (`env.json`'s `backend`).
    pub backend: String,
    pub files: BTreeMap<String, String>,
}

/// Rows as CSV text, exactly as `write_csv_atomic` writes them.
pub fn csv_text<R: serde::Serialize>(rows: &[R]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).context("writing rows as CSV")?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("writing rows as CSV: {e}"))?;
    String::from_utf8(bytes).context("CSV rows as text")
}

/// [`csv_text`] less the columns named in `drop`.
pub fn csv_text_without<R: serde::Serialize>(rows: &[R], drop: &[&str]) -> anyhow::Result<String> {
    let text = csv_text(rows)?;
    let kept = crate::report::atomic::without_columns(text.as_bytes(), drop).context("dropping CSV columns")?;
    String::from_utf8(kept).context("CSV rows as text")
}

/// The file name of a run's file in a sweep or shard folder. Run ids are made of letters,
/// digits, `.` and `-` (see `file::slug`); a very long one is named by its hash.
pub fn file_name(run_id: &str) -> String {
    if run_id.len() <= 200 && run_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        format!("run.{run_id}.json")
    } else {
        format!("run.{:016x}.json", super::shard::hash64(run_id.as_bytes()))
    }
}

pub fn write_run(dir: &Path, run: &StoredRun) -> anyhow::Result<()> {
    let path = dir.join(file_name(&run.run_id));
    let text = serde_json::to_string(run).context("serializing a finished run")?;
    write_atomic(&path, |w| w.write_all(text.as_bytes())).with_context(|| format!("keeping run {}", run.run_id))
}

/// Every run file in `dir` (temporary files of a killed write are not run files).
pub fn read_runs(dir: &Path) -> anyhow::Result<Vec<(PathBuf, StoredRun)>> {
    let mut runs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !(name.starts_with("run.") && name.ends_with(".json")) {
            continue;
        }
        let text = crate::bounded::read_to_string(&path, MAX_RUN_FILE)
            .with_context(|| format!("reading {}", path.display()))?;
        let run: StoredRun = serde_json::from_str(&text).with_context(|| {
            format!("{}: not a finished run's file (--restart discards the kept runs)", path.display())
        })?;
        runs.push((path, run));
    }
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(runs)
}

/// The largest run file read back: a run's per-epoch traces can run to hundreds of megabytes.
const MAX_RUN_FILE: u64 = 16 << 30;

/// A sweep's folder of finished runs beside its destination; see the module docs.
pub struct Sweep {
    dir: PathBuf,
    /// While no run is kept, SIGINT and SIGTERM remove the folder: nothing in it is worth keeping.
    until_first_run: std::sync::Mutex<Option<crate::report::output::cleanup::Registration>>,
}

const SWEEP_FILE: &str = "sweep.json";

impl Sweep {
    /// The sweep folder of `dest` (a resolved, locked destination): the runs it keeps that are
    /// in `wanted` (all of them unless `restart`, or the identity changed), and the folder
    /// ready for more.
    pub fn open(
        dest: &Path,
        identity: &Identity,
        restart: bool,
    ) -> anyhow::Result<(Sweep, HashMap<String, StoredRun>)> {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let sweep = Sweep { dir: dest.with_file_name(format!(".{name}.sweep")), until_first_run: Default::default() };
        let mut kept = HashMap::new();
        if sweep.dir.exists() {
            let earlier = sweep.identity()?;
            // An empty folder (no sweep.json yet) holds nothing either.
            if restart || earlier.is_none() {
                sweep.remove()?;
            } else if earlier.as_ref() != Some(identity) {
                eprintln!(
                    "note: {} holds the finished runs of another experiment, commit or dataset; starting from zero",
                    sweep.dir.display()
                );
                sweep.remove()?;
            } else {
                for (_, run) in read_runs(&sweep.dir)? {
                    if identity.run_ids.contains(&run.run_id) {
                        kept.insert(run.run_id.clone(), run);
                    }
                }
            }
        }
        if !sweep.dir.exists() {
            fs::create_dir(&sweep.dir).with_context(|| format!("creating {}", sweep.dir.display()))?;
            write_json_atomic(&sweep.dir.join(SWEEP_FILE), identity)?;
        }
        if kept.is_empty() {
            let registration = crate::report::output::cleanup::register_folder(sweep.dir.clone());
            *sweep.until_first_run.lock().unwrap_or_else(|e| e.into_inner()) = Some(registration);
        }
        Ok((sweep, kept))
    }

    /// The identity an existing folder records; refuses a folder that is not a sweep's.
    fn identity(&self) -> anyhow::Result<Option<Identity>> {
        let path = self.dir.join(SWEEP_FILE);
        let Ok(text) = crate::bounded::read_to_string(&path, crate::bounded::CONFIG_FILE_LIMIT) else {
            let empty = fs::read_dir(&self.dir).map(|mut d| d.next().is_none()).unwrap_or(false);
            anyhow::ensure!(
                empty,
                "{} is not a gcnsim sweep folder (it has no {SWEEP_FILE}); move it away",
                self.dir.display()
            );
            return Ok(None);
        };
        let identity: Identity = serde_json::from_str(&text).with_context(|| {
            format!("{}: not a gcnsim sweep's file; move {} away", path.display(), self.dir.display())
        })?;
        Ok(Some(identity))
    }

    /// Keeps `run`; from now on an interrupt leaves the folder for the next start.
    pub fn store(&self, run: &StoredRun) -> anyhow::Result<()> {
        self.until_first_run.lock().unwrap_or_else(|e| e.into_inner()).take();
        write_run(&self.dir, run)
    }

    /// Removes the folder: its runs are in the results, or not wanted.
    pub fn remove(&self) -> anyhow::Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", self.dir.display()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_is_what_write_csv_writes() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![crate::report::rows::RunTimingRow { run_id: "a,b".into(), ms_per_epoch: 0.1, seconds: 2.0 }];
        crate::report::write_csv_atomic(&dir.path().join("t.csv"), &rows).unwrap();
        assert_eq!(csv_text(&rows).unwrap(), fs::read_to_string(dir.path().join("t.csv")).unwrap());
        assert_eq!(csv_text::<crate::report::rows::RunTimingRow>(&[]).unwrap(), "");
    }

    #[test]
    fn a_sweep_keeps_its_runs_for_the_same_identity_only() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r");
        let exp = Experiment::parse("dataset = \"csbm\"\n[grid]\nseed = [0, 1]\n", Path::new("t.toml")).unwrap();
        let id = Identity::new(&exp, "fp".into()).unwrap();
        let run = StoredRun { run_id: exp.runs[0].run_id.clone(), backend: "cpu".into(), files: Default::default() };
        let (sweep, kept) = Sweep::open(&dest, &id, false).unwrap();
        assert!(kept.is_empty());
        sweep.store(&run).unwrap();
        let (sweep, kept) = Sweep::open(&dest, &id, false).unwrap();
        assert_eq!(kept.get(&run.run_id), Some(&run), "kept for the same command");
        drop(sweep);
        assert!(Sweep::open(&dest, &id, true).unwrap().1.is_empty(), "--restart");
        Sweep::open(&dest, &id, false).unwrap().0.store(&run).unwrap();
        let other = Identity { dataset_fingerprint: "other data".into(), ..id.clone() };
        assert!(Sweep::open(&dest, &other, false).unwrap().1.is_empty(), "other data: from zero");
        // A folder of that name that gcnsim did not write is refused, not removed.
        let foreign = dir.path().join(".f.sweep");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("notes.txt"), "mine").unwrap();
        let e = Sweep::open(&dir.path().join("f"), &id, false).err().unwrap().to_string();
        assert!(e.contains("not a gcnsim sweep folder"), "{e}");
        fs::write(foreign.join(SWEEP_FILE), "{}").unwrap();
        assert!(Sweep::open(&dir.path().join("f"), &id, true).is_err());
        assert!(foreign.join("notes.txt").is_file());
    }

    #[test]
    fn run_files_are_plain_names() {
        assert_eq!(file_name("p2-drop-metis-s0"), "run.p2-drop-metis-s0.json");
        let long = "x".repeat(300);
        assert!(file_name(&long).len() < 30);
        assert!(!file_name("../a").contains('/'));
    }
}
