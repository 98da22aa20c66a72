//! File ids of the media the sandbox renders: `sbx-<request id>-cover` names the cover of one
//! of the caller's own requests (`sbx-<request id>-video` its video). An id resolves only in
//! the caller's own part of the media store (`<key id>/<request id>/…`, see
//! `vidgate_media::layout`), so another key's id fails exactly as a missing one does, and no
//! secret is needed to keep ids from being probed across keys.

use vidgate_domain::{RequestId, Variant};

pub fn file_id(id: RequestId, variant: Variant) -> String {
    format!("sbx-{id}-{variant}")
}

/// The request and file an id names, if it is one of ours and an image.
pub fn parse(file_id: &str) -> Result<(RequestId, Variant), FileIdError> {
    let not_ours = || FileIdError::NotOurs(file_id.to_owned());
    let rest = file_id.strip_prefix("sbx-").ok_or_else(not_ours)?;
    // A request id is a UUID (36 characters); the variant follows its dash.
    let (id, variant) = (rest.get(..36).ok_or_else(not_ours)?, rest.get(36..).unwrap_or(""));
    let id: RequestId = id.parse().map_err(|_| not_ours())?;
    let variant: Variant =
        variant.strip_prefix('-').and_then(|v| v.parse().ok()).ok_or_else(not_ours)?;
    if !variant.is_cover() {
        let cover = match variant {
            Variant::Video(n) | Variant::Cover(n) => Variant::Cover(n),
        };
        return Err(FileIdError::NotAnImage {
            file_id: file_id.to_owned(),
            cover: self::file_id(id, cover),
        });
    }
    Ok((id, variant))
}

/// Why a File id names no image the caller may use. Each reads as a sentence for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileIdError {
    #[error(
        "file_id {0:?} is not media this vidgate stores (sandbox file ids look like sbx-<request id>-cover)"
    )]
    NotOurs(String),
    /// Also what another key's media answers, so ids cannot be probed across keys.
    #[error("file_id {0:?} has expired or was never rendered here")]
    Missing(String),
    #[error("file_id {file_id:?} is a video; a frame must be an image (use {cover:?})")]
    NotAnImage { file_id: String, cover: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_anything_else_is_not_ours() {
        let id = RequestId::new();
        assert_eq!(parse(&file_id(id, Variant::COVER)), Ok((id, Variant::COVER)));
        assert_eq!(parse(&file_id(id, Variant::Cover(1))), Ok((id, Variant::Cover(1))));
        let video = file_id(id, Variant::VIDEO);
        assert_eq!(
            parse(&video).unwrap_err().to_string(),
            format!(
                "file_id {video:?} is a video; a frame must be an image (use \"sbx-{id}-cover\")"
            )
        );
        for bad in
            ["", "sbx-", "sbx-x-cover", &format!("sbx-{id}"), &format!("sbx-{id}cover"), "vod-123"]
        {
            assert!(matches!(parse(bad), Err(FileIdError::NotOurs(_))), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,60}") {
            let _ = parse(&s);
            let _ = parse(&format!("sbx-{s}"));
        }
    }
}
