//! `gcnsim compare`: several results folders (`gcnsim run`'s and `gcnsim train --out`'s) of one
//! dataset read as the configurations of one experiment, labelled by what differs between them,
//! for the usual figures and a table with a row per configuration (`compare.csv`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::atomic::ReportError;
use super::plots;
use super::rows::{LongMetricsRow, RunRow};

/// One folder's runs and per-epoch rows, and the dataset they trained on.
pub struct Folder {
    /// The folder as given (it names the folder in labels and in `compare.csv`).
    pub path: PathBuf,
    pub dataset: String,
    pub runs: Vec<RunRow>,
    pub metrics: Vec<LongMetricsRow>,
}

/// Reads a results folder: `runs.csv` (`gcnsim run`) or `summary.json` (`gcnsim train --out`),
/// with `metrics.csv`, and the dataset the folder records.
pub fn read_folder(dir: &Path) -> Result<Folder, ReportError> {
    let format = |message: String| ReportError::Format { path: dir.to_path_buf(), message };
    if dir.join("runs.csv").is_file() {
        let (runs, metrics) = plots::read_results(dir)?;
        if runs.is_empty() {
            return Err(format("its runs.csv holds no runs".into()));
        }
        let dataset = experiment_dataset(dir)?;
        return Ok(Folder { path: dir.to_path_buf(), dataset, runs, metrics });
    }
    if dir.join("summary.json").is_file() {
        let (dataset, runs, metrics) = plots::read_train_run(dir)?;
        return Ok(Folder { path: dir.to_path_buf(), dataset, runs, metrics });
    }
    Err(format(
        "not a results folder: it has neither runs.csv (written by `gcnsim run`) nor summary.json \
         (written by `gcnsim train --out`)"
            .into(),
    ))
}

