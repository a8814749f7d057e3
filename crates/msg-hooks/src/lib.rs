//! `msg-hooks`: the executables of datacore-messaging, and the library they share.
//!
//! People and their AI agents hand each other messages and tasks through org files. This
//! crate wires the store ([`msg_store`]), the agent task files ([`msg_inbox`]), the
//! governor ([`msg_governor`]) and the relay's protocol ([`msg_relay::protocol`]) into the
//! programs that use them (DESIGN.md §8):
//!
//! - `inbox-watcher`: Claude Code's `UserPromptSubmit`/`SessionStart` hook. It claims the
//!   next task atomically and shows the agent what is new, once, with the task ID and the
//!   exact command to complete it; text from senders below the owner tier is framed as data
//!   ([`watch`], [`HookEvent`]).
//! - `send-reply`: the agent's reply; with `--complete-task`, completes the task and
//!   reconciles the governor ([`send_reply`]).
//! - `mark-message`, `task-queue`: the original's helper commands ([`TaskDesk`]).
//! - `msg`: the person's command: send, inbox, show, read, thread, tasks, task …, usage,
//!   contacts, init, doctor, hooks install, migrate (from the v0.1.0 layout), intake, demo,
//!   and `msg relay connect`: the machine's relay client, which receives messages into the
//!   inbox once, turns messages to an agent into its tasks through the governor and sends
//!   the outbox, recording each delivery; and `msg mcp`: the agent's MCP server (few tools
//!   over what is addressed to the agent, new work pushed as Claude Code channel
//!   notifications).
//!
//! The code is in wings: `hook/` (the watcher), `desk/` (tasks, intake, sending),
//! `relay_client/`, `setup/` (init, doctor, hooks install, migrate, demo), `mcp/` (`msg
//! mcp`) and `cli/` (each executable's arguments and output), over [`Context`] (who runs
//! the command, where) and [`HooksError`] (errors naming the file, the ID or the field).
//! ARCHITECTURE.md maps them.
//! The binaries in `src/bin` only call their entry point ([`msg_main`],
//! [`inbox_watcher_main`], [`send_reply_main`], [`mark_message_main`],
//! [`task_queue_main`]); what only they use is private to this crate.
//!
//! ```
//! use msg_core::{config::Settings, paths::Paths};
//! use msg_hooks::{Context, HookEvent, Reply, Submission, TaskDesk, send_reply, watch};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = std::env::temp_dir().join(format!("msg-hooks-doc-{}", std::process::id()));
//! let settings = Settings::from_yaml_str(
//!     "identity: {name: gregor}\nmessaging: {trust_overrides: {gregor: owner}}\n",
//!     "settings.local.yaml".as_ref(),
//! )?;
//! let ctx = Context::new(Paths::new(&root), settings, None)?;
//!
//! // The person submits a task; the governor admits it and it is queued for gregor-claude.
//! let submitted = TaskDesk::open(&ctx, None)?.submit(&Submission {
//!     from: "gregor".into(),
//!     text: "Summarise the standup notes".into(),
//!     ..Submission::default()
//! })?;
//!
//! // Before the next prompt, the hook claims it and tells the agent how to finish it.
//! let output = watch(&ctx, &HookEvent::default())?;
//! let json = output.stdout.expect("a task was claimed");
//! assert!(json.contains(&submitted.task.id().to_string()));
//! assert!(json.contains("--complete-task"));
//!
//! // The agent replies and completes the task in one step.
//! let report = send_reply(&ctx, &Reply {
//!     to: "gregor".into(),
//!     content: "Done: three decisions, two open questions.".into(),
//!     complete_task: Some(submitted.task.id().to_owned()),
//!     tokens: Some(1200),
//!     ..Reply::default()
//! })?;
//! assert_eq!(report.completed.unwrap().0.state(), msg_inbox::TaskState::Done);
//! # std::fs::remove_dir_all(&root)?;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: the only crate that depends on all the others; it knows no wire
//! protocol itself (it speaks `msg_relay::protocol`'s types) and no file layout of the
//! stores: received messages and delivery states are `MessageStore` operations that the
//! relay client only calls. Its own files are the watcher's record of what it showed, `msg
//! mcp`'s record of what it pushed and (read only) earlier builds' task ↔ admission links,
//! all under the governor's state directory (see [`watch`] and [`TaskDesk`]).

mod cli;
mod contacts;
mod context;
mod desk;
mod error;
mod hook;
mod mcp;
mod record;
mod relay_client;
mod setup;
mod sighting;
mod suggest;

pub use cli::{inbox_watcher_main, mark_message_main, msg_main, send_reply_main, task_queue_main};
pub use context::{AGENT_SUFFIX, Context, utc_offset};
pub use desk::{
    ADMISSION_PROPERTY, Delivery, GovernorNote, MESSAGE_ID_PROPERTY, Reply, ReplyReport, Sent,
    Submission, Submitted, TASK_PROPERTY, TaskDesk, send_reply,
};
pub use error::HooksError;
pub use hook::{EventKind, HookEvent, MAX_CONTEXT_CHARS, WatchOutput, watch};
