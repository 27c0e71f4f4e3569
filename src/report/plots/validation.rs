//! `validation`: the clock's predicted compute time per round against the measured one, one point
//! per configuration, log–log, with the y = x line and the ±15% band the clock aims to stay in.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::*;

/// One configuration's point: its group (colour and legend), predicted and measured seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationPoint {
    pub group: String,
    pub predicted_s: f64,
    pub measured_s: f64,
}

/// The band drawn around y = x.
pub const BAND: f64 = 0.15;

pub fn draw_validation<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    points: &[ValidationPoint],
) -> PlotResult<DB> {
    let _ = super::ensure_font();
    root.fill(&WHITE)?;
    let values = points.iter().flat_map(|p| [p.predicted_s, p.measured_s]).filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > 0.0 { (lo / 1.5, hi * 1.5) } else { (1e-6, 1.0) };
    let mut chart = ChartBuilder::on(root)
        .caption(title, text(TITLE_PX))
        .margin(30)
        .x_label_area_size(90)
        .y_label_area_size(130)
        .build_cartesian_2d((lo * 1e3..hi * 1e3).log_scale(), (lo * 1e3..hi * 1e3).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("measured compute time per round (ms)")
        .y_desc("predicted compute time per round (ms)")
        .axis_desc_style(text(AXIS_DESC_PX))
        .label_style(text(TICK_PX))
        .light_line_style(WHITE)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| significant(*v))
        .y_label_formatter(&|v| significant(*v))
        .draw()?;
    // The ±15% band as a polygon between y = 0.85x and y = 1.15x, then y = x over it.
    let (a, b) = (lo * 1e3, hi * 1e3);
    let band = vec![(a, a * (1.0 - BAND)), (b, b * (1.0 - BAND)), (b, b * (1.0 + BAND)), (a, a * (1.0 + BAND))];
    chart
        .draw_series(std::iter::once(Polygon::new(band, RGBColor(200, 200, 200).mix(0.5).filled())))?
        .label(format!("±{:.0}%", BAND * 100.0))
        .legend(|(x, y)| Rectangle::new([(x, y - 8), (x + 30, y + 8)], RGBColor(200, 200, 200).filled()));
    chart
        .draw_series(LineSeries::new([(a, a), (b, b)], BLACK.stroke_width(2)))?
        .label("y = x")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 30, y)], BLACK.stroke_width(2)));
    let mut groups: Vec<&str> = points.iter().map(|p| p.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    for (i, group) in groups.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts = points.iter().filter(|p| p.group == *group && p.predicted_s > 0.0 && p.measured_s > 0.0);
        chart
            .draw_series(pts.map(|p| Circle::new((p.measured_s * 1e3, p.predicted_s * 1e3), 7, color.filled())))?
            .label(*group)
            .legend(move |(x, y)| Circle::new((x + 15, y), 7, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(text(LEGEND_PX))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

/// A tick value with three significant digits and no trailing zeros (0.05, 1.2, 40).
fn significant(v: f64) -> String {
    if v <= 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (2 - v.log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ticks_have_three_significant_digits() {
        assert_eq!(super::significant(0.0512), "0.0512");
        assert_eq!(super::significant(1.0), "1");
        assert_eq!(super::significant(12.34), "12.3");
        assert_eq!(super::significant(400.0), "400");
    }

    use super::*;

    #[test]
    fn draws_points_of_several_groups_and_an_empty_set() {
        let points = vec![
            ValidationPoint { group: "gcn".into(), predicted_s: 1e-3, measured_s: 1.1e-3 },
            ValidationPoint { group: "gat".into(), predicted_s: 5e-3, measured_s: 4e-3 },
        ];
        for pts in [points, Vec::new()] {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (800, 800)).into_drawing_area();
                draw_validation(&root, "validation", &pts).unwrap();
            }
            assert!(svg.contains("y = x"), "the reference line is labelled");
            assert!(svg.matches("<circle").count() >= pts.len());
        }
    }
}
