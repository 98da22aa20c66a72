//! Scratch directories renders are written in before they go into the media store. Each
//! render's own directory is deleted when it ends; one a crash left behind goes once it is
//! older than any render takes.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// A scratch directory older than this belongs to a render that died.
const STALE: Duration = Duration::from_secs(3600);

/// Removes stale scratch directories (named `<request id>.<random>`); returns how many.
pub fn sweep(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let ours = entry.file_name().to_str().is_some_and(|n| {
            n.split_once('.').is_some_and(|(id, _)| id.parse::<vidgate_domain::RequestId>().is_ok())
        });
        let stale = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|m| m.checked_add(STALE))
            .is_some_and(|end| end <= now);
        if ours && stale && fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
