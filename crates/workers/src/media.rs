//! Keeping a success's files. Before a request turns COMPLETED, the poller hands its output
//! here: files the provider stored itself (the sandbox) are recorded in the media catalog;
//! with `media.mirror` on, the upstream's files (the video, its cover) are streamed into the
//! media store through the egress guard, with a size and time cap, and recorded with their
//! checksum. The result then names the file as vidgate's own and keeps the upstream's URL as
//! `source_url`. So COMPLETED means the copy is durable: a crash mid-copy leaves the request
//! running, its lease runs out, and the next poll copies again (files already recorded for the
//! same source are not copied twice). A copy that keeps failing does not lose the video: the
//! result keeps the upstream's URL and the request's log says why.

use std::time::Duration;

use futures::TryStreamExt;
use vidgate_domain::{FileRef, Millis, Variant};
use vidgate_egress::{EgressError, EgressPolicy, refusal};
use vidgate_media::{MediaError, MediaStore, ObjectKey, StoredObject};
use vidgate_providers::UpstreamOutput;
use vidgate_store::{MediaObject, Store, TaskRecord};

/// Tries per file before the result keeps the upstream's URL.
const COPY_TRIES: u32 = 3;

/// How media is kept (`[media]` in the configuration).
#[derive(Clone)]
pub struct MediaPolicy {
    pub store: MediaStore,
    /// Copy upstream outputs into the store.
    pub mirror: bool,
    /// How long stored files are kept unless their key says otherwise (zero: until deleted).
    pub retention: Duration,
    /// The largest file a copy takes.
    pub max_bytes: u64,
    /// Upstream downloads: the SSRF guard, and a client with the copy's time cap.
    pub egress: EgressPolicy,
    pub client: reqwest::Client,
}

impl MediaPolicy {
    pub fn new(
        store: MediaStore,
        mirror: bool,
        retention: Duration,
        max_bytes: u64,
        copy_timeout: Duration,
        egress: EgressPolicy,
    ) -> Result<MediaPolicy, vidgate_providers::SetupError> {
        let client = egress.client(copy_timeout).map_err(vidgate_providers::SetupError::egress)?;
        Ok(MediaPolicy { store, mirror, retention, max_bytes, egress, client })
    }
}

/// Why one copy failed, and whether another try may help.
#[derive(Debug, thiserror::Error)]
enum CopyError {
    #[error(transparent)]
    Refused(#[from] EgressError),
    #[error("the upstream answered HTTP {0}")]
    Status(u16),
    #[error("the download failed: {0}")]
    Download(String),
    #[error(transparent)]
    Media(#[from] MediaError),
}

impl CopyError {
    fn retryable(&self) -> bool {
        match self {
            CopyError::Refused(_) => false,
            CopyError::Status(s) => *s >= 500 || *s == 429,
            CopyError::Download(_) => true,
            CopyError::Media(MediaError::TooLarge { .. }) => false,
            CopyError::Media(_) => true,
        }
    }
}

/// When files kept from `now` expire for this task's key.
async fn expiry(
    store: &dyn Store,
    policy: &MediaPolicy,
    task: &TaskRecord,
    now: Millis,
) -> Option<Millis> {
    let own = match store.key_by_id(&task.key_id).await {
        Ok(key) => key.and_then(|k| k.limits.media_retention_secs),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the key's media retention; using the default");
            None
        }
    };
    let secs = own.map_or(policy.retention.as_secs() as i64, |s| s.max(0));
    (secs > 0).then(|| now.saturating_add(secs.saturating_mul(1000)))
}

/// What `keep` knows while it works through one success's files.
struct Keeping<'a> {
    store: &'a dyn Store,
    policy: &'a MediaPolicy,
    task: &'a TaskRecord,
    now: Millis,
    expires_at: Option<Millis>,
    /// Files recorded for this request before (by a copy that finished before a crash).
    earlier: Vec<MediaObject>,
}

impl Keeping<'_> {
    fn record(
        &self,
        variant: Variant,
        object_key: String,
        size: u64,
        sha256: String,
        content_type: String,
        source_url: Option<String>,
    ) -> MediaObject {
        MediaObject {
            request_id: self.task.id,
            key_id: self.task.key_id.clone(),
            variant: variant.to_string(),
            object_key,
            content_type,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            sha256,
            source_url,
            stored_at: self.now,
            expires_at: self.expires_at,
            deleted_at: None,
        }
    }

    /// Copies one upstream file (or finds it copied before a crash) and records it; its
    /// size and checksum. `Err`: a warning for the request's log (the URL stays upstream's).
    async fn copy_one(
        &self,
        variant: Variant,
        source: &str,
    ) -> Result<Result<(u64, String), String>, vidgate_store::StoreError> {
        let name = variant.to_string();
        // Copied before a crash: the row says so; the object is whole.
        let done = self.earlier.iter().find(|o| {
            o.variant == name && o.deleted_at.is_none() && o.source_url.as_deref() == Some(source)
        });
        if let Some(o) = done {
            return Ok(Ok((o.size as u64, o.sha256.clone())));
        }
        match copy_with_retries(self.policy, self.task, variant, source).await {
            Ok((object, content_type)) => {
                let key = object.key.to_string();
                let (size, sha) = (object.size, object.sha256.clone());
                let row = self.record(variant, key, size, sha, content_type, Some(source.into()));
                self.store.record_media(row).await?;
                crate::metrics::media_copied(object.size);
                Ok(Ok((object.size, object.sha256)))
            }
            Err(e) => {
                crate::metrics::media_copy_failed();
                Ok(Err(format!(
                    "the {name} was not copied into the media store ({e}); the result keeps the upstream's URL"
                )))
            }
        }
    }
}

