//! The optional `Stop` hook: keeps the agent working when an urgent task is waiting.
//!
//! Claude Code runs it when the agent is about to stop. It answers
//! `{"decision":"block","reason":…}`, which makes the agent go on with the reason as its
//! next instruction, only when all of these hold:
//!
//! - `stop_hook_active` is false: the agent is not already going on because of a Stop hook
//!   (so the hook can never keep it going in a loop);
//! - no task is WORKING (the agent stops with its task in progress: that is for its person
//!   to see, not for the hook to overrule);
//! - a QUEUED task carries the tag `urgent` ([`URGENT_TAG`]): already accepted by its
//!   sender's tier or approved by the owner, and marked urgent by the owner or sent with
//!   priority high.
//!
//! Then the oldest urgent task is claimed (by ID: if another run claimed it first, the agent
//! stops) and the reason is the same briefing a prompt would show for it. Otherwise the hook
//! prints nothing and the agent stops. It is registered only on request (`msg hooks install
//! --stop`, or the plugin `msg-keep-working`), because it lets queued work continue without
//! a prompt from the person.

use msg_inbox::{InboxError, TaskState};
use serde_json::json;

use super::briefing::{Briefing, TaskShown};
use super::hook_event::HookEvent;
use super::seen::Held;
use super::untrusted::Boundary;
use super::watcher::{WatchOutput, context_now, task_item};
use crate::context::Context;
use crate::desk::URGENT_TAG;
use crate::error::HooksError;
use crate::sighting::Sighting;

/// Answers a `Stop` event: the block decision with the claimed urgent task, or nothing.
pub(super) fn keep_working(ctx: &Context, event: &HookEvent) -> Result<WatchOutput, HooksError> {
    if event.stop_hook_active {
        return Ok(WatchOutput::default());
    }
    let agent_path = ctx.agent_file(None)?;
    if !agent_path.exists() {
        return Ok(WatchOutput::default());
    }
    let (record, warning) = Held::open(ctx)?;
    let seen = &record.seen;
    let mut output = WatchOutput::default();
    output.warnings.extend(warning);

    let inbox = ctx.agent_inbox(None)?;
    let tasks = inbox.find_by_state(&[TaskState::Working, TaskState::Queued])?;
    if tasks.iter().any(|t| t.state() == TaskState::Working) {
        return Ok(output);
    }
    let Some(urgent) = tasks
        .iter()
        .find(|t| t.tags().iter().any(|tag| tag == URGENT_TAG))
    else {
        return Ok(output);
    };
    let task = match inbox.claim(urgent.id()) {
        Ok(task) => task,
        // Claimed, cancelled or removed since the read: nothing to keep working on.
        Err(InboxError::NotFound { .. } | InboxError::WrongState { .. }) => return Ok(output),
        Err(err) => return Err(err.into()),
    };

    let (mut shown, _) = context_now(seen, event);
    shown.task = Some(task.id().to_owned());
    let briefing = Briefing {
        task: Some(task_item(ctx, task.clone(), TaskShown::Claimed, 0)),
        ..Briefing::default()
    };
    let note = briefing.has_frame() && !shown.note;
    shown.note |= briefing.has_frame();
    let mut next = seen.clone();
    next.in_progress = Some(task.id().to_owned());
    next.context = Some(shown);
    // The claim changed the file: the next prompt reads it again and finds the task shown.
    next.files.agent = Sighting::of(&agent_path);
    record.save(&next)?;
    let reason = format!(
        "[messaging] An urgent task is waiting, so you go on with it.\n\n{}",
        briefing.render(&Boundary::random(), note)
    );
    output.stdout = Some(format!(
        "{}\n",
        json!({"decision": "block", "reason": reason})
    ));
    Ok(output)
}
