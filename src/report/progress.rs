//! Progress on stderr: indicatif bars on a terminal; elsewhere (a log file, CI, a pipe), plain
//! lines — one every few epochs for `train`, one per finished run for `run` — since bars draw
//! nothing until the end there.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sim::EpochRecord;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    Bars,
    Lines,
    Quiet,
}

impl ProgressMode {
    /// Bars when stderr is a terminal, else lines.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        }
    }
}

/// Lines a run prints without a terminal: about ten, on round epoch numbers.
fn line_every(epochs: u64) -> u64 {
    let raw = (epochs / 10).max(1);
    [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].into_iter().find(|&s| s >= raw).unwrap_or(raw)
}

fn describe(r: &EpochRecord) -> String {
    format!("loss {:.4} valid {:.3} test {:.3}", r.train_loss, r.valid_acc, r.test_acc)
}

/// Progress over one run's epochs.
pub struct EpochProgress {
    mode: ProgressMode,
    bar: ProgressBar,
    prefix: String,
    epochs: u64,
}

impl EpochProgress {
    pub fn new(mode: ProgressMode, epochs: u64, prefix: &str) -> Self {
        let bar = if mode == ProgressMode::Bars { epoch_bar(epochs, prefix) } else { ProgressBar::hidden() };
        Self { mode, bar, prefix: prefix.to_string(), epochs }
    }

    /// Under a [`MultiProgress`] (the experiment's overall bar).
    pub fn in_multi(multi: &MultiProgress, mode: ProgressMode, epochs: u64, prefix: &str) -> Self {
        let p = Self::new(mode, epochs, prefix);
        if mode == ProgressMode::Bars {
            multi.add(p.bar.clone());
        }
        p
    }

    pub fn epoch(&self, r: &EpochRecord) {
        match self.mode {
            ProgressMode::Bars => {
                self.bar.set_position(u64::from(r.epoch));
                self.bar.set_message(describe(r));
            }
            ProgressMode::Lines => {
                let e = u64::from(r.epoch);
                if e % line_every(self.epochs) == 0 || e == self.epochs {
                    eprintln!("{} epoch {e}/{}: {}", self.prefix, self.epochs, describe(r));
                }
            }
            ProgressMode::Quiet => {}
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }
}

/// An experiment's progress over its runs.
pub struct RunsProgress {
    mode: ProgressMode,
    multi: MultiProgress,
    overall: ProgressBar,
    total: u64,
    /// Runs finished before this process started (a resumed sweep): not in the ETA's rate.
    skipped: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
}

impl RunsProgress {
    pub fn new(mode: ProgressMode, runs: u64) -> Self {
        let multi = MultiProgress::new();
        if mode != ProgressMode::Bars {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let overall = multi.add(runs_bar(runs));
        let (skipped, started) = (Default::default(), std::time::Instant::now());
        Self { mode, multi, overall, total: runs, skipped, started }
    }

    /// `runs` finished earlier (kept by a resumed sweep).
    pub fn skip(&self, runs: u64) {
        self.skipped.fetch_add(runs, std::sync::atomic::Ordering::Relaxed);
        self.overall.inc(runs);
        self.overall.reset_eta();
    }

    /// The progress of the next run's epochs.
    pub fn start_run(&self, run_id: &str, epochs: u64) -> EpochProgress {
        self.overall.set_message(run_id.to_string());
        // Without a terminal an experiment prints one line per run, not per epoch.
        let mode = if self.mode == ProgressMode::Bars { ProgressMode::Bars } else { ProgressMode::Quiet };
        EpochProgress::in_multi(&self.multi, mode, epochs, run_id)
    }

    pub fn finish_run(&self, run: EpochProgress, summary: &str) {
        run.finish();
        self.multi.remove(run.bar());
        self.overall.inc(1);
        if self.mode == ProgressMode::Lines {
            let done = self.overall.position();
            eprintln!("[{done}/{}] {summary}{}", self.total, self.eta(done));
        }
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }

    /// `, eta …` from this process's rate so far, while runs are left.
    fn eta(&self, done: u64) -> String {
        let ran = done.saturating_sub(self.skipped.load(std::sync::atomic::Ordering::Relaxed));
        if ran == 0 || done >= self.total {
            return String::new();
        }
        let left = self.started.elapsed().mul_f64((self.total - done) as f64 / ran as f64);
        format!(", eta {}", indicatif::HumanDuration(left))
    }
}

/// Runs `work`, one step of preparation (generating, reading or partitioning a graph) that can
/// take minutes on a large graph. When `large`, a spinner shows it on a terminal and a start and
/// an end line show it in a log, so a long silence is never mistaken for a hang; small steps
/// print nothing. The end line says "failed" when `work` returns an error (which the caller
/// reports), never "done".
pub fn stage<T, E>(mode: ProgressMode, large: bool, what: &str, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    if !large || mode == ProgressMode::Quiet {
        return work();
    }
    let start = std::time::Instant::now();
    let spinner = if mode == ProgressMode::Bars {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    } else {
        eprintln!("{what} …");
        None
    };
    let out = work();
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    match &out {
        Ok(_) => eprintln!("{what}: done in {seconds:.1} s"),
        Err(_) => eprintln!("{what}: failed after {seconds:.1} s"),
    }
    out
}

/// A bar over `total` items (e.g. lines written) for a long step: drawn on a terminal when
/// `large`, hidden otherwise (a log gets the caller's own summary line).
pub fn count_bar(mode: ProgressMode, large: bool, total: u64, what: &str) -> ProgressBar {
    if !large || mode != ProgressMode::Bars {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len}, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A bar over `epochs` epochs that shows the latest losses.
fn epoch_bar(epochs: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(epochs);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} epochs, eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// A bar over the runs of an experiment.
fn runs_bar(runs: u64) -> ProgressBar {
    let bar = ProgressBar::new(runs);
    bar.set_style(
        ProgressStyle::with_template("runs [{bar:30}] {pos}/{len}, elapsed {elapsed}, eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_ten_lines_on_round_epochs() {
        assert_eq!(line_every(200), 20);
        assert_eq!(line_every(3), 1);
        assert_eq!(line_every(1000), 100);
        assert_eq!(line_every(150), 20);
    }
}
