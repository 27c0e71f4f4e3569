//! Convergence: training loss, validation accuracy and test accuracy per epoch, one line per
//! label (mean over seeds, min–max band).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::LongMetricsRow;

/// Three panels side by side: (a) training loss on a log axis, (b) validation accuracy and
/// (c) test accuracy on a shared axis, with one legend strip under all three.
pub fn draw_convergence<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    metrics: &[LongMetricsRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font(); // a failure shows up as the font error of the first text
    let groups = group_by_label(metrics);
    let looks = looks(&groups);
    let loss: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.train_loss, |v| v > 0.0)).collect();
    let valid: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.valid_acc, |_| true)).collect();
    let test: Vec<Curve> = groups.iter().map(|g| Curve::of(&g.rows, |r| r.test_acc, |_| true)).collect();

    let several_seeds = groups.iter().any(|g| g.seeds() > 1);
    let title = if several_seeds {
        format!("{experiment}: convergence (lines: mean over seeds, bands: min–max)")
    } else {
        format!("{experiment}: convergence")
    };
    let entries = groups
        .iter()
        .zip(&looks)
        .map(|(g, l)| Entry { text: g.legend_text(), look: *l, band: g.seeds() > 1 })
        .collect();
    let panels = layout(root, &title, 3, &[Strip { heading: None, entries }])?;

    let x = epoch_range(union(loss.iter().chain(&valid).chain(&test).map(Curve::x_bounds)));
    let x_fmt = |v: &f64| fmt_num(*v);

    // (a) Loss spans decades early in training: log axis with our own 1-2-5 ticks.
    let y = log_padded(union(loss.iter().map(Curve::y_bounds)));
    let ticks = log_ticks(&y);
    let mut chart = ChartBuilder::on(&panels[0])
        .caption("(a) training loss", text(CAPTION_PX))
        .margin(10)
        .margin_right(28)
        .x_label_area_size(64)
        .y_label_area_size(84)
        .build_cartesian_2d(x.clone(), y.log_scale().with_key_points(ticks))?;
    let y_fmt = |v: &f64| fmt_num(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc("epoch")
        .y_desc("training loss (cross-entropy + L2, log scale)")
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    draw_curves(&mut chart, &loss, &looks)?;

    // (b), (c) share one accuracy range so the panels compare directly.
    let acc = padded(union(valid.iter().chain(&test).map(Curve::y_bounds)), None);
    let acc = Ticked::linear(acc.start.max(0.0)..acc.end.min(1.0), 8);
    let acc_fmt = |v: &f64| acc.label(*v);
    for (panel, (caption, curves)) in
        panels[1..].iter().zip([("(b) validation accuracy", &valid), ("(c) test accuracy", &test)])
    {
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, text(CAPTION_PX))
            .margin(10)
            .margin_right(28)
            .x_label_area_size(64)
            .y_label_area_size(84)
            .build_cartesian_2d(x.clone(), acc.clone())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_desc("epoch")
            .y_desc("accuracy (fraction correct)")
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&acc_fmt)
            .draw()?;
        draw_curves(&mut chart, curves, &looks)?;
    }
    root.present()
}

/// All bands first, then the lines in legend order, then markers: bands never cover a line,
/// the thick serial line lies underneath, framing any run that reproduces it exactly, and
/// the staggered markers show every label even where lines coincide.
fn draw_curves<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    curves: &[Curve],
    looks: &[Look],
) -> PlotResult<DB> {
    for (c, l) in curves.iter().zip(looks) {
        draw_band(chart, &c.lo, &c.hi, *l)?;
    }
    for (c, l) in curves.iter().zip(looks) {
        draw_line(chart, c.mean.clone(), *l)?;
    }
    let marked: Vec<_> = curves.iter().zip(looks).map(|(c, l)| (&c.mean[..], *l)).collect();
    draw_curve_markers(chart, &marked)
}
