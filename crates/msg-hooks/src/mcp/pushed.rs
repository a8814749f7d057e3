//! What the servers of one agent have pushed, so that each item is pushed once.
//!
//! One small JSON file per space and agent,
//! `<root>/.datacore/state/messaging/mcp/<space>/<agent>.json`, read and replaced
//! (atomically, not durably: see [`Pushed::save`]) under its own lock, which a server holds
//! from reading it to saving it, before it sends what it decided to push; two sessions
//! serving the same agent take turns, and an item goes to one of them, once.
//!
//! ```json
//! {"format": 1, "pushed": ["queued:task-20261207-104800-3f2a9c1b7d4e:0", "waiting:task-…"]}
//! ```
//!
//! A key is `<kind>:<ID>[:<revision>]`. Keys of tasks that are no longer open (DONE,
//! CANCELLED, ARCHIVED, or gone) and of messages no longer unread are dropped when the file
//! is saved, so it stays as small as what is open. Deleting it only means that what arrives
//! while nothing remembers may be pushed to a second session.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::HooksError;
use crate::record::{self, Record};

/// The format written; another is read as empty.
const FORMAT: u64 = 1;

/// The keys pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pushed {
    format: u64,
    pushed: BTreeSet<String>,
}

/// Where the record of `agent` in `space` lives below the governor's state directory.
pub(crate) fn record_file(state_dir: &Path, space: &str, agent: &str) -> PathBuf {
    state_dir
        .join("mcp")
        .join(space)
        .join(format!("{agent}.json"))
}

impl Record for Pushed {
    const FORMAT: u64 = FORMAT;
    const WHAT: &'static str = "a record of pushes";
    fn format(&self) -> u64 {
        self.format
    }
}

/// The ID a key is about: `queued:task-1:0` → `task-1`.
fn id_of(key: &str) -> &str {
    key.split(':').nth(1).unwrap_or("")
}

impl Pushed {
    /// Whether `key` was pushed.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.pushed.contains(key)
    }

    /// Remembers `key` as pushed.
    pub(crate) fn insert(&mut self, key: &str) {
        self.pushed.insert(key.to_owned());
    }

    /// Forgets the keys whose item is not among `open` (IDs).
    pub(crate) fn keep_open(&mut self, open: &HashSet<String>) {
        self.pushed.retain(|key| open.contains(id_of(key)));
    }

    /// Replaces the file at `path` atomically (a temporary file renamed over it, so a
    /// reader sees the old record or the new one), without waiting for the disk: it stands
    /// between a change and its push, and a record lost in a crash costs at most a push
    /// repeated to a second session. Hold its lock.
    pub(crate) fn save(&self, path: &Path) -> Result<(), HooksError> {
        let record = Pushed {
            format: FORMAT,
            pushed: self.pushed.clone(),
        };
        let mut bytes = serde_json::to_vec(&record).expect("the record serialises");
        bytes.push(b'\n');
        record::create_dir_of(path)?;
        let temp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temp, &bytes)
            .and_then(|()| std::fs::rename(&temp, path))
            .map_err(|err| {
                let _ = std::fs::remove_file(&temp);
                HooksError::io("replace", path)(err)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_forget_what_closed_and_bad_files_start_afresh() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = record_file(dir.path(), "0-personal", "bob-claude");
        assert_eq!(Pushed::load(&path).unwrap(), (Pushed::default(), None));
        let mut record = Pushed::default();
        record.insert("queued:task-1:0");
        record.insert("waiting:task-2");
        record.insert("message:msg-3");
        record.keep_open(&HashSet::from(["task-1".to_owned(), "msg-3".to_owned()]));
        assert!(record.contains("queued:task-1:0") && !record.contains("waiting:task-2"));
        record.save(&path).unwrap();
        let (loaded, warning) = Pushed::load(&path).unwrap();
        assert_eq!(warning, None);
        assert!(loaded.contains("message:msg-3") && loaded.contains("queued:task-1:0"));
        std::fs::write(&path, "[1, 2").unwrap();
        let (loaded, warning) = Pushed::load(&path).unwrap();
        assert_eq!(loaded, Pushed::default());
        assert!(warning.unwrap().contains("is not a record of pushes"));
    }
}
