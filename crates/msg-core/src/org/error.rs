//! The errors of the org engine. Each names the file and, where there is one, the line.

use std::path::PathBuf;

use thiserror::Error;

use crate::durable::DurableError;
use crate::validate::ValidationError;

/// Why an org file could not be read or written. Nothing was written when this is returned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OrgError {
    /// A value to be written is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Reading, locking or writing the file failed.
    #[error(transparent)]
    File(#[from] DurableError),
    /// No entry has the ID.
    #[error("{path}: no entry has ID {id:?}")]
    NotFound {
        /// The file.
        path: PathBuf,
        /// The ID looked for.
        id: String,
    },
    /// Two entries carry the ID to be edited; editing either could hit the wrong one.
    #[error(
        "{path}: ID {id:?} is on two entries (lines {first_line} and {second_line}); give one of them a new ID (msg doctor lists all duplicates)"
    )]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// The ID.
        id: String,
        /// The first entry's heading line.
        first_line: usize,
        /// The second entry's heading line.
        second_line: usize,
    },
    /// The file is not UTF-8 (perhaps saved in another coding system); writing to it would
    /// mix encodings.
    #[error(
        "{path}:{line}: not valid UTF-8; refusing to write to this file (re-save it as UTF-8, e.g. in Emacs with `C-x RET f utf-8`)"
    )]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// The line of the first invalid byte.
        line: usize,
    },
    /// An edit would have changed more than its entry; nothing was written.
    #[error("{path}:{line}: refusing to write: {reason} (this is a bug; the file is unchanged)")]
    Guard {
        /// The file.
        path: PathBuf,
        /// The heading line of the entry being edited.
        line: usize,
        /// What the guard saw.
        reason: String,
    },
    /// The entry has a `:PROPERTIES:` drawer that Emacs ignores; editing its properties
    /// would add a second drawer.
    #[error(
        "{path}:{drawer_line}: the property drawer of the entry at line {line} is not valid org (a blank or non-property line inside it, or no :END:); fix it by hand or with `msg doctor --fix`"
    )]
    IgnoredDrawer {
        /// The file.
        path: PathBuf,
        /// The entry's heading line.
        line: usize,
        /// The line of its `:PROPERTIES:`.
        drawer_line: usize,
    },
    /// Another program (not taking our lock, such as an editor saving the file) changed the
    /// file while the transaction was reading and editing it. Nothing was written.
    #[error(
        "{path} was changed by another program (an editor saving it?) while we were editing it; nothing was written, try again"
    )]
    ChangedMeanwhile {
        /// The file.
        path: PathBuf,
    },
    /// Emacs has unsaved changes to the file (its lock file `.#<name>` exists): its next
    /// save would write over anything we write now. Nothing was written.
    #[error(
        "{path} has unsaved changes in Emacs (held by {holder}); save or revert that buffer, then try again (nothing was written)"
    )]
    EditedInEmacs {
        /// The file.
        path: PathBuf,
        /// Who holds Emacs's lock: `user@host.pid:boot`.
        holder: String,
    },
    /// The file's lines end in CR only (classic Mac OS). Emacs reads it so, and so do we,
    /// but we never write to it.
    #[error(
        "{path}: its lines end in CR only (classic Mac OS); msg reads it as Emacs does but does not write to it; convert it to LF line endings (in Emacs: C-x RET f utf-8-unix RET, then save)"
    )]
    MacLineEndings {
        /// The file.
        path: PathBuf,
    },
    /// A keyword that neither the file nor the caller's states know.
    #[error("{path}: {keyword:?} is not one of this file's TODO keywords")]
    UnknownKeyword {
        /// The file.
        path: PathBuf,
        /// The keyword.
        keyword: String,
    },
}
