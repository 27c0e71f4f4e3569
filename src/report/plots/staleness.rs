//! Staleness: how old the weights were that each applied gradient was computed from (the
//! version it was applied to minus the version it was computed from), from `gradients.csv`.
//! (a) the distribution per configuration, pooled over seeds; (b) the mean per round.

use std::collections::{BTreeMap, HashMap};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::{LongGradientRow, LongMetricsRow, RunRow};
use crate::sim::cluster::Fate;

/// Whether any applied gradient was stale (BSP never is: no figure then).
pub fn has_staleness(gradients: &[LongGradientRow]) -> bool {
    gradients.iter().any(|g| g.fate == Fate::Applied && g.staleness.unwrap_or(0) > 0)
}

/// Per label (in legend order) with any stale gradient: the count of applied gradients at each
/// staleness, pooled over seeds.
fn histograms(
    looks: &[(String, Look)],
    runs: &[RunRow],
    gradients: &[LongGradientRow],
) -> Vec<(String, Look, BTreeMap<u64, u64>)> {
    let label_of: HashMap<&str, &str> = runs.iter().map(|r| (r.run_id.as_str(), r.label.as_str())).collect();
    let mut counts: HashMap<&str, BTreeMap<u64, u64>> = HashMap::new();
    for g in gradients.iter().filter(|g| g.fate == Fate::Applied) {
        let (Some(label), Some(s)) = (label_of.get(g.run_id.as_str()), g.staleness) else { continue };
        *counts.entry(label).or_default().entry(s).or_default() += 1;
    }
    looks
        .iter()
        .filter_map(|(label, look)| {
            let h = counts.remove(label.as_str())?;
            h.keys().any(|s| *s > 0).then(|| (label.clone(), *look, h))
        })
        .collect()
}

pub fn draw_staleness<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
    metrics: &[LongMetricsRow],
    gradients: &[LongGradientRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font();
    let looks = label_looks(metrics);
    let hists = histograms(&looks, runs, gradients);
    let left_out = looks.len() - hists.len();
    let labels: Vec<&str> = hists.iter().map(|(l, _, _)| l.as_str()).collect();
    let (common, texts) = shorten_labels(&labels);
    let title = format!("{experiment}: staleness of applied gradients");
    // Said over the legend: what every line shares, and the configurations left out.
    let mut notes: Vec<String> = (!common.is_empty()).then_some(common).into_iter().collect();
    if left_out > 0 {
        let s = if left_out == 1 { "" } else { "s" };
        notes.push(format!("not shown: {left_out} configuration{s} never stale (BSP, or S = 0)"));
    }
    let heading = (!notes.is_empty()).then(|| notes.join("; "));
    let entries = texts.into_iter().zip(&hists).map(|(text, (_, look, _))| Entry::line(text, *look)).collect();
    let panels = layout(root, &title, 2, &[Strip { heading, entries }])?;

    // (a) Fractions span decades (ASP's tail): log axis; empty bins break the line.
    let fractions: Vec<Vec<(f64, f64)>> = hists
        .iter()
        .map(|(_, _, h)| {
            let total: u64 = h.values().sum();
            h.iter().map(|(s, n)| (*s as f64, *n as f64 / total as f64)).collect()
        })
        .collect();
    let max_s = fractions.iter().flatten().map(|p| p.0).fold(0.0, f64::max);
    let x = Ticked::counts(-0.5..max_s + 0.5, 10);
    let x_fmt = |v: &f64| x.label(*v);
    let y = log_padded(union(fractions.iter().flatten().map(|p| Some((p.1, p.1)))).map(|(lo, _)| (lo, 1.0)));
    let ticks = log_ticks(&y);
    let y_fmt = |v: &f64| fmt_sci(*v);
    let mut chart = panel_builder(&panels[0])
        .caption("(a) distribution (pooled over seeds)", text(CAPTION_PX))
        .build_cartesian_2d(x.clone(), y.log_scale().with_key_points(ticks))?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc("staleness (versions)")
        .y_desc("fraction of applied gradients (log)")
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    for (pts, (_, look, _)) in fractions.iter().zip(&hists) {
        for run in consecutive(pts) {
            draw_line(&mut chart, run, *look)?;
        }
        for p in pts {
            draw_marker(&chart, look.marker.unwrap_or(Marker::Circle), *p, look.color)?;
        }
    }

    // (b) Mean staleness of the gradients applied in each round.
    let groups: Vec<Group<'_>> =
        group_by_label(metrics).into_iter().filter(|g| labels.contains(&g.label.as_str())).collect();
    let curve_looks: Vec<Look> =
        groups.iter().map(|g| hists.iter().find(|h| h.0 == g.label).map(|h| h.1).unwrap_or(Look::serial())).collect();
    let curves: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.staleness_mean, |_| true)).collect();
    let x = epoch_range(union(curves.iter().map(Curve::x_bounds)));
    let y = Ticked::linear(padded(union(curves.iter().map(Curve::y_bounds)), Some(0.0)), 7);
    let y_fmt = |v: &f64| y.label(*v);
    let e_fmt = |v: &f64| fmt_num(*v);
    let mut chart =
        panel_builder(&panels[1]).caption("(b) mean per round", text(CAPTION_PX)).build_cartesian_2d(x, y.clone())?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc("round (P gradients applied)")
        .y_desc("mean staleness (versions)")
        .x_label_formatter(&e_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    draw_curves(&mut chart, &curves, &curve_looks, None)?;
    root.present()
}

/// The runs of points at consecutive staleness values: a line joins only neighbouring bins.
fn consecutive(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    for p in points {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|q| p.0 - q.0 == 1.0) => run.push(*p),
            _ => runs.push(vec![*p]),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::consecutive;

    #[test]
    fn lines_join_neighbouring_bins_only() {
        let pts = [(0.0, 0.1), (1.0, 0.2), (3.0, 0.3), (4.0, 0.1), (6.0, 0.05)];
        let runs = consecutive(&pts);
        assert_eq!(runs, vec![vec![(0.0, 0.1), (1.0, 0.2)], vec![(3.0, 0.3), (4.0, 0.1)], vec![(6.0, 0.05)]]);
    }
}
