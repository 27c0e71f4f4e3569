//! `gcnsim run` and `gcnsim plot` end to end.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn gcnsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SMALL: &str = r#"
name = "small"
dataset = "csbm:nodes=2000"
backend = "cpu"

[base]
epochs = 15

[[grid]]
partitions = [1, 2]
boundary = ["exact", "drop"]
seed = [0, 1]

[[grid]]
partitions = [2]
keep_versions = [false, true]
"#;

fn run(dir: &Path, toml: &str, out: &str) -> Output {
    let file = dir.join("exp.toml");
    fs::write(&file, toml).unwrap();
    gcnsim(&["run", file.to_str().unwrap(), "--out", dir.join(out).to_str().unwrap()])
}

fn staging_folders(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn experiment_writes_every_file_and_reruns_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (run(dir.path(), SMALL, "a"), run(dir.path(), SMALL, "b"));
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for f in ["experiment.resolved.toml", "runs.csv", "metrics.csv", "timing.csv", "env.json", ".gcnsim-output"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    // serial ×2 seeds, P=2 × {exact (= replicate), drop} × 2 seeds, P=2 exchange (the default)
    // with release and with keep_versions.
    let runs = fs::read_to_string(a.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 8);
    assert!(runs.contains("P=2 replicate metis"), "the old name `exact` reads as replicate");
    // Everything but the timing file is byte-identical on a re-run.
    for entry in fs::read_dir(&a).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "timing.csv" {
            assert!(fs::read(a.join(&name)).unwrap() == fs::read(b.join(&name)).unwrap(), "{name:?} differs");
        }
    }
    let timing = fs::read_to_string(a.join("timing.csv")).unwrap();
    assert!(timing.starts_with("run_id,ms_per_epoch,seconds"), "{timing}");
    assert!(staging_folders(dir.path()).is_empty(), "no staging folder left: {:?}", staging_folders(dir.path()));
}

#[test]
fn a_failing_run_leaves_the_previous_results_intact() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run(dir.path(), SMALL, "r");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let before = fs::read(dir.path().join("r/metrics.csv")).unwrap();
    // The second run's learning rate makes the loss overflow: the experiment stops there. (No
    // weight decay: decay ≥ 1/lr is refused before any run.)
    let diverging = "dataset = \"csbm:nodes=2000\"\nbackend = \"cpu\"\n[base]\nepochs = 30\nweight_decay = 0\n\
                     [grid]\nlr = [0.01, 1e30]\n";
    let failed = run(dir.path(), diverging, "r");
    assert!(!failed.status.success());
    assert!(stderr(&failed).contains("diverged"), "{}", stderr(&failed));
    assert_eq!(fs::read(dir.path().join("r/metrics.csv")).unwrap(), before, "earlier results untouched");
    assert!(staging_folders(dir.path()).is_empty(), "nothing half-written left: {:?}", staging_folders(dir.path()));
}

#[test]
fn run_never_replaces_a_folder_gcnsim_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("sentinel.txt"), "keep me").unwrap();
    let exp = work.join("exp.toml");
    fs::write(&exp, SMALL).unwrap();
    // `--out .` and `--out ..` from inside the folder, and the folder itself by path.
    for out in [".", "..", work.to_str().unwrap()] {
        let o = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
            .current_dir(&work)
            .args(["run", "exp.toml", "--out", out])
            .output()
            .unwrap();
        assert!(!o.status.success(), "--out {out} was accepted");
        assert!(stderr(&o).contains("working directory"), "--out {out}: {}", stderr(&o));
        assert_eq!(fs::read_to_string(work.join("sentinel.txt")).unwrap(), "keep me");
        assert!(exp.is_file(), "the experiment file survives");
    }
    // A foreign non-empty folder elsewhere: refused, untouched, with a way forward.
    let foreign = dir.path().join("thesis");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("chapter1.tex"), "text").unwrap();
    let o = gcnsim(&["run", exp.to_str().unwrap(), "--out", foreign.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not written by gcnsim"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(foreign.join("chapter1.tex")).unwrap(), "text");
    // An experiment name that points elsewhere is rejected before anything runs.
    for name in ["..", "", "/tmp", "a/b"] {
        let toml = format!("name = \"{name}\"\n{SMALL}").replace("name = \"small\"\n", "");
        let file = work.join("named.toml");
        fs::write(&file, toml).unwrap();
        let o =
            Command::new(env!("CARGO_BIN_EXE_gcnsim")).current_dir(&work).args(["run", "named.toml"]).output().unwrap();
        assert!(!o.status.success(), "name {name:?} accepted");
        assert!(stderr(&o).contains("key `name`"), "{name:?}: {}", stderr(&o));
    }
    assert_eq!(fs::read_to_string(work.join("sentinel.txt")).unwrap(), "keep me");
}

#[test]
fn bad_experiment_files_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, needle) in [
        ("dataset = \"csbm\"\n[base]\nepoch = 3\n", "base.epoch"),
        ("dataset = \"csbm\"\n[grid]\npartitioner = [\"metis\", \"spectral\"]\n", "grid.partitioner"),
        ("dataset = \"csbm\"\n[base]\ndropout = 2.0\n", "dropout"),
        ("dataset = \"csbm\"\n[base\n", "exp.toml"),
    ] {
        let o = run(dir.path(), toml, "x");
        assert!(!o.status.success(), "{toml:?} was accepted");
        let err = stderr(&o);
        assert!(err.contains("exp.toml") && err.contains(needle), "{toml:?}: {err}");
        assert!(!dir.path().join("x").exists());
    }
}

