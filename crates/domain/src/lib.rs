//! vidgate's pure domain: what a video request is, which values each upstream model accepts,
//! how a task moves through its states, and how retries back off. No I/O lives here: no tokio,
//! no sqlx, no axum, no reqwest, so every rule is a plain function with table-driven tests.

pub mod clock;
pub mod dimensions;
pub mod error_type;
pub mod field_error;
pub mod ids;
pub mod models;
pub mod output;
pub mod pool;
pub mod pricing;
pub mod priority;
pub mod request;
pub mod retry;
pub mod secret;
pub mod task;
pub mod usage;
pub mod variant;

pub use clock::{Clock, ManualClock, Millis, SystemClock, parse_rfc3339, rfc3339};
pub use error_type::ErrorType;
pub use field_error::{FieldError, Loc};
pub use ids::{DeliveryId, KeyId, RequestId};
pub use output::{FileRef, OutputFile, StoredResult};
pub use pool::{BadPool, Pool};
pub use priority::QueuePriority;
pub use request::{ParseOptions, VideoRequest, parse_create_request};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use task::{PublicStatus, TaskState};
pub use usage::Usage;
pub use variant::{BadVariant, Variant};
