//! Where vidgate keeps video files. One `MediaStore` over a local directory (the embedded
//! default) or S3-compatible object storage, both through `object_store`: the sandbox writes
//! its renders into it, the mirror step copies upstream outputs into it, and the content route
//! serves from it (or redirects to a presigned URL). This crate also owns the object layout
//! (`layout`). Nothing else in vidgate touches media files.

mod error;
pub mod layout;
mod settings;
mod store;

pub use error::MediaError;
pub use layout::ObjectKey;
pub use settings::{S3Settings, StoreSettings};
pub use store::{MediaStore, ObjectRead, StoredObject};
