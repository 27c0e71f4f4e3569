//! Partitions: edge cut, halo nodes and final test accuracy against the number of partitions,
//! one line per (partitioner, boundary).

use std::collections::{BTreeMap, BTreeSet};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::RunRow;

/// Horizontal offset between neighbouring lines at one P (in category widths), so lines with
/// equal values (edge cut does not depend on the boundary mode) stay side by side.
const DODGE: f64 = 0.07;

/// The quantity a panel plots, from one run.
type Metric = fn(&RunRow) -> f64;

/// Mean and min–max over seeds of one quantity at one P.
#[derive(Clone, Copy, Debug)]
struct Stat {
    mean: f64,
    lo: f64,
    hi: f64,
}

fn stat(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
    let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| Stat {
        mean: v.iter().sum::<f64>() / v.len() as f64,
        lo: v.iter().copied().fold(f64::INFINITY, f64::min),
        hi: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// One drawn series: its look (marker included), x offset and runs per P.
struct Series<'a> {
    serial: bool,
    look: Look,
    dodge: f64,
    by_p: BTreeMap<usize, Vec<&'a RunRow>>,
}

impl Series<'_> {
    /// (x, stat) per P, x being the category index of P plus this series' offset.
    fn points(&self, x_of: &BTreeMap<usize, usize>, value: impl Fn(&RunRow) -> f64) -> Vec<(f64, Stat)> {
        self.by_p
            .iter()
            .filter_map(|(p, rs)| Some((x_of[p] as f64 + self.dodge, stat(rs.iter().map(|r| value(r)))?)))
            .collect()
    }
}

/// Three panels against P (categorical axis: 1, 2, 4, … as present in runs.csv).
pub fn draw_partitions<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font(); // a failure shows up as the font error of the first text
    let ps: BTreeSet<usize> = runs.iter().map(|r| r.partitions).collect();
    let x_of: BTreeMap<usize, usize> = ps.iter().enumerate().map(|(i, p)| (*p, i)).collect();

    let mut combos: BTreeMap<(&str, &str), BTreeMap<usize, Vec<&RunRow>>> = BTreeMap::new();
    let mut serial: BTreeMap<usize, Vec<&RunRow>> = BTreeMap::new();
    for r in runs {
        if r.is_serial() {
            serial.entry(1).or_default().push(r);
        } else {
            combos.entry((&r.partitioner, &r.boundary)).or_default().entry(r.partitions).or_default().push(r);
        }
    }
    let boundaries: Vec<&str> = combos.keys().map(|k| k.1).collect::<BTreeSet<_>>().into_iter().collect();
    let n = combos.len();
    let mut entries = Vec::new();
    let mut series = Vec::new();
    if !serial.is_empty() {
        let look = Look { marker: Some(Marker::Circle), ..Look::serial() };
        entries.push(Entry::line("serial (P = 1)", look));
        series.push(Series { serial: true, look, dodge: 0.0, by_p: serial });
    }
    for (k, ((partitioner, boundary), by_p)) in combos.into_iter().enumerate() {
        // Colour per combination, marker shape per boundary mode.
        let marker = Marker::nth(boundaries.iter().position(|b| *b == boundary).unwrap_or(0));
        let look = Look { width: LINE_WIDTH + 1, marker: Some(marker), ..Look::nth(k) };
        entries.push(Entry::line(format!("{partitioner} partitioner, {boundary} boundary"), look));
        series.push(Series { serial: false, look, dodge: (k as f64 - (n as f64 - 1.0) / 2.0) * DODGE, by_p });
    }

    let title = format!("{experiment}: effect of the number of partitions (mean over seeds, bars: min–max)");
    let panels = layout(root, &title, 3, &[Strip { heading: None, entries }])?;

    let x = Ticked::categories(ps.len()).range();
    let p_names: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    let x_fmt = |v: &f64| p_names.get(v.round().max(0.0) as usize).cloned().unwrap_or_default();

    let panels_spec: [(&str, &str, Metric); 3] = [
        ("(a) edge cut", "edges cut (undirected)", |r| r.edge_cut as f64),
        ("(b) halo nodes", "halo nodes (sum over partitions)", |r| r.halo_nodes as f64),
        ("(c) final test accuracy", "test accuracy (fraction correct)", |r| r.final_test_acc),
    ];
    for (i, (panel, (caption, y_desc, value))) in panels.iter().zip(panels_spec).enumerate() {
        let is_acc = i == 2;
        let points: Vec<Vec<(f64, Stat)>> = series.iter().map(|s| s.points(&x_of, value)).collect();
        let bounds = union(points.iter().flatten().map(|(_, s)| Some((s.lo, s.hi))));
        let y = if is_acc {
            let r = padded(bounds, None);
            r.start.max(0.0)..r.end.min(1.0)
        } else {
            padded(bounds.map(|(lo, hi)| (lo, hi.max(1.0))), Some(0.0))
        };
        let y_axis = if is_acc { Ticked::linear(y, 7) } else { Ticked::counts(y, 7) };
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, text(CAPTION_PX))
            .margin(10)
            .margin_right(28)
            .x_label_area_size(64)
            .y_label_area_size(96)
            .build_cartesian_2d(Ticked::categories(ps.len()), y_axis.clone())?;
        let y_fmt = |v: &f64| if is_acc { y_axis.label(*v) } else { fmt_count(*v) };
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_desc("partitions P").y_desc(y_desc).x_label_formatter(&x_fmt).y_label_formatter(&y_fmt).draw()?;

        // Serial accuracy as a reference across all P: the gap to it is the cost of partitioning.
        if is_acc {
            if let Some(s) = series.first().filter(|s| s.serial).and_then(|s| {
                let rs: Vec<f64> = s.by_p.values().flatten().map(|r| r.final_test_acc).collect();
                stat(rs)
            }) {
                let (a, b) = (x.start, x.end);
                chart.draw_series(std::iter::once(Rectangle::new([(a, s.lo), (b, s.hi)], BLACK.mix(0.08).filled())))?;
                chart.draw_series(DashedLineSeries::new(
                    vec![(a, s.mean), (b, s.mean)],
                    10,
                    8,
                    BLACK.stroke_width(2),
                ))?;
            }
        }
        for (s, pts) in series.iter().zip(&points) {
            let line: Vec<(f64, f64)> = pts.iter().map(|(x, st)| (*x, st.mean)).collect();
            draw_line(&mut chart, line, s.look)?;
            for (x, st) in pts {
                if st.hi > st.lo {
                    error_bar(&mut chart, *x, *st, s.look.color)?;
                }
                if let Some(m) = s.look.marker {
                    draw_marker(&chart, m, (*x, st.mean), s.look.color)?;
                }
            }
        }
    }
    root.present()
}

/// A vertical min–max bar with 7-pixel caps.
fn error_bar<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    x: f64,
    st: Stat,
    color: RGBColor,
) -> PlotResult<DB> {
    let style = color.stroke_width(2);
    chart.draw_series(std::iter::once(PathElement::new(vec![(x, st.lo), (x, st.hi)], style)))?;
    for y in [st.lo, st.hi] {
        chart
            .draw_series(std::iter::once(EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], style)))?;
    }
    Ok(())
}
