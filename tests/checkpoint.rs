//! End-to-end checkpoints: a `gcnsim train --checkpoint-every` process killed with SIGKILL
//! mid-run, resumed with `gcnsim resume`, completes its folder with files byte-identical to an
//! uninterrupted run's; damaged checkpoints are refused by name and change nothing.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gcnsim::sim::checkpoint::{Checkpoint, FILE_NAME};

const DATASET: &str = "csbm:nodes=20000,avg_degree=10";
const EPOCHS: &str = "150";

fn gcnsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().expect("the binary runs")
}

fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--backend", "cpu", "--dataset", DATASET, "--epochs", EPOCHS];
    args.extend_from_slice(&["--partitions", "4", "--boundary", "stale", "--lr-schedule", "cosine:warmup=5"]);
    args.extend_from_slice(&["--out", out]);
    args.extend_from_slice(extra);
    args
}

/// Starts a checkpointing run and kills it with SIGKILL once its first checkpoint exists.
fn killed_run(out: &Path) -> u32 {
    let out_s = out.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
        .args(train_args(out_s, &["--checkpoint-every", "3"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = out.join(FILE_NAME);
    let started = Instant::now();
    while !checkpoint.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before writing a checkpoint");
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint after two minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run had finished before it was killed");
    assert!(!out.join("metrics.csv").exists(), "a killed run wrote results");
    let epoch = Checkpoint::read(&checkpoint).unwrap().state.epoch;
    assert!(epoch >= 3 && epoch.is_multiple_of(3) && epoch < 150, "checkpoint after epoch {epoch}");
    epoch
}

#[test]
fn a_killed_run_resumes_to_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let o = gcnsim(&train_args(whole.to_str().unwrap(), &[]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let out = dir.path().join("killed");
    let epoch = killed_run(&out);
    let o = gcnsim(&["resume", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains(&format!("after epoch {epoch} of 150")), "{stdout}");
    for file in ["metrics.csv", "events.csv", "comm.csv", "gradients.csv", "workers.csv"] {
        let (a, b) = (fs::read(whole.join(file)).unwrap(), fs::read(out.join(file)).unwrap());
        assert!(a == b, "{file} differs after resuming from epoch {epoch}");
    }
    assert!(
        !out.join(FILE_NAME).exists() && !out.join("INCOMPLETE").exists(),
        "the completed folder keeps no checkpoint"
    );
    // The killed process's staging folder is gone too.
    let leftovers: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    let o = gcnsim(&["resume", out.to_str().unwrap()]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("nothing to resume"), "{e}");
}

#[test]
fn damaged_checkpoints_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    killed_run(&out);
    let path = out.join(FILE_NAME);
    let good = fs::read(&path).unwrap();
    let listing = |d: &Path| {
        let mut names: Vec<String> =
            fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    for (bytes, needle) in [(&good[..good.len() / 2], "truncated"), (&flipped[..], "checksum mismatch")] {
        fs::write(&path, bytes).unwrap();
        let before = listing(&out);
        let o = gcnsim(&["resume", out.to_str().unwrap()]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "a {needle} checkpoint was accepted");
        assert!(e.contains(path.to_str().unwrap()) && e.contains(needle), "{e}");
        assert!(!e.contains("panicked"), "{e}");
        assert_eq!(listing(&out), before, "a refused resume changed the folder");
    }
    fs::remove_file(&path).unwrap();
    let o = gcnsim(&["resume", out.to_str().unwrap()]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains(FILE_NAME), "{e}");
}

#[test]
fn checkpoints_need_an_output_folder_and_bsp() {
    let o = gcnsim(&["train", "--epochs", "2", "--checkpoint-every", "1"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("--checkpoint-every needs --out"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("asp");
    let o = gcnsim(&[
        "train",
        "--backend",
        "cpu",
        "--epochs",
        "4",
        "--partitions",
        "2",
        "--boundary",
        "drop",
        "--consistency",
        "asp",
        "--checkpoint-every",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("checkpoint_every") && e.contains("asp"), "{e}");
}

/// The edited checkpoints, each with a recomputed (valid) checksum: every one is refused
/// with exit 1 and a one-line error naming what is wrong, in seconds, and the folder is unchanged.
#[test]
fn edited_checkpoints_with_valid_checksums_are_refused_by_field() {
    use gcnsim::sim::checkpoint::file::{encode, framed};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    killed_run(&out);
    let path = out.join(FILE_NAME);
    let good = Checkpoint::read(&path).unwrap();
    let snapshot = |d: &Path| {
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap_or_default())
            })
            .collect();
        files.sort();
        files
    };
    let with_config = |c: &mut Checkpoint, section: &str, key: &str, value: serde_json::Value| {
        let mut cfg: serde_json::Value = serde_json::from_str(&c.identity.config_json).unwrap();
        let slot = cfg[section].get_mut(key).unwrap_or_else(|| panic!("the stored config has {section}.{key}"));
        *slot = value;
        c.identity.config_json = cfg.to_string();
    };
    type Edit = Box<dyn Fn(&mut Checkpoint)>;
    let epoch = good.state.epoch;
    let edits: Vec<(&str, Edit, &str)> = vec![
        ("epoch 2, more records", Box::new(|c| c.state.epoch = 2), "`records` is inconsistent"),
        ("epoch 1000", Box::new(|c| c.state.epoch = 1000), "`epoch` is inconsistent: 1000 rounds done"),
        ("epoch u32::MAX", Box::new(|c| c.state.epoch = u32::MAX), "`epoch` is inconsistent"),
        (
            "epochs lowered to the rounds done",
            Box::new(move |c| {
                with_config(c, "train", "epochs", epoch.into());
                // The run's warm-up is longer than the rounds done: the default schedule passes.
                let constant = serde_json::to_value(gcnsim::ps::schedule::LrSchedule::default()).unwrap();
                with_config(c, "train", "lr_schedule", constant);
            }),
            "`epoch` is inconsistent",
        ),
        (
            "worker 7 of 4",
            Box::new(|c| c.state.rounds.assignment[1] = 7),
            "`rounds.assignment[1]` is inconsistent: worker 7, but the run has 4 workers (0..4)",
        ),
        ("no versions", Box::new(|c| c.state.store.versions.clear()), "`store.versions` is inconsistent"),
        ("no traffic matrix", Box::new(|c| c.state.pair_bytes.clear()), "`pair_bytes` is inconsistent"),
        (
            "a 300M-node dataset",
            Box::new(|c| c.identity.dataset = "csbm:nodes=300000000,avg_degree=10".into()),
            "declares nodes=300000000, but the run trained on 20000 nodes",
        ),
        (
            "a /dev/zero device profile",
            Box::new(move |c| with_config(c, "cluster", "device_profile", "/dev/zero".into())),
            "/dev/zero: larger than the 4 MiB limit",
        ),
    ];
    for (name, edit, needle) in edits {
        let mut c = good.clone();
        edit(&mut c);
        fs::write(&path, framed(&encode(&c).unwrap())).unwrap();
        let before = snapshot(&out);
        // The lock file the killed process left (SIGKILL runs no clean-up) goes with the first
        // resume that takes the lock, refused or not; everything else beside the folder stays.
        let lock = ".killed.lock";
        let siblings: Vec<_> = snapshot(dir.path()).into_iter().filter(|(n, _)| n != lock).collect();
        let started = Instant::now();
        let o = gcnsim(&["resume", out.to_str().unwrap()]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {e}");
        let errors: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(errors.len() == 1 && errors[0].starts_with("error: "), "{name}: not one line: {e}");
        assert!(e.contains(path.to_str().unwrap()) && e.contains(needle), "{name}: {e}");
        assert!(started.elapsed() < Duration::from_secs(30), "{name}: took {:?}", started.elapsed());
        assert_eq!(snapshot(&out), before, "{name}: a refused resume changed the folder");
        assert_eq!(snapshot(dir.path()), siblings, "{name}: a refused resume changed what is beside the folder");
        assert!(!dir.path().join(lock).exists(), "{name}: a refused resume left its lock file");
    }
    // The unedited checkpoint, written the same way, still resumes.
    fs::write(&path, framed(&encode(&good).unwrap())).unwrap();
    let o = gcnsim(&["resume", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
