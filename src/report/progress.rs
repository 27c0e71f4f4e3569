//! Progress bars (indicatif), drawn on stderr and hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `epochs` epochs that shows the latest losses.
pub fn epoch_bar(epochs: u64, prefix: &str) -> ProgressBar {
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
pub fn runs_bar(runs: u64) -> ProgressBar {
    let bar = ProgressBar::new(runs);
    bar.set_style(
        ProgressStyle::with_template("runs [{bar:30}] {pos}/{len}, elapsed {elapsed}, eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}