#[test]
fn gpu_without_adapter_fails_and_auto_falls_back_to_cpu() {
    // No adapter can exist for Metal on Linux: wgpu sees none.
    if !cfg!(target_os = "linux") {
        return;
    }
    let no_gpu = |backend: &str| {
        Command::new(env!("CARGO_BIN_EXE_gcnsim"))
            .env("WGPU_BACKEND", "metal")
            .args(["train", "--epochs", "2", "--backend", backend])
            .output()
            .unwrap()
    };
    let gpu = no_gpu("gpu");
    assert!(!gpu.status.success());
    assert!(stderr(&gpu).contains("no GPU adapter"), "{}", stderr(&gpu));
    let auto = no_gpu("auto");
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(stderr(&auto).contains("using the CPU backend"), "{}", stderr(&auto));
}

/// Relaxed consistency, stragglers and a failure: every cluster figure has something to draw.
const CLUSTER: &str = r#"
name = "cluster"
dataset = "csbm:nodes=2000"
backend = "cpu"

[base]
epochs = 12
partitions = 4
boundary = "drop"
stragglers = "bernoulli:p=0.2,factor=5"

[[grid]]
consistency = ["bsp", "asp"]
seed = [0, 1]

[[grid]]
consistency = ["ssp"]
staleness = [2]
fail = [["worker=1,at=0.0004,down=0.002"]]
on_failure = ["reassign"]
seed = [0]
"#;

