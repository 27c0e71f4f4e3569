//! Sweeps that outgrow one machine, end to end: `run --jobs`, `run --shard` and `merge` write
//! the bytes one machine writes, a sweep killed with SIGKILL runs only its unfinished runs
//! when started again, and shards of different experiments, commits or datasets are refused.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// 3 serial runs and 6 at P = 2: per-epoch files, traces and every figure they draw.
const SMALL: &str = r#"
name = "sweep"
dataset = "csbm:nodes=600,avg_degree=6,features=16,valid=100,test=200"
backend = "cpu"
[base]
epochs = 8
[grid]
partitions = [1, 2]
boundary = ["drop", "exchange"]
seed = [0, 1, 2]
"#;

fn gcnsim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gcnsim"));
    for name in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"] {
        c.env_remove(name);
    }
    c.envs(env.iter().copied()).args(args).output().expect("the binary runs")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_exp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Every file of `a` equals `b`'s, byte for byte, except the wall clock's `timing.csv`.
fn assert_same_folder(a: &Path, b: &Path) {
    let names = |d: &Path| {
        let mut n: Vec<String> =
            fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        n.sort();
        n
    };
    assert_eq!(names(a), names(b), "{} and {} hold other files", a.display(), b.display());
    for name in names(a).iter().filter(|n| *n != "timing.csv") {
        assert!(
            fs::read(a.join(name)).unwrap() == fs::read(b.join(name)).unwrap(),
            "{name} differs in {}",
            b.display()
        );
    }
}

fn shard_runs(dir: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(dir.join("shard.json")).unwrap()).unwrap();
    v["runs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

fn run_ids(whole: &Path) -> Vec<String> {
    let text = fs::read_to_string(whole.join("runs.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect()
}

#[test]
fn shards_merge_into_the_one_machine_folder_and_jobs_change_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write_exp(dir.path(), "sweep.toml", SMALL);
    let whole = dir.path().join("whole");
    ok(gcnsim(&["run", s(&exp), "--out", s(&whole)], &[]));
    let ids = run_ids(&whole);
    assert_eq!(ids.len(), 9);

    let jobs = dir.path().join("jobs");
    let o = ok(gcnsim(&["run", s(&exp), "--out", s(&jobs), "--jobs", "2", "--threads", "1"], &[]));
    assert!(err(&o).contains("2 runs at a time, 1 CPU thread each"), "{}", err(&o));
    assert_same_folder(&whole, &jobs);

    for n in [1usize, 2, 3, 7] {
        let mut held: BTreeMap<String, usize> = BTreeMap::new();
        let mut shards = Vec::new();
        for k in 1..=n {
            let out = dir.path().join(format!("shard-{n}-{k}"));
            let (index, count) = ((k - 1).to_string(), n.to_string());
            // Slurm's array variables for N = 2, a Kubernetes index for N = 3, --shard otherwise.
            let o = match n {
                2 => gcnsim(
                    &["run", s(&exp), "--out", s(&out)],
                    &[("SLURM_ARRAY_TASK_ID", &index), ("SLURM_ARRAY_TASK_COUNT", &count)],
                ),
                3 => {
                    gcnsim(&["run", s(&exp), "--out", s(&out), "--shards", &count], &[("JOB_COMPLETION_INDEX", &index)])
                }
                _ => gcnsim(&["run", s(&exp), "--out", s(&out), "--shard", &format!("{k}/{n}")], &[]),
            };
            let o = ok(o);
            if n == 2 {
                assert!(err(&o).contains(&format!("shard {k}/2 from SLURM_ARRAY_TASK_ID={index}")), "{}", err(&o));
            }
            for id in shard_runs(&out) {
                *held.entry(id).or_default() += 1;
            }
            shards.push(out);
        }
        assert_eq!(
            held.keys().cloned().collect::<Vec<_>>(),
            {
                let mut i = ids.clone();
                i.sort();
                i
            },
            "N = {n}"
        );
        assert!(held.values().all(|&c| c == 1), "N = {n}: a run in two shards: {held:?}");
        let merged = dir.path().join(format!("merged-{n}"));
        let mut args = vec!["merge", s(&merged)];
        args.extend(shards.iter().map(|p| s(p)));
        ok(gcnsim(&args, &[]));
        assert_same_folder(&whole, &merged);
    }
}

#[test]
fn merging_other_experiments_commits_datasets_or_partial_shards_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_exp(dir.path(), "a.toml", SMALL);
    let b = write_exp(dir.path(), "b.toml", &SMALL.replace("name = \"sweep\"", "name = \"other\""));
    let shard = |exp: &Path, k: &str, out: &str| {
        let out = dir.path().join(out);
        ok(gcnsim(&["run", s(exp), "--out", s(&out), "--shard", k], &[]));
        out
    };
    let (a1, a2, b2) = (shard(&a, "1/2", "a1"), shard(&a, "2/2", "a2"), shard(&b, "2/2", "b2"));
    let merge = |shards: &[&Path]| {
        let out = dir.path().join("merged");
        let mut args = vec!["merge", s(&out)];
        args.extend(shards.iter().map(|p| s(p)));
        let o = gcnsim(&args, &[]);
        assert!(!o.status.success(), "merged {shards:?}");
        assert!(!out.exists(), "a refused merge wrote its folder");
        err(&o)
    };
    let e = merge(&[&a1, &b2]);
    assert!(e.contains("experiment `sweep`") && e.contains("experiment `other`"), "{e}");
    // The same experiment at another commit, or on other data: a copy of a2 that says so.
    let tampered = |key: &str, value: &str, name: &str| {
        let copy = dir.path().join(name);
        fs::create_dir(&copy).unwrap();
        for entry in fs::read_dir(&a2).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
        let mut v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(copy.join("shard.json")).unwrap()).unwrap();
        v["identity"][key] = serde_json::Value::String(value.into());
        fs::write(copy.join("shard.json"), v.to_string()).unwrap();
        copy
    };
    let e = merge(&[&a1, &tampered("source_commit", "0123abcd", "commit")]);
    assert!(e.contains("at commit 0123abcd") && e.contains("at commit"), "{e}");
    let e = merge(&[&a1, &tampered("dataset_fingerprint", "600 nodes, crc32 00000000", "data")]);
    assert!(e.contains("crc32 00000000") && e.contains("different dataset"), "{e}");
    let e = merge(&[&a1]);
    assert!(e.contains("in no shard") && e.contains(&shard_runs(&a2)[0]), "{e}");
    let e = merge(&[&a1, &a1, &a2]);
    assert!(e.contains("more than one shard") && e.contains(&shard_runs(&a1)[0]), "{e}");
    let e = merge(&[&a1, dir.path()]);
    assert!(e.contains("not a shard folder"), "{e}");
}

