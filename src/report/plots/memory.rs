//! Memory: live bytes per epoch. (a) the total per configuration, (b) its growth since the first
//! epoch — where a leak shows, whatever the total — and (c) every category of one run. Colour
//! means one thing across the figure: a configuration in (a) and (b); the categories of (c)
//! are grey, told apart by dash pattern and marker.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::LongMetricsRow;

type Getter = fn(&LongMetricsRow) -> u64;

/// Memory categories in `MemCategory` order.
const CATEGORIES: [(&str, Getter); 10] = [
    ("graph", |r| r.live_graph_bytes),
    ("features", |r| r.live_features_bytes),
    ("activations", |r| r.live_activations_bytes),
    ("gradients", |r| r.live_gradients_bytes),
    ("weights", |r| r.live_weights_bytes),
    ("optimizer_state", |r| r.live_optimizer_state_bytes),
    ("exchange", |r| r.live_exchange_bytes),
    ("staging", |r| r.live_staging_bytes),
    ("embeddings", |r| r.live_embeddings_bytes),
    ("embedding_state", |r| r.live_embedding_state_bytes),
];

const CATEGORY_GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// The i-th category's look: grey, solid or dashed, and a marker shape (10 distinct pairs).
fn category_look(i: usize) -> Look {
    let dash = if i % 2 == 1 { Dash::Dashed } else { Dash::Solid };
    Look { color: CATEGORY_GREY, width: LINE_WIDTH, dash, marker: Some(Marker::nth_of_five(i / 2)) }
}

/// Log axis once the values span more than this factor; linear from zero below it.
const LOG_SPREAD: f64 = 20.0;

pub fn draw_memory<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    metrics: &[LongMetricsRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font(); // a failure shows up as the font error of the first text
    let (groups, focus_note) = focus(group_by_label(metrics));
    // keep_versions runs are dashed in (a) and (b): dashed means "never released".
    let looks: Vec<Look> = looks(&groups)
        .into_iter()
        .zip(&groups)
        .map(|(look, g)| if g.keep_versions { Look { dash: Dash::Dashed, ..look } } else { look })
        .collect();

    let (featured_id, featured_rows) = featured_run(&groups);
    let categories = categories_of(&featured_rows);

    let label_entries: Vec<Entry> = groups
        .iter()
        .zip(&looks)
        .map(|(g, l)| Entry { text: g.legend_text(), look: *l, band: g.seeds() > 1 })
        .collect();
    let mut category_entries: Vec<Entry> =
        categories.iter().enumerate().map(|(i, (name, _, _))| Entry::line(name, category_look(i))).collect();
    category_entries.push(Entry::line("total", Look::plain(SERIAL_COLOR, LINE_WIDTH, Dash::Dashed)));

    let title = match focus_note {
        Some(note) => format!("{experiment}: live memory per epoch ({note})"),
        None => format!("{experiment}: live memory per epoch (all workers and the server)"),
    };
    let strips = [
        Strip { heading: Some("(a), (b) configurations".into()), entries: label_entries },
        Strip {
            // The run id names the configuration and the seed (the label would repeat it, too wide).
            heading: Some(format!("(c) categories of run {featured_id}")),
            entries: category_entries,
        },
    ];
    let panels = layout(root, &title, 3, &strips)?;
    let x =
        epoch_range(union(groups.iter().flat_map(|g| &g.rows).map(|r| Some((f64::from(r.epoch), f64::from(r.epoch))))));

    // (a) Total live bytes per configuration.
    let totals: Vec<(Curve, Look)> = groups
        .iter()
        .zip(&looks)
        .map(|(g, l)| (Curve::of(&g.rows, |r| r.live_total_bytes as f64, |_| true), *l))
        .collect();
    bytes_panel(&panels[0], "(a) total live memory", "total live memory", x.clone(), &totals, Axis::Linear)?;

    // (b) Growth since the first epoch, per run then over seeds: a released version leaves
    // the total flat; keeping every version adds one weight set per epoch.
    let growth = growth_curves(&groups, &looks);
    let caption = "(b) growth since the first epoch";
    if growth.iter().all(|(c, _)| c.lo.iter().chain(&c.hi).all(|p| p.1 == 0.0)) {
        empty_panel(&panels[1], caption, "no configuration grows:\nold weight versions are released")?;
    } else {
        bytes_panel(&panels[1], caption, "live memory added", x.clone(), &growth, Axis::Signed)?;
    }

    // (c) Every non-empty category of the featured run, and its total.
    let mut series: Vec<(Curve, Look)> = categories
        .iter()
        .enumerate()
        .map(|(i, (_, get, _))| (Curve::of(&featured_rows, |r| get(r) as f64, |_| true), category_look(i)))
        .collect();
    series.push((
        Curve::of(&featured_rows, |r| r.live_total_bytes as f64, |_| true),
        Look::plain(SERIAL_COLOR, LINE_WIDTH, Dash::Dashed),
    ));
    bytes_panel(&panels[2], "(c) one run, by category", "live bytes", x, &series, Axis::LogIfSpread)?;
    root.present()
}

