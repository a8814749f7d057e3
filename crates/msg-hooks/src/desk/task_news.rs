//! Task news: the sender of a task that came in as a message hears what becomes of it
//! (completed, revision asked, accepted, rejected, cancelled), as a message from the agent
//! answering the original message, with `:TASK:` and `:TASK_EVENT:`.

use msg_inbox::Task;
use msg_store::Priority;

use super::messages::task_message;
use super::send::{Outgoing, Sent, send_with_properties};
use super::{MESSAGE_ID_PROPERTY, TASK_PROPERTY};
use crate::context::Context;
use crate::error::HooksError;

/// The property naming what happened to the task a message tells of.
const TASK_EVENT_PROPERTY: &str = "TASK_EVENT";

/// What happened to a task that its sender should hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskEvent {
    /// Completed without a reply (`msg task complete`).
    Completed,
    /// The owner asked the agent for a revision.
    RevisionRequested(String),
    /// The owner accepted the result.
    Accepted,
    /// The owner rejected the task before it started.
    Rejected(String),
    /// The task was cancelled.
    Cancelled(String),
}

impl TaskEvent {
    fn key(&self) -> &'static str {
        match self {
            TaskEvent::Completed => "completed",
            TaskEvent::RevisionRequested(_) => "revision_requested",
            TaskEvent::Accepted => "accepted",
            TaskEvent::Rejected(_) => "rejected",
            TaskEvent::Cancelled(_) => "cancelled",
        }
    }

    fn text(&self, ctx: &Context, task: &Task) -> String {
        let title = task.title();
        let with = |what: &str, why: &str| {
            if why.trim().is_empty() {
                format!("{what}.")
            } else {
                format!("{what}: {why}")
            }
        };
        match self {
            TaskEvent::Completed => {
                let mut text = format!("Your task \"{title}\" is done.");
                if let Some(result) = task.property("RESULT_PATH").filter(|r| !r.is_empty()) {
                    text.push_str(&format!("\nResult: {result}"));
                }
                text
            }
            TaskEvent::RevisionRequested(feedback) => with(
                &format!(
                    "{} asked for a revision of \"{title}\"; it is queued again",
                    ctx.user()
                ),
                feedback,
            ),
            TaskEvent::Accepted => format!("{} accepted the result of \"{title}\".", ctx.user()),
            TaskEvent::Rejected(reason) => with(
                &format!("{} declined your task \"{title}\"", ctx.user()),
                reason,
            ),
            TaskEvent::Cancelled(reason) => {
                with(&format!("Your task \"{title}\" was cancelled"), reason)
            }
        }
    }
}

/// Tells the sender of `task` (owned by `agent`) what happened to it, when the task came in
/// as a message from someone else (it has a `MESSAGE_ID` and its sender is neither the
/// local user nor a local agent): a message from the agent, through the outbox and the
/// relay, answering the original message. Returns the message sent, if any.
pub(crate) fn tell_sender(
    ctx: &Context,
    agent: &str,
    task: &Task,
    event: &TaskEvent,
) -> Result<Option<Sent>, HooksError> {
    let (Some(_), Some(from)) = (task.property(MESSAGE_ID_PROPERTY), task.from()) else {
        return Ok(None);
    };
    if from == ctx.user() || ctx.local_agents().iter().any(|a| a == from) {
        return Ok(None);
    }
    let sent = send_with_properties(
        ctx,
        &Outgoing {
            thread: None,
            from: agent.to_owned(),
            to: from.to_owned(),
            content: event.text(ctx, task),
            reply_to: task_message(ctx, task)?,
            priority: Priority::Normal,
        },
        &[
            (TASK_PROPERTY, task.id()),
            (TASK_EVENT_PROPERTY, event.key()),
        ],
    )?;
    Ok(Some(sent))
}
