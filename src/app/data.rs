//! `gcnsim data …`: dataset folders.

use anyhow::Context;

use crate::cli::{DataArgs, DataCommand, ExportArgs};
use crate::data::export;
use crate::report::progress::{self, ProgressMode};

pub fn data_command(args: &DataArgs) -> anyhow::Result<()> {
    match &args.command {
        DataCommand::Export(a) => export_command(a),
    }
}

/// Graphs with at least this many lines to write show a progress bar.
const LARGE_EXPORT_LINES: u64 = 1_000_000;

fn export_command(args: &ExportArgs) -> anyhow::Result<()> {
    let ds = super::info::load_dataset(&args.dataset)?;
    let total = export::total_lines(&ds);
    let bar = progress::count_bar(ProgressMode::detect(), total >= LARGE_EXPORT_LINES, total, "exporting lines");
    let started = std::time::Instant::now();
    export::export(&ds, &args.dir, &args.split, &|n| bar.set_position(n))
        .with_context(|| format!("exporting `{}` to {}", args.dataset, args.dir.display()))?;
    bar.finish_and_clear();
    println!("wrote {} ({}) in {:.1} s", args.dir.display(), ds.fingerprint(), started.elapsed().as_secs_f64());
    Ok(())
}
