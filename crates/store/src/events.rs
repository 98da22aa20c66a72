//! The store's change feed: what a committed write changed, told to every worker of every
//! process sharing the store (there is queued work, a running task to look at, a task
//! changed, a webhook may be due). Payloads are short strings (PostgreSQL NOTIFY).

use std::pin::Pin;

use futures::Stream;
use vidgate_domain::RequestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEvent {
    /// A task was queued or a slot freed: dispatchers should look.
    Dispatch,
    /// A task started running or needs attention: pollers should look.
    Poll,
    /// This task changed state or progress.
    Task(RequestId),
    /// A webhook delivery may be due (a task ended, a redelivery was asked for).
    Webhook,
    /// The operator's model catalog changed: every replica reloads it.
    Catalog,
    /// Events may have been missed (a lost connection, a slow subscriber): look at everything.
    Resync,
}

impl StoreEvent {
    pub fn payload(&self) -> String {
        match self {
            StoreEvent::Dispatch => "dispatch".into(),
            StoreEvent::Poll => "poll".into(),
            StoreEvent::Task(id) => format!("task:{id}"),
            StoreEvent::Webhook => "webhook".into(),
            StoreEvent::Catalog => "catalog".into(),
            StoreEvent::Resync => "resync".into(),
        }
    }

    pub fn parse(payload: &str) -> Option<StoreEvent> {
        match payload {
            "dispatch" => Some(StoreEvent::Dispatch),
            "poll" => Some(StoreEvent::Poll),
            "webhook" => Some(StoreEvent::Webhook),
            "catalog" => Some(StoreEvent::Catalog),
            "resync" => Some(StoreEvent::Resync),
            p => p.strip_prefix("task:").and_then(|id| id.parse().ok()).map(StoreEvent::Task),
        }
    }
}

pub type StoreEvents = Pin<Box<dyn Stream<Item = StoreEvent> + Send>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_payload() {
        for e in [
            StoreEvent::Dispatch,
            StoreEvent::Poll,
            StoreEvent::Task(RequestId::new()),
            StoreEvent::Webhook,
            StoreEvent::Catalog,
            StoreEvent::Resync,
        ] {
            assert_eq!(StoreEvent::parse(&e.payload()), Some(e));
        }
        assert_eq!(StoreEvent::parse("task:garbage"), None);
        assert_eq!(StoreEvent::parse(""), None);
    }
}
