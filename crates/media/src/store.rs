//! `MediaStore`: put, read, serve and delete files in the configured store. Writes are
//! streamed as multipart uploads with bounded memory (at most `IN_FLIGHT` parts of
//! `part_size` bytes buffered) and a SHA-256 taken on the way; an upload becomes visible only
//! when it completes (S3 completes a multipart upload atomically; the local store renames a
//! staged file into place), so a crash mid-copy never leaves a half object to serve.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::signer::{Method, Signer};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::{MediaError, ObjectKey, StoreSettings};

/// Parts uploading at once per copy: with `part_size` this bounds a copy's memory.
const IN_FLIGHT: usize = 2;

/// A file written to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: ObjectKey,
    pub size: u64,
    /// Hex SHA-256 of the bytes (the content route's `ETag`).
    pub sha256: String,
}

/// An open read: the bytes of `range` (all of them when no range was asked for).
pub struct ObjectRead {
    pub size: u64,
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, MediaError>>,
}

#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    kind: &'static str,
    part_size: usize,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The inner store's Debug would print its credentials.
        write!(f, "MediaStore({})", self.kind)
    }
}

impl MediaStore {
    /// Opens the store; a local directory is made if missing. `part_size` is the multipart
    /// chunk (S3 wants at least 5 MiB for every part but the last).
    pub fn open(settings: &StoreSettings, part_size: usize) -> Result<MediaStore, MediaError> {
        match settings {
            StoreSettings::Local { dir } => {
                std::fs::create_dir_all(dir)
                    .map_err(|error| MediaError::Io { path: dir.display().to_string(), error })?;
                let local = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| MediaError::Setup(e.to_string()))?
                    .with_automatic_cleanup(true);
                Ok(MediaStore { inner: Arc::new(local), signer: None, kind: "local", part_size })
            }
            StoreSettings::S3(s3) => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(!s3.path_style);
                if let Some(endpoint) = &s3.endpoint {
                    b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(id) = &s3.access_key_id {
                    b = b.with_access_key_id(id);
                }
                if let Some(secret) = &s3.secret_access_key {
                    b = b.with_secret_access_key(secret.expose());
                }
                let s3 = Arc::new(b.build().map_err(|e| MediaError::Setup(e.to_string()))?);
                Ok(MediaStore { inner: s3.clone(), signer: Some(s3), kind: "s3", part_size })
            }
        }
    }

    /// `local` or `s3`, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Whether `presign` works (S3-compatible stores).
    pub fn can_presign(&self) -> bool {
        self.signer.is_some()
    }

    /// Streams `body` into `key`, refusing more than `max_bytes`. On any error the upload is
    /// aborted and nothing appears under `key`.
    pub async fn put_stream<S, E>(
        &self,
        key: &ObjectKey,
        mut body: S,
        max_bytes: u64,
    ) -> Result<StoredObject, MediaError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let upload = self.inner.put_multipart(key.path()).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let copied = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| MediaError::Source(e.to_string()))?;
                size += chunk.len() as u64;
                if size > max_bytes {
                    return Err(MediaError::TooLarge { limit: max_bytes });
                }
                hasher.update(&chunk);
                writer.wait_for_capacity(IN_FLIGHT).await?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        match copied {
            Ok(()) => {
                writer.finish().await?;
                let sha256 = hex::encode(hasher.finalize());
                Ok(StoredObject { key: key.clone(), size, sha256 })
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(key = %key, error = %abort, "could not abort an upload");
                }
                Err(e)
            }
        }
    }

    /// Copies a local file into `key`.
    pub async fn put_file(
        &self,
        key: &ObjectKey,
        file: &FsPath,
        max_bytes: u64,
    ) -> Result<StoredObject, MediaError> {
        let io = |error| MediaError::Io { path: file.display().to_string(), error };
        let f = tokio::fs::File::open(file).await.map_err(io)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024);
        self.put_stream(key, stream, max_bytes).await
    }

    /// Writes a small object in one request.
    pub async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), MediaError> {
        self.inner.put(key.path(), bytes.into()).await?;
        Ok(())
    }

    /// The whole of a small object, `None` when it is absent; larger than `max_bytes` is an
    /// error (so a wrong key cannot make vidgate read a video into memory).
    pub async fn read_small(
        &self,
        key: &ObjectKey,
        max_bytes: u64,
    ) -> Result<Option<Bytes>, MediaError> {
        match self.inner.get(key.path()).await {
            Ok(got) if got.meta.size > max_bytes => Err(MediaError::TooLarge { limit: max_bytes }),
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens `key` for reading `range` (all of it with `None`); `None` when absent.
    pub async fn open_read(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<Option<ObjectRead>, MediaError> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..Default::default() };
        match self.inner.get_opts(key.path(), options).await {
            Ok(got) => {
                let (size, range) = (got.meta.size, got.range.clone());
                let body = got.into_stream().map(|r| r.map_err(MediaError::from)).boxed();
                Ok(Some(ObjectRead { size, range, body }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's size, `None` when absent.
    pub async fn size_of(&self, key: &ObjectKey) -> Result<Option<u64>, MediaError> {
        match self.inner.head(key.path()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes `key`; an absent key is not an error (deletes repeat after crashes).
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), MediaError> {
        match self.inner.delete(key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A URL that reads `key` directly from the object store for `ttl`.
    pub async fn presign(&self, key: &ObjectKey, ttl: Duration) -> Result<url::Url, MediaError> {
        let signer = self.signer.as_ref().ok_or(MediaError::NoPresign)?;
        Ok(signer.signed_url(Method::GET, key.path(), ttl).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidgate_domain::RequestId;
    use vidgate_domain::Variant;

    fn local() -> (tempfile::TempDir, MediaStore) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            MediaStore::open(&StoreSettings::Local { dir: dir.path().join("m") }, 5 << 20).unwrap();
        (dir, store)
    }

    fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let parts: Vec<Result<Bytes, String>> =
            data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(parts)
    }

    #[tokio::test]
    async fn a_streamed_file_reads_back_whole_and_in_ranges() {
        let (_dir, store) = local();
        let key = ObjectKey::output("k", RequestId::new(), Variant::VIDEO);
        let data: Vec<u8> = (0..12_000_000u32).map(|i| (i % 251) as u8).collect();
        let stored = store.put_stream(&key, chunks(&data, 100_000), 1 << 30).await.unwrap();
        assert_eq!(stored.size, data.len() as u64);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&data)));
        let read = store.open_read(&key, Some(10..20)).await.unwrap().unwrap();
        assert_eq!((read.size, read.range.clone()), (data.len() as u64, 10..20));
        let got: Vec<Bytes> = read.body.map(|b| b.unwrap()).collect().await;
        assert_eq!(got.concat(), data[10..20]);
        assert_eq!(store.size_of(&key).await.unwrap(), Some(data.len() as u64));
        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert!(store.open_read(&key, None).await.unwrap().is_none());
        assert!(store.presign(&key, Duration::from_secs(1)).await.is_err());
    }

    #[tokio::test]
    async fn a_copy_over_the_cap_or_failing_midway_leaves_nothing() {
        let (_dir, store) = local();
        let key = ObjectKey::output("k", RequestId::new(), Variant::VIDEO);
        let big = vec![7u8; 300_000];
        let err = store.put_stream(&key, chunks(&big, 10_000), 200_000).await.unwrap_err();
        assert!(matches!(err, MediaError::TooLarge { limit: 200_000 }), "{err}");
        assert_eq!(store.size_of(&key).await.unwrap(), None);
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"part")),
            Err("connection reset".to_owned()),
        ]);
        let err = store.put_stream(&key, failing, 1 << 20).await.unwrap_err();
        assert_eq!(err.to_string(), "reading the source failed: connection reset");
        assert_eq!(store.size_of(&key).await.unwrap(), None);
    }
}
