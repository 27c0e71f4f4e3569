//! `gcnsim merge OUT SHARD_DIR...`: the shard folders of one experiment made into the results
//! folder one machine would have written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::results::{write_results, ShardFile, SHARD_FILE};
use super::stored::{file_name, Identity, StoredRun};
use crate::report::output::{OutputDir, OutputKind};

/// Merges `shards` into `out` (see the module docs), with `report.html` if `report`; returns the
/// folder written and its runs.
pub fn merge_shards(out: &Path, shards: &[PathBuf], report: bool) -> anyhow::Result<(PathBuf, usize)> {
    anyhow::ensure!(!shards.is_empty(), "name the shard folders to merge");
    let files: Vec<ShardFile> = shards.iter().map(|d| read_shard(d)).collect::<anyhow::Result<_>>()?;
    for (dir, file) in shards.iter().zip(&files).skip(1) {
        if let Some(difference) = difference(&files[0].identity, &shards[0], &file.identity, dir) {
            anyhow::bail!("the shards cannot be merged: {difference}");
        }
    }
    let identity = &files[0].identity;
    let holders = holders(shards, &files);
    check_coverage(identity, &holders)?;
    let output = OutputDir::begin(out, OutputKind::Experiment)?;
    let runs: Vec<StoredRun> =
        identity.run_ids.iter().map(|id| read_run(&holders[id][0], id)).collect::<anyhow::Result<_>>()?;
    write_results(output.staging(), identity, &runs, report)?;
    Ok((output.commit()?, runs.len()))
}

fn read_shard(dir: &Path) -> anyhow::Result<ShardFile> {
    let path = dir.join(SHARD_FILE);
    let text = crate::bounded::read_to_string(&path, 1 << 30).with_context(|| {
        format!("{}: not a shard folder (no readable {SHARD_FILE}; `gcnsim run --shard K/N` writes one)", dir.display())
    })?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a gcnsim shard file", path.display()))
}

fn read_run(dir: &Path, run_id: &str) -> anyhow::Result<StoredRun> {
    let path = dir.join(file_name(run_id));
    let text =
        crate::bounded::read_to_string(&path, 16 << 30).with_context(|| format!("reading {}", path.display()))?;
    let run: StoredRun =
        serde_json::from_str(&text).with_context(|| format!("{}: not a finished run's file", path.display()))?;
    anyhow::ensure!(run.run_id == run_id, "{}: holds run {}, not {run_id}", path.display(), run.run_id);
    Ok(run)
}

/// What makes shard `b` (in `b_dir`) another experiment's, commit's or dataset's than `a`.
pub fn difference(a: &Identity, a_dir: &Path, b: &Identity, b_dir: &Path) -> Option<String> {
    let (a_dir, b_dir) = (a_dir.display(), b_dir.display());
    if a.name != b.name {
        return Some(format!("{a_dir} is of experiment `{}` but {b_dir} of experiment `{}`", a.name, b.name));
    }
    if a.resolved != b.resolved || a.run_ids != b.run_ids {
        let line = a.resolved.lines().zip(b.resolved.lines()).find(|(x, y)| x != y);
        let at = line.map(|(x, y)| format!(" (`{x}` against `{y}`)")).unwrap_or_default();
        return Some(format!(
            "{a_dir} and {b_dir} are of different versions of experiment `{}`: their resolved configurations differ{at}",
            a.name
        ));
    }
    let commit = |i: &Identity| {
        let c = i.source_commit.as_deref().unwrap_or("no commit (not built from a git checkout)");
        if i.source_dirty == Some(true) {
            format!("{c} with uncommitted changes")
        } else {
            c.to_string()
        }
    };
    if (&a.source_commit, a.source_dirty) != (&b.source_commit, b.source_dirty) {
        return Some(format!("{a_dir} was run at commit {} but {b_dir} at commit {}", commit(a), commit(b)));
    }
    if a.dataset_fingerprint != b.dataset_fingerprint {
        return Some(format!(
            "{a_dir} was run on dataset `{}` ({}) but {b_dir} on ({}): a different dataset",
            a.dataset, a.dataset_fingerprint, b.dataset_fingerprint
        ));
    }
    None
}

/// The folders that hold each run.
fn holders(shards: &[PathBuf], files: &[ShardFile]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut holders: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (dir, file) in shards.iter().zip(files) {
        for id in &file.runs {
            holders.entry(id.clone()).or_default().push(dir.clone());
        }
    }
    holders
}

/// Every run of the experiment in exactly one shard, and no other run.
fn check_coverage(identity: &Identity, holders: &BTreeMap<String, Vec<PathBuf>>) -> anyhow::Result<()> {
    let list = |ids: Vec<String>| {
        let n = ids.len();
        let mut shown: Vec<String> = ids.into_iter().take(10).collect();
        if n > 10 {
            shown.push(format!("and {} more", n - 10));
        }
        shown.join(", ")
    };
    let unknown: Vec<String> =
        holders.keys().filter(|id| !identity.run_ids.contains(*id)).map(|id| id.to_string()).collect();
    anyhow::ensure!(unknown.is_empty(), "the shards hold runs the experiment does not have: {}", list(unknown));
    let duplicated: Vec<String> = holders
        .iter()
        .filter(|(_, dirs)| dirs.len() > 1)
        .map(|(id, dirs)| {
            format!("{id} (in {})", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" and "))
        })
        .collect();
    anyhow::ensure!(duplicated.is_empty(), "runs in more than one shard: {}", list(duplicated));
    let missing: Vec<String> = identity.run_ids.iter().filter(|id| !holders.contains_key(*id)).cloned().collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{} of the {} runs are in no shard: {} (merge every shard of the experiment)",
        missing.len(),
        identity.run_ids.len(),
        list(missing)
    );
    Ok(())
}
