//! `msg-governor` will hold `TaskGovernor`: trust tiers, per-sender and global daily token
//! budgets with reservations, tasks per hour, effort caps and queue depth, checked and recorded
//! atomically across processes (DESIGN.md §6).
//!
//! **Status: not implemented yet.** This crate is a placeholder in the workspace so that the
//! layering of the design card exists from the start; it exports nothing. Trust tiers and
//! compute limits are already read by `msg_core::config`.
//!
//! Architecture invariant: depends on `msg-core` only and never on an async runtime
//! (`cargo tree -p msg-governor -e normal` shows no tokio).
