//! Where a request's files live in the store. A request's outputs
//! are `<key id>/<request id>/<variant>`: the owning key's id comes first, so a File id another
//! key names resolves to nothing (the sandbox reads `<caller's key id>/…`), and one key's
//! media can be listed or dropped together. Variants are `video` and `cover` for the first
//! output, `video-2`, `cover-2`, … for further ones.

use std::fmt;

use object_store::path::Path;
use vidgate_domain::{RequestId, Variant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
            let _ = ObjectKey::parse(&s);
        }
    }
}
