//! `msg-hooks` will hold the executables that wire the other crates together: `msg` (the
//! person's command), `inbox-watcher` (Claude Code's UserPromptSubmit hook), `send-reply`,
//! `mark-message` and `task-queue` (DESIGN.md §8).
//!
//! **Status: not implemented yet.** This crate is a placeholder in the workspace so that the
//! layering of the design card exists from the start; it builds no executable yet.
//!
//! Architecture invariant: the only crate allowed to depend on all the others.
