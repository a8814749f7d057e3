//! `msg-inbox` will hold `AgentInbox`: one task file per agent
//! (`<space>/org/messaging/agents/<agent>.org`) and the task state machine
//! (WAITING → QUEUED → WORKING → DONE → ARCHIVED, plus CANCELLED; DESIGN.md §5).
//!
//! **Status: not implemented yet.** This crate is a placeholder in the workspace so that the
//! layering of the design card exists from the start; it exports nothing. The work is tracked
//! in the issue "msg-inbox: agent task files with a state machine people can drive from Emacs".
//!
//! Architecture invariant: depends on `msg-core` only; never on `msg-store`, `msg-governor`
//! or `msg-relay`.
