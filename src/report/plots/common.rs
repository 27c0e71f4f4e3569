//! What the figures share: fonts, colours, line looks, the legend strip under the panels,
//! seed aggregation and tick formatting. Kept here so the three figures look alike.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::rows::LongMetricsRow;

pub(super) type PlotResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The family the embedded DejaVu Sans is registered under.
pub(super) const FONT: &str = "sans-serif";

// Pixel sizes for a 1600×1000 figure seen from the back of a classroom.
pub(super) const TITLE_PX: f64 = 36.0;
pub(super) const CAPTION_PX: f64 = 27.0;
pub(super) const AXIS_DESC_PX: f64 = 24.0;
pub(super) const TICK_PX: f64 = 21.0;
pub(super) const LEGEND_PX: f64 = 22.0;

/// Alpha of the min–max seed bands: light enough that every line stays visible through them.
pub(super) const BAND_ALPHA: f64 = 0.16;

pub(super) const SERIAL_WIDTH: u32 = 6;
pub(super) const LINE_WIDTH: u32 = 3;

/// Colour-blind-safe hues (Okabe–Ito without black and yellow, plus Tableau extras) in a
/// fixed order: black is reserved for serial training, yellow is unreadable on white.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x8C, 0x56, 0x4B), // brown
    RGBColor(0x94, 0x67, 0xBD), // purple
    RGBColor(0x17, 0xBE, 0xCF), // cyan
    RGBColor(0xBC, 0xBD, 0x22), // olive
];

pub(super) const SERIAL_COLOR: RGBColor = RGBColor(0, 0, 0);
const GRID_BOLD: RGBColor = RGBColor(0xD0, 0xD0, 0xD0);
const GRID_LIGHT: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

pub(super) fn text(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px).into_font()).color(&BLACK)
}

/// How one series is stroked: colour, width, solid or dashed, and the marker placed along it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Look {
    pub color: RGBColor,
    pub width: u32,
    pub dashed: bool,
    pub marker: Option<Marker>,
}

impl Look {
    pub const fn plain(color: RGBColor, width: u32, dashed: bool) -> Self {
        Self { color, width, dashed, marker: None }
    }

    pub fn serial() -> Self {
        Self::plain(SERIAL_COLOR, SERIAL_WIDTH, false)
    }

    /// The `i`-th non-serial series: palette colour and a marker shape (unique pairs for 20
    /// series), dashed from the second round of colours on.
    pub fn nth(i: usize) -> Self {
        Self {
            color: PALETTE[i % PALETTE.len()],
            width: LINE_WIDTH,
            dashed: (i / PALETTE.len()) % 2 == 1,
            marker: Some(Marker::nth(i)),
        }
    }

    pub fn stroke(&self) -> ShapeStyle {
        self.color.stroke_width(self.width)
    }

    pub fn band(&self) -> ShapeStyle {
        self.color.mix(BAND_ALPHA).filled()
    }
}

