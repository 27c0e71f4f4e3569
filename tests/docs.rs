//! The book in docs/ and the README stay true: the generated CLI reference and man pages are
//! current, every link resolves, SUMMARY.md lists every chapter, and the shell blocks marked
//! `<!-- runnable -->` run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gcnsim::app::docs::{cli_markdown, man_pages, CLI_MD, MAN_DIR, REGENERATE};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn book_src() -> PathBuf {
    root().join("docs/src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every markdown file under `dir`, sorted.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(markdown_files(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The book's chapters and the README: every page whose links must resolve.
fn pages() -> Vec<PathBuf> {
    let mut pages = markdown_files(&book_src());
    pages.push(root().join("README.md"));
    pages.push(root().join("results/README.md"));
    pages
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

// ---------------------------------------------------------------------------------------------
// The generated reference

#[test]
fn cli_reference_and_man_pages_are_current() {
    let md_path = root().join(CLI_MD);
    let committed = std::fs::read_to_string(&md_path).unwrap_or_default();
    assert!(
        committed == cli_markdown(),
        "{CLI_MD} differs from what src/cli.rs generates; regenerate it with `{REGENERATE}`"
    );
    let pages = man_pages().unwrap();
    let man_dir = root().join(MAN_DIR);
    let on_disk: BTreeSet<String> = std::fs::read_dir(&man_dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let generated: BTreeSet<String> = pages.iter().map(|(name, _)| name.clone()).collect();
    assert!(
        on_disk == generated,
        "{MAN_DIR} holds {on_disk:?}, the commands make {generated:?}; regenerate with `{REGENERATE}`"
    );
    for (name, bytes) in &pages {
        let committed = std::fs::read(man_dir.join(name)).unwrap();
        assert!(committed == *bytes, "{MAN_DIR}/{name} is out of date; regenerate it with `{REGENERATE}`");
    }
    assert!(generated.contains("gcnsim.1") && generated.contains("gcnsim-train.1"), "{generated:?}");
}

#[test]
fn generate_docs_writes_what_the_check_compares() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gcnsim")).arg("generate-docs").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read(&dir.path().join(CLI_MD)), cli_markdown());
    for (name, bytes) in man_pages().unwrap() {
        assert_eq!(std::fs::read(dir.path().join(MAN_DIR).join(&name)).unwrap(), bytes, "{name}");
    }
    // Every visible command has its section, with its own usage line.
    let md = cli_markdown();
    for command in
        ["train", "run", "resume", "plot", "dataset-info", "partition-info", "devices", "bench", "completions"]
    {
        assert!(md.contains(&format!("## `gcnsim {command}`")), "no section for {command}");
        assert!(md.contains(&format!("Usage: gcnsim {command}")), "no usage line for {command}");
    }
    assert!(!md.contains("## `gcnsim generate-docs`"), "the hidden command has no section");
}

#[test]
fn completions_print_a_script_for_each_shell() {
    for (shell, marks) in [
        ("bash", &["_gcnsim()", "complete -F _gcnsim"][..]),
        ("zsh", &["#compdef gcnsim", "_gcnsim"][..]),
        ("fish", &["complete -c gcnsim"][..]),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        for mark in marks {
            assert!(script.contains(mark), "{shell}: no `{mark}` in the script");
        }
        // Subcommands and their options are completed.
        assert!(script.contains("partition-info") && script.contains("checkpoint-every"), "{shell}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(["completions", "tcsh"]).output().unwrap();
    assert!(!out.status.success(), "an unknown shell is refused");
}

// ---------------------------------------------------------------------------------------------
// Links

/// Each line of `text` with whether it lies in a fenced code block (fence lines included). A
/// fence closes with at least as many backticks as opened it, so ```` blocks may show ``` ones.
fn fenced(text: &str) -> Vec<(&str, bool)> {
    let mut open: Option<usize> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let ticks = t.chars().take_while(|&c| c == '`').count();
        match open {
            None if ticks >= 3 => {
                open = Some(ticks);
                out.push((line, true));
            }
            Some(n) if ticks >= n && t.trim_end().len() == ticks => {
                open = None;
                out.push((line, true));
            }
            _ => out.push((line, open.is_some())),
        }
    }
    out
}

/// The targets of the inline links and images of `text` (`[..](target)`, `![..](target)`),
/// outside code blocks and code spans, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, (line, in_code)) in fenced(text).into_iter().enumerate() {
        if in_code {
            continue;
        }
        // Code spans hold text like `a[i](x)` that is no link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push((i + 1, after[..end].trim().to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The anchor mdBook (and GitHub) gives a heading: lower case, spaces to `-`, punctuation
/// other than `-` and `_` dropped.
fn slug(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().next().unwrap())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a markdown file's headings.
fn anchors(text: &str) -> BTreeSet<String> {
    fenced(text)
        .into_iter()
        .filter(|&(line, in_code)| !in_code && line.starts_with('#'))
        .map(|(line, _)| slug(line.trim_start_matches('#').trim()))
        .collect()
}

#[test]
fn every_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        for (line, target) in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            if !dest.exists() {
                broken.push(format!("{}:{line}: `{target}`: {} does not exist", rel(&page), rel(&dest)));
                continue;
            }
            if !dest.starts_with(root()) || !dest.canonicalize().unwrap().starts_with(root().canonicalize().unwrap()) {
                broken.push(format!("{}:{line}: `{target}` leaves the repository", rel(&page)));
                continue;
            }
            if !anchor.is_empty()
                && dest.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&dest)).contains(anchor)
            {
                broken.push(format!("{}:{line}: `{target}`: {} has no heading `#{anchor}`", rel(&page), rel(&dest)));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 50, "only {checked} links found: is the parser broken?");
}

