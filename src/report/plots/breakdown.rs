//! What a simulated round is made of: per configuration one horizontal bar of the mean time
//! per round a worker spends computing, exchanging boundary rows, pushing, idle while the server
//! updates, pulling and waiting (`runs.csv`'s `round_*_s`, mean over seeds). It shows why more
//! workers can be slower than one: on a launch-bound graph each worker's compute barely shrinks
//! while the exchange, the server's update of P gradients and the barrier grow. Bars run
//! horizontally with the labels at their left, so any number of configurations keeps its labels
//! apart; the figure grows a row per configuration.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::series::shorten_labels;
use super::style::*;
use crate::report::rows::RunRow;

/// The six states, their colours (wait in grey: time doing nothing).
const STATES: [(&str, RGBColor); 6] = [
    ("compute", PALETTE[0]),
    ("exchange", PALETTE[5]),
    ("push", PALETTE[1]),
    ("server", PALETTE[7]),
    ("pull", PALETTE[2]),
    ("wait", RGBColor(0xB0, 0xB0, 0xB0)),
];

/// Pixels per configuration's bar row.
const ROW_PX: u32 = 48;
/// Title, legend and axis above and below the bars.
const CHROME_PX: u32 = 300;

/// Whether any run has a breakdown (results written before it have simulated time but none).
pub fn has_breakdown(runs: &[RunRow]) -> bool {
    runs.iter().any(has_parts)
}

fn has_parts(r: &RunRow) -> bool {
    r.sim_seconds_per_round > 0.0 && r.round_compute_s + r.round_server_s + r.round_wait_s > 0.0
}

/// Grows with the configurations, never below 700 pixels.
pub fn breakdown_size(runs: &[RunRow]) -> (u32, u32) {
    (super::FIGURE_SIZE.0, (CHROME_PX + ROW_PX * bars(runs).len() as u32).max(700))
}

/// One configuration's bar: its label and the six states' milliseconds, mean over seeds.
struct Bar {
    label: String,
    ms: [f64; 6],
    seeds: usize,
}

/// The configurations in `runs.csv`'s order (serial first where the experiment lists it so).
fn bars(runs: &[RunRow]) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for r in runs.iter().filter(|r| has_parts(r)) {
        let parts =
            [r.round_compute_s, r.round_exchange_s, r.round_push_s, r.round_server_s, r.round_pull_s, r.round_wait_s];
        let bar = match out.iter_mut().position(|b| b.label == r.label) {
            Some(i) => &mut out[i],
            None => {
                out.push(Bar { label: r.label.clone(), ms: [0.0; 6], seeds: 0 });
                out.last_mut().expect("just pushed")
            }
        };
        for (m, s) in bar.ms.iter_mut().zip(parts) {
            *m += s * 1e3;
        }
        bar.seeds += 1;
    }
    for b in &mut out {
        for m in &mut b.ms {
            *m /= b.seeds as f64;
        }
    }
    out
}

pub fn draw_breakdown<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font();
    root.fill(&WHITE)?;
    let bars = bars(runs);
    let (w, _) = root.dim_in_pixel();
    let texts: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
    let (common, labels) = shorten_labels(&texts);
    let title = format!("{experiment}: what a simulated round is made of");
    root.draw_text(&title, &text(TITLE_PX).pos(Pos::new(HPos::Center, VPos::Top)), (w as i32 / 2, 12))?;
    let seeds = bars.iter().map(|b| b.seeds).max().unwrap_or(0);
    let note = [
        (!common.is_empty()).then(|| format!("every configuration: {common}")),
        (seeds > 1).then(|| "mean over seeds".to_string()),
    ];
    let note: Vec<String> = note.into_iter().flatten().collect();
    if !note.is_empty() {
        root.draw_text(&note.join("; "), &text(CAPTION_PX).pos(Pos::new(HPos::Center, VPos::Top)), (w as i32 / 2, 58))?;
    }
    draw_legend(root, 104)?;
    let (_, body) = root.split_vertically(150);
    let label_font = text(TICK_PX);
    let widest = labels
        .iter()
        .map(|l| body.estimate_text_size(l, &label_font).map(|s| s.0))
        .try_fold(0, |m, s| s.map(|s| m.max(s)))?;
    let label_w = (widest + 24).clamp(80, w / 2);
    let max_ms = bars.iter().map(|b| b.ms.iter().sum::<f64>()).fold(0.0, f64::max).max(1e-9);
    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(150)
        .x_label_area_size(64)
        .y_label_area_size(label_w)
        .build_cartesian_2d(0.0..max_ms * 1.02, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .label_style(text(TICK_PX))
        .axis_desc_style(text(AXIS_DESC_PX))
        .axis_style(BLACK.stroke_width(2))
        .x_desc("simulated milliseconds per round, mean over workers and rounds")
        .draw()?;
    for (i, bar) in bars.iter().enumerate() {
        let y = n - i as f64 - 0.5;
        let mut x = 0.0;
        for (&ms, (_, color)) in bar.ms.iter().zip(STATES) {
            if ms > 0.0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y - 0.32), (x + ms, y + 0.32)],
                    color.filled(),
                )))?;
            }
            x += ms;
        }
        let right = text(TICK_PX).pos(Pos::new(HPos::Right, VPos::Center));
        let left = text(TICK_PX).pos(Pos::new(HPos::Left, VPos::Center));
        let (px, py) = chart.backend_coord(&(0.0, y));
        let (bx, by) = root.get_base_pixel();
        root.draw_text(&labels[i], &right, (px - bx - 10, py - by))?;
        let (ex, _) = chart.backend_coord(&(x, y));
        root.draw_text(&format!("{x:.3} ms"), &left, (ex - bx + 8, py - by))?;
    }
    root.present()
}

