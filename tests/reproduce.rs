//! The committed quickstart results are what the code makes: re-running
//! `experiments/quickstart.toml` writes the same files, byte for byte, as `results/quickstart/`,
//! apart from the wall clock (`timing.csv`) and the commit lines of `env.json` (and of
//! `report.html`, which shows them). When this fails
//! after a change to what gcnsim writes, re-make the folder
//! (`cargo run --release -- run experiments/quickstart.toml`) and commit it with the change.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Files whose content is allowed to differ between identical runs.
const WALL_CLOCK: &[&str] = &["timing.csv"];

fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(".gcnsim-output"))
        .collect()
}

/// `env.json` (or the page showing it) without the lines naming the sources' commit, which a
/// re-run at a later commit legitimately changes.
fn env_without_commit(text: &str) -> String {
    text.lines().filter(|l| !l.contains("source_commit") && !l.contains("source_dirty")).collect::<Vec<_>>().join("\n")
}

#[test]
fn committed_quickstart_results_reproduce() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/quickstart");
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("quickstart");
    let run = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "experiments/quickstart.toml", "--out"])
        .arg(&out)
        // The committed folder was made on the CPU reference backend; `auto` would pick a
        // hardware GPU where there is one.
        .args(["--backend", "cpu"])
        .output()
        .expect("the binary runs");
    assert!(run.status.success(), "the quickstart failed: {}", String::from_utf8_lossy(&run.stderr));

    let (want, got) = (files_in(&committed), files_in(&out));
    assert_eq!(want, got, "the quickstart writes other files than results/quickstart/ holds");
    let mut differing = Vec::new();
    for name in want.iter().filter(|n| !WALL_CLOCK.contains(&n.as_str())) {
        let (a, b) = (std::fs::read(committed.join(name)).unwrap(), std::fs::read(out.join(name)).unwrap());
        let same = if name == "env.json" || name == "report.html" {
            env_without_commit(&String::from_utf8_lossy(&a)) == env_without_commit(&String::from_utf8_lossy(&b))
        } else {
            a == b
        };
        if !same {
            differing.push(name.clone());
        }
    }
    assert!(
        differing.is_empty(),
        "results/quickstart/ is not what the code makes: {} differ (re-make it with `cargo run --release -- run \
         experiments/quickstart.toml` and commit it)",
        differing.join(", ")
    );
}
