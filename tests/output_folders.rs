//! End-to-end: output folders (`run`, `train --out`, `resume`, `plot`, `--trace`) under the
//! reproductions of issue #24 item 2. Each test runs the binary on tiny configurations; the
//! long runs that are interrupted on purpose are killed when a test ends, however it ends.
#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A 200-node graph: a run takes milliseconds.
const TINY: &str = "csbm:nodes=200,valid=20,test=20,classes=2,train_per_class=5";

fn gcnsim_in(cwd: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gcnsim"));
    if let Some(cwd) = cwd {
        c.current_dir(cwd);
    }
    c.args(args).output().expect("the binary runs")
}

fn gcnsim(args: &[&str]) -> Output {
    gcnsim_in(None, args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A quick `train --out out` (plus `extra`) that must succeed.
fn quick_train(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--backend", "cpu", "--dataset", TINY, "--epochs", "3", "--out", s(out)];
    args.extend_from_slice(extra);
    let o = gcnsim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// Every file of `dir` (hidden ones included) with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A long run, killed (SIGKILL) when dropped if it still runs.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn start(args: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        Running(child)
    }

    /// A training run of 100,000 epochs on the default graph (minutes) into `out`.
    fn train(out: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["train", "--backend", "cpu", "--dataset", "csbm", "--epochs", "100000", "--out", s(out)];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits (at most a minute) until `ready` holds; panics if the process ends first.
    fn wait_until(&mut self, what: &str, ready: impl Fn() -> bool) {
        let started = Instant::now();
        while !ready() {
            if let Some(status) = self.0.try_wait().unwrap() {
                let mut err = String::new();
                let _ = std::io::Read::read_to_string(self.0.stderr.as_mut().unwrap(), &mut err);
                panic!("the run ended ({status}) before {what}: {err}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no {what} after a minute");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` (a `kill` name: INT, TERM) and returns the exit code and stderr.
    fn signal(mut self, signal: &str) -> (Option<i32>, String) {
        let sent = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -{signal}");
        let status = self.0.wait().unwrap();
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(self.0.stderr.as_mut().unwrap(), &mut err);
        (status.code(), err)
    }
}

/// Whether `dir` holds a staging folder for `name` with its INCOMPLETE note.
fn staging_exists(dir: &Path, name: &str) -> bool {
    let prefix = format!(".{name}.staging-");
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&prefix) && e.path().join("INCOMPLETE").is_file())
}

/// A checkpointed run into `out`, killed (SIGKILL: no clean-up of its own) once its first
/// checkpoint exists.
fn interrupted_checkpointed_run(out: &Path) {
    let mut run = Running::start(&[
        "train",
        "--backend",
        "cpu",
        "--dataset",
        "csbm",
        "--epochs",
        "400",
        "--partitions",
        "2",
        "--checkpoint-every",
        "1",
        "--out",
        s(out),
    ]);
    run.wait_until("its first checkpoint", || out.join("checkpoint.bin").is_file());
    let (code, err) = run.signal("KILL");
    assert_eq!(code, None, "{err}");
    assert!(out.join("checkpoint.bin").is_file() && out.join("INCOMPLETE").is_file());
}

#[test]
fn resume_through_a_symlink_reads_and_writes_one_folder() {
    let base = tempfile::tempdir().unwrap();
    let (deep, cwd) = (base.path().join("deep"), base.path().join("cwd"));
    fs::create_dir_all(deep.join("inner")).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    std::os::unix::fs::symlink(deep.join("inner"), cwd.join("link")).unwrap();
    // An unrelated earlier output where `link/../run`, read as text, would point.
    quick_train(&cwd.join("run"), &[]);
    let unrelated = snapshot(&cwd.join("run"));
    // The interrupted run the OS finds at `link/../run`.
    interrupted_checkpointed_run(&deep.join("run"));

    let o = gcnsim_in(Some(&cwd), &["resume", "link/../run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let real = deep.canonicalize().unwrap().join("run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("wrote {}", real.display())), "{stdout}");
    assert!(real.join("metrics.csv").is_file() && !real.join("checkpoint.bin").exists());
    assert_eq!(fs::read_to_string(real.join("metrics.csv")).unwrap().lines().count(), 401);
    assert!(snapshot(&cwd.join("run")) == unrelated, "the unrelated output changed");
}

#[test]
fn a_second_process_is_refused_while_the_first_holds_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    quick_train(&out, &[]);
    let mut first = Running::train(&out, &[]);
    let lock = dir.path().join(".r.lock");
    let pid = first.pid().to_string();
    first.wait_until("its lock", || fs::read_to_string(&lock).is_ok_and(|t| t == pid));
    let held = format!("in use by process {pid}");
    for args in [
        vec!["train", "--backend", "cpu", "--dataset", TINY, "--epochs", "3", "--out", s(&out)],
        vec!["resume", s(&out)],
        vec!["plot", s(&out)],
    ] {
        let o = gcnsim(&args);
        assert!(!o.status.success(), "{args:?} ran beside the first process");
        assert!(stderr(&o).contains(&held), "{args:?}: {}", stderr(&o));
    }
    let before = snapshot(&out);
    let (code, err) = first.signal("INT");
    assert_eq!(code, Some(130), "{err}");
    assert!(snapshot(&out) == before);
    assert_eq!(names(dir.path()), ["r"], "no lock file or staging folder left");
}

#[test]
fn a_forged_marker_does_not_make_a_folder_replaceable() {
    let dir = tempfile::tempdir().unwrap();
    let u = dir.path().join("u");
    fs::create_dir(&u).unwrap();
    fs::write(u.join("thesis.tex"), "precious").unwrap();
    let old_marker = "{\n  \"written_by\": \"gcnsim 0.1.0\",\n  \"kind\": \"train\"\n}\n";
    for marker in ["", old_marker] {
        fs::write(u.join(".gcnsim-output"), marker).unwrap();
        let o = gcnsim(&["train", "--backend", "cpu", "--dataset", TINY, "--epochs", "3", "--out", s(&u)]);
        assert!(!o.status.success(), "marker {marker:?}: the folder was replaced");
        assert!(stderr(&o).contains("thesis.tex"), "{}", stderr(&o));
        assert_eq!(fs::read_to_string(u.join("thesis.tex")).unwrap(), "precious");
    }
    // A real gcnsim output with a file added afterwards is refused too, naming the file.
    let r = dir.path().join("r");
    quick_train(&r, &[]);
    let marker = fs::read_to_string(r.join(".gcnsim-output")).unwrap();
    assert!(marker.contains("\"metrics.csv\"") && marker.contains("\"summary.json\""), "{marker}");
    fs::write(r.join("notes.md"), "mine").unwrap();
    let o = gcnsim(&["train", "--backend", "cpu", "--dataset", TINY, "--epochs", "3", "--out", s(&r)]);
    assert!(!o.status.success() && stderr(&o).contains("notes.md"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(r.join("notes.md")).unwrap(), "mine");
    // Without it, the folder is gcnsim's again.
    fs::remove_file(r.join("notes.md")).unwrap();
    quick_train(&r, &[]);
}

#[test]
fn a_committed_results_folder_with_an_old_marker_is_replaceable_and_plottable() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("quickstart");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/quickstart");
    fs::create_dir(&q).unwrap();
    for (name, bytes) in snapshot(&committed) {
        fs::write(q.join(name), bytes).unwrap();
    }
    let o = gcnsim(&["plot", s(&q)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let marker = fs::read_to_string(q.join(".gcnsim-output")).unwrap();
    assert!(marker.contains("\"runs.csv\"") && marker.contains("\"convergence.png\""), "{marker}");
    quick_train(&q, &[]);
    assert!(q.join("summary.json").is_file() && !q.join("runs.csv").exists());
}

#[test]
fn resume_of_a_foreign_or_broken_folder_leaves_sibling_staging_folders() {
    let dir = tempfile::tempdir().unwrap();
    // A staging folder of a process that no longer runs (beyond Linux's highest pid).
    let sibling = dir.path().join(".ng.staging-4194305-0-0");
    fs::create_dir(&sibling).unwrap();
    fs::write(sibling.join("INCOMPLETE"), "").unwrap();
    let ng = dir.path().join("ng");
    fs::create_dir(&ng).unwrap();
    fs::write(ng.join("checkpoint.bin"), "not a checkpoint").unwrap();
    fs::write(ng.join("thesis.tex"), "precious").unwrap();
    // Not gcnsim's folder; then gcnsim's, with a broken checkpoint.
    for marker in [None, Some("{\"written_by\": \"gcnsim\", \"kind\": \"train\", \"files\": [\"checkpoint.bin\"]}")] {
        if let Some(m) = marker {
            fs::remove_file(ng.join("thesis.tex")).unwrap();
            fs::write(ng.join(".gcnsim-output"), m).unwrap();
        }
        let o = gcnsim(&["resume", s(&ng)]);
        assert!(!o.status.success(), "resumed {marker:?}");
        assert!(sibling.join("INCOMPLETE").is_file(), "{marker:?}: the sibling staging folder was removed");
    }
    // A resume that gets as far as staging removes it.
    fs::remove_dir_all(&ng).unwrap();
    interrupted_checkpointed_run(&ng);
    fs::create_dir(&sibling).unwrap();
    fs::write(sibling.join("INCOMPLETE"), "").unwrap();
    let o = gcnsim(&["resume", s(&ng)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!sibling.exists());
}

#[test]
fn trace_refuses_to_overwrite_a_file_that_is_not_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious.txt");
    fs::write(&precious, "draft\n").unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--backend", "cpu", "--dataset", TINY, "--epochs", "2", "--partitions", "2"];
        args.extend_from_slice(extra);
        gcnsim(&args)
    };
    let o = train(&["--trace", s(&precious)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a gcnsim trace") && stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&precious).unwrap(), "draft\n");
    // --force replaces it; a later run replaces its own trace without it.
    for extra in [&["--force"][..], &[]] {
        let o = train(&[&["--trace", s(&precious)], extra].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let trace = fs::read_to_string(&precious).unwrap();
        assert!(trace.starts_with('[') && trace.contains("publish v0"), "{trace}");
    }
    assert_eq!(names(dir.path()), ["precious.txt"], "no temporary file left");
    // A run that fails after the trace was opened leaves no trace and no temporary file.
    let fresh = dir.path().join("fresh.txt");
    let missing = dir.path().join("no-such-dataset");
    let o = gcnsim(&["train", "--dataset", s(&missing), "--trace", s(&fresh)]);
    assert!(!o.status.success() && stderr(&o).contains("no-such-dataset"), "{}", stderr(&o));
    assert_eq!(names(dir.path()), ["precious.txt"]);
}

#[test]
fn a_trace_inside_the_output_folder_goes_into_the_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let tr = dir.path().join("tr");
    quick_train(&tr, &[]);
    let trace = tr.join("trace.txt");
    for _ in 0..2 {
        let o = quick_train(&tr, &["--trace", s(&trace)]);
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("wrote {}", trace.display())));
        assert!(fs::read_to_string(&trace).unwrap().contains("publish v0"), "the trace is in the new folder");
        assert!(fs::read_to_string(tr.join(".gcnsim-output")).unwrap().contains("\"trace.txt\""));
    }
    for (bad, why) in [(tr.join("sub/t.txt"), "subfolder"), (tr.join("metrics.csv"), "its own metrics.csv")] {
        let o = gcnsim(&["train", "--backend", "cpu", "--dataset", TINY, "--out", s(&tr), "--trace", s(&bad)]);
        assert!(!o.status.success() && stderr(&o).contains(why), "{}", stderr(&o));
    }
    assert!(trace.is_file() && tr.join("metrics.csv").is_file());
}

#[test]
fn sigint_and_sigterm_remove_the_staging_folder_and_keep_the_previous_results() {
    let dir = tempfile::tempdir().unwrap();
    // `train --out`, SIGINT.
    let r = dir.path().join("r");
    quick_train(&r, &[]);
    let before = snapshot(&r);
    let mut run = Running::train(&r, &[]);
    run.wait_until("its staging folder", || staging_exists(dir.path(), "r"));
    let (code, err) = run.signal("INT");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    assert!(snapshot(&r) == before, "the previous results changed");
    assert_eq!(names(dir.path()), ["r"], "a staging folder or lock file is left");

    // `run`, SIGTERM.
    let experiment = |dataset: &str, epochs: u32| {
        let path = dir.path().join(format!("e{epochs}.toml"));
        let text = format!("name = \"e\"\ndataset = \"{dataset}\"\n[base]\nepochs = {epochs}\n[[grid]]\nseed = [0]\n");
        fs::write(&path, text).unwrap();
        path
    };
    let e = dir.path().join("e");
    let (quick, long) = (experiment(TINY, 2), experiment("csbm", 100_000));
    let o = gcnsim(&["run", s(&quick), "--backend", "cpu", "--out", s(&e)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&e);
    let mut run = Running::start(&["run", s(&long), "--backend", "cpu", "--out", s(&e)]);
    run.wait_until("its staging folder", || staging_exists(dir.path(), "e"));
    let (code, err) = run.signal("TERM");
    assert_eq!(code, Some(143), "{err}");
    assert!(snapshot(&e) == before, "the previous results changed");
    let left: Vec<String> = names(dir.path()).into_iter().filter(|n| n.starts_with(".e.")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Makes deleting `file` fail: `chattr +i` as root (root ignores permissions), else a read-only
/// folder. `None` (with the reason) where neither is possible.
fn undeletable(file: &Path) -> Option<Box<dyn FnOnce()>> {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let ok = Command::new("chattr").arg("+i").arg(file).status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: `chattr +i` failed (no chattr, or a file system without the flag)");
            return None;
        }
        let file = file.to_path_buf();
        return Some(Box::new(move || {
            let _ = Command::new("chattr").arg("-i").arg(&file).status();
        }));
    }
    use std::os::unix::fs::PermissionsExt;
    let folder = file.parent().unwrap().to_path_buf();
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o555)).unwrap();
    Some(Box::new(move || {
        // The folder has been renamed aside by then: restore whatever holds the file now.
        let _ = fs::set_permissions(&folder, fs::Permissions::from_mode(0o755));
    }))
}

#[test]
fn a_failed_deletion_of_the_previous_results_is_a_warning_and_cleaned_up_later() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r");
    quick_train(&r, &[]);
    let Some(undo) = undeletable(&r.join("metrics.csv")) else { return };
    let o = gcnsim(&["train", "--backend", "cpu", "--dataset", TINY, "--epochs", "4", "--out", s(&r)]);
    let aside: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".r.old-"))
        .collect();
    // Undo before asserting, so that the temporary folder can be removed.
    for a in &aside {
        let _ = Command::new("chattr").arg("-i").arg(a.join("metrics.csv")).status();
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(a, fs::Permissions::from_mode(0o755));
    }
    undo();
    assert!(o.status.success(), "the results were written, yet: {}", stderr(&o));
    assert!(stderr(&o).contains("warning") && stderr(&o).contains(".r.old-"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(r.join("metrics.csv")).unwrap().lines().count(), 5, "the new results are in place");
    assert_eq!(aside.len(), 1, "{aside:?}");
    // The next run removes what the dead process could not.
    let o = quick_train(&r, &[]);
    assert!(stderr(&o).contains("removed"), "{}", stderr(&o));
    assert_eq!(names(dir.path()), ["r"]);
}
