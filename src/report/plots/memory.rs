//! Memory: live bytes per epoch. (a) total per label, (b) live weight bytes, keep_versions
//! against release (only when some run keeps versions), (c) every category of one run.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::LongMetricsRow;

type Getter = fn(&LongMetricsRow) -> u64;

/// Memory categories in `MemCategory` order, each with a fixed colour.
const CATEGORIES: [(&str, Getter, RGBColor); 7] = [
    ("graph", |r| r.live_graph_bytes, PALETTE[0]),
    ("features", |r| r.live_features_bytes, PALETTE[2]),
    ("activations", |r| r.live_activations_bytes, PALETTE[4]),
    ("gradients", |r| r.live_gradients_bytes, PALETTE[3]),
    ("weights", |r| r.live_weights_bytes, PALETTE[1]),
    ("optimizer_state", |r| r.live_optimizer_state_bytes, PALETTE[7]),
    ("staging", |r| r.live_staging_bytes, PALETTE[6]),
];

/// Red dashed against blue solid: the one contrast panel (b) is about.
const KEEP: Look = Look::plain(RGBColor(0xC0, 0x1B, 0x1B), 4, true);
const RELEASE: Look = Look::plain(RGBColor(0x1F, 0x4E, 0xA8), 3, false);

/// Log axis once the values span more than this factor; linear from zero below it.
const LOG_SPREAD: f64 = 20.0;

