//! Sending a message: the person's (`msg send`), the agent's reply ([`super::reply`]), and
//! the agent's word to a task's sender ([`super::task_news`], intake's refusals).
//!
//! Where a message goes:
//!
//! - to the local user (`identity.name`): into the local `inbox.org`, unread. It is
//!   delivered; nothing else has to happen.
//! - to anyone else: into `outbox.org` as a sent message with `:DELIVERY: pending`, which
//!   the relay connection (a later issue) delivers and marks. The Python original wrote the
//!   reply into the sender's own inbox as unread and sent nothing (reference D-HK-4).
//!
//! A message about a task carries `:TASK: <task ID>` ([`TASK_PROPERTY`]), so the replies to a
//! task can be found (`msg show <task>` lists them).

use msg_store::{DELIVERY_PENDING, DELIVERY_PROPERTY, Message, NewMessage, Priority};

use super::TASK_PROPERTY;
use super::lookup;
use crate::context::Context;
use crate::error::HooksError;

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
pub(crate) struct Outgoing {
    /// The sender.
    pub(crate) from: String,
    /// The recipient.
    pub(crate) to: String,
    /// The text (several lines allowed).
    pub(crate) content: String,
    /// The message answered: its ID, or a unique prefix or suffix of it.
    pub(crate) reply_to: Option<String>,
    /// The priority.
    pub(crate) priority: Priority,
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
pub(crate) fn send(
    ctx: &Context,
    outgoing: &Outgoing,
    task: Option<&str>,
) -> Result<Sent, HooksError> {
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
    let to = ctx.recipient(&outgoing.to)?;
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
