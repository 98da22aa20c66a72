//! How to reach the media store, as the configuration gives it.

use std::path::PathBuf;

use vidgate_domain::Secret;

#[derive(Debug, Clone)]
pub enum StoreSettings {
    /// Files under a directory on this machine (replicas need it shared).
    Local { dir: PathBuf },
    /// An S3-compatible bucket (AWS S3, MinIO, Ceph, Cloudflare R2, …).
    S3(S3Settings),
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `http(s)://host:port` for a store other than AWS (MinIO, R2, …); `None`: AWS S3.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    /// `None`: from the environment (`AWS_ACCESS_KEY_ID`, instance credentials).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO and most self-hosted
    /// stores want path style).
    pub path_style: bool,
}
