//! The desk: tasks and messages as the commands and the relay client move them.
//!
//! - [`tasks`]: [`TaskDesk`], an agent's tasks with the governor (submit, approve, claim,
//!   complete, …), each task carrying its governor admission from its first write
//!   ([`admission_links`] reads the links of earlier builds);
//! - [`intake`]: a message to a local agent becomes at most one task, through the governor;
//! - [`send`]: a message into the local inbox or the outbox; [`broadcast`]: one message to
//!   several recipients, a copy each, in one thread; [`reply`]: the agent's reply,
//!   which may complete its task; [`task_news`]: the sender of a task that came as a message
//!   hears what becomes of it;
//! - [`search`]: every message and task holding a text, across the space's files;
//! - [`messages`]: messages and tasks by the IDs people type ([`lookup`]: whole, or a unique
//!   prefix or suffix), marked read, unread or archived.
//!
//! The properties below link tasks and messages in the files; they are written with the
//! entry they belong to, in its first append.
//!
//! Edges inside the wing point one way: `reply`, `intake` and `broadcast` use `tasks` and
//! `send`; `tasks`
//! uses `task_news`, which uses `send`; nothing here uses `reply` or `intake`.

pub(crate) mod admission_links;
pub(crate) mod arrivals;
pub(crate) mod broadcast;
pub(crate) mod intake;
pub(crate) mod lookup;
pub(crate) mod messages;
mod reply;
pub(crate) mod search;
pub(crate) mod send;
mod task_news;
pub(crate) mod tasks;

pub use reply::{Reply, ReplyReport, send_reply};
pub use send::{Delivery, Sent};
pub use tasks::{GovernorNote, Submission, Submitted, TaskDesk};

/// The task property holding the governor admission that reserved the task's tokens
/// (completed or released when the task ends).
pub const ADMISSION_PROPERTY: &str = "ADMISSION";
/// The task property naming the message a task came from (task intake).
pub const MESSAGE_ID_PROPERTY: &str = "MESSAGE_ID";
/// The message property naming the task a message is about: the reply that completes it,
/// or the news of it sent to its sender.
pub const TASK_PROPERTY: &str = "TASK";
