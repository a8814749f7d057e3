//! The store's errors: each names the message, the field or the file.

use std::path::PathBuf;

use msg_core::org::OrgError;
use msg_core::validate::ValidationError;
use thiserror::Error;

/// Why a store operation failed. Nothing was written when this is returned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The org file could not be read, locked or written (the message names the file).
    #[error(transparent)]
    Org(#[from] OrgError),
    /// A field is invalid (the message names the field).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A caller-supplied property would overwrite one the store sets itself.
    #[error(
        "property {key:?} is set by the store and cannot be given as an extra property (reserved: ID, FROM, TO, CREATED, REPLY_TO, THREAD, PRIORITY)"
    )]
    ReservedProperty {
        /// The key.
        key: String,
    },
    /// No message has the ID.
    #[error("{path}: no message has ID {id:?}")]
    NotFound {
        /// The file searched.
        path: PathBuf,
        /// The ID.
        id: String,
    },
    /// The message is in a state the operation cannot start from (a person may have changed
    /// it in Emacs).
    #[error(
        "cannot {action} message {id}: it is {state} (line {line} of {path}); {action} works on {allowed}"
    )]
    Transition {
        /// What was asked, e.g. `mark read`.
        action: &'static str,
        /// The message.
        id: String,
        /// Its keyword now, or `without a keyword`.
        state: String,
        /// The states the action starts from.
        allowed: &'static str,
        /// The file.
        path: PathBuf,
        /// The heading's line.
        line: usize,
    },
    /// A priority other than high, normal or low.
    #[error("priority {value:?} is not one of high, normal, low")]
    InvalidPriority {
        /// The rejected value.
        value: String,
    },
}