#[test]
fn figures_are_committed_results() {
    for page in pages() {
        let text = read(&page);
        for (line, target) in links(&text) {
            let ext = Path::new(&target).extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
            if ["png", "svg", "jpg", "gif"].contains(&ext.as_str()) {
                let dest = page.parent().unwrap().join(&target).canonicalize().unwrap();
                // Screenshots of what gcnsim shows (the report page) live beside the book.
                let screenshot = dest.starts_with(book_src().join("images").canonicalize().unwrap());
                assert!(
                    screenshot || dest.starts_with(root().join("results").canonicalize().unwrap()),
                    "{}:{line}: the figure `{target}` is neither a committed result under results/ nor a \
                     screenshot under docs/src/images/",
                    rel(&page)
                );
            }
        }
    }
}

#[test]
fn summary_lists_every_chapter() {
    let src = book_src();
    assert!(root().join("docs/book.toml").exists(), "docs/book.toml is missing");
    let summary = read(&src.join("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = links(&summary).into_iter().map(|(_, t)| src.join(t)).collect();
    for chapter in &listed {
        assert!(chapter.exists(), "SUMMARY.md lists {}, which does not exist", rel(chapter));
    }
    let files: BTreeSet<PathBuf> = markdown_files(&src).into_iter().filter(|p| !p.ends_with("SUMMARY.md")).collect();
    let unlisted: Vec<String> = files.difference(&listed).map(|p| rel(p)).collect();
    assert!(unlisted.is_empty(), "chapters missing from docs/src/SUMMARY.md: {unlisted:?}");
    assert!(listed.contains(&src.join("cli.md")), "the generated CLI chapter is in the book");
}

// ---------------------------------------------------------------------------------------------
// Runnable blocks

/// A block marked runnable on the line before its fence: `<!-- runnable -->` before a
/// ```` ```sh ```` block (a script), `<!-- runnable: cora -->` the same for one that reads Cora,
/// `<!-- runnable: output -->` before a ```` ```text ```` block whose first line is `$ COMMAND`
/// and whose other lines COMMAND must print, in that order.
struct Block {
    page: PathBuf,
    line: usize,
    needs_cora: bool,
    script: String,
    expected: Option<Vec<String>>,
}

fn runnable_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    for page in pages() {
        let text = read(&page);
        let lines = fenced(&text);
        for (i, &(line, in_code)) in lines.iter().enumerate() {
            let Some(marker) = line.trim().strip_prefix("<!-- runnable").and_then(|m| m.strip_suffix("-->")) else {
                continue;
            };
            if in_code {
                continue; // an example of the marker
            }
            let (needs_cora, output) = match marker.trim() {
                "" => (false, false),
                ": cora" => (true, false),
                ": output" => (false, true),
                other => panic!("{}:{}: unknown runnable marker `{other}`", rel(&page), i + 1),
            };
            let fence = lines.get(i + 1).map_or("", |l| l.0.trim());
            let want = if output { "```text" } else { "```sh" };
            assert!(fence == want, "{}:{}: this runnable marker must precede a {want} block", rel(&page), i + 1);
            let body: Vec<&str> =
                lines[i + 2..].iter().map(|l| l.0).take_while(|l| !l.trim().starts_with("```")).collect();
            let (script, expected) = if output {
                let command = body.first().and_then(|l| l.strip_prefix("$ "));
                let command = command
                    .unwrap_or_else(|| panic!("{}:{}: an output block starts with `$ COMMAND`", rel(&page), i + 3));
                (command.to_string(), Some(body[1..].iter().map(|l| l.to_string()).collect()))
            } else {
                (body.join("\n"), None)
            };
            blocks.push(Block { page: page.clone(), line: i + 2, needs_cora, script, expected });
        }
    }
    blocks
}

/// Runs the block under `sh -e` in `dir` with the built binary first on PATH as `gcnsim`, and
/// checks its exit status and (for an output block) what it printed.
fn run_block(block: &Block, dir: &Path, bin_dir: &Path, data_dir: Option<&Path>) {
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-e").arg("-c").arg(&block.script).current_dir(dir).env("PATH", path);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    if let Some(data) = data_dir {
        cmd.env("GCNSIM_DATA_DIR", data);
    }
    let where_ = format!("{}:{}", rel(&block.page), block.line);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    // Drained while the block runs, so that a long output cannot fill a pipe and stall it.
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Marked blocks take seconds; two minutes means something is wrong.
    let limit = Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("{where_}: still running after {limit:?}:\n{}", block.script);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (printed, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "{where_}: the runnable block failed ({status}):\n{}\n--- stderr:\n{stderr}",
        block.script
    );
    if let Some(expected) = &block.expected {
        let mut lines = printed.lines();
        for want in expected {
            assert!(
                lines.any(|l| l == want),
                "{where_}: `{}` did not print, in this order:\n{want}\n--- it printed:\n{printed}",
                block.script
            );
        }
    }
    eprintln!("{where_}: ran in {:.1} s", started.elapsed().as_secs_f64());
}

