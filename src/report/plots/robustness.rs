//! Robustness: heat maps of final test accuracy, attack (rows) × aggregator (columns), one panel
//! per partitioner and number of Byzantine workers F, from `runs.csv` alone. Runs without
//! attackers (F = 0) head every panel as the row "no attack (F = 0)", the baseline each
//! aggregator's column is read against. A cell averages the seeds of its configuration; a
//! configuration that was not run (Krum needs n ≥ 2f + 3) is grey. Serial runs have no workers
//! to attack and are left out.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::series::ordered;
use super::style::*;
use crate::report::rows::RunRow;

/// Cell and label sizes in pixels.
const CELL_W: i32 = 126;
const CELL_H: i32 = 46;
const ROW_LABEL_W: i32 = 210;
const HEADER_H: i32 = 78;
const PANEL_TITLE_H: i32 = 44;
const PANEL_GAP: i32 = 36;
const TITLE_H: i32 = 64;
const SCALE_H: i32 = 110;

/// Whether the runs compare attacks or aggregators with Byzantine workers or robust rules.
pub fn has_robustness(runs: &[RunRow]) -> bool {
    let runs = &distributed(runs);
    let robust = runs.iter().any(|r| r.byzantine > 0 || !matches!(r.aggregate.as_str(), "weighted" | "mean" | "sum"));
    let columns: BTreeSet<String> = runs.iter().map(column_of).collect();
    let attacks: BTreeSet<&str> = runs.iter().filter(|r| r.byzantine > 0).map(|r| r.attack.as_str()).collect();
    robust && (columns.len() >= 2 || attacks.len() >= 2)
}

/// The runs with workers (P > 1).
fn distributed(runs: &[RunRow]) -> Vec<RunRow> {
    runs.iter().filter(|r| r.partitions > 1).cloned().collect()
}

fn column_of(r: &RunRow) -> String {
    if r.pre_aggregate.is_empty() || r.pre_aggregate == "none" {
        r.aggregate.clone()
    } else {
        format!("{} → {}", r.pre_aggregate, r.aggregate)
    }
}

struct Layout {
    partitioners: Vec<String>,
    /// F of each panel column (the F ≥ 1 present; just 0 when no run has attackers).
    fs: Vec<usize>,
    /// Row keys: `None` = the F = 0 baseline, else an attack.
    rows: Vec<Option<String>>,
    columns: Vec<String>,
}

impl Layout {
    fn of(runs: &[RunRow]) -> Self {
        let partitioners = ordered(runs.iter().map(|r| r.partitioner.clone()));
        let mut fs: Vec<usize> =
            runs.iter().map(|r| r.byzantine).filter(|&f| f > 0).collect::<BTreeSet<_>>().into_iter().collect();
        let baseline = runs.iter().any(|r| r.byzantine == 0);
        if fs.is_empty() {
            fs.push(0);
        }
        let mut rows: Vec<Option<String>> = Vec::new();
        if baseline {
            rows.push(None);
        }
        rows.extend(ordered(runs.iter().filter(|r| r.byzantine > 0).map(|r| Some(r.attack.clone()))));
        Self { partitioners, fs, rows, columns: ordered(runs.iter().map(column_of)) }
    }

    fn panel_size(&self) -> (i32, i32) {
        (ROW_LABEL_W + CELL_W * self.columns.len() as i32, PANEL_TITLE_H + HEADER_H + CELL_H * self.rows.len() as i32)
    }
}

/// Pixel size of the figure for these runs.
pub fn robustness_size(runs: &[RunRow]) -> (u32, u32) {
    let runs = &distributed(runs);
    let l = Layout::of(runs);
    let (pw, ph) = l.panel_size();
    let cols = l.fs.len() as i32;
    let rows = l.partitioners.len() as i32;
    let w = cols * pw + (cols + 1) * PANEL_GAP;
    let h = TITLE_H + rows * ph + (rows - 1).max(0) * PANEL_GAP + SCALE_H;
    // Wide enough for the title (about 0.55 em per character; the experiment's name is not known
    // here: room for 24 characters of it).
    let title_w = ((title(runs).chars().count() + 24) as f64 * TITLE_PX * 0.55) as i32 + 2 * PANEL_GAP;
    (w.max(900).max(title_w) as u32, h as u32)
}

