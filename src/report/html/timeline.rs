//! The worker timeline's data: the first rounds of each run's `workers.csv` intervals, with
//! what `gradients.csv` and `comm.csv` say about each round, bounded so the page stays small.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::report::ReportError;

/// Intervals the page holds in all: ~40 bytes each in the page, so well under 1 MB.
pub const TOTAL_INTERVALS: usize = 16_000;
/// Intervals per run at most (the first rounds that fit), and at least (fewer runs then).
pub const MAX_PER_RUN: usize = 4_000;
pub const MIN_PER_RUN: usize = 400;

/// What the page's script draws (serialized into the page as JSON).
#[derive(Debug, Serialize)]
pub struct Timeline {
    /// Activity names; an interval holds an index into this list.
    pub activities: Vec<String>,
    /// Runs in `workers.csv`, and how many of them are in `runs`.
    pub runs_total: usize,
    /// The intervals kept per run at most.
    pub per_run: usize,
    pub runs: Vec<RunTimeline>,
}

#[derive(Debug, Serialize)]
pub struct RunTimeline {
    pub id: String,
    /// Worker ids in lane order.
    pub workers: Vec<u64>,
    /// Rounds (clocks 0 to `rounds - 1`) kept, of `rounds_total`.
    pub rounds: u64,
    pub rounds_total: u64,
    pub intervals_total: usize,
    /// `[worker, activity, clock, version, start_s, end_s, round]`, by start. A wait or a
    /// down time has no clock or version (null); its round is the worker's clock before it.
    pub intervals: Vec<Interval>,
    /// Bytes of boundary exchange in the round (all workers; `comm.csv`, epoch = clock + 1).
    pub exchange_bytes: BTreeMap<u64, u64>,
    /// The gradient a worker pushed in a round (`gradients.csv`), keyed `"worker/clock"`.
    pub gradients: BTreeMap<String, String>,
}

/// See [`RunTimeline::intervals`].
pub type Interval = (u64, usize, Option<u64>, Option<u64>, f64, f64, u64);

/// Column positions in a CSV by name; a missing one is a clear error.
struct Columns {
    path: std::path::PathBuf,
    names: csv::StringRecord,
}

impl Columns {
    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    fn need(&self, name: &str) -> Result<usize, ReportError> {
        self.find(name)
            .ok_or_else(|| ReportError::Format { path: self.path.clone(), message: format!("no `{name}` column") })
    }
}

fn open(path: &Path) -> Result<(csv::Reader<std::fs::File>, Columns), ReportError> {
    let csv_err = |cause| ReportError::Csv { path: path.to_path_buf(), cause };
    let mut reader = csv::Reader::from_path(path).map_err(csv_err)?;
    let names = reader.headers().map_err(csv_err)?.clone();
    Ok((reader, Columns { path: path.to_path_buf(), names }))
}

/// [`open`], or `None` when the file is absent or empty: a run set without rows of it (no
/// exchange, no gradient) writes it empty, without a header.
fn open_rows(path: &Path) -> Result<Option<(csv::Reader<std::fs::File>, Columns)>, ReportError> {
    if !path.is_file() {
        return Ok(None);
    }
    let (reader, cols) = open(path)?;
    Ok((!cols.names.is_empty()).then_some((reader, cols)))
}

/// Reads `field` of `record` as a number, naming the line on failure.
fn number<T: std::str::FromStr>(path: &Path, record: &csv::StringRecord, at: usize) -> Result<T, ReportError> {
    let text = record.get(at).unwrap_or_default();
    text.trim().parse().map_err(|_| ReportError::Parse {
        path: path.to_path_buf(),
        line: record.position().map_or(0, |p| p.line()),
        message: format!("`{text}` is not a number"),
    })
}

/// One `workers.csv` row.
struct Row {
    run: String,
    worker: u64,
    activity: String,
    clock: Option<u64>,
    version: Option<u64>,
    /// `clock`, or the worker's last clock before this row (0 before any).
    round: u64,
    start: f64,
    end: f64,
}

/// An empty cell as `None`, else a number.
fn optional(path: &Path, record: &csv::StringRecord, at: usize) -> Result<Option<u64>, ReportError> {
    match record.get(at).map(str::trim) {
        None | Some("") => Ok(None),
        Some(_) => number(path, record, at).map(Some),
    }
}

/// Calls `each` with every row of `workers.csv` (a folder of one run has no `run_id` column:
/// its rows belong to `single`).
fn for_each_row(path: &Path, single: &str, mut each: impl FnMut(Row)) -> Result<(), ReportError> {
    let Some((mut reader, cols)) = open_rows(path)? else { return Ok(()) };
    let run_at = cols.find("run_id");
    let [worker, activity, clock, version, start, end] =
        ["worker", "activity", "clock", "version", "start_s", "end_s"].map(|n| cols.need(n));
    let (worker, activity, clock, version, start, end) = (worker?, activity?, clock?, version?, start?, end?);
    let mut last_clock: HashMap<(String, u64), u64> = HashMap::new();
    for record in reader.records() {
        let r = record.map_err(|cause| ReportError::Csv { path: path.to_path_buf(), cause })?;
        let run = run_at.and_then(|i| r.get(i)).unwrap_or(single).to_string();
        let (worker, clock) = (number(path, &r, worker)?, optional(path, &r, clock)?);
        let last = last_clock.entry((run.clone(), worker)).or_default();
        let round = clock.unwrap_or(*last);
        *last = round;
        each(Row {
            run,
            worker,
            activity: r.get(activity).unwrap_or_default().to_string(),
            clock,
            version: optional(path, &r, version)?,
            round,
            start: number(path, &r, start)?,
            end: number(path, &r, end)?,
        });
    }
    Ok(())
}

