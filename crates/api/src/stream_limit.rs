//! Open status streams per key, so one key cannot hold every connection the process has: a
//! stream takes a slot when it opens and gives it back when it ends (the guard's drop).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ApiError;

#[derive(Default)]
pub struct OpenStreams {
    per_key: Mutex<HashMap<String, usize>>,
}

/// One open stream's slot; dropping it frees the slot.
pub struct StreamSlot {
    owner: Arc<OpenStreams>,
    key_id: String,
}

impl OpenStreams {
    /// A slot for a new stream of `key_id`, or 429 when it has `max` open (0: no limit).
    pub fn open(self: &Arc<Self>, key_id: &str, max: usize) -> Result<StreamSlot, ApiError> {
        let mut per_key = self.per_key.lock().unwrap_or_else(|e| e.into_inner());
        let open = per_key.entry(key_id.to_owned()).or_insert(0);
        if max > 0 && *open >= max {
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "this key has {max} status streams open, the most it may; close one or poll the status route"
                ),
                code: crate::ErrorCode::TooManyStreams,
                retry_after: 5,
            });
        }
        *open += 1;
        Ok(StreamSlot { owner: self.clone(), key_id: key_id.to_owned() })
    }

    pub fn open_for(&self, key_id: &str) -> usize {
        self.per_key.lock().unwrap_or_else(|e| e.into_inner()).get(key_id).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut per_key = self.owner.per_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_key.get_mut(&self.key_id) {
            *n -= 1;
            if *n == 0 {
                per_key.remove(&self.key_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_key_and_freed_on_drop() {
        let streams = Arc::new(OpenStreams::default());
        let a1 = streams.open("a", 2).unwrap();
        let _a2 = streams.open("a", 2).unwrap();
        assert!(streams.open("a", 2).is_err());
        let _b = streams.open("b", 2).unwrap();
        drop(a1);
        assert_eq!(streams.open_for("a"), 1);
        let _a3 = streams.open("a", 2).unwrap();
        let _many: Vec<_> = (0..100).map(|_| streams.open("c", 0).unwrap()).collect();
    }
}
