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
    /// The thread to join without answering a message (a broadcast's later copies).
    pub(crate) thread: Option<String>,
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
    if outgoing.content.trim().is_empty() {
        return Err(msg_core::validate::ValidationError::Empty {
            field: "the message text".into(),
        }
        .into());
    }
    if to != ctx.user() {
        check_relay_recipient(&to)?;
        check_frame_size(&to, &outgoing.content)?;
    }
    let outgoing = &Outgoing {
        to,
        ..outgoing.clone()
    };
    let mut message = NewMessage::new(&outgoing.from, &outgoing.to, &outgoing.content)
        .priority(outgoing.priority);
    if let Some(given) = &outgoing.reply_to {
        message = message.reply_to(find_parent(ctx, given)?);
    } else if let Some(thread) = &outgoing.thread {
        message = message.thread(thread);
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

/// Why sending to `to` may be a mistake when `to` is in no contact and no settings entry
/// (a mistyped name would wait on the relay for nobody); `None` for a known actor. `msg
/// send` prints it as a warning, `msg mcp`'s `send` adds it to its answer.
pub(crate) fn unknown_recipient(ctx: &Context, to: &str) -> Option<String> {
    (!ctx.knows(to)).then(|| {
        format!(
            "{to:?} is in no contact and no settings entry; if the name is mistyped, the message waits on the relay for nobody (`msg contacts add {to}` makes it known)"
        )
    })
}

/// A recipient the relay can deliver to: a name someone can log in as
/// ([`msg_relay::validate_username`]: one line, no control characters, at most 128 bytes).
/// Anything else would wait in the relay's queue for nobody until it expires.
pub(crate) fn check_relay_recipient(to: &str) -> Result<(), HooksError> {
    msg_relay::validate_username(to).map_err(|err| HooksError::InvalidName {
        field: "recipient".into(),
        value: to.to_owned(),
        reason: format!("no one can log in to a relay under that name ({err})"),
    })
}

/// A message whose `send` frame fits in a relay's default frame limit
/// ([`msg_relay::protocol::MAX_FRAME_BYTES`]): refused now, with the limit, rather than
/// accepted and failed at the next connection. The frame is measured as the client will
/// write it, with the longest ID and timestamp this client writes.
fn check_frame_size(to: &str, content: &str) -> Result<(), HooksError> {
    use msg_relay::protocol::{ClientFrame, MAX_FRAME_BYTES};
    let frame = ClientFrame::Send {
        to: Some(to.to_owned()),
        content: Some(content.to_owned()),
        id: Some("msg-20261207-120000-0123456789abcdef".to_owned()),
        thread: Some("msg-20261207-120000-0123456789abcdef".to_owned()),
        reply_to: Some("msg-20261207-120000-0123456789abcdef".to_owned()),
        timestamp: Some("[2026-12-07 Mon 12:00]".to_owned()),
    }
    .to_json();
    if frame.len() <= MAX_FRAME_BYTES {
        return Ok(());
    }
    Err(HooksError::TooLong {
        bytes: content.len(),
        frame: frame.len(),
        limit: MAX_FRAME_BYTES,
    })
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
    .map_err(|err| super::messages::also_searched(err, [ctx.paths().outbox_file(ctx.space()).ok()]))
}
