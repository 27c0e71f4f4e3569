//! Legends: boxed strips under the panels (outside every plotting area) and small insets, and
//! the figure layout they determine.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::series::{Group, Labels, PlotResult};
use super::style::{marker_element, text, Look, AXIS_DESC_PX, CAPTION_PX, LEGEND_PX, TITLE_PX};
use super::text::text_width;

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
pub(super) const ROW_H: i32 = 32;
/// A generous average glyph width of the legend font, as a share of its size (no font is at
/// hand when a figure's canvas is sized).
const GLYPH_SHARE: f64 = 0.62;

/// How many legend columns of `labels` a figure `width` pixels wide can hold, estimated before
/// drawing (at least 1): the canvas grows for the rows the rest need.
pub(super) fn columns_that_fit(labels: &[String], width: u32) -> usize {
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * GLYPH_SHARE * LEGEND_PX;
    let col = (SAMPLE_W + SAMPLE_GAP + COL_GAP) as f64 + widest;
    let room = width as f64 - 12.0 - (2 * STRIP_PAD) as f64 + COL_GAP as f64;
    ((room / col).floor() as usize).max(1)
}
const STRIP_PAD: i32 = 10;

/// A strip's measurements: column width (text included) and heading width, in pixels.
/// Measured with the embedded font's advance widths, as plotters lays text out, so a canvas
/// can be sized before it exists and the layout drawn on it agrees.
struct Measure {
    col_w: i32,
    heading_w: i32,
}

impl Measure {
    fn of(strip: &Strip) -> Self {
        let width = |t: &str| text_width(t, LEGEND_PX).ceil() as i32;
        let widest = strip.entries.iter().map(|e| width(&e.text)).max().unwrap_or(0);
        let heading_w = strip.heading.as_deref().map_or(0, width);
        Self { col_w: SAMPLE_W + SAMPLE_GAP + widest + COL_GAP, heading_w }
    }

    /// Box width with `cols` columns.
    fn box_w(&self, cols: usize) -> i32 {
        (cols as i32 * self.col_w - COL_GAP).max(self.heading_w) + 2 * STRIP_PAD
    }
}

fn strip_height(rows: usize, heading: bool) -> i32 {
    2 * STRIP_PAD + (rows as i32 + i32::from(heading)) * ROW_H
}

/// How the non-empty strips sit side by side in a band `width` wide: the fewest rows with
/// which all of them fit, each strip's columns, and the band's height.
struct Arrangement {
    cols: Vec<usize>,
    height: i32,
    measures: Vec<Measure>,
}

impl Arrangement {
    fn of(strips: &[&Strip], width: i32) -> Self {
        let measures: Vec<Measure> = strips.iter().map(|s| Measure::of(s)).collect();
        let max_rows = strips.iter().map(|s| s.entries.len()).max().unwrap_or(0).max(1);
        let cols_for = |rows: usize| -> Vec<usize> { strips.iter().map(|s| s.entries.len().div_ceil(rows)).collect() };
        let total_w = |cols: &[usize]| -> i32 { measures.iter().zip(cols).map(|(m, c)| m.box_w(*c)).sum() };
        let rows = (1..=max_rows).find(|r| total_w(&cols_for(*r)) <= width).unwrap_or(max_rows);
        let cols = cols_for(rows);
        let height =
            strips.iter().map(|s| strip_height(rows.min(s.entries.len()), s.heading.is_some())).max().unwrap_or(0);
        Self { cols, height, measures }
    }

    fn total_w(&self) -> i32 {
        self.measures.iter().zip(&self.cols).map(|(m, c)| m.box_w(*c)).sum()
    }
}

/// Legend rows (a heading counts as one) that the figures with a legend entry per
/// configuration always reserve: their panels have the same height with 1 configuration as
/// with 24, and the canvas grows by what a longer legend needs.
pub(super) const RESERVED_ROWS: usize = 3;

/// Margins around the title and panels: top, bottom, left, right.
const MARGIN: (i32, i32, i32, i32) = (8, 4, 8, 8);

/// Pixels a canvas `width` wide must grow so that `strips` fit under panels of the height
/// [`layout_reserving`] keeps.
pub(super) fn growth(strips: &[Strip], width: u32) -> u32 {
    let strips: Vec<&Strip> = strips.iter().filter(|s| !s.entries.is_empty()).collect();
    let band = Arrangement::of(&strips, width as i32 - MARGIN.2 - MARGIN.3).height;
    (band - strip_height(RESERVED_ROWS, false)).max(0) as u32
}

