//! What can go wrong with media, each as a sentence an operator (or, for a source that is too
//! large, a caller) can act on. Object-store errors name paths, never credentials.

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media store: {0}")]
    Store(#[from] object_store::Error),
    #[error("the file is larger than the {limit}-byte cap (media.max_bytes)")]
    TooLarge { limit: u64 },
    #[error("reading the source failed: {0}")]
    Source(String),
    #[error("cannot open the media store: {0}")]
    Setup(String),
    #[error("media file {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("this media store cannot presign URLs (only S3-compatible stores can)")]
    NoPresign,
}