/// The title after the experiment's name.
fn title(runs: &[RunRow]) -> String {
    let workers: BTreeSet<usize> = runs.iter().map(|r| r.partitions).collect();
    let seeds: BTreeSet<u64> = runs.iter().map(|r| r.seed).collect();
    let p = workers.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    let seed_note = if seeds.len() > 1 { format!(", mean over {} seeds", seeds.len()) } else { String::new() };
    format!("final test accuracy, attack × aggregator (P = {p}{seed_note})")
}

/// Viridis (matplotlib's default map, readable by colour-blind viewers) at t ∈ [0, 1].
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 8] = [
        (68, 1, 84),
        (70, 50, 127),
        (54, 92, 141),
        (39, 127, 143),
        (31, 162, 136),
        (74, 194, 110),
        (160, 219, 57),
        (254, 232, 37),
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Readable names for column headers: (name, parameters).
fn column_header(column: &str) -> (String, String) {
    let (pre, rule) = match column.split_once(" → ") {
        Some((pre, rule)) => (Some(pre), rule),
        None => (None, column),
    };
    let (name, params) = rule.split_once(':').unwrap_or((rule, ""));
    let name = match name {
        "trimmed_mean" => "trimmed mean",
        "multi_krum" => "multi-Krum",
        "krum" => "Krum",
        "geometric_median" => "geo. median",
        "centered_clipping" => "cent. clipping",
        other => other,
    };
    let mut second: Vec<String> = Vec::new();
    if let Some(pre) = pre {
        second.push(format!("after {pre}"));
    }
    if !params.is_empty() {
        second.push(params.replace("tau", "τ").replace(',', " "));
    }
    (name.to_string(), second.join(", "))
}

fn row_label(row: &Option<String>) -> String {
    match row {
        None => "no attack (F = 0)".to_string(),
        Some(a) => {
            // `of=own` (the attacker's own gradient rather than the honest mean) as a suffix.
            let (a, own) = match a.strip_suffix("of=own") {
                Some(rest) => (rest.trim_end_matches([',', ':']), " (own g)"),
                None => (a.as_str(), ""),
            };
            format!("{}{own}", a.replace(":factor=", " ×").replace([':', '_'], " "))
        }
    }
}

pub fn draw_robustness<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font();
    root.fill(&WHITE)?;
    let runs = &distributed(runs);
    let l = Layout::of(runs);
    let (w, _) = root.dim_in_pixel();
    let title = format!("{experiment}: {}", title(runs));
    let centre = Pos::new(HPos::Center, VPos::Center);
    root.draw(&Text::new(title, (w as i32 / 2, TITLE_H / 2), text(TITLE_PX).pos(centre)))?;
    let (pw, ph) = l.panel_size();
    // Panels centred when the title makes the figure wider than they are.
    let panels_w = l.fs.len() as i32 * pw + (l.fs.len() as i32 + 1) * PANEL_GAP;
    let left = ((w as i32 - panels_w) / 2).max(0);
    let grey = RGBColor(0xDD, 0xDD, 0xDD);
    for (pi, partitioner) in l.partitioners.iter().enumerate() {
        for (fi, &f) in l.fs.iter().enumerate() {
            let x0 = left + PANEL_GAP + fi as i32 * (pw + PANEL_GAP);
            let y0 = TITLE_H + pi as i32 * (ph + PANEL_GAP);
            let panel_title =
                if f == 0 { format!("{partitioner} partitions") } else { format!("{partitioner} partitions, F = {f}") };
            root.draw(&Text::new(panel_title, (x0 + pw / 2, y0 + PANEL_TITLE_H / 2), text(CAPTION_PX).pos(centre)))?;
            let grid_x = x0 + ROW_LABEL_W;
            let grid_y = y0 + PANEL_TITLE_H + HEADER_H;
            for (ci, column) in l.columns.iter().enumerate() {
                let (name, params) = column_header(column);
                let cx = grid_x + ci as i32 * CELL_W + CELL_W / 2;
                let y = grid_y - HEADER_H / 2;
                if params.is_empty() {
                    root.draw(&Text::new(name, (cx, y), text(TICK_PX).pos(centre)))?;
                } else {
                    root.draw(&Text::new(name, (cx, y - 12), text(TICK_PX).pos(centre)))?;
                    root.draw(&Text::new(params, (cx, y + 14), text(TICK_PX * 0.85).pos(centre)))?;
                }
            }
            for (ri, row) in l.rows.iter().enumerate() {
                let y = grid_y + ri as i32 * CELL_H;
                let label_pos = Pos::new(HPos::Right, VPos::Center);
                root.draw(&Text::new(row_label(row), (grid_x - 10, y + CELL_H / 2), text(TICK_PX).pos(label_pos)))?;
                for (ci, column) in l.columns.iter().enumerate() {
                    let cell: Vec<f64> = runs
                        .iter()
                        .filter(|r| &r.partitioner == partitioner && column_of(r) == *column)
                        .filter(|r| match row {
                            None => r.byzantine == 0,
                            Some(a) => r.byzantine == f && &r.attack == a,
                        })
                        .map(|r| r.final_test_acc)
                        .collect();
                    let x = grid_x + ci as i32 * CELL_W;
                    let rect = [(x + 1, y + 1), (x + CELL_W - 1, y + CELL_H - 1)];
                    if cell.is_empty() {
                        root.draw(&Rectangle::new(rect, grey.filled()))?;
                        root.draw(&Text::new("n/a", (x + CELL_W / 2, y + CELL_H / 2), text(TICK_PX).pos(centre)))?;
                        continue;
                    }
                    let v = cell.iter().sum::<f64>() / cell.len() as f64;
                    root.draw(&Rectangle::new(rect, viridis(v).filled()))?;
                    let ink = if v < 0.6 { WHITE } else { BLACK };
                    let style = text(TICK_PX).color(&ink).pos(centre);
                    root.draw(&Text::new(format!("{v:.2}"), (x + CELL_W / 2, y + CELL_H / 2), style))?;
                }
            }
        }
    }
    // The colour scale.
    let (_, h) = root.dim_in_pixel();
    let bar_w = 600;
    let (bx, by) = ((w as i32 - bar_w) / 2, h as i32 - SCALE_H + 34);
    for i in 0..bar_w {
        let c = viridis(i as f64 / (bar_w - 1) as f64);
        root.draw(&Rectangle::new([(bx + i, by), (bx + i + 1, by + 22)], c.filled()))?;
    }
    for k in 0..=5 {
        let v = k as f64 / 5.0;
        let x = bx + (v * (bar_w - 1) as f64) as i32;
        root.draw(&Text::new(format!("{v:.1}"), (x, by + 38), text(TICK_PX).pos(centre)))?;
    }
    root.draw(&Text::new("final test accuracy", (w as i32 / 2, by - 16), text(TICK_PX).pos(centre)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(254, 232, 37));
        assert_eq!(viridis(2.0), viridis(1.0));
    }

    #[test]
    fn headers_are_readable() {
        assert_eq!(column_header("centered_clipping:tau=0.1"), ("cent. clipping".into(), "τ=0.1".into()));
        assert_eq!(column_header("nnm → median"), ("median".into(), "after nnm".into()));
        assert_eq!(row_label(&Some("scaled:factor=-10".into())), "scaled ×-10");
        assert_eq!(row_label(&Some("scaled:factor=-10,of=own".into())), "scaled ×-10 (own g)");
        assert_eq!(row_label(&Some("sign_flip:of=own".into())), "sign flip (own g)");
        assert_eq!(row_label(&None), "no attack (F = 0)");
    }
}
