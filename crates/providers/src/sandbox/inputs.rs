//! The images a sandbox render starts and ends on. Which request fields name them, and getting
//! their bytes: URLs through the egress guard (no private, loopback or link-local targets
//! unless allowed; no redirects; a size cap checked before and while reading; a time limit),
//! File ids from the media this vidgate stores, base64 from the request itself. Every failure is a sentence for the caller,
//! never a panic; the render then fails with `input_fetch_failed`.

use std::time::Duration;

use vidgate_domain::{VideoRequest, request::FileKind};
use vidgate_egress::{EgressError, EgressPolicy, refusal};
use vidgate_media::{MediaStore, ObjectKey};

use super::file_ids::{self, FileIdError};

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Url(String),
    File(String),
    /// The bytes themselves, in standard base64 (checked at create).
    Base64(String),
}

/// The first-frame and last-frame images a request names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameSources {
    pub first: Option<Source>,
    pub last: Option<Source>,
}

fn usage(extra: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    extra.get("usage").and_then(|v| v.as_str())
}

/// First frame: the first `file_infos` entry not marked `LastFrame` or `Reference`. Last
/// frame: `last_frame_url`, else `last_frame_file_id`, else an entry marked `LastFrame`, else
/// a second unmarked entry.
pub fn frame_sources(request: &VideoRequest) -> FrameSources {
    let source = |f: &vidgate_domain::request::FileInfo| match f.kind {
        FileKind::Url => f.url.clone().map(Source::Url),
        FileKind::File => f.file_id.clone().map(Source::File),
        FileKind::Base64 => {
            f.extra.get("base64").and_then(|v| v.as_str()).map(|b| Source::Base64(b.to_owned()))
        }
    };
    let framing: Vec<_> = request
        .file_infos()
        .iter()
        .filter(|f| !matches!(usage(&f.extra), Some("LastFrame" | "Reference")))
        .collect();
    let first = framing.first().and_then(|f| source(f));
    let last = request
        .last_frame_url()
        .map(str::to_owned)
        .map(Source::Url)
        .or_else(|| {
            request
                .extra()
                .get("last_frame_file_id")
                .and_then(|v| v.as_str())
                .map(|id| Source::File(id.to_owned()))
        })
        .or_else(|| {
            request
                .file_infos()
                .iter()
                .find(|f| usage(&f.extra) == Some("LastFrame"))
                .and_then(source)
        })
        .or_else(|| framing.get(1).and_then(|f| source(f)));
    FrameSources { first, last }
}

/// Fetches input images for renders.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: EgressPolicy,
    max_bytes: u64,
    media: MediaStore,
}

impl Fetcher {
    pub fn new(
        policy: EgressPolicy,
        timeout: Duration,
        max_bytes: u64,
        media: MediaStore,
    ) -> Result<Self, crate::SetupError> {
        Ok(Fetcher {
            client: policy.client(timeout).map_err(crate::SetupError::egress)?,
            policy,
            max_bytes,
            media,
        })
    }

    /// The bytes of one image; `role` ("first frame", "last frame") starts error messages.
    /// A File id resolves only among the media of `key_id`.
    pub async fn fetch(
        &self,
        source: &Source,
        role: &str,
        key_id: &str,
    ) -> Result<Vec<u8>, InputError> {
        match source {
            Source::File(id) => {
                let file = |source| InputError::File { role: role.to_owned(), source };
                let (request, variant) = file_ids::parse(id).map_err(file)?;
                // Only the caller's own part of the store: another key's id is missing.
                let key = ObjectKey::output(key_id, request, variant);
                match self.media.read_small(&key, self.max_bytes).await {
                    Ok(Some(bytes)) => Ok(bytes.to_vec()),
                    Ok(None) => Err(file(FileIdError::Missing(id.clone()))),
                    Err(e) => Err(InputError::Read {
                        role: role.to_owned(),
                        file_id: id.clone(),
                        source: e,
                    }),
                }
            }
            Source::Url(url) => self.download(url).await.map_err(|e| InputError::Url {
                role: role.to_owned(),
                url: url.clone(),
                source: e,
            }),
            Source::Base64(text) => {
                use base64::Engine;
                let bytes =
                    base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
                        InputError::Base64 { role: role.to_owned(), problem: e.to_string() }
                    })?;
                if bytes.len() as u64 > self.max_bytes {
                    let problem = format!("is larger than the {} byte limit", self.max_bytes);
                    return Err(InputError::Base64 { role: role.to_owned(), problem });
                }
                Ok(bytes)
            }
        }
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, DownloadError> {
        let parsed = self.policy.check_url(url)?;
        let failed = |e: reqwest::Error| match refusal(&e) {
            Some(refused) => DownloadError::Refused(refused.clone()),
            None if e.is_timeout() => DownloadError::TimedOut,
            None => DownloadError::Failed(without_url(&e)),
        };
        let mut response = self.client.get(parsed).send().await.map_err(failed)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(DownloadError::Redirect(status.as_u16()));
        }
        if !status.is_success() {
            return Err(DownloadError::Status(status.as_u16()));
        }
        let too_large = DownloadError::TooLarge(self.max_bytes);
        if response.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Why an input image could not be had; the message (its `Display`) becomes the failed
/// request's `error`, so it names the frame and the source and never a secret.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{role}: {source}")]
    File { role: String, source: FileIdError },
    #[error("{role}: reading {file_id:?} failed: {source}")]
    Read { role: String, file_id: String, source: vidgate_media::MediaError },
    #[error("{role} image {url}: {source}")]
    Url { role: String, url: String, source: DownloadError },
    #[error("{role} image (base64): {problem}")]
    Base64 { role: String, problem: String },
}

/// Why a URL's bytes could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    Refused(#[from] EgressError),
    #[error("the download timed out")]
    TimedOut,
    #[error("the download failed: {0}")]
    Failed(String),
    #[error(
        "answered HTTP {0} (a redirect); redirects are not followed, give the image's final URL"
    )]
    Redirect(u16),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("is larger than the {0} byte limit")]
    TooLarge(u64),
}

/// reqwest's messages repeat the URL, which the caller's message already names.
fn without_url(e: &reqwest::Error) -> String {
    let msg = e.to_string();
    let msg = match e.url() {
        Some(url) => msg.replace(&format!(" for url ({url})"), ""),
        None => msg,
    };
    let mut source = std::error::Error::source(e);
    let mut out = msg;
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}
