//! What a finished upstream job produced, in provider-neutral form: its files (`Own` where the
//! provider wrote them into the media store itself, `External` at the upstream's URL) and
//! what it used.

use serde::{Deserialize, Serialize};
use vidgate_domain::{OutputFile, Usage, Variant};

/// A file the provider already wrote into the media store (the sandbox's renders): the keep
/// step records it instead of copying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub variant: Variant,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamOutput {
    pub files: Vec<OutputFile>,
    pub usage: Option<Usage>,
    /// Files among `files` the provider stored itself.
    pub stored: Vec<StoredFile>,
}