/// The run broken down by category: a keep_versions run shows its weights growing among the
/// other categories; else one with an embedding table and exchange buffers, one with a table,
/// one that exchanges boundary rows (their buffers show among the categories), else the first
/// in legend order (serial if present). Its id and its rows.
fn featured_run<'a>(groups: &[Group<'a>]) -> (&'a str, Vec<&'a LongMetricsRow>) {
    let exchanging = groups.iter().find(|g| g.rows.iter().any(|r| r.live_exchange_bytes > 0));
    // An embedding table among the categories beats exchange buffers alone.
    let embedded = groups.iter().find(|g| g.rows.iter().any(|r| r.live_embeddings_bytes > 0));
    let exchanging_embedded =
        groups.iter().find(|g| g.rows.iter().any(|r| r.live_embeddings_bytes > 0 && r.live_exchange_bytes > 0));
    groups
        .iter()
        .find(|g| g.keep_versions)
        .or(exchanging_embedded)
        .or(embedded)
        .or(exchanging)
        .or(groups.first())
        .and_then(|g| {
            let run = *g.runs.first()?;
            Some((run, g.rows.iter().copied().filter(|r| r.run_id == run).collect::<Vec<_>>()))
        })
        .unwrap_or_default()
}

/// The run's non-empty categories; those with identical bytes at every epoch (gradients and
/// optimizer state often are) share one line and one legend entry, as the second line would
/// hide the first.
fn categories_of(rows: &[&LongMetricsRow]) -> Vec<(String, Getter, Vec<u64>)> {
    let mut categories: Vec<(String, Getter, Vec<u64>)> = Vec::new();
    for (name, get) in CATEGORIES {
        let values: Vec<u64> = rows.iter().map(|r| get(r)).collect();
        if values.iter().all(|v| *v == 0) {
            continue;
        }
        match categories.iter_mut().find(|c| c.2 == values) {
            Some(same) => same.0 = format!("{} = {name}", same.0),
            None => categories.push((name.to_string(), get, values)),
        }
    }
    categories
}

