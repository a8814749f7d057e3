//! The org file engine: a lossless scanner, byte-splice edits and locked durable writes.
//!
//! - [`Document`] scans a file's bytes into [`Entry`] ranges; [`EntryRef`] reads an entry.
//! - [`OrgFile`] runs a [`Transaction`] under the file's lock: [`Transaction::append`] adds a
//!   [`NewEntry`] in canonical form, [`Transaction::edit`] changes one entry by ID through an
//!   [`EntryEditor`]; [`Transaction::take`] and [`Transaction::append_subtree`] move a
//!   [`Subtree`] between files.
//! - [`Outline`] reads a file without indexing every entry: only where each heading starts;
//!   an entry is scanned when asked for (queries and edits that touch few entries).
//! - [`TodoKeywords`] is the set of keywords in force for a file.
//! - [`headline`] is the title of a new message or task: who and what, in a form Org reads
//!   as plain text.
//! - [`Document::drawer_problems`] says why Emacs ignores a property drawer
//!   ([`IgnoredDrawer`], [`DrawerProblem`]).

mod alnum;
mod edit;
mod emacs_lock;
mod entry;
mod entry_ref;
mod eol;
mod error;
mod file;
mod guard;
mod head;
mod headline;
mod keywords;
mod outline;
mod ranges;
mod scan;
mod subtree;
mod syntax;
mod transaction;

pub use edit::EntryEditor;
pub use entry::NewEntry;
pub use entry_ref::EntryRef;
pub use eol::Eol;
pub use error::OrgError;
pub use file::{DEFAULT_LOCK_TIMEOUT, OrgFile};
pub use headline::{NAME_CHARS, Party, SUBJECT_CHARS, headline, headline_prefix};
pub use keywords::{KeywordSequence, TodoKeywords};
pub use outline::{Outline, OutlineEntry};
pub use ranges::Entry;
pub use scan::{Document, DrawerProblem, DuplicateId, IgnoredDrawer, InvalidUtf8};
pub use subtree::Subtree;
pub use transaction::Transaction;
