//! A frame buffer in the encoder's own format, YUV 4:2:0 (BT.601, limited range), with the
//! few drawing primitives scenes need. Scenes speak RGB; each fill converts its colour once
//! and writes planes with `fill`, which is what makes painting cheap next to encoding
//! (converting whole RGB frames cost more than encoding them). Coordinates are clipped, so
//! scenes may draw partly off-screen.

use openh264::formats::YUVSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Linear blend: `t` = 0 gives `self`, 1 gives `other`.
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let m = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }

    /// A colour from a hue in turns (0..1), saturation and value.
    pub fn from_hue(hue: f32, saturation: f32, value: f32) -> Rgb {
        let h = hue.rem_euclid(1.0) * 6.0;
        let c = value * saturation;
        let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
        let (r, g, b) = match h as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        let m = value - c;
        let to = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
        Rgb(to(r), to(g), to(b))
    }

    /// BT.601 limited-range Y, U, V (integer form, as most encoders do it).
    pub fn to_yuv(self) -> (u8, u8, u8) {
        let (r, g, b) = (i32::from(self.0), i32::from(self.1), i32::from(self.2));
        let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
        let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
        let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
        (y.clamp(0, 255) as u8, u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
    }

    /// The inverse of `to_yuv` (approximate: the round trip loses a little).
    pub fn from_yuv(y: u8, u: u8, v: u8) -> Rgb {
        let (c, d, e) = (i32::from(y) - 16, i32::from(u) - 128, i32::from(v) - 128);
        let clip = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
        Rgb(clip(298 * c + 409 * e), clip(298 * c - 100 * d - 208 * e), clip(298 * c + 516 * d))
    }
}

/// Mutable access to a canvas's planes: luma is `width`×`height`, chroma `cw` wide.
pub(crate) struct Planes<'a> {
    pub width: usize,
    pub height: usize,
    pub cw: usize,
    pub y: &'a mut [u8],
    pub u: &'a mut [u8],
    pub v: &'a mut [u8],
}

pub struct Canvas {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Canvas {
    /// `width` and `height` must be even (4:2:0 halves both for chroma).
    pub fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        let chroma = width.div_ceil(2) * height.div_ceil(2);
        Canvas {
            width,
            height,
            y: vec![16; width * height],
            u: vec![128; chroma],
            v: vec![128; chroma],
        }
    }

    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    fn cw(&self) -> usize {
        self.width.div_ceil(2)
    }

    /// Fills each row with one colour: `color(y)` for rows 0..height.
    pub fn fill_rows(&mut self, mut color: impl FnMut(u32) -> Rgb) {
        let (w, cw) = (self.width, self.cw());
        for row in 0..self.height {
            let (y, u, v) = color(row as u32).to_yuv();
            self.y[row * w..(row + 1) * w].fill(y);
            if row % 2 == 0 {
                let c = row / 2;
                self.u[c * cw..(c + 1) * cw].fill(u);
                self.v[c * cw..(c + 1) * cw].fill(v);
            }
        }
    }

    /// Fills a rectangle, clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        let x0 = x.clamp(0, self.width as i64) as usize;
        let x1 = (x + w).clamp(0, self.width as i64) as usize;
        let y0 = y.clamp(0, self.height as i64) as usize;
        let y1 = (y + h).clamp(0, self.height as i64) as usize;
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let (yy, u, v) = c.to_yuv();
        for row in y0..y1 {
            self.y[row * self.width + x0..row * self.width + x1].fill(yy);
        }
        let cw = self.cw();
        let (cx0, cx1) = (x0 / 2, x1.div_ceil(2));
        for crow in y0 / 2..y1.div_ceil(2) {
            self.u[crow * cw + cx0..crow * cw + cx1].fill(u);
            self.v[crow * cw + cx0..crow * cw + cx1].fill(v);
        }
    }

    /// Fills a disc of radius `r` around (`cx`, `cy`), clipped.
    pub fn fill_circle(&mut self, cx: i64, cy: i64, r: i64, c: Rgb) {
        let r = r.max(0);
        for row in (cy - r).max(0)..(cy + r + 1).min(self.height as i64) {
            let dy = row - cy;
            let half = (((r * r - dy * dy).max(0)) as f64).sqrt() as i64;
            self.fill_rect(cx - half, row, 2 * half + 1, 1, c);
        }
    }

    /// Fills every pixel at or below `tops[x]` in each column `x` (a silhouette such as a
    /// hill line). Columns beyond `tops` are left alone.
    pub fn fill_below(&mut self, tops: &[i64], c: Rgb) {
        let (yy, u, v) = c.to_yuv();
        let (w, cw) = (self.width.min(tops.len()), self.cw());
        let highest = tops[..w].iter().copied().min().unwrap_or(i64::MAX).max(0);
        for row in (highest as usize)..self.height {
            let r = row as i64;
            let line = &mut self.y[row * self.width..row * self.width + w];
            for (px, top) in line.iter_mut().zip(tops) {
                if r >= *top {
                    *px = yy;
                }
            }
            if row % 2 == 0 {
                let c0 = (row / 2) * cw;
                for cx in 0..w.div_ceil(2) {
                    if r >= tops[cx * 2] {
                        self.u[c0 + cx] = u;
                        self.v[c0 + cx] = v;
                    }
                }
            }
        }
    }

    /// The three planes and their sizes, for painters that write pixels directly.
    pub(crate) fn planes_mut(&mut self) -> Planes<'_> {
        let cw = self.cw();
        Planes {
            width: self.width,
            height: self.height,
            cw,
            y: &mut self.y,
            u: &mut self.u,
            v: &mut self.v,
        }
    }

    /// The picture as packed RGB (for the cover image).
    pub fn to_rgb(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width * self.height * 3);
        for row in 0..self.height {
            for x in 0..self.width {
                let c = (row / 2) * self.cw() + x / 2;
                let p = Rgb::from_yuv(self.y[row * self.width + x], self.u[c], self.v[c]);
                out.extend_from_slice(&[p.0, p.1, p.2]);
            }
        }
        out
    }

    /// The colour at a pixel (converted back from YUV, so approximate).
    pub fn get(&self, x: u32, y: u32) -> Option<Rgb> {
        let (x, y) = (x as usize, y as usize);
        (x < self.width && y < self.height).then(|| {
            let c = (y / 2) * self.cw() + x / 2;
            Rgb::from_yuv(self.y[y * self.width + x], self.u[c], self.v[c])
        })
    }
}