/// The dataset of an experiment's folder: `experiment.resolved.toml`'s `dataset`, else
/// `env.json`'s.
fn experiment_dataset(dir: &Path) -> Result<String, ReportError> {
    let from_toml = std::fs::read_to_string(dir.join("experiment.resolved.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("dataset")?.as_str().map(str::to_string));
    let from_env = || {
        let text = std::fs::read_to_string(dir.join("env.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("dataset")?.as_str().map(str::to_string)
    };
    from_toml.or_else(from_env).ok_or_else(|| ReportError::Format {
        path: dir.to_path_buf(),
        message: "it records no dataset (neither experiment.resolved.toml nor env.json names one)".into(),
    })
}

/// The dataset every folder trained on; an error naming each folder's when they differ.
pub fn common_dataset(folders: &[Folder]) -> Result<String, ReportError> {
    let first = folders.first().map(|f| f.dataset.clone()).unwrap_or_default();
    if folders.iter().all(|f| f.dataset == first) {
        return Ok(first);
    }
    let each: Vec<String> = folders.iter().map(|f| format!("{} ({})", f.path.display(), f.dataset)).collect();
    Err(ReportError::Format {
        path: folders[0].path.clone(),
        message: format!("the folders trained on different datasets: {}", each.join(", ")),
    })
}

/// How each folder is named in labels: its last component, or the path as given where two
/// folders share that name.
fn folder_names(folders: &[Folder]) -> Vec<String> {
    let last = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
    let names: Vec<String> = folders.iter().map(|f| last(&f.path)).collect();
    names
        .iter()
        .zip(folders)
        .map(
            |(n, f)| {
                if names.iter().filter(|m| *m == n).count() > 1 {
                    f.path.display().to_string()
                } else {
                    n.clone()
                }
            },
        )
        .collect()
}

/// One configuration of a comparison: a label of a folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Configuration {
    pub folder: String,
    /// The label as its folder writes it.
    pub label: String,
    /// The label in the comparison: the folder's name added where two folders hold `label`.
    pub merged: String,
}

/// The folders' runs and rows as one experiment's, and its configurations in order. Labels
/// keep their words (the figures say the shared ones once, in the title); where two folders
/// hold the same label, the folder's name is added to it. Run ids get the folder's name, so
/// equal ids of two folders stay apart.
pub fn merge(folders: &[Folder]) -> (Vec<RunRow>, Vec<LongMetricsRow>, Vec<Configuration>) {
    let names = folder_names(folders);
    let mut holders: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in folders.iter().enumerate() {
        for r in &f.runs {
            let h = holders.entry(r.label.as_str()).or_default();
            if !h.contains(&i) {
                h.push(i);
            }
        }
    }
    let relabel = |i: usize, label: &str| -> String {
        if holders.get(label).is_some_and(|h| h.len() > 1) {
            format!("{} {label}", names[i])
        } else {
            label.to_string()
        }
    };
    let (mut runs, mut metrics, mut configurations) = (Vec::new(), Vec::new(), Vec::<Configuration>::new());
    for (i, f) in folders.iter().enumerate() {
        for r in &f.runs {
            let merged = relabel(i, &r.label);
            if !configurations.iter().any(|c| c.merged == merged) {
                configurations.push(Configuration {
                    folder: names[i].clone(),
                    label: r.label.clone(),
                    merged: merged.clone(),
                });
            }
            runs.push(RunRow { run_id: format!("{}/{}", names[i], r.run_id), label: merged, ..r.clone() });
        }
        for m in &f.metrics {
            let (run_id, label) = (format!("{}/{}", names[i], m.run_id), relabel(i, &m.label));
            metrics.push(LongMetricsRow { run_id, label, ..m.clone() });
        }
    }
    (runs, metrics, configurations)
}

/// `compare.csv`: one row per configuration, means over its seeds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CompareRow {
    /// What differs from the other configurations (the words all share are left out).
    pub configuration: String,
    /// The label as written in its folder (run ids are `folder/run id`).
    pub label: String,
    pub folder: String,
    pub partitions: usize,
    pub seeds: usize,
    pub epochs_run: f64,
    pub final_train_loss: f64,
    pub final_valid_acc: f64,
    pub final_test_acc: f64,
    pub best_valid_acc: f64,
    pub test_acc_at_best_valid: f64,
    pub sim_time_s: f64,
    pub sim_seconds_per_round: f64,
    pub comm_bytes_per_epoch: f64,
    pub peak_bytes: u64,
}

/// The table of `runs` and their `configurations` (both from [`merge`]).
pub fn table(runs: &[RunRow], configurations: &[Configuration]) -> Vec<CompareRow> {
    let merged: Vec<&str> = configurations.iter().map(|c| c.merged.as_str()).collect();
    let (_, differing) = plots::shorten_labels(&merged);
    configurations
        .iter()
        .zip(differing)
        .filter_map(|(c, configuration)| {
            let rs: Vec<&RunRow> = runs.iter().filter(|r| r.label == c.merged).collect();
            let first = *rs.first()?;
            let mean = |f: fn(&RunRow) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / rs.len() as f64;
            Some(CompareRow {
                configuration,
                label: c.label.clone(),
                folder: c.folder.clone(),
                partitions: first.partitions,
                seeds: rs.len(),
                epochs_run: mean(|r| f64::from(r.epochs_run)),
                final_train_loss: mean(|r| r.final_train_loss),
                final_valid_acc: mean(|r| r.final_valid_acc),
                final_test_acc: mean(|r| r.final_test_acc),
                best_valid_acc: mean(|r| r.best_valid_acc),
                test_acc_at_best_valid: mean(|r| r.test_acc_at_best_valid),
                sim_time_s: mean(|r| r.sim_time_s),
                sim_seconds_per_round: mean(|r| r.sim_seconds_per_round),
                comm_bytes_per_epoch: mean(|r| r.comm_bytes_per_epoch),
                peak_bytes: rs.iter().map(|r| r.peak_bytes).max().unwrap_or(0),
            })
        })
        .collect()
}

/// Writes `compare.csv` and the figures of `folders` into `dir` (a staging folder: the caller
/// moves it into place when everything is written); returns the files written.
pub fn write_comparison(dir: &Path, folders: &[Folder]) -> Result<Vec<PathBuf>, ReportError> {
    let dataset = common_dataset(folders)?;
    let (runs, metrics, configurations) = merge(folders);
    let csv = dir.join("compare.csv");
    super::write_csv_atomic(&csv, &table(&runs, &configurations))?;
    let title = format!("compare on {dataset}");
    let mut written = vec![csv];
    written.extend(plots::draw_all_titled(dir, &title, &runs, &metrics, plots::Traces::default())?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runs.csv row of `quickstart` (serial, seed 0) with `label` and `partitions` set.
    fn run(label: &str, partitions: usize) -> RunRow {
        const CSV: &str = "run_id,label,seed,partitions,partitioner,boundary,sample_rate,eval,aggregate,keep_versions,optimizer,epochs_run,final_train_loss,final_valid_acc,final_test_acc,best_valid_epoch,best_valid_acc,test_acc_at_best_valid,peak_bytes,edge_cut,edge_cut_fraction,halo_nodes,replication_factor,comm_bytes_per_epoch,boundary_bytes_per_epoch,halo_feature_bytes,consistency,staleness,topology,device_profile,network,stragglers,failures,on_failure,sim_time_s,sim_seconds_per_round,gradients_applied,gradients_discarded,mean_staleness,max_live_versions,byzantine,byzantine_workers,attack,pre_aggregate,detection_precision,detection_recall,mean_byzantine_weight,mean_rel_dist_honest,features,embedding_dim,servers
serial-s0,serial,0,1,metis,exchange,1.0,full,weighted,false,adam,200,0.354,0.922,0.906,79,0.926,0.905,3051112,0,0.0,0,1.0,4736.0,0.0,0,bsp,0,flat,h100,dc-100g,none,,wait,0.0183,0.0000915,200,0,0.0,2,0,,none,none,,,,,dataset,0,1
";
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        let r: RunRow = reader.deserialize().next().unwrap().unwrap();
        RunRow { run_id: format!("{label}-s0"), label: label.into(), partitions, ..r }
    }

    fn folder(path: &str, dataset: &str, labels: &[&str]) -> Folder {
        let runs = labels.iter().map(|l| run(l, if l.contains("serial") { 1 } else { 8 })).collect();
        Folder { path: path.into(), dataset: dataset.into(), runs, metrics: Vec::new() }
    }

    #[test]
    fn same_labels_of_two_folders_get_the_folder_name() {
        let folders = [folder("a/one", "cora", &["serial", "P=8 exchange"]), folder("b/two", "cora", &["serial"])];
        let (runs, _, configurations) = merge(&folders);
        let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["one serial", "P=8 exchange", "two serial"]);
        assert_eq!(runs[2].run_id, "two/serial-s0");
        let t = table(&runs, &configurations);
        let rows: Vec<(&str, &str, &str)> =
            t.iter().map(|r| (r.configuration.as_str(), r.folder.as_str(), r.label.as_str())).collect();
        assert_eq!(
            rows,
            [("one serial", "one", "serial"), ("P=8 exchange", "one", "P=8 exchange"), ("two serial", "two", "serial")]
        );
        // Folders of one name are told apart by their paths.
        let folders = [folder("a/out", "cora", &["serial"]), folder("b/out", "cora", &["serial"])];
        let labels: Vec<String> = merge(&folders).0.into_iter().map(|r| r.label).collect();
        assert_eq!(labels, ["a/out serial", "b/out serial"]);
    }

    #[test]
    fn the_table_names_what_differs() {
        let folders = [
            folder("x", "cora", &["gcn serial cpu", "gcn P=8 exchange cpu"]),
            folder("y", "cora", &["gcn P=8 drop cpu"]),
        ];
        let (runs, _, configurations) = merge(&folders);
        let t = table(&runs, &configurations);
        let configurations: Vec<&str> = t.iter().map(|r| r.configuration.as_str()).collect();
        assert_eq!(configurations, ["serial", "P=8 exchange", "P=8 drop"]);
        assert_eq!((t[0].seeds, t[0].partitions), (1, 1));
    }

    #[test]
    fn different_datasets_are_refused_naming_each_folder() {
        let folders = [folder("x", "cora", &["serial"]), folder("y", "csbm", &["serial"])];
        let msg = common_dataset(&folders).unwrap_err().to_string();
        assert!(msg.contains("x (cora)") && msg.contains("y (csbm)"), "{msg}");
    }
}
