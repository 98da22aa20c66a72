//! One validation problem, located in the request the way fal/pydantic clients expect
//! (`{"loc":["body","output_config","duration"],"msg":"…","type":"…"}`).

use serde::Serialize;

/// One step of a location path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Loc {
    Key(String),
    Index(usize),
}

impl From<&str> for Loc {
    fn from(s: &str) -> Self {
        Loc::Key(s.to_owned())
    }
}

impl From<usize> for Loc {
    fn from(i: usize) -> Self {
        Loc::Index(i)
    }
}

/// A single problem with a request. `kind` uses pydantic v2's error type names where one fits
/// (`missing`, `string_type`, `enum`, …) so existing clients can branch on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub loc: Vec<Loc>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    pub fn new(loc: Vec<Loc>, kind: &str, msg: impl Into<String>) -> Self {
        FieldError { loc, msg: msg.into(), kind: kind.to_owned() }
    }

    /// The location as a dotted path, for messages and logs (`body.output_config.duration`).
    pub fn path(&self) -> String {
        self.loc
            .iter()
            .map(|l| match l {
                Loc::Key(k) => k.clone(),
                Loc::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}
