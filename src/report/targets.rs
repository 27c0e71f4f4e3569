//! Time to accuracy: the first epoch at which a run's validation accuracy reaches a target, and
//! the simulated time (`sim_time_s` of that epoch) it took. Targets are given
//! (`--target-acc 0.75,0.8`, the experiment key `targets`) or the default: 97% of the best
//! validation accuracy of the serial run (P = 1) of the same seed and training settings, paired
//! as the convergence figure pairs runs with serial ones. The default needs every run of the
//! experiment, so it is computed where they are all known (`write_results` of `run` and `merge`).

use super::rows::RunRow;

/// The default target is this fraction of the serial run's best validation accuracy.
pub const DEFAULT_FRACTION: f64 = 0.97;

/// One epoch of a run's validation curve.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    pub epoch: u32,
    pub valid_acc: f64,
    pub sim_time_s: f64,
}

/// When a run first reached `target`: `None` when it never did.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Reached {
    pub target: f64,
    pub epoch: Option<u32>,
    pub time_s: Option<f64>,
}

/// The first epoch of `curve` whose validation accuracy is at least `target`.
pub fn first_reaching(curve: &[CurvePoint], target: f64) -> Reached {
    let hit = curve.iter().find(|c| c.valid_acc >= target);
    Reached { target, epoch: hit.map(|c| c.epoch), time_s: hit.map(|c| c.sim_time_s) }
}

/// A target accuracy: a number with 0 < T ≤ 1.
pub fn check_target(t: f64) -> Result<f64, String> {
    if t > 0.0 && t <= 1.0 {
        Ok(t)
    } else {
        Err(format!("{t} is not an accuracy target: each must be a fraction with 0 < T ≤ 1 (e.g. 0.8)"))
    }
}

/// `0.75,0.8`: comma-separated targets, each checked.
pub fn parse_targets(text: &str) -> Result<Vec<f64>, String> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let t: f64 = part.parse().map_err(|_| format!("`{part}` is not a number (give e.g. 0.75,0.8)"))?;
            check_target(t)
        })
        .collect()
}

/// The model and optimizer tokens of a label (`lr=5`, `optimizer=sgd`, `emb=16`, …): a
/// partitioned run is compared with the serial run that trains the same model (embeddings
/// included) with the same optimizer.
pub fn training_tokens(label: &str) -> Vec<&str> {
    const KEYS: [&str; 12] = [
        "epochs=",
        "hidden=",
        "layers=",
        "lr=",
        "dropout=",
        "weight_decay=",
        "optimizer=",
        "lr_schedule=",
        "features=",
        "emb=",
        "embedding_decay=",
        "prune_after=",
    ];
    label.split(' ').filter(|t| KEYS.iter().any(|k| t.starts_with(k))).collect()
}

/// Each run's serial reference (an index into `runs`): the serial run of the same seed whose
/// configuration has the same training tokens, or of the only serial configuration there is.
/// A serial run is its own reference.
pub fn serial_references(runs: &[RunRow]) -> Vec<Option<usize>> {
    let mut serial_labels: Vec<&str> = Vec::new();
    for r in runs.iter().filter(|r| r.is_serial()) {
        if !serial_labels.contains(&r.label.as_str()) {
            serial_labels.push(&r.label);
        }
    }
    runs.iter()
        .map(|r| {
            let tokens = training_tokens(&r.label);
            let label = serial_labels
                .iter()
                .find(|s| training_tokens(s) == tokens)
                .or_else(|| (serial_labels.len() == 1).then(|| &serial_labels[0]))?;
            runs.iter().position(|s| s.is_serial() && s.label == *label && s.seed == r.seed)
        })
        .collect()
}

/// Fills the default-target columns of `runs` (`curves[i]` is run i's validation curve) and
/// returns, per run, when it reached each of `targets`.
pub fn fill(runs: &mut [RunRow], curves: &[Vec<CurvePoint>], targets: &[f64]) -> Vec<Vec<Reached>> {
    let references = serial_references(runs);
    for (i, reference) in references.iter().enumerate() {
        let default = reference.map(|s| DEFAULT_FRACTION * runs[s].best_valid_acc).filter(|t| t.is_finite());
        let reached = default.map(|t| first_reaching(&curves[i], t));
        let r = &mut runs[i];
        r.target_acc_default = default;
        r.epoch_to_default = reached.and_then(|x| x.epoch);
        r.time_to_default_s = reached.and_then(|x| x.time_s);
    }
    curves.iter().map(|c| targets.iter().map(|&t| first_reaching(c, t)).collect()).collect()
}

