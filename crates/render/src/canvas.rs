//! An RGB frame buffer with the few drawing primitives scenes need. Coordinates are clipped,
//! so scenes may draw partly off-screen without checks.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Linear blend: `t` = 0 gives `self`, 1 gives `other`.
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let m = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }

    /// A saturated colour from a hue in turns (0..1).
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
}

pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        Canvas { width, height, rgb: vec![0; width * height * 3] }
    }

    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    pub fn pixels(&self) -> &[u8] {
        &self.rgb
    }

    /// Fills each row with one colour: `color(y)` for rows 0..height.
    pub fn fill_rows(&mut self, mut color: impl FnMut(u32) -> Rgb) {
        let stride = self.width * 3;
        for (y, row) in self.rgb.chunks_exact_mut(stride).enumerate() {
            let Rgb(r, g, b) = color(y as u32);
            for px in row.chunks_exact_mut(3) {
                px.copy_from_slice(&[r, g, b]);
            }
        }
    }

    /// Fills a rectangle, clipped to the canvas.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        let x0 = x.clamp(0, self.width as i64) as usize;
        let x1 = (x + w).clamp(0, self.width as i64) as usize;
        let y0 = y.clamp(0, self.height as i64) as usize;
        let y1 = (y + h).clamp(0, self.height as i64) as usize;
        if x0 >= x1 {
            return;
        }
        for yy in y0..y1 {
            let row = &mut self.rgb[(yy * self.width + x0) * 3..(yy * self.width + x1) * 3];
            for px in row.chunks_exact_mut(3) {
                px.copy_from_slice(&[c.0, c.1, c.2]);
            }
        }
    }

    pub fn get(&self, x: u32, y: u32) -> Option<Rgb> {
        let (x, y) = (x as usize, y as usize);
        (x < self.width && y < self.height).then(|| {
            let i = (y * self.width + x) * 3;
            Rgb(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_are_clipped_to_the_canvas() {
        let mut c = Canvas::new(8, 4);
        c.fill_rect(-5, -5, 7, 7, Rgb(255, 0, 0));
        c.fill_rect(6, 2, 100, 100, Rgb(0, 255, 0));
        assert_eq!(c.get(0, 0), Some(Rgb(255, 0, 0)));
        assert_eq!(c.get(1, 1), Some(Rgb(255, 0, 0)));
        assert_eq!(c.get(2, 2), Some(Rgb(0, 0, 0)));
        assert_eq!(c.get(7, 3), Some(Rgb(0, 255, 0)));
        assert_eq!(c.get(8, 0), None);
    }

    #[test]
    fn hues_cover_the_primaries() {
        assert_eq!(Rgb::from_hue(0.0, 1.0, 1.0), Rgb(255, 0, 0));
        assert_eq!(Rgb::from_hue(1.0 / 3.0, 1.0, 1.0), Rgb(0, 255, 0));
        assert_eq!(Rgb::from_hue(2.0 / 3.0, 1.0, 1.0), Rgb(0, 0, 255));
    }
}
