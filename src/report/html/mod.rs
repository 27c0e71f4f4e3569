//! `report.html`: one self-contained page of a results folder (`run`, `merge` or `train --out`)
//! to open in a browser, with no network and no server: the experiment's description and
//! configuration, provenance, the `runs.csv` table (sortable), every `.svg` figure of the folder,
//! the per-round time breakdown and, for cluster runs, an interactive worker timeline.
//!
//! The page is read from the folder's files only, in a fixed order, so the same folder gives the
//! same bytes (the wall-clock `timing.csv` is left out for that reason).

mod escape;
mod page;
pub mod timeline;

use std::path::{Path, PathBuf};

use crate::report::{write_atomic, ReportError};

/// The page's file name in a results folder.
pub const REPORT_FILE: &str = "report.html";
/// A figure or configuration file bigger than this is not gcnsim's: an error, not a read.
const FILE_LIMIT: u64 = 256 << 20;

/// A table read from a CSV, every cell as text.
#[derive(Debug, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Everything the page shows, read from a folder.
#[derive(Debug, Default)]
pub struct Contents {
    pub title: String,
    pub description: String,
    /// The configuration file's name and text (`experiment.resolved.toml` or `summary.json`).
    pub config: Option<(String, String)>,
    /// `env.json`'s keys and values (values as compact JSON unless strings).
    pub provenance: Vec<(String, String)>,
    pub runs: Option<Table>,
    /// Each `.svg` of the folder by file name, with its text.
    pub figures: Vec<(String, String)>,
    pub timeline: Option<timeline::Timeline>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |cause| ReportError::Io { path: path.to_path_buf(), cause }
}

fn read_text(path: &Path) -> Result<String, ReportError> {
    crate::bounded::read_to_string(path, FILE_LIMIT).map_err(io_err(path))
}

/// Writes the page of `dir` to `out` (default `dir/report.html`) atomically; returns its path.
pub fn write_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf, ReportError> {
    let html = page::render(&read(dir)?);
    let out = out.map_or_else(|| dir.join(REPORT_FILE), Path::to_path_buf);
    write_atomic(&out, |w| w.write_all(html.as_bytes()))?;
    Ok(out)
}

/// Reads what the page of `dir` shows; a folder with neither `runs.csv` nor `summary.json` is
/// not a gcnsim results folder.
pub fn read(dir: &Path) -> Result<Contents, ReportError> {
    let (toml_path, summary_path) = (dir.join("experiment.resolved.toml"), dir.join("summary.json"));
    let runs_path = dir.join("runs.csv");
    if !runs_path.is_file() && !summary_path.is_file() {
        return Err(ReportError::Format {
            path: dir.to_path_buf(),
            message: "not a gcnsim results folder (no runs.csv from `gcnsim run`, no summary.json from \
                      `gcnsim train --out`)"
                .into(),
        });
    }
    let folder = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    let mut contents = Contents { title: folder.clone(), ..Contents::default() };
    if toml_path.is_file() {
        let text = read_text(&toml_path)?;
        let value: toml::Table = toml::from_str(&text)
            .map_err(|e| ReportError::Format { path: toml_path.clone(), message: e.to_string() })?;
        let field = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
        contents.title = field("name").unwrap_or(folder.clone());
        contents.description = field("description").unwrap_or_default();
        contents.config = Some(("experiment.resolved.toml".into(), text));
    } else if summary_path.is_file() {
        contents.description = format!("One run of `gcnsim train --out {folder}`.");
        contents.config = Some(("summary.json".into(), read_text(&summary_path)?));
    }
    contents.provenance = provenance(&dir.join("env.json"))?;
    if runs_path.is_file() {
        contents.runs = Some(read_table(&runs_path)?);
    }
    contents.figures = figures(dir)?;
    contents.timeline = timeline::read(dir, &folder)?;
    Ok(contents)
}

fn provenance(path: &Path) -> Result<Vec<(String, String)>, ReportError> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_str(&read_text(path)?)
        .map_err(|e| ReportError::Format { path: path.to_path_buf(), message: e.to_string() })?;
    let Some(object) = value.as_object() else {
        return Err(ReportError::Format { path: path.to_path_buf(), message: "not a JSON object".into() });
    };
    Ok(object.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
}

fn read_table(path: &Path) -> Result<Table, ReportError> {
    let csv_err = |cause| ReportError::Csv { path: path.to_path_buf(), cause };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(csv_err)?;
    let header = reader.headers().map_err(csv_err)?.iter().map(str::to_string).collect();
    let rows = reader
        .records()
        .map(|r| r.map(|r| r.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()
        .map_err(csv_err)?;
    Ok(Table { header, rows })
}

/// Every `.svg` file of `dir`, sorted by name.
fn figures(dir: &Path) -> Result<Vec<(String, String)>, ReportError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg") && !n.starts_with('.'))
        .collect();
    names.sort();
    names.into_iter().map(|n| Ok((n.clone(), read_text(&dir.join(&n))?))).collect()
}

#[cfg(test)]
mod tests;