/// Per configuration: live bytes minus each run's first epoch's, then over seeds.
fn growth_curves(groups: &[Group<'_>], looks: &[Look]) -> Vec<(Curve, Look)> {
    groups
        .iter()
        .zip(looks)
        .map(|(g, l)| {
            let first: std::collections::HashMap<&str, (u32, u64)> =
                g.rows.iter().fold(std::collections::HashMap::new(), |mut m, r| {
                    let e = m.entry(r.run_id.as_str()).or_insert((r.epoch, r.live_total_bytes));
                    if r.epoch < e.0 {
                        *e = (r.epoch, r.live_total_bytes);
                    }
                    m
                });
            let curve = Curve::of(&g.rows, |r| r.live_total_bytes as f64 - first[r.run_id.as_str()].1 as f64, |_| true);
            (curve, *l)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    /// Linear from zero.
    Linear,
    /// Linear, including negative values (growth can be negative), zero always shown.
    Signed,
    /// Log when the values span more than `LOG_SPREAD`, else linear.
    LogIfSpread,
}

/// One panel of byte curves: linear in the unit that fits, or a log axis with binary-unit ticks
/// (see `Axis`).
fn bytes_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    what: &str,
    x: Range<f64>,
    series: &[(Curve, Look)],
    axis: Axis,
) -> PlotResult<DB> {
    let max = series.iter().flat_map(|(c, _)| &c.hi).map(|p| p.1).fold(0.0, f64::max);
    let min = series.iter().flat_map(|(c, _)| &c.lo).map(|p| p.1).fold(0.0, f64::min);
    let min_pos =
        series.iter().flat_map(|(c, _)| &c.lo).map(|p| p.1).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let builder = |area| {
        let mut b = ChartBuilder::on(area);
        b.caption(caption, text(CAPTION_PX)).margin(10).margin_right(28).x_label_area_size(64).y_label_area_size(110);
        b
    };
    let x_fmt = |v: &f64| fmt_num(*v);
    if axis == Axis::LogIfSpread && max / min_pos > LOG_SPREAD {
        let y = log_padded(Some((min_pos, max)));
        let ticks = byte_ticks(&y);
        let mut chart = builder(area).build_cartesian_2d(x, y.log_scale().with_key_points(ticks))?;
        let y_fmt = |v: &f64| fmt_bytes(*v);
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_desc("epoch")
            .y_desc(format!("{what} (log scale)"))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()?;
        // Zeros have no place on a log axis: each line keeps its positive points only.
        let positive = |pts: &[(f64, f64)]| pts.iter().copied().filter(|p| p.1 > 0.0).collect::<Vec<_>>();
        for (c, l) in series {
            if c.lo.iter().all(|p| p.1 > 0.0) {
                draw_band(&mut chart, &c.lo, &c.hi, *l)?;
            }
        }
        let lines: Vec<_> = series.iter().map(|(c, l)| (positive(&c.mean), *l)).collect();
        for (pts, l) in &lines {
            draw_line(&mut chart, pts.clone(), *l)?;
        }
        let marked: Vec<_> = lines.iter().map(|(pts, l)| (&pts[..], *l)).collect();
        draw_curve_markers(&chart, &marked)
    } else {
        let (div, unit) = byte_unit(max.max(-min));
        let scale = |pts: &[(f64, f64)]| pts.iter().map(|p| (p.0, p.1 / div)).collect::<Vec<_>>();
        let (lo, hi) = match axis {
            Axis::Signed => (min / div, max / div),
            _ => (0.0, max / div),
        };
        // Flat-at-zero growth still gets an axis with a visible scale.
        let hi = if hi - lo <= 0.0 { lo + 1.0 } else { hi };
        let y = padded(Some((lo, hi)), Some(lo.min(0.0)));
        // A sliver below the bottom keeps lines at zero off the axis line.
        let y = y.start - 0.02 * (y.end - y.start)..y.end;
        let y_axis = Ticked::linear(y, 7);
        let mut chart = builder(area).build_cartesian_2d(x, y_axis.clone())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        let y_fmt = |v: &f64| y_axis.label(*v);
        mesh.x_desc("epoch")
            .y_desc(format!("{what} ({unit})"))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()?;
        for (c, l) in series {
            draw_band(&mut chart, &scale(&c.lo), &scale(&c.hi), *l)?;
        }
        let lines: Vec<_> = series.iter().map(|(c, l)| (scale(&c.mean), *l)).collect();
        for (pts, l) in &lines {
            draw_line(&mut chart, pts.clone(), *l)?;
        }
        let marked: Vec<_> = lines.iter().map(|(pts, l)| (&pts[..], *l)).collect();
        draw_curve_markers(&chart, &marked)
    }
}
