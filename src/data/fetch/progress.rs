//! What a download shows while it runs: an indicatif bar (bytes, rate, ETA) when stderr is a
//! terminal, nothing but the opening line elsewhere (a bar draws nothing useful in a log).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub trait Progress {
    /// A line said before anything is downloaded (what, how much, from where).
    fn announce(&mut self, line: &str);
    /// One file's transfer begins; `total` is its size where the server or registry says.
    fn start(&mut self, file: &str, total: Option<u64>);
    fn advance(&mut self, bytes: u64);
    /// The transfer ended (whether or not it succeeded).
    fn finish(&mut self);
}

/// Says nothing (library callers, tests).
pub struct Silent;

impl Progress for Silent {
    fn announce(&mut self, _: &str) {}
    fn start(&mut self, _: &str, _: Option<u64>) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// Announces on stderr; draws a bar per file when stderr is a terminal.
pub struct Bar {
    terminal: bool,
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn detect() -> Self {
        Self { terminal: std::io::stderr().is_terminal(), bar: None }
    }
}

impl Progress for Bar {
    fn announce(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn start(&mut self, file: &str, total: Option<u64>) {
        if !self.terminal {
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let template = "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(file.to_string());
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
