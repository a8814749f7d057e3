//! What a file looked like when it was looked at: its identity (device, inode), size, and
//! modification and status change times.
//!
//! Any write to a file changes its status change time (ctime), which no program can set back
//! (`touch -d` sets the modification time only), and a replacement by rename changes its
//! inode. So two equal fingerprints mean an unchanged file, with one exception: file systems
//! keep these times at the granularity of a clock tick (Linux: a few milliseconds, FAT: two
//! seconds), so a change within the same tick as the last one can leave the fingerprint
//! unchanged (git's "racy clean" problem). A fingerprint whose last change is less than
//! [`RACY_MARGIN`] older than the moment it was taken is *racy*: only the bytes can tell
//! whether the file changed since ([`Fingerprint::settled`]).
//!
//! The org engine takes one when it reads a file under its lock, to notice an editor that
//! saves the file meanwhile; `inbox-watcher` keeps them across runs to skip files that did
//! not change.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How long after a file's last change its fingerprint is trusted to reveal the next change.
pub const RACY_MARGIN: Duration = Duration::from_secs(2);

/// Device, inode, size, and modification and status change times (nanoseconds since the
/// epoch) of a file. Serialises as those five fields, for state files that keep one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Fingerprint {
    /// The fingerprint of `path` now (following symlinks); `None` when it does not exist or
    /// cannot be examined (reading it will say why).
    pub fn of(path: &Path) -> Option<Fingerprint> {
        std::fs::metadata(path)
            .ok()
            .map(|meta| Fingerprint::of_metadata(&meta))
    }

    /// The fingerprint in `meta` (from `fs::metadata` or `File::metadata`).
    pub fn of_metadata(meta: &Metadata) -> Fingerprint {
        let ns = |secs: i64, nsecs: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsecs);
        Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `other` is the same file (device and inode), changed or not.
    pub fn same_file(&self, other: &Fingerprint) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }

    /// Whether `other` is the same file with the same size and modification time: what our
    /// own rename of it (which sets its status change time) leaves as it was, and what any
    /// write changes (unless the program sets the time back on purpose).
    pub fn same_data(&self, other: &Fingerprint) -> bool {
        (self.dev, self.ino, self.len, self.mtime_ns)
            == (other.dev, other.ino, other.len, other.mtime_ns)
    }

    /// The later of the modification and status change times, in nanoseconds since the
    /// epoch.
    pub fn last_change_ns(&self) -> i64 {
        self.mtime_ns.max(self.ctime_ns)
    }

    /// Whether this fingerprint, taken at `taken`, would reveal any later change: the file's
    /// last change was at least [`RACY_MARGIN`] before. When it was not, an equal
    /// fingerprint later does not prove the file unchanged; compare its bytes.
    pub fn settled(&self, taken: SystemTime) -> bool {
        nanos(taken).saturating_sub(self.last_change_ns()) >= RACY_MARGIN.as_nanos() as i64
    }
}

/// `time` in nanoseconds since the epoch (negative before it).
pub fn nanos(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_write_changes_the_fingerprint_and_recent_changes_are_racy() {
        let dir = std::env::temp_dir().join(format!("msg-core-print-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        assert_eq!(Fingerprint::of(&path), None);
        std::fs::write(&path, "one").unwrap();
        let first = Fingerprint::of(&path).unwrap();
        assert_eq!(first.len(), 3);
        assert!(!first.settled(SystemTime::now()), "just written: racy");
        assert!(first.settled(SystemTime::now() + RACY_MARGIN + Duration::from_millis(10)));
        std::fs::write(&path, "two!").unwrap();
        let second = Fingerprint::of(&path).unwrap();
        assert_ne!(first, second);
        assert!(first.same_file(&second), "written in place: same inode");
        let json = serde_json_like(&second);
        assert!(json.contains("ctime_ns"), "{json}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The field names state files rely on, without a JSON dependency in this crate.
    fn serde_json_like(print: &Fingerprint) -> String {
        serde_yaml::to_string(print).unwrap()
    }
}
