//! Parsing and validating an experiment file into the list of runs it asks for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::backend::BackendChoice;
use crate::sim::{ByzantineConfig, ClusterConfig, ParallelConfig, RunConfig, TrainConfig};

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}{}: key `{key}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Key { path: PathBuf, line: Option<usize>, key: String, message: String },
}

/// The keys of one section of a run's configuration: the fields of `T`, which are also the
/// `train` command's options (clap's argument ids are the field names).
fn keys_of<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("keys")).get_arguments().map(|a| a.get_id().to_string()).collect()
}

/// Every key a run can set, in `[base]` or as a `[grid]` list: any `train` option, snake_case.
/// Unset keys take `gcnsim train`'s defaults.
pub fn run_keys() -> Vec<String> {
    let mut keys = keys_of::<TrainConfig>();
    keys.extend(keys_of::<ParallelConfig>());
    keys.extend(keys_of::<ClusterConfig>());
    keys.extend(keys_of::<ByzantineConfig>());
    keys
}

/// A run's configuration from its keys (each in its section), unset keys at their defaults.
fn config_from_table(t: toml::Table) -> Result<RunConfig, String> {
    let (train_keys, cluster_keys) = (keys_of::<TrainConfig>(), keys_of::<ClusterConfig>());
    let byzantine_keys = keys_of::<ByzantineConfig>();
    let (mut train, mut parallel, mut cluster) = (toml::Table::new(), toml::Table::new(), toml::Table::new());
    let mut byzantine = toml::Table::new();
    for (k, v) in t {
        if train_keys.contains(&k) {
            train.insert(k, v);
        } else if cluster_keys.contains(&k) {
            cluster.insert(k, v);
        } else if byzantine_keys.contains(&k) {
            byzantine.insert(k, v);
        } else {
            parallel.insert(k, v);
        }
    }
    let mut doc = toml::Table::new();
    doc.insert("train".into(), toml::Value::Table(train));
    doc.insert("parallel".into(), toml::Value::Table(parallel));
    doc.insert("cluster".into(), toml::Value::Table(cluster));
    doc.insert("byzantine".into(), toml::Value::Table(byzantine));
    toml::Value::Table(doc).try_into::<RunConfig>().map_err(|e| {
        let m = plain_types(e.to_string().trim_end()).replace('\n', " ");
        // serde appends " in `section.key`", which the error already names.
        match m.rfind(" in `") {
            Some(i) if m.ends_with('`') => m[..i].to_string(),
            _ => m,
        }
    })
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    name: Option<String>,
    description: Option<String>,
    dataset: String,
    backend: Option<BackendChoice>,
    /// Whether per-epoch files (`metrics.csv`, `comm.csv`) and the cluster traces
    /// (`workers.csv`, `gradients.csv`) are written; `false` keeps `runs.csv` only, for grids
    /// of hundreds of runs whose figures read final numbers.
    per_epoch: Option<bool>,
    /// Whether the cluster traces (`workers.csv`, `gradients.csv`, the timeline figure) are
    /// written with the per-epoch files; `false` keeps `metrics.csv` and `comm.csv` for grids
    /// whose every worker interval would run to hundreds of megabytes.
    traces: Option<bool>,
    /// Accuracy targets for the time-to-accuracy columns of `runs.csv`, e.g. `[0.75, 0.8]`.
    targets: Option<toml::Value>,
    #[serde(default)]
    base: toml::Table,
    /// `[grid]` (one grid) or `[[grid]]` (several, their runs joined); see [`grids`].
    grid: Option<toml::Value>,
}

/// One grid: every key's list of values.
type Grid = BTreeMap<String, Vec<toml::Value>>;

/// The grids of `[grid]` or `[[grid]]`; a value that is not a list is an error saying so (a
/// serde enum would only say that nothing matched).
fn grids(value: Option<&toml::Value>) -> Result<Vec<Grid>, (String, String)> {
    let tables: Vec<&toml::Table> = match value {
        None => return Ok(vec![Grid::new()]),
        Some(toml::Value::Table(t)) => vec![t],
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| v.as_table().ok_or_else(|| ("grid".to_string(), "`[[grid]]` entries must be tables".to_string())))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(("grid".into(), "must be a table `[grid]` or tables `[[grid]]`".into())),
    };
    tables
        .into_iter()
        .map(|t| {
            t.iter()
                .map(|(key, v)| match v {
                    toml::Value::Array(values) => Ok((key.clone(), values.clone())),
                    other => Err((
                        format!("grid.{key}"),
                        format!(
                            "a grid value must be a list, e.g. `{key} = [{other}]` (a single value belongs in [base])"
                        ),
                    )),
                })
                .collect()
        })
        .collect()
}

