//! Which upstream's queue a task waits in. Each provider serves one pool; the store keeps it
//! as text on the task row (`sandbox`, `tencent`), so claims, slot counts and queue metrics are
//! per pool.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pool {
    /// The local sandbox provider.
    Sandbox,
    /// Tencent Cloud VOD's AIGC API.
    Tencent,
}

impl Pool {
    pub fn as_str(self) -> &'static str {
        match self {
            Pool::Sandbox => "sandbox",
            Pool::Tencent => "tencent",
        }
    }

    /// Whether this pool's provider reads input images by vidgate's own File ids (an upload
    /// kept in the media store). Tencent VOD takes input images by URL only.
    pub fn resolves_own_files(self) -> bool {
        match self {
            Pool::Sandbox => true,
            Pool::Tencent => false,
        }
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pool {0:?} is not one of sandbox, tencent")]
pub struct BadPool(pub String);

impl FromStr for Pool {
    type Err = BadPool;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Pool::Sandbox),
            "tencent" => Ok(Pool::Tencent),
            other => Err(BadPool(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_reads_back_as_it_is_written_and_nothing_else_reads() {
        for p in [Pool::Sandbox, Pool::Tencent] {
            assert_eq!(p.as_str().parse::<Pool>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        for bad in ["", "Sandbox", "tencent ", "replicate"] {
            assert_eq!(bad.parse::<Pool>(), Err(BadPool(bad.into())), "{bad:?}");
        }
    }
}
