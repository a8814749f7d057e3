//! The agent's door: `msg mcp`, a Model Context Protocol server on stdin/stdout for one
//! agent, with few tools and new work pushed as it arrives (DESIGN.md §9).
//!
//! - [`door`]: [`Door`], the agent served (from the settings, or `msg mcp --agent`) and what
//!   it may see: messages to it or from it and its own tasks, never the person's own mail;
//! - [`tools`]: the catalogue (names, short descriptions, hand-written schemas: the model
//!   pays for every byte) and the dispatch; [`input`] checks a call's arguments, each error
//!   naming the argument and the fix;
//! - [`messages`] (`inbox`, `read`, `send`), [`tasks`] (`tasks`, `claim_task`,
//!   `complete_task`, `return_task`) and [`usage`]: the tools, plain functions over the
//!   desk, the stores and the governor, as the CLI calls them (the same locks, the same
//!   governor); [`text`] is how they write for the model, others' text framed as data;
//! - [`push`]: new work noticed by file notifications (`desk/arrivals.rs`'s `FileWatch`, which `msg watch` uses too) and
//!   told as Claude Code channel notifications, each once ([`pushed`] remembers);
//! - [`server`]: the only file that imports rmcp (the official SDK), so a new major version
//!   of it changes one file.
//!
//! Edges inside the wing point one way: `server` uses `tools` and `push`; `tools` uses the
//! tool files, which use `door`, `input` and `text`; `messages` uses `tasks` (to show a
//! task by ID).

mod door;
mod input;
mod messages;
mod push;
mod pushed;
mod server;
mod tasks;
mod text;
mod tools;
mod usage;

pub(crate) use door::Door;
pub(crate) use server::serve;
