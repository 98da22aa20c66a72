//! Handing out a stored result: its own media paths (the content route, as results store
//! them) become absolute URLs carrying a signed `token`, so a browser or player can open them
//! without a key until `media.url_ttl` passes. Upstream URLs are left as they are.

use serde_json::Value;
use vidgate_domain::{Millis, RequestId};

use crate::Variant;
use crate::layout::ROUTE_BASE;
use crate::token::{Grant, issue};

/// Who signs and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// The owning key's stored hash; `None` (a revoked key): URLs go out unsigned.
    pub key_hash: Option<&'a str>,
    pub now: Millis,
    pub ttl_secs: i64,
}

/// The request and variant of an own content path.
pub fn parse_content_path(path: &str) -> Option<(RequestId, Variant)> {
    let rest = path.strip_prefix(ROUTE_BASE)?.strip_prefix("/requests/")?;
    let (id, query) = rest.split_once("/content?variant=")?;
    Some((id.parse().ok()?, query.parse().ok()?))
}

/// One URL as handed out: own paths absolute (on `base`) and signed.
pub fn present_url(url: &str, base: &str, signing: Signing<'_>) -> String {
    if !url.starts_with('/') {
        return url.to_owned();
    }
    let absolute = format!("{}{url}", base.trim_end_matches('/'));
    match (parse_content_path(url), signing.key_hash) {
        (Some((id, variant)), Some(hash)) => {
            let token = issue(hash, Grant::Content(id, variant), signing.now, signing.ttl_secs);
            format!("{absolute}&token={token}")
        }
        _ => absolute,
    }
}

/// Rewrites `url` and `cover_url` of `video` and every `videos` entry of a result body.
pub fn present_result(result: &mut Value, base: &str, signing: Signing<'_>) {
    let fix = |file: &mut Value| {
        for key in ["url", "cover_url"] {
            if let Some(Value::String(url)) = file.get_mut(key) {
                *url = present_url(url, base, signing);
            }
        }
    };
    if let Some(video) = result.get_mut("video") {
        fix(video);
    }
    if let Some(Value::Array(videos)) = result.get_mut("videos") {
        videos.iter_mut().for_each(fix);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layout::content_path;
    use crate::token::verify;

    #[test]
    fn own_paths_become_absolute_signed_urls_and_upstream_urls_stay() {
        let id = RequestId::new();
        let mut r = json!({
            "video": {"url": content_path(id, Variant::VIDEO), "cover_url": content_path(id, Variant::COVER)},
            "videos": [{"url": "https://cdn.example/v.mp4", "cover_url": null}],
        });
        let signing = Signing { key_hash: Some("h"), now: 1_000_000, ttl_secs: 60 };
        present_result(&mut r, "https://gw.example/", signing);
        let url = r["video"]["url"].as_str().unwrap();
        let prefix =
            format!("https://gw.example{ROUTE_BASE}/requests/{id}/content?variant=video&token=");
        let token = url.strip_prefix(&prefix).unwrap();
        assert!(verify("h", Grant::Content(id, Variant::VIDEO), token, 1_000_000));
        assert!(!verify("h", Grant::Content(id, Variant::COVER), token, 1_000_000));
        assert!(r["video"]["cover_url"].as_str().unwrap().contains("variant=cover&token="));
        assert_eq!(r["videos"][0]["url"], "https://cdn.example/v.mp4");
        assert_eq!(r["videos"][0]["cover_url"], Value::Null);
        let unsigned = Signing { key_hash: None, ..signing };
        assert_eq!(present_url("/elsewhere", "http://h", unsigned), "http://h/elsewhere");
        assert_eq!(
            parse_content_path(&content_path(id, Variant::Cover(2))),
            Some((id, Variant::Cover(2)))
        );
        assert_eq!(
            parse_content_path("/tencent-vod/v1/aigc-video/requests/x/content?variant=video"),
            None
        );
    }
}
