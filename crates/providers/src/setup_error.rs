//! Why a provider (or another egress user) could not be built: startup errors, each naming
//! what failed, with the cause as its source.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the tencent provider needs at least one account")]
    NoAccounts,
    #[error("cannot build the {what} HTTP client")]
    HttpClient {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SetupError {
    /// The egress guard could not build its HTTP client.
    pub fn egress(source: reqwest::Error) -> SetupError {
        SetupError::HttpClient { what: "egress", source }
    }

    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> SetupError {
        let path = path.to_path_buf();
        move |source| SetupError::Io { action, path, source }
    }
}
