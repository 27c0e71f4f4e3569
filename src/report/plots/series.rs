//! Series: per-label groups of metric rows, their seed aggregation (mean and min–max band) and
//! how lines, bands and markers are drawn.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;

pub(super) use super::style::PlotResult;
use super::style::{draw_marker, Dash, Look, Marker};
use crate::report::rows::LongMetricsRow;

/// Draws `points` as one line in `look` (gaps are the caller's business).
pub(super) fn draw_line<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: Vec<(f64, f64)>,
    look: Look,
) -> PlotResult<DB> {
    match look.dash.pattern() {
        Some((dash, gap)) => {
            chart.draw_series(DashedLineSeries::new(points, dash, gap, look.stroke()))?;
        }
        None => {
            let pixels: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(p)).collect();
            for piece in split_at_sharp_turns(&pixels, look.width) {
                chart.draw_series(LineSeries::new(points[piece].to_vec(), look.stroke()))?;
            }
        }
    };
    Ok(())
}

/// Index ranges of `pixels` to draw as separate polylines, split (sharing the point) where the
/// line folds back so sharply that a thick stroke's mitred join would spike far beyond the
/// curve (a curve that swings every epoch); a smooth curve stays one polyline.
fn split_at_sharp_turns(pixels: &[(i32, i32)], width: u32) -> Vec<std::ops::Range<usize>> {
    let whole = 0..pixels.len();
    if width <= 1 || pixels.len() < 3 {
        return vec![whole];
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    for i in 1..pixels.len() - 1 {
        let (a, b, c) = (pixels[i - 1], pixels[i], pixels[i + 1]);
        let (u, v) = ((a.0 - b.0, a.1 - b.1), (c.0 - b.0, c.1 - b.1));
        let (lu, lv) = (((u.0 * u.0 + u.1 * u.1) as f64).sqrt(), ((v.0 * v.0 + v.1 * v.1) as f64).sqrt());
        if lu == 0.0 || lv == 0.0 {
            continue;
        }
        // The angle between the two segments at b: below 30° the miter is over 3.9 widths long.
        let cos = (u.0 * v.0 + u.1 * v.1) as f64 / (lu * lv);
        if cos > 30f64.to_radians().cos() {
            pieces.push(start..i + 1);
            start = i;
        }
    }
    pieces.push(start..pixels.len());
    pieces
}

/// The shaded region between `lower` and `upper` (same x values, ascending).
pub(super) fn draw_band<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    lower: &[(f64, f64)],
    upper: &[(f64, f64)],
    look: Look,
) -> PlotResult<DB> {
    // One seed gives a zero-width band: nothing to shade.
    if lower.len() < 2 || lower.len() != upper.len() || lower.iter().zip(upper).all(|(a, b)| a.1 == b.1) {
        return Ok(());
    }
    let outline: Vec<(f64, f64)> = upper.iter().copied().chain(lower.iter().rev().copied()).collect();
    chart.draw_series(std::iter::once(Polygon::new(outline, look.band())))?;
    Ok(())
}

/// Markers along each curve that has one, at a few places per curve staggered by curve, so
/// curves that coincide (exact partitioned training reproduces serial) all stay visible.
/// Fewer per curve when there are many curves, about 50 in all.
pub(super) fn draw_curve_markers<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    curves: &[(&[(f64, f64)], Look)],
) -> PlotResult<DB> {
    let marked: Vec<_> = curves.iter().filter_map(|(pts, l)| Some((*pts, l.marker?, l.color))).collect();
    let n = marked.len();
    let marks = (50 / n.max(1)).clamp(3, 6);
    for (i, (pts, marker, color)) in marked.into_iter().enumerate() {
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else { continue };
        for k in 0..marks {
            let x = first.0 + (last.0 - first.0) * (k as f64 + (i as f64 + 0.5) / n as f64) / marks as f64;
            // The data point nearest that x (points are in ascending x).
            let j = pts.partition_point(|p| p.0 < x).min(pts.len() - 1);
            let j = if j > 0 && (pts[j - 1].0 - x).abs() < (pts[j].0 - x).abs() { j - 1 } else { j };
            draw_marker(chart, marker, pts[j], color)?;
        }
    }
    Ok(())
}

