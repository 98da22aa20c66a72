//! The one place the store's change feed turns into action in a process: worker wake-ups and
//! task-change notices for status streams and the status cache. Nothing else rings a worker
//! or announces a change: every transition is a store write, and every store write that
//! changes something emits its events (see `StoreEvent`), on SQLite and PostgreSQL alike.

use std::sync::Arc;

use tokio::sync::{Notify, broadcast};
use vidgate_domain::RequestId;

use crate::StoreEvent;

/// What a status follower learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChange {
    /// This task changed state or progress.
    One(RequestId),
    /// Any task may have changed (events were missed): drop what you know.
    All,
}

/// Subscribers may fall this far behind before they are told `All` instead.
const CAPACITY: usize = 1024;

pub struct Changes {
    /// A task was queued or a slot freed.
    pub dispatcher: Arc<Notify>,
    /// A task started running or needs attention.
    pub poller: Arc<Notify>,
    /// A webhook delivery may be due.
    pub webhooks: Arc<Notify>,
    /// The operator's model catalog changed.
    pub catalog: Arc<Notify>,
    tasks: broadcast::Sender<TaskChange>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            dispatcher: Arc::default(),
            poller: Arc::default(),
            webhooks: Arc::default(),
            catalog: Arc::default(),
            tasks: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Changes {
    /// Acts on one event of the store's change feed.
    pub fn apply(&self, event: StoreEvent) {
        match event {
            StoreEvent::Dispatch => self.dispatcher.notify_waiters(),
            StoreEvent::Poll => self.poller.notify_waiters(),
            StoreEvent::Webhook => self.webhooks.notify_waiters(),
            StoreEvent::Catalog => self.catalog.notify_waiters(),
            StoreEvent::Task(id) => {
                // Nobody following is fine.
                let _ = self.tasks.send(TaskChange::One(id));
            }
            StoreEvent::Resync => {
                self.dispatcher.notify_waiters();
                self.poller.notify_waiters();
                self.webhooks.notify_waiters();
                self.catalog.notify_waiters();
                let _ = self.tasks.send(TaskChange::All);
            }
        }
    }

    /// Task changes from now on. A receiver that lags gets `RecvError::Lagged`: treat it as
    /// `TaskChange::All`.
    pub fn follow(&self) -> broadcast::Receiver<TaskChange> {
        self.tasks.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_their_followers_and_resync_reaches_all() {
        let changes = Changes::default();
        let mut follower = changes.follow();
        let id = RequestId::new();
        changes.apply(StoreEvent::Task(id));
        changes.apply(StoreEvent::Resync);
        assert_eq!(follower.recv().await.ok(), Some(TaskChange::One(id)));
        assert_eq!(follower.recv().await.ok(), Some(TaskChange::All));
        let woken = changes.webhooks.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        changes.apply(StoreEvent::Webhook);
        tokio::time::timeout(std::time::Duration::from_secs(1), woken).await.expect("woken");
    }
}
