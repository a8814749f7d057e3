//! The hook: what `inbox-watcher` shows the agent before each prompt, when a session starts,
//! and (optionally) when it is about to stop.
//!
//! - [`watcher`]: one run of the hook ([`watch`], [`watch_plain`]): intake of messages to the
//!   agent, the task claimed or in progress, approvals, each shown once; the agent sees only
//!   what is addressed to it;
//! - [`stop`]: the optional `Stop` hook, which keeps the agent working only when an urgent
//!   task is waiting;
//! - [`briefing`]: the text of it, under [`MAX_CONTEXT_CHARS`], with the exact commands to
//!   act on each item; [`untrusted`] frames text from senders below the owner tier as data
//!   and says what the frame means once per context;
//! - [`seen`]: what was shown, per agent and context, and the fingerprints of the files read;
//! - [`hook_event`]: the Claude Code event on stdin ([`HookEvent`]).
//!
//! The JSON the hook prints is built in [`watcher`] and [`stop`]; its contract is in
//! `docs/claude-code.md`.

mod briefing;
mod hook_event;
pub(crate) mod seen;
mod stop;
pub(crate) mod untrusted;
mod watcher;

pub use briefing::MAX_CONTEXT_CHARS;
pub(crate) use briefing::shell_word;
pub use hook_event::{EventKind, HookEvent};
pub use watcher::WatchOutput;
pub(crate) use watcher::watch_plain;

use crate::context::Context;
use crate::error::HooksError;

/// Runs the hook for `event` (`UserPromptSubmit`, `SessionStart` or `Stop`) and returns
/// what it prints.
pub fn watch(ctx: &Context, event: &HookEvent) -> Result<WatchOutput, HooksError> {
    match event.kind() {
        EventKind::Stop => stop::keep_working(ctx, event),
        EventKind::UserPromptSubmit | EventKind::SessionStart => watcher::watch_prompt(ctx, event),
    }
}
