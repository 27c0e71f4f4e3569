//! `gcnsim compare` end to end: `train --out` folders and experiment folders overlaid.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn gcnsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn train(out: &Path, partitions: &str) {
    let o = gcnsim(&[
        "train",
        "--epochs",
        "6",
        "--partitions",
        partitions,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn experiment(dir: &Path, name: &str, boundary: &str) -> String {
    let toml = format!(
        "name = \"{name}\"\ndataset = \"csbm:nodes=2000\"\nbackend = \"cpu\"\n\n[base]\nepochs = 5\n\n[[grid]]\n\
         partitions = [1, 4]\nboundary = [\"{boundary}\"]\nseed = [0, 1]\n"
    );
    let file = dir.join(format!("{name}.toml"));
    fs::write(&file, toml).unwrap();
    let out = dir.join(name);
    let o = gcnsim(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    out.to_str().unwrap().to_string()
}

/// compare.csv as (configuration, folder, seeds) per row.
fn table(dir: &Path) -> Vec<(String, String, String)> {
    let text = fs::read_to_string(dir.join("compare.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (c, f, s) = (col("configuration"), col("folder"), col("seeds"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[c].to_string(), cells[f].to_string(), cells[s].to_string())
        })
        .collect()
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.contains(".tmp"))
        .collect()
}

#[test]
fn compare_overlays_a_serial_and_a_partitioned_train_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (serial, p8, out) = (dir.path().join("serial"), dir.path().join("p8"), dir.path().join("both"));
    train(&serial, "1");
    train(&p8, "8");
    let o = gcnsim(&["compare", serial.to_str().unwrap(), p8.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = table(&out);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("serial", "serial"), "{rows:?}");
    assert!(rows[1].0.starts_with("P=8") && rows[1].1 == "p8", "{rows:?}");
    for f in ["convergence", "partitions", "time"] {
        assert!(out.join(format!("{f}.png")).is_file() && out.join(format!("{f}.svg")).is_file(), "{f} missing");
    }
    let svg = fs::read_to_string(out.join("convergence.svg")).unwrap();
    assert!(svg.contains("compare on csbm"), "title names the dataset");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
    // The comparison never replaces a folder it reads.
    let o = gcnsim(&["compare", serial.to_str().unwrap(), p8.to_str().unwrap(), "--out", p8.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("one of the folders compared"), "{}", stderr(&o));
    assert!(p8.join("summary.json").is_file());
    // `plot` keeps its one-folder meaning: a comparison is not a results folder.
    let p = gcnsim(&["plot", out.to_str().unwrap()]);
    assert!(!p.status.success() && stderr(&p).contains("neither runs.csv"), "{}", stderr(&p));
}

#[test]
fn compare_overlays_experiments_and_refuses_other_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let a = experiment(dir.path(), "exact", "exact");
    let b = experiment(dir.path(), "drop", "drop");
    let out = dir.path().join("cmp");
    let o = gcnsim(&["compare", &a, &b, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = table(&out);
    // Both hold a serial configuration: the folder tells them apart.
    let configurations: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(configurations.contains(&"exact serial") && configurations.contains(&"drop serial"), "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "2"), "two seeds each: {rows:?}");
    assert!(out.join("partitions.png").is_file());

    // A `train --out` folder of the default graph is another dataset: refused, naming both,
    // and nothing written.
    let t = dir.path().join("t");
    train(&t, "1");
    let refused = dir.path().join("refused");
    let o = gcnsim(&["compare", &a, t.to_str().unwrap(), "--out", refused.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success() && !err.contains("panicked"), "{err}");
    assert!(err.contains("different datasets") && err.contains("(csbm:nodes=2000)") && err.contains("(csbm)"), "{err}");
    assert!(!refused.exists(), "nothing written");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));

    // A folder that is not a results folder is named.
    let o = gcnsim(&["compare", &a, dir.path().to_str().unwrap(), "--out", refused.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("not a results folder"), "{}", stderr(&o));
}
