//! `msg-store` will hold `MessageStore`, the universal inbox of datacore-messaging:
//! `<space>/org/messaging/inbox.org` (messages and file deliveries) and `outbox.org`
//! (what this user sent).
//!
//! **Status: not implemented yet.** This crate is a placeholder in the workspace so that the
//! layering of the design card exists from the start; it exports nothing. The work is tracked
//! in the issue "msg-store: the universal inbox that never loses a message".
//!
//! Architecture invariant: depends on `msg-core` only. It never imports `msg-inbox`,
//! `msg-governor` or `msg-relay`; it is the only crate that knows the inbox/outbox layout.