pub fn draw_memory<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    metrics: &[LongMetricsRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font(); // a failure shows up as the font error of the first text
    let groups = group_by_label(metrics);
    // keep_versions runs are dashed in every panel, as in (b): dashed means "never released".
    let looks: Vec<Look> = looks(&groups)
        .into_iter()
        .zip(&groups)
        .map(|(look, g)| Look { dashed: look.dashed || g.keep_versions, ..look })
        .collect();
    let any_keep = groups.iter().any(|g| g.keep_versions);

    // The run broken down by category: a keep_versions run shows its weights growing among
    // the other categories; otherwise the first run in legend order (serial if present).
    let featured = groups.iter().find(|g| g.keep_versions).or(groups.first()).and_then(|g| {
        let run = *g.runs.first()?;
        Some((run, g.rows.iter().copied().filter(|r| r.run_id == run).collect::<Vec<_>>()))
    });
    let (featured_id, featured_rows) = featured.unwrap_or_default();
    // Non-empty categories; those with identical bytes at every epoch (gradients and
    // optimizer state often are) share one line and one legend entry, as the second line
    // would hide the first.
    let mut categories: Vec<(String, Getter, RGBColor, Vec<u64>)> = Vec::new();
    for (name, get, color) in CATEGORIES {
        let values: Vec<u64> = featured_rows.iter().map(|r| get(r)).collect();
        if values.iter().all(|v| *v == 0) {
            continue;
        }
        match categories.iter_mut().find(|c| c.3 == values) {
            Some(same) => same.0 = format!("{} = {name}", same.0),
            None => categories.push((name.to_string(), get, color, values)),
        }
    }

    let label_entries: Vec<Entry> = groups
        .iter()
        .zip(&looks)
        .map(|(g, l)| Entry { text: g.legend_text(), look: *l, band: g.seeds() > 1 })
        .collect();
    let mut category_entries: Vec<Entry> =
        categories.iter().map(|(name, _, c, _)| Entry::line(name, Look::plain(*c, LINE_WIDTH, false))).collect();
    category_entries.push(Entry::line("total", Look::plain(SERIAL_COLOR, LINE_WIDTH, true)));

    let n_panels = if any_keep { 3 } else { 2 };
    let title = format!("{experiment}: live memory per epoch (all workers and the server)");
    let strips = [
        Strip { heading: Some("(a) configurations".into()), entries: label_entries },
        Strip {
            heading: Some(format!("({}) categories of run {featured_id}", if any_keep { 'c' } else { 'b' })),
            entries: category_entries,
        },
    ];
    let panels = layout(root, &title, n_panels, &strips)?;
    let x = epoch_range(union(metrics.iter().map(|r| Some((f64::from(r.epoch), f64::from(r.epoch))))));

    // (a) Total live bytes per label.
    let totals: Vec<(Curve, Look)> = groups
        .iter()
        .zip(&looks)
        .map(|(g, l)| (Curve::of(&g.rows, |r| r.live_total_bytes as f64, |_| true), *l))
        .collect();
    bytes_panel(&panels[0], "(a) total live memory", "total live memory", x.clone(), &totals, Axis::Linear)?;

    // (b) Weights only: versions kept forever grow linearly, released ones stay flat.
    if any_keep {
        let weights: Vec<(Curve, Look)> = groups
            .iter()
            .map(|g| {
                let look = if g.keep_versions { KEEP } else { RELEASE };
                (Curve::of(&g.rows, |r| r.live_weights_bytes as f64, |_| true), look)
            })
            .collect();
        // Release lines first so the dashed keep_versions lines lie on top where they meet.
        let ordered: Vec<(Curve, Look)> =
            weights.iter().filter(|w| !w.1.dashed).chain(weights.iter().filter(|w| w.1.dashed)).cloned().collect();
        // Linear on purpose: a log axis would bend the linear growth into a curve. The
        // headroom keeps the rising line below the inset legend.
        let axis = Axis::LinearWithHeadroom(1.3);
        let area = bytes_panel(&panels[1], "(b) live weight bytes", "live weights", x.clone(), &ordered, axis)?;
        let mut legend = vec![Entry::line("keep_versions (no release)", KEEP)];
        if groups.iter().any(|g| !g.keep_versions) {
            legend.push(Entry::line("release", RELEASE));
        }
        inset_legend(&area, &legend)?;
    }

    // Last panel: every non-empty category of the featured run, and its total.
    let mut series: Vec<(Curve, Look)> = categories
        .iter()
        .map(|(_, get, c, _)| {
            (Curve::of(&featured_rows, |r| get(r) as f64, |_| true), Look::plain(*c, LINE_WIDTH, false))
        })
        .collect();
    series.push((
        Curve::of(&featured_rows, |r| r.live_total_bytes as f64, |_| true),
        Look::plain(SERIAL_COLOR, LINE_WIDTH, true),
    ));
    let caption = format!("({}) live memory by category", if any_keep { 'c' } else { 'b' });
    bytes_panel(&panels[n_panels - 1], &caption, "live bytes", x, &series, Axis::LogIfSpread)?;
    root.present()
}

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    Linear,
    /// Linear, the top at this multiple of the largest value.
    LinearWithHeadroom(f64),
    /// Log when the values span more than `LOG_SPREAD`, else linear.
    LogIfSpread,
}

/// One panel of byte curves: linear from zero in the unit that fits, or a log axis with
/// binary-unit ticks (see `Axis`). Returns the plotting area
/// (pixel coordinates) for an inset legend.
fn bytes_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    what: &str,
    x: Range<f64>,
    series: &[(Curve, Look)],
    axis: Axis,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let max = series.iter().flat_map(|(c, _)| &c.hi).map(|p| p.1).fold(0.0, f64::max);
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
        draw_curve_markers(&chart, &marked)?;
        Ok(chart.plotting_area().strip_coord_spec())
    } else {
        let (div, unit) = byte_unit(max);
        let scale = |pts: &[(f64, f64)]| pts.iter().map(|p| (p.0, p.1 / div)).collect::<Vec<_>>();
        let top = match axis {
            Axis::LinearWithHeadroom(h) => h * max / div,
            _ => max / div,
        };
        let y = padded(Some((0.0, top)), Some(0.0));
        // A sliver below zero keeps lines at zero (released weights next to kept ones) off
        // the axis line.
        let y = y.start - 0.02 * y.end..y.end;
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
        draw_curve_markers(&chart, &marked)?;
        Ok(chart.plotting_area().strip_coord_spec())
    }
}