/// All bands first, then the lines in legend order, then markers: bands never cover a line,
/// the thick serial line lies underneath, framing any run that reproduces it exactly, and
/// the staggered markers show every label even where lines coincide. With `clip`, lines and
/// bands stop at the y-axis bounds.
pub(super) fn draw_curves<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    curves: &[Curve],
    looks: &[Look],
    clip: Option<(f64, f64)>,
) -> PlotResult<DB> {
    let clamp = |pts: &[(f64, f64)]| match clip {
        // Not `f64::clamp`, which panics on bounds out of order or NaN (as values far outside
        // an axis, like an accuracy of 1e308, can make them).
        Some((lo, hi)) => pts.iter().map(|&(x, y)| (x, y.min(hi).max(lo))).collect(),
        None => pts.to_vec(),
    };
    for (c, l) in curves.iter().zip(looks) {
        draw_band(chart, &clamp(&c.lo), &clamp(&c.hi), *l)?;
    }
    let mut visible: Vec<(Vec<(f64, f64)>, Look)> = Vec::new();
    for (c, l) in curves.iter().zip(looks) {
        let parts = match clip {
            Some((lo, hi)) => clip_y(&c.mean, lo, hi),
            None => vec![c.mean.clone()],
        };
        for part in parts {
            draw_line(chart, part.clone(), *l)?;
            visible.push((part, *l));
        }
    }
    let marked: Vec<_> = visible.iter().map(|(pts, l)| (&pts[..], *l)).collect();
    draw_curve_markers(chart, &marked)
}

/// Labels without the words all of them share (each label a space-separated list of words):
/// (the shared words, said once in a title; each label's rest). With fewer than two labels,
/// or where a label would be left empty, nothing is shortened.
pub(crate) fn shorten_labels(labels: &[&str]) -> (String, Vec<String>) {
    let keep_all = || (String::new(), labels.iter().map(|l| l.to_string()).collect());
    if labels.len() < 2 {
        return keep_all();
    }
    let common: Vec<&str> =
        labels[0].split(' ').filter(|w| labels.iter().all(|l| l.split(' ').any(|x| x == *w))).collect();
    let rest: Vec<String> =
        labels.iter().map(|l| l.split(' ').filter(|w| !common.contains(w)).collect::<Vec<_>>().join(" ")).collect();
    if common.is_empty() || rest.iter().any(String::is_empty) {
        return keep_all();
    }
    (common.join(" "), rest)
}

/// The training-loss panel every per-configuration figure opens with: loss spans decades
/// early in training, so a log axis with our own 1-2-5 ticks, against `x` (epochs or time).
pub(super) fn draw_loss_panel<DB, X>(
    area: &plotters::drawing::DrawingArea<DB, plotters::coord::Shift>,
    x: X,
    x_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    loss: &[Curve],
    looks: &[Look],
) -> PlotResult<DB>
where
    DB: DrawingBackend,
    X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    use super::axes::{fmt_num, log_padded, log_ticks, panel_builder, style_mesh, union};
    use super::style::{text, CAPTION_PX};
    let y = log_padded(union(loss.iter().map(Curve::y_bounds)));
    let ticks = log_ticks(&y);
    let mut chart = panel_builder(area)
        .caption("(a) training loss", text(CAPTION_PX))
        .build_cartesian_2d(x, y.log_scale().with_key_points(ticks))?;
    let y_fmt = |v: &f64| fmt_num(*v);
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh);
    mesh.x_desc(x_desc).y_desc("cross-entropy + L2 (log)").x_label_formatter(x_fmt).y_label_formatter(&y_fmt).draw()?;
    draw_curves(&mut chart, loss, looks, None)
}

/// Values in first-seen order.
pub(super) fn ordered<T: PartialEq + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Metric rows of one label (the configuration without the seed).
pub(super) struct Group<'a> {
    pub label: String,
    pub partitions: usize,
    pub keep_versions: bool,
    pub rows: Vec<&'a LongMetricsRow>,
    pub runs: BTreeSet<&'a str>,
}