#[cfg(unix)]
#[test]
fn runnable_blocks_run() {
    let blocks = runnable_blocks();
    assert!(blocks.len() >= 5, "only {} runnable blocks found", blocks.len());
    let bin_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gcnsim"), bin_dir.path().join("gcnsim")).unwrap();
    // Absolute: the blocks run in a scratch folder, where CI's relative GCNSIM_DATA_DIR would
    // point nowhere.
    let cora = if blocks.iter().any(|b| b.needs_cora) { gcnsim::data::testdata::dataset_dir("cora") } else { None };
    let cora = cora.map(|dir| dir.canonicalize().unwrap_or(dir));
    for block in &blocks {
        if block.needs_cora && cora.is_none() {
            eprintln!("skipping {}:{}: Cora not found", rel(&block.page), block.line);
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        run_block(block, dir.path(), bin_dir.path(), cora.as_deref().and_then(Path::parent));
    }
}

#[test]
fn the_link_parser_and_slugs_work() {
    let text = "see [a](x.md#y) and ![f](../r.png), not `[c](d)`\n```\n[e](f)\n```\n[g](h)\n";
    assert_eq!(links(text), vec![(1, "x.md#y".into()), (1, "../r.png".into()), (5, "h".into())]);
    let nested = "````md\n```sh\n[a](b)\n```\n# not a heading\n````\n# A heading\n";
    assert!(links(nested).is_empty());
    assert_eq!(anchors(nested).into_iter().collect::<Vec<_>>(), vec!["a-heading".to_string()]);
    assert_eq!(slug("Checkpoints and `gcnsim resume`"), "checkpoints-and-gcnsim-resume");
    assert_eq!(slug("The simulated cluster: time, consistency"), "the-simulated-cluster-time-consistency");
}
