//! The content route, from which clients fetch a request's files, and the URLs handed out for
//! it: absolute on the public base URL and, while the owning key exists, carrying a signed
//! `token` (valid for `media.url_ttl`) so a browser or player can open them without a key.

use vidgate_domain::{FileRef, Millis, RequestId, Variant};

use crate::token::{Grant, issue};

/// Where the queue API's routes hang from (`POST` creates; `…/requests/{id}/content` serves).
pub const ROUTE_BASE: &str = "/tencent-vod/v1/aigc-video";

/// The content route of a request's file, relative to the public base URL.
pub fn content_path(request: RequestId, variant: Variant) -> String {
    format!("{ROUTE_BASE}/requests/{request}/content?variant={variant}")
}

/// Who signs content URLs and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// The owning key's stored hash; `None` (a revoked key): URLs go out unsigned.
    pub key_hash: Option<&'a str>,
    pub now: Millis,
    pub ttl_secs: i64,
}

/// How files become URLs for one answer.
#[derive(Debug, Clone, Copy)]
pub struct ContentUrls<'a> {
    /// The public base URL (`https://gw.example`); empty: URLs stay relative.
    pub base: &'a str,
    pub signing: Signing<'a>,
}

impl ContentUrls<'_> {
    /// The URL of one of a request's own files.
    pub fn own(&self, request: RequestId, variant: Variant) -> String {
        let base = self.base.trim_end_matches('/');
        let absolute = format!("{base}{}", content_path(request, variant));
        match self.signing.key_hash {
            Some(hash) => {
                let (now, ttl) = (self.signing.now, self.signing.ttl_secs);
                let token = issue(hash, Grant::Content(request, variant), now, ttl);
                format!("{absolute}&token={token}")
            }
            None => absolute,
        }
    }

    /// The URL of a file: vidgate's own content route, or the upstream's URL as it is.
    pub fn of(&self, request: RequestId, file: &FileRef) -> String {
        match file {
            FileRef::Own { variant } => self.own(request, *variant),
            FileRef::External { url } => url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::verify;

    #[test]
    fn own_files_get_absolute_signed_urls_and_upstream_urls_stay() {
        let id = RequestId::new();
        let signing = Signing { key_hash: Some("h"), now: 1_000_000, ttl_secs: 60 };
        let urls = ContentUrls { base: "https://gw.example/", signing };
        let url = urls.of(id, &FileRef::own(Variant::VIDEO));
        let prefix =
            format!("https://gw.example{ROUTE_BASE}/requests/{id}/content?variant=video&token=");
        let token = url.strip_prefix(&prefix).unwrap();
        assert!(verify("h", Grant::Content(id, Variant::VIDEO), token, 1_000_000));
        assert!(!verify("h", Grant::Content(id, Variant::COVER), token, 1_000_000));
        assert!(urls.own(id, Variant::Cover(1)).contains("variant=cover-2&token="));
        let upstream = FileRef::external("https://cdn.example/v.mp4");
        assert_eq!(urls.of(id, &upstream), "https://cdn.example/v.mp4");
        let unsigned = ContentUrls { base: "", signing: Signing { key_hash: None, ..signing } };
        assert_eq!(unsigned.own(id, Variant::VIDEO), content_path(id, Variant::VIDEO));
    }
}
