//! Figures of an experiment's results folder, drawn from its CSVs alone: `convergence`,
//! `memory` and (with several partition counts) `partitions` from `runs.csv` and `metrics.csv`;
//! `time` (convergence against simulated time), `timeline` (per-worker Gantt, from
//! `workers.csv`), when any gradient was stale, `staleness` (from `gradients.csv`), and with
//! Byzantine workers or robust rules `robustness` (attack × aggregator heat maps, from
//! `runs.csv`), and with several optimizers `optimizers` (a panel each), and with simulated
//! time `breakdown` (what a round is made of, from `runs.csv`). Each is written as PNG and SVG from the same drawing code.
//!
//! Text uses DejaVu Sans embedded in the binary (plotters' `ab_glyph` feature), so drawing
//! needs no system font library; PNG text is rasterized by `text::GlyphText`, which fixes
//! plotters' glyph spacing. SVG text is left to the viewer's sans-serif font.

mod axes;
#[cfg(test)]
mod boxes;
mod breakdown;
mod convergence;
mod legend;
mod memory;
mod optimizers;
mod partitions;
mod robustness;
mod series;
mod staleness;
mod style;
mod text;
mod time;
mod timeline;
mod validation;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use breakdown::draw_breakdown;
pub use convergence::draw_convergence;
pub use memory::draw_memory;
pub use optimizers::draw_optimizers;
pub use partitions::draw_partitions;
pub use robustness::draw_robustness;
pub(crate) use series::shorten_labels;
pub use staleness::draw_staleness;
pub use time::draw_time;
pub use timeline::draw_timeline;
pub use validation::{draw_validation, ValidationPoint};

use super::atomic::{write_atomic, ReportError};
use super::rows::{LongGradientRow, LongMetricsRow, LongWorkerRow, RunRow};

/// Pixel size of every PNG (and the SVG canvas).
pub const FIGURE_SIZE: (u32, u32) = (1600, 1000);

static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Registers the embedded font as plotters' "sans-serif", once per process. The draw
/// functions call it too, so they work outside `draw_all`; there a failure still surfaces,
/// as the font error of their first text.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(style::FONT, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the embedded DejaVuSans.ttf is not a valid font".to_string())
        })
        .clone()
}

/// Redraws the figures of a results folder from its files: an experiment's (`runs.csv`,
/// `metrics.csv`, titled with the experiment's name) or one `gcnsim train --out` run
/// (`summary.json`, `metrics.csv`).
pub fn redraw(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    if dir.join("runs.csv").is_file() {
        let (runs, metrics) = read_results(dir)?;
        let (workers, gradients) = read_traces(dir)?;
        let traces = Traces { workers: &workers, gradients: &gradients };
        if runs.is_empty() {
            return Err(ReportError::Format { path: dir.join("runs.csv"), message: "no runs".into() });
        }
        // Titles name the experiment, as when `run` drew them; the folder name if it can't be read.
        let name = std::fs::read_to_string(dir.join("experiment.resolved.toml"))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string));
        return match name {
            Some(name) => draw_all_titled(dir, &name, &runs, &metrics, traces),
            None => draw_all(dir, &runs, &metrics, traces),
        };
    }
    if dir.join("summary.json").is_file() {
        let (dataset, runs, metrics) = read_train_run(dir)?;
        let (workers, gradients) = read_train_traces(dir, &runs[0].run_id)?;
        return draw_all_titled(
            dir,
            &format!("train on {dataset}"),
            &runs,
            &metrics,
            Traces { workers: &workers, gradients: &gradients },
        );
    }
    Err(ReportError::Format {
        path: dir.to_path_buf(),
        message: "not a results folder: it has neither runs.csv (written by `gcnsim run`) nor summary.json \
                  (written by `gcnsim train --out`)"
            .into(),
    })
}

/// What the figures need of a `train --out` folder's `summary.json`.
#[derive(serde::Deserialize)]
struct TrainSummary {
    dataset: String,
    /// Decoded by [`crate::sim::RunConfig::from_stored_json`]: folders of earlier versions hold
    /// retired keys.
    config: serde_json::Value,
    outcome: crate::sim::RunOutcome,
    partitioning: crate::graph::local::PartitioningSummary,
}

