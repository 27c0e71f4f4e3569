//! Writing an experiment's results folder from its finished runs (`run`, `merge`), and a
//! shard's folder (`run --shard`).
//!
//! Every CSV is the header and each run's rows in the experiment's order, whichever process or
//! machine ran them and in whichever order they finished; the figures are drawn from the CSVs
//! as written (as `gcnsim plot` redraws them).

use std::path::Path;

use anyhow::Context;

use super::shard::Shard;
use super::stored::{write_run, Identity, StoredRun};
use crate::report::rows::RunRow;
use crate::report::targets::{self, CurvePoint, Reached};
use crate::report::{atomic::write_json_atomic, write_atomic};

/// `env.json`: what made the results. Nothing here changes when the same commit re-runs the
/// experiment on the same kind of machine, so a re-run leaves it byte-identical; wall-clock
/// figures live in `timing.csv`.
#[derive(serde::Serialize)]
struct EnvInfo<'a> {
    gcnsim_version: &'static str,
    /// The last commit that changed gcnsim's sources or experiment files.
    source_commit: &'a Option<String>,
    /// Whether those files had uncommitted changes when the experiment ran.
    source_dirty: Option<bool>,
    backend: &'a str,
    os: &'static str,
    arch: &'static str,
    dataset: &'a str,
    /// Sizes and checksum of the loaded data (see `Dataset::fingerprint`): the exact data the
    /// results came from, whatever folder or name `dataset` resolved to.
    dataset_fingerprint: &'a str,
    seeds: &'a [u64],
    runs: usize,
}

/// `shard.json`: the experiment a shard folder's runs come from and which of its runs it holds.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ShardFile {
    /// `K/N`.
    pub shard: String,
    /// The run ids this shard holds, in the experiment's order (a file `run.ID.json` each).
    pub runs: Vec<String>,
    pub identity: Identity,
}

pub const SHARD_FILE: &str = "shard.json";

/// A stored run's validation curve (see [`StoredRun`]).
pub const CURVE_FILE: &str = "curve.csv";

/// Every run's `runs.csv` row with its default-target columns filled, and when each reached
/// each of `targets`: they need every run of the experiment (the serial references).
pub fn run_rows(runs: &[StoredRun], targets: &[f64]) -> anyhow::Result<(Vec<RunRow>, Vec<Vec<Reached>>)> {
    let (mut rows, mut curves) = (Vec::new(), Vec::new());
    for run in runs {
        let text = |name: &str| run.files.get(name).map(String::as_str).unwrap_or_default();
        let row: Vec<RunRow> = read_rows(text("runs.csv")).with_context(|| format!("run {}", run.run_id))?;
        anyhow::ensure!(row.len() == 1, "run {}: {} rows of runs.csv, not one", run.run_id, row.len());
        rows.extend(row);
        curves.push(read_rows::<CurvePoint>(text(CURVE_FILE)).with_context(|| format!("run {}", run.run_id))?);
    }
    let reached = targets::fill(&mut rows, &curves, targets);
    Ok((rows, reached))
}

/// Writes the results of `runs` (every run of the experiment, in its order) into `dir`, and
/// with `report` the page that shows them, last: it reads the files written before it.
pub fn write_results(dir: &Path, identity: &Identity, runs: &[StoredRun], report: bool) -> anyhow::Result<()> {
    let backend = one_backend(runs)?;
    write_atomic(&dir.join("experiment.resolved.toml"), |w| w.write_all(identity.resolved.as_bytes()))?;
    for name in identity.files() {
        let text = if name == "runs.csv" && !runs.is_empty() {
            let (rows, reached) = run_rows(runs, &identity.targets)?;
            targets::runs_csv(&rows, &reached, &identity.targets).context("writing runs.csv")?
        } else {
            joined(runs, name)?
        };
        write_atomic(&dir.join(name), |w| w.write_all(text.as_bytes()))?;
    }
    let env = EnvInfo {
        gcnsim_version: env!("CARGO_PKG_VERSION"),
        source_commit: &identity.source_commit,
        source_dirty: identity.source_dirty,
        backend: &backend,
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        dataset: &identity.dataset,
        dataset_fingerprint: &identity.dataset_fingerprint,
        seeds: &identity.seeds,
        runs: runs.len(),
    };
    write_json_atomic(&dir.join("env.json"), &env)?;
    let (rows, metrics) = crate::report::plots::read_results(dir)?;
    let (workers, gradients) = crate::report::plots::read_traces(dir)?;
    let traces = crate::report::plots::Traces { workers: &workers, gradients: &gradients };
    crate::report::plots::draw_all_titled(dir, &identity.name, &rows, &metrics, traces)?;
    if report {
        crate::report::html::write_report(dir, None)?;
    }
    Ok(())
}

/// Writes a shard folder: `shard.json` and each run's file.
pub fn write_shard(dir: &Path, identity: &Identity, shard: Shard, runs: &[StoredRun]) -> anyhow::Result<()> {
    for run in runs {
        write_run(dir, run)?;
    }
    let file = ShardFile {
        shard: shard.to_string(),
        runs: runs.iter().map(|r| r.run_id.clone()).collect(),
        identity: identity.clone(),
    };
    write_json_atomic(&dir.join(SHARD_FILE), &file)?;
    Ok(())
}

/// The label every run's backend has; runs on different backends are not one result.
fn one_backend(runs: &[StoredRun]) -> anyhow::Result<String> {
    let first = runs.first().map(|r| r.backend.clone()).unwrap_or_default();
    if let Some(other) = runs.iter().find(|r| r.backend != first) {
        anyhow::bail!(
            "run {} ran on `{}` but run {} on `{}`: one results folder holds one backend's runs (rerun with --restart, \
             or run every shard with the same --backend)",
            runs[0].run_id,
            first,
            other.run_id,
            other.backend
        );
    }
    Ok(first)
}

/// One result file: the header once, then each run's rows.
fn joined(runs: &[StoredRun], name: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut header: Option<&str> = None;
    for run in runs {
        let text = run.files.get(name).map(String::as_str).unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        let (head, body) = text.split_once('\n').unwrap_or((text, ""));
        match header {
            None => {
                header = Some(head);
                out.push_str(text);
            }
            Some(h) if h == head => out.push_str(body),
            Some(_) => anyhow::bail!("run {}: its {name} has other columns than the other runs'", run.run_id),
        }
    }
    Ok(out)
}

/// The rows of CSV text (a header first).
pub fn read_rows<R: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<Vec<R>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.deserialize().collect::<Result<Vec<R>, _>>().context("reading a finished run's rows")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, text: &str) -> StoredRun {
        StoredRun { run_id: id.into(), backend: "cpu".into(), files: [("a.csv".to_string(), text.to_string())].into() }
    }

    #[test]
    fn files_join_one_header_and_every_runs_rows_in_order() {
        let runs = [run("x", "h1,h2\n1,2\n3,4\n"), run("y", ""), run("z", "h1,h2\n5,6\n")];
        assert_eq!(joined(&runs, "a.csv").unwrap(), "h1,h2\n1,2\n3,4\n5,6\n");
        assert_eq!(joined(&runs[1..2], "a.csv").unwrap(), "");
        let mixed = [run("x", "h1\n1\n"), run("y", "h2\n2\n")];
        assert!(joined(&mixed, "a.csv").unwrap_err().to_string().contains("run y"));
        let mut other = run("z", "");
        other.backend = "gpu".into();
        assert!(one_backend(&[run("x", ""), other]).unwrap_err().to_string().contains("`gpu`"));
    }
}
