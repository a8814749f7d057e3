//! Integration tests: the real executables (`msg`, `inbox-watcher`, `send-reply`,
//! `mark-message`, `task-queue`) run in a temporary Datacore root.

mod common;

mod bad_input;
mod concurrency;
mod mark_message;
mod msg;
mod relay;
// SIGKILL of a relay child process: unix only.
#[cfg(unix)]
mod relay_crash;
mod send_reply;
mod task_queue;
mod watcher;
