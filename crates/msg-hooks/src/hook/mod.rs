//! The hook: what `inbox-watcher` shows the agent before each prompt.
//!
//! - [`watcher`]: one run of the hook ([`watch`], [`watch_plain`]): intake of messages to the
//!   agent, the task claimed or in progress, approvals, new messages, each shown once;
//! - [`briefing`]: the text of it, under [`MAX_CONTEXT_CHARS`], with the exact commands to
//!   act on each item; [`untrusted`] frames text from senders below the owner tier as data;
//! - [`seen`]: what was shown, per agent, and the fingerprints of the files read;
//! - [`hook_event`]: the Claude Code event on stdin ([`HookEvent`]).
//!
//! The JSON the hook prints is built in [`watcher`]; its contract is in
//! `docs/claude-code.md`.

mod briefing;
mod hook_event;
pub(crate) mod seen;
pub(crate) mod untrusted;
mod watcher;

pub use briefing::MAX_CONTEXT_CHARS;
pub(crate) use briefing::shell_word;
pub use hook_event::{EventKind, HookEvent};
pub(crate) use watcher::watch_plain;
pub use watcher::{WatchOutput, watch};