/// The name of target `t`'s columns: `t` as a number is written (0.8, 0.75).
pub fn target_columns(t: f64) -> [String; 2] {
    [format!("epoch_to_acc_{t}"), format!("time_to_acc_{t}_s")]
}

/// `runs.csv` as text: [`RunRow`]'s columns, then `epoch_to_acc_T` and `time_to_acc_T_s` for
/// each of `targets` (`reached[i]` is run i's, in the targets' order).
pub fn runs_csv(runs: &[RunRow], reached: &[Vec<Reached>], targets: &[f64]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for (i, run) in runs.iter().enumerate() {
        let (header, mut record) = one_row(run)?;
        if i == 0 {
            let mut header = header;
            for &t in targets {
                for name in target_columns(t) {
                    header.push_field(&name);
                }
            }
            out.write_record(&header)?;
        }
        for r in reached.get(i).into_iter().flatten() {
            let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            w.serialize((r.epoch, r.time_s))?;
            let bytes = w.into_inner().map_err(|e| e.into_error())?;
            let mut read = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
            for cells in read.records() {
                record.extend(cells?.iter());
            }
        }
        out.write_record(&record)?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A row's header and record as `csv::Writer::serialize` writes them.
fn one_row(run: &RunRow) -> Result<(csv::StringRecord, csv::StringRecord), csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(run)?;
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    let mut read = csv::Reader::from_reader(bytes.as_slice());
    let header = read.headers()?.clone();
    let record = read.records().next().transpose()?.unwrap_or_default();
    Ok((header, record))
}

/// `summary.json`'s time to accuracy of one run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TimeToAccuracy {
    /// The default target, where there is a serial reference (for `train`: a serial run is its
    /// own reference; a partitioned one has none).
    pub default: Option<Reached>,
    pub targets: Vec<Reached>,
}

impl TimeToAccuracy {
    /// One run's: the default target from `serial_best` (the best validation accuracy of its
    /// serial reference), where it has one.
    pub fn of(curve: &[CurvePoint], serial_best: Option<f64>, targets: &[f64]) -> Self {
        let default = serial_best.map(|b| DEFAULT_FRACTION * b).filter(|t| t.is_finite());
        Self {
            default: default.map(|t| first_reaching(curve, t)),
            targets: targets.iter().map(|&t| first_reaching(curve, t)).collect(),
        }
    }
}

impl CurvePoint {
    pub fn of(r: &crate::sim::EpochRecord) -> Self {
        Self { epoch: r.epoch, valid_acc: r.valid_acc, sim_time_s: r.sim_time_s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(accs: &[f64]) -> Vec<CurvePoint> {
        accs.iter()
            .enumerate()
            .map(|(i, &a)| CurvePoint { epoch: i as u32 + 1, valid_acc: a, sim_time_s: 0.5 * (i + 1) as f64 })
            .collect()
    }

    #[test]
    fn the_first_epoch_at_or_above_the_target_counts() {
        let c = curve(&[0.1, 0.8, 0.7, 0.9]);
        assert_eq!(first_reaching(&c, 0.8), Reached { target: 0.8, epoch: Some(2), time_s: Some(1.0) });
        assert_eq!(first_reaching(&c, 0.85).epoch, Some(4));
        assert_eq!(first_reaching(&c, 0.95), Reached { target: 0.95, epoch: None, time_s: None });
        assert_eq!(first_reaching(&[], 0.5).epoch, None);
    }

    #[test]
    fn targets_are_fractions_in_zero_one() {
        assert_eq!(parse_targets("0.75, 0.8").unwrap(), vec![0.75, 0.8]);
        assert_eq!(parse_targets("1").unwrap(), vec![1.0]);
        for bad in ["0", "1.5", "-0.2", "nan", "x", "0.7,,0.8", ""] {
            assert!(parse_targets(bad).is_err(), "{bad}");
        }
        assert_eq!(target_columns(0.8), ["epoch_to_acc_0.8".to_string(), "time_to_acc_0.8_s".to_string()]);
    }
}
