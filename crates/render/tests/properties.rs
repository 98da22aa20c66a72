//! Inputs callers control (image bytes, prompt text, frame sizes) never panic the renderer.

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use proptest::prelude::*;
use vidgate_render::text::{TextBlock, line_width};
use vidgate_render::{Canvas, Picture, RequestScene, Scene, SceneText, VideoSpec, encodable_size};

fn encoded(format: usize) -> Vec<u8> {
    let formats = [image::ImageFormat::Png, image::ImageFormat::Jpeg, image::ImageFormat::WebP];
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, formats[format % formats.len()]).unwrap();
    out.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Picture::decode(&bytes, 32, 32);
    }

    #[test]
    fn corrupted_images_decode_or_fail_cleanly(
        format in 0usize..3,
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..8),
    ) {
        let mut png = encoded(format);
        for (at, v) in flips {
            let i = at % png.len();
            png[i] ^= v;
        }
        png.truncate(cut.max(8).min(png.len()));
        let _ = Picture::decode(&png, 16, 16);
    }

    #[test]
    fn any_text_fits_its_box(text in "\\PC{0,400}", max_w in 1.0f32..2000.0, max_h in 1.0f32..800.0) {
        let block = TextBlock::fit(&text, 48.0, 8.0, max_w, max_h);
        for line in &block.lines {
            // A single glyph wider than the box is the only way past its width.
            prop_assert!(line_width(line, block.px) <= max_w || line.chars().count() == 1);
        }
    }

    #[test]
    fn any_prompt_and_size_paints(
        prompt in "\\PC{0,200}",
        w in 8u32..300,
        h in 8u32..300,
        seed in any::<u64>(),
    ) {
        let (w, h) = encodable_size(w * 2, h * 2);
        let spec = VideoSpec { width: w, height: h, duration_secs: 1.0, fps: 2, audio: false };
        let text = SceneText { prompt, details: vec!["m v".into()] };
        let scene = RequestScene::new(&spec, seed, &text, None, None);
        let mut canvas = Canvas::new(w, h);
        scene.paint(&mut canvas, 0, 0.5, &spec);
    }
}
