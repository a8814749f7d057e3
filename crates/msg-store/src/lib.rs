//! `msg-store`: `MessageStore`, the universal inbox of datacore-messaging.
//!
//! Each space has `<space>/org/messaging/inbox.org` (messages and file deliveries addressed to
//! this user) and `outbox.org` (what this user sent). Both are plain org files that the person
//! also reads and edits in Emacs. The store:
//!
//! - creates messages by appending in the canonical form (`* TODO [2026-11-24 Tue 10:02]
//!   :unread:message:` with ID, FROM, TO, REPLY_TO/THREAD, CREATED), without reading the
//!   inbox unless it must look up a reply's parent;
//! - answers queries from the file as it is now ([`MessageStore::unread`],
//!   [`MessageStore::thread`], …) with [`Message`] snapshots;
//! - changes state by ID under the file's lock (`mark_read`, `mark_unread`, `archive`), with
//!   `CLOSED:` and LOGBOOK lines as Emacs writes them, checking the transition against the
//!   state in the file now (a person may have changed it in Emacs);
//! - moves old read messages to a monthly archive file ([`MessageStore::archive_older_than`]);
//! - takes in messages received from the relay once each, by the sender's ID under the lock
//!   ([`MessageStore::receive_all`], [`Incoming`], [`Receipt`]), and records the relay's
//!   answers on sent messages ([`MessageStore::record_delivery`], [`DeliveryState`]).
//!
//! ```
//! use msg_store::{MessageStore, NewMessage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let space = std::env::temp_dir().join(format!("msg-store-doc-{}", std::process::id()));
//! let store = MessageStore::open(&space)?;
//! let question = store.create_message(&NewMessage::new("tex", "gregor", "Can you review PR #24?"))?;
//! let answer = store.create_message(&NewMessage::new("gregor", "tex", "On it.").reply_to(&question.id))?;
//! assert_eq!(answer.thread.as_deref(), Some(question.id.as_str()));
//! assert_eq!(store.unread()?.len(), 2);
//! store.mark_read(&question.id)?;
//! assert_eq!(store.unread()?.len(), 1);
//! # std::fs::remove_dir_all(space)?;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: depends on `msg-core` only; never on `msg-inbox`, `msg-governor`
//! or `msg-relay`. It is the only crate that knows the inbox/outbox layout and tags.

mod delivery;
mod error;
mod message;
mod received;
mod store;

pub use delivery::{DELIVERY_PENDING, DELIVERY_PROPERTY, DeliveryState};

pub use error::StoreError;
pub use message::{Message, MessageKind, MessageState, Priority};
pub use received::{Incoming, Receipt};
pub use store::{ArchiveReport, MessageStore, NewFileDelivery, NewMessage, STATES};
