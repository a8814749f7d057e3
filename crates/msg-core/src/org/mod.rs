//! The org file engine: a lossless scanner, byte-splice edits and locked durable writes.
//!
//! - [`Document`] scans a file's bytes into [`Entry`] ranges; [`EntryRef`] reads an entry.
//! - [`OrgFile`] runs a [`Transaction`] under the file's lock: [`Transaction::append`] adds a
//!   [`NewEntry`] in canonical form, [`Transaction::edit`] changes one entry by ID through an
//!   [`EntryEditor`].
//! - [`Outline`] reads a file without indexing every entry: only where each heading starts;
//!   an entry is scanned when asked for (queries and edits that touch few entries).
//! - [`TodoKeywords`] is the set of keywords in force for a file.
//! - [`headline`] is the title of a new message or task: who and what, in a form Org reads
//!   as plain text.

mod edit;
mod entry;
mod error;
mod file;
mod headline;
mod keywords;
mod outline;
mod scan;

pub use edit::EntryEditor;
pub use entry::NewEntry;
pub use error::OrgError;
pub use file::{DEFAULT_LOCK_TIMEOUT, OrgFile, Subtree, Transaction};
pub use headline::{NAME_CHARS, Party, SUBJECT_CHARS, headline, headline_prefix};
pub use keywords::{KeywordSequence, TodoKeywords};
pub use outline::{Outline, OutlineEntry};
pub use scan::{Document, DuplicateId, Entry, EntryRef, InvalidUtf8};
