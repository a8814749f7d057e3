//! `msg-core`: the types, validation, configuration and org file engine that every crate of
//! datacore-messaging shares.
//!
//! People and their AI agents hand each other messages and tasks through plain Emacs org
//! files. This crate is the floor everything stands on:
//!
//! - [`org`]: the org file engine. [`org::Document`] scans a file's bytes losslessly into
//!   entries with byte ranges (Emacs's rules for headings, keywords, tags, planning lines,
//!   property drawers and LOGBOOK); [`org::OrgFile`] runs a [`org::Transaction`] under the
//!   file's lock that appends [`org::NewEntry`]s durably and edits entries by ID as byte
//!   splices, guarded so that no byte outside the touched entry changes. A transaction moves
//!   through explicit states (nothing read, the fast path on one section, appending, the
//!   full document) and reads no more of the file than its operations need.
//! - [`config`]: `$DATACORE_ROOT/.datacore/settings.local.yaml`, typed, with the original's
//!   defaults (identity, default space, relay, trust tiers, compute limits).
//! - [`paths`]: where every file lives; names are validated before they become paths.
//! - [`durable`]: cross-process file locks and atomic, durable writes.
//! - [`fingerprint`]: what a file looked like when it was looked at (inode, size, times), to
//!   notice a change made without our lock.
//! - [`validate`], [`id`], [`timestamp`], [`figures`]: what may be written, IDs, Org
//!   timestamps, numbers as people read them.
//!
//! ```
//! use msg_core::org::{NewEntry, OrgFile, TodoKeywords};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("msg-core-doc-{}", std::process::id()));
//! let states = TodoKeywords::parse("TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED");
//! let inbox = OrgFile::new(dir.join("inbox.org"), states);
//! let at = msg_core::timestamp::now_local();
//! inbox.transaction(|txn| {
//!     txn.append(&NewEntry {
//!         keyword: Some("TODO".into()),
//!         title: msg_core::timestamp::format_inactive(at),
//!         tags: vec!["unread".into(), "message".into()],
//!         properties: vec![("ID".into(), "msg-1".into()), ("FROM".into(), "tex".into())],
//!         body: "Can you review PR #24?".into(),
//!         ..NewEntry::default()
//!     })
//! })?;
//! inbox.transaction(|txn| txn.edit("msg-1", |entry| entry.set_keyword("DONE", at)))?;
//! let doc = inbox.read()?;
//! assert_eq!(doc.entry(0).keyword().as_deref(), Some("DONE"));
//! assert!(doc.entry(0).closed().is_some());
//! # std::fs::remove_dir_all(dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: no async runtime, no network, no knowledge of where messages or
//! tasks live beyond [`paths`]. The stores (`msg-store`, `msg-inbox`), the governor and the
//! relay build on this crate and never on each other.

pub mod config;
pub mod durable;
pub mod figures;
pub mod fingerprint;
pub mod id;
pub mod org;
pub mod paths;
pub mod timestamp;
pub mod validate;
