//! Partitions: edge cut, halo (boundary) nodes and final test accuracy against the number of
//! partitions. Colour = partitioner, line style and marker = boundary mode; a quantity that does
//! not depend on the boundary mode (the edge cut) is drawn once per partitioner, and series that
//! are zero everywhere (no halo) are left out and named in the caption.

use std::collections::{BTreeMap, BTreeSet};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::RunRow;

/// Horizontal offset between neighbouring series at one P (in category widths), so series with
/// equal values stay side by side.
const DODGE: f64 = 0.07;

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

/// One drawn series: its look, x offset and runs per P.
struct Series<'a> {
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

/// Partitioners in a fixed colour order, so metis is blue in every figure of every experiment.
fn partitioner_color(name: &str, others: &[&str]) -> RGBColor {
    match name {
        "metis" => PALETTE[0],
        "random" => PALETTE[1],
        "contiguous" => PALETTE[2],
        _ => PALETTE[3 + others.iter().position(|o| *o == name).unwrap_or(0) % (PALETTE.len() - 3)],
    }
}

/// Boundary modes, each with its own line and marker in every figure.
fn boundary_style(name: &str, all: &[&str]) -> (Dash, Marker) {
    match name {
        "exchange" => (Dash::Solid, Marker::Circle),
        "replicate" | "exact" => (Dash::Short, Marker::Square),
        "drop" => (Dash::Dotted, Marker::Diamond),
        "stale" => (Dash::Long, Marker::Triangle),
        "sample" => (Dash::Dashed, Marker::Wedge),
        other => {
            let i = all.iter().position(|a| *a == other).unwrap_or(0);
            (Dash::ALL[i % Dash::ALL.len()], Marker::nth(i))
        }
    }
}

/// Three panels against P (categorical axis: 1, 2, 4, … as present in runs.csv).
/// A linear panel: caption, y-axis description, its series and the value each run gives.
type PanelSpec<'a> = (&'a str, &'a str, &'a [&'a Series<'a>], fn(&RunRow) -> f64);

pub fn draw_partitions<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font(); // a failure shows up as the font error of the first text
    let ps: BTreeSet<usize> = runs.iter().map(|r| r.partitions).collect();
    let x_of: BTreeMap<usize, usize> = ps.iter().enumerate().map(|(i, p)| (*p, i)).collect();

    let (combos, by_partitioner, serial) = group_runs(runs);
    let partitioners: Vec<&str> = by_partitioner.keys().copied().collect();
    let boundaries: Vec<&str> = combos.keys().map(|k| k.1).collect::<BTreeSet<_>>().into_iter().collect();
    let color = |p: &str| partitioner_color(p, &partitioners);
    let style = |b: &str| boundary_style(b, &boundaries);

    let strips = legend_strips(&partitioners, &boundaries, !serial.is_empty());
    let title = format!("{experiment}: effect of the number of partitions (mean over seeds, bars: min–max)");
    let panels = layout_reserving(root, &title, (2, 2), &strips)?;

    let n = combos.len();
    let combo_series: Vec<Series> = combos
        .into_iter()
        .enumerate()
        .map(|(k, ((partitioner, boundary), by_p))| {
            let (dash, marker) = style(boundary);
            let look = Look { color: color(partitioner), width: LINE_WIDTH + 1, dash, marker: Some(marker) };
            Series { look, dodge: (k as f64 - (n as f64 - 1.0) / 2.0) * DODGE, by_p }
        })
        .collect();
    let m = by_partitioner.len();
    let serial_look = Look { marker: Some(Marker::Circle), ..Look::serial() };
    let serial_series = (!serial.is_empty()).then(|| Series {
        look: serial_look,
        dodge: 0.0,
        by_p: BTreeMap::from([(1, serial.clone())]),
    });
    let partitioner_series: Vec<Series> = by_partitioner
        .into_iter()
        .enumerate()
        .map(|(k, (p, by_p))| Series {
            look: Look { color: color(p), width: LINE_WIDTH + 1, dash: Dash::Solid, marker: Some(Marker::Circle) },
            dodge: (k as f64 - (m as f64 - 1.0) / 2.0) * DODGE,
            by_p,
        })
        .collect();

    // (a) The cut depends on the partitioner only: one line each.
    let cut: Vec<&Series> = serial_series.iter().chain(&partitioner_series).collect();
    // (b) Boundary nodes per (partitioner, boundary); modes holding none are named instead.
    let halo_value = |r: &RunRow| r.halo_nodes as f64;
    let (with_halo, without): (Vec<&Series>, Vec<&Series>) =
        combo_series.iter().partition(|s| s.by_p.values().flatten().any(|r| r.halo_nodes > 0));
    let none: BTreeSet<&str> =
        without.iter().flat_map(|s| s.by_p.values().flatten().map(|r| r.boundary.as_str())).collect();
    let halo_caption = if none.is_empty() {
        "(b) halo / boundary nodes".to_string()
    } else {
        format!("(b) halo / boundary nodes (none: {})", none.into_iter().collect::<Vec<_>>().join(", "))
    };
    // (c) Accuracy per (partitioner, boundary), serial as the reference band.
    let acc: Vec<&Series> = combo_series.iter().collect();

    let p_names: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    let x_fmt = |v: &f64| p_names.get(v.round().max(0.0) as usize).cloned().unwrap_or_default();
    let specs: [PanelSpec<'_>; 3] = [
        ("(a) edge cut", "edges cut (undirected)", &cut, |r| r.edge_cut as f64),
        ("", "nodes held, owned elsewhere (sum)", &with_halo, halo_value),
        ("(d) final test accuracy", "test accuracy (fraction correct)", &acc, |r| r.final_test_acc),
    ];
    let linear_panels = [&panels[0], &panels[1], &panels[3]];
    traffic_panel(&panels[2], &x_of, (&acc, serial_series.as_ref()), runs, ps.len(), &x_fmt)?;
    for (i, (panel, (caption, y_desc, series, value))) in linear_panels.into_iter().zip(specs).enumerate() {
        let caption = if i == 1 { halo_caption.as_str() } else { caption };
        let reference = (i == 2).then_some(serial.as_slice());
        linear_panel(panel, (caption, y_desc, series, value), reference, &x_of, ps.len(), &x_fmt)?;
    }
    root.present()
}

