//! Status polls are most of a queue gateway's traffic, and most of them find nothing new. This
//! cache answers them from memory: an entry is a task as last read (with its queue position),
//! dropped the moment the change bus says the task changed. A queued task's position also
//! moves when others change, so queued entries are valid only until any task changes. Every
//! entry also expires after a short real-time TTL, which bounds staleness from changes no one
//! announces (another replica's reaper). A read that raced an invalidation is not cached.
//! An entry also keeps its last answer as sent (JSON bytes): a poll that finds nothing new
//! repeats it byte for byte instead of serializing it again, the largest part of a poll.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use tokio::sync::broadcast;
use vidgate_domain::{RequestId, TaskState};
use vidgate_store::{TaskChange, TaskRecord};

/// Longest an entry is trusted without an event.
const TTL: Duration = Duration::from_secs(1);
/// Entries kept before stale ones are swept out (and, if most are fresh, the cache starts
/// over). An entry with its answer is a few KB (the task with its request, and the answer),
/// so the bound keeps the cache to a few hundred MB even when 50,000 requests are polled
/// within one TTL.
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    /// Shared with the callers it answers: a hit costs a reference count, not a deep copy.
    task: Arc<TaskRecord>,
    position: Option<i64>,
    at: Instant,
    /// `queue_epoch` when read: a queued entry is stale once any task changed.
    queue_epoch: u64,
    /// The status answer last made from this entry.
    answer: Option<Arc<Answer>>,
}

/// A status answer as sent, and what it was made for besides the entry: the base URL its
/// links start with, and the key hash and expiry its stream token was signed with. No
/// `Debug`: the body holds a stream token and `key_hash` signs them.
pub struct Answer {
    pub base: String,
    pub key_hash: String,
    /// The stream token's expiry step (`stream_tokens::expiry_for`); 0 when it has none.
    pub token_expiry: i64,
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// Whether this answer is the one to send for these. (`get` already gave the entry to
    /// its key only; the key hash is checked too because it signs the stream token.)
    pub fn serves(&self, base: &str, key_hash: &str, token_expiry: i64) -> bool {
        self.token_expiry == token_expiry && self.base == base && self.key_hash == key_hash
    }
}

/// What a status poll's answer depends on besides the task: the key asking (its hash signs
/// the stream token), the base URL its links start with, and the stream token's step.
pub struct Poll<'a> {
    pub key_id: &'a vidgate_domain::KeyId,
    pub key_hash: &'a str,
    pub base: &'a str,
    /// `stream_tokens::expiry_for(now)`, or 0 for a finished request (no token).
    pub token_expiry: i64,
}

/// A fresh entry: the task, its queue position, and its last answer if one was kept.
pub struct Hit {
    pub task: Arc<TaskRecord>,
    pub position: Option<i64>,
    pub answer: Option<Arc<Answer>>,
}

pub struct StatusCache {
    entries: Mutex<HashMap<RequestId, Entry>>,
    /// How long an entry is trusted without an event (`TTL`; tests that must not depend on
    /// the machine's speed use a longer one).
    ttl: Duration,
    /// Bumped by every change: reads that started before it may not be cached.
    epoch: AtomicU64,
    /// Polls answered with a kept answer: how an operator (or a test) sees it working.
    repeats: AtomicU64,
}

impl Default for StatusCache {
    fn default() -> Self {
        StatusCache {
            entries: Mutex::default(),
            ttl: TTL,
            epoch: AtomicU64::default(),
            repeats: AtomicU64::default(),
        }
    }
}

