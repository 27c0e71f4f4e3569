//! Which dataset to use, as written on the command line.
//!
//! - `csbm` — the built-in synthetic graph ([`CsbmParams::default`]);
//! - `csbm:nodes=1000,classes=4,homophily=0.9,seed=3` — the same with overrides;
//! - anything else — a dataset folder (OGB's layout, Planetoid's `ind.NAME.*` files, also as
//!   `<dir>/raw/`, or Reddit's npz files; see [`super::format`]), optionally `<dir>:split=<name>`
//!   to pick a folder under an OGB folder's `split/`, or `<dir>:name=<name>` to pick one Planetoid
//!   dataset where the folder holds several. A bare name (`cora`) that is not a directory here is
//!   also looked up under `$GCNSIM_DATA_DIR` and `../shared/datasets`; one of the names gcnsim
//!   can fetch (`citeseer`, `ogbn-arxiv`, ...) found in neither is fetched into the cache on first
//!   use.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::cache;
use super::csbm::{self, CsbmParams};
use super::fetch::{self, registry};
use super::{format, planetoid};
use super::{DataError, Dataset};

#[derive(Clone, Debug, PartialEq)]
pub enum DatasetSpec {
    Dir {
        path: PathBuf,
        split: Option<String>,
    },
    /// `<dir>:name=<name>`: the Planetoid dataset `name` in a folder that may hold several.
    Planetoid {
        path: PathBuf,
        name: String,
    },
    Csbm(CsbmParams),
}

const CSBM: &str = "csbm";
const SPLIT_SUFFIX: &str = ":split=";
const NAME_SUFFIX: &str = ":name=";

/// The keys of `csbm:key=value,...`, exactly the [`CsbmParams`] field names.
pub const CSBM_KEYS: [&str; 10] =
    ["nodes", "classes", "avg_degree", "homophily", "features", "signal", "seed", "train_per_class", "valid", "test"];

impl FromStr for DatasetSpec {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        if s == CSBM {
            return Ok(DatasetSpec::Csbm(CsbmParams::default()));
        }
        if let Some(overrides) = s.strip_prefix("csbm:") {
            // Only parsed here; `load` validates, so a spec can be built up before it is complete.
            return parse_csbm_overrides(s, overrides).map(DatasetSpec::Csbm);
        }
        Ok(parse_dir(s))
    }
}

fn parse_dir(s: &str) -> DatasetSpec {
    if let Some((path, name)) = s.rsplit_once(NAME_SUFFIX) {
        if !path.is_empty() && !name.is_empty() && !name.contains(['/', ':']) {
            return DatasetSpec::Planetoid { path: PathBuf::from(path), name: name.to_string() };
        }
    }
    match s.rsplit_once(SPLIT_SUFFIX) {
        Some((path, split)) if !path.is_empty() && !split.is_empty() && !split.contains('/') => {
            DatasetSpec::Dir { path: PathBuf::from(path), split: Some(split.to_string()) }
        }
        _ => DatasetSpec::Dir { path: PathBuf::from(s), split: None },
    }
}

fn parse_csbm_overrides(spec: &str, overrides: &str) -> Result<CsbmParams, DataError> {
    let mut params = CsbmParams::default();
    let mut seen: Vec<&str> = Vec::new();
    for item in overrides.split(',').filter(|item| !item.trim().is_empty()) {
        let fail = |message: String| DataError::Spec { spec: spec.to_string(), message };
        let (key, value) = item.split_once('=').ok_or_else(|| fail(format!("`{item}` is not key=value")))?;
        let key = key.trim();
        if seen.contains(&key) {
            return Err(fail(format!("key `{key}` is given twice")));
        }
        seen.push(key);
        set_csbm_key(&mut params, key, value.trim()).map_err(fail)?;
    }
    Ok(params)
}

fn set_csbm_key(p: &mut CsbmParams, key: &str, value: &str) -> Result<(), String> {
    match key {
        "nodes" => p.nodes = parse_value(key, value)?,
        "classes" => p.classes = parse_value(key, value)?,
        "avg_degree" => p.avg_degree = parse_real(key, value)?,
        "homophily" => p.homophily = parse_real(key, value)?,
        "features" => p.features = parse_value(key, value)?,
        "signal" => p.signal = parse_real(key, value)?,
        "seed" => p.seed = parse_value(key, value)?,
        "train_per_class" => p.train_per_class = parse_value(key, value)?,
        "valid" => p.valid = parse_value(key, value)?,
        "test" => p.test = parse_value(key, value)?,
        _ => return Err(format!("unknown key `{key}`; valid keys: {}", CSBM_KEYS.join(", "))),
    }
    Ok(())
}

