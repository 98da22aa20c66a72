//! Output picture size from `resolution` and `aspect_ratio`, with the model's defaults. The
//! resolution names the short side (720P → 720 px); both sides are rounded to even numbers
//! because H.264 (4:2:0) needs them.

use crate::models::Catalog;
use crate::request::VideoRequest;

/// Short side in pixels for a resolution name, case-insensitive (`720P`, `2k`, `4K`, …).
pub fn short_side(resolution: &str) -> Option<u32> {
    let r = resolution.trim().to_ascii_uppercase();
    match r.as_str() {
        "2K" => Some(1440),
        "4K" => Some(2160),
        _ => r
            .strip_suffix('P')
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (16..=4320).contains(n)),
    }
}

/// `(w, h)` of an aspect ratio like `16:9`.
pub fn parse_aspect(aspect: &str) -> Option<(u32, u32)> {
    let (w, h) = aspect.trim().split_once(':')?;
    let (w, h) = (w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?);
    (w > 0 && h > 0 && w <= 64 && h <= 64).then_some((w, h))
}

fn even(x: f64) -> u32 {
    let n = (x / 2.0).round() as u32 * 2;
    n.max(2)
}

/// Width and height for a short side and an aspect ratio.
pub fn frame_size(short: u32, (aw, ah): (u32, u32)) -> (u32, u32) {
    let short = even(f64::from(short));
    if aw >= ah {
        (even(f64::from(short) * f64::from(aw) / f64::from(ah)), short)
    } else {
        (short, even(f64::from(short) * f64::from(ah) / f64::from(aw)))
    }
}

/// What the sandbox renders for a request: the requested values, else the model's defaults,
/// else 720P 16:9 5 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputShape {
    pub width: u32,
    pub height: u32,
    pub duration_secs: f64,
}

pub fn output_shape(catalog: &Catalog, req: &VideoRequest) -> OutputShape {
    let rules = catalog.rules_or_family(&req.model_name, &req.model_version);
    let oc = &req.output_config;
    let resolution =
        oc.resolution.as_deref().or(rules.and_then(|r| r.default_resolution.as_deref()));
    let aspect =
        oc.aspect_ratio.as_deref().or(rules.and_then(|r| r.default_aspect_ratio.as_deref()));
    let short = resolution.and_then(short_side).unwrap_or(720);
    let ratio = aspect.and_then(parse_aspect).unwrap_or((16, 9));
    let (width, height) = frame_size(short, ratio);
    let duration_secs = oc.duration.or(rules.and_then(|r| r.default_duration)).unwrap_or(5.0);
    OutputShape { width, height, duration_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_and_aspect_ratio_give_even_frame_sizes() {
        let cases = [
            ("720P", "16:9", (1280, 720)),
            ("1080P", "16:9", (1920, 1080)),
            ("1080P", "9:16", (1080, 1920)),
            ("720P", "1:1", (720, 720)),
            ("768P", "4:3", (1024, 768)),
            ("540p", "21:9", (1260, 540)),
            ("720P", "2:3", (720, 1080)),
            ("2K", "16:9", (2560, 1440)),
            ("4K", "16:9", (3840, 2160)),
            ("720P", "3:4", (720, 960)),
        ];
        for (res, asp, want) in cases {
            let got = frame_size(short_side(res).unwrap(), parse_aspect(asp).unwrap());
            assert_eq!(got, want, "{res} {asp}");
            assert_eq!(got.0 % 2, 0);
            assert_eq!(got.1 % 2, 0);
        }
    }

    #[test]
    fn nonsense_resolutions_and_ratios_are_not_understood() {
        assert_eq!(short_side("HD"), None);
        assert_eq!(short_side("99999P"), None);
        assert_eq!(parse_aspect("16-9"), None);
        assert_eq!(parse_aspect("0:9"), None);
    }
}
