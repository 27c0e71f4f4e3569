//! End-to-end: the binary's exit codes, messages and files.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn gcnsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A valid 4-node dataset in OGB raw layout (plain CSV).
fn tiny_dataset(dir: &Path) {
    write(dir, "raw/edge.csv", "0,1\n1,2\n2,3\n");
    write(dir, "raw/node-feat.csv", "1,0\n0,1\n1,1\n0,1\n");
    write(dir, "raw/node-label.csv", "0\n1\n0\n1\n");
    write(dir, "raw/num-node-list.csv", "4\n");
    write(dir, "split/s/train.csv", "0\n1\n");
    write(dir, "split/s/valid.csv", "2\n");
    write(dir, "split/s/test.csv", "3\n");
}

#[test]
fn malformed_dataset_fails_naming_file_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path());
    write(dir.path(), "raw/edge.csv", "0,1\n1,x\n");
    let out = dir.path().join("out");
    let o =
        gcnsim(&["train", "--dataset", dir.path().to_str().unwrap(), "--epochs", "2", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("edge.csv:2:"), "{err}");
    assert!(!out.exists(), "nothing is written for a failed run");
}

#[test]
fn tiny_dataset_trains_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path());
    let out = dir.path().join("out");
    let o = gcnsim(&[
        "train",
        "--dataset",
        dir.path().to_str().unwrap(),
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["metrics.csv", "timing.csv", "events.csv", "summary.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert_eq!(fs::read_to_string(out.join("metrics.csv")).unwrap().lines().count(), 4, "header + 3 epochs");
}

#[test]
fn same_seed_gives_byte_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let o = gcnsim(&[
            "train",
            "--dataset",
            "csbm",
            "--epochs",
            "30",
            "--partitions",
            "2",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        fs::read(out.join("metrics.csv")).unwrap()
    };
    let (a, b) = (run("a"), run("b"));
    assert!(a.len() > 1000);
    assert_eq!(a, b, "metrics.csv differs between two runs with the same seed");
}

#[test]
fn default_csbm_learns_well_above_chance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("csbm");
    let o = gcnsim(&["train", "--dataset", "csbm", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let acc = summary["outcome"]["final_test_acc"].as_f64().unwrap();
    // 5 classes: chance is 0.2. Raw features alone give ~0.38 (nearest class mean).
    assert!(acc > 0.8, "CSBM test accuracy {acc} (chance 0.2)");
}

#[test]
fn impossible_configs_fail_with_clear_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["train", "--partitions", "0"], "partitions"),
        (&["train", "--dataset", "csbm:nodes=2000", "--partitions", "2001"], "partitions"),
        (&["train", "--partitioner", "spectral"], "spectral"),
        (&["train", "--boundary", "fuzzy"], "fuzzy"),
        (&["train", "--dropout", "1.5"], "dropout"),
    ];
    for (args, needle) in cases {
        let o = gcnsim(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn unknown_csbm_key_is_named() {
    let o = gcnsim(&["dataset-info", "csbm:nodez=10"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nodez"), "{}", stderr(&o));
}

#[test]
fn train_checks_its_output_folder_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, "not a folder").unwrap();
    let o = gcnsim(&["train", "--epochs", "20", "--backend", "cpu", "--out", file.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("not a folder"), "{err}");
    // Without a terminal, training prints a line every few epochs: none appeared.
    assert!(!err.contains("epoch"), "it trained before refusing: {err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("test acc"), "it trained before refusing");
    assert_eq!(fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn train_writes_its_files_as_one_set_and_replaces_only_its_own_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let train = |epochs: &str| {
        gcnsim(&[
            "train",
            "--epochs",
            epochs,
            "--backend",
            "cpu",
            "--dataset",
            "csbm:nodes=2000",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = train("3");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(out.join("metrics.csv")).unwrap().lines().count(), 4);
    // Progress without a terminal: lines on stderr.
    assert!(stderr(&o).contains("train epoch 3/3"), "{}", stderr(&o));
    // Re-running replaces the earlier output as a whole.
    let o = train("5");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(out.join("metrics.csv")).unwrap().lines().count(), 6);
    let names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["run"], "no staging or aside folders left");
    // summary.json is deterministic too (wall clock lives in timing.csv).
    let first = fs::read(out.join("summary.json")).unwrap();
    assert!(train("5").status.success());
    assert_eq!(first, fs::read(out.join("summary.json")).unwrap());
}

#[test]
fn trace_goes_to_stdout_or_a_file_and_names_owned_and_halo_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let o = gcnsim(&[
        "train",
        "--epochs",
        "1",
        "--partitions",
        "2",
        "--backend",
        "cpu",
        "--boundary",
        "replicate",
        "--trace",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("publish v0") && out.contains("owned") && out.contains("halo"), "{out}");
    let o = gcnsim(&["train", "--epochs", "1", "--partitions", "2", "--backend", "cpu", "--trace"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("owned") && out.contains("boundary rows received"), "{out}");
    assert!(!stderr(&o).contains("publish v0"));
    let file = dir.path().join("trace.txt");
    let o =
        gcnsim(&["train", "--epochs", "1", "--partitions", "2", "--backend", "cpu", "--trace", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.lines().count() >= 7 && text.contains("release v0"), "{text}");
}

/// Input that used to panic or abort: each is a clear error with exit code 1 (a panic exits with
/// 101, an abort by signal has no code).
#[test]
fn absurd_values_are_errors_not_panics_or_aborts() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path());
    write(dir.path(), "raw/node-label.csv", "0\n4000000000\n0\n1\n");
    let data = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["bench", "--epochs", "0", "--backends", "cpu", "--dataset", "csbm"], "--epochs"),
        // Found by the experiment-file fuzz target: a Byzantine plan sized its flags from P first.
        (
            &[
                "train",
                "--partitions",
                "99999999999999",
                "--byzantine",
                "1",
                "--boundary",
                "replicate",
                "--backend",
                "cpu",
            ],
            "at most 4096",
        ),
        (&["train", "--epochs", "100000000000000", "--backend", "cpu"], "epochs"),
        (&["train", "--hidden", "100000000000", "--backend", "cpu", "--epochs", "1"], "hidden"),
        (&["train", "--hidden", "100000000000", "--backend", "gpu", "--epochs", "1"], "hidden"),
        (&["train", "--layers", "1000", "--backend", "cpu"], "layers"),
        (&["train", "--dataset", data, "--backend", "cpu", "--epochs", "1"], "node-label.csv:2"),
    ];
    for (args, needle) in cases {
        let o = gcnsim(args);
        let err = stderr(&o);
        // `--backend gpu` without any adapter fails earlier, also cleanly.
        if args.contains(&"gpu") && err.contains("no GPU adapter") {
            assert_eq!(o.status.code(), Some(1));
            continue;
        }
        // 2: clap's exit code for a value its parser refuses (counts are range-checked there).
        assert!(matches!(o.status.code(), Some(1 | 2)), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn dataset_errors_say_each_cause_once_and_show_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cora.csv");
    fs::write(&file, "0,1\n").unwrap();
    let o = gcnsim(&["dataset-info", file.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("is a file, not a dataset folder") && err.contains("raw/edge.csv.gz"), "{err}");

    let data = dir.path().join("d");
    tiny_dataset(&data);
    fs::remove_dir_all(data.join("split")).unwrap();
    let err = stderr(&gcnsim(&["dataset-info", data.to_str().unwrap()]));
    assert!(err.contains("has no split/ folder") && err.contains("split/NAME/{train,valid,test}"), "{err}");

    tiny_dataset(&data);
    fs::remove_file(data.join("raw/node-feat.csv")).unwrap();
    let err = stderr(&gcnsim(&["dataset-info", data.to_str().unwrap()]));
    assert_eq!(err.matches("not found").count(), 1, "the cause is printed once: {err}");

    tiny_dataset(&data);
    fs::write(data.join("raw/node-feat.csv.gz"), "not gzip").unwrap();
    let err = stderr(&gcnsim(&["dataset-info", data.to_str().unwrap()]));
    assert!(err.contains("node-feat.csv.gz") && err.contains("gzip"), "{err}");
    assert_eq!(err.matches("unexpected end of file").count(), 1, "{err}");
    fs::remove_file(data.join("raw/node-feat.csv.gz")).unwrap();

    write(&data, "raw/edge.csv", "");
    let o = gcnsim(&["dataset-info", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning:") && stderr(&o).contains("no edges"), "{}", stderr(&o));

    let err = stderr(&gcnsim(&["dataset-info", "csbm:nodes=2000,nodes=3000"]));
    assert!(err.contains("given twice"), "{err}");
}

/// Mesa's Vulkan driver prints an XDG_RUNTIME_DIR error on headless machines unless gcnsim
/// gives it a private folder; nothing of it may reach the user.
#[test]
fn no_runtime_dir_noise_on_a_headless_machine() {
    for backend in ["auto", "gpu"] {
        let o = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .args(["train", "--epochs", "2", "--backend", backend])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!err.contains("XDG_RUNTIME_DIR"), "--backend {backend}: {err}");
        assert!(o.status.success() || err.contains("no GPU adapter"), "--backend {backend}: {err}");
    }
}

#[test]
fn plot_redraws_a_train_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one");
    let o =
        gcnsim(&["train", "--epochs", "5", "--partitions", "2", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = gcnsim(&["plot", out.to_str().unwrap()]);
    assert!(p.status.success(), "{}", stderr(&p));
    for f in ["convergence.png", "convergence.svg", "memory.png", "memory.svg"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let svg = fs::read_to_string(out.join("convergence.svg")).unwrap();
    assert!(svg.contains("train on csbm") && svg.contains("P=2 exchange metis"), "title and label");
    let bad = gcnsim(&["plot", dir.path().to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("neither runs.csv"), "{}", stderr(&bad));
}

fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    [a, b].concat()
}

/// A refused command: non-zero exit, no panic, and the message's first line names `needle`.
fn refused(args: &[&str], needle: &str) {
    let o = gcnsim(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {err}");
    assert!(matches!(o.status.code(), Some(1 | 2)), "{args:?}: {:?} {err}", o.status.code());
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error:") && first.contains(needle), "{args:?}: {err}");
}

#[test]
fn extreme_clock_inputs_are_refused_naming_the_key_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "net.toml", "latency = 1e308\nbandwidth = 1e-308\n");
    write(dir.path(), "dev.toml", "peak_flops = 1e308\nmem_bandwidth = 1e12\nlaunch_latency = 1e308\n");
    let (net, dev) = (dir.path().join("net.toml"), dir.path().join("dev.toml"));
    let train = ["train", "--partitions", "2", "--epochs", "2", "--backend", "cpu"];
    refused(&cat(&train, &["--stragglers", "lognormal:sigma=1000"]), "`sigma` must be at most 3, got 1000");
    refused(
        &cat(&train, &["--stragglers", "fixed:worker=1,factor=1e300"]),
        "`factor` must be at most 10000, got 1e300",
    );
    refused(
        &cat(&train, &["--network", net.to_str().unwrap()]),
        "net.toml:1: key `latency`: must be between 1e-9 and 10 seconds",
    );
    refused(
        &cat(&train, &["--device-profile", dev.to_str().unwrap()]),
        "key `peak_flops`: must be between 1e6 and 1e18",
    );
    refused(&cat(&train, &["--server-profile", dev.to_str().unwrap()]), "config key `server_profile`");
    refused(&cat(&train, &["--fail", "worker=1,at=1e308,down=1"]), "`at` must be at most");
    refused(&cat(&train, &["--heartbeat", "1e-320"]), "config key `heartbeat`: must be between 1e-6");
}

#[test]
fn iterations_threads_and_memory_are_bounded() {
    let train = ["train", "--partitions", "3", "--boundary", "replicate", "--epochs", "2", "--backend", "cpu"];
    refused(&cat(&train, &["--aggregate", "geometric_median:iters=4294967295"]), "key `iters`");
    refused(&cat(&train, &["--aggregate", "centered_clipping:iters=1001"]), "from 1 to 1000");
    refused(&["--threads", "100000", "train", "--epochs", "1"], "between 1 and 1024");
    refused(&["train", "--threads", "0", "--epochs", "1"], "between 1 and 1024");
    refused(&["train", "--gpu-memory", "18446744073709551615", "--epochs", "1"], "at most 1 PiB");
    refused(&["train", "--epochs", "-5"], "must be between 1 and 1000000, got -5");
    refused(&["train", "--layers", "-1"], "must be between 1 and 64, got -1");
}

#[test]
fn options_that_do_not_apply_are_refused() {
    let p2 = ["train", "--partitions", "2", "--epochs", "3", "--backend", "cpu"];
    refused(&cat(&p2, &["--staleness", "1000"]), "config key `staleness`: applies to consistency = ssp only");
    refused(&cat(&p2, &["--consistency", "ssp", "--staleness", "1000"]), "a bound of 1000 never binds");
    refused(&cat(&p2, &["--consistency", "asp", "--staleness", "7"]), "config key `staleness`");
    // Given explicitly, even at its default value.
    refused(&cat(&p2, &["--consistency", "asp", "--staleness", "3"]), "config key `staleness`");
    refused(&cat(&p2, &["--sample-rate", "0.5"]), "config key `sample_rate`: applies to boundary = sample only");
    refused(&cat(&p2, &["--weight-decay", "1e38"]), "config key `weight_decay`: must be below 1/lr");
    refused(&cat(&p2, &["--staleness-lr"]), "config key `staleness_lr`");
    refused(&cat(&p2, &["--reduce", "tree", "--topology", "ring"]), "--reduce was retired");
}

#[test]
fn an_unset_boundary_is_chosen_and_recorded_an_explicit_one_is_not_overridden() {
    let dir = tempfile::tempdir().unwrap();
    for (name, more) in [
        ("ssp", &["--partitions", "2", "--consistency", "ssp"][..]),
        ("byz", &["--partitions", "3", "--byzantine", "1"]),
    ] {
        let out = dir.path().join(name);
        let args = cat(&cat(&["train", "--epochs", "2", "--backend", "cpu", "--out"], &[out.to_str().unwrap()]), more);
        let o = gcnsim(&args);
        let err = stderr(&o);
        assert!(o.status.success(), "{name}: {err}");
        assert_eq!(err.matches("boundary not set").count(), 1, "{name}: said once: {err}");
        assert!(err.contains("uses `replicate`"), "{name}: {err}");
        let summary = fs::read_to_string(out.join("summary.json")).unwrap();
        assert!(summary.contains("\"boundary\": \"replicate\""), "{name}: {summary}");
    }
    refused(
        &["train", "--partitions", "2", "--epochs", "2", "--consistency", "ssp", "--boundary", "exchange"],
        "config key `consistency`",
    );
    refused(
        &["train", "--partitions", "3", "--epochs", "2", "--byzantine", "1", "--boundary", "exchange"],
        "config key `boundary`",
    );
}

#[test]
fn plot_reads_non_finite_summaries_and_clamps_extreme_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one");
    let o =
        gcnsim(&["train", "--epochs", "4", "--partitions", "2", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A non-finite metric as this version writes it, and as earlier versions did (null).
    let summary = fs::read_to_string(out.join("summary.json")).unwrap();
    let edited = regex_replace(&summary, "\"final_train_loss\": ", "\"inf\"");
    let edited = regex_replace(&edited, "\"best_valid_acc\": ", "null");
    // A folder of an earlier version: its configuration has the retired `reduce`.
    let edited = edited.replace("\"keep_versions\"", "\"reduce\": \"flat\",\n      \"keep_versions\"");
    assert!(edited.contains("\"reduce\""), "{edited}");
    fs::write(out.join("summary.json"), edited).unwrap();
    // An accuracy of 1e308 in metrics.csv (f64::clamp panicked on the axis it made).
    let metrics = fs::read_to_string(out.join("metrics.csv")).unwrap();
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "test_acc").unwrap();
    let mut lines: Vec<String> = metrics.lines().map(str::to_string).collect();
    for line in &mut lines[1..] {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        cells[col] = "1e308".into();
        *line = cells.join(",");
    }
    fs::write(out.join("metrics.csv"), lines.join("\n") + "\n").unwrap();
    let p = gcnsim(&["plot", out.to_str().unwrap()]);
    assert!(p.status.success(), "{}", stderr(&p));
    assert!(out.join("convergence.svg").is_file());
}

/// `text` with the value after `key` (up to the next `,` or newline) replaced by `value`.
fn regex_replace(text: &str, key: &str, value: &str) -> String {
    let start = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    let end = start + text[start..].find([',', '\n']).unwrap();
    format!("{}{value}{}", &text[..start], &text[end..])
}

#[test]
fn a_retired_experiment_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "e.toml", "dataset = \"csbm\"\n[base]\nreduce = \"tree\"\n");
    let e = dir.path().join("e.toml");
    refused(&["run", e.to_str().unwrap(), "--out", dir.path().join("r").to_str().unwrap()], "key `base.reduce`");
}

#[test]
fn an_experiment_without_a_boundary_says_which_it_chose_once_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = "dataset = \"csbm:nodes=2000\"\nbackend = \"cpu\"\n[base]\nepochs = 2\npartitions = 2\n\
                [grid]\nconsistency = [\"ssp\", \"asp\"]\nseed = [0, 1]\n";
    write(dir.path(), "e.toml", text);
    let out = dir.path().join("r");
    let o = gcnsim(&["run", dir.path().join("e.toml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    // One note per reason (ssp, asp), not one per run.
    assert_eq!(err.matches("boundary not set").count(), 2, "{err}");
    let resolved = fs::read_to_string(out.join("experiment.resolved.toml")).unwrap();
    assert_eq!(resolved.matches("boundary = \"replicate\"").count(), 4, "{resolved}");
}

/// A generated graph larger than any machine's memory is refused before it is generated, and the
/// progress lines say the step failed rather than "done".
#[test]
fn a_graph_beyond_memory_is_refused_before_generation() {
    let spec = "csbm:nodes=1000000000,avg_degree=2,features=1000";
    let o = gcnsim(&["train", "--dataset", spec, "--backend", "cpu", "--epochs", "1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("needs about") && err.contains("is available") && err.contains("lower `nodes`"), "{err}");
    assert!(err.contains("failed after") && !err.contains("done in"), "{err}");
}

#[test]
fn data_export_writes_a_folder_that_loads_as_the_same_dataset_and_its_cache_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("g");
    let spec = "csbm:nodes=2000,features=6,seed=4";
    let o = gcnsim(&["data", "export", spec, dir.to_str().unwrap(), "--split", "mine"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(said.contains("2000 nodes") && said.contains("crc32"), "{said}");
    assert!(dir.join("raw/edge.csv.gz").is_file() && dir.join("split/mine/test.csv.gz").is_file());
    // The statistics of the folder (parsed, then from the cache) are those of the spec.
    // A folder this small gets a load cache only when asked (`always`); by default only folders of
    // 64 MiB or more do.
    let info = |target: &str, cache: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
            .args(["dataset-info", target])
            .env("GCNSIM_LOAD_CACHE", cache)
            .output()
            .expect("the binary runs");
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).lines().skip(1).collect::<Vec<_>>().join("\n")
    };
    let expected = info(spec, "auto");
    assert_eq!(info(dir.to_str().unwrap(), "auto"), expected);
    assert!(!dir.join(".gcnsim-cache").exists(), "a small folder stays untouched by default");
    assert_eq!(info(dir.to_str().unwrap(), "always"), expected);
    assert!(dir.join(".gcnsim-cache").is_dir());
    assert_eq!(info(dir.to_str().unwrap(), "always"), expected);
    let bad = Command::new(env!("CARGO_BIN_EXE_gcnsim"))
        .args(["dataset-info", dir.to_str().unwrap()])
        .env("GCNSIM_LOAD_CACHE", "sometimes")
        .output()
        .unwrap();
    assert!(!bad.status.success() && stderr(&bad).contains("GCNSIM_LOAD_CACHE=sometimes"), "{}", stderr(&bad));
    // A second export into the same folder is refused, naming it, and changes nothing.
    let again = gcnsim(&["data", "export", spec, dir.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not empty") && stderr(&again).contains("/g"), "{}", stderr(&again));
}

/// `calibrate --quick` writes a profile with per-class rates and its provenance, and training
/// accepts it; a run charged on it reports the profile by name.
#[test]
fn a_quick_calibration_writes_a_profile_that_training_uses() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("here.toml");
    let o = gcnsim(&["calibrate", "--quick", "--out", profile.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("geomean error") && stdout.contains("spmm"), "{stdout}");
    let text = fs::read_to_string(&profile).unwrap();
    for key in ["[kernels.spmm]", "[kernels.matmul]", "[calibration]", "machine =", "date =", "cache_bytes"] {
        assert!(text.contains(key), "{key} missing from\n{text}");
    }
    let out = dir.path().join("run");
    let o = gcnsim(&[
        "train",
        "--partitions",
        "2",
        "--epochs",
        "2",
        "--device-profile",
        profile.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("here"), "{summary}");
}

/// `calibrate --backend gpu --quick` times each shape by its device time and writes a profile
/// whose `[calibration]` names the backend and the adapter (name, driver, device type); then
/// `validate --backend gpu` measures a tiny experiment on that adapter against the profile and
/// says, in summary.txt and validation.csv, what it measured on. Skips without an adapter.
#[test]
fn calibrate_and_validate_measure_on_the_gpu() {
    use gcnsim::backend::Backend;
    let Some(gpu) = gcnsim::backend::gpu::gpu_for_tests() else { return };
    let info = gpu.context().info.clone();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("gpu.toml");
    let o = gcnsim(&["calibrate", "--backend", "gpu", "--quick", "--out", profile.to_str().unwrap()]);
    if let Err(why) = gpu.device_timing() {
        assert!(!o.status.success() && stderr(&o).contains("--backend gpu"), "{why}: {}", stderr(&o));
        println!("skipping: {why}");
        return;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("geomean error") && stdout.contains("spmm"), "{stdout}");
    let text = fs::read_to_string(&profile).unwrap();
    let parsed = gcnsim::cost::DeviceProfile::parse(&text, &profile).unwrap();
    for class in gcnsim::backend::KernelClass::ALL {
        assert!(parsed.kernels.contains_key(&class), "{class} missing from\n{text}");
    }
    let cal = parsed.calibration.as_ref().expect("a [calibration] table");
    let get = |key: &str| cal.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    assert!(get("backend").starts_with("gpu (wgpu)"), "{text}");
    assert_eq!(get("adapter"), info.name);
    assert_eq!(get("driver"), info.driver);
    assert_eq!(get("device_type"), format!("{:?}", info.device_type));

    let exp = dir.path().join("tiny.toml");
    fs::write(
        &exp,
        "name = \"tiny\"\ndescription = \"two\"\ndataset = \"csbm:nodes=2000\"\ntraces = false\n\n[base]\n\
         epochs = 2\npatience = 0\n\n[[grid]]\npartitions = [1, 3]\nboundary = [\"exchange\"]\n",
    )
    .unwrap();
    let out = dir.path().join("validation");
    let args = ["validate", exp.to_str().unwrap(), "--profile", profile.to_str().unwrap(), "--backend", "gpu"];
    let o = gcnsim(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(summary.contains("2 configurations on profile gpu, measured on gpu (wgpu)"), "{summary}");
    assert!(summary.contains(&info.name), "{summary}");
    let csv = fs::read_to_string(out.join("validation.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].ends_with(",measured_on"), "{}", lines[0]);
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        let (p, m): (f64, f64) = (cells[9].parse().unwrap(), cells[10].parse().unwrap());
        assert!(p > 0.0 && m > 0.0, "{line}");
        assert!(line.contains(&format!("\"gpu (wgpu): {}", info.name)), "{line}");
    }
}

/// `validate` runs each configuration modelled and measured and writes the comparison: one row
/// per configuration with per-class columns, the figure, the summary and the profile it checked.
#[test]
fn validate_compares_modelled_and_measured_compute_time_per_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tiny.toml");
    fs::write(
        &exp,
        "name = \"tiny\"\ndescription = \"two\"\ndataset = \"csbm\"\ntraces = false\n\n[base]\nepochs = 2\n\
         patience = 0\n\n[[grid]]\npartitions = [1, 4]\nboundary = [\"exchange\"]\n",
    )
    .unwrap();
    let out = dir.path().join("validation");
    let o = gcnsim(&["validate", exp.to_str().unwrap(), "--profile", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = fs::read_to_string(out.join("validation.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].contains("predicted_s_per_round,measured_s_per_round") && lines[0].contains("measured_spmm_s"));
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        let (p, m): (f64, f64) = (cells[9].parse().unwrap(), cells[10].parse().unwrap());
        assert!(p > 0.0 && m > 0.0, "{line}");
    }
    // Op by op: every op of every configuration, and the per-op table in the summary.
    let kernels = fs::read_to_string(out.join("kernels.csv")).unwrap();
    let header = kernels.lines().next().unwrap();
    assert_eq!(header, "experiment,run_id,class,op,calls_per_round,predicted_s_per_round,measured_s_per_round");
    for op in ["spmm", "matmul", "matmul_at", "relu", "dropout", "softmax_xent"] {
        assert!(kernels.lines().any(|l| l.split(',').nth(3) == Some(op)), "{op}: {kernels}");
    }
    // The per-class columns are the sums of the ops' seconds.
    let spmm_total: f64 = kernels
        .lines()
        .filter(|l| l.contains(",tiny-serial") || l.contains("serial"))
        .filter(|l| l.split(',').nth(2) == Some("spmm"))
        .map(|l| l.split(',').nth(6).unwrap().parse::<f64>().unwrap())
        .sum();
    let header_cells: Vec<&str> = lines[0].split(',').collect();
    let spmm_col = header_cells.iter().position(|c| *c == "measured_spmm_s").unwrap();
    let serial = lines.iter().find(|l| l.contains("serial")).unwrap();
    let spmm_csv: f64 = serial.split(',').nth(spmm_col).unwrap().parse().unwrap();
    assert!((spmm_total - spmm_csv).abs() <= 1e-12 * spmm_csv.max(1.0), "{spmm_total} against {spmm_csv}");
    let summary = fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(summary.contains("2 configurations on profile cpu") && summary.contains("Kendall"), "{summary}");
    assert!(summary.contains("pred/meas") && summary.contains("softmax_xent"), "{summary}");
    for file in ["validation.png", "validation.svg", "profile.toml"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // A profile that does not exist is refused before anything is written.
    let o = gcnsim(&[
        "validate",
        exp.to_str().unwrap(),
        "--profile",
        "nope.toml",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("nope.toml"), "{}", stderr(&o));
    assert!(!dir.path().join("x").exists());
}
