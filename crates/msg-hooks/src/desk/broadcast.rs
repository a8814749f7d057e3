//! One message to several recipients: `msg send alice,bob "…"` and `msg broadcast --group
//! team "…"` (groups are defined in `contacts.yaml`).
//!
//! Each recipient gets a message of its own, as `msg send` would send it: its own outbox
//! entry with its own delivery state (or, for the local user, an inbox entry; for the
//! user's agent, a task through the governor). The copies share one thread: the first copy
//! is its root and the others carry `THREAD: <root>` (or, answering a message, every copy
//! joins that message's thread). Everything that can be checked is checked for every
//! recipient before the first copy is written; a refusal by the governor for the agent's
//! task leaves the other copies sent and is reported with them.

use msg_store::Priority;

use super::send::{Outgoing, Sent, check_relay_recipient, send};
use super::tasks::{Submission, Submitted, TaskDesk};
use crate::context::Context;
use crate::error::HooksError;

/// A message for several recipients.
#[derive(Debug, Clone)]
pub(crate) struct Broadcast {
    /// The sender.
    pub(crate) from: String,
    /// The recipients as given (actor IDs or `@handles`), in order; repeats are sent once.
    pub(crate) to: Vec<String>,
    /// The text.
    pub(crate) content: String,
    /// The message answered (ID, or a unique prefix or suffix).
    pub(crate) reply_to: Option<String>,
    /// The priority.
    pub(crate) priority: Priority,
}

/// What became of one recipient's copy.
#[derive(Debug)]
pub(crate) enum Copy {
    /// A message, in the inbox or the outbox.
    Sent(Sent),
    /// A task for the user's agent.
    Task(Submitted),
    /// Refused (by the governor, for the agent); the other copies are unaffected.
    Refused(HooksError),
}

/// Sends `broadcast` to each of its recipients; returns each recipient's ID and copy, in
/// order. An error means nothing was written.
pub(crate) fn broadcast(
    ctx: &Context,
    broadcast: &Broadcast,
) -> Result<Vec<(String, Copy)>, HooksError> {
    let mut recipients: Vec<String> = Vec::new();
    for given in &broadcast.to {
        let id = ctx.recipient(given.trim())?;
        msg_core::validate::actor("to", &id)?;
        if id != ctx.user() && id != ctx.agent() {
            check_relay_recipient(&id)?;
        }
        if !recipients.contains(&id) {
            recipients.push(id);
        }
    }
    if recipients.is_empty() {
        return Err(msg_core::validate::ValidationError::Empty {
            field: "the recipients".into(),
        }
        .into());
    }
    if broadcast.content.trim().is_empty() {
        return Err(msg_core::validate::ValidationError::Empty {
            field: "the message text".into(),
        }
        .into());
    }
    let to_agent = recipients.iter().any(|r| r == ctx.agent());
    if to_agent && (broadcast.reply_to.is_some() || broadcast.priority != Priority::Normal) {
        return Err(HooksError::InvalidName {
            field: "recipient".into(),
            value: ctx.agent().to_owned(),
            reason: "a message to your agent becomes a task: --reply-to and --priority do not apply; send it separately".into(),
        });
    }
    let mut copies = Vec::with_capacity(recipients.len());
    // The thread's root: the first copy written (unless the copies answer a message).
    let mut root: Option<String> = None;
    for to in recipients {
        if to == ctx.agent() {
            let copy = match TaskDesk::open(ctx, None)?.submit(&Submission {
                from: broadcast.from.clone(),
                text: broadcast.content.clone(),
                tags: vec!["AI".into()],
                ..Submission::default()
            }) {
                Ok(submitted) => Copy::Task(submitted),
                Err(err @ HooksError::Rejected(_)) => Copy::Refused(err),
                Err(err) => return Err(partial(&copies, err)),
            };
            copies.push((to, copy));
            continue;
        }
        let outgoing = Outgoing {
            from: broadcast.from.clone(),
            to: to.clone(),
            content: broadcast.content.clone(),
            reply_to: broadcast.reply_to.clone(),
            thread: root.clone(),
            priority: broadcast.priority,
        };
        let sent = send(ctx, &outgoing, None).map_err(|err| partial(&copies, err))?;
        if root.is_none() && broadcast.reply_to.is_none() {
            root = Some(sent.message.id.clone());
        }
        copies.push((to, Copy::Sent(sent)));
    }
    Ok(copies)
}

/// An error after some copies were written says which.
fn partial(copies: &[(String, Copy)], err: HooksError) -> HooksError {
    if copies.is_empty() {
        return err;
    }
    let done: Vec<&str> = copies.iter().map(|(to, _)| to.as_str()).collect();
    err.after(
        format!("the copies to {} were sent", done.join(", ")),
        "the next one failed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
    use msg_core::paths::Paths;

    #[test]
    fn each_recipient_gets_a_copy_in_one_thread() {
        let dir = assert_fs::TempDir::new().unwrap();
        let settings = Settings::from_yaml_str(
            "identity: {name: bob}\nmessaging: {trust_overrides: {bob: owner}}\n",
            std::path::Path::new("s.yaml"),
        )
        .unwrap();
        let ctx = Context::new(Paths::new(dir.path()), settings, None).unwrap();
        let copies = broadcast(
            &ctx,
            &Broadcast {
                from: "bob".into(),
                to: vec![
                    "alice".into(),
                    "carol".into(),
                    "alice".into(),
                    "bob-claude".into(),
                ],
                content: "Standup moved to 10:00".into(),
                reply_to: None,
                priority: Priority::Normal,
            },
        )
        .unwrap();
        let names: Vec<&str> = copies.iter().map(|(to, _)| to.as_str()).collect();
        assert_eq!(names, ["alice", "carol", "bob-claude"]);
        let sent = ctx.store().unwrap().sent().unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].thread, None);
        assert_eq!(sent[1].thread.as_deref(), Some(sent[0].id.as_str()));
        assert!(matches!(copies[2].1, Copy::Task(_)));
        // A bad recipient stops everything before anything is written.
        let err = broadcast(
            &ctx,
            &Broadcast {
                from: "bob".into(),
                to: vec!["dave".into(), "x".repeat(300)],
                content: "hi".into(),
                reply_to: None,
                priority: Priority::Normal,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("128"), "{err}");
        assert_eq!(ctx.store().unwrap().sent().unwrap().len(), 2);
    }
}
