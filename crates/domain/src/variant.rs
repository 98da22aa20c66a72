//! Which file of a request's outputs: `video` and `cover` for the first output, `video-2`,
//! `cover-2`, … for further ones. The media store names objects by it, the content route
//! takes it as `?variant=`, and a stored result names the files vidgate keeps by it.

use std::fmt;
use std::str::FromStr;

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

impl serde::Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Variant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
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
    fn variants_serialize_as_their_names() {
        let v: Vec<Variant> = serde_json::from_str(r#"["video","cover-3"]"#).unwrap();
        assert_eq!(v, [Variant::VIDEO, Variant::Cover(2)]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["video","cover-3"]"#);
        assert!(serde_json::from_str::<Variant>(r#""thumb""#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_a_variant_never_panics(s in ".{0,20}") {
            let _ = s.parse::<Variant>();
        }
    }
}