fn parse_value<T: FromStr>(key: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("key `{key}`: invalid value `{value}`; valid keys: {}", CSBM_KEYS.join(", ")))
}

/// A real-valued key: finite, so that the spec is equal to itself and round-trips through its
/// written form (`nan` would parse, then never match a checkpoint's stored spec).
fn parse_real(key: &str, value: &str) -> Result<f64, String> {
    let x: f64 = parse_value(key, value)?;
    if !x.is_finite() {
        return Err(format!("key `{key}`: `{value}` is not a finite number"));
    }
    Ok(x)
}

/// `key=value` for every field of `p` that differs from the default, in field order.
fn csbm_overrides(p: &CsbmParams) -> Vec<String> {
    let d = CsbmParams::default();
    let fields: [(&str, String, bool); 10] = [
        ("nodes", p.nodes.to_string(), p.nodes != d.nodes),
        ("classes", p.classes.to_string(), p.classes != d.classes),
        ("avg_degree", p.avg_degree.to_string(), p.avg_degree.to_bits() != d.avg_degree.to_bits()),
        ("homophily", p.homophily.to_string(), p.homophily.to_bits() != d.homophily.to_bits()),
        ("features", p.features.to_string(), p.features != d.features),
        ("signal", p.signal.to_string(), p.signal.to_bits() != d.signal.to_bits()),
        ("seed", p.seed.to_string(), p.seed != d.seed),
        ("train_per_class", p.train_per_class.to_string(), p.train_per_class != d.train_per_class),
        ("valid", p.valid.to_string(), p.valid != d.valid),
        ("test", p.test.to_string(), p.test != d.test),
    ];
    fields.into_iter().filter(|(_, _, changed)| *changed).map(|(k, v, _)| format!("{k}={v}")).collect()
}

impl fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetSpec::Dir { path, split: None } => write!(f, "{}", path.display()),
            DatasetSpec::Dir { path, split: Some(split) } => write!(f, "{}{SPLIT_SUFFIX}{split}", path.display()),
            DatasetSpec::Planetoid { path, name } => write!(f, "{}{NAME_SUFFIX}{name}", path.display()),
            DatasetSpec::Csbm(p) => {
                let overrides = csbm_overrides(p);
                if overrides.is_empty() {
                    write!(f, "{CSBM}")
                } else {
                    write!(f, "{CSBM}:{}", overrides.join(","))
                }
            }
        }
    }
}

impl DatasetSpec {
    /// Whether loading or generating this dataset, and preparing its graph, may take long enough
    /// to show progress: a CSBM of a million nodes or more, or a folder whose files add up to
    /// 64 MiB or more. Cheap: reads no file.
    pub fn looks_large(&self) -> bool {
        match self {
            DatasetSpec::Csbm(p) => p.nodes >= 1_000_000,
            DatasetSpec::Dir { path, .. } | DatasetSpec::Planetoid { path, .. } => {
                let env_root = std::env::var_os("GCNSIM_DATA_DIR").map(PathBuf::from);
                let Ok(dir) = resolve_dir(path, env_root.as_deref(), Path::new("../shared/datasets")) else {
                    return false; // not there yet: a fetch shows its own progress
                };
                folder_bytes(&dir) >= LARGE_FOLDER_BYTES
            }
        }
    }

    /// Loads (or generates) the dataset. Directories are symmetrized: GCN needs an undirected
    /// graph.
    pub fn load(&self) -> Result<Dataset, DataError> {
        match self {
            DatasetSpec::Csbm(params) => csbm::generate(params),
            DatasetSpec::Dir { path, split } => {
                let env_root = std::env::var_os("GCNSIM_DATA_DIR").map(PathBuf::from);
                let fallback = Path::new("../shared/datasets");
                let settings = fetch::Settings::from_env().ok();
                let mut progress = fetch::progress::Bar::detect();
                let dir = locate(path, env_root.as_deref(), fallback, settings.as_ref(), &mut progress)?;
                if !wants_load_cache(&dir)? {
                    return format::load(&dir, split.as_deref());
                }
                cache::load_cached(&dir, &format!("split={split:?}"), || format::load(&dir, split.as_deref()))
            }
            DatasetSpec::Planetoid { path, name } => {
                let env_root = std::env::var_os("GCNSIM_DATA_DIR").map(PathBuf::from);
                let dir = resolve_dir(path, env_root.as_deref(), Path::new("../shared/datasets"))?;
                planetoid::load(&format::planetoid_dir(&dir).unwrap_or(dir), Some(name))
            }
        }
    }
}