/// Draws `points` as one line in `look` (gaps are the caller's business).
pub(super) fn draw_line<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: Vec<(f64, f64)>,
    look: Look,
) -> PlotResult<DB> {
    if look.dashed {
        chart.draw_series(DashedLineSeries::new(points, 14, 10, look.stroke()))?;
    } else {
        chart.draw_series(LineSeries::new(points, look.stroke()))?;
    }
    Ok(())
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

/// Grid, ticks and axis descriptions in the common style.
pub(super) fn style_mesh<X: Ranged, Y: Ranged, DB: DrawingBackend>(mesh: &mut MeshStyle<'_, '_, X, Y, DB>) {
    mesh.label_style(text(TICK_PX))
        .axis_desc_style(text(AXIS_DESC_PX))
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .axis_style(BLACK.stroke_width(2))
        .max_light_lines(4);
}

/// A linear axis with ticks chosen here: tick values (and so label decimals) are known,
/// which plotters' own f64 axis hides, and `with_key_points` on it loses the label formatter.
#[derive(Clone, Debug)]
pub(super) struct Ticked {
    range: Range<f64>,
    major: Vec<f64>,
    minor: Vec<f64>,
    decimals: usize,
}

impl Ticked {
    /// At most about `target` ticks at a 1-2-5 step over `range`, a minor line halfway.
    pub fn linear(range: Range<f64>, target: usize) -> Self {
        Self::with_min_step(range, target, 0.0)
    }

    /// As `linear`, with whole-number steps only: counts have no fractional ticks.
    pub fn counts(range: Range<f64>, target: usize) -> Self {
        Self::with_min_step(range, target, 1.0)
    }

    fn with_min_step(range: Range<f64>, target: usize, min_step: f64) -> Self {
        let span = (range.end - range.start).abs().max(1e-12);
        let raw = (span / target.max(1) as f64).max(min_step);
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag);
        let ticks = |step: f64| -> Vec<f64> {
            let (first, last) = ((range.start / step).ceil() as i64, (range.end / step).floor() as i64);
            (first..=last).map(|k| k as f64 * step).collect()
        };
        let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
        Self { major: ticks(step), minor: ticks(step / 2.0), decimals, range }
    }

    /// Categories 0..n at integer positions, half a category of margin at each end.
    pub fn categories(n: usize) -> Self {
        Self { range: -0.5..n as f64 - 0.5, major: (0..n).map(|i| i as f64).collect(), minor: Vec::new(), decimals: 0 }
    }

    /// A tick label with the decimals the step needs, the same for every tick.
    pub fn label(&self, v: f64) -> String {
        let d = self.decimals;
        let s = format!("{v:.d$}");
        // "-0.00" is zero.
        if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
            s.trim_start_matches('-').to_string()
        } else {
            s
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (lo, hi): (i32, i32)) -> i32 {
        let r = &self.range;
        lo + ((value - r.start) / (r.end - r.start) * f64::from(hi - lo)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A marker drawn at data points (partitions figure) and in legend samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
}

impl Marker {
    pub fn nth(i: usize) -> Self {
        [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Diamond][i % 4]
    }
}

/// A marker at `at` (any coordinate system) in `color`, about `r` pixels in radius; shapes
/// are offsets in pixels, so markers keep their size on log axes.
pub(super) fn marker_element<'a, C: Clone + 'a, DB: DrawingBackend + 'a>(
    marker: Marker,
    at: C,
    r: i32,
    color: RGBColor,
) -> DynElement<'a, DB, C> {
    let style = color.filled();
    let base = EmptyElement::at(at);
    match marker {
        Marker::Circle => (base + Circle::new((0, 0), r, style)).into_dyn(),
        Marker::Triangle => (base + Polygon::new(vec![(0, -r - 3), (r + 2, r), (-r - 2, r)], style)).into_dyn(),
        Marker::Square => (base + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], style)).into_dyn(),
        Marker::Diamond => {
            (base + Polygon::new(vec![(0, -r - 2), (r + 2, 0), (0, r + 2), (-r - 2, 0)], style)).into_dyn()
        }
    }
}

/// A marker at a data point, drawn in pixels: chart series would need `'static` backends for
/// boxed elements, and ours borrow their buffers.
pub(super) fn draw_marker<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    marker: Marker,
    at: (f64, f64),
    color: RGBColor,
) -> PlotResult<DB> {
    let area = chart.plotting_area();
    let (bx, by) = area.get_base_pixel();
    let (px, py) = area.map_coordinate(&at);
    area.strip_coord_spec().draw(&marker_element(marker, (px - bx, py - by), 7, color))
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

/// One legend line: a sample of the series and its text.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub text: String,
    pub look: Look,
    /// Show a shaded band behind the sample line (series with several seeds).
    pub band: bool,
}

impl Entry {
    pub fn line(text: impl Into<String>, look: Look) -> Self {
        Self { text: text.into(), look, band: false }
    }
}

/// A boxed legend in the band under the panels, outside every plotting area so it never
/// covers data however many series there are. Several strips sit side by side, in order.
pub(super) struct Strip {
    pub heading: Option<String>,
    pub entries: Vec<Entry>,
}

const SAMPLE_W: i32 = 56;
const SAMPLE_GAP: i32 = 10;
const COL_GAP: i32 = 36;
const ROW_H: i32 = 32;
const STRIP_PAD: i32 = 10;

/// A strip's measurements: column width (text included) and heading width, in pixels.
struct Measure {
    col_w: i32,
    heading_w: i32,
}

