//! Convergence against simulated time: what the consistency models trade. Training loss,
//! validation and test accuracy against the simulated cluster's clock, one line per label
//! (mean over seeds at each round, min–max band), and each configuration's time per round
//! against the accuracy it reaches.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::{LongMetricsRow, RunRow};

/// The accuracy axes start after this fraction of the time, as in the per-epoch figure.
const ZOOM_AFTER: f64 = 0.1;

/// Whether the rows carry simulated time (results written before the simulated cluster do not).
pub fn has_simulated_time(metrics: &[LongMetricsRow]) -> bool {
    metrics.iter().any(|r| r.sim_time_s > 0.0)
}

/// What the title calls the figure, and how it combines seeds.
const LEGEND_WORDS: (&str, &str) = ("convergence against simulated time", "mean at each round, band min–max");

/// The legend strip [`draw_time`] draws, for sizing its canvas.
pub(super) fn legend_strip(metrics: &[LongMetricsRow]) -> Strip {
    let (groups, note) = drawn_groups(metrics);
    configuration_legend("", &groups, &looks(&groups), note, LEGEND_WORDS).1
}

/// Four panels, 2 × 2: (a) training loss (log axis), (b) validation and (c) test accuracy
/// against simulated time, and (d) simulated time per round against the test accuracy at the
/// best validation epoch (mean over seeds, min–max bars).
pub fn draw_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
    metrics: &[LongMetricsRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font();
    let (groups, focus_note) = drawn_groups(metrics);
    let looks = looks(&groups);
    // The drawn configurations' time only: a focused figure leaves the others' longer runs out.
    let max_t = groups.iter().flat_map(|g| &g.rows).map(|r| r.sim_time_s).filter(|t| t.is_finite()).fold(0.0, f64::max);
    let (k, unit) = time_unit(max_t);
    let of = |value: fn(&LongMetricsRow) -> f64, keep: fn(f64) -> bool| -> Vec<Curve> {
        groups.iter().map(|g| Curve::over_time(&g.rows, value, keep).scale_x(k)).collect()
    };
    let loss = of(|r| r.train_loss, |v| v > 0.0);
    let valid = of(|r| r.valid_acc, |_| true);
    let test = of(|r| r.test_acc, |_| true);

    let (title, strip) = configuration_legend(experiment, &groups, &looks, focus_note, LEGEND_WORDS);
    let panels = layout_reserving(root, &title, (2, 2), &[strip])?;

    let x = Ticked::linear(0.0..(max_t * k * 1.02).max(1e-9), 8);
    let x_fmt = |v: &f64| x.label(*v);
    let x_desc = format!("simulated time ({unit})");

    // (a)
    draw_loss_panel(&panels[0], x.clone(), &x_desc, &x_fmt, &loss, &looks)?;

    // (b), (c): one accuracy range, zoomed past the first tenth of the time.
    let from = ZOOM_AFTER * max_t * k;
    let acc = accuracy_range(union(valid.iter().chain(&test).map(|c| c.y_bounds_from(from))));
    let acc = Ticked::linear(acc, 7);
    let acc_fmt = |v: &f64| acc.label(*v);
    let range = acc.range();
    for (panel, (caption, curves)) in
        panels[1..3].iter().zip([("(b) validation accuracy", &valid), ("(c) test accuracy", &test)])
    {
        let mut chart =
            panel_builder(panel).caption(caption, text(CAPTION_PX)).build_cartesian_2d(x.clone(), acc.clone())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_desc(&x_desc).y_desc("accuracy").x_label_formatter(&x_fmt).y_label_formatter(&acc_fmt).draw()?;
        draw_curves(&mut chart, curves, &looks, Some((range.start, range.end)))?;
    }

    // (d) what each configuration pays per round and what it reaches.
    let points = round_time_points(&groups, runs);
    let caption = "(d) time per round and accuracy (min–max bars)";
    if points.is_empty() {
        return empty_panel(&panels[3], caption, "no runs with simulated time").and_then(|_| root.present());
    }
    let max_round = points.iter().map(|p| p.round_s.1).fold(0.0, f64::max);
    let (kr, round_unit) = time_unit(max_round);
    let xr = Ticked::linear(padded(Some((0.0, max_round * kr)), Some(0.0)), 7);
    let yr = padded(union(points.iter().map(|p| Some(p.accuracy))), None);
    let yr = Ticked::linear(yr.start.max(0.0)..yr.end.min(1.0), 7);
    let (xr_fmt, yr_fmt) = (|v: &f64| xr.label(*v), |v: &f64| yr.label(*v));
    let mut chart =
        panel_builder(&panels[3]).caption(caption, text(CAPTION_PX)).build_cartesian_2d(xr.clone(), yr.clone())?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc(format!("simulated time per round ({round_unit}; P gradients applied)"))
        .y_desc("test acc. at best valid.")
        .x_label_formatter(&xr_fmt)
        .y_label_formatter(&yr_fmt)
        .draw()?;
    for p in &points {
        let look = looks[p.group];
        let style = look.color.stroke_width(2);
        let (mean_x, mean_y) = (p.round_mean * kr, p.accuracy_mean);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(p.round_s.0 * kr, mean_y), (p.round_s.1 * kr, mean_y)],
            style,
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(mean_x, p.accuracy.0), (mean_x, p.accuracy.1)],
            style,
        )))?;
        draw_marker(&chart, look.marker.unwrap_or(Marker::Circle), (mean_x, mean_y), look.color)?;
    }
    root.present()
}

/// One configuration in panel (d): means and min–max over its seeds.
struct RoundPoint {
    group: usize,
    round_mean: f64,
    round_s: (f64, f64),
    accuracy_mean: f64,
    accuracy: (f64, f64),
}

fn round_time_points(groups: &[Group<'_>], runs: &[RunRow]) -> Vec<RoundPoint> {
    let mut per_label: BTreeMap<&str, Vec<&RunRow>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.sim_seconds_per_round > 0.0) {
        per_label.entry(&r.label).or_default().push(r);
    }
    let stats = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max)))
    };
    groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let rs = per_label.get(g.label.as_str())?;
            let (round_mean, round_s) = stats(&rs.iter().map(|r| r.sim_seconds_per_round).collect::<Vec<_>>());
            let (accuracy_mean, accuracy) = stats(&rs.iter().map(|r| r.test_acc_at_best_valid).collect::<Vec<_>>());
            Some(RoundPoint { group: i, round_mean, round_s, accuracy_mean, accuracy })
        })
        .collect()
}