/// 15 runs of about half a second each (the quickstart's).
const SLOW: &str = r#"
name = "slow"
dataset = "csbm"
backend = "cpu"
[base]
epochs = 200
[grid]
partitions = [1, 2, 4]
boundary = ["drop", "exchange"]
seed = [0, 1, 2]
"#;

fn kept_runs(sweep: &Path) -> usize {
    fs::read_dir(sweep)
        .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("run.")).count())
        .unwrap_or(0)
}

/// Starts `args`, SIGKILLs it once the sweep folder holds `at_least` finished runs; how many it
/// holds after the kill.
fn kill_after(args: &[&str], sweep: &Path, at_least: usize) -> usize {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while kept_runs(sweep) < at_least {
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended before it was killed");
        assert!(started.elapsed() < Duration::from_secs(120), "no {at_least} runs after two minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    assert!(!child.wait().unwrap().success(), "the sweep had finished before it was killed");
    kept_runs(sweep)
}

/// Runs executed by a `gcnsim run` whose stderr is a log: one `[i/N]` line each.
fn executed(o: &Output) -> usize {
    err(o).lines().filter(|l| l.starts_with('[')).count()
}

#[test]
fn a_killed_sweep_runs_only_its_unfinished_runs_when_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write_exp(dir.path(), "slow.toml", SLOW);
    let whole = dir.path().join("whole");
    let o = ok(gcnsim(&["run", s(&exp), "--out", s(&whole)], &[]));
    assert_eq!(executed(&o), 15);

    let out = dir.path().join("killed");
    let sweep = dir.path().join(".killed.sweep");
    let args = ["run", s(&exp), "--out", s(&out), "--jobs", "2", "--threads", "1"];
    let finished = kill_after(&args, &sweep, 4);
    assert!((4..15).contains(&finished), "{finished} runs finished before the kill");
    assert!(!out.exists(), "a killed sweep wrote its results folder");
    let o = ok(gcnsim(&args, &[]));
    assert!(err(&o).contains(&format!("{finished} of 15 runs finished earlier")), "{}", err(&o));
    assert_eq!(executed(&o), 15 - finished, "{}", err(&o));
    assert_same_folder(&whole, &out);
    assert!(!sweep.exists(), "the sweep folder is gone once the results are in place");

    // --restart runs everything again.
    let again = dir.path().join("again");
    let sweep = dir.path().join(".again.sweep");
    let args = ["run", s(&exp), "--out", s(&again)];
    assert!(kill_after(&args, &sweep, 2) >= 2);
    let mut restart = args.to_vec();
    restart.push("--restart");
    let o = ok(gcnsim(&restart, &[]));
    assert_eq!(executed(&o), 15, "{}", err(&o));
    assert!(!err(&o).contains("finished earlier"));
    assert_same_folder(&whole, &again);
}
