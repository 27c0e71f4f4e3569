//! The reference generated from the clap definitions, so that it cannot drift from them: the
//! book's CLI chapter (`docs/src/cli.md`: every command's `--help`), the man pages
//! (`docs/man/`) and the shell completions. `tests/docs.rs` regenerates the first two in memory
//! and compares them with the committed files.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, GenerateDocsArgs};

/// Where the generated chapter lives, relative to the repository root.
pub const CLI_MD: &str = "docs/src/cli.md";
/// Where the generated man pages live, relative to the repository root.
pub const MAN_DIR: &str = "docs/man";
/// The command that rewrites both from the repository root.
pub const REGENERATE: &str = "cargo run --release -- generate-docs .";

/// Help wraps at this width whatever the terminal (were clap's `wrap_help` turned on, it would
/// follow the terminal), so the generated files are the same everywhere.
const WIDTH: usize = 100;

/// `gcnsim completions SHELL`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    clap_complete::generate(args.shell, &mut Cli::command(), "gcnsim", &mut std::io::stdout());
    Ok(())
}

/// `gcnsim generate-docs DIR`: writes [`CLI_MD`] and the pages of [`MAN_DIR`] below DIR, and
/// removes man pages of commands that no longer exist.
pub fn generate_docs(args: &GenerateDocsArgs) -> anyhow::Result<()> {
    let md_path = args.dir.join(CLI_MD);
    let man_dir = args.dir.join(MAN_DIR);
    for dir in [md_path.parent().unwrap_or(&args.dir), man_dir.as_path()] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&md_path, cli_markdown()).with_context(|| format!("writing {}", md_path.display()))?;
    let pages = man_pages().context("rendering the man pages")?;
    for stale in stale_man_pages(&man_dir, &pages)? {
        std::fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
    }
    for (name, bytes) in &pages {
        let path = man_dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("wrote {} and {} man pages in {}", md_path.display(), pages.len(), man_dir.display());
    Ok(())
}

/// Man pages in `dir` named like ours (`gcnsim*.1`) that `pages` does not hold.
fn stale_man_pages(dir: &Path, pages: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("gcnsim") && name.ends_with(".1") && !pages.iter().any(|(n, _)| *n == name) {
            stale.push(dir.join(name));
        }
    }
    Ok(stale)
}

/// The command tree as the program parses it, built (subcommands know their full names).
fn command() -> clap::Command {
    let mut cmd = Cli::command().term_width(WIDTH).disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The visible subcommands of `cmd`, depth first, each after its parent.
fn visible_tree(cmd: &clap::Command) -> Vec<clap::Command> {
    let mut out = vec![cmd.clone()];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.extend(visible_tree(sub));
    }
    out
}

/// The book's CLI chapter: every visible command's `--help`, as printed at a width of 100.
pub fn cli_markdown() -> String {
    let mut md = String::new();
    md.push_str("# Every command's `--help`\n\n");
    let _ =
        writeln!(md, "<!-- Generated from src/cli.rs by `{REGENERATE}`; do not edit. tests/docs.rs checks it. -->\n");
    md.push_str(
        "This chapter is generated from the definitions that parse gcnsim's arguments, so it \
         is what\n`gcnsim --help` and `gcnsim COMMAND --help` print. The same definitions make \
         the man pages in\n`docs/man/` (`man docs/man/gcnsim.1`, one page per command) and the \
         shell completions\n(`gcnsim completions bash|zsh|fish`). [CLI reference](cli-reference.md) \
         explains the options in context.\n",
    );
    for cmd in visible_tree(&command()) {
        let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
        let help = cmd.clone().term_width(WIDTH).render_long_help().to_string();
        let help: Vec<&str> = help.lines().map(str::trim_end).collect();
        let _ = write!(md, "\n## `{name}`\n\n```text\n{}\n```\n", help.join("\n").trim_end());
    }
    md
}

/// Every man page (`gcnsim.1`, `gcnsim-train.1`, …) with its contents.
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    for cmd in visible_tree(&command()) {
        // The version, which subcommands do not carry, in every page's footer.
        let man = clap_mangen::Man::new(cmd).source(format!("gcnsim {}", env!("CARGO_PKG_VERSION")));
        let mut bytes = Vec::new();
        man.render(&mut bytes)?;
        pages.push((man.get_filename(), bytes));
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_stale_man_pages_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["gcnsim.1", "gcnsim-gone.1", "other.1", "gcnsim-notes.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let pages = vec![("gcnsim.1".to_string(), Vec::new())];
        assert_eq!(stale_man_pages(dir.path(), &pages).unwrap(), vec![dir.path().join("gcnsim-gone.1")]);
    }

    #[test]
    fn every_visible_command_has_a_section_and_a_page() {
        let md = cli_markdown();
        let pages = man_pages().unwrap();
        for cmd in Cli::command().get_subcommands().filter(|c| !c.is_hide_set()) {
            let name = cmd.get_name();
            assert!(md.contains(&format!("## `gcnsim {name}`\n")), "{name}");
            assert!(pages.iter().any(|(n, _)| *n == format!("gcnsim-{name}.1")), "{name}");
        }
        assert!(!md.contains("## `gcnsim generate-docs`") && !pages.iter().any(|(n, _)| n.contains("generate")));
        assert!(!md.contains("## `gcnsim help`"), "clap's help command is no command of gcnsim's");
    }
}
