//! The background of a text-only request: a landscape whose palette, hill shapes, sun path
//! and clouds all derive from a seed (so the same request always paints the same film), with
//! parallax motion so every frame differs: far hills drift slowly, near ones faster, clouds
//! float across and the sun climbs or sets.

use crate::{Canvas, Rgb, VideoSpec};

/// FNV-1a: a tiny, stable hash (std's `DefaultHasher` may change between Rust releases,
/// which would break "same request, same bytes").
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// SplitMix64: a deterministic stream of numbers from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

struct Hill {
    /// Baseline as a fraction of the height, and amplitude as a fraction of the height.
    base: f64,
    amplitude: f64,
    /// (frequency in waves per width, phase) of the summed sines.
    waves: [(f64, f64); 3],
    /// Drift in widths per second.
    speed: f64,
    color: Rgb,
}

struct Cloud {
    x: f64,
    y: f64,
    size: f64,
    speed: f64,
}

pub struct Landscape {
    sky_top: Rgb,
    sky_bottom: Rgb,
    sun: Rgb,
    /// Sun path: start and end x as fractions of the width, and whether it rises.
    sun_path: (f64, f64, bool),
    hills: Vec<Hill>,
    clouds: Vec<Cloud>,
    cloud_color: Rgb,
}

impl Landscape {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let hue = rng.range(0.0, 1.0) as f32;
        let dusk = rng.range(0.0, 1.0) < 0.35;
        let (sky_top, sky_bottom, sun) = if dusk {
            (
                Rgb::from_hue(hue + 0.6, 0.55, 0.35),
                Rgb::from_hue(hue + 0.05, 0.6, 0.95),
                Rgb::from_hue(0.12, 0.5, 1.0),
            )
        } else {
            (
                Rgb::from_hue(hue, 0.45, 0.9),
                Rgb::from_hue(hue + 0.08, 0.2, 1.0),
                Rgb::from_hue(0.14, 0.25, 1.0),
            )
        };
        let land_hue = hue + rng.range(0.25, 0.45) as f32;
        let hills = (0..3)
            .map(|i| {
                let depth = f64::from(i);
                Hill {
                    base: 0.55 + depth * 0.12 + rng.range(-0.03, 0.03),
                    amplitude: 0.09 - depth * 0.02,
                    waves: [
                        (rng.range(0.6, 1.4), rng.range(0.0, 6.3)),
                        (rng.range(1.5, 3.0), rng.range(0.0, 6.3)),
                        (rng.range(4.0, 7.0), rng.range(0.0, 6.3)),
                    ],
                    speed: 0.01 + depth * 0.025,
                    color: Rgb::from_hue(land_hue, 0.45 + 0.1 * i as f32, 0.7 - 0.18 * i as f32),
                }
            })
            .collect();
        let clouds = (0..4)
            .map(|_| Cloud {
                x: rng.range(0.0, 1.0),
                y: rng.range(0.08, 0.35),
                size: rng.range(0.04, 0.08),
                speed: rng.range(0.015, 0.05),
            })
            .collect();
        let start = rng.range(0.1, 0.4);
        Landscape {
            sky_top,
            sky_bottom,
            sun,
            sun_path: (start, start + rng.range(0.2, 0.45), !dusk),
            hills,
            clouds,
            cloud_color: Rgb(250, 250, 252).mix(sky_bottom, 0.15),
        }
    }

    pub fn paint(&self, canvas: &mut Canvas, t: f64, spec: &VideoSpec) {
        let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
        let (top, bottom) = (self.sky_top, self.sky_bottom);
        let rows = canvas.height().max(1) as f32;
        canvas.fill_rows(|y| top.mix(bottom, y as f32 / rows));

        let progress = (t / spec.duration_secs.max(1e-6)).clamp(0.0, 1.0);
        let (x0, x1, rises) = self.sun_path;
        let sun_x = w * (x0 + (x1 - x0) * progress);
        let arc = if rises { progress } else { 1.0 - progress };
        let sun_y = h * (0.5 - 0.25 * arc);
        let sun_r = (h.min(w) * 0.08).max(1.0);
        canvas.fill_circle(sun_x as i64, sun_y as i64, sun_r as i64, self.sun);

        for cloud in &self.clouds {
            let span = 1.0 + cloud.size * 4.0;
            let cx = ((cloud.x + cloud.speed * t).rem_euclid(span) - cloud.size * 2.0) * w;
            let (cy, r) = (cloud.y * h, (cloud.size * h).max(1.0));
            for (dx, dy, k) in [(-1.0, 0.3, 0.8), (0.0, 0.0, 1.0), (1.1, 0.25, 0.75)] {
                canvas.fill_circle(
                    (cx + dx * r) as i64,
                    (cy + dy * r) as i64,
                    (r * k) as i64,
                    self.cloud_color,
                );
            }
        }

        let mut tops = vec![0i64; canvas.width() as usize];
        for hill in &self.hills {
            let shift = hill.speed * t;
            for (x, top) in tops.iter_mut().enumerate() {
                let u = x as f64 / w + shift;
                let wave: f64 = hill
                    .waves
                    .iter()
                    .enumerate()
                    .map(|(i, (f, p))| (u * f * std::f64::consts::TAU + p).sin() / (i + 1) as f64)
                    .sum();
                *top = (h * (hill.base - hill.amplitude * wave)) as i64;
            }
            canvas.fill_below(&tops, hill.color);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VideoSpec {
        VideoSpec { width: 64, height: 36, duration_secs: 2.0, fps: 8, audio: false }
    }

    fn frame(seed: u64, t: f64) -> Vec<u8> {
        let mut c = Canvas::new(64, 36);
        Landscape::new(seed).paint(&mut c, t, &spec());
        c.to_rgb()
    }

    #[test]
    fn the_same_seed_paints_the_same_frame_and_time_moves_it() {
        assert_eq!(frame(7, 0.5), frame(7, 0.5));
        assert_ne!(frame(7, 0.5), frame(7, 1.0));
        assert_ne!(frame(7, 0.5), frame(8, 0.5));
    }

    #[test]
    fn the_ground_is_below_the_sky() {
        let mut c = Canvas::new(64, 36);
        Landscape::new(3).paint(&mut c, 0.0, &spec());
        let sky = c.get(32, 0).unwrap();
        let ground = c.get(32, 35).unwrap();
        assert_ne!(sky, ground);
    }
}