/// One run of the grid.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunSpec {
    pub run_id: String,
    /// The configuration without the seed.
    pub label: String,
    pub config: RunConfig,
}

/// A validated experiment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Experiment {
    pub name: String,
    pub description: String,
    pub dataset: String,
    pub backend: BackendChoice,
    /// See the file key `per_epoch`.
    pub per_epoch: bool,
    /// See the file key `traces`; written to the resolved file only where it was turned off.
    #[serde(skip_serializing_if = "is_true")]
    pub traces: bool,
    /// See the file key `targets`; `run --target-acc` replaces them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<f64>,
    pub runs: Vec<RunSpec>,
    /// Choices made for the user (a boundary left unset where `exchange` is refused), each
    /// once, for the command to print; the runs' configurations record them.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Experiment {
    pub fn load(path: &Path) -> Result<Experiment, ExperimentError> {
        let text = crate::bounded::read_to_string(path, crate::bounded::CONFIG_FILE_LIMIT)
            .map_err(|cause| ExperimentError::Io { path: path.to_path_buf(), cause })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Experiment, ExperimentError> {
        let file: ExperimentFile = toml::from_str(text).map_err(|e| ExperimentError::Toml {
            path: path.to_path_buf(),
            message: plain_types(e.to_string().trim_end()),
        })?;
        let errors = KeyErrors { text, path };
        let grids = grids(file.grid.as_ref()).map_err(|(key, m)| errors.at(key, m))?;
        check_keys(&file.base, &grids, &errors)?;
        check_size(&grids, &errors)?;
        let (runs, notes) = expand(&file.base, &grids, &errors)?;
        let name = name_of(file.name, path, &errors)?;
        let per_epoch = file.per_epoch.unwrap_or(true);
        if file.traces == Some(true) && !per_epoch {
            return Err(errors.at(
                "traces".into(),
                "traces are written with the per-epoch files, which `per_epoch = false` turns off".into(),
            ));
        }
        Ok(Experiment {
            name,
            description: file.description.unwrap_or_default(),
            dataset: file.dataset,
            backend: file.backend.unwrap_or_default(),
            per_epoch,
            traces: per_epoch && file.traces.unwrap_or(true),
            targets: targets_of(file.targets.as_ref()).map_err(|m| errors.at("targets".into(), m))?,
            runs,
            notes,
        })
    }

    pub fn seeds(&self) -> Vec<u64> {
        let mut s: Vec<u64> = self.runs.iter().map(|r| r.config.train.seed).collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// The key `targets`: a list of accuracies, each 0 < T ≤ 1.
fn targets_of(value: Option<&toml::Value>) -> Result<Vec<f64>, String> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let items = value.as_array().ok_or("must be a list of accuracies, e.g. `targets = [0.75, 0.8]`")?;
    items
        .iter()
        .map(|v| match v {
            toml::Value::Float(f) => crate::report::targets::check_target(*f),
            toml::Value::Integer(i) => crate::report::targets::check_target(*i as f64),
            other => Err(format!("`{other}` is not a number: give accuracies, e.g. `targets = [0.75, 0.8]`")),
        })
        .collect()
}

/// Errors that name a key of the file: `key` is `section.name`, and the message gets the key's
/// line when it can be found.
struct KeyErrors<'a> {
    text: &'a str,
    path: &'a Path,
}

impl KeyErrors<'_> {
    /// In the `nth` `[[grid]]` table (0 for the others).
    fn in_nth(&self, key: String, nth: usize, message: String) -> ExperimentError {
        ExperimentError::Key { path: self.path.to_path_buf(), line: line_of(self.text, &key, nth), key, message }
    }

    fn at(&self, key: String, message: String) -> ExperimentError {
        self.in_nth(key, 0, message)
    }
}