#[test]
fn cluster_figures_are_drawn_and_redrawn_from_the_csvs() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), CLUSTER, "c");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("c");
    let figures = ["time", "timeline", "staleness"];
    let svg = |stem: &str| fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
    let time = svg("time");
    for s in ["against simulated time", "simulated time (", "time per round", "asp", "ssp S=2"] {
        assert!(time.contains(s), "time.svg lacks {s:?}");
    }
    let timeline = svg("timeline");
    for s in ["worker timeline", "compute", "push gradient", "wait", "down (failed)", "w3"] {
        assert!(timeline.contains(s), "timeline.svg lacks {s:?}");
    }
    // BSP is never stale: only the relaxed configurations are in the staleness figure.
    let staleness = svg("staleness");
    assert!(staleness.contains("not shown: 1 configuration never stale (BSP, or S = 0)"), "staleness.svg");
    assert!(staleness.contains("asp") && !staleness.contains(">bsp"), "staleness.svg");
    let originals: Vec<Vec<u8>> = figures
        .iter()
        .flat_map(|f| ["png", "svg"].map(|x| format!("{f}.{x}")))
        .map(|f| {
            let bytes = fs::read(out.join(&f)).unwrap();
            fs::remove_file(out.join(&f)).unwrap();
            bytes
        })
        .collect();
    let plot = gcnsim(&["plot", out.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let redrawn: Vec<Vec<u8>> = figures
        .iter()
        .flat_map(|f| ["png", "svg"].map(|x| format!("{f}.{x}")))
        .map(|f| fs::read(out.join(&f)).unwrap_or_else(|_| panic!("{f} not redrawn")))
        .collect();
    assert!(originals == redrawn, "cluster figures differ when redrawn");
}

#[test]
fn plot_redraws_every_figure_from_the_csvs() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), SMALL, "p");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("p");
    let figures =
        ["convergence.png", "convergence.svg", "memory.png", "memory.svg", "partitions.png", "partitions.svg"];
    let originals: Vec<Vec<u8>> =
        figures.iter().map(|f| fs::read(out.join(f)).unwrap_or_else(|_| panic!("{f} missing"))).collect();
    for f in figures {
        fs::remove_file(out.join(f)).unwrap();
    }
    let plot = gcnsim(&["plot", out.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    for (f, original) in figures.iter().zip(&originals) {
        // Same rows, same pixels: the figures come from the CSVs alone.
        assert!(&fs::read(out.join(f)).unwrap() == original, "{f} differs when redrawn");
    }
    // A results folder without runs.csv is a clear error.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let bad = gcnsim(&["plot", empty.to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("runs.csv"), "{}", stderr(&bad));
}

const BYZANTINE: &str = r#"
name = "byz"
backend = "cpu"
dataset = "csbm:nodes=600,avg_degree=6,features=16,valid=100,test=200"
per_epoch = false
[base]
epochs = 5
partitions = 5
boundary = "replicate"
[[grid]]
byzantine = [0]
aggregate = ["mean", "median"]
[[grid]]
byzantine = [1]
attack = ["sign_flip", "label_flip"]
aggregate = ["mean", "median", "krum"]
[[grid]]
byzantine = [1]
attack = ["sign_flip"]
aggregate = ["krum"]
pre_aggregate = ["bucketing"]
"#;

#[test]
fn byzantine_grids_draw_the_robustness_heat_map_from_runs_csv() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), BYZANTINE, "b");
    // Krum of 5 buckets of 2 rows = 3 rows with f = 1 is impossible: the file is refused,
    // naming the key and the run, before anything is written.
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("aggregate")
            && e.contains("krum")
            && e.contains("pre_aggregate=\"bucketing\"")
            && e.contains("3 rows that bucketing leaves"),
        "{e}"
    );
    assert!(!dir.path().join("b").exists());

    let toml = BYZANTINE.replace("pre_aggregate = [\"bucketing\"]", "pre_aggregate = [\"nnm\"]");
    let o = run(dir.path(), &toml, "b");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("b");
    // per_epoch = false: runs.csv and the heat map, no per-epoch files.
    for absent in ["metrics.csv", "comm.csv", "workers.csv", "gradients.csv", "convergence.png"] {
        assert!(!out.join(absent).exists(), "{absent} written");
    }
    let runs = fs::read_to_string(out.join("runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    for col in
        ["byzantine", "byzantine_workers", "attack", "pre_aggregate", "detection_precision", "mean_byzantine_weight"]
    {
        assert!(header.contains(&col), "runs.csv lacks {col}");
    }
    // 2 baselines + 2 attacks × 3 rules + NNM before Krum.
    assert_eq!(runs.lines().count(), 1 + 2 + 6 + 1);
    let svg = fs::read_to_string(out.join("robustness.svg")).unwrap();
    for s in
        ["attack × aggregator", "no attack (F = 0)", "sign flip", "label flip", "Krum", "after nnm", "F = 1", "n/a"]
    {
        assert!(svg.contains(s), "robustness.svg lacks {s:?}");
    }
    let original: Vec<Vec<u8>> =
        ["png", "svg"].iter().map(|x| fs::read(out.join(format!("robustness.{x}"))).unwrap()).collect();
    for x in ["png", "svg"] {
        fs::remove_file(out.join(format!("robustness.{x}"))).unwrap();
    }
    let plot = gcnsim(&["plot", out.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let redrawn: Vec<Vec<u8>> =
        ["png", "svg"].iter().map(|x| fs::read(out.join(format!("robustness.{x}"))).unwrap()).collect();
    assert!(original == redrawn, "the heat map differs when redrawn");
}

#[test]
fn traces_false_keeps_the_per_epoch_files_without_the_worker_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("traces = false\n{SMALL}");
    let o = run(dir.path(), &toml, "t");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("t");
    for present in ["metrics.csv", "comm.csv", "runs.csv", "convergence.png"] {
        assert!(out.join(present).is_file(), "{present} missing");
    }
    for absent in ["workers.csv", "gradients.csv", "timeline.png", "timeline.svg"] {
        assert!(!out.join(absent).exists(), "{absent} written");
    }
    let resolved = fs::read_to_string(out.join("experiment.resolved.toml")).unwrap();
    assert!(resolved.contains("traces = false"), "{resolved}");
    // The default writes them.
    let o = run(dir.path(), SMALL, "d");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("d/workers.csv").is_file() && dir.path().join("d/gradients.csv").is_file());

    // Traces ride on the per-epoch files: asking for them without those is refused by key.
    let o = run(dir.path(), &format!("per_epoch = false\ntraces = true\n{SMALL}"), "r");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("traces") && stderr(&o).contains("per_epoch = false"), "{}", stderr(&o));
    assert!(!dir.path().join("r").exists());
}
