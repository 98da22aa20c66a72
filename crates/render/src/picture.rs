//! Input images (first and last frames): decoded once, only from PNG, JPEG or WebP, with
//! size limits against decompression bombs and EXIF orientation applied; reduced once to
//! about the output size; then drawn per frame scaled to cover the canvas, optionally zoomed
//! about the centre and blended (for the closing cross-fade).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::{Canvas, Rgb};

/// Largest side an input image may declare, and memory its decoder may take.
const MAX_SIDE: u32 = 16_384;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error("the image is {0}; only JPEG, PNG and WebP are accepted")]
    Unsupported(String),
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
}

/// An image in the canvas's colour space at full chroma resolution.
pub struct Picture {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

impl Picture {
    /// Decodes `bytes` and, when the image is much larger than needed to cover a
    /// `fit_width`×`fit_height` frame, reduces it to that (sampling a huge image every frame
    /// would cost far more than the encode).
    pub fn decode(bytes: &[u8], fit_width: u32, fit_height: u32) -> Result<Picture, PictureError> {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| PictureError::Undecodable(e.to_string()))?;
        match reader.format() {
            Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => {}
            Some(other) => return Err(PictureError::Unsupported(format!("{other:?}"))),
            None => return Err(PictureError::Unsupported("not a recognised image format".into())),
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        let mut reader = reader;
        reader.limits(limits);
        let bad = |e: image::ImageError| PictureError::Undecodable(e.to_string());
        let mut decoder = reader.into_decoder().map_err(bad)?;
        let orientation = decoder.orientation().map_err(bad)?;
        let mut image = DynamicImage::from_decoder(decoder).map_err(bad)?;
        image.apply_orientation(orientation);
        let (w, h) = (image.width().max(1), image.height().max(1));
        let scale = (f64::from(fit_width) / f64::from(w)).max(f64::from(fit_height) / f64::from(h));
        if scale < 0.9 {
            let tw = ((f64::from(w) * scale).ceil() as u32).max(1);
            let th = ((f64::from(h) * scale).ceil() as u32).max(1);
            image = image.resize_exact(tw, th, image::imageops::FilterType::Triangle);
        }
        let rgb = image.to_rgb8();
        Ok(Picture::from_rgb(rgb.width(), rgb.height(), rgb.as_raw()))
    }

    /// From packed RGB (`width`×`height`×3 bytes; a short buffer reads as black).
    pub fn from_rgb(width: u32, height: u32, rgb: &[u8]) -> Picture {
        let (width, height) = (width.max(1) as usize, height.max(1) as usize);
        let n = width * height;
        let (mut y, mut u, mut v) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let px = rgb.get(i * 3..i * 3 + 3).unwrap_or(&[0, 0, 0]);
            let (py, pu, pv) = Rgb(px[0], px[1], px[2]).to_yuv();
            y.push(py);
            u.push(pu);
            v.push(pv);
        }
        Picture { width, height, y, u, v }
    }

    pub fn width(&self) -> u32 {
        self.width as u32
    }

    pub fn height(&self) -> u32 {
        self.height as u32
    }