/// Every key of `[base]` and the grids is a run key, and each value alone makes a valid
/// configuration (each key of `[base]`, then each grid value), so an error names the key.
fn check_keys(base: &toml::Table, grids: &[Grid], errors: &KeyErrors) -> Result<(), ExperimentError> {
    let valid = run_keys();
    for key in base.keys().chain(grids.iter().flat_map(|g| g.keys())) {
        if !valid.contains(key) {
            let section = if base.contains_key(key) { "base" } else { "grid" };
            if let Some(why) = crate::sim::config::retired(key) {
                return Err(errors.at(format!("{section}.{key}"), why.to_string()));
            }
            return Err(errors.at(format!("{section}.{key}"), format!("unknown key; valid keys: {}", valid.join(", "))));
        }
    }
    for (key, v) in base {
        let mut t = toml::Table::new();
        t.insert(key.clone(), v.clone());
        config_from_table(t).map_err(|m| errors.at(format!("base.{key}"), m))?;
    }
    for (nth, (key, values)) in grids.iter().enumerate().flat_map(|(i, g)| g.iter().map(move |kv| (i, kv))) {
        if values.is_empty() {
            return Err(errors.in_nth(format!("grid.{key}"), nth, "an empty list gives no runs".into()));
        }
        for v in values {
            let mut t = toml::Table::new();
            t.insert(key.clone(), v.clone());
            config_from_table(t).map_err(|m| errors.in_nth(format!("grid.{key}"), nth, m))?;
        }
    }
    Ok(())
}

/// The grids ask for at most [`MAX_RUNS`] runs.
fn check_size(grids: &[Grid], errors: &KeyErrors) -> Result<(), ExperimentError> {
    let planned = grids.iter().map(grid_size).fold(0u128, u128::saturating_add);
    if planned > MAX_RUNS as u128 {
        return Err(errors.at(
            "grid".into(),
            format!(
                "the grid asks for {planned} runs (the product of its list lengths{}), more than the {MAX_RUNS} \
                 an experiment may hold: split it into several experiments or shorten its lists",
                if grids.len() > 1 { ", summed over the [[grid]] tables" } else { "" }
            ),
        ));
    }
    Ok(())
}

