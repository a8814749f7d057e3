//! Integration tests: the real executables (`msg`, `inbox-watcher`, `send-reply`,
//! `mark-message`, `task-queue`) run in a temporary Datacore root.

#[path = "../support/mod.rs"]
#[allow(dead_code, reason = "each test binary uses part of the shared harness")]
mod support;

mod arrivals;
mod bad_input;
mod broadcast;
mod cli;
mod concurrency;
mod contacts;
mod defects;
mod faults;
mod mark_message;
mod mcp;
mod mcp_inspector;
mod msg;
mod relay;
mod send_reply;
mod sent;
mod task_queue;
mod watcher;
