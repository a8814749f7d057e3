//! `msg migrate`: the v0.1.0 layout (`<space>/org/inboxes/`) into today's files.
//!
//! v0.1.0 kept one file per recipient under `org/inboxes/`: `<user>.org` (messages, keyword
//! `MESSAGE`, status in the tags `:unread:`, `:todo:`, `:done:`), `<user>-claude.org` (the
//! agent's tasks, status in `TASK_STATUS`, `STARTED_AT`, `COMPLETED_AT`) and `USERS.yaml`.
//! This module turns them into:
//!
//! - `org/messaging/inbox.org`: `* TODO [ts] :unread:message:` (unread), `* TODO … :message:todo:`
//!   (marked to do), `* DONE … :message:` (done or read); every property kept, `thread-<id>`
//!   thread IDs mapped to the root message's ID (the old value in `ORIGINAL_THREAD`), a
//!   `high`/`low` `PRIORITY` also written as Org's `[#A]`/`[#C]` cookie, `CREATED` from the
//!   heading's timestamp;
//! - `org/messaging/agents/<user>-claude.org`: DONE (`TASK_STATUS: done` or `:done:`), WORKING
//!   (`TASK_STATUS: working`), otherwise WAITING for the person's approval (a migration never
//!   starts work on its own); `STARTED_AT`/`COMPLETED_AT` become `STARTED`/`COMPLETED`, the
//!   sender's tier is written as `TRUST_TIER`, the first line of the text becomes the title;
//! - `<space>/contacts.yaml`: `actors: [{id, name, handles, trust_tier, added}]`.
//!
//! Every migrated entry carries `MIGRATED_FROM: v0.1.0 org/inboxes/<file>:<line>`. A v0.1.0
//! ID that is already taken (the old scheme gave two messages of one sender in one second the
//! same ID) gets `<id>-dup<n>` and keeps the old one in `ORIGINAL_ID`; references to it are
//! left as they were (they pointed at the first one) and the plan says so.
//!
//! # Crash safety and idempotence
//!
//! 1. Every target file gets its new entries in one locked, durable append (the org engine);
//!    `contacts.yaml` is created or replaced atomically, its old version copied to the
//!    backup first.
//! 2. The targets are read back through `msg-store` and `msg-inbox`: every planned ID must be
//!    found with its state.
//! 3. Only then are the old files moved (`rename`, then `fsync` of both directories) into
//!    `<space>/org/migration-backup/v0.1.0-<date>/`. Nothing is deleted.
//!
//! A run that stops anywhere can be run again: an entry whose `MIGRATED_FROM` is already in
//! the target is not appended twice (duplicate IDs are numbered from the source files
//! alone, so they come out the same), contacts already listed are not added again, and a
//! file already moved is no longer a source. Once everything is moved, a run changes nothing.

//!
//! The steps, one file each: `read.rs` reads a v0.1.0 file, `convert.rs` turns each entry
//! into today's form, `contacts.rs` merges `USERS.yaml` into `contacts.yaml`, `plan.rs`
//! decides the IDs and says what a run would do ([`plan`]), `run.rs` carries it out
//! ([`migrate`]).

mod contacts;
mod convert;
mod plan;
mod read;
mod run;

use std::path::Path;

use msg_store::StoreError;

use crate::error::HooksError;

pub(crate) use run::{MigrateOptions, migrate};

/// The folder of the v0.1.0 files, below `<space>/org/`.
pub(crate) const V010_DIR: &str = "inboxes";
/// The property that records where a migrated entry came from.
pub(crate) const MIGRATED_FROM: &str = "MIGRATED_FROM";
/// The property that keeps a v0.1.0 ID that had to be replaced.
pub(crate) const ORIGINAL_ID: &str = "ORIGINAL_ID";
/// The property that keeps a v0.1.0 `thread-…` ID that was mapped.
pub(crate) const ORIGINAL_THREAD: &str = "ORIGINAL_THREAD";
/// The folder below `<space>/org/` that receives the old files.
pub(crate) const BACKUP_DIR: &str = "migration-backup";

pub(super) fn org_error(err: msg_core::org::OrgError) -> HooksError {
    HooksError::Store(StoreError::Org(err))
}

/// Which kind of file a source becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Messages for the inbox.
    Inbox,
    /// Tasks for the agent's file.
    Agent,
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