impl Measure {
    fn of<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        strip: &Strip,
    ) -> Result<Self, DrawingAreaErrorKind<DB::ErrorType>> {
        let font = text(LEGEND_PX);
        let mut widest = 0;
        for e in &strip.entries {
            widest = widest.max(area.estimate_text_size(&e.text, &font)?.0 as i32);
        }
        let heading_w = match &strip.heading {
            Some(h) => area.estimate_text_size(h, &font)?.0 as i32,
            None => 0,
        };
        Ok(Self { col_w: SAMPLE_W + SAMPLE_GAP + widest + COL_GAP, heading_w })
    }

    /// Box width with `cols` columns.
    fn box_w(&self, cols: usize) -> i32 {
        (cols as i32 * self.col_w - COL_GAP).max(self.heading_w) + 2 * STRIP_PAD
    }
}

fn strip_height(rows: usize, heading: bool) -> i32 {
    2 * STRIP_PAD + (rows as i32 + i32::from(heading)) * ROW_H
}

/// Fills the background, draws the title and the legend strips, and returns the panel areas
/// (one row of `n_panels` equal panels between title and legends). The strips get the fewest
/// rows with which all of them fit side by side, so the panels keep as much height as possible.
pub(super) fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    n_panels: usize,
    strips: &[Strip],
) -> Result<Vec<DrawingArea<DB, Shift>>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let body = root.margin(8, 4, 8, 8).titled(title, text(TITLE_PX))?;
    let (w, h) = body.dim_in_pixel();
    let strips: Vec<&Strip> = strips.iter().filter(|s| !s.entries.is_empty()).collect();
    let mut measures = Vec::with_capacity(strips.len());
    for s in &strips {
        measures.push(Measure::of(&body, s)?);
    }
    let max_rows = strips.iter().map(|s| s.entries.len()).max().unwrap_or(0).max(1);
    let cols_for = |rows: usize| -> Vec<usize> { strips.iter().map(|s| s.entries.len().div_ceil(rows)).collect() };
    let total_w = |cols: &[usize]| -> i32 { measures.iter().zip(cols).map(|(m, c)| m.box_w(*c)).sum() };
    let rows = (1..=max_rows).find(|r| total_w(&cols_for(*r)) <= w as i32).unwrap_or(max_rows);
    let cols = cols_for(rows);
    let strip_h =
        strips.iter().map(|s| strip_height(rows.min(s.entries.len()), s.heading.is_some())).max().unwrap_or(0);

    let (top, bottom) = body.split_vertically(h as i32 - strip_h);
    // Equal gaps between and around the boxes.
    let gap = ((w as i32 - total_w(&cols)) / (strips.len() as i32 + 1)).max(0);
    let mut x = gap;
    for ((s, m), c) in strips.iter().zip(&measures).zip(&cols) {
        let r = s.entries.len().div_ceil(*c);
        draw_strip(&bottom, s, m, (x, *c, r))?;
        x += m.box_w(*c) + gap;
    }
    Ok(top.split_evenly((1, n_panels.max(1))))
}

fn draw_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    strip: &Strip,
    m: &Measure,
    (x0, cols, rows): (i32, usize, usize),
) -> PlotResult<DB> {
    let block_h = strip_height(rows, strip.heading.is_some()) - STRIP_PAD;
    let y0 = STRIP_PAD / 2;
    let corner = (x0 + m.box_w(cols), y0 + block_h);
    area.draw(&Rectangle::new([(x0, y0), corner], RGBColor(0x99, 0x99, 0x99).stroke_width(1)))?;
    let font = text(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y_first = y0 + STRIP_PAD / 2 + ROW_H / 2;
    if let Some(h) = &strip.heading {
        area.draw_text(h, &font, (x0 + STRIP_PAD, y_first))?;
        y_first += ROW_H;
    }
    // Column-major, so the list reads top to bottom like the sorted labels.
    for (i, e) in strip.entries.iter().enumerate() {
        let (col, row) = (i / rows, i % rows);
        let x = x0 + STRIP_PAD + col as i32 * m.col_w;
        let y = y_first + row as i32 * ROW_H;
        draw_sample(area, e, (x, y))?;
        area.draw_text(&e.text, &font, (x + SAMPLE_W + SAMPLE_GAP, y))?;
    }
    Ok(())
}

/// A small legend boxed in the upper-left corner of a plotting area, on a semi-opaque white
/// background; only for panels whose upper left is known to be empty.
pub(super) fn inset_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry]) -> PlotResult<DB> {
    let font = text(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Center));
    let mut widest = 0;
    for e in entries {
        widest = widest.max(area.estimate_text_size(&e.text, &font)?.0 as i32);
    }
    let (x0, y0) = (14, 14);
    let w = 2 * STRIP_PAD + SAMPLE_W + SAMPLE_GAP + widest;
    let h = STRIP_PAD + entries.len() as i32 * ROW_H;
    area.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], WHITE.mix(0.85).filled()))?;
    area.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], RGBColor(0x99, 0x99, 0x99).stroke_width(1)))?;
    for (i, e) in entries.iter().enumerate() {
        let (x, y) = (x0 + STRIP_PAD, y0 + STRIP_PAD / 2 + ROW_H / 2 + i as i32 * ROW_H);
        draw_sample(area, e, (x, y))?;
        area.draw_text(&e.text, &font, (x + SAMPLE_W + SAMPLE_GAP, y))?;
    }
    Ok(())
}