/// [`resolve_dir`], then, for a name gcnsim can fetch, the cache: a folder found where the
/// cache keeps it is verified, one found nowhere is fetched (or refused offline).
fn locate(
    path: &Path,
    env_root: Option<&Path>,
    fallback_root: &Path,
    settings: Option<&fetch::Settings>,
    progress: &mut dyn fetch::progress::Progress,
) -> Result<PathBuf, DataError> {
    let name = path.to_str().and_then(registry::find).filter(|_| !path.exists());
    let Some(entry) = name else {
        return resolve_dir(path, env_root, fallback_root);
    };
    let settings = settings.ok_or(fetch::FetchError::NoCacheDir)?;
    match resolve_dir(path, env_root, fallback_root) {
        Ok(dir) if dir != settings.root.join(entry.name) => Ok(dir),
        _ => Ok(fetch::fetch(entry.name, settings, progress)?),
    }
}

/// A folder whose files add up to this much shows progress while it loads and gets a load cache
/// ([`cache`]); a smaller one parses in about a second and stays untouched (it may be shared).
const LARGE_FOLDER_BYTES: u64 = 64 << 20;

/// `GCNSIM_LOAD_CACHE`: `auto` (unset: large folders only), `always` or `off`.
fn wants_load_cache(dir: &Path) -> Result<bool, DataError> {
    match std::env::var("GCNSIM_LOAD_CACHE").as_deref() {
        Err(_) | Ok("auto") => Ok(folder_bytes(dir) >= LARGE_FOLDER_BYTES),
        Ok("always") => Ok(true),
        Ok("off") => Ok(false),
        Ok(other) => Err(DataError::Spec {
            spec: format!("GCNSIM_LOAD_CACHE={other}"),
            message: "expected auto, always or off".to_string(),
        }),
    }
}

/// The bytes of a dataset folder's files: OGB keeps them in raw/, Planetoid and Reddit in the
/// folder itself.
fn folder_bytes(dir: &Path) -> u64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let files =
        [dir.join("raw"), dir.to_path_buf()].into_iter().flat_map(|d| std::fs::read_dir(d).into_iter().flatten());
    files.flatten().map(|entry| size(entry.path())).sum()
}

