//! Integration tests: the real executables (`msg`, `inbox-watcher`, `send-reply`,
//! `mark-message`, `task-queue`) run in a temporary Datacore root.

mod common;

mod bad_input;
mod concurrency;
mod mark_message;
mod msg;
mod relay;
mod send_reply;
mod task_queue;
mod watcher;
