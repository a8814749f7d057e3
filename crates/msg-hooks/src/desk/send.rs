//! Sending: the agent's replies (`send-reply`) and the person's messages (`msg send`).
//!
//! Where a message goes:
//!
//! - to the local user (`identity.name`): into the local `inbox.org`, unread. It is
//!   delivered; nothing else has to happen.
//! - to anyone else: into `outbox.org` as a sent message with `:DELIVERY: pending`, which
//!   the relay connection (a later issue) delivers and marks. The Python original wrote the
//!   reply into the sender's own inbox as unread and sent nothing (reference D-HK-4).
//!
//! A reply that completes a task carries `:TASK: <task ID>`, so the task's reply can be found
//! (`msg show <task>` lists it); the task is completed and the governor reconciled with the
//! tokens used.

use msg_inbox::{InboxError, Operation, Task, TaskState};
use msg_store::{DELIVERY_PENDING, DELIVERY_PROPERTY, Message, NewMessage, Priority};

use crate::context::Context;
use crate::error::HooksError;
use crate::intake::MESSAGE_ID_PROPERTY;
use crate::lookup;
use crate::tasks::{GovernorNote, TaskDesk};

/// The property linking a reply to the task it completes.
pub const TASK_PROPERTY: &str = "TASK";

/// Where a sent message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The recipient is the local user: the message is in the local inbox.
    LocalInbox,
    /// The recipient is elsewhere: the message waits in `outbox.org` for the relay.
    PendingRelay,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The text (several lines allowed).
    pub content: String,
    /// The message answered: its ID, or a unique prefix or suffix of it.
    pub reply_to: Option<String>,
    /// The priority.
    pub priority: Priority,
}

/// A message sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message as written.
    pub message: Message,
    /// Where it went.
    pub delivery: Delivery,
}

impl Sent {
    /// The original's confirmation line, `[messaging] Sent: <id>`, and where the message is.
    pub fn confirmation(&self) -> String {
        match self.delivery {
            Delivery::LocalInbox => format!(
                "[messaging] Sent: {} (delivered to the local inbox)",
                self.message.id
            ),
            Delivery::PendingRelay => format!(
                "[messaging] Sent: {} (in outbox.org, pending delivery by the relay)",
                self.message.id
            ),
        }
    }
}

/// Sends `outgoing`; `task` (an exact task ID) links it to the task it completes. The
/// arguments are checked before the inbox or outbox is opened (or created).
pub fn send(ctx: &Context, outgoing: &Outgoing, task: Option<&str>) -> Result<Sent, HooksError> {
    let task: Vec<(&str, &str)> = task.map(|t| (TASK_PROPERTY, t)).into_iter().collect();
    send_with_properties(ctx, outgoing, &task)
}

/// [`send`] with properties of the caller's on the message (`TASK`, `INTAKE`, ...).
pub(crate) fn send_with_properties(
    ctx: &Context,
    outgoing: &Outgoing,
    properties: &[(&str, &str)],
) -> Result<Sent, HooksError> {
    msg_core::validate::actor("from", &outgoing.from)?;
    let to = crate::contacts::recipient(ctx, &outgoing.to)?;
    msg_core::validate::actor("to", &to)?;
    let outgoing = &Outgoing {
        to,
        ..outgoing.clone()
    };
    let mut message = NewMessage::new(&outgoing.from, &outgoing.to, &outgoing.content)
        .priority(outgoing.priority);
    if let Some(given) = &outgoing.reply_to {
        message = message.reply_to(find_parent(ctx, given)?);
    }
    let store = ctx.store()?;
    for (key, value) in properties {
        message = message.property(*key, *value);
    }
    if outgoing.to == ctx.user() {
        Ok(Sent {
            message: store.create_message(&message)?,
            delivery: Delivery::LocalInbox,
        })
    } else {
        let message = message.property(DELIVERY_PROPERTY, DELIVERY_PENDING);
        Ok(Sent {
            message: store.record_sent(&message)?,
            delivery: Delivery::PendingRelay,
        })
    }
}

/// The ID of the message answered: a received or sent message whose ID is `given`, or the
/// only one starting or ending with it.
fn find_parent(ctx: &Context, given: &str) -> Result<String, HooksError> {
    let (received, sent) = match ctx.existing_store()? {
        Some(store) => (store.all()?, store.sent()?),
        None => (Vec::new(), Vec::new()),
    };
    lookup::resolve(
        given,
        received.iter().chain(sent.iter()).map(|m| m.id.as_str()),
        "message",
        &ctx.inbox_file()?,
    )
}

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
    let to = crate::contacts::recipient(ctx, &reply.to)?;
    msg_core::validate::actor("to", &to)?;
    let reply = &Reply {
        to,
        ..reply.clone()
    };
    let task = match &reply.complete_task {
        Some(given) => {
            let desk = TaskDesk::open(ctx, None)?;
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

/// The message a task came from (its `MESSAGE_ID`), when it is still in the inbox.
fn task_message(ctx: &Context, task: &Task) -> Result<Option<String>, HooksError> {
    let Some(id) = task.property(MESSAGE_ID_PROPERTY) else {
        return Ok(None);
    };
    let Some(store) = ctx.existing_store()? else {
        return Ok(None);
    };
    Ok(store.by_id(id)?.map(|m| m.id))
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
    if from == ctx.user() || crate::intake::local_agents(ctx).iter().any(|a| a == from) {
        return Ok(None);
    }
    let sent = send_with_properties(
        ctx,
        &Outgoing {
            from: agent.to_owned(),
            to: from.to_owned(),
            content: event.text(ctx, task),
            reply_to: task_message(ctx, task)?,
            priority: Priority::Normal,
        },
        &[(TASK_PROPERTY, task.id()), ("TASK_EVENT", event.key())],
    )?;
    Ok(Some(sent))
}
