//! Identifiers. A request id is a UUIDv7: unique across replicas without coordination, time
//! ordered (so indexes stay append-mostly), and with 74 random bits it cannot be guessed.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_round_trip_through_their_text_form() {
        let id = RequestId::new();
        assert_eq!(id.to_string().parse::<RequestId>().unwrap(), id);
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