/// Taken before reading the store; `put` caches the read only if nothing changed since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl StatusCache {
    /// Starts following the change bus (on the current runtime) for as long as it is open.
    pub fn follow(self: &Arc<Self>, mut changes: broadcast::Receiver<TaskChange>) {
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let got = changes.recv().await;
                let Some(cache) = cache.upgrade() else { return };
                match got {
                    Ok(TaskChange::All) => cache.clear(),
                    Ok(TaskChange::One(id)) => cache.invalidate(id),
                    Err(broadcast::error::RecvError::Lagged(_)) => cache.clear(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::Acquire))
    }

    /// The cached task of `key_id` with id `id`, if fresh.
    pub fn get(&self, key_id: &str, id: RequestId) -> Option<Hit> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(&id)?;
        let fresh = e.at.elapsed() < self.ttl
            && e.task.key_id == key_id
            && (e.task.state() != TaskState::Queued || e.queue_epoch == epoch);
        fresh.then(|| Hit { task: e.task.clone(), position: e.position, answer: e.answer.clone() })
    }

    /// The task of `key_id` with id `id` and its queue position: the cached entry if fresh,
    /// else read from the store (and cached, unless a change raced the read). `None`: no such
    /// request for this key.
    pub async fn task(
        &self,
        store: &dyn vidgate_store::Store,
        key_id: &vidgate_domain::KeyId,
        id: RequestId,
    ) -> Result<Option<Hit>, vidgate_store::StoreError> {
        if let Some(hit) = self.get(key_id, id) {
            return Ok(Some(hit));
        }
        let ticket = self.ticket();
        let Some((task, position)) = store.task_status(key_id, id).await? else { return Ok(None) };
        let task = Arc::new(task);
        self.put(ticket, &task, position);
        Ok(Some(Hit { task, position, answer: None }))
    }

    /// A status poll's answer, from the cheapest tier that has it: the entry's kept answer
    /// (the same bytes, when it was made for this poll's base URL, key and token step), else
    /// one `build` makes from the cached or freshly read task, which is kept for the next
    /// poll. `None`: no such request for this key.
    pub async fn answer<E: From<vidgate_store::StoreError>>(
        &self,
        store: &dyn vidgate_store::Store,
        id: RequestId,
        poll: Poll<'_>,
        build: impl FnOnce(&TaskRecord, Option<i64>) -> Result<(StatusCode, Bytes), E>,
    ) -> Result<Option<(StatusCode, Bytes)>, E> {
        let Some(Hit { task, position, answer }) = self.task(store, poll.key_id, id).await? else {
            return Ok(None);
        };
        // A finished request's answer carries no stream token.
        let token_expiry = if task.state().is_terminal() { 0 } else { poll.token_expiry };
        if let Some(kept) = answer.filter(|a| a.serves(poll.base, poll.key_hash, token_expiry)) {
            self.repeats.fetch_add(1, Ordering::Relaxed);
            return Ok(Some((kept.status, kept.body.clone())));
        }
        let (status, body) = build(&task, position)?;
        let kept = Answer {
            base: poll.base.to_owned(),
            key_hash: poll.key_hash.to_owned(),
            token_expiry,
            status,
            body: body.clone(),
        };
        self.keep_answer(&task, kept);
        Ok(Some((status, body)))
    }

    /// Polls answered with a kept answer since start.
    pub fn repeats(&self) -> u64 {
        self.repeats.load(Ordering::Relaxed)
    }

    /// Keeps `answer` as the last one made from `task`'s entry, if the entry still holds that
    /// very read (a newer one must not carry an answer made from an older). One answer per
    /// entry: a poll through another base URL replaces it. (`ptr_eq` cannot be fooled by a
    /// reused address: the caller holds `task`.)
    pub fn keep_answer(&self, task: &Arc<TaskRecord>, answer: Answer) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.get_mut(&task.id)
            && Arc::ptr_eq(&e.task, task)
        {
            e.answer = Some(Arc::new(answer));
        }
    }

    pub fn put(&self, ticket: Ticket, task: &Arc<TaskRecord>, position: Option<i64>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock: invalidations bump the epoch while holding it.
        if self.epoch.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            // Entries that can never be served again go; if most are still fresh, all go:
            // a sweep that frees little would come round again a few puts later, each time
            // walking every entry under the lock every poll takes.
            let epoch = ticket.0;
            entries.retain(|_, e| {
                e.at.elapsed() < self.ttl
                    && (e.task.state() != TaskState::Queued || e.queue_epoch == epoch)
            });
            if entries.len() > MAX_ENTRIES * 3 / 4 {
                entries.clear();
            }
        }
        let entry = Entry {
            task: task.clone(),
            position,
            at: Instant::now(),
            queue_epoch: ticket.0,
            answer: None,
        };
        entries.insert(task.id, entry);
    }

    fn invalidate(&self, id: RequestId) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(&id);
    }

    fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queued task, or a running one.
    fn task(state: TaskState) -> Arc<TaskRecord> {
        let mut task = vidgate_store::contract::new_task("k", 0, 0).record(1);
        if state == TaskState::Running {
            let job = vidgate_store::UpstreamJob { upstream_task_id: "up".into(), submitted_at: 0 };
            task.phase = vidgate_store::Phase::Running { job, next_poll_at: 0, lease: None };
        }
        assert_eq!(task.state(), state);
        Arc::new(task)
    }

    #[test]
    fn entries_serve_their_owner_until_a_change() {
        let cache = StatusCache::default();
        let (running, queued) = (task(TaskState::Running), task(TaskState::Queued));
        let t = cache.ticket();
        cache.put(t, &running, None);
        cache.put(t, &queued, Some(3));
        assert!(cache.get("k", running.id).is_some());
        assert_eq!(cache.get("k", queued.id).map(|h| h.position), Some(Some(3)));
        assert!(cache.get("someone-else", running.id).is_none(), "only the owner's key");
        // Another task changes: the running entry stays, the queued one (position) goes.
        cache.invalidate(RequestId::new());
        assert!(cache.get("k", running.id).is_some());
        assert!(cache.get("k", queued.id).is_none());
        cache.invalidate(running.id);
        assert!(cache.get("k", running.id).is_none());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_cached() {
        let cache = StatusCache::default();
        let t = task(TaskState::Running);
        let ticket = cache.ticket();
        cache.invalidate(t.id); // the change lands while the read is in flight
        cache.put(ticket, &t, None);
        assert!(cache.get("k", t.id).is_none());
        cache.put(cache.ticket(), &t, None);
        assert!(cache.get("k", t.id).is_some());
        cache.clear();
        assert!(cache.get("k", t.id).is_none());
    }

    fn answer(base: &str) -> Answer {
        Answer {
            base: base.into(),
            key_hash: "h".into(),
            token_expiry: 7,
            status: StatusCode::ACCEPTED,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn an_answer_stays_with_the_read_it_was_made_from() {
        let cache = StatusCache::default();
        let t = task(TaskState::Running);
        cache.put(cache.ticket(), &t, None);
        cache.keep_answer(&t, answer("http://a"));
        let kept = cache.get("k", t.id).and_then(|h| h.answer).expect("kept with its entry");
        assert!(kept.serves("http://a", "h", 7));
        assert!(!kept.serves("http://b", "h", 7), "another base URL");
        assert!(!kept.serves("http://a", "other", 7), "another key hash");
        assert!(!kept.serves("http://a", "h", 8), "the next token step");

        // A newer read of the same task replaces the entry: its answer starts empty, and an
        // answer made from the older read is not attached to it.
        let newer = Arc::new((*t).clone());
        cache.put(cache.ticket(), &newer, None);
        assert!(cache.get("k", t.id).and_then(|h| h.answer).is_none());
        cache.keep_answer(&t, answer("http://a"));
        assert!(cache.get("k", t.id).and_then(|h| h.answer).is_none());
        cache.keep_answer(&newer, answer("http://a"));
        assert!(cache.get("k", t.id).and_then(|h| h.answer).is_some());
        cache.invalidate(t.id);
        assert!(cache.get("k", t.id).is_none(), "a change drops the answer with its entry");
    }

    #[test]
    fn a_full_cache_sweeps_what_it_can_no_longer_serve_and_starts_over_if_that_frees_little() {
        // Filling the cache twice takes longer than the real TTL on a loaded machine; entries
        // must stay fresh for "all fresh" to mean anything.
        let cache = StatusCache { ttl: Duration::from_secs(600), ..StatusCache::default() };
        let len = || cache.entries.lock().expect("no test panics holding the lock").len();
        let t = cache.ticket();
        let running: Vec<_> = (0..MAX_ENTRIES / 2).map(|_| task(TaskState::Running)).collect();
        for r in &running {
            cache.put(t, r, None);
        }
        for _ in 0..MAX_ENTRIES / 2 {
            cache.put(t, &task(TaskState::Queued), Some(1));
        }
        assert_eq!(len(), MAX_ENTRIES);
        cache.invalidate(RequestId::new()); // every queued entry's position is stale now
        cache.put(cache.ticket(), &task(TaskState::Running), None);
        assert_eq!(len(), MAX_ENTRIES / 2 + 1, "the stale queued entries went, the rest stayed");
        assert!(cache.get("k", running[0].id).is_some());

        let t = cache.ticket();
        while len() < MAX_ENTRIES {
            cache.put(t, &task(TaskState::Running), None);
        }
        cache.put(t, &task(TaskState::Running), None);
        assert_eq!(len(), 1, "all fresh: a sweep would free nothing, so it started over");
    }
}