/// Records and copies a success's files; `output.files` then name what vidgate keeps as its own.
/// Returns warnings for the request's log (copies that failed).
pub async fn keep(
    store: &dyn Store,
    policy: &MediaPolicy,
    task: &TaskRecord,
    output: &mut UpstreamOutput,
    now: Millis,
) -> Result<Vec<String>, vidgate_store::StoreError> {
    let expires_at = expiry(store, policy, task, now).await;
    let mut k = Keeping { store, policy, task, now, expires_at, earlier: Vec::new() };
    for s in &output.stored {
        let (key, sha, ct) = (s.key.clone(), s.sha256.clone(), s.content_type.clone());
        store.record_media(k.record(s.variant, key, s.size, sha, ct, None)).await?;
    }
    k.earlier = store.media_of(task.id).await?;
    let mut warnings = Vec::new();
    for (i, file) in output.files.iter_mut().enumerate() {
        for cover in [false, true].into_iter().filter(|_| policy.mirror) {
            let Some(variant) = Variant::of(i, cover) else { continue };
            let at = if cover { file.cover.as_ref() } else { Some(&file.file) };
            let Some(source) = at.and_then(FileRef::external_url).map(str::to_owned) else {
                continue;
            };
            let (size, sha256) = match k.copy_one(variant, &source).await? {
                Ok(copied) => copied,
                Err(warning) => {
                    warnings.push(warning);
                    continue;
                }
            };
            if cover {
                file.cover = Some(FileRef::own(variant));
            } else {
                file.source_url = Some(source);
                file.file = FileRef::own(variant);
                file.sha256 = Some(sha256);
                file.file_size = Some(size);
            }
        }
        if file.file.is_own() {
            file.expires_at = expires_at;
        }
    }
    Ok(warnings)
}

/// Deletes what the provider stored for a success nobody will read (its owner deleted the
/// request, or it had ended for them before the job finished), so no file stays that no
/// catalog row names (the janitor would never find it).
pub async fn discard(policy: &MediaPolicy, task: &TaskRecord, output: &mut UpstreamOutput) {
    let keys = output.stored.drain(..).filter_map(|s| ObjectKey::parse(&s.key));
    for key in keys.chain([ObjectKey::render_note(&task.key_id, task.id)]) {
        if let Err(e) = policy.store.delete(&key).await {
            tracing::warn!(error = %e, "deleting an unwanted output failed; it stays in the media store");
        }
    }
}

async fn copy_with_retries(
    policy: &MediaPolicy,
    task: &TaskRecord,
    variant: Variant,
    url: &str,
) -> Result<(StoredObject, String), CopyError> {
    let key = ObjectKey::output(&task.key_id, task.id, variant);
    let mut attempt = 1;
    loop {
        match copy(policy, &key, variant, url).await {
            Ok(done) => return Ok(done),
            Err(e) if e.retryable() && attempt < COPY_TRIES => {
                tracing::warn!(%variant, attempt, error = %e, "media copy failed; trying again");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Streams one upstream file into the store; the upload appears whole or not at all.
async fn copy(
    policy: &MediaPolicy,
    key: &ObjectKey,
    variant: Variant,
    url: &str,
) -> Result<(StoredObject, String), CopyError> {
    let parsed = policy.egress.check_url(url)?;
    let failed = |e: reqwest::Error| match refusal(&e) {
        Some(refused) => CopyError::Refused(refused.clone()),
        None => CopyError::Download(without_url(&e)),
    };
    let response = policy.client.get(parsed).send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(CopyError::Status(status.as_u16()));
    }
    if response.content_length().is_some_and(|n| n > policy.max_bytes) {
        return Err(MediaError::TooLarge { limit: policy.max_bytes }.into());
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() < 200)
        .map(str::to_owned)
        .unwrap_or_else(|| if variant.is_cover() { "image/jpeg" } else { "video/mp4" }.into());
    let body = response.bytes_stream().map_err(|e| without_url(&e));
    let object = policy.store.put_stream(key, body, policy.max_bytes).await?;
    Ok((object, content_type))
}

/// reqwest's messages repeat the URL (which may carry the upstream's signature).
fn without_url(e: &reqwest::Error) -> String {
    let msg = e.to_string();
    let mut out = match e.url() {
        Some(url) => msg.replace(&format!(" for url ({url})"), ""),
        None => msg,
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}
