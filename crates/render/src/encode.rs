//! The encode loop: paint (straight into YUV 4:2:0), encode with openh264, mux with muxide,
//! and keep the middle frame as a JPEG cover.

use std::io::Write;
use std::time::{Duration, Instant};

use muxide::api::{AacProfile, AudioCodec, MuxerBuilder, VideoCodec};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    VuiConfig,
};

use crate::audio::{SAMPLE_RATE, SAMPLES_PER_FRAME, silent_adts_frame};
use crate::{Canvas, Scene, VideoSpec};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid video spec: {0}")]
    InvalidSpec(String),
    #[error("H.264 encoder failed: {0}")]
    Encoder(String),
    #[error("MP4 muxer failed: {0}")]
    Muxer(String),
    #[error("encoding the cover image failed: {0}")]
    Cover(String),
    #[error("writing the video failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderStats {
    pub frames: u32,
    pub elapsed: Duration,
    /// The middle frame as a JPEG (the video's cover image).
    pub cover_jpeg: Vec<u8>,
}

/// JPEG quality of covers: small files, no visible blocking on the sandbox's pictures.
const COVER_QUALITY: u8 = 85;

fn cover_jpeg(canvas: &Canvas) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, COVER_QUALITY)
        .encode(&canvas.to_rgb(), canvas.width(), canvas.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| RenderError::Cover(e.to_string()))?;
    Ok(out)
}

/// Largest frame openh264 encodes: 3840×2160 landscape or 2160×3840 portrait (it refuses
/// more, e.g. DCI 4K or 4K at 21:9, which is 5040×2160).
pub const MAX_LONG_SIDE: u32 = 3840;
pub const MAX_SHORT_SIDE: u32 = 2160;

/// The frame size to render for a requested one: unchanged when the encoder takes it, else
/// scaled down (keeping the aspect ratio, sides even) until it fits the encoder's limit.
pub fn encodable_size(width: u32, height: u32) -> (u32, u32) {
    let (box_w, box_h) = if width >= height {
        (MAX_LONG_SIDE, MAX_SHORT_SIDE)
    } else {
        (MAX_SHORT_SIDE, MAX_LONG_SIDE)
    };
    let scale = (f64::from(box_w) / f64::from(width.max(1)))
        .min(f64::from(box_h) / f64::from(height.max(1)));
    if scale >= 1.0 {
        return (width, height);
    }
    let even =
        |v: u32, limit: u32| (((f64::from(v) * scale / 2.0).round() as u32) * 2).clamp(16, limit);
    (even(width, box_w), even(height, box_h))
}

fn validate(spec: &VideoSpec) -> Result<(), RenderError> {
    let bad = |m: String| Err(RenderError::InvalidSpec(m));
    if !spec.width.is_multiple_of(2) || !spec.height.is_multiple_of(2) {
        return bad(format!("{}x{} is not even", spec.width, spec.height));
    }
    if spec.width < 16
        || spec.height < 16
        || encodable_size(spec.width, spec.height) != (spec.width, spec.height)
    {
        return bad(format!(
            "{}x{} is outside 16 to {MAX_LONG_SIDE}x{MAX_SHORT_SIDE} (or {MAX_SHORT_SIDE}x{MAX_LONG_SIDE})",
            spec.width, spec.height
        ));
    }
    if !(1..=60).contains(&spec.fps) {
        return bad(format!("{} fps is outside 1..=60", spec.fps));
    }
    if !spec.duration_secs.is_finite() || spec.duration_secs <= 0.0 || spec.duration_secs > 600.0 {
        return bad(format!("duration {} s is outside (0, 600]", spec.duration_secs));
    }
    Ok(())
}

/// Bits per second for a frame size: about 0.1 bit per pixel per frame, which keeps the
/// sandbox's simple pictures crisp without bloating files.
fn bitrate(spec: &VideoSpec) -> u32 {
    let bps = f64::from(spec.width) * f64::from(spec.height) * f64::from(spec.fps) * 0.1;
    bps.clamp(200_000.0, 20_000_000.0) as u32
}

