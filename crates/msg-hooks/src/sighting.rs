//! [`Fingerprint`]: whether a file changed since it was last read, without reading it.
//!
//! The watcher keeps the fingerprints of the files it read in its seen state, the relay
//! client polls the outbox's, and [`Context`](crate::Context) takes the settings file's
//! before reading it.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How long after its last change a file's fingerprint is trusted to reveal the next change.
/// File systems keep modification times with a granularity of a clock tick (ext4: a few
/// milliseconds) up to two seconds (FAT); a change within the same tick as the fingerprint
/// would leave it unchanged (git's "racy clean" problem), so a file changed less than this
/// long before it was looked at is always read again.
const RACY_MARGIN: Duration = Duration::from_secs(2);

/// The identity and last change of a file: device, inode, size, and modification and status
/// change times in nanoseconds, plus when we looked. Any write changes the status change time
/// (which no program can set back) and a replacement changes the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    /// When the fingerprint was taken.
    seen_ns: i64,
}

impl Fingerprint {
    /// The fingerprint of `path` now; `None` when it does not exist (or cannot be examined,
    /// in which case reading it will say why).
    pub(crate) fn of(path: &Path) -> Option<Fingerprint> {
        let meta = std::fs::metadata(path).ok()?;
        let seen_ns = nanos(SystemTime::now());
        Some(Fingerprint::from_metadata(&meta, seen_ns))
    }

    #[cfg(unix)]
    fn from_metadata(meta: &std::fs::Metadata, seen_ns: i64) -> Fingerprint {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nsecs: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsecs);
        Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            seen_ns,
        }
    }

    #[cfg(not(unix))]
    fn from_metadata(meta: &std::fs::Metadata, seen_ns: i64) -> Fingerprint {
        let modified = meta.modified().map(nanos).unwrap_or(seen_ns);
        Fingerprint {
            dev: 0,
            ino: 0,
            len: meta.len(),
            mtime_ns: modified,
            ctime_ns: modified,
            seen_ns,
        }
    }

    /// Whether the file `now` is the one fingerprinted `before`, unchanged since: same
    /// identity, size and times, and `before` was taken long enough after the file's last
    /// change that a later change could not have kept its times ([`RACY_MARGIN`]).
    pub(crate) fn unchanged(before: Option<&Fingerprint>, now: Option<&Fingerprint>) -> bool {
        match (before, now) {
            (None, None) => true,
            (Some(before), Some(now)) => {
                let last_change = before.mtime_ns.max(before.ctime_ns);
                let settled =
                    before.seen_ns.saturating_sub(last_change) >= RACY_MARGIN.as_nanos() as i64;
                settled
                    && (
                        before.dev,
                        before.ino,
                        before.len,
                        before.mtime_ns,
                        before.ctime_ns,
                    ) == (now.dev, now.ino, now.len, now.mtime_ns, now.ctime_ns)
            }
            _ => false,
        }
    }
}

fn nanos(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(len: u64, mtime_s: i64, seen_s: i64) -> Fingerprint {
        Fingerprint {
            dev: 1,
            ino: 2,
            len,
            mtime_ns: mtime_s * 1_000_000_000,
            ctime_ns: mtime_s * 1_000_000_000,
            seen_ns: seen_s * 1_000_000_000,
        }
    }

    #[test]
    fn a_settled_unchanged_file_is_unchanged() {
        let before = print(10, 100, 105);
        assert!(Fingerprint::unchanged(
            Some(&before),
            Some(&print(10, 100, 200))
        ));
        assert!(Fingerprint::unchanged(None, None));
    }

    #[test]
    fn any_difference_or_a_recent_change_means_read_again() {
        let before = print(10, 100, 105);
        assert!(!Fingerprint::unchanged(
            Some(&before),
            Some(&print(11, 100, 200))
        ));
        assert!(!Fingerprint::unchanged(
            Some(&before),
            Some(&print(10, 101, 200))
        ));
        assert!(!Fingerprint::unchanged(Some(&before), None));
        assert!(!Fingerprint::unchanged(None, Some(&before)));
        let moved = Fingerprint {
            ino: 3,
            ..print(10, 100, 200)
        };
        assert!(!Fingerprint::unchanged(Some(&before), Some(&moved)));
        let touched = Fingerprint {
            ctime_ns: 150 * 1_000_000_000,
            ..print(10, 100, 200)
        };
        assert!(!Fingerprint::unchanged(Some(&before), Some(&touched)));
        // Looked at one second after a change: a second change in the same tick could keep
        // every field, so the file is read again.
        let racy = print(10, 100, 101);
        assert!(!Fingerprint::unchanged(
            Some(&racy),
            Some(&print(10, 100, 200))
        ));
    }

    #[test]
    fn a_real_file_changes_its_fingerprint_when_written() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("a.org");
        std::fs::write(&path, "one").unwrap();
        let first = Fingerprint::of(&path).unwrap();
        std::fs::write(&path, "two").unwrap();
        let second = Fingerprint::of(&path).unwrap();
        // Same size; the times may or may not differ within one tick, which is why the first
        // fingerprint is not trusted (it was taken right after a change).
        assert!(!Fingerprint::unchanged(Some(&first), Some(&second)));
        assert_eq!(Fingerprint::of(&dir.path().join("missing")), None);
    }
}
