//! What can go wrong, apart from a task being rejected (a rejection is a
//! [`Decision`](crate::Decision), not an error).

use std::io;
use std::path::PathBuf;

use msg_core::durable::DurableError;
use msg_core::validate::ValidationError;
use thiserror::Error;

/// An operation of the governor that could not be carried out. Nothing was written when one
/// of these is returned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GovernorError {
    /// The actor is not a valid actor identifier (empty, a line break, a control character).
    #[error(transparent)]
    InvalidActor(#[from] ValidationError),
    /// Locking or writing the state file failed: another process held the lock too long, the
    /// disk is full, a permission is missing.
    #[error(transparent)]
    Durable(#[from] DurableError),
    /// A state file exists but cannot be read.
    #[error("cannot read governor state file {}: {source}", path.display())]
    Read {
        /// The file (`governor.json`, `governor.journal`, or an original `budget-<date>.json`).
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A state file (`governor.json`, `governor.journal`, an original `budget-<date>.json`)
    /// is not valid JSON, a value in it has the wrong type or range, or the journal does not
    /// continue the snapshot. The governor refuses to guess: treating it as empty would lift
    /// every budget.
    #[error(
        "governor state file {}{} is corrupt: {message}; nothing was changed: repair it or restore it from a backup (deleting governor.json and governor.journal resets every budget of the day to zero)",
        path.display(),
        location(*line, *column)
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the problem, when known.
        line: Option<usize>,
        /// The 1-based column of the problem, when known.
        column: Option<usize>,
        /// What is wrong, naming the key where it can (`days: "24.11." is not a date`).
        message: String,
    },
    /// The state file was written by a newer version in a format this one does not know.
    #[error(
        "governor state file {} has format {found}, but this version knows format {supported} only; upgrade datacore-messaging (the file was left unchanged)",
        path.display()
    )]
    UnsupportedFormat {
        /// The state file.
        path: PathBuf,
        /// The `format` the file declares.
        found: u64,
        /// The newest format this version reads and writes.
        supported: u64,
    },
    /// `complete` or `release` named an admission that is not active.
    #[error(
        "no active admission {id:?} in {}: it was completed or released already, or never admitted",
        path.display()
    )]
    UnknownAdmission {
        /// The admission ID given.
        id: String,
        /// The state file that was searched.
        path: PathBuf,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(", line {line} column {column},"),
        (Some(line), None) => format!(", line {line},"),
        _ => String::new(),
    }
}