/// One `train --out` run as the rows of a one-run experiment, and its dataset.
pub(crate) fn read_train_run(dir: &Path) -> Result<(String, Vec<RunRow>, Vec<LongMetricsRow>), ReportError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|cause| ReportError::Io { path: path.clone(), cause })?;
    let s: TrainSummary = serde_json::from_str(&text).map_err(|e| ReportError::Parse {
        path: path.clone(),
        line: e.line() as u64,
        message: e.to_string(),
    })?;
    let config = crate::sim::RunConfig::from_stored_json(&s.config.to_string())
        .map_err(|m| ReportError::Format { path: path.clone(), message: format!("its `config`: {m}") })?;
    let label = config.label();
    let metrics: Vec<super::metrics::MetricsRow> = read_csv(&dir.join("metrics.csv"))?;
    let run = RunRow::new("train", &label, &config, &s.outcome, &s.partitioning, &metrics);
    let long = metrics.iter().map(|m| LongMetricsRow::new(&run, m)).collect();
    Ok((s.dataset, vec![run], long))
}

/// One `train --out` run's `workers.csv` and `gradients.csv` (rows without a run id) as an
/// experiment's, under `run_id`; empty where a file is absent.
fn read_train_traces(dir: &Path, run_id: &str) -> Result<(Vec<LongWorkerRow>, Vec<LongGradientRow>), ReportError> {
    let workers: Vec<crate::sim::cluster::WorkerInterval> = read_csv_if_present(&dir.join("workers.csv"))?;
    let gradients: Vec<crate::sim::cluster::GradientRecord> = read_csv_if_present(&dir.join("gradients.csv"))?;
    Ok((
        workers.iter().map(|w| LongWorkerRow::new(run_id, w)).collect(),
        gradients.iter().map(|g| LongGradientRow::new(run_id, g)).collect(),
    ))
}

/// `dir/workers.csv` and `dir/gradients.csv` of an experiment; empty where a file is absent
/// (results written before the simulated cluster).
pub fn read_traces(dir: &Path) -> Result<(Vec<LongWorkerRow>, Vec<LongGradientRow>), ReportError> {
    Ok((read_csv_if_present(&dir.join("workers.csv"))?, read_csv_if_present(&dir.join("gradients.csv"))?))
}

fn read_csv_if_present<R: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<R>, ReportError> {
    if path.exists() {
        read_csv(path)
    } else {
        Ok(Vec::new())
    }
}

/// Reads `dir/runs.csv` and `dir/metrics.csv`. A row that does not parse is reported with
/// its file and line.
/// An experiment written with `per_epoch = false` has no `metrics.csv`: no metrics rows.
pub fn read_results(dir: &Path) -> Result<(Vec<RunRow>, Vec<LongMetricsRow>), ReportError> {
    Ok((read_csv(&dir.join("runs.csv"))?, read_csv_if_present(&dir.join("metrics.csv"))?))
}

fn read_csv<R: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<R>, ReportError> {
    let file = File::open(path).map_err(|cause| ReportError::Io { path: path.to_path_buf(), cause })?;
    let mut reader = csv::Reader::from_reader(BufReader::new(file));
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::new();
    while reader.read_record(&mut record).map_err(|e| csv_error(path, e))? {
        rows.push(record.deserialize(Some(&headers)).map_err(|e| csv_error(path, e))?);
    }
    Ok(rows)
}

/// `Parse` with the line when csv knows it (it does for every malformed row), else `Csv`.
fn csv_error(path: &Path, e: csv::Error) -> ReportError {
    let Some(line) = e.position().map(csv::Position::line) else {
        return ReportError::Csv { path: path.to_path_buf(), cause: e };
    };
    // csv's own message repeats the position; keep only what is wrong.
    let message = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        _ => e.to_string(),
    };
    ReportError::Parse { path: path.to_path_buf(), line, message }
}

#[derive(Clone, Copy, Debug)]
enum Figure {
    Convergence,
    Memory,
    Partitions,
    Time,
    Timeline,
    Staleness,
    Robustness,
    Optimizers,
    Breakdown,
}

/// The simulated cluster's records the `timeline` and `staleness` figures read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Traces<'a> {
    pub workers: &'a [LongWorkerRow],
    pub gradients: &'a [LongGradientRow],
}

struct Inputs<'a> {
    experiment: &'a str,
    runs: &'a [RunRow],
    metrics: &'a [LongMetricsRow],
    traces: Traces<'a>,
}

