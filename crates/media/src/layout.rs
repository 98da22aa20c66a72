//! Where a request's files live in the store and how clients name them. A request's outputs
//! are `<key id>/<request id>/<variant>`: the owning key's id comes first, so a File id another
//! key names resolves to nothing (the sandbox reads `<caller's key id>/…`), and one key's
//! media can be listed or dropped together. Variants are `video` and `cover` for the first
//! output, `video-2`, `cover-2`, … for further ones.

use std::fmt;
use std::str::FromStr;

use object_store::path::Path;
use vidgate_domain::RequestId;

/// The route the content URLs hang from (the API's `BASE`; a test there keeps them equal).
pub const ROUTE_BASE: &str = "/tencent-vod/v1/aigc-video";

/// Which file of a request's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The n-th output video (0 is the first).
    Video(u16),
    /// A still of the n-th video.
    Cover(u16),
}

impl Variant {
    pub const VIDEO: Variant = Variant::Video(0);
    pub const COVER: Variant = Variant::Cover(0);

    /// The variant of output `index`'s video or cover.
    pub fn of(index: usize, cover: bool) -> Option<Variant> {
        let n = u16::try_from(index).ok()?;
        Some(if cover { Variant::Cover(n) } else { Variant::Video(n) })
    }

    pub fn is_cover(self) -> bool {
        matches!(self, Variant::Cover(_))
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, n) = match self {
            Variant::Video(n) => ("video", *n),
            Variant::Cover(n) => ("cover", *n),
        };
        if n == 0 { f.write_str(name) } else { write!(f, "{name}-{}", u32::from(n) + 1) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variant {0:?} is not one of video, cover (video-2, cover-2, … for further outputs)")]
pub struct BadVariant(pub String);

impl FromStr for Variant {
    type Err = BadVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadVariant(s.to_owned());
        let (name, n) = match s.split_once('-') {
            None => (s, 0),
            Some((name, n)) => {
                // `video-2` is the second; `video-1` and `video-02` are not spellings of it.
                if n.starts_with('0') {
                    return Err(bad());
                }
                let n: u16 = n.parse().map_err(|_| bad())?;
                (name, n.checked_sub(1).filter(|n| *n > 0).ok_or_else(bad)?)
            }
        };
        match name {
            "video" => Ok(Variant::Video(n)),
            "cover" => Ok(Variant::Cover(n)),
            _ => Err(bad()),
        }
    }
}

/// A validated object path inside the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(Path);

impl ObjectKey {
    /// A request's output file.
    pub fn output(key_id: &str, request: RequestId, variant: Variant) -> ObjectKey {
        ObjectKey(Path::from_iter([key_id, &request.to_string(), &variant.to_string()]))
    }

    /// What the sandbox writes beside a finished render (its description), so a later poll
    /// reuses the render instead of making it again.
    pub fn render_note(key_id: &str, request: RequestId) -> ObjectKey {
        ObjectKey(Path::from_iter([key_id, &request.to_string(), "render.json"]))
    }

    /// A key read back from the catalog.
    pub fn parse(s: &str) -> Option<ObjectKey> {
        Path::parse(s).ok().filter(|p| p.as_ref() == s && !s.is_empty()).map(ObjectKey)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content route of a request's file, relative to the public base URL (a stored result
/// keeps it so; the API and webhooks make it absolute and signed when they hand it out).
pub fn content_path(request: RequestId, variant: Variant) -> String {
    format!("{ROUTE_BASE}/requests/{request}/content?variant={variant}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_round_trip_and_odd_spellings_are_refused() {
        for v in [Variant::VIDEO, Variant::COVER, Variant::Video(1), Variant::Cover(9)] {
            assert_eq!(v.to_string().parse::<Variant>(), Ok(v));
        }
        assert_eq!(Variant::Video(1).to_string(), "video-2");
        for bad in ["", "video-1", "video-0", "video-02", "cover-", "thumb", "video-99999", "-2"] {
            assert!(bad.parse::<Variant>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_put_the_owner_first() {
        let id = RequestId::new();
        let k = ObjectKey::output("key_abc", id, Variant::COVER);
        assert_eq!(k.as_str(), format!("key_abc/{id}/cover"));
        assert_eq!(ObjectKey::parse(k.as_str()), Some(k));
        assert_eq!(ObjectKey::parse("a//b"), None);
        assert_eq!(ObjectKey::parse("../x"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_a_variant_never_panics(s in ".{0,20}") {
            let _ = s.parse::<Variant>();
            let _ = ObjectKey::parse(&s);
        }
    }
}