/// The legend sample of `e` with its left end at `(x, y)`.
pub(super) fn draw_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    e: &Entry,
    (x, y): (i32, i32),
) -> PlotResult<DB> {
    if e.band {
        area.draw(&Rectangle::new([(x, y - 10), (x + SAMPLE_W, y + 10)], e.look.band()))?;
    }
    let ends = vec![(x, y), (x + SAMPLE_W, y)];
    if e.look.dashed {
        area.draw(&DashedPathElement::new(ends, 12, 7, e.look.stroke()))?;
    } else {
        area.draw(&PathElement::new(ends, e.look.stroke()))?;
    }
    if let Some(m) = e.look.marker {
        area.draw(&marker_element(m, (x + SAMPLE_W / 2, y), 7, e.look.color))?;
    }
    Ok(())
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
        let mut s = self.label.clone();
        if self.is_serial() && !self.label.contains("serial") {
            s.push_str(" (serial)");
        }
        if self.seeds() > 1 {
            s.push_str(&format!(" ×{} seeds", self.seeds()));
        }
        s
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

/// Looks per group: black for serial, palette colours for the rest in order.
pub(super) fn looks(groups: &[Group<'_>]) -> Vec<Look> {
    let mut next = 0;
    groups
        .iter()
        .map(|g| {
            if g.is_serial() {
                Look::serial()
            } else {
                next += 1;
                Look::nth(next - 1)
            }
        })
        .collect()
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
        let mut c = Curve::default();
        for (epoch, vs) in per_epoch {
            let x = f64::from(epoch);
            let mean = vs.iter().sum::<f64>() / vs.len() as f64;
            let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            c.mean.push((x, mean));
            c.lo.push((x, lo));
            c.hi.push((x, hi));
        }
        c
    }

    pub fn y_bounds(&self) -> Option<(f64, f64)> {
        let lo = self.lo.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = self.hi.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then_some((lo, hi))
    }

    pub fn x_bounds(&self) -> Option<(f64, f64)> {
        Some((self.mean.first()?.0, self.mean.last()?.0))
    }
}

/// Union of optional bounds.
pub(super) fn union(bounds: impl IntoIterator<Item = Option<(f64, f64)>>) -> Option<(f64, f64)> {
    bounds.into_iter().flatten().reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

/// The epoch axis: the data's range, never empty.
pub(super) fn epoch_range(b: Option<(f64, f64)>) -> std::ops::Range<f64> {
    match b {
        Some((lo, hi)) if hi > lo => lo..hi,
        Some((lo, _)) => lo - 1.0..lo + 1.0,
        None => 0.0..1.0,
    }
}

/// A linear range around `b` with 7 % padding (markers and error bars at the extremes stay
/// inside); `floor` pins the bottom (e.g. 0 for bytes).
pub(super) fn padded(b: Option<(f64, f64)>, floor: Option<f64>) -> std::ops::Range<f64> {
    let (lo, hi) = b.unwrap_or((0.0, 1.0));
    let lo = floor.map_or(lo, |f| f.min(lo));
    let span = if hi > lo { hi - lo } else { hi.abs().max(1.0) };
    let bottom = if floor.is_some() { lo } else { lo - 0.07 * span };
    bottom..hi + 0.07 * span
}

/// A log range around positive `b`, widened to at least a factor 2 so ticks exist.
pub(super) fn log_padded(b: Option<(f64, f64)>) -> std::ops::Range<f64> {
    let (lo, hi) = b.unwrap_or((0.1, 1.0));
    let (mut lo, mut hi) = (lo / 1.12, hi * 1.12);
    if hi / lo < 2.0 {
        let mid = (hi * lo).sqrt();
        (lo, hi) = (mid / 2f64.sqrt(), mid * 2f64.sqrt());
    }
    lo..hi
}

/// Ticks m × 10^k inside `r`, the sparsest mantissa set giving 5 to 10 ticks (else the one
/// closest): plotters' own log ticks skip everything below the first power of ten.
pub(super) fn log_ticks(r: &std::ops::Range<f64>) -> Vec<f64> {
    let in_range = |mantissas: &[f64]| -> Vec<f64> {
        let (k0, k1) = (r.start.log10().floor() as i32, r.end.log10().ceil() as i32);
        (k0..=k1)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= r.start && *v <= r.end)
            .collect()
    };
    let sets: [&[f64]; 5] = [
        &[1.0],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0],
        &[1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];
    let candidates: Vec<Vec<f64>> = sets.iter().map(|m| in_range(m)).collect();
    if let Some(t) = candidates.iter().find(|t| (5..=10).contains(&t.len())) {
        return t.clone();
    }
    candidates.into_iter().min_by_key(|t| t.len().abs_diff(7)).unwrap_or_default()
}

/// Ticks at powers of two of bytes, spaced so there are at most 8.
pub(super) fn byte_ticks(r: &std::ops::Range<f64>) -> Vec<f64> {
    let (e0, e1) = (r.start.log2().ceil() as i32, r.end.log2().floor() as i32);
    let step = ((e1 - e0 + 1).max(1) as usize).div_ceil(8);
    (e0..=e1).step_by(step).map(|e| 2f64.powi(e)).collect()
}

/// A tick value without float noise: 0.05, 2, 1.5, 1200.
pub(super) fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Counts: 950, 12k, 1.5M.
pub(super) fn fmt_count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", fmt_num(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", fmt_num(v / 1e3))
    } else {
        fmt_num(v)
    }
}

