//! Messages by the IDs people type: finding them, marking them, finding anything by ID.

use std::str::FromStr;

use msg_inbox::Task;
use msg_store::{Message, MessageState, MessageStore};

use super::lookup;
use super::{MESSAGE_ID_PROPERTY, TASK_PROPERTY};
use crate::context::Context;
use crate::error::HooksError;

/// What `mark-message` (and `msg read|unread|archive`) does to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkAction {
    /// Unread → read (DONE), `unread` tag removed.
    Read,
    /// Read → unread (TODO), `unread` tag added.
    Unread,
    /// → ARCHIVED.
    Archive,
    /// ARCHIVED → read (DONE); `msg unarchive` only (mark-message keeps the original's three).
    Unarchive,
}

impl FromStr for MarkAction {
    type Err = String;

    fn from_str(text: &str) -> Result<MarkAction, String> {
        match text {
            "read" => Ok(MarkAction::Read),
            "unread" => Ok(MarkAction::Unread),
            "archive" => Ok(MarkAction::Archive),
            other => Err(format!(
                "unknown action {other:?}: use read, unread or archive"
            )),
        }
    }
}

impl MarkAction {
    /// The original's confirmation: `[messaging] Marked read: <id>`.
    pub(crate) fn confirmation(self, id: &str) -> String {
        match self {
            MarkAction::Read => format!("[messaging] Marked read: {id}"),
            MarkAction::Unread => format!("[messaging] Marked unread: {id}"),
            MarkAction::Archive => format!("[messaging] Archived: {id}"),
            MarkAction::Unarchive => format!("[messaging] Unarchived (read): {id}"),
        }
    }
}

/// The inbox message whose ID is `given`, or the only one starting or ending with it.
pub(crate) fn find_message(store: &MessageStore, given: &str) -> Result<Message, HooksError> {
    let all = store.all()?;
    let id = lookup::resolve(
        given,
        all.iter().map(|m| m.id.as_str()),
        "message",
        store.inbox_path(),
    )?;
    Ok(all
        .into_iter()
        .find(|m| m.id == id)
        .expect("resolved among these messages"))
}

/// Applies `action` to the inbox message `given` (by unique prefix or suffix).
pub(crate) fn mark(
    store: &MessageStore,
    given: &str,
    action: MarkAction,
) -> Result<Message, HooksError> {
    let id = find_message(store, given)?.id;
    Ok(match action {
        MarkAction::Read => store.mark_read(&id)?,
        MarkAction::Unread => store.mark_unread(&id)?,
        MarkAction::Archive => store.archive(&id)?,
        MarkAction::Unarchive => store.unarchive(&id)?,
    })
}

/// Whatever has the ID: a received message, a sent one, or one of the agent's tasks.
#[derive(Debug, Clone)]
pub(crate) enum Found {
    /// In `inbox.org`.
    Received(Message),
    /// In `outbox.org`.
    Sent(Message),
    /// In the agent's task file.
    Task(Task),
}

/// Finds `given` (an ID, or a unique prefix or suffix) among received and sent messages and
/// the tasks of `agent`.
pub(crate) fn find_any(
    ctx: &Context,
    agent: Option<&str>,
    given: &str,
) -> Result<Found, HooksError> {
    let (received, sent) = match ctx.existing_store()? {
        Some(store) => (store.all()?, store.sent()?),
        None => (Vec::new(), Vec::new()),
    };
    let (tasks, strays) = match ctx.existing_agent_inbox(agent)? {
        Some(inbox) => (inbox.tasks()?, inbox.stray_entries()?),
        None => (Vec::new(), Vec::new()),
    };
    let ids = received
        .iter()
        .map(|m| m.id.as_str())
        .chain(sent.iter().map(|m| m.id.as_str()))
        .chain(tasks.iter().map(Task::id))
        .chain(strays.iter().map(|s| s.id.as_str()));
    let id = lookup::resolve(given, ids, "message or task", &ctx.inbox_file()?).map_err(|err| {
        // Said with every file searched, not only the inbox.
        also_searched(
            err,
            [
                ctx.paths().outbox_file(ctx.space()).ok(),
                ctx.agent_file(agent).ok(),
            ],
        )
    })?;
    // An entry of the task file with the ID but no task keyword (mistyped in Emacs): say
    // where it is and how to fix it.
    if let Some(stray) = strays.into_iter().find(|s| s.id == id)
        && !tasks.iter().any(|t| t.id() == id)
    {
        return Err(stray.into_error(&ctx.agent_file(agent)?).into());
    }
    if let Some(message) = received.into_iter().find(|m| m.id == id) {
        return Ok(Found::Received(message));
    }
    if let Some(message) = sent.into_iter().find(|m| m.id == id) {
        return Ok(Found::Sent(message));
    }
    Ok(Found::Task(
        tasks
            .into_iter()
            .find(|t| t.id() == id)
            .expect("resolved among these"),
    ))
}

/// A [`HooksError::NotFound`] naming `more` files searched too.
pub(crate) fn also_searched(
    err: HooksError,
    more: impl IntoIterator<Item = Option<std::path::PathBuf>>,
) -> HooksError {
    match err {
        HooksError::NotFound {
            what,
            given,
            path,
            mut also,
        } => {
            also.extend(more.into_iter().flatten());
            HooksError::NotFound {
                what,
                given,
                path,
                also,
            }
        }
        other => other,
    }
}

/// The messages (received or sent) that answer task `task_id` (their `TASK` property).
pub(crate) fn replies_to_task(
    store: &MessageStore,
    task_id: &str,
) -> Result<Vec<String>, HooksError> {
    let mut replies: Vec<String> = Vec::new();
    for message in store.all()?.into_iter().chain(store.sent()?) {
        if message.property(TASK_PROPERTY) == Some(task_id) {
            replies.push(message.id);
        }
    }
    Ok(replies)
}

/// The message a task came from (its `MESSAGE_ID`), when it is still in the inbox.
pub(crate) fn task_message(ctx: &Context, task: &Task) -> Result<Option<String>, HooksError> {
    let Some(id) = task.property(MESSAGE_ID_PROPERTY) else {
        return Ok(None);
    };
    let Some(store) = ctx.existing_store()? else {
        return Ok(None);
    };
    Ok(store.by_id(id)?.map(|m| m.id))
}

/// `unread`, `read`, `archived`, or the keyword.
pub(crate) fn message_state(message: &Message) -> String {
    match &message.state {
        MessageState::Unread => "unread".into(),
        MessageState::ToDo => message
            .keyword
            .as_deref()
            .map_or_else(|| "todo".into(), str::to_lowercase),
        MessageState::Read => "read".into(),
        MessageState::Archived => "archived".into(),
        MessageState::Other(Some(keyword)) => keyword.to_lowercase(),
        MessageState::Other(None) => "-".into(),
    }
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
