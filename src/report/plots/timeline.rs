//! Timeline: what every worker of the simulated cluster does over a window of one run per
//! configuration (a Gantt chart from `workers.csv`): computing, exchanging boundary rows,
//! pushing, pulling, waiting, down. Configurations without a failure share one window, so their
//! panels compare at a glance; a run with a failure gets a window around it.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::{shorten_labels, PlotResult};
use super::style::*;
use crate::report::rows::{LongWorkerRow, RunRow};
use crate::sim::cluster::Activity;

/// Most panels drawn (configurations past it are left out, and the title says so).
const MAX_PANELS: usize = 12;
/// Most workers drawn per panel (the first ones; the caption says so).
const MAX_WORKERS: usize = 16;
/// The shared window spans this many rounds of the slowest configuration.
const WINDOW_ROUNDS: f64 = 12.0;
/// Pixel heights: one worker row, and a panel's caption and axis.
const ROW_PX: u32 = 26;
const PANEL_FRAME_PX: u32 = 130;

const ACTIVITIES: [(Activity, &str); 6] = [
    (Activity::Compute, "compute"),
    (Activity::Exchange, "boundary exchange"),
    (Activity::Push, "push gradient"),
    (Activity::Pull, "pull weights"),
    (Activity::Wait, "wait"),
    (Activity::Down, "down (failed)"),
];

fn color(a: Activity) -> RGBColor {
    match a {
        Activity::Compute => PALETTE[0],
        Activity::Exchange => PALETTE[5],
        Activity::Push => PALETTE[4],
        Activity::Pull => PALETTE[2],
        Activity::Wait => RGBColor(0xD8, 0xD8, 0xD8),
        Activity::Down => PALETTE[1],
    }
}

/// One panel: a run, the window shown and its workers' intervals.
struct Panel<'a> {
    caption: String,
    window: (f64, f64),
    workers: usize,
    rows: Vec<&'a LongWorkerRow>,
}

/// The panels of the figure: per label (in runs.csv order), the run with the lowest seed
/// that has worker intervals.
fn panels<'a>(runs: &[RunRow], workers: &'a [LongWorkerRow]) -> (Vec<Panel<'a>>, usize, String) {
    let mut by_run: BTreeMap<&str, Vec<&LongWorkerRow>> = BTreeMap::new();
    for w in workers {
        by_run.entry(&w.run_id).or_default().push(w);
    }
    let mut chosen: Vec<(&RunRow, Vec<&LongWorkerRow>)> = Vec::new();
    for r in runs.iter().filter(|r| !r.keep_versions) {
        let Some(rows) = by_run.get(r.run_id.as_str()) else { continue };
        match chosen.iter_mut().find(|(c, _)| c.label == r.label) {
            Some(c) if c.0.seed > r.seed => *c = (r, rows.clone()),
            Some(_) => {}
            None => chosen.push((r, rows.clone())),
        }
    }
    let total = chosen.len();
    chosen.truncate(MAX_PANELS);
    let first_down = |rows: &[&LongWorkerRow]| -> Option<(f64, f64)> {
        rows.iter()
            .filter(|w| w.activity == Activity::Down)
            .min_by(|a, b| a.start_s.total_cmp(&b.start_s))
            .map(|w| (w.start_s, w.end_s))
    };
    let end = |rows: &[&LongWorkerRow]| rows.iter().map(|w| w.end_s).fold(0.0, f64::max);
    // The shared window: WINDOW_ROUNDS rounds of the slowest configuration without a failure,
    // from a quarter into the shortest of those runs (past the start, in the steady state).
    let steady: Vec<&(&RunRow, Vec<&LongWorkerRow>)> =
        chosen.iter().filter(|(_, rows)| first_down(rows).is_none()).collect();
    let width = WINDOW_ROUNDS * steady.iter().map(|(r, _)| r.sim_seconds_per_round).fold(0.0, f64::max);
    let shortest = steady.iter().map(|(_, rows)| end(rows)).fold(f64::INFINITY, f64::min);
    let start = (0.25 * shortest).min(shortest - width).max(0.0);
    let shared = (start, (start + width).min(shortest));
    let labels: Vec<&str> = chosen.iter().map(|(r, _)| r.label.as_str()).collect();
    let (common, short) = shorten_labels(&labels);
    let panels = chosen
        .into_iter()
        .zip(short)
        .map(|((r, rows), label)| {
            let workers = rows.iter().map(|w| w.worker + 1).max().unwrap_or(0);
            let window = match first_down(&rows) {
                Some((down, up)) => {
                    let round = r.sim_seconds_per_round;
                    ((down - 4.0 * round).max(0.0), (up + 8.0 * round).min(end(&rows)))
                }
                None => shared,
            };
            let shown = if workers > MAX_WORKERS {
                format!(", workers 0–{} of {workers}", MAX_WORKERS - 1)
            } else {
                String::new()
            };
            Panel {
                caption: format!("{label} (seed {}{shown})", r.seed),
                window,
                workers: workers.min(MAX_WORKERS),
                rows,
            }
        })
        .collect();
    (panels, total, common)
}