/// Intervals per round of one run.
type RoundCounts = BTreeMap<u64, usize>;

/// The rounds of each run that fit in `per_run` intervals: the first pass over `workers.csv`
/// counts intervals per round, so the second keeps only what the page holds.
fn plan(path: &Path, single: &str) -> Result<Vec<(String, RoundCounts)>, ReportError> {
    let mut runs: Vec<(String, RoundCounts)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for_each_row(path, single, |row| {
        let at = *index.entry(row.run.clone()).or_insert_with(|| {
            runs.push((row.run.clone(), BTreeMap::new()));
            runs.len() - 1
        });
        *runs[at].1.entry(row.round).or_default() += 1;
    })?;
    Ok(runs)
}

/// `x` to 7 significant digits: the page shows 4, and the full 17 would double its timeline.
fn seven_digits(x: f64) -> f64 {
    format!("{x:.6e}").parse().unwrap_or(x)
}

/// Rounds 0..k with the most intervals not above `cap` (at least one round).
fn rounds_within(counts: &BTreeMap<u64, usize>, cap: usize) -> u64 {
    let mut total = 0;
    for (&clock, &n) in counts {
        total += n;
        if total > cap {
            return clock.max(1);
        }
    }
    counts.keys().next_back().map_or(0, |last| last + 1)
}

/// The timeline of the folder `dir`, if it has a `workers.csv`; `single` names the run of a
/// `train --out` folder.
pub fn read(dir: &Path, single: &str) -> Result<Option<Timeline>, ReportError> {
    let path = dir.join("workers.csv");
    if !path.is_file() {
        return Ok(None);
    }
    let counts = plan(&path, single)?;
    if counts.is_empty() {
        return Ok(None);
    }
    let per_run = (TOTAL_INTERVALS / counts.len().max(1)).clamp(MIN_PER_RUN, MAX_PER_RUN);
    let shown = counts.len().min(TOTAL_INTERVALS / per_run);
    let mut runs: Vec<RunTimeline> = counts[..shown]
        .iter()
        .map(|(id, rounds)| RunTimeline {
            id: id.clone(),
            workers: Vec::new(),
            rounds: rounds_within(rounds, per_run),
            rounds_total: rounds.keys().next_back().map_or(0, |last| last + 1),
            intervals_total: rounds.values().sum(),
            intervals: Vec::new(),
            exchange_bytes: BTreeMap::new(),
            gradients: BTreeMap::new(),
        })
        .collect();
    let index: HashMap<String, usize> = runs.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
    let mut activities: Vec<String> = Vec::new();
    for_each_row(&path, single, |row| {
        let Some(run) = index.get(&row.run).map(|&i| &mut runs[i]) else { return };
        if row.round >= run.rounds || run.intervals.len() >= per_run {
            return;
        }
        let activity = activities.iter().position(|a| *a == row.activity).unwrap_or_else(|| {
            activities.push(row.activity.clone());
            activities.len() - 1
        });
        let (start, end) = (seven_digits(row.start), seven_digits(row.end));
        run.intervals.push((row.worker, activity, row.clock, row.version, start, end, row.round));
    })?;
    for run in &mut runs {
        run.intervals.sort_by(|a, b| a.4.total_cmp(&b.4).then(a.0.cmp(&b.0)));
        run.workers =
            run.intervals.iter().map(|i| i.0).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    }
    add_exchange_bytes(dir, single, &mut runs, &index)?;
    add_gradients(dir, single, &mut runs, &index)?;
    Ok(Some(Timeline { activities, runs_total: counts.len(), per_run, runs }))
}

/// `comm.csv`'s bytes per round of the kept rounds.
fn add_exchange_bytes(
    dir: &Path,
    single: &str,
    runs: &mut [RunTimeline],
    index: &HashMap<String, usize>,
) -> Result<(), ReportError> {
    let path = dir.join("comm.csv");
    let Some((mut reader, cols)) = open_rows(&path)? else { return Ok(()) };
    let run_at = cols.find("run_id");
    let (epoch, bytes) = (cols.need("epoch")?, cols.need("bytes")?);
    for record in reader.records() {
        let r = record.map_err(|cause| ReportError::Csv { path: path.clone(), cause })?;
        let Some(&i) = index.get(run_at.and_then(|i| r.get(i)).unwrap_or(single)) else { continue };
        let epoch: u64 = number(&path, &r, epoch)?;
        let Some(clock) = epoch.checked_sub(1).filter(|&c| c < runs[i].rounds) else { continue };
        let bytes: u64 = number(&path, &r, bytes)?;
        let total = runs[i].exchange_bytes.entry(clock).or_default();
        *total = total.saturating_add(bytes);
    }
    Ok(())
}

