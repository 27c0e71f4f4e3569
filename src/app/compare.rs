//! `gcnsim compare`: reads the folders, checks they share a dataset, and writes the
//! comparison into a staging folder that replaces `--out` only when complete.

use anyhow::Context;

use crate::cli::CompareArgs;
use crate::report::compare::{read_folder, write_comparison};
use crate::report::output::{OutputDir, OutputKind};

pub fn compare_command(args: &CompareArgs) -> anyhow::Result<()> {
    let mut folders = Vec::with_capacity(args.results.len());
    for dir in &args.results {
        anyhow::ensure!(dir.is_dir(), "{}: there is no such folder", dir.display());
        folders.push(read_folder(dir).with_context(|| format!("reading {}", dir.display()))?);
    }
    // Checked before the output folder is claimed: a refusal leaves nothing behind.
    crate::report::compare::common_dataset(&folders)?;
    // `--out` replaces an earlier gcnsim output as a whole: never one of the folders read.
    let out = crate::report::output::resolve(&args.out)?;
    for dir in &args.results {
        anyhow::ensure!(
            dir.canonicalize().ok().as_deref() != Some(out.as_path()),
            "--out {}: it is one of the folders compared; write the comparison to another folder",
            args.out.display()
        );
    }
    let output = OutputDir::begin(&args.out, OutputKind::Compare)?;
    let written = write_comparison(output.staging(), &folders)?;
    let dir = output.commit()?;
    for path in written {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        println!("wrote {}", dir.join(name).display());
    }
    Ok(())
}