impl Figure {
    fn stem(self) -> &'static str {
        match self {
            Figure::Convergence => "convergence",
            Figure::Memory => "memory",
            Figure::Partitions => "partitions",
            Figure::Time => "time",
            Figure::Timeline => "timeline",
            Figure::Staleness => "staleness",
            Figure::Robustness => "robustness",
            Figure::Optimizers => "optimizers",
            Figure::Breakdown => "breakdown",
        }
    }

    /// Pixel size: [`FIGURE_SIZE`], except the timeline, whose height follows its rows, and
    /// the figures with a legend entry per configuration (or partitioner), which grow with a
    /// long legend so that their panels keep their height.
    fn size(self, inputs: &Inputs<'_>) -> (u32, u32) {
        match self {
            Figure::Timeline => timeline::timeline_size(inputs.runs, inputs.traces.workers),
            Figure::Robustness => robustness::robustness_size(inputs.runs),
            Figure::Breakdown => breakdown::breakdown_size(inputs.runs),
            // Configurations two to a legend row beside nothing, or one to a row beside the
            // memory categories.
            Figure::Convergence => grown(&[convergence::legend_strip(inputs.metrics)]),
            Figure::Time => grown(&[time::legend_strip(inputs.metrics)]),
            Figure::Partitions => grown(&partitions::strips(inputs.runs)),
            Figure::Memory => (FIGURE_SIZE.0, FIGURE_SIZE.1 + legend_growth(inputs.metrics, 1, 10)),
            _ => FIGURE_SIZE,
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        inputs: &Inputs<'_>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        match self {
            Figure::Convergence => draw_convergence(root, inputs.experiment, inputs.metrics),
            Figure::Memory => draw_memory(root, inputs.experiment, inputs.metrics),
            Figure::Partitions => draw_partitions(root, inputs.experiment, inputs.runs),
            Figure::Time => draw_time(root, inputs.experiment, inputs.runs, inputs.metrics),
            Figure::Timeline => draw_timeline(root, inputs.experiment, inputs.runs, inputs.traces.workers),
            Figure::Staleness => {
                draw_staleness(root, inputs.experiment, inputs.runs, inputs.metrics, inputs.traces.gradients)
            }
            Figure::Robustness => draw_robustness(root, inputs.experiment, inputs.runs),
            Figure::Optimizers => draw_optimizers(root, inputs.experiment, inputs.runs, inputs.metrics),
            Figure::Breakdown => draw_breakdown(root, inputs.experiment, inputs.runs),
        }
    }
}

/// [`FIGURE_SIZE`] grown by what `strips` need beyond the legend rows every such figure keeps.
fn grown(strips: &[legend::Strip]) -> (u32, u32) {
    (FIGURE_SIZE.0, FIGURE_SIZE.1 + legend::growth(strips, FIGURE_SIZE.0))
}

/// Extra height for a legend of configurations (`per_row` to a legend row) longer than the
/// `rows_in_size` rows [`FIGURE_SIZE`] leaves room for, so the panels keep the height their axis
/// titles need.
fn legend_growth(metrics: &[LongMetricsRow], per_row: usize, rows_in_size: usize) -> u32 {
    let labels: Vec<String> = series::label_looks(metrics).into_iter().map(|(label, _)| label).collect();
    // Long labels fit fewer to a row than the layout was planned for.
    let per_row = per_row.min(legend::columns_that_fit(&labels, FIGURE_SIZE.0));
    let rows = labels.len().div_ceil(per_row);
    (rows.saturating_sub(rows_in_size) * legend::ROW_H as usize) as u32
}

/// Draws every figure into `dir` as PNG and SVG and returns the paths written. The
/// experiment name in the titles is `dir`'s folder name. A figure without its data is skipped:
/// `partitions` needs at least two distinct partition counts, `time` simulated time, `timeline`
/// worker intervals, `staleness` a stale gradient.
pub fn draw_all(
    dir: &Path,
    runs: &[RunRow],
    metrics: &[LongMetricsRow],
    traces: Traces<'_>,
) -> Result<Vec<PathBuf>, ReportError> {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = named(dir).or_else(|| named(&dir.canonicalize().ok()?)).unwrap_or_else(|| "experiment".into());
    draw_all_titled(dir, &name, runs, metrics, traces)
}