/// `gradients.csv`'s fate of each kept round's gradient, as a line of text.
fn add_gradients(
    dir: &Path,
    single: &str,
    runs: &mut [RunTimeline],
    index: &HashMap<String, usize>,
) -> Result<(), ReportError> {
    let path = dir.join("gradients.csv");
    let Some((mut reader, cols)) = open_rows(&path)? else { return Ok(()) };
    let run_at = cols.find("run_id");
    let [worker, clock, from, staleness, fate] =
        ["worker", "clock", "computed_from", "staleness", "fate"].map(|n| cols.need(n));
    let (worker, clock, from, staleness, fate) = (worker?, clock?, from?, staleness?, fate?);
    let reason = cols.find("reason");
    for record in reader.records() {
        let r = record.map_err(|cause| ReportError::Csv { path: path.clone(), cause })?;
        let Some(&i) = index.get(run_at.and_then(|i| r.get(i)).unwrap_or(single)) else { continue };
        let c: u64 = number(&path, &r, clock)?;
        if c >= runs[i].rounds {
            continue;
        }
        let w: u64 = number(&path, &r, worker)?;
        let mut text = format!(
            "{} (computed from version {}, staleness {})",
            r.get(fate).unwrap_or_default(),
            r.get(from).unwrap_or_default(),
            r.get(staleness).unwrap_or_default()
        );
        if let Some(why) = reason.and_then(|at| r.get(at)).filter(|s| !s.is_empty()) {
            text.push_str(&format!(": {why}"));
        }
        runs[i].gradients.insert(format!("{w}/{c}"), text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_rounds_are_kept_within_the_cap() {
        let counts: BTreeMap<u64, usize> = [(0, 30), (1, 30), (2, 30)].into();
        assert_eq!(rounds_within(&counts, 100), 3);
        assert_eq!(rounds_within(&counts, 60), 2);
        assert_eq!(rounds_within(&counts, 59), 1);
        assert_eq!(rounds_within(&counts, 10), 1, "one round at least");
    }

    #[test]
    fn reads_intervals_bytes_and_gradients_of_the_first_rounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut workers = String::from("run_id,worker,activity,start_s,end_s,partition,clock,version\n");
        for clock in 0..2000u64 {
            for w in 0..2u64 {
                let t = clock as f64;
                workers.push_str(&format!("a<b,{w},compute,{t},{},{w},{clock},{clock}\n", t + 0.5));
                workers.push_str(&format!("a<b,{w},push,{},{},{w},{clock},{clock}\n", t + 0.5, t + 1.0));
            }
        }
        std::fs::write(dir.path().join("workers.csv"), workers).unwrap();
        std::fs::write(
            dir.path().join("comm.csv"),
            "run_id,epoch,layer,direction,bytes\na<b,1,0,forward,64\na<b,1,1,forward,36\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("gradients.csv"),
            "run_id,partition,worker,clock,computed_from,applied_to,staleness,fate,reason,time_s\n\
             a<b,1,1,0,0,0,0,applied,,1.0\n",
        )
        .unwrap();
        let t = read(dir.path(), "run").unwrap().unwrap();
        assert_eq!(t.activities, ["compute", "push"]);
        let run = &t.runs[0];
        assert_eq!((run.id.as_str(), run.rounds_total, run.intervals_total), ("a<b", 2000, 8000));
        assert_eq!(run.rounds, MAX_PER_RUN as u64 / 4);
        assert_eq!(run.intervals.len(), MAX_PER_RUN);
        assert_eq!(run.workers, [0, 1]);
        assert_eq!(run.intervals[0], (0, 0, Some(0), Some(0), 0.0, 0.5, 0));
        assert_eq!(run.exchange_bytes[&0], 100);
        assert_eq!(run.gradients["1/0"], "applied (computed from version 0, staleness 0)");
        assert!(read(&dir.path().join("none"), "run").unwrap().is_none());
    }

    #[test]
    fn a_wait_without_a_clock_belongs_to_the_round_before_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("workers.csv"),
            "worker,activity,start_s,end_s,clock,version\n0,push,0,1,0,0\n0,wait,1,2,,\n0,pull,2,3,1,1\n",
        )
        .unwrap();
        let t = read(dir.path(), "run").unwrap().unwrap();
        assert_eq!(t.runs[0].id, "run");
        assert_eq!(t.runs[0].intervals[1], (0, 1, None, None, 1.0, 2.0, 0));
        assert_eq!(t.runs[0].rounds_total, 2);
    }

    #[test]
    fn a_bad_number_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("workers.csv"), "worker,activity,start_s,end_s,clock,version\n0,pull,x,1,0,0\n")
            .unwrap();
        let e = read(dir.path(), "run").unwrap_err().to_string();
        assert!(e.contains("workers.csv:2") && e.contains("`x`"), "{e}");
    }
}