/// Runs by (partitioner, boundary) and P, by partitioner and P, and the serial runs.
type Grouped<'a> = (BTreeMap<(&'a str, &'a str), ByP<'a>>, BTreeMap<&'a str, ByP<'a>>, Vec<&'a RunRow>);
type ByP<'a> = BTreeMap<usize, Vec<&'a RunRow>>;

fn group_runs(runs: &[RunRow]) -> Grouped<'_> {
    let mut combos: BTreeMap<(&str, &str), ByP> = BTreeMap::new();
    let mut by_partitioner: BTreeMap<&str, ByP> = BTreeMap::new();
    let mut serial: Vec<&RunRow> = Vec::new();
    for r in runs {
        if r.is_serial() {
            serial.push(r);
        } else {
            combos.entry((&r.partitioner, &r.boundary)).or_default().entry(r.partitions).or_default().push(r);
            by_partitioner.entry(&r.partitioner).or_default().entry(r.partitions).or_default().push(r);
        }
    }
    (combos, by_partitioner, serial)
}

/// The legend strips [`draw_partitions`] draws, for sizing its canvas.
pub(super) fn strips(runs: &[RunRow]) -> [Strip; 2] {
    let (combos, by_partitioner, serial) = group_runs(runs);
    let partitioners: Vec<&str> = by_partitioner.keys().copied().collect();
    let boundaries: Vec<&str> = combos.keys().map(|k| k.1).collect::<BTreeSet<_>>().into_iter().collect();
    legend_strips(&partitioners, &boundaries, !serial.is_empty())
}

/// Legends: the colour strip (partitioners, and serial), the style strip (boundary modes).
fn legend_strips(partitioners: &[&str], boundaries: &[&str], serial: bool) -> [Strip; 2] {
    let mut colour_entries: Vec<Entry> = partitioners
        .iter()
        .map(|p| Entry::line(*p, Look::plain(partitioner_color(p, partitioners), LINE_WIDTH + 1, Dash::Solid)))
        .collect();
    if serial {
        colour_entries
            .insert(0, Entry::line("serial (P = 1)", Look { marker: Some(Marker::Circle), ..Look::serial() }));
    }
    let style_entries: Vec<Entry> = boundaries
        .iter()
        .map(|b| {
            let (dash, marker) = boundary_style(b, boundaries);
            Entry::line(*b, Look { color: RGBColor(0x33, 0x33, 0x33), width: LINE_WIDTH, dash, marker: Some(marker) })
        })
        .collect();
    [
        Strip { heading: Some("partitioner (colour)".into()), entries: colour_entries },
        Strip { heading: Some("boundary (line and marker)".into()), entries: style_entries },
    ]
}

