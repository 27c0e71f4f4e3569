//! Test support: a backend that records where the ink of every text lands (measured with the
//! embedded font, as `text::GlyphText` places it) and passes everything on, so tests can assert
//! that no two labels overlap and that every label lies on the canvas.

use std::cell::RefCell;
use std::rc::Rc;

use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind};

/// One placed text and its ink box `[left, top, right, bottom]` (right, bottom exclusive).
pub(super) type TextBox = (String, [i32; 4]);

pub(super) struct TextBoxes<B> {
    pub inner: B,
    pub boxes: Rc<RefCell<Vec<TextBox>>>,
}

impl<B: DrawingBackend> DrawingBackend for TextBoxes<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if style.color().alpha > 0.0 {
            let (w, h) = self.estimate_text_size(text, style)?;
            if let Some(b) = super::text::ink_box(text, style, pos, (w as i32, h as i32)) {
                self.boxes.borrow_mut().push((text.to_string(), b));
            }
        }
        self.inner.draw_text(text, style, pos)
    }
}

/// Pairs of texts whose ink boxes share pixels.
pub(super) fn overlaps(boxes: &[TextBox]) -> Vec<(&TextBox, &TextBox)> {
    let mut out = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let (p, q) = (a.1, b.1);
            if p[0] < q[2] && q[0] < p[2] && p[1] < q[3] && q[1] < p[3] {
                out.push((a, b));
            }
        }
    }
    out
}

/// Texts whose ink leaves the `(w, h)` canvas.
pub(super) fn outside(boxes: &[TextBox], (w, h): (u32, u32)) -> Vec<&TextBox> {
    boxes.iter().filter(|(_, b)| b[0] < 0 || b[1] < 0 || b[2] > w as i32 || b[3] > h as i32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_that_share_pixels_overlap_and_boxes_off_the_canvas_are_outside() {
        let boxes: Vec<TextBox> = vec![
            ("a".into(), [0, 0, 10, 10]),
            ("b".into(), [10, 0, 20, 10]), // touches a: no shared pixel
            ("c".into(), [15, 5, 25, 15]), // shares pixels with b
            ("d".into(), [95, 0, 101, 10]),
        ];
        let pairs: Vec<(&str, &str)> = overlaps(&boxes).iter().map(|(a, b)| (a.0.as_str(), b.0.as_str())).collect();
        assert_eq!(pairs, [("b", "c")]);
        let off: Vec<&str> = outside(&boxes, (100, 20)).iter().map(|t| t.0.as_str()).collect();
        assert_eq!(off, ["d"]);
    }
}
