//! Axes: tick choice, ranges and number formatting shared by every figure.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

use super::style::{text, AXIS_DESC_PX, TICK_PX};

const GRID_BOLD: RGBColor = RGBColor(0xD0, 0xD0, 0xD0);
const GRID_LIGHT: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

/// A chart builder with the margins and label areas of every data panel (not the timeline's
/// narrower worker axis).
pub(super) fn panel_builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin(8).margin_right(28).x_label_area_size(56).y_label_area_size(96);
    b
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

/// The accuracy axis: `padded(b)` within [0, 1], never empty or inverted, whatever the values
/// (NaN, or far outside [0, 1] in a hand-edited or corrupt metrics.csv).
pub(super) fn accuracy_range(b: Option<(f64, f64)>) -> std::ops::Range<f64> {
    let r = padded(b, None);
    let (lo, hi) = (r.start.max(0.0), r.end.min(1.0));
    if lo < hi {
        lo..hi
    } else {
        0.0..1.0
    }
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

/// Small values in scientific notation (1e-9, 2e-7), others as [`fmt_num`]: for log axes that
/// span many decades.
pub(super) fn fmt_sci(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        let e = v.abs().log10().floor() as i32;
        let m = v / 10f64.powi(e);
        let m = fmt_num((m * 10.0).round() / 10.0);
        return if m == "1" { format!("1e{e}") } else { format!("{m}e{e}") };
    }
    fmt_num(v)
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

/// The unit that shows `max_s` seconds as numbers between about 2 and 2000: (multiplier, name).
pub(super) fn time_unit(max_s: f64) -> (f64, &'static str) {
    if max_s >= 2.0 {
        (1.0, "s")
    } else if max_s >= 2e-3 {
        (1e3, "ms")
    } else {
        (1e6, "µs")
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
        assert_eq!(fmt_sci(1e-9), "1e-9");
        assert_eq!(fmt_sci(3e-7), "3e-7");
        assert_eq!(fmt_sci(0.02), "0.02");
    }
}
