//! What clients read, in one place for the API and the workers (which send webhooks on the
//! API's behalf): the result body of a succeeded request (`ResultBody`, `MediaFile`), the
//! content route its own files are served from and the signed URLs handed out for them
//! (`routes`, `token`), and the webhook payload. A stored result names files as `Own` or
//! `External` (`vidgate_domain::FileRef`); only this crate turns them into URLs.

mod result;
pub mod routes;
pub mod token;
mod webhook;

pub use result::{MediaFile, ResultBody};
pub use routes::{ContentUrls, ROUTE_BASE, Signing, content_path};
pub use webhook::{ErrorDetail, WebhookBody, WebhookPayload, WebhookStatus};
