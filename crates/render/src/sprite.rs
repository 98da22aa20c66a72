//! Overlays painted once and laid over every frame (text panels). A `Sprite` is drawn in
//! RGBA, where blending and anti-aliased glyphs are easy; `Layer` is the same picture
//! converted once to YUV plus alpha, so compositing it per frame is a few integer operations
//! per pixel.

use crate::{Canvas, Rgb};

/// Straight-alpha RGBA pixels.
pub struct Sprite {
    width: usize,
    height: usize,
    px: Vec<[u8; 4]>,
}

impl Sprite {
    /// A transparent sprite.
    pub fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        Sprite { width, height, px: vec![[0; 4]; width * height] }
    }

    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// Source-over blend of one pixel with coverage `alpha` (0..=255).
    fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: u8) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 || alpha == 0 {
            return;
        }
        let dst = &mut self.px[y as usize * self.width + x as usize];
        let sa = f32::from(alpha) / 255.0;
        let da = f32::from(dst[3]) / 255.0;
        let out_a = sa + da * (1.0 - sa);
        let mix = |s: u8, d: u8| {
            ((f32::from(s) * sa + f32::from(d) * da * (1.0 - sa)) / out_a).round() as u8
        };
        *dst =
            [mix(c.0, dst[0]), mix(c.1, dst[1]), mix(c.2, dst[2]), (out_a * 255.0).round() as u8];
    }

    /// Blends a rectangle of one colour at opacity `alpha`, clipped.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb, alpha: u8) {
        for row in y.max(0)..(y + h).min(self.height as i64) {
            for col in x.max(0)..(x + w).min(self.width as i64) {
                self.blend(col, row, c, alpha);
            }
        }
    }

    /// Blends a coverage mask (`mask_w` wide, one byte per pixel) in colour `c` with its
    /// top-left corner at (`x`, `y`), clipped.
    pub fn blend_mask(&mut self, x: i64, y: i64, mask: &[u8], mask_w: usize, c: Rgb) {
        if mask_w == 0 {
            return;
        }
        for (i, row) in mask.chunks(mask_w).enumerate() {
            for (j, coverage) in row.iter().enumerate() {
                self.blend(x + j as i64, y + i as i64, c, *coverage);
            }
        }
    }

    /// The pixel at (`x`, `y`) as RGBA, if inside.
    pub fn get(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        let (x, y) = (x as usize, y as usize);
        (x < self.width && y < self.height).then(|| self.px[y * self.width + x])
    }

    /// Converts to a layer placed with its top-left corner at (`x`, `y`) on the canvas.
    pub fn to_layer(&self, x: i64, y: i64) -> Layer {
        let n = self.width * self.height;
        let (mut ly, mut lu, mut lv, mut la) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for p in &self.px {
            let (yy, u, v) = Rgb(p[0], p[1], p[2]).to_yuv();
            ly.push(yy);
            lu.push(u);
            lv.push(v);
            la.push(p[3]);
        }
        Layer { x, y, width: self.width, height: self.height, luma: ly, u: lu, v: lv, a: la }
    }
}

/// A sprite in the canvas's colour space (4:4:4 plus alpha), ready to composite.
pub struct Layer {
    x: i64,
    y: i64,
    width: usize,
    height: usize,
    luma: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    a: Vec<u8>,
}

impl Layer {
    /// Lays the layer over the canvas at `opacity` (0..=1). Chroma, which the canvas keeps
    /// at half resolution, takes the layer pixel at each even position.
    pub fn composite(&self, canvas: &mut Canvas, opacity: f32) {
        let k = (opacity.clamp(0.0, 1.0) * 256.0).round() as u32;
        if k == 0 {
            return;
        }
        let p = canvas.planes_mut();
        let mix = |d: u8, s: u8, a: u32| ((u32::from(d) * (256 - a) + u32::from(s) * a) >> 8) as u8;
        let rows = self.y.max(0)..(self.y + self.height as i64).min(p.height as i64);
        let cols = self.x.max(0)..(self.x + self.width as i64).min(p.width as i64);
        for row in rows {
            let lrow = (row - self.y) as usize * self.width;
            for col in cols.clone() {
                let li = lrow + (col - self.x) as usize;
                let a = u32::from(self.a[li]) * k / 255;
                if a == 0 {
                    continue;
                }
                let ci = row as usize * p.width + col as usize;
                p.y[ci] = mix(p.y[ci], self.luma[li], a);
                if row % 2 == 0 && col % 2 == 0 {
                    let c = (row as usize / 2) * p.cw + col as usize / 2;
                    p.u[c] = mix(p.u[c], self.u[li], a);
                    p.v[c] = mix(p.v[c], self.v[li], a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_transparent_panels_darken_and_opaque_pixels_replace() {
        let mut s = Sprite::new(4, 2);
        s.fill_rect(0, 0, 2, 2, Rgb(0, 0, 0), 128);
        s.fill_rect(2, 0, 9, 9, Rgb(255, 255, 255), 255);
        s.blend_mask(2, 0, &[255, 255, 255, 255], 2, Rgb(255, 0, 0));
        assert_eq!(s.get(3, 1), Some([255, 0, 0, 255]));
        assert_eq!(s.get(1, 1), Some([0, 0, 0, 128]));

        let mut c = Canvas::new(8, 4);
        c.fill_rows(|_| Rgb(200, 200, 200));
        s.to_layer(4, 2).composite(&mut c, 1.0);
        let darker = c.get(5, 3).unwrap();
        assert!(darker.0 < 130 && darker.0 > 70 && darker.0 == darker.2, "{darker:?}");
        let red = c.get(7, 3).unwrap();
        assert!(red.0 > 230 && red.1 < 30, "{red:?}");
        assert!(c.get(1, 1).unwrap().0 > 190 && c.get(1, 1).unwrap().0 < 210);
        // Off-canvas and invisible layers are harmless.
        s.to_layer(-10, -10).composite(&mut c, 1.0);
        s.to_layer(0, 0).composite(&mut c, 0.0);
    }
}
