//! Cleaning rendered media once its retention is over (the result's `expires_at` says when:
//! the video's write time plus the retention), and half files a crash left behind.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use vidgate_domain::RequestId;

use super::VIDEO_FILE;

/// A `.partial` file older than this belongs to a render that died.
const STALE_PARTIAL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Request directories removed because their retention ended.
    pub expired: u64,
    /// Abandoned temporary files removed.
    pub partials: u64,
}

fn older_than(meta: &fs::Metadata, age: Duration, now: SystemTime) -> bool {
    meta.modified().ok().and_then(|m| m.checked_add(age)).is_some_and(|end| end <= now)
}

/// Sweeps `media_dir` as of `now`. A zero retention keeps videos forever. Only directories
/// named like request ids (`<id>` or `<id>.<token>`) are touched, so a misconfigured media directory loses nothing else.
pub fn sweep(media_dir: &Path, retention: Duration, now: SystemTime) -> SweepReport {
    let mut report = SweepReport::default();
    let Ok(entries) = fs::read_dir(media_dir) else { return report };
    for entry in entries.flatten() {
        let dir = entry.path();
        let named_like_a_request = entry.file_name().to_str().is_some_and(|n| {
            n.split_once('.').map_or(n, |(id, _)| id).parse::<RequestId>().is_ok()
        });
        if !named_like_a_request || !dir.is_dir() {
            continue;
        }
        match fs::metadata(dir.join(VIDEO_FILE)) {
            Ok(video) => {
                if !retention.is_zero() && older_than(&video, retention, now) {
                    match fs::remove_dir_all(&dir) {
                        Ok(()) => report.expired += 1,
                        Err(e) => {
                            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove expired media")
                        }
                    }
                    continue;
                }
            }
            Err(_) => {
                // No video: a render in progress, or one that died. Only old partials go.
                let Ok(files) = fs::read_dir(&dir) else { continue };
                for file in files.flatten() {
                    let stale = file.file_name().to_str().is_some_and(|n| n.ends_with(".partial"))
                        && file.metadata().is_ok_and(|m| older_than(&m, STALE_PARTIAL, now));
                    if stale && fs::remove_file(file.path()).is_ok() {
                        report.partials += 1;
                    }
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_videos_and_stale_partials_go_and_nothing_else() {
        let media = tempfile::tempdir().unwrap();
        let (done, busy) = (RequestId::new(), RequestId::new());
        let done_dir = media.path().join(done.to_string());
        let busy_dir = media.path().join(busy.to_string());
        fs::create_dir_all(&done_dir).unwrap();
        fs::create_dir_all(&busy_dir).unwrap();
        fs::write(done_dir.join(VIDEO_FILE), b"mp4").unwrap();
        fs::write(done_dir.join("cover.jpg"), b"jpg").unwrap();
        fs::write(busy_dir.join(".video.mp4.1.x.partial"), b"half").unwrap();
        fs::create_dir_all(media.path().join("not-a-request")).unwrap();
        fs::write(media.path().join("not-a-request").join(VIDEO_FILE), b"keep").unwrap();

        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        assert_eq!(sweep(media.path(), day, now), SweepReport::default());
        assert_eq!(
            sweep(media.path(), Duration::ZERO, now + 2 * day),
            SweepReport { expired: 0, partials: 1 }
        );
        assert!(done_dir.exists(), "zero retention keeps videos");
        assert_eq!(
            sweep(media.path(), day, now + 2 * day),
            SweepReport { expired: 1, partials: 0 }
        );
        assert!(!done_dir.exists());
        assert!(busy_dir.exists() && media.path().join("not-a-request").join(VIDEO_FILE).exists());
        assert_eq!(sweep(&media.path().join("missing"), day, now), SweepReport::default());
    }
}