/// As [`draw_all`], with the experiment name given (the runner draws into a staging folder).
pub fn draw_all_titled(
    dir: &Path,
    name: &str,
    runs: &[RunRow],
    metrics: &[LongMetricsRow],
    traces: Traces<'_>,
) -> Result<Vec<PathBuf>, ReportError> {
    ensure_font().map_err(|m| plot_error(dir, m))?;
    let inputs = Inputs { experiment: name, runs, metrics, traces };
    let mut figures = Vec::new();
    // Runs without per-epoch rows (`per_epoch = false`) have no curves to draw.
    if !metrics.is_empty() || runs.is_empty() {
        figures.extend([Figure::Convergence, Figure::Memory]);
    }
    if runs.iter().map(|r| r.partitions).collect::<BTreeSet<_>>().len() >= 2 {
        figures.push(Figure::Partitions);
    }
    if time::has_simulated_time(metrics) {
        figures.push(Figure::Time);
    }
    if timeline::has_timeline(traces.workers) {
        figures.push(Figure::Timeline);
    }
    if staleness::has_staleness(traces.gradients) {
        figures.push(Figure::Staleness);
    }
    if robustness::has_robustness(runs) {
        figures.push(Figure::Robustness);
    }
    if !metrics.is_empty() && optimizers::has_optimizers(runs) {
        figures.push(Figure::Optimizers);
    }
    if breakdown::has_breakdown(runs) {
        figures.push(Figure::Breakdown);
    }
    let mut written = Vec::with_capacity(2 * figures.len());
    for fig in figures {
        let png = dir.join(format!("{}.png", fig.stem()));
        write_png(&png, fig, &inputs)?;
        written.push(png);
        let svg = dir.join(format!("{}.svg", fig.stem()));
        write_svg(&svg, fig, &inputs)?;
        written.push(svg);
    }
    Ok(written)
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot { path: path.to_path_buf(), message: e.to_string() }
}

/// Renders into memory and writes the encoded PNG atomically: plotters' own file output
/// picks the format from the extension, which the temporary name does not have.
fn write_png(path: &Path, fig: Figure, inputs: &Inputs<'_>) -> Result<(), ReportError> {
    let (w, h) = fig.size(inputs);
    let mut rgb = vec![0u8; 3 * w as usize * h as usize];
    {
        let root = text::GlyphText(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        fig.draw(&root, inputs).map_err(|e| plot_error(path, e))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| plot_error(path, e))?;
    write_atomic(path, |out| out.write_all(&png))
}

fn write_svg(path: &Path, fig: Figure, inputs: &Inputs<'_>) -> Result<(), ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size(inputs)).into_drawing_area();
        fig.draw(&root, inputs).map_err(|e| plot_error(path, e))?;
    }
    write_atomic(path, |out| out.write_all(svg.as_bytes()))
}

/// Writes `validation.png` and `validation.svg` (square) into `dir`.
pub fn write_validation(dir: &Path, title: &str, points: &[ValidationPoint]) -> Result<Vec<PathBuf>, ReportError> {
    ensure_font().map_err(|m| plot_error(dir, m))?;
    let (w, h) = (1200, 1200);
    let png = dir.join("validation.png");
    let mut rgb = vec![0u8; 3 * w as usize * h as usize];
    {
        let root = text::GlyphText(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        draw_validation(&root, title, points).map_err(|e| plot_error(&png, e))?;
    }
    let encoded = encode_png(&rgb, w, h).map_err(|e| plot_error(&png, e))?;
    write_atomic(&png, |out| out.write_all(&encoded))?;
    let svg_path = dir.join("validation.svg");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_validation(&root, title, points).map_err(|e| plot_error(&svg_path, e))?;
    }
    write_atomic(&svg_path, |out| out.write_all(svg.as_bytes()))?;
    Ok(vec![png, svg_path])
}

/// A minimal PNG (8-bit RGB, filter 0 on every row, one zlib IDAT) from a packed RGB buffer;
/// flate2 is already a dependency, so no image crate is needed.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::io::Result<Vec<u8>> {
    let stride = 3 * w as usize;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for row in rgb.chunks_exact(stride).take(h as usize) {
        z.write_all(&[0])?;
        z.write_all(row)?;
    }
    let idat = z.finish()?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, filter method 0, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &idat);
    png_chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests;