/// Bytes in binary units: 512 B, 4 KiB, 1.5 MiB.
pub(super) fn fmt_bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut u = 0;
    while x.abs() >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{} {}", fmt_num(x), UNITS[u])
}

/// The binary unit that makes `max` bytes read as 1–1023 units: (divisor, name).
pub(super) fn byte_unit(max: f64) -> (f64, &'static str) {
    match max {
        m if m >= 1024f64.powi(3) => (1024f64.powi(3), "GiB"),
        m if m >= 1024f64.powi(2) => (1024f64.powi(2), "MiB"),
        m if m >= 1024.0 => (1024.0, "KiB"),
        _ => (1.0, "B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_cover_sub_decade_ranges() {
        let t = log_ticks(&(0.3..2.5));
        assert!(t.contains(&0.5) && t.contains(&1.0) && t.contains(&2.0), "{t:?}");
        let t = log_ticks(&(1e-3..10.0));
        assert!((3..=10).contains(&t.len()), "{t:?}");
        // 2^18 ..= 2^24: every power of two fits under the limit of 8.
        assert_eq!(byte_ticks(&(164e3..32.5e6)).len(), 7);
    }

    #[test]
    fn linear_ticks() {
        let t = Ticked::linear(0.715..0.8145, 7);
        assert_eq!(t.major.iter().map(|v| t.label(*v)).collect::<Vec<_>>(), ["0.72", "0.74", "0.76", "0.78", "0.80"]);
        let t = Ticked::linear(-1.9..95.0, 7);
        assert_eq!(t.major.iter().map(|v| t.label(*v)).collect::<Vec<_>>(), ["0", "20", "40", "60", "80"]);
        assert_eq!(Ticked::categories(3).major, [0.0, 1.0, 2.0]);
        assert_eq!(Ticked::counts(0.0..1.07, 7).major, [0.0, 1.0]);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(0.30000000000000004), "0.3");
        assert_eq!(fmt_count(15_300.0), "15.3k");
        assert_eq!(fmt_bytes(1536.0), "1.5 KiB");
        assert_eq!(fmt_bytes(4.0 * 1024.0 * 1024.0), "4 MiB");
    }
}
