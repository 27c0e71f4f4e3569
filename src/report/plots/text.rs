//! PNG text. plotters' `ab_glyph` rasterizer places every glyph's bounding box at the pen
//! position, dropping the side bearing, so letters sit unevenly ("ef fect") and the baseline
//! rides high. `GlyphText` wraps a pixel backend and draws text itself with the same font and
//! the same advance widths (so plotters' layout still matches), placing each outline where
//! ab_glyph says it belongs. Everything else passes straight through.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind};

use super::DEJAVU_SANS;

/// Baseline below the top of plotters' text box (height `size / 1.24`), as a fraction of
/// the font size: centres lower-case and capitals in the box, as plotters' own layout expects.
const BASELINE: f32 = 0.71;

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok()).as_ref()
}

#[derive(Debug)]
struct NoFont;

impl std::fmt::Display for NoFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the embedded DejaVuSans.ttf is not a valid font")
    }
}

impl std::error::Error for NoFont {}

/// Width in pixels of `text` at `px` as laid out (advance widths plus kerning, as plotters
/// measures it): known before any canvas exists, so a figure can be sized to its legend.
pub(super) fn text_width(text: &str, px: f64) -> f64 {
    let Some(font) = font() else { return text.chars().count() as f64 * px * 0.62 };
    let scaled = font.as_scaled(PxScale::from(px as f32));
    let (mut width, mut prev) = (0.0f32, None);
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        prev = Some(id);
        width += scaled.h_advance(id);
    }
    f64::from(width)
}

/// Offset of the top-left corner of a `(w, h)` layout box from the anchor point.
fn anchor_offset<S: BackendTextStyle>(style: &S, (w, h): (i32, i32)) -> (i32, i32) {
    let dx = match style.anchor().h_pos {
        HPos::Left => 0,
        HPos::Right => -w,
        HPos::Center => -w / 2,
    };
    let dy = match style.anchor().v_pos {
        VPos::Top => 0,
        VPos::Center => -h / 2,
        VPos::Bottom => -h,
    };
    (dx, dy)
}

/// Where [`GlyphText`] puts the ink of `text` anchored at `pos`, given plotters' layout box
/// `(w, h)` of it: `[left, top, right, bottom]` in pixels (right and bottom exclusive),
/// rotation included; `None` for text without ink. The figures' tests measure overlaps with it.
#[cfg(test)]
pub(super) fn ink_box<S: BackendTextStyle>(
    text: &str,
    style: &S,
    pos: BackendCoord,
    layout: (i32, i32),
) -> Option<[i32; 4]> {
    let font = font()?;
    let size = style.size() as f32;
    let scaled = font.as_scaled(PxScale::from(size));
    let (dx, dy) = anchor_offset(style, layout);
    let (mut caret, mut prev) = (0.0f32, None);
    let mut ink: Option<[f32; 4]> = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        prev = Some(id);
        let glyph = id.with_scale_and_position(size, point(caret, BASELINE * size));
        caret += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else { continue };
        let b = outline.px_bounds();
        ink = Some(match ink {
            None => [b.min.x, b.min.y, b.max.x, b.max.y],
            Some(i) => [i[0].min(b.min.x), i[1].min(b.min.y), i[2].max(b.max.x), i[3].max(b.max.y)],
        });
    }
    let [l, t, r, b] = ink?;
    let corners = [(l as i32 + dx, t as i32 + dy), (r as i32 + dx, b as i32 + dy)];
    let moved: Vec<(i32, i32)> =
        corners.iter().map(|&(x, y)| style.transform().transform(x, y)).map(|(x, y)| (pos.0 + x, pos.1 + y)).collect();
    let (xs, ys) = ((moved[0].0, moved[1].0), (moved[0].1, moved[1].1));
    Some([xs.0.min(xs.1), ys.0.min(ys.1), xs.0.max(xs.1), ys.0.max(ys.1)])
}

pub(super) struct GlyphText<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for GlyphText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let font = font().ok_or_else(|| DrawingErrorKind::FontError(Box::new(NoFont)))?;
        let size = style.size() as f32;
        let scaled = font.as_scaled(PxScale::from(size));
        // The box plotters lays out with: advance widths plus kerning, height size / 1.24.
        let (w, h) = self.estimate_text_size(text, style)?;
        let (dx, dy) = anchor_offset(style, (w as i32, h as i32));
        let transform = style.transform();
        let (width, height) = self.get_size();
        let mut caret = 0.0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(size, point(caret, BASELINE * size));
            caret += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else { continue };
            let bounds = outline.px_bounds();
            let mut result = Ok(());
            outline.draw(|x, y, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (tx, ty) =
                    transform.transform(bounds.min.x as i32 + x as i32 + dx, bounds.min.y as i32 + y as i32 + dy);
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px >= 0 && py >= 0 && px < width as i32 && py < height as i32 {
                    let ink = BackendColor { alpha: color.alpha * f64::from(coverage.min(1.0)), rgb: color.rgb };
                    result = self.0.draw_pixel((px, py), ink);
                }
            });
            result?;
        }
        Ok(())
    }
}
