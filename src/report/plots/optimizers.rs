//! Optimizers: one panel per server optimizer (with its learning rate), test accuracy per epoch
//! for each setting it ran in (serial, and each partitioned configuration), the same colour for
//! a setting in every panel; each panel's caption ends with the final test accuracies (lowest–
//! highest setting). Drawn when the runs use at least two optimizers.

use std::collections::HashMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::*;
use super::legend::*;
use super::series::*;
use super::style::*;
use crate::report::rows::{LongMetricsRow, RunRow};

/// Label tokens that name the optimizer and its rate (`key=value`, as experiment labels write
/// them); the rest of a label is the setting.
const OPTIMIZER_KEYS: [&str; 3] = ["optimizer=", "lr=", "lr_schedule="];

pub fn has_optimizers(runs: &[RunRow]) -> bool {
    let mut seen: Vec<&str> = runs.iter().map(|r| r.optimizer.as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len() >= 2
}

/// The label without its optimizer tokens.
fn setting(label: &str) -> String {
    let kept: Vec<&str> = label.split(' ').filter(|t| !OPTIMIZER_KEYS.iter().any(|k| t.starts_with(k))).collect();
    if kept.is_empty() {
        "serial".into()
    } else {
        kept.join(" ")
    }
}

/// The label's optimizer tokens other than `optimizer=` (the rate, a schedule), as `lr 0.01`.
fn rate_of(label: &str) -> String {
    let parts: Vec<String> = label
        .split(' ')
        .filter(|t| t.starts_with("lr=") || t.starts_with("lr_schedule="))
        .map(|t| t.replacen('=', " ", 1))
        .collect();
    parts.join(", ")
}

/// Panels in a grid of two rows (one for up to three optimizers); one legend strip of settings.
pub fn draw_optimizers<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    experiment: &str,
    runs: &[RunRow],
    metrics: &[LongMetricsRow],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let _ = super::ensure_font();
    let optimizer_of: HashMap<&str, &str> = runs.iter().map(|r| (r.run_id.as_str(), r.optimizer.as_str())).collect();
    let rows: Vec<&LongMetricsRow> = metrics.iter().filter(|r| !r.keep_versions).collect();
    let optimizers = ordered(runs.iter().filter(|r| !r.keep_versions).map(|r| r.optimizer.clone()));
    // Settings in the convergence figure's order (serial first, then by P), one look each.
    let groups = group_by_label(metrics);
    let settings = ordered(groups.iter().filter(|g| !g.keep_versions).map(|g| setting(&g.label)));
    let setting_groups: Vec<Group<'_>> = settings
        .iter()
        .map(|s| {
            let partitions = groups.iter().find(|g| setting(&g.label) == *s).map_or(1, |g| g.partitions);
            Group { label: s.clone(), partitions, keep_versions: false, rows: Vec::new(), runs: Default::default() }
        })
        .collect();
    let looks = looks(&setting_groups);
    let seeds = ordered(rows.iter().map(|r| r.seed.to_string())).len();
    let mut title = format!("{experiment}: test accuracy per optimizer");
    if seeds > 1 {
        title.push_str(" (mean over seeds, band min–max)");
    }
    let entries = setting_groups
        .iter()
        .zip(&looks)
        .map(|(g, l)| Entry { text: g.label.clone(), look: *l, band: seeds > 1 })
        .collect();
    let n = optimizers.len().max(1);
    let grid = if n <= 3 { (1, n) } else { (2, n.div_ceil(2)) };
    let panels = layout_grid(root, &title, grid, &[Strip { heading: None, entries }])?;

    // Per optimizer, per setting: its rows.
    let curve_rows = |opt: &str, s: &str| -> Vec<&LongMetricsRow> {
        rows.iter()
            .copied()
            .filter(|r| optimizer_of.get(r.run_id.as_str()) == Some(&opt) && setting(&r.label) == s)
            .collect()
    };
    let curves: Vec<Vec<Curve>> = optimizers
        .iter()
        .map(|o| settings.iter().map(|s| Curve::of(&curve_rows(o, s), |r| r.test_acc, |_| true)).collect())
        .collect();
    let x = epoch_range(union(curves.iter().flatten().map(Curve::x_bounds)));
    let acc = padded(union(curves.iter().flatten().map(Curve::y_bounds)), None);
    let acc = Ticked::linear(acc.start.max(0.0)..acc.end.min(1.0), 6);
    let (x_fmt, acc_fmt) = (|v: &f64| fmt_num(*v), |v: &f64| acc.label(*v));
    for (k, (panel, opt)) in panels.iter().zip(&optimizers).enumerate() {
        let rate = rows
            .iter()
            .find(|r| optimizer_of.get(r.run_id.as_str()) == Some(&opt.as_str()))
            .map(|r| rate_of(&r.label))
            .filter(|r| !r.is_empty());
        let finals: Vec<f64> = curves[k].iter().filter_map(|c| c.mean.last().map(|p| p.1)).collect();
        let span = match (finals.iter().copied().reduce(f64::min), finals.iter().copied().reduce(f64::max)) {
            (Some(lo), Some(hi)) if (hi - lo) >= 5e-4 => format!("{lo:.3}–{hi:.3}"),
            (Some(v), _) => format!("{v:.3}"),
            _ => String::new(),
        };
        let caption = match rate {
            Some(rate) => format!("({}) {opt}, {rate}: {span}", (b'a' + k as u8) as char),
            None => format!("({}) {opt}: {span}", (b'a' + k as u8) as char),
        };
        let mut chart =
            panel_builder(panel).caption(caption, text(CAPTION_PX)).build_cartesian_2d(x.clone(), acc.range())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(5)
            .x_desc("epoch")
            .y_desc("test accuracy")
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&acc_fmt)
            .draw()?;
        let present: Vec<(Curve, Look)> =
            curves[k].iter().zip(&looks).filter(|(c, _)| !c.mean.is_empty()).map(|(c, l)| (c.clone(), *l)).collect();
        let (cs, ls): (Vec<Curve>, Vec<Look>) = present.into_iter().unzip();
        draw_curves(&mut chart, &cs, &ls, None)?;
    }
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_into_setting_and_rate() {
        assert_eq!(setting("P=8 drop metis lr=0.01 optimizer=adam"), "P=8 drop metis");
        assert_eq!(setting("serial lr=5 optimizer=sgd"), "serial");
        assert_eq!(setting("lr=5 optimizer=sgd"), "serial");
        assert_eq!(rate_of("serial lr=5 optimizer=sgd"), "lr 5");
        assert_eq!(
            rate_of("P=8 exchange metis lr=1 lr_schedule=cosine optimizer=momentum"),
            "lr 1, lr_schedule cosine"
        );
    }
}
