//! What the inbox watcher has already shown an agent, so that each item is shown once.
//!
//! One small JSON file per space and agent,
//! `<root>/.datacore/state/messaging/inbox-watcher/<space>/<agent>.json`, read and replaced
//! (atomically, not durably: see [`SeenState::save`]) under its own lock, which every run of the watcher
//! for that agent holds from start to end: concurrent runs take turns, so none of them shows
//! what another just showed.
//!
//! ```json
//! {
//!   "format": 1,
//!   "messages": ["msg-20261124-100259-3f2a9c1b7d4e"],
//!   "approvals": ["task-20261124-100300-77aa00bb11cc"],
//!   "in_progress": "task-20261124-100200-0a1b2c3d4e5f",
//!   "context": {"session": "5f1c…", "task": "task-20261124-100200-0a1b2c3d4e5f", "note": true},
//!   "files": {
//!     "agent": {"dev": 2049, "ino": 1234, "len": 4821, "mtime_ns": 1795511379000000000, "ctime_ns": 1795511379000000000, "seen_ns": 1795511390000000000},
//!     "inbox": null,
//!     "settings": null
//!   }
//! }
//! ```
//!
//! `messages` are the messages to the agent announced as not yet taken in as tasks (pruned
//! to those still waiting), `approvals` the tasks awaiting approval already announced,
//! `in_progress` the task that was WORKING when the task file was last read. `context` is
//! what the agent's context holds now: the session it belongs to, the task in progress
//! shown in it and whether the note on untrusted text was given; a `SessionStart` (a new,
//! resumed, cleared or compacted session) or another session starts a new one. `files` are
//! the [`Sighting`]s of the task file, the inbox and the settings when they were last read:
//! a file whose fingerprint is unchanged has nothing new, so the watcher does not read it
//! again (see [`Sighting::unchanged`]). Earlier builds wrote `working` (the task in
//! progress and its session) instead of `in_progress` and `context`; it is ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use msg_core::durable::FileLock;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::HooksError;
use crate::record::{self, Record};
use crate::sighting::Sighting;

/// How long a run waits for another run for the same agent. Runs take milliseconds; a
/// longer wait means something is stuck, and the prompt should not wait for it.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// An agent's record, read under its lock, which is held until the value is dropped: a
/// run's read, decision and save are one step across runs.
pub(crate) struct Held {
    path: PathBuf,
    _lock: FileLock,
    /// What the record said when it was read.
    pub(crate) seen: SeenState,
}

impl Held {
    /// Locks and reads the record of `ctx`'s agent; the second value says why it was read
    /// as empty, if it was (see [`Record::load`]).
    pub(crate) fn open(ctx: &Context) -> Result<(Held, Option<String>), HooksError> {
        let path = seen_file(&ctx.paths().governor_state_dir(), ctx.space(), ctx.agent());
        let lock = FileLock::exclusive(&path, LOCK_TIMEOUT)?;
        let (seen, warning) = SeenState::load(&path)?;
        Ok((
            Held {
                path,
                _lock: lock,
                seen,
            },
            warning,
        ))
    }

    /// Replaces the record with `next` when it differs from what was read.
    pub(crate) fn save(&self, next: &SeenState) -> Result<(), HooksError> {
        if *next != self.seen {
            next.save(&self.path)?;
        }
        Ok(())
    }
}

/// The format written; a file with another is read as empty (it is a record of what was
/// shown, not data anyone needs).
const FORMAT: u64 = 1;

/// What the agent's context holds: everything shown since the session started, or since
/// the last `SessionStart` (after which the agent may have lost what came before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shown {
    /// The session (`session_id`; empty when the events carry none).
    pub(crate) session: String,
    /// The task in progress shown in this context.
    #[serde(default)]
    pub(crate) task: Option<String>,
    /// Whether the note on text from non-owners was given in this context.
    #[serde(default)]
    pub(crate) note: bool,
}

impl Shown {
    /// A context in which nothing was shown yet.
    pub(crate) fn new(session: &str) -> Shown {
        Shown {
            session: session.to_owned(),
            ..Shown::default()
        }
    }
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
    pub(crate) in_progress: Option<String>,
    #[serde(default)]
    pub(crate) context: Option<Shown>,
    #[serde(default)]
    pub(crate) files: Files,
}

impl Default for SeenState {
    fn default() -> SeenState {
        SeenState {
            format: FORMAT,
            messages: Vec::new(),
            approvals: Vec::new(),
            in_progress: None,
            context: None,
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
    /// Replaces the file at `path` atomically: a temporary file renamed over it, so a
    /// reader sees the old record or the new one, never half of one. Hold its lock.
    ///
    /// Not flushed to disk (no `fsync`): this is a record of what was shown, and a crash
    /// that loses its last change only means the agent is shown those items once more (an
    /// unreadable file is read as empty, with a warning). The two flushes a durable replace
    /// takes cost more than the rest of a run when the disk is busy (11 ms measured under
    /// load), before every prompt that has news.
    pub(crate) fn save(&self, path: &Path) -> Result<(), HooksError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the state serialises");
        bytes.push(b'\n');
        record::create_dir_of(path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let replaced = std::fs::write(&temp, &bytes)
            .map_err(HooksError::io("write", &temp))
            .and_then(|()| std::fs::rename(&temp, path).map_err(HooksError::io("replace", path)));
        if replaced.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        replaced
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
            in_progress: Some("task-1".into()),
            context: Some(Shown {
                task: Some("task-1".into()),
                note: true,
                ..Shown::new("s")
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

    #[test]
    fn an_earlier_builds_state_is_read_without_its_working_record() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(
            &path,
            r#"{"format":1,"messages":["m"],"approvals":["a"],"working":{"task":"t","session":"s"},"files":{"agent":null,"inbox":null,"settings":null}}"#,
        )
        .unwrap();
        let (state, warning) = SeenState::load(&path).unwrap();
        assert_eq!(warning, None);
        assert_eq!(
            (state.messages, state.approvals),
            (vec!["m".to_owned()], vec!["a".to_owned()])
        );
        assert_eq!((state.in_progress, state.context), (None, None));
    }
}