/// The six states' colour swatches and names in one centred row at `y`.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    y: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = text(LEGEND_PX);
    let widths: Vec<u32> =
        STATES.iter().map(|(name, _)| root.estimate_text_size(name, &font).map(|s| s.0)).collect::<Result<_, _>>()?;
    let (swatch, gap, after) = (22i32, 8i32, 36i32);
    let total: i32 = widths.iter().map(|&t| swatch + gap + t as i32 + after).sum::<i32>() - after;
    let mut x = (root.dim_in_pixel().0 as i32 - total) / 2;
    for ((name, color), t) in STATES.iter().zip(widths) {
        root.draw(&Rectangle::new([(x, y - swatch / 2), (x + swatch, y + swatch / 2)], color.filled()))?;
        root.draw_text(name, &font.pos(Pos::new(HPos::Left, VPos::Center)), (x + swatch + gap, y))?;
        x += swatch + gap + t as i32 + after;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::tests::many_runs;

    /// The synthetic runs with their breakdown's sum as the time per round.
    fn runs() -> Vec<RunRow> {
        let mut runs = many_runs();
        for r in &mut runs {
            r.sim_seconds_per_round = r.round_compute_s
                + r.round_exchange_s
                + r.round_push_s
                + r.round_server_s
                + r.round_pull_s
                + r.round_wait_s;
        }
        runs
    }

    #[test]
    fn bars_are_means_over_seeds_in_the_runs_order() {
        let runs = runs();
        let b = bars(&runs);
        assert_eq!(b.len(), 17);
        let same: Vec<&RunRow> = runs.iter().filter(|r| r.label == runs[0].label).collect();
        let mean = same.iter().map(|r| r.round_compute_s).sum::<f64>() / same.len() as f64 * 1e3;
        assert_eq!((b[0].label.as_str(), b[0].seeds), (runs[0].label.as_str(), same.len()));
        assert!((b[0].ms[0] - mean).abs() < 1e-12);
        assert_eq!(breakdown_size(&runs).1, CHROME_PX + 17 * ROW_PX);
        assert!(!has_breakdown(&many_runs()), "no simulated time, no figure");
        let mut older = runs.clone();
        for r in &mut older {
            (r.round_compute_s, r.round_server_s, r.round_wait_s) = (0.0, 0.0, 0.0);
        }
        assert!(!has_breakdown(&older), "results written before the breakdown: no figure");
    }

    /// Every configuration's label is drawn once, at its own height, at least a text line
    /// apart from the next.
    #[test]
    fn labels_have_a_row_each() {
        let runs = runs();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, breakdown_size(&runs)).into_drawing_area();
            draw_breakdown(&root, "demo", &runs).unwrap();
        }
        let mut ys: Vec<f64> = Vec::new();
        for b in bars(&runs) {
            let needle = format!(">\n{}\n</text>", b.label);
            let at = svg.find(&needle).unwrap_or_else(|| panic!("no label {:?}", b.label));
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y = tag.split(" y=\"").nth(1).and_then(|t| t.split('"').next()).unwrap().parse().unwrap();
            ys.push(y);
        }
        for pair in ys.windows(2) {
            assert!(pair[1] - pair[0] >= TICK_PX, "labels at {} and {} overlap", pair[0], pair[1]);
        }
        for (name, _) in STATES {
            assert!(svg.contains(&format!(">\n{name}\n</text>")), "legend lacks {name}");
        }
    }
}