impl Group<'_> {
    pub fn is_serial(&self) -> bool {
        self.partitions == 1
    }

    pub fn seeds(&self) -> usize {
        self.runs.len()
    }

    /// Legend text: the label, marked when serial, with the seed count when > 1.
    pub fn legend_text(&self) -> String {
        self.legend_text_of(&self.label, true)
    }

    /// [`Self::legend_text`] with `text` for the label, the seed count only `with_seeds`.
    fn legend_text_of(&self, text: &str, with_seeds: bool) -> String {
        let mut s = text.to_string();
        if self.is_serial() && !self.label.contains("serial") {
            s.push_str(" (serial)");
        }
        if with_seeds && self.seeds() > 1 {
            s.push_str(&format!(" ×{} seeds", self.seeds()));
        }
        s
    }
}

/// What the legend of a per-configuration figure says and what its title says for it.
pub(super) struct Labels {
    /// The words every label shares (empty with one label): said once, in the title.
    pub common: String,
    /// Per group, what differs (and "(serial)" where the label does not say so).
    pub texts: Vec<String>,
    /// The seed count when every group has the same one: said once, in the title.
    pub seeds: Option<usize>,
}

impl Labels {
    pub fn of(groups: &[Group<'_>]) -> Self {
        let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
        let (common, rest) = shorten_labels(&labels);
        let counts: BTreeSet<usize> = groups.iter().map(Group::seeds).collect();
        let seeds = if counts.len() == 1 { counts.first().copied() } else { None };
        let texts = groups.iter().zip(&rest).map(|(g, r)| g.legend_text_of(r, seeds.is_none())).collect();
        Self { common, texts, seeds }
    }

    /// The figure's title: `experiment: what — shared words (notes; how seeds combine)`.
    pub fn title(&self, experiment: &str, what: &str, notes: Vec<String>, seed_note: &str) -> String {
        let mut title = format!("{experiment}: {what}");
        if !self.common.is_empty() {
            title = format!("{title} — {}", self.common);
        }
        let seeds = match self.seeds {
            Some(1) => None,
            Some(k) => Some(format!("{k} seeds: {seed_note}")),
            None if self.texts.is_empty() => None,
            None => Some(format!("seeds: {seed_note}")),
        };
        let notes: Vec<String> = notes.into_iter().chain(seeds).collect();
        if notes.is_empty() {
            title
        } else {
            format!("{title} ({})", notes.join("; "))
        }
    }
}

/// Groups rows by label in the legend order: serial first, then by P, then by label.
pub(super) fn group_by_label(metrics: &[LongMetricsRow]) -> Vec<Group<'_>> {
    let mut by_label: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    for r in metrics {
        let g = by_label.entry(&r.label).or_insert_with(|| Group {
            label: r.label.clone(),
            partitions: r.partitions,
            keep_versions: r.keep_versions,
            rows: Vec::new(),
            runs: BTreeSet::new(),
        });
        g.rows.push(r);
        g.runs.insert(&r.run_id);
    }
    let mut groups: Vec<_> = by_label.into_values().collect();
    groups.sort_by(|a, b| (!a.is_serial(), a.partitions, &a.label).cmp(&(!b.is_serial(), b.partitions, &b.label)));
    groups
}

/// Most configurations a per-epoch figure draws before it focuses on one partition count.
pub(super) const MAX_CURVES: usize = 12;

/// With more than [`MAX_CURVES`] groups, only serial and the groups at one partition count (the
/// upper median of those present), and a note for the title saying so; else all groups.
pub(super) fn focus(groups: Vec<Group<'_>>) -> (Vec<Group<'_>>, Option<String>) {
    if groups.len() <= MAX_CURVES {
        return (groups, None);
    }
    let ps: BTreeSet<usize> = groups.iter().filter(|g| !g.is_serial()).map(|g| g.partitions).collect();
    let Some(&p) = ps.iter().nth(ps.len() / 2) else { return (groups, None) };
    let kept: Vec<Group<'_>> = groups.into_iter().filter(|g| g.is_serial() || g.partitions == p).collect();
    (kept, Some(format!("P = {p} and serial")))
}