impl YUVSource for Canvas {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.cw(), self.cw())
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Rgb, b: Rgb) -> bool {
        let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs();
        d(a.0, b.0) <= 3 && d(a.1, b.1) <= 3 && d(a.2, b.2) <= 3
    }

    #[test]
    fn rectangles_are_clipped_to_the_canvas() {
        let mut c = Canvas::new(8, 4);
        c.fill_rows(|_| Rgb(0, 0, 0));
        c.fill_rect(-5, -5, 7, 7, Rgb(255, 0, 0));
        c.fill_rect(6, 2, 100, 100, Rgb(0, 255, 0));
        assert!(close(c.get(0, 0).unwrap(), Rgb(255, 0, 0)));
        assert!(close(c.get(1, 1).unwrap(), Rgb(255, 0, 0)));
        assert!(close(c.get(3, 3).unwrap(), Rgb(0, 0, 0)));
        assert!(close(c.get(7, 3).unwrap(), Rgb(0, 255, 0)));
        assert_eq!(c.get(8, 0), None);
    }

    #[test]
    fn silhouettes_and_discs_fill_only_their_area() {
        let mut c = Canvas::new(8, 8);
        c.fill_rows(|_| Rgb(0, 0, 0));
        c.fill_below(&[6, 6, 2, 2, 9, 9, -3, -3], Rgb(255, 255, 255));
        assert!(close(c.get(0, 5).unwrap(), Rgb(0, 0, 0)));
        assert!(close(c.get(0, 6).unwrap(), Rgb(255, 255, 255)));
        assert!(close(c.get(3, 2).unwrap(), Rgb(255, 255, 255)));
        assert!(close(c.get(4, 7).unwrap(), Rgb(0, 0, 0)));
        assert!(close(c.get(7, 0).unwrap(), Rgb(255, 255, 255)));
        c.fill_below(&[], Rgb(9, 9, 9));
        let mut d = Canvas::new(16, 16);
        d.fill_rows(|_| Rgb(0, 0, 0));
        d.fill_circle(8, 8, 4, Rgb(255, 0, 0));
        d.fill_circle(-100, -100, 3, Rgb(255, 0, 0));
        assert!(close(d.get(8, 8).unwrap(), Rgb(255, 0, 0)));
        assert!(close(d.get(0, 0).unwrap(), Rgb(0, 0, 0)));
        assert_eq!(d.to_rgb().len(), 16 * 16 * 3);
    }

    #[test]
    fn colours_survive_the_yuv_round_trip() {
        for c in [
            Rgb(255, 0, 0),
            Rgb(0, 255, 0),
            Rgb(0, 0, 255),
            Rgb(255, 255, 255),
            Rgb(20, 20, 20),
            Rgb(120, 200, 40),
        ] {
            let (y, u, v) = c.to_yuv();
            assert!(close(Rgb::from_yuv(y, u, v), c), "{c:?}");
        }
    }

    #[test]
    fn hues_cover_the_primaries() {
        assert_eq!(Rgb::from_hue(0.0, 1.0, 1.0), Rgb(255, 0, 0));
        assert_eq!(Rgb::from_hue(1.0 / 3.0, 1.0, 1.0), Rgb(0, 255, 0));
        assert_eq!(Rgb::from_hue(2.0 / 3.0, 1.0, 1.0), Rgb(0, 0, 255));
    }
}
