//! Identifiers. A request id is a UUIDv7: unique across replicas without coordination, time
//! ordered (so indexes stay append-mostly), and with 74 random bits it cannot be guessed.
//! A key id (`key_…`) and a webhook delivery id (`msg_…`, Standard Webhooks' `webhook-id`)
//! are text made here, in Rust, and read back as stored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(Uuid);

impl RequestId {
    pub fn new() -> Self {
        RequestId(Uuid::now_v7())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RequestId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(RequestId)
    }
}

/// A text id with its own type, so a key id is never passed where a delivery id (or any other
/// string) is meant. It reads as `&str` (`Deref`) where one is taken.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $uuid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                $name(format!(concat!($prefix, "{}"), $uuid.simple()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// An id as stored (the store reads back what it wrote; ids from older builds keep
        /// their spelling).
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_id!(
    /// An API key's id: `key_` and a UUIDv7. Not a secret: it names the key in the ledger,
    /// the audit log and listings.
    KeyId,
    "key_",
    Uuid::now_v7()
);

text_id!(
    /// A webhook delivery's id, Standard Webhooks' `webhook-id`: `msg_` and a random UUID,
    /// the same across every attempt and redelivery of one event.
    DeliveryId,
    "msg_",
    Uuid::new_v4()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_round_trip_through_their_text_form() {
        let id = RequestId::new();
        assert_eq!(id.to_string().parse::<RequestId>().unwrap(), id);
    }

    #[test]
    fn key_and_delivery_ids_are_made_with_their_prefix_and_never_twice() {
        let (a, b) = (KeyId::new(), KeyId::new());
        assert!(a.starts_with("key_") && a.len() == 36 && a != b, "{a} {b}");
        let m = DeliveryId::new();
        assert!(m.starts_with("msg_") && m.len() == 36, "{m}");
        assert_eq!(KeyId::from(a.to_string()), a);
        assert_eq!(serde_json::to_value(&m).unwrap(), serde_json::json!(m.as_str()));
    }

    #[test]
    fn request_ids_made_later_sort_later() {
        let a = RequestId::new();
        let b = RequestId::new();
        assert!(a < b);
    }

    #[test]
    fn garbage_is_not_a_request_id() {
        assert!("not-an-id".parse::<RequestId>().is_err());
        assert!("".parse::<RequestId>().is_err());
    }
}
