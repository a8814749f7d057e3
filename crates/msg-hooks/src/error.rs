//! What can go wrong in the executables' operations. Every error names the file, the ID or
//! the field, and says what to do where that is not obvious.

use std::io;
use std::path::PathBuf;

use msg_core::config::ConfigError;
use msg_core::durable::DurableError;
use msg_core::org::OrgError;
use msg_core::validate::ValidationError;
use msg_governor::{GovernorError, Rejection};
use msg_inbox::InboxError;
use msg_store::StoreError;
use thiserror::Error;

/// Why an operation of the executables failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HooksError {
    /// The settings file could not be read or understood.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value given on the command line cannot be used (the message names the field).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The inbox or outbox could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The agent's task file could not be read or written, or the task is in another state.
    #[error(transparent)]
    Inbox(#[from] InboxError),
    /// The governor's state could not be read or written.
    #[error(transparent)]
    Governor(#[from] GovernorError),
    /// A lock or a durable write failed.
    #[error(transparent)]
    Durable(#[from] DurableError),
    /// An org file written directly (the relay client's receipts and delivery states) could
    /// not be read or written.
    #[error(transparent)]
    Org(#[from] OrgError),
    /// No entry has an ID equal to, starting with or ending with what was given.
    #[error("no {what} in {}{} has an ID equal to, starting with or ending with {given:?}", path.display(), and_in(also))]
    NotFound {
        /// `message`, `task`, or `message or task`.
        what: &'static str,
        /// What was given.
        given: String,
        /// The file searched (the first one, when several were).
        path: PathBuf,
        /// The other files searched.
        also: Vec<PathBuf>,
    },
    /// Several IDs start or end with what was given.
    #[error("{given:?} matches {} {what} IDs: {}; give more of the ID", matches.len(), list(matches))]
    Ambiguous {
        /// `message` or `task`.
        what: &'static str,
        /// What was given.
        given: String,
        /// The IDs it matches.
        matches: Vec<String>,
    },
    /// A name given on the command line that cannot be used (an actor ID too long for the
    /// relay, a tier the settings do not define, a handle another actor has).
    #[error("{field} {value:?}: {reason}")]
    InvalidName {
        /// What it was given as, e.g. `tier`.
        field: String,
        /// What was given.
        value: String,
        /// Why it cannot be used, and what to do.
        reason: String,
    },
    /// A message too long for a relay's frame limit: refused before anything is written.
    #[error(
        "the message is {bytes} bytes; as a relay frame it would be {frame} bytes, and a relay takes {limit} at most: shorten it"
    )]
    TooLong {
        /// The text's length in bytes.
        bytes: usize,
        /// The `send` frame's length.
        frame: usize,
        /// The relay's default frame limit.
        limit: usize,
    },
    /// A task's result addressed to someone other than the task's sender.
    #[error(
        "task {task} came from {from}: its result goes back to {from}, not {given:?} (send-reply {from} ...)"
    )]
    WrongRecipient {
        /// The task.
        task: String,
        /// Its sender.
        from: String,
        /// The recipient given.
        given: String,
    },
    /// The governor refused a task.
    #[error("the governor refused the task: {0}")]
    Rejected(Box<Rejection>),
    /// A step after a successful write failed: the first part is done and must not be
    /// repeated (the reply is sent, the task is completed, ...).
    #[error("{done}, but {failed}: {source}")]
    Partial {
        /// What was done, e.g. `the reply msg-… was sent`.
        done: String,
        /// What was not, e.g. `completing task task-… failed`.
        failed: String,
        /// Why.
        source: Box<HooksError>,
    },
    /// A file the executables keep for themselves (the watcher's seen state, the task
    /// admission links, Claude Code's settings, contacts.yaml) is not what it should be.
    #[error("{}{}: {message}", path.display(), line.map(|line| format!(", line {line}")).unwrap_or_default())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
    /// An operating system error outside the org engine.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was tried, e.g. `read`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl HooksError {
    /// Wraps an `io::Error` with what was tried on which file.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| HooksError::Io {
            action,
            path,
            source,
        }
    }

    /// `self` as the failing second step of something that already happened.
    pub(crate) fn after(self, done: impl Into<String>, failed: impl Into<String>) -> HooksError {
        HooksError::Partial {
            done: done.into(),
            failed: failed.into(),
            source: Box::new(self),
        }
    }
}

/// `, b.org and c.org` for the other files searched.
fn and_in(also: &[PathBuf]) -> String {
    match also {
        [] => String::new(),
        [.., last] => {
            let mut text = String::new();
            for path in &also[..also.len() - 1] {
                text.push_str(&format!(", {}", path.display()));
            }
            format!("{text} or {}", last.display())
        }
    }
}

/// At most five IDs, then how many more.
fn list(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguity_lists_a_few_ids() {
        let err = HooksError::Ambiguous {
            what: "task",
            given: "3f".into(),
            matches: (1..=7).map(|n| format!("task-{n}")).collect(),
        };
        assert_eq!(
            err.to_string(),
            "\"3f\" matches 7 task IDs: task-1, task-2, task-3, task-4, task-5 and 2 more; give more of the ID"
        );
    }

    #[test]
    fn partial_says_what_is_done() {
        let err = HooksError::NotFound {
            what: "task",
            given: "x".into(),
            path: "/a.org".into(),
            also: Vec::new(),
        }
        .after("the reply msg-1 was sent", "completing task x failed");
        assert_eq!(
            err.to_string(),
            "the reply msg-1 was sent, but completing task x failed: no task in /a.org has an ID equal to, starting with or ending with \"x\""
        );
    }
}
