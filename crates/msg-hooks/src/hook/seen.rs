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
//! and the session it was last shown in. `files` are the [`Sighting`]s of the task file,
//! the inbox and the settings when they were last read: a file whose fingerprint is unchanged
//! has nothing new, so the watcher does not read it again (see [`Sighting::unchanged`]).

use std::path::{Path, PathBuf};

use msg_core::durable;
use serde::{Deserialize, Serialize};

use crate::error::HooksError;
use crate::record::{self, Record};
use crate::sighting::Sighting;

/// The format written; a file with another is read as empty (it is a record of what was
/// shown, not data anyone needs).
const FORMAT: u64 = 1;

/// The task in progress and the session it was last shown in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Working {
    pub(crate) task: String,
    pub(crate) session: String,
}

/// The fingerprints of the files the watcher reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Files {
    pub(crate) agent: Option<Sighting>,
    pub(crate) inbox: Option<Sighting>,
    pub(crate) settings: Option<Sighting>,
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

impl Record for SeenState {
    const FORMAT: u64 = FORMAT;
    const WHAT: &'static str = "a valid watcher state";
    fn format(&self) -> u64 {
        self.format
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
    /// Replaces the file at `path` atomically and durably. Hold its lock.
    pub(crate) fn save(&self, path: &Path) -> Result<(), HooksError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the state serialises");
        bytes.push(b'\n');
        record::create_dir_of(path)?;
        durable::write_atomically(path, &bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