/// The groups a per-configuration figure draws: keep_versions runs left out (they train
/// exactly like their releasing twins), [`focus`]ed past [`MAX_CURVES`].
pub(super) fn drawn_groups(metrics: &[LongMetricsRow]) -> (Vec<Group<'_>>, Option<String>) {
    focus(group_by_label(metrics).into_iter().filter(|g| !g.keep_versions).collect())
}

/// Looks per group: black for serial, palette colours for the rest in order.
pub(super) fn looks(groups: &[Group<'_>]) -> Vec<Look> {
    let (mut next, mut next_serial) = (0, 0);
    // Several serial configurations (one per optimizer or model): all black, told apart by
    // marker and, past five, dash.
    let serial_count = groups.iter().filter(|g| g.is_serial()).count();
    groups
        .iter()
        .map(|g| {
            if g.is_serial() {
                let look = Look::serial();
                if serial_count < 2 {
                    return look;
                }
                next_serial += 1;
                let k = next_serial - 1;
                let dash = if (k / 5) % 2 == 1 { Dash::Dashed } else { look.dash };
                Look { marker: Some(Marker::nth_of_five(k)), dash, ..look }
            } else {
                next += 1;
                Look::nth(next - 1)
            }
        })
        .collect()
}

/// The look of each label the per-configuration figures draw, the same in every figure:
/// the groups of [`focus`] (keep_versions runs left out), in legend order.
pub(super) fn label_looks(metrics: &[LongMetricsRow]) -> Vec<(String, Look)> {
    let (groups, _) = drawn_groups(metrics);
    groups.iter().zip(looks(&groups)).map(|(g, l)| (g.label.clone(), l)).collect()
}

/// Mean and min–max over seeds at each epoch.
#[derive(Clone, Debug, Default)]
pub(super) struct Curve {
    pub mean: Vec<(f64, f64)>,
    pub lo: Vec<(f64, f64)>,
    pub hi: Vec<(f64, f64)>,
}

impl Curve {
    /// Aggregates `value` per epoch, skipping values `keep` rejects (non-finite, or ≤ 0 on a
    /// log axis) so one diverged seed cannot break the axis range.
    pub fn of(rows: &[&LongMetricsRow], value: impl Fn(&LongMetricsRow) -> f64, keep: impl Fn(f64) -> bool) -> Self {
        let mut per_epoch: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        for r in rows {
            let v = value(r);
            if v.is_finite() && keep(v) {
                per_epoch.entry(r.epoch).or_default().push(v);
            }
        }
        Self::from_samples(per_epoch)
    }

    /// Mean and min–max of the samples at each x (any key that converts to f64).
    pub fn from_samples<K: Into<f64> + Copy>(samples: BTreeMap<K, Vec<f64>>) -> Self {
        let mut c = Curve::default();
        for (key, vs) in samples {
            if vs.is_empty() {
                continue;
            }
            let x: f64 = key.into();
            let mean = vs.iter().sum::<f64>() / vs.len() as f64;
            let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            c.mean.push((x, mean));
            c.lo.push((x, lo));
            c.hi.push((x, hi));
        }
        c
    }

    /// Against simulated time: at each epoch, the mean over seeds of both `sim_time_s` and the
    /// value (band: the value's min–max). Seeds reach an epoch at different times (stragglers
    /// are drawn per seed), so the curve follows their mean time.
    pub fn over_time(
        rows: &[&LongMetricsRow],
        value: impl Fn(&LongMetricsRow) -> f64,
        keep: impl Fn(f64) -> bool,
    ) -> Self {
        let mut per_epoch: BTreeMap<u32, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for r in rows {
            let v = value(r);
            if v.is_finite() && keep(v) && r.sim_time_s.is_finite() {
                let (times, values) = per_epoch.entry(r.epoch).or_default();
                times.push(r.sim_time_s);
                values.push(v);
            }
        }
        let mut c = Curve::default();
        for (times, values) in per_epoch.into_values() {
            let t = times.iter().sum::<f64>() / times.len() as f64;
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            c.mean.push((t, mean));
            c.lo.push((t, values.iter().copied().fold(f64::INFINITY, f64::min)));
            c.hi.push((t, values.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
        }
        c
    }

    /// The same curve with x multiplied by `k` (a change of time unit).
    pub fn scale_x(mut self, k: f64) -> Self {
        for pts in [&mut self.mean, &mut self.lo, &mut self.hi] {
            pts.iter_mut().for_each(|p| p.0 *= k);
        }
        self
    }

    pub fn y_bounds(&self) -> Option<(f64, f64)> {
        let lo = self.lo.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = self.hi.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then_some((lo, hi))
    }

    pub fn x_bounds(&self) -> Option<(f64, f64)> {
        Some((self.mean.first()?.0, self.mean.last()?.0))
    }

    /// Bounds of the values at x ≥ `from`.
    pub fn y_bounds_from(&self, from: f64) -> Option<(f64, f64)> {
        let lo = self.lo.iter().filter(|p| p.0 >= from).map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = self.hi.iter().filter(|p| p.0 >= from).map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then_some((lo, hi))
    }
}

/// The parts of a polyline inside `lo..=hi` in y, cut where it crosses a bound (interpolated),
/// so a line that leaves a zoomed axis ends at its edge instead of being drawn past it.
pub(super) fn clip_y(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| (lo..=hi).contains(&y);
    let cross = |a: (f64, f64), b: (f64, f64), y: f64| (a.0 + (b.0 - a.0) * (y - a.1) / (b.1 - a.1), y);
    let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| points[j]);
        match (prev, inside(p.1)) {
            (Some(q), true) if !inside(q.1) => current.push(cross(q, p, if q.1 < lo { lo } else { hi })),
            (Some(q), false) if inside(q.1) => {
                current.push(cross(q, p, if p.1 < lo { lo } else { hi }));
                parts.push(std::mem::take(&mut current));
            }
            _ => {}
        }
        if inside(p.1) {
            current.push(p);
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thick_lines_split_only_where_they_fold_back() {
        let smooth = [(0, 100), (10, 90), (20, 85), (30, 84)];
        let whole = 0..4;
        assert_eq!(split_at_sharp_turns(&smooth, 3), std::slice::from_ref(&whole));
        // Up 80 px and back down within 2 px: a 3 px stroke's miter would spike ~80 px.
        let swing = [(0, 100), (2, 20), (4, 100), (6, 95)];
        assert_eq!(split_at_sharp_turns(&swing, 3), [0..2, 1..3, 2..4]);
        assert_eq!(split_at_sharp_turns(&swing, 1), [whole]);
    }

    #[test]
    fn shared_words_leave_the_labels() {
        let (common, rest) = shorten_labels(&["P=8 metis bsp cpu", "P=8 metis ssp S=3 cpu"]);
        assert_eq!(common, "P=8 metis cpu");
        assert_eq!(rest, ["bsp", "ssp S=3"]);
        // A label made only of shared words keeps everything.
        let (common, rest) = shorten_labels(&["P=8 bsp", "P=8 bsp stragglers"]);
        assert_eq!((common.as_str(), rest[0].as_str()), ("", "P=8 bsp"));
        assert_eq!(shorten_labels(&["alone"]).1, ["alone"]);
    }

    #[test]
    fn clip_y_cuts_lines_at_the_bounds() {
        let pts = [(0.0, 0.0), (1.0, 2.0), (2.0, 2.0), (3.0, 0.0), (4.0, 0.5)];
        let parts = clip_y(&pts, 1.0, 3.0);
        assert_eq!(parts, vec![vec![(0.5, 1.0), (1.0, 2.0), (2.0, 2.0), (2.5, 1.0)]]);
        assert_eq!(clip_y(&pts, -1.0, 3.0), vec![pts.to_vec()]);
        assert!(clip_y(&pts, 5.0, 6.0).is_empty());
    }
}