/// One linear panel against P: (a) the cut, (b) the halo, or with `serial` (d) the accuracy,
/// the serial runs' as a reference band across all P (the gap to it is the cost of
/// partitioning).
fn linear_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    (caption, y_desc, series, value): PanelSpec<'_>,
    serial: Option<&[&RunRow]>,
    x_of: &BTreeMap<usize, usize>,
    categories: usize,
    x_fmt: &dyn Fn(&f64) -> String,
) -> PlotResult<DB> {
    let is_acc = serial.is_some();
    let points: Vec<Vec<(f64, Stat)>> = series.iter().map(|s| s.points(x_of, value)).collect();
    let serial_acc = stat(serial.unwrap_or_default().iter().map(|r| r.final_test_acc));
    let mut bounds = union(points.iter().flatten().map(|(_, s)| Some((s.lo, s.hi))));
    if is_acc {
        bounds = union([bounds, serial_acc.map(|s| (s.lo, s.hi))]);
    }
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
        .build_cartesian_2d(Ticked::categories(categories), y_axis.clone())?;
    let y_fmt = |v: &f64| if is_acc { y_axis.label(*v) } else { fmt_count(*v) };
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc("partitions P").y_desc(y_desc).x_label_formatter(x_fmt).y_label_formatter(&y_fmt).draw()?;
    if let (true, Some(s)) = (is_acc, serial_acc) {
        let x = Ticked::categories(categories).range();
        let (a, b) = (x.start, x.end);
        chart.draw_series(std::iter::once(Rectangle::new([(a, s.lo), (b, s.hi)], BLACK.mix(0.08).filled())))?;
        chart.draw_series(DashedLineSeries::new(vec![(a, s.mean), (b, s.mean)], 10, 8, BLACK.stroke_width(2)))?;
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
    Ok(())
}

/// (c) Boundary traffic per epoch (activations forward + gradients back) of the exchanging
/// modes on a log axis, and for scale the weight broadcast + gradient push every mode pays
/// (grey), which starts from serial training's (its marker at P = 1: it has no boundary).
fn traffic_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    x_of: &BTreeMap<usize, usize>,
    (series, serial): (&[&Series], Option<&Series>),
    runs: &[RunRow],
    categories: usize,
    x_fmt: &dyn Fn(&f64) -> String,
) -> PlotResult<DB> {
    let value = |r: &RunRow| r.boundary_bytes_per_epoch;
    let points: Vec<Vec<(f64, Stat)>> = series.iter().map(|s| s.points(x_of, value)).collect();
    // Weights and gradients depend on P only.
    let mut weights: BTreeMap<usize, f64> = BTreeMap::new();
    for r in runs.iter().filter(|r| !r.is_serial()) {
        weights.insert(r.partitions, r.comm_bytes_per_epoch - r.boundary_bytes_per_epoch);
    }
    let reference: Vec<(f64, f64)> = weights.iter().map(|(p, w)| (x_of[p] as f64, *w)).collect();
    let serial_points: Vec<(f64, Stat)> =
        serial.map(|s| s.points(x_of, |r| r.comm_bytes_per_epoch)).unwrap_or_default();
    let serial_points: Vec<(f64, Stat)> = serial_points.into_iter().filter(|(_, st)| st.mean > 0.0).collect();
    let bounds = union(
        points
            .iter()
            .flatten()
            .filter(|(_, s)| s.lo > 0.0)
            .map(|(_, s)| Some((s.lo, s.hi)))
            .chain(reference.iter().filter(|p| p.1 > 0.0).map(|p| Some((p.1, p.1))))
            .chain(serial_points.iter().map(|(_, s)| Some((s.lo, s.hi)))),
    );
    let y = log_padded(bounds);
    let ticks = byte_ticks(&y);
    let mut chart = ChartBuilder::on(panel)
        .caption("(c) traffic per epoch (grey: weights + gradients)", text(CAPTION_PX))
        .margin(10)
        .margin_right(28)
        .x_label_area_size(64)
        .y_label_area_size(110)
        .build_cartesian_2d(Ticked::categories(categories), y.log_scale().with_key_points(ticks))?;
    let y_fmt = |v: &f64| fmt_bytes(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc("partitions P")
        .y_desc("bytes per epoch (log)")
        .x_label_formatter(x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    let grey = Look::plain(RGBColor(0x99, 0x99, 0x99), LINE_WIDTH + 3, Dash::Solid);
    draw_line(&mut chart, reference.iter().copied().filter(|p| p.1 > 0.0).collect(), grey)?;
    if let Some(s) = serial {
        for (x, st) in &serial_points {
            draw_marker(&chart, s.look.marker.unwrap_or(Marker::Circle), (*x, st.mean), s.look.color)?;
        }
    }
    for (s, pts) in series.iter().zip(&points) {
        let line: Vec<(f64, f64)> = pts.iter().filter(|(_, st)| st.mean > 0.0).map(|(x, st)| (*x, st.mean)).collect();
        draw_line(&mut chart, line.clone(), s.look)?;
        if let Some(m) = s.look.marker {
            for p in line {
                draw_marker(&chart, m, p, s.look.color)?;
            }
        }
    }
    Ok(())
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
