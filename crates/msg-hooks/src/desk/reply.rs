//! `send-reply`: the agent's reply, which may complete the task it answers.
//!
//! A reply that completes a task carries `:TASK: <task ID>` ([`TASK_PROPERTY`](super::TASK_PROPERTY)), so the
//! task's reply can be found (`msg show <task>` lists it); the task is completed and the
//! governor reconciled with the tokens used. A task that came in as a message has its
//! result go back to that message's sender, as the answer to that message.

use msg_inbox::{InboxError, Operation, Task, TaskState};
use msg_store::Priority;

use super::MESSAGE_ID_PROPERTY;
use super::messages::task_message;
use super::send::{Outgoing, Sent, send};
use super::tasks::{GovernorNote, TaskDesk};
use crate::context::Context;
use crate::error::HooksError;

/// The agent's reply (`send-reply`).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The recipient.
    pub to: String,
    /// The text.
    pub content: String,
    /// The message answered (ID, or unique prefix or suffix).
    pub reply_to: Option<String>,
    /// The task this reply completes (ID, or unique prefix or suffix); it must be WORKING.
    pub complete_task: Option<String>,
    /// The tokens the task used.
    pub tokens: Option<u64>,
    /// The sender, if not the agent (`--as`).
    pub sender: Option<String>,
    /// The agent whose task `complete_task` names (default: the user's agent); `msg mcp
    /// --agent` serves another local agent.
    pub agent: Option<String>,
}

/// What `send-reply` did.
#[derive(Debug, Clone)]
pub struct ReplyReport {
    /// The reply.
    pub sent: Sent,
    /// The task completed, and what the governor did.
    pub completed: Option<(Task, GovernorNote)>,
}

/// Sends the agent's reply and, with `complete_task`, completes the task: everything that can
/// be checked is checked before the reply is written (the recipient, the message answered,
/// the task and its state), so a mistake writes nothing.
pub fn send_reply(ctx: &Context, reply: &Reply) -> Result<ReplyReport, HooksError> {
    let sender = reply.sender.as_deref().unwrap_or(ctx.agent());
    msg_core::validate::actor("as", sender)?;
    let to = ctx.recipient(&reply.to)?;
    msg_core::validate::actor("to", &to)?;
    let reply = &Reply {
        to,
        ..reply.clone()
    };
    let task = match &reply.complete_task {
        Some(given) => {
            let desk = TaskDesk::open(ctx, reply.agent.as_deref())?;
            let task = desk.find(given)?;
            if task.state() != TaskState::Working {
                return Err(InboxError::WrongState {
                    id: task.id().to_owned(),
                    operation: Operation::Complete,
                    keyword: Some(task.state().keyword().to_owned()),
                }
                .into());
            }
            Some((desk, task))
        }
        None => None,
    };
    let outgoing = Outgoing {
        thread: None,
        from: sender.to_owned(),
        to: reply.to.clone(),
        content: reply.content.clone(),
        reply_to: reply.reply_to.clone(),
        priority: Priority::Normal,
    };
    let mut outgoing = outgoing;
    if let Some((_, task)) = &task {
        check_result_recipient(task, &outgoing.to)?;
        if outgoing.reply_to.is_none() {
            outgoing.reply_to = task_message(ctx, task)?;
        }
    }
    let sent = send(ctx, &outgoing, task.as_ref().map(|(_, t)| t.id()))?;
    let Some((desk, task)) = task else {
        return Ok(ReplyReport {
            sent,
            completed: None,
        });
    };
    let id = sent.message.id.clone();
    let done = desk
        .inbox()?
        .complete(task.id(), reply.tokens, "", "", None)
        .map_err(|err| {
            HooksError::from(err).after(
                format!("the reply {id} was sent"),
                format!("completing task {} failed", task.id()),
            )
        })?;
    let note = desk
        .reconcile(&done, reply.tokens.unwrap_or(0))
        .map_err(|err| {
            err.after(
                format!("the reply {id} was sent and task {} is DONE", task.id()),
                "updating the governor failed",
            )
        })?;
    Ok(ReplyReport {
        sent,
        completed: Some((done, note)),
    })
}

/// A task that came in as a message has its result go back to who sent it: another
/// recipient is a mistake (the sender would never hear of the result).
fn check_result_recipient(task: &Task, to: &str) -> Result<(), HooksError> {
    let (Some(_), Some(from)) = (task.property(MESSAGE_ID_PROPERTY), task.from()) else {
        return Ok(());
    };
    if from == to {
        return Ok(());
    }
    Err(HooksError::WrongRecipient {
        task: task.id().to_owned(),
        from: from.to_owned(),
        given: to.to_owned(),
    })
}
