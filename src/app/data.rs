//! `gcnsim data fetch | list | remove | export`.

use anyhow::Context;

use crate::cli::{DataCommand, ExportArgs};
use crate::data::export;
use crate::data::fetch::{self, cache::human_bytes, progress::Bar, Settings};
use crate::report::progress::{self, ProgressMode};

pub fn data_command(command: &DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Fetch(args) if args.list => list(&Settings::from_env()?),
        DataCommand::Fetch(args) => {
            let settings = Settings::from_env()?;
            let name = args.name.as_deref().context("name a dataset, or give --list")?;
            let already = settings.root.join(name).is_dir();
            let dir = fetch::fetch(name, &settings, &mut Bar::detect())
                .with_context(|| format!("fetching dataset `{name}`"))?;
            let recorded = fetch::cache::Sums::load(&settings.root)?.of(name).next().is_some();
            let verb = match (already, recorded) {
                (false, _) => "fetched",
                (true, true) => "cached and verified",
                // A user's own folder under $GCNSIM_DATA_DIR: nothing to verify it against.
                (true, false) => "present (not made by `gcnsim data fetch`, so not verified)",
            };
            println!("{name}: {verb}: {}", dir.display());
            Ok(())
        }
        DataCommand::List => list(&Settings::from_env()?),
        DataCommand::Remove(args) => {
            let settings = Settings::from_env()?;
            let freed = fetch::remove(&args.name, &settings.root)
                .with_context(|| format!("removing dataset `{}`", args.name))?;
            match freed {
                Some(bytes) => println!("{}: removed ({} freed)", args.name, human_bytes(bytes)),
                None => println!("{}: not cached in {}", args.name, settings.root.display()),
            }
            Ok(())
        }
        DataCommand::Export(args) => export_command(args),
    }
}

fn list(settings: &Settings) -> anyhow::Result<()> {
    println!("cache: {}", settings.root.display());
    println!("{:<14} {:>12} {:>14}  source", "name", "on disk", "download");
    for l in fetch::list(&settings.root) {
        let on_disk = l.cached.map_or_else(|| "-".to_string(), human_bytes);
        let download = if l.download_exact {
            human_bytes(l.download_bytes)
        } else {
            format!("~{}", human_bytes(l.download_bytes))
        };
        println!("{:<14} {on_disk:>12} {download:>14}  {}", l.name, l.source);
    }
    Ok(())
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