/// `path` itself if it exists; for a bare name, also `<env_root>/<name>` then
/// `<fallback_root>/<name>`. The error lists every place tried.
fn resolve_dir(path: &Path, env_root: Option<&Path>, fallback_root: &Path) -> Result<PathBuf, DataError> {
    if path.exists() {
        return Ok(path.to_owned());
    }
    let is_bare_name = !path.as_os_str().is_empty() && !path.to_string_lossy().contains('/');
    let candidates: Vec<PathBuf> = if is_bare_name {
        env_root.into_iter().chain([fallback_root]).map(|root| root.join(path)).collect()
    } else {
        Vec::new()
    };
    if let Some(found) = candidates.iter().find(|c| c.exists()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    let message = if tried.is_empty() {
        "dataset directory not found".to_string()
    } else {
        format!("dataset directory not found (also tried {})", tried.join(", "))
    };
    Err(DataError::Invalid { path: path.to_owned(), message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DatasetSpec {
        s.parse().unwrap()
    }

    #[test]
    fn csbm_defaults_and_overrides() {
        assert_eq!(parse("csbm"), DatasetSpec::Csbm(CsbmParams::default()));
        let expected = CsbmParams { nodes: 1000, classes: 4, homophily: 0.9, seed: 3, ..CsbmParams::default() };
        assert_eq!(parse("csbm:nodes=1000,classes=4,homophily=0.9,seed=3"), DatasetSpec::Csbm(expected));
        assert_eq!(parse("csbm:"), DatasetSpec::Csbm(CsbmParams::default()));
    }

    #[test]
    fn csbm_errors_name_the_key_and_list_valid_keys() {
        let unknown = "csbm:nodes=1000,colour=red".parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(unknown.contains("`colour`") && unknown.contains("avg_degree, homophily"), "{unknown}");
        let bad = "csbm:nodes=lots".parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(bad.contains("`nodes`") && bad.contains("`lots`") && bad.contains("valid keys"), "{bad}");
        let negative = "csbm:seed=-1".parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(negative.contains("`seed`"), "{negative}");
        let twice = "csbm:nodes=100,nodes=200".parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(twice.contains("`nodes`") && twice.contains("twice"), "{twice}");
        for real in ["signal=nan", "avg_degree=inf", "homophily=-inf", "signal=NaN"] {
            let message = format!("csbm:{real}").parse::<DatasetSpec>().unwrap_err().to_string();
            let key = real.split('=').next().unwrap();
            assert!(message.contains(&format!("`{key}`")) && message.contains("finite"), "{message}");
        }
        let no_equals = "csbm:nodes".parse::<DatasetSpec>().unwrap_err().to_string();
        assert!(no_equals.contains("key=value"), "{no_equals}");
        let invalid = parse("csbm:homophily=2").load().unwrap_err().to_string();
        assert!(invalid.contains("homophily"), "{invalid}");
        // Parses, but 1000 nodes cannot hold the default 500 valid + 1000 test nodes.
        let too_small = parse("csbm:nodes=1000,classes=4").load().unwrap_err().to_string();
        assert!(too_small.contains("nodes = 1000") && too_small.contains("1580"), "{too_small}");
    }

    #[test]
    fn display_round_trips() {
        let specs = [
            "csbm",
            "csbm:nodes=1000,classes=4,homophily=0.9,seed=3",
            "csbm:avg_degree=2.5,signal=0.1,train_per_class=3,valid=7,test=9,features=3",
            "data/cora",
            "cora",
            "/abs/ogbn-arxiv:split=time",
        ];
        for s in specs {
            let spec = parse(s);
            assert_eq!(parse(&spec.to_string()), spec, "{s}");
        }
        assert_eq!(parse("csbm:seed=3,nodes=1000").to_string(), "csbm:nodes=1000,seed=3");
        assert_eq!(parse("csbm:nodes=3000").to_string(), "csbm");
    }

    #[test]
    fn directories_and_split_suffix() {
        assert_eq!(parse("data/cora"), DatasetSpec::Dir { path: "data/cora".into(), split: None });
        let with_split = DatasetSpec::Dir { path: "data/arxiv".into(), split: Some("time".into()) };
        assert_eq!(parse("data/arxiv:split=time"), with_split);
    }

    #[test]
    fn bare_names_are_looked_up_in_data_roots() {
        let env_root = tempfile::tempdir().unwrap();
        let fallback = tempfile::tempdir().unwrap();
        std::fs::create_dir(fallback.path().join("tiny")).unwrap();
        let found = resolve_dir(Path::new("tiny"), Some(env_root.path()), fallback.path()).unwrap();
        assert_eq!(found, fallback.path().join("tiny"));
        std::fs::create_dir(env_root.path().join("tiny")).unwrap();
        let preferred = resolve_dir(Path::new("tiny"), Some(env_root.path()), fallback.path()).unwrap();
        assert_eq!(preferred, env_root.path().join("tiny"));
        let missing = resolve_dir(Path::new("nothing"), Some(env_root.path()), fallback.path()).unwrap_err();
        assert!(missing.to_string().contains("also tried"), "{missing}");
        let not_bare = resolve_dir(Path::new("no/such/dir"), Some(env_root.path()), fallback.path()).unwrap_err();
        assert!(!not_bare.to_string().contains("also tried"), "{not_bare}");
    }

    #[test]
    fn planetoid_names_parse_and_display() {
        let spec = DatasetSpec::Planetoid { path: "data/planetoid".into(), name: "citeseer".into() };
        assert_eq!(parse("data/planetoid:name=citeseer"), spec);
        assert_eq!(spec.to_string(), "data/planetoid:name=citeseer");
        assert_eq!(parse("data/x:name="), DatasetSpec::Dir { path: "data/x:name=".into(), split: None });
    }

    #[test]
    fn folders_of_no_known_layout_show_every_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        let spec = DatasetSpec::Dir { path: dir.path().to_owned(), split: None };
        let message = spec.load().unwrap_err().to_string();
        assert!(message.contains("no dataset folder gcnsim knows"), "{message}");
        assert!(
            message.contains("raw/edge.csv.gz")
                && message.contains("ind.NAME.graph")
                && message.contains("reddit_data.npz"),
            "{message}"
        );
    }

    #[test]
    fn planetoid_folders_load_as_is_from_raw_and_by_name() {
        let Some(dir) = crate::data::testdata::dataset_dir("planetoid-cora") else { return };
        let direct = DatasetSpec::Dir { path: dir.clone(), split: None }.load().unwrap();
        assert_eq!(direct.num_nodes(), 2708);
        let named = parse(&format!("{}:name=cora", dir.display())).load().unwrap();
        assert_eq!(named.fingerprint(), direct.fingerprint());
        let split = DatasetSpec::Dir { path: dir.clone(), split: Some("x".into()) }.load().unwrap_err().to_string();
        assert!(split.contains("drop `:split=`"), "{split}");
        let wrong = parse(&format!("{}:name=pubmed", dir.display())).load().unwrap_err().to_string();
        assert!(wrong.contains("no Planetoid dataset `pubmed`") && wrong.contains("cora"), "{wrong}");
        // PyG's folder: Cora/raw/ind.cora.* (and processed/, ignored).
        let pyg = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(pyg.path().join("raw")).unwrap();
        std::fs::create_dir_all(pyg.path().join("processed")).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, pyg.path().join("raw").join(path.file_name().unwrap())).unwrap();
        }
        let from_pyg = DatasetSpec::Dir { path: pyg.path().to_owned(), split: None }.load().unwrap();
        assert_eq!(from_pyg.fingerprint(), direct.fingerprint());
    }

    #[test]
    fn fetchable_names_resolve_to_found_folders_first_then_the_cache() {
        use fetch::testserver::{zip_folder, TestServer};
        let Some(cora) = crate::data::testdata::dataset_dir("cora") else {
            return;
        };
        let server = TestServer::start([("arxiv.zip".to_string(), zip_folder(&cora, "arxiv"))].into());
        let cache = tempfile::tempdir().unwrap();
        let fallback = tempfile::tempdir().unwrap();
        let settings = fetch::Settings { mirror: Some(server.url()), ..fetch::Settings::new(cache.path().to_owned()) };
        let mut quiet = fetch::progress::Silent;
        // A bare name present under a data root resolves there, with no request (CI's `cora`).
        std::fs::create_dir(fallback.path().join("ogbn-arxiv")).unwrap();
        let found = locate(Path::new("ogbn-arxiv"), None, fallback.path(), Some(&settings), &mut quiet).unwrap();
        assert_eq!((found, server.requests()), (fallback.path().join("ogbn-arxiv"), 0));
        // Found nowhere: fetched into the cache, then found there without a request.
        let empty = tempfile::tempdir().unwrap();
        let fetched = locate(Path::new("ogbn-arxiv"), None, empty.path(), Some(&settings), &mut quiet).unwrap();
        assert_eq!((&fetched, server.requests()), (&cache.path().join("ogbn-arxiv"), 1));
        let again = locate(Path::new("ogbn-arxiv"), Some(cache.path()), empty.path(), Some(&settings), &mut quiet);
        assert_eq!((again.unwrap(), server.requests()), (fetched.clone(), 1));
        let ds = crate::data::ogb::load(&fetched, &crate::data::ogb::OgbOptions::default()).unwrap();
        assert_eq!(ds.num_nodes(), 2708);
        // Unknown names keep today's message; no cache folder at all is said plainly.
        let unknown = locate(Path::new("nothing"), None, empty.path(), None, &mut quiet).unwrap_err().to_string();
        assert!(unknown.contains("dataset directory not found"), "{unknown}");
        let e = locate(Path::new("citeseer"), None, empty.path(), None, &mut quiet).unwrap_err().to_string();
        assert!(e.contains("GCNSIM_DATA_DIR"), "{e}");
    }

    #[test]
    fn loads_csbm() {
        let ds = parse("csbm:nodes=300,train_per_class=2,valid=20,test=30").load().unwrap();
        assert_eq!(ds.num_nodes(), 300);
        assert_eq!(ds.split.train.len(), 10);
    }
}
