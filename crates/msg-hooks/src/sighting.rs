//! [`Sighting`]: a file's [`Fingerprint`] and when it was taken, so that a later look can
//! tell whether the file changed without reading it.
//!
//! The watcher keeps the sightings of the files it read in its seen state, and
//! [`Context`](crate::Context) takes the settings file's before reading it. A fingerprint
//! taken within [`RACY_MARGIN`] of the file's last change does not prove a later equal one
//! unchanged (msg-core's [`Fingerprint::settled`]), so such a file is always read again.

use std::path::Path;
use std::time::SystemTime;

use msg_core::fingerprint::{Fingerprint, RACY_MARGIN, nanos};
use serde::{Deserialize, Serialize};

/// A fingerprint and the moment it was taken. Serialises as the fingerprint's fields plus
/// `seen_ns`, the seen state's format since it was first written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sighting {
    #[serde(flatten)]
    print: Fingerprint,
    /// When the fingerprint was taken, in nanoseconds since the epoch.
    seen_ns: i64,
}

impl Sighting {
    /// The sighting of `path` now; `None` when it does not exist (or cannot be examined, in
    /// which case reading it will say why).
    pub(crate) fn of(path: &Path) -> Option<Sighting> {
        let print = Fingerprint::of(path)?;
        Some(Sighting {
            print,
            seen_ns: nanos(SystemTime::now()),
        })
    }

    /// Whether the file seen `now` is the one seen `before`, unchanged since: the same
    /// fingerprint, and `before` was taken long enough after the file's last change that a
    /// later change could not have kept its times.
    pub(crate) fn unchanged(before: Option<&Sighting>, now: Option<&Sighting>) -> bool {
        match (before, now) {
            (None, None) => true,
            (Some(before), Some(now)) => {
                let settled = before.seen_ns.saturating_sub(before.print.last_change_ns())
                    >= RACY_MARGIN.as_nanos() as i64;
                settled && before.print == now.print
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sighting` as if it had been taken `secs` after the file's last change.
    fn taken_after(sighting: Sighting, secs: i64) -> Sighting {
        Sighting {
            seen_ns: sighting.print.last_change_ns() + secs * 1_000_000_000,
            ..sighting
        }
    }

    #[test]
    fn a_settled_unchanged_file_is_unchanged_and_a_recent_change_is_read_again() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("a.org");
        std::fs::write(&path, "one").unwrap();
        let now = Sighting::of(&path).unwrap();
        assert!(Sighting::unchanged(Some(&taken_after(now, 5)), Some(&now)));
        assert!(Sighting::unchanged(None, None));
        // Looked at one second after a change: a second change in the same tick could keep
        // every field, so the file is read again.
        assert!(!Sighting::unchanged(Some(&taken_after(now, 1)), Some(&now)));
        assert!(!Sighting::unchanged(Some(&now), None));
        assert!(!Sighting::unchanged(None, Some(&now)));
    }

    #[test]
    fn any_write_or_replacement_means_read_again() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("a.org");
        std::fs::write(&path, "one").unwrap();
        let before = taken_after(Sighting::of(&path).unwrap(), 5);
        std::fs::write(&path, "two").unwrap();
        assert!(!Sighting::unchanged(
            Some(&before),
            Sighting::of(&path).as_ref()
        ));
        let other = dir.path().join("b.org");
        std::fs::write(&other, "one").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(!Sighting::unchanged(
            Some(&before),
            Sighting::of(&path).as_ref()
        ));
        assert_eq!(Sighting::of(&dir.path().join("missing")), None);
    }

    #[test]
    fn the_seen_state_format_is_kept() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("a.org");
        std::fs::write(&path, "one").unwrap();
        let sighting = Sighting::of(&path).unwrap();
        let json = serde_json::to_string(&sighting).unwrap();
        for field in ["dev", "ino", "len", "mtime_ns", "ctime_ns", "seen_ns"] {
            assert!(json.contains(&format!("\"{field}\":")), "{json}");
        }
        assert_eq!(serde_json::from_str::<Sighting>(&json).unwrap(), sighting);
    }
}