    /// Draws the picture scaled to cover the canvas (cropping what overhangs), magnified by
    /// `zoom` (≥ 1) about the centre, blended over what is there at `alpha` (0..=1).
    /// Luma is sampled bilinearly, chroma from the nearest pixel.
    pub fn draw(&self, canvas: &mut Canvas, zoom: f32, alpha: f32) {
        let k = (alpha.clamp(0.0, 1.0) * 256.0).round() as u32;
        if k == 0 {
            return;
        }
        let p = canvas.planes_mut();
        let (cw, ch) = (p.width as f64, p.height as f64);
        let (iw, ih) = (self.width as f64, self.height as f64);
        let scale = (cw / iw).max(ch / ih) * f64::from(zoom.max(1.0));
        // Source position of each destination column / row, in 8.8 fixed point.
        let axis = |n: usize, dst: f64, src: f64| -> Vec<(usize, u32)> {
            (0..n)
                .map(|i| {
                    let s = ((i as f64 + 0.5 - dst / 2.0) / scale + src / 2.0 - 0.5)
                        .clamp(0.0, src - 1.0);
                    (s.floor() as usize, ((s - s.floor()) * 256.0) as u32)
                })
                .collect()
        };
        let xs = axis(p.width, cw, iw);
        let ys = axis(p.height, ch, ih);
        // Opaque draws (every frame of an image clip) skip the blend arithmetic.
        let mix = |d: u8, s: u32| {
            if k >= 256 { s as u8 } else { ((u32::from(d) * (256 - k) + s * k) >> 8) as u8 }
        };
        let last_x = self.width - 1;
        let last_y = self.height - 1;
        for (row, &(sy, fy)) in ys.iter().enumerate() {
            let r0 = sy * self.width;
            let r1 = (sy + usize::from(sy < last_y)) * self.width;
            for (col, &(sx, fx)) in xs.iter().enumerate() {
                let sx1 = sx + usize::from(sx < last_x);
                let top =
                    u32::from(self.y[r0 + sx]) * (256 - fx) + u32::from(self.y[r0 + sx1]) * fx;
                let bottom =
                    u32::from(self.y[r1 + sx]) * (256 - fx) + u32::from(self.y[r1 + sx1]) * fx;
                let value = (top * (256 - fy) + bottom * fy + (1 << 15)) >> 16;
                let d = row * p.width + col;
                p.y[d] = mix(p.y[d], value);
            }
            if row % 2 == 0 {
                let src_row = (sy + usize::from(fy >= 128)).min(last_y) * self.width;
                for cx in 0..p.cw {
                    let (sx, fx) = xs[(cx * 2).min(p.width - 1)];
                    let s = src_row + (sx + usize::from(fx >= 128)).min(last_x);
                    let d = (row / 2) * p.cw + cx;
                    p.u[d] = mix(p.u[d], u32::from(self.u[s]));
                    p.v[d] = mix(p.v[d], u32::from(self.v[s]));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quadrants(w: u32, h: u32) -> Vec<u8> {
        let mut rgb = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let c = match (x < w / 2, y < h / 2) {
                    (true, true) => [230, 30, 30],
                    (false, true) => [30, 230, 30],
                    (true, false) => [30, 30, 230],
                    (false, false) => [240, 240, 240],
                };
                rgb.extend_from_slice(&c);
            }
        }
        rgb
    }

    fn encode(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_raw(w, h, quadrants(w, h)).unwrap();
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img).write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn near(a: Rgb, b: [u8; 3]) -> bool {
        let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs() <= 12;
        d(a.0, b[0]) && d(a.1, b[1]) && d(a.2, b[2])
    }

    #[test]
    fn png_jpeg_and_webp_decode_and_cover_the_canvas() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let pic = Picture::decode(&encode(format, 64, 64), 32, 32).unwrap();
            let mut c = Canvas::new(32, 32);
            pic.draw(&mut c, 1.0, 1.0);
            assert!(near(c.get(4, 4).unwrap(), [230, 30, 30]), "{format:?}");
            assert!(near(c.get(28, 4).unwrap(), [30, 230, 30]), "{format:?}");
            assert!(near(c.get(4, 28).unwrap(), [30, 30, 230]), "{format:?}");
            assert!(near(c.get(28, 28).unwrap(), [240, 240, 240]), "{format:?}");
        }
    }

    #[test]
    fn large_images_are_reduced_once_to_about_the_frame() {
        let pic = Picture::decode(&encode(ImageFormat::Png, 400, 200), 40, 40).unwrap();
        assert_eq!((pic.width(), pic.height()), (80, 40));
    }

    #[test]
    fn other_formats_and_garbage_are_refused() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(Picture::decode(gif, 8, 8), Err(PictureError::Unsupported(_))));
        assert!(matches!(Picture::decode(b"hello", 8, 8), Err(PictureError::Unsupported(_))));
        let mut truncated = encode(ImageFormat::Png, 64, 64);
        truncated.truncate(60);
        assert!(matches!(Picture::decode(&truncated, 8, 8), Err(PictureError::Undecodable(_))));
        assert!(matches!(Picture::decode(&[], 8, 8), Err(PictureError::Unsupported(_))));
    }

    #[test]
    fn a_declared_giant_is_refused_before_allocating() {
        // A PNG header claiming 100000×100000 pixels.
        let mut png = encode(ImageFormat::Png, 8, 8);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        // Re-seal the IHDR chunk's CRC so the refusal is the size limit, not corruption.
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = Picture::decode(&png, 8, 8).unwrap_err().to_string();
        assert!(err.contains("limit") || err.contains("dimension"), "{err}");
        assert!(matches!(Picture::decode(&png, 8, 8), Err(PictureError::Undecodable(_))));
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn zoom_magnifies_the_centre_and_alpha_blends() {
        let pic = Picture::from_rgb(64, 64, &quadrants(64, 64));
        let mut c = Canvas::new(32, 32);
        pic.draw(&mut c, 4.0, 1.0);
        // Zoomed 4×, the corner pixel shows a colour from near the centre: still its quadrant.
        assert!(near(c.get(1, 1).unwrap(), [230, 30, 30]));
        let mut d = Canvas::new(16, 16);
        d.fill_rows(|_| Rgb(0, 0, 0));
        pic.draw(&mut d, 1.0, 0.5);
        let half = d.get(2, 2).unwrap();
        assert!(half.0 > 90 && half.0 < 140, "{half:?}");
        pic.draw(&mut d, f32::NAN, f32::NAN);
    }
}
