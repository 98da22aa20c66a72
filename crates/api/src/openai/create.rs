//! OpenAI's own create fields, read: `model` (an alias), `seconds` (the duration), `size`
//! (resolution and aspect ratio), `input_reference` (the first frame), and the upload kept as
//! a reference image. `handlers::create_input` applies them to the request the other fields
//! make (OpenAI's `extra_body`: the seed's own fields), so the same parser and per-model rules
//! check both APIs' requests.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use vidgate_domain::RequestId;
use vidgate_domain::Variant;
use vidgate_domain::request::FirstFrame;
use vidgate_media::ObjectKey;
use vidgate_store::{KeyRecord, MediaObject};

use super::form::Upload;
use crate::{ApiError, AppState};

/// OpenAI's default model; vidgate's default aliases map it onto OS 2.0.
pub const DEFAULT_MODEL: &str = "sora-2";

fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::invalid(&["body", field], "value_error", msg)
}

pub(crate) fn text<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::invalid(
            &["body", name],
            "string_type",
            format!("{name} must be a string"),
        )),
    }
}

/// `"1280x720"` → `("720P", "16:9")`: the short side names the resolution, the reduced ratio
/// the aspect ratio; whether the model makes it is the rule tables' call.
pub fn size_to_shape(size: &str) -> Option<(String, String)> {
    let (w, h) = size.trim().split_once(['x', 'X'])?;
    let (w, h): (u32, u32) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return None;
    }
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let g = gcd(w, h);
    let resolution = match w.min(h) {
        1440 => "2K".to_owned(),
        2160 => "4K".to_owned(),
        short => format!("{short}P"),
    };
    Some((resolution, format!("{}:{}", w / g, h / g)))
}

/// OpenAI's `seconds` (a string such as `"8"`, or a number): a whole number of seconds.
pub(crate) fn seconds_of(fields: &Map<String, Value>) -> Result<Option<u32>, ApiError> {
    let bad = |got: String| {
        invalid("seconds", format!("seconds must be a whole number of seconds, got {got}"))
    };
    match fields.get("seconds") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| bad(format!("{s:?}"))),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| bad(n.to_string())),
        Some(_) => Err(invalid("seconds", "seconds must be a string such as \"8\"")),
    }
}

/// OpenAI's `input_reference` (or the upload's File id) as the first frame.
pub(crate) fn first_frame(
    fields: &Map<String, Value>,
    upload_file_id: Option<String>,
) -> Result<Option<FirstFrame>, ApiError> {
    let bad = || {
        invalid(
            "input_reference",
            "input_reference must be a file upload, {\"image_url\": …} or {\"file_id\": …}",
        )
    };
    Ok(match (fields.get("input_reference"), upload_file_id) {
        (_, Some(file_id)) => Some(FirstFrame::FileId(file_id)),
        (None | Some(Value::Null), None) => None,
        (Some(Value::String(url)), None) => Some(FirstFrame::Url(url.clone())),
        (Some(Value::Object(r)), None) => match (r.get("image_url"), r.get("file_id")) {
            (Some(Value::String(url)), None) => Some(FirstFrame::Url(url.clone())),
            (None, Some(Value::String(id))) => Some(FirstFrame::FileId(id.clone())),
            _ => return Err(bad()),
        },
        (Some(_), None) => return Err(bad()),
    })
}

/// An upload's identity for idempotency: its SHA-256.
pub fn content_id(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The image formats a reference upload may be (the sandbox decodes these).
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// Keeps an uploaded reference image in the caller's part of the media store, catalogued (so
/// retention sweeps it), and answers the id it is kept under and the File id the provider
/// resolves it by. Only the
/// sandbox resolves vidgate's own File ids; Tencent VOD takes reference images by URL.
pub async fn keep_upload(
    state: &AppState,
    key: &KeyRecord,
    upload: Upload,
) -> Result<(RequestId, String), ApiError> {
    if !state.config.pool.resolves_own_files() {
        return Err(invalid(
            "input_reference",
            "this gateway's provider takes reference images by URL: send input_reference as {\"image_url\": \"https://…\"}",
        ));
    }
    let content_type = image_type(&upload.bytes).ok_or_else(|| {
        invalid(
            "input_reference",
            format!(
                "input_reference must be a PNG, JPEG or WebP image (sent as {})",
                upload.content_type
            ),
        )
    })?;
    // An upload is kept as the cover of an id that names no request: the sandbox's File ids
    // (`sbx-<id>-cover`) then resolve it in the caller's own keyspace, as they do covers.
    let id = RequestId::new();
    let object_key = ObjectKey::output(&key.id, id, Variant::COVER);
    let now = state.clock.now_ms();
    let sha256 = content_id(&upload.bytes);
    let size = upload.bytes.len() as i64;
    let internal = |e: vidgate_media::MediaError| ApiError::Internal(e.to_string());
    state.config.media.store.put_bytes(&object_key, upload.bytes).await.map_err(internal)?;
    let retention = key
        .limits
        .media_retention_secs
        .unwrap_or(state.config.media.retention.as_secs() as i64)
        .max(0);
    state
        .store
        .record_media(MediaObject {
            request_id: id,
            key_id: key.id.clone(),
            variant: Variant::COVER.to_string(),
            object_key: object_key.as_str().to_owned(),
            content_type: content_type.to_owned(),
            size,
            sha256,
            source_url: None,
            stored_at: now,
            expires_at: (retention > 0).then(|| now.saturating_add(retention.saturating_mul(1000))),
            deleted_at: None,
        })
        .await?;
    Ok((id, vidgate_providers::sandbox::file_ids::file_id(id, Variant::COVER)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_map_to_resolution_and_reduced_aspect_ratio() {
        let cases = [
            ("1280x720", Some(("720P", "16:9"))),
            ("720x1280", Some(("720P", "9:16"))),
            ("1920x1080", Some(("1080P", "16:9"))),
            ("1024x1792", Some(("1024P", "4:7"))),
            ("720x720", Some(("720P", "1:1"))),
            ("3840x2160", Some(("4K", "16:9"))),
            ("1280*720", None),
            ("x720", None),
            ("0x0", None),
            ("99999x720", None),
        ];
        for (size, want) in cases {
            let got = size_to_shape(size);
            assert_eq!(got.as_ref().map(|(r, a)| (r.as_str(), a.as_str())), want, "{size}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_size_text_maps_or_is_refused(size in ".{0,24}", w in 0u32..20_000, h in 0u32..20_000) {
            let _ = size_to_shape(&size);
            if let Some((resolution, aspect)) = size_to_shape(&format!("{w}x{h}")) {
                let short = match resolution.as_str() {
                    "2K" => 1440,
                    "4K" => 2160,
                    other => other.trim_end_matches('P').parse::<u32>().unwrap(),
                };
                proptest::prop_assert_eq!(short, w.min(h));
                let (a, b) = aspect.split_once(':').unwrap();
                let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
                proptest::prop_assert_eq!(a * u64::from(h), b * u64::from(w), "same ratio");
            }
        }
    }

    #[test]
    fn uploads_must_be_images() {
        assert_eq!(image_type(b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(image_type(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"GIF89a"), None);
        assert_eq!(image_type(b""), None);
    }
}