/// The title and legend of a figure with a line per configuration: the words every label
/// shares go to the title, each entry says what differs. `words` are the figure's name and
/// how it combines seeds.
pub(super) fn configuration_legend(
    experiment: &str,
    groups: &[Group<'_>],
    looks: &[Look],
    focus_note: Option<String>,
    (what, seeds): (&str, &str),
) -> (String, Strip) {
    let labels = Labels::of(groups);
    let title = labels.title(experiment, what, focus_note.into_iter().collect(), seeds);
    let entries = labels
        .texts
        .into_iter()
        .zip(groups.iter().zip(looks))
        .map(|(text, (g, l))| Entry { text, look: *l, band: g.seeds() > 1 })
        .collect();
    (title, Strip { heading: None, entries })
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
    layout_grid(root, title, (1, n_panels), strips)
}

/// [`layout`] with the panels in a `(rows, cols)` grid, row by row.
pub(super) fn layout_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    grid: (usize, usize),
    strips: &[Strip],
) -> Result<Vec<DrawingArea<DB, Shift>>, DrawingAreaErrorKind<DB::ErrorType>> {
    layout_with(root, title, grid, strips, 0)
}

/// [`layout_grid`] keeping [`RESERVED_ROWS`] legend rows under the panels however short the
/// legend (the legend sits at the top of that band), for a canvas sized with [`growth`].
pub(super) fn layout_reserving<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    grid: (usize, usize),
    strips: &[Strip],
) -> Result<Vec<DrawingArea<DB, Shift>>, DrawingAreaErrorKind<DB::ErrorType>> {
    layout_with(root, title, grid, strips, RESERVED_ROWS)
}

fn layout_with<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    (panel_rows, panel_cols): (usize, usize),
    strips: &[Strip],
    reserved_rows: usize,
) -> Result<Vec<DrawingArea<DB, Shift>>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let body = titled(&root.margin(MARGIN.0, MARGIN.1, MARGIN.2, MARGIN.3), title)?;
    let (w, h) = body.dim_in_pixel();
    let strips: Vec<&Strip> = strips.iter().filter(|s| !s.entries.is_empty()).collect();
    let arranged = Arrangement::of(&strips, w as i32);
    let reserved = if reserved_rows > 0 { strip_height(reserved_rows, false) } else { 0 };
    let (top, bottom) = body.split_vertically(h as i32 - arranged.height.max(reserved));
    // Equal gaps between and around the boxes.
    let gap = ((w as i32 - arranged.total_w()) / (strips.len() as i32 + 1)).max(0);
    let mut x = gap;
    for ((s, m), c) in strips.iter().zip(&arranged.measures).zip(&arranged.cols) {
        let r = s.entries.len().div_ceil(*c);
        draw_strip(&bottom, s, m, (x, *c, r))?;
        x += m.box_w(*c) + gap;
    }
    Ok(top.split_evenly((panel_rows.max(1), panel_cols.max(1))))
}

/// Smallest title size: a title longer than the canvas at [`TITLE_PX`] shrinks down to it.
const MIN_TITLE_PX: f64 = 20.0;

/// The title centred at the top of `area` (as plotters' `titled`, whose band height it keeps,
/// so panels do not move), shrunk to the width when too long; returns the area under it.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, _) = area.dim_in_pixel();
    let room = f64::from(w) - 8.0;
    let mut px = TITLE_PX;
    while px > MIN_TITLE_PX && text_width(title, px) > room {
        px -= 1.0;
    }
    // plotters' band: the text box height (size / 1.24) and 5 px above and below.
    let box_h = |px: f64| (px / 1.24) as i32;
    let band = box_h(TITLE_PX) + 10;
    let y = 5 + (box_h(TITLE_PX) - box_h(px)) / 2;
    area.draw_text(title, &text(px).pos(Pos::new(HPos::Center, VPos::Top)), (w as i32 / 2, y))?;
    Ok(area.margin(band, 0, 0, 0))
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
    match e.look.dash.pattern() {
        Some((dash, gap)) => area.draw(&DashedPathElement::new(ends, dash, gap, e.look.stroke()))?,
        None => area.draw(&PathElement::new(ends, e.look.stroke()))?,
    }
    if let Some(m) = e.look.marker {
        area.draw(&marker_element(m, (x + SAMPLE_W / 2, y), 7, e.look.color))?;
    }
    Ok(())
}

/// A panel frame with its caption and a note where the data would be.
pub(super) fn empty_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    note: &str,
) -> PlotResult<DB> {
    let (w, h) = area.dim_in_pixel();
    area.draw_text(caption, &text(CAPTION_PX).pos(Pos::new(HPos::Center, VPos::Top)), (w as i32 / 2, 10))?;
    // One line per `\n`, centred.
    let lines: Vec<&str> = note.lines().collect();
    let style = text(AXIS_DESC_PX).pos(Pos::new(HPos::Center, VPos::Center));
    for (k, line) in lines.iter().enumerate() {
        let y = h as i32 / 2 + (2 * k as i32 - lines.len() as i32 + 1) * (AXIS_DESC_PX as i32 * 3 / 4);
        area.draw_text(line, &style, (w as i32 / 2, y))?;
    }
    Ok(())
}
