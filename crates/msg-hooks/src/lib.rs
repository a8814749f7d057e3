//! `msg-hooks`: the executables of datacore-messaging, and the library they share.
//!
//! People and their AI agents hand each other messages and tasks through org files. This
//! crate wires the store ([`msg_store`]), the agent task files ([`msg_inbox`]) and the
//! governor ([`msg_governor`]) into the programs that use them (DESIGN.md §8):
//!
//! - `inbox-watcher`: Claude Code's `UserPromptSubmit`/`SessionStart` hook. It claims the
//!   next task atomically and shows the agent what is new, once, with the task ID and the
//!   exact command to complete it; text from senders below the owner tier is framed as data
//!   ([`watcher`], [`HookEvent`]).
//! - `send-reply`: the agent's reply; with `--complete-task`, completes the task and
//!   reconciles the governor ([`send_reply`]).
//! - `mark-message`, `task-queue`: the original's helper commands ([`mark`], [`TaskDesk`]).
//! - `msg`: the person's command: send, inbox, show, read, thread, tasks, task …, usage,
//!   contacts, init, doctor, hooks install, migrate (from the v0.1.0 layout, [`migrate`]),
//!   intake, demo, and `msg relay connect`: the
//!   machine's relay client ([`relay_client`]), which receives messages into the inbox once
//!   ([`mailroom`]), turns messages to an agent into its tasks through the governor
//!   ([`intake`]) and sends the outbox, recording each delivery.
//!
//! The binaries in `src/bin` are thin: they parse arguments ([`cli`]), call this library,
//! and print. The library returns [`HooksError`]s that name the file, the ID or the field.
//!
//! ```
//! use msg_core::{config::Settings, paths::Paths};
//! use msg_hooks::{Context, HookEvent, Reply, Submission, TaskDesk, send_reply, watcher};
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
//! let output = watcher::watch(&ctx, &HookEvent::default())?;
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
//! stores: received messages and delivery states are `MessageStore` operations that
//! [`mailroom`] only calls. Its own files are the watcher's record of what it showed and
//! (read only) earlier builds' task ↔ admission links, both under the governor's state
//! directory (see [`watcher`] and [`TaskDesk`]).

mod admission_links;
pub mod arrivals;
mod briefing;
pub mod claude_settings;
pub mod cli;
pub mod contacts;
mod context;
pub mod demo;
pub mod doctor;
mod error;
mod hook_event;
pub mod init;
pub mod intake;
pub mod json;
mod lookup;
pub mod mailroom;
mod messages;
pub mod migrate;
pub mod presence;
pub mod relay_client;
pub mod render;
mod reply;
mod seen;
mod tasks;
mod untrusted;
pub mod watcher;

pub use briefing::MAX_CONTEXT_CHARS;
pub use context::{AGENT_SUFFIX, Context, utc_offset};
pub use error::HooksError;
pub use hook_event::{EventKind, HookEvent};
pub use messages::{Found, MarkAction, find_any, find_message, mark, replies_to_task};
pub use msg_store::{DELIVERY_PENDING, DELIVERY_PROPERTY};
pub use reply::{Delivery, Outgoing, Reply, ReplyReport, Sent, TASK_PROPERTY, send, send_reply};
pub use tasks::{ADMISSION_PROPERTY, GovernorNote, Submission, Submitted, TaskDesk};