/// Whether the figure has anything to show.
pub fn has_timeline(workers: &[LongWorkerRow]) -> bool {
    !workers.is_empty()
}

/// The figure's pixel size: the panels' rows of workers set its height.
pub fn timeline_size(runs: &[RunRow], workers: &[LongWorkerRow]) -> (u32, u32) {
    let (panels, _, _) = panels(runs, workers);
    let (grid_rows, _) = grid(panels.len());
    let tallest = panels.iter().map(|p| p.workers as u32).max().unwrap_or(1);
    let height = 260 + grid_rows as u32 * (PANEL_FRAME_PX + ROW_PX * tallest);
    (super::FIGURE_SIZE.0, height.clamp(600, 4000))
}

/// (rows, columns) of panels: one column for up to three, else two.
fn grid(n: usize) -> (usize, usize) {
    if n <= 3 {
        (n.max(1), 1)
    } else {
        (n.div_ceil(2), 2)
    }
}

pub fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
    workers: &[LongWorkerRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font();
    let (panels, total, common) = panels(runs, workers);
    let mut notes = Vec::new();
    if !common.is_empty() {
        notes.push(common);
    }
    if total > panels.len() {
        notes.push(format!("first {} of {total} configurations", panels.len()));
    }
    let mut title = format!("{experiment}: worker timeline");
    if !notes.is_empty() {
        title = format!("{title} ({})", notes.join("; "));
    }
    let present: Vec<Activity> = ACTIVITIES
        .iter()
        .map(|(a, _)| *a)
        .filter(|a| panels.iter().any(|p| p.rows.iter().any(|w| w.activity == *a && in_window(w, p.window))))
        .collect();
    let entries = ACTIVITIES
        .iter()
        .filter(|(a, _)| present.contains(a))
        .map(|(a, name)| Entry::line(*name, Look::plain(color(*a), 18, Dash::Solid)))
        .collect();
    let areas = layout_grid(root, &title, grid(panels.len()), &[Strip { heading: None, entries }])?;
    if panels.is_empty() {
        return empty_panel(&areas[0], "", "no worker intervals").and_then(|_| root.present());
    }
    let longest = panels.iter().map(|p| p.window.1 - p.window.0).fold(0.0, f64::max);
    let (k, unit) = time_unit(longest);
    for (area, p) in areas.iter().zip(&panels) {
        draw_panel(area, p, k, unit)?;
    }
    root.present()
}

fn in_window(w: &LongWorkerRow, (from, to): (f64, f64)) -> bool {
    w.end_s > from && w.start_s < to && w.worker < MAX_WORKERS
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel<'_>, k: f64, unit: &str) -> PlotResult<DB> {
    let (from, to) = p.window;
    let x = Ticked::linear(from * k..(to * k).max(from * k + 1e-9), 8);
    let y = Ticked::categories(p.workers);
    let n = p.workers;
    let x_fmt = |v: &f64| x.label(*v);
    // Worker 0 on top: row i is drawn at n − 1 − i.
    let y_fmt = |v: &f64| format!("w{}", (n - 1).saturating_sub(v.round().max(0.0) as usize));
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .margin_right(28)
        .x_label_area_size(52)
        .y_label_area_size(70)
        .caption(&p.caption, text(AXIS_DESC_PX))
        .build_cartesian_2d(x.clone(), y)?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.disable_y_mesh()
        .x_desc(format!("simulated time ({unit})"))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    let bars = p.rows.iter().filter(|w| in_window(w, p.window) && w.end_s > w.start_s).map(|w| {
        let row = (n - 1 - w.worker) as f64;
        let (x0, x1) = (w.start_s.max(from) * k, w.end_s.min(to) * k);
        Rectangle::new([(x0, row - 0.36), (x1, row + 0.36)], color(w.activity).filled())
    });
    chart.draw_series(bars)?;
    Ok(())
}