/// Renders `scene` as an MP4 into `out`.
pub fn render_mp4<W: Write>(
    spec: &VideoSpec,
    scene: &dyn Scene,
    out: W,
) -> Result<RenderStats, RenderError> {
    validate(spec)?;
    let started = Instant::now();
    let fps = spec.fps;
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bitrate(spec)))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .intra_frame_period(IntraFramePeriod::from_num_frames(fps * 2))
        // Skipped frames come back empty, and an MP4 sample must not be empty.
        .rate_control_mode(RateControlMode::Bufferbased)
        .skip_frames(false)
        // One thread: the bitstream is then the same on every machine (slicing follows the
        // thread count), and concurrent renders do not fight over cores.
        .num_threads(1)
        // The canvas holds BT.601 limited-range YUV; say so, or players assume BT.709.
        .vui(VuiConfig::bt601());
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| RenderError::Encoder(e.to_string()))?;

    let mut builder = MuxerBuilder::new(out)
        .video(VideoCodec::H264, spec.width, spec.height, f64::from(fps))
        .with_fast_start(true);
    if spec.audio {
        builder = builder.audio(AudioCodec::Aac(AacProfile::Lc), SAMPLE_RATE, 1);
    }
    let mut muxer = builder.build().map_err(|e| RenderError::Muxer(e.to_string()))?;

    let frames = spec.frame_count();
    let total = f64::from(frames) / f64::from(fps);
    let silent = silent_adts_frame();
    let audio_step = f64::from(SAMPLES_PER_FRAME) / f64::from(SAMPLE_RATE);
    let mut audio_pts = 0.0;
    let mut canvas = Canvas::new(spec.width, spec.height);
    let mut cover = Vec::new();
    for i in 0..frames {
        let t = f64::from(i) / f64::from(fps);
        scene.paint(&mut canvas, i, t, spec);
        if i == frames / 2 {
            cover = cover_jpeg(&canvas)?;
        }
        let bitstream = encoder.encode(&canvas).map_err(|e| RenderError::Encoder(e.to_string()))?;
        let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
        let data = bitstream.to_vec();
        muxer.write_video(t, &data, keyframe).map_err(|e| RenderError::Muxer(e.to_string()))?;
        if spec.audio {
            let until = (f64::from(i + 1) / f64::from(fps)).min(total);
            while audio_pts < until {
                muxer
                    .write_audio(audio_pts, &silent)
                    .map_err(|e| RenderError::Muxer(e.to_string()))?;
                audio_pts += audio_step;
            }
        }
    }
    muxer.finish().map_err(|e| RenderError::Muxer(e.to_string()))?;
    Ok(RenderStats { frames, elapsed: started.elapsed(), cover_jpeg: cover })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RequestScene, SceneText};

    fn scene(s: &VideoSpec, seed: u64, prompt: &str) -> RequestScene {
        let text = SceneText { prompt: prompt.into(), details: vec![] };
        RequestScene::new(s, seed, &text, None, None)
    }

    fn spec(w: u32, h: u32, secs: f64, audio: bool) -> VideoSpec {
        VideoSpec { width: w, height: h, duration_secs: secs, fps: 8, audio }
    }

    fn boxes(mp4: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= mp4.len() {
            let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
            out.push(String::from_utf8_lossy(&mp4[at + 4..at + 8]).into_owned());
            if size < 8 {
                break;
            }
            at += size;
        }
        out
    }

    #[test]
    fn an_mp4_starts_with_ftyp_then_moov_so_it_can_stream() {
        let mut out = Vec::new();
        let s = spec(64, 48, 1.0, false);
        let stats = render_mp4(&s, &scene(&s, 1, "x"), &mut out).unwrap();
        assert_eq!(stats.frames, 8);
        assert_eq!(boxes(&out), vec!["ftyp", "moov", "mdat"]);
        let cover = image::load_from_memory(&stats.cover_jpeg).unwrap();
        assert_eq!((cover.width(), cover.height()), (64, 48));
    }

    #[test]
    fn the_same_spec_and_scene_give_the_same_bytes() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let s = spec(96, 64, 0.5, true);
        render_mp4(&s, &scene(&s, 7, "same"), &mut a).unwrap();
        render_mp4(&s, &scene(&s, 7, "same"), &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        render_mp4(&s, &scene(&s, 8, "other"), &mut c).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn oversized_frames_shrink_to_the_encoder_limit_keeping_their_shape() {
        assert_eq!(encodable_size(3840, 2160), (3840, 2160));
        assert_eq!(encodable_size(2160, 3840), (2160, 3840));
        assert_eq!(encodable_size(2160, 2160), (2160, 2160));
        assert_eq!(encodable_size(5040, 2160), (3840, 1646));
        assert_eq!(encodable_size(2160, 5040), (1646, 3840));
        assert_eq!(encodable_size(4096, 2160), (3840, 2026));
        assert_eq!(encodable_size(100_000, 2), (3840, 16));
    }

    #[test]
    fn odd_or_absurd_sizes_are_refused_instead_of_panicking() {
        for s in [
            spec(63, 48, 1.0, false),
            spec(8, 8, 1.0, false),
            spec(64, 48, 0.0, false),
            spec(64, 48, f64::NAN, false),
            spec(5000, 48, 1.0, false),
        ] {
            let err = render_mp4(&s, &scene(&s, 1, "x"), Vec::new()).unwrap_err();
            assert!(matches!(err, RenderError::InvalidSpec(_)), "{s:?}");
        }
    }
}
