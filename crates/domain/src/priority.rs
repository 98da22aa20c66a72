//! Queue priority. Dispatch order is `rank` descending, then arrival. The caller's
//! `tasks_priority` (−10..10) orders requests within the normal lane; fal's
//! `X-Fal-Queue-Priority: low` puts a request in a lane below every normal one.

/// fal's queue lane, from the `X-Fal-Queue-Priority` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueuePriority {
    #[default]
    Normal,
    Low,
}

impl QueuePriority {
    /// Parses the header value; fal documents exactly `normal` and `low`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "normal" => Some(QueuePriority::Normal),
            "low" => Some(QueuePriority::Low),
            _ => None,
        }
    }

    /// The lane's name in request fingerprints (`Idempotency-Key`): fixed strings, so that a
    /// stored fingerprint never changes when the type is renamed or its `Debug` changes.
    pub fn fingerprint_name(self) -> &'static str {
        match self {
            QueuePriority::Normal => "Normal",
            QueuePriority::Low => "Low",
        }
    }
}

/// Offset that keeps every low-lane rank below every normal-lane rank (ranks span −10..10).
const LOW_LANE_OFFSET: i64 = 100;

/// The single integer the queue sorts on.
pub fn rank(lane: QueuePriority, tasks_priority: i64) -> i64 {
    match lane {
        QueuePriority::Normal => tasks_priority,
        QueuePriority::Low => tasks_priority - LOW_LANE_OFFSET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_lane_ranks_below_every_normal_priority() {
        for low in -10..=10 {
            for normal in -10..=10 {
                assert!(rank(QueuePriority::Low, low) < rank(QueuePriority::Normal, normal));
            }
        }
    }

    #[test]
    fn higher_tasks_priority_ranks_higher_within_a_lane() {
        assert!(rank(QueuePriority::Normal, 10) > rank(QueuePriority::Normal, 0));
        assert!(rank(QueuePriority::Low, 1) > rank(QueuePriority::Low, -1));
    }

    #[test]
    fn the_header_accepts_the_two_documented_values_only() {
        assert_eq!(QueuePriority::parse("low"), Some(QueuePriority::Low));
        assert_eq!(QueuePriority::parse(" Normal "), Some(QueuePriority::Normal));
        assert_eq!(QueuePriority::parse("high"), None);
    }
}