/// Every grid point over `[base]`: the runs (equal configurations are one run) and the notes
/// of choices made for the user.
fn expand(
    base: &toml::Table,
    grids: &[Grid],
    errors: &KeyErrors,
) -> Result<(Vec<RunSpec>, Vec<String>), ExperimentError> {
    let mut runs: Vec<RunSpec> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // Each run's configuration, serialized (equal configurations are one run), and each
    // run id with the grid point that made it (two configurations must not share an id).
    let mut configs_seen = std::collections::HashSet::new();
    let mut ids_seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (grid, point) in grids.iter().flat_map(|g| cartesian(g).into_iter().map(move |p| (g, p))) {
        let mut table = base.clone();
        table.extend(point.iter().map(|(k, v)| (k.clone(), v.clone())));
        let boundary_set = table.contains_key("boundary");
        let given: Vec<String> = table.keys().cloned().collect();
        let mut config = config_from_table(table).map_err(|m| errors.at("grid".into(), m))?;
        // Keys the run does not set take its model's published settings.
        config.train.apply_model_preset(&|key| given.iter().any(|k| k == key));
        if !boundary_set {
            if let Some(note) = config.choose_boundary() {
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
        config
            .validate()
            .map_err(|e| errors.at(e.key.clone(), format!("{} (in the run {})", e.message, describe_point(&point))))?;
        // Keys that do not apply (partitioning of a serial run, the rate of a mode that does
        // not sample) are reset, so runs that differ only in them are one run.
        let config = config.normalized();
        let label = label_of(&config, grid, grids);
        let run_id = format!("{}-s{}", slug(&label), config.train.seed);
        let key = serde_json::to_string(&config).expect("a run configuration serializes");
        if !configs_seen.insert(key) {
            continue;
        }
        if let Some(first) = ids_seen.insert(run_id.clone(), describe_point(&point)) {
            return Err(errors.at(
                "grid".into(),
                format!(
                    "two different runs would share the run id `{run_id}` and mix their rows in the results: \
                     ({first}) and ({}); make the values differ in more than punctuation or case (e.g. \
                     rename one of the files)",
                    describe_point(&point)
                ),
            ));
        }
        runs.push(RunSpec { run_id, label, config });
    }
    Ok((runs, notes))
}

/// The experiment's name: `name`, or else the file's stem; it names the results folder.
fn name_of(name: Option<String>, path: &Path, errors: &KeyErrors) -> Result<String, ExperimentError> {
    match name {
        Some(name) => {
            check_name(&name).map_err(|m| errors.at("name".into(), m))?;
            Ok(name)
        }
        None => {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            check_name(&stem).map_err(|m| {
                errors.at(
                    "name".into(),
                    format!("the file name `{stem}` cannot name the results folder ({m}); set `name`"),
                )
            })?;
            Ok(stem)
        }
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

/// An experiment name becomes the folder `results/NAME`: a plain file name only, so that no
/// name can point outside `results/`.
fn check_name(name: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name == "." || name == ".." || !name.chars().all(plain) {
        return Err(format!(
            "`{name}` is not a plain folder name: use letters, digits, `-`, `_` and `.` (not `.` or `..` alone)"
        ));
    }
    Ok(())
}

/// serde names Rust types ("expected usize"); a user wrote TOML, so say what TOML value fits.
fn plain_types(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, plain) in [
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected struct RunKeys", "expected a table"),
    ] {
        m = m.replace(rust, plain);
    }
    m
}

/// The 1-based line where `key` (`base.lr`, `grid.seed`, `name`) is set, found by scanning for
/// `name =` under its section header (the `nth` of repeated `[[grid]]` headers). Good enough for
/// error messages; `None` if not found.
fn line_of(text: &str, key: &str, nth: usize) -> Option<usize> {
    let (section, name) = match key.split_once('.') {
        Some((s, n)) => (Some(s), n),
        None => (None, key),
    };
    let mut current: Option<String> = None;
    let mut seen = 0usize;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[') {
            let header = header.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if Some(header.as_str()) == section {
                seen += 1;
            }
            current = Some(header);
            continue;
        }
        let in_section = match section {
            None => current.is_none(),
            Some(s) => current.as_deref() == Some(s) && seen == nth + 1,
        };
        let sets = t.split_once('=').is_some_and(|(k, _)| k.trim().trim_matches('"') == name);
        if in_section && sets {
            return Some(i + 1);
        }
    }
    // A grid key named alone (`grid.partitions` from a whole-section error): its header.
    None
}

/// The most runs one experiment file may ask for: the grid's points are built, validated and
/// kept in memory before the first run starts.
pub const MAX_RUNS: usize = 100_000;

/// Points of one grid (the product of its list lengths), counted before any is built.
fn grid_size(grid: &Grid) -> u128 {
    grid.values().map(|values| values.len() as u128).fold(1, u128::saturating_mul)
}

fn cartesian(grid: &BTreeMap<String, Vec<toml::Value>>) -> Vec<Vec<(String, toml::Value)>> {
    let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in grid {
        points = points
            .into_iter()
            .flat_map(|p| values.iter().map(move |v| [p.clone(), vec![(key.clone(), v.clone())]].concat()))
            .collect();
    }
    points
}

fn describe_point(point: &[(String, toml::Value)]) -> String {
    point.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// A readable name of the configuration from the keys its grid varies (seed aside), and the
/// model and optimizer keys its grid sets that another grid sets differently (one grid per
/// optimizer, each with its own learning rate, names the optimizer and the rate).
fn label_of(c: &RunConfig, grid: &Grid, grids: &[Grid]) -> String {
    const TRAIN_KEYS: [&str; 11] = [
        "epochs",
        "hidden",
        "layers",
        "lr",
        "dropout",
        "weight_decay",
        "optimizer",
        "lr_schedule",
        "embedding_dim",
        "embedding_decay",
        "prune_after",
    ];
    c.label_with(|k| {
        grid.get(k).is_some_and(|v| {
            v.len() > 1 || (TRAIN_KEYS.contains(&k) && grids.iter().any(|g| g.get(k).is_some_and(|w| w != v)))
        })
    })
}

fn slug(label: &str) -> String {
    label
        .replace("P=", "p")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c.to_ascii_lowercase() } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Experiment, ExperimentError> {
        Experiment::parse(text, Path::new("experiments/t.toml"))
    }

    #[test]
    fn grid_expands_and_dedups_serial() {
        let e = parse("dataset = \"csbm\"\n[base]\nepochs = 5\n[grid]\npartitions = [1, 2]\nboundary = [\"exact\", \"drop\"]\nseed = [0, 1]\n").unwrap();
        // serial × 2 seeds + P=2 × 2 boundaries × 2 seeds.
        assert_eq!(e.runs.len(), 6);
        assert!(e.runs.iter().all(|r| r.config.train.epochs == 5));
        let labels: Vec<&str> = e.runs.iter().map(|r| r.label.as_str()).collect();
        assert!(labels.contains(&"serial") && labels.contains(&"P=2 drop metis"), "{labels:?}");
        let mut ids: Vec<&str> = e.runs.iter().map(|r| r.run_id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6, "run ids are unique");
        assert_eq!(e.name, "t");
    }

    #[test]
    fn grids_with_one_optimizer_each_name_it() {
        let text = "dataset = \"csbm\"\n[[grid]]\noptimizer = [\"sgd\"]\nlr = [5.0]\n[[grid]]\noptimizer = [\"adam\", \"rmsprop\"]\nlr = [0.01]\n";
        let labels: Vec<String> = parse(text).unwrap().runs.into_iter().map(|r| r.label).collect();
        assert_eq!(
            labels,
            ["serial lr=5 optimizer=sgd", "serial lr=0.01 optimizer=adam", "serial lr=0.01 optimizer=rmsprop"]
        );
        // A parallel key set once per grid stays unlabelled, as before.
        let text = "dataset = \"csbm\"\n[[grid]]\nboundary = [\"drop\"]\npartitions = [2]\n[[grid]]\nboundary = [\"exchange\"]\npartitions = [2]\n";
        let labels: Vec<String> = parse(text).unwrap().runs.into_iter().map(|r| r.label).collect();
        assert_eq!(labels, ["P=2 drop metis", "P=2 exchange metis"]);
    }

    #[test]
    fn several_grids_join_their_runs() {
        let e = parse("dataset = \"csbm\"\n[[grid]]\npartitions = [1, 2]\n[[grid]]\npartitions = [2]\nkeep_versions = [false, true]\n").unwrap();
        // serial, P=2, and P=2 keep_versions (P=2 release is the same run as the first grid's).
        assert_eq!(e.runs.len(), 3, "{:?}", e.runs.iter().map(|r| &r.run_id).collect::<Vec<_>>());
        assert_eq!(e.runs[1].run_id, "p2-exchange-metis-s0");
        assert_eq!(e.runs[2].label, "P=2 exchange metis keep_versions");
    }

    #[test]
    fn an_unset_boundary_is_chosen_once_and_recorded() {
        let text = "dataset = \"csbm\"\n[base]\npartitions = 2\n[grid]\nconsistency = [\"bsp\", \"ssp\", \"asp\"]\n";
        let e = parse(text).unwrap();
        assert_eq!(e.notes.len(), 2, "{:?}", e.notes);
        let boundary = |c: &str| e.runs.iter().find(|r| r.config.cluster.consistency.name() == c).unwrap();
        assert_eq!(boundary("bsp").config.parallel.boundary, crate::sim::Boundary::Exchange);
        assert_eq!(boundary("ssp").config.parallel.boundary, crate::sim::Boundary::Replicate);
        assert_eq!(boundary("asp").config.parallel.boundary, crate::sim::Boundary::Replicate);
        // An explicit boundary is never changed: the conflict is an error.
        let explicit = "dataset = \"csbm\"\n[base]\npartitions = 2\nboundary = \"exchange\"\nconsistency = \"asp\"\n";
        assert!(parse(explicit).is_err());
    }

    #[test]
    fn every_shipped_experiment_parses() {
        // Relative profile paths in them resolve from the package root, the tests' folder.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn a_grid_too_large_to_build_is_counted_and_refused() {
        // 60 × 59 × 59 × 2 × 59 = 24,645,480 points: counted, never built.
        let list = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let text = format!(
            "dataset = \"csbm\"\n[grid]\nseed = [{}]\nhidden = [{}]\nepochs = [{}]\nkeep_versions = [false, true]\nlayers = [{}]\n",
            list(60),
            list(59),
            list(59),
            list(59)
        );
        let started = std::time::Instant::now();
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains("24645480 runs") && message.contains("100000"), "{message}");
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
        // Several [[grid]] tables add up.
        let text = format!(
            "dataset = \"csbm\"\n[[grid]]\nseed = [{0}]\nhidden = [{0}]\n[[grid]]\nseed = [{0}]\nepochs = [{0}]\n",
            list(300)
        );
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.contains("180000 runs") && message.contains("summed"), "{message}");
    }

    #[test]
    fn two_runs_may_not_share_a_run_id() {
        let dir = tempfile::tempdir().unwrap();
        let profile = std::fs::read_to_string("experiments/devices/cpu-calibrated.toml").unwrap();
        for name in ["dev-a.toml", "dev_a.toml"] {
            std::fs::write(dir.path().join(name), &profile).unwrap();
        }
        let (a, b) = (dir.path().join("dev-a.toml"), dir.path().join("dev_a.toml"));
        let text = format!(
            "dataset = \"csbm\"\n[base]\npartitions = 2\n[grid]\ndevice_profile = [\"{}\", \"{}\"]\n",
            a.display(),
            b.display()
        );
        let message = parse(&text).unwrap_err().to_string();
        assert!(
            message.contains("share the run id") && message.contains("dev-a.toml") && message.contains("dev_a.toml"),
            "{message}"
        );
        // The same configuration twice is one run, not a collision.
        let text = format!(
            "dataset = \"csbm\"\n[base]\npartitions = 2\n[grid]\ndevice_profile = [\"{0}\", \"{0}\"]\n",
            a.display()
        );
        assert_eq!(parse(&text).unwrap().runs.len(), 1);
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let cases = [
            ("dataset = \"csbm\"\n[base]\nepoch = 5\n", "base.epoch"),
            ("dataset = \"csbm\"\n[grid]\nboundary = [\"exact\", \"fuzzy\"]\n", "grid.boundary"),
            ("dataset = \"csbm\"\n[base]\nlr = \"fast\"\n", "base.lr"),
            ("dataset = \"csbm\"\n[grid]\npartitions = [0]\n", "partitions"),
            ("dataset = \"csbm\"\ncolour = 1\n", "colour"),
            ("[base]\nepochs = 1\n", "dataset"),
            ("dataset = \"csbm\"\n[grid]\nseed = []\n", "grid.seed"),
            ("name = \"..\"\ndataset = \"csbm\"\n", "name"),
            ("name = \"\"\ndataset = \"csbm\"\n", "name"),
            ("name = \"/tmp/x\"\ndataset = \"csbm\"\n", "name"),
            ("name = \"a/../../b\"\ndataset = \"csbm\"\n", "name"),
            (
                "dataset = \"csbm\"\n[grid]\npartitions = 2\n",
                "t.toml:3: key `grid.partitions`: a grid value must be a list",
            ),
            (
                "dataset = \"csbm\"\n[base]\nepochs = -3\n",
                "t.toml:3: key `base.epochs`: invalid value: integer `-3`, expected a whole number ≥ 0",
            ),
            ("dataset = \"csbm\"\n[base]\nlr = \"fast\"\n", "expected a number"),
            ("dataset = \"csbm\"\n[[grid]]\nseed = [0]\n[[grid]]\nseed = [1, \"x\"]\n", "t.toml:5: key `grid.seed`"),
            // A retired key says what replaced it; keys that do not apply are refused.
            ("dataset = \"csbm\"\n[base]\nreduce = \"tree\"\n", "t.toml:3: key `base.reduce`: was retired"),
            ("dataset = \"csbm\"\n[grid]\nreduce = [\"flat\"]\n", "key `grid.reduce`: was retired"),
            ("dataset = \"csbm\"\n[base]\nsample_rate = 0.5\n", "key `sample_rate`: applies to boundary = sample"),
            (
                "dataset = \"csbm\"\n[base]\nepochs = 3\nconsistency = \"ssp\"\nstaleness = 5\npartitions = 2\n",
                "key `staleness`: a bound of 5 never binds",
            ),
            (
                "dataset = \"csbm\"\n[base]\npartitions = 2\nconsistency = \"ssp\"\nboundary = \"exchange\"\n",
                "key `consistency`",
            ),
        ];
        for (text, needle) in cases {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains("experiments/t.toml") && msg.contains(needle), "{text:?}: {msg}");
        }
    }
}
