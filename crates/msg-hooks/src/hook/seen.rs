//! What the inbox watcher has already shown an agent, so that each item is shown once.
//!
//! One small JSON file per space and agent,
//! `<root>/.datacore/state/messaging/inbox-watcher/<space>/<agent>.json`, read and replaced
//! (atomically, with `msg_core::durable`) under its own lock, which every run of the watcher
//! for that agent holds from start to end: concurrent runs take turns, so none of them shows
//! what another just showed.
//!
//! ```json
//! {
//!   "format": 1,
//!   "messages": ["msg-20261124-100259-3f2a9c1b7d4e"],
//!   "approvals": ["task-20261124-100300-77aa00bb11cc"],
//!   "working": {"task": "task-20261124-100200-0a1b2c3d4e5f", "session": "5f1c…"},
//!   "files": {
//!     "agent": {"dev": 2049, "ino": 1234, "len": 4821, "mtime_ns": 1795511379000000000, "ctime_ns": 1795511379000000000, "seen_ns": 1795511390000000000},
//!     "inbox": null,
//!     "settings": null
//!   }
//! }
//! ```
//!
//! `messages` are the unread messages already shown (pruned to those still unread),
//! `approvals` the tasks awaiting approval already announced, `working` the task in progress
//! and the session it was last shown in. `files` are the [`Fingerprint`]s of the task file,
//! the inbox and the settings when they were last read: a file whose fingerprint is unchanged
//! has nothing new, so the watcher does not read it again (see [`Fingerprint::unchanged`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use msg_core::durable;
use serde::{Deserialize, Serialize};

use crate::error::HooksError;

/// The format written; a file with another is read as empty (it is a record of what was
/// shown, not data anyone needs).
const FORMAT: u64 = 1;

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

/// The task in progress and the session it was last shown in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Working {
    pub(crate) task: String,
    pub(crate) session: String,
}

/// The fingerprints of the files the watcher reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Files {
    pub(crate) agent: Option<Fingerprint>,
    pub(crate) inbox: Option<Fingerprint>,
    pub(crate) settings: Option<Fingerprint>,
}

/// What the watcher has shown one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SeenState {
    format: u64,
    #[serde(default)]
    pub(crate) messages: Vec<String>,
    #[serde(default)]
    pub(crate) approvals: Vec<String>,
    #[serde(default)]
    pub(crate) working: Option<Working>,
    #[serde(default)]
    pub(crate) files: Files,
}

impl Default for SeenState {
    fn default() -> SeenState {
        SeenState {
            format: FORMAT,
            messages: Vec::new(),
            approvals: Vec::new(),
            working: None,
            files: Files::default(),
        }
    }
}

/// Where the seen state of `agent` in `space` lives below the governor's state directory.
pub(crate) fn seen_file(state_dir: &Path, space: &str, agent: &str) -> PathBuf {
    state_dir
        .join("inbox-watcher")
        .join(space)
        .join(format!("{agent}.json"))
}

impl SeenState {
    /// Reads the state at `path`. A missing file is an empty state. A file that is not valid
    /// JSON of this format is reported in the second value and read as empty: at worst the
    /// agent is shown what it was shown before, once.
    pub(crate) fn load(path: &Path) -> Result<(SeenState, Option<String>), HooksError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok((SeenState::default(), None));
            }
            Err(err) => return Err(HooksError::io("read", path)(err)),
        };
        match serde_json::from_slice::<SeenState>(&bytes) {
            Ok(state) if state.format == FORMAT => Ok((state, None)),
            Ok(state) => Ok((
                SeenState::default(),
                Some(format!(
                    "{} has format {}, not {FORMAT}; starting afresh",
                    path.display(),
                    state.format
                )),
            )),
            Err(err) => Ok((
                SeenState::default(),
                Some(format!(
                    "{} is not a valid watcher state ({err}); starting afresh",
                    path.display()
                )),
            )),
        }
    }

    /// Replaces the file at `path` atomically and durably. Hold its lock.
    pub(crate) fn save(&self, path: &Path) -> Result<(), HooksError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the state serialises");
        bytes.push(b'\n');
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(HooksError::io("create the directory of", path))?;
        }
        durable::write_atomically(path, &bytes)?;
        Ok(())
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

    #[test]
    fn states_round_trip_and_bad_files_start_afresh() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = seen_file(dir.path(), "0-personal", "gregor-claude");
        assert_eq!(
            SeenState::load(&path).unwrap(),
            (SeenState::default(), None)
        );
        let state = SeenState {
            messages: vec!["msg-1".into()],
            working: Some(Working {
                task: "task-1".into(),
                session: "s".into(),
            }),
            ..SeenState::default()
        };
        state.save(&path).unwrap();
        assert_eq!(SeenState::load(&path).unwrap(), (state, None));
        std::fs::write(&path, "{not json").unwrap();
        let (state, warning) = SeenState::load(&path).unwrap();
        assert_eq!(state, SeenState::default());
        assert!(warning.unwrap().contains("is not a valid watcher state"));
    }
}
