//! `gcnsim data fetch | list | remove`.

use anyhow::Context;

use crate::cli::DataCommand;
use crate::data::fetch::{self, cache::human_bytes, progress::Bar, Settings};

pub fn data_command(command: &DataCommand) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    match command {
        DataCommand::Fetch(args) if args.list => list(&settings),
        DataCommand::Fetch(args) => {
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
        DataCommand::List => list(&settings),
        DataCommand::Remove(args) => {
            let freed = fetch::remove(&args.name, &settings.root)
                .with_context(|| format!("removing dataset `{}`", args.name))?;
            match freed {
                Some(bytes) => println!("{}: removed ({} freed)", args.name, human_bytes(bytes)),
                None => println!("{}: not cached in {}", args.name, settings.root.display()),
            }
            Ok(())
        }
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
