//! What pulled events said about finished jobs, kept until the next poll of each job: bounded
//! by count and by an estimate of bytes, oldest out first, and holding only what a poll
//! answers (the mapped status, with usage reduced to its numeric fields).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::PollStatus;

/// How long an event's answer is kept for the next poll before it is dropped unused.
const TTL: Duration = Duration::from_secs(600);
const MAX_ENTRIES: usize = 1024;
const MAX_BYTES: usize = 4 << 20;

#[derive(Default)]
pub struct EventCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_task: HashMap<String, (Instant, PollStatus, usize)>,
    /// Insertion order, for evicting the oldest (may name tasks already taken).
    order: VecDeque<String>,
    bytes: usize,
}

/// An estimate of what an entry holds: its strings (URLs dominate) and a fixed overhead.
fn size_of(task_id: &str, status: &PollStatus) -> usize {
    let strings = match status {
        PollStatus::Succeeded(out) => {
            out.files.iter().map(|f| format!("{f:?}").len()).sum::<usize>()
                + out.usage.as_ref().map_or(0, |_| std::mem::size_of::<vidgate_domain::Usage>())
        }
        PollStatus::Failed { code, message } => code.as_str().len() + message.len(),
        PollStatus::Waiting | PollStatus::Processing { .. } => 0,
    };
    2 * task_id.len() + strings + 128
}

impl EventCache {
    pub fn put(&self, task_id: String, status: PollStatus) {
        let size = size_of(&task_id, &status);
        if size > MAX_BYTES {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.remove(&task_id);
        while inner.by_task.len() >= MAX_ENTRIES || inner.bytes + size > MAX_BYTES {
            let Some(oldest) = inner.order.pop_front() else { break };
            inner.remove(&oldest);
        }
        inner.bytes += size;
        inner.order.push_back(task_id.clone());
        inner.by_task.insert(task_id, (Instant::now(), status, size));
    }

    pub fn take(&self, task_id: &str) -> Option<PollStatus> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (at, status, _) = inner.remove(task_id)?;
        (at.elapsed() < TTL).then_some(status)
    }

    #[cfg(test)]
    fn footprint(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap();
        (inner.by_task.len(), inner.bytes)
    }
}

impl Inner {
    fn remove(&mut self, task_id: &str) -> Option<(Instant, PollStatus, usize)> {
        let removed = self.by_task.remove(task_id)?;
        self.bytes -= removed.2;
        if self.order.len() > 2 * MAX_ENTRIES {
            let live = &self.by_task;
            self.order.retain(|id| live.contains_key(id));
        }
        Some(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidgate_domain::{FileRef, OutputFile};

    use crate::UpstreamOutput;

    fn big(url_len: usize) -> PollStatus {
        PollStatus::Succeeded(UpstreamOutput {
            files: vec![OutputFile::new(
                FileRef::external("x".repeat(url_len)),
                "video/mp4",
                "video.mp4",
            )],
            usage: None,
            stored: Vec::new(),
        })
    }

    #[test]
    fn the_cache_stays_within_its_count_and_bytes() {
        let cache = EventCache::default();
        for i in 0..5000 {
            cache.put(format!("t{i}"), big(100));
        }
        assert_eq!(cache.footprint().0, MAX_ENTRIES);
        for i in 0..200 {
            cache.put(format!("b{i}"), big(100_000));
        }
        let (n, bytes) = cache.footprint();
        assert!(bytes <= MAX_BYTES && n < MAX_ENTRIES, "{n} entries, {bytes} bytes");
        assert!(cache.take("b199").is_some(), "the newest stays");
        assert!(cache.take("t0").is_none(), "the oldest went");
        assert!(cache.take("b199").is_none(), "taken once");
        cache.put("huge".into(), big(MAX_BYTES + 1));
        assert!(cache.take("huge").is_none(), "larger than the whole cache: not kept");
    }
}
