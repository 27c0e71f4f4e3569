//! The figures' visual vocabulary: font and sizes, colours, line looks and markers.

use plotters::prelude::*;

/// What every drawing function returns: plotters' error of the backend it draws on.
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

pub(super) fn text(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px).into_font()).color(&BLACK)
}
/// A line's dash pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dash {
    Solid,
    /// Long dashes.
    Long,
    Dashed,
    /// Short dashes.
    Short,
    Dotted,
}

impl Dash {
    pub const ALL: [Dash; 5] = [Dash::Solid, Dash::Long, Dash::Dashed, Dash::Short, Dash::Dotted];

    /// (dash, gap) in pixels; `None` for a solid line.
    pub fn pattern(self) -> Option<(u32, u32)> {
        match self {
            Dash::Solid => None,
            Dash::Long => Some((26, 8)),
            Dash::Dashed => Some((14, 10)),
            Dash::Short => Some((6, 6)),
            Dash::Dotted => Some((2, 6)),
        }
    }
}

/// How one series is stroked: colour, width, dash pattern, and the marker placed along it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Look {
    pub color: RGBColor,
    pub width: u32,
    pub dash: Dash,
    pub marker: Option<Marker>,
}

impl Look {
    pub const fn plain(color: RGBColor, width: u32, dash: Dash) -> Self {
        Self { color, width, dash, marker: None }
    }

    pub fn serial() -> Self {
        Self::plain(SERIAL_COLOR, SERIAL_WIDTH, Dash::Solid)
    }

    /// The `i`-th non-serial series: palette colour and a marker shape (unique pairs for 20
    /// series), dashed from the second round of colours on.
    pub fn nth(i: usize) -> Self {
        Self {
            color: PALETTE[i % PALETTE.len()],
            width: LINE_WIDTH,
            dash: if (i / PALETTE.len()) % 2 == 1 { Dash::Dashed } else { Dash::Solid },
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

/// A marker drawn at data points (partitions figure) and in legend samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    /// Pointing down.
    Wedge,
}

impl Marker {
    pub fn nth(i: usize) -> Self {
        [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Diamond][i % 4]
    }

    /// The `i`-th of all five shapes (the wedge too), for series that share a colour.
    pub fn nth_of_five(i: usize) -> Self {
        [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Diamond, Marker::Wedge][i % 5]
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
        Marker::Wedge => (base + Polygon::new(vec![(0, r + 3), (r + 2, -r), (-r - 2, -r)], style)).into_dyn(),
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
