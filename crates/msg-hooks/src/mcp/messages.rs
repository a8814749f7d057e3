//! The message tools: `inbox` (messages to the agent, or one conversation), `read` (one
//! message or task in full) and `send`, over the store and the desk as the CLI uses them.

use std::collections::{HashMap, HashSet};

use msg_store::{Message, Priority};

use super::door::{Door, Folder};
use super::input::ToolError;
use super::tasks;
use super::text::{Line, MAX_TEXT_CHARS, at_most, first_line, framed, listing};
use crate::desk::MESSAGE_ID_PROPERTY;
use crate::desk::messages::message_state;
use crate::desk::send::{Outgoing, send as send_message, unknown_recipient};
use crate::hook::untrusted::Boundary;
use msg_core::figures::plural;

/// The most messages one `inbox` call lists.
pub(crate) const MAX_LIST: u64 = 50;
/// The most of a message's first line a list shows.
const SUBJECT_CHARS: usize = 100;

/// `inbox`: the messages addressed to the agent, newest first (only unread ones when
/// `unread_only`), at most `limit`; or, with `thread`, the conversation of that message in
/// order (only the messages the agent may see).
pub(crate) fn inbox(
    door: &Door,
    unread_only: bool,
    thread: Option<&str>,
    limit: usize,
) -> Result<String, ToolError> {
    if let Some(given) = thread {
        return conversation(door, given, limit);
    }
    let tasks = task_of_message(door)?;
    let mut mine: Vec<Message> = door
        .messages()?
        .into_iter()
        .filter(|(folder, m)| *folder == Folder::Inbox && m.to.as_deref() == Some(door.agent()))
        .map(|(_, m)| m)
        .collect();
    let unread = mine.iter().filter(|m| m.is_unread()).count();
    if unread_only {
        mine.retain(Message::is_unread);
    }
    if mine.is_empty() {
        return Ok(if unread_only {
            format!("No unread messages to {}.", door.agent())
        } else {
            format!("No messages to {}.", door.agent())
        });
    }
    // File order is arrival order: newest first is from the end.
    mine.reverse();
    let total = mine.len();
    mine.truncate(limit);
    let mut head = format!(
        "{} {} to {} ({unread} unread), newest first",
        total,
        plural(total, "message", "messages"),
        door.agent()
    );
    if total > mine.len() {
        head.push_str(&format!(", {} shown (raise `limit` for more)", mine.len()));
    }
    head.push_str(". `read` one to see it all and mark it read:");
    let lines: Vec<Line> = mine
        .iter()
        .map(|m| Line {
            text: message_line(m, &tasks),
            sender: m.from.clone(),
            tier: door.ctx().trust_tier(&m.from),
            trusted: door.trusts(&m.from),
        })
        .collect();
    Ok(format!("{head}\n{}", listing(&lines, &Boundary::random())))
}

/// The task each message became, by message ID.
fn task_of_message(door: &Door) -> Result<HashMap<String, (String, String)>, ToolError> {
    Ok(door
        .tasks()?
        .into_iter()
        .filter_map(|task| {
            let message = task.property(MESSAGE_ID_PROPERTY)?.to_owned();
            Some((message, (task.id().to_owned(), task.state().to_string())))
        })
        .collect())
}

/// One line of a list: ID, time, sender, state, priority, the task it became, first line.
fn message_line(message: &Message, tasks: &HashMap<String, (String, String)>) -> String {
    let mut line = format!(
        "- {} {} from {}, {}",
        message.id,
        message.created.as_deref().unwrap_or("[?]"),
        message.from,
        state(message)
    );
    if message.priority != Priority::Normal {
        line.push_str(&format!(", {} priority", message.priority.as_str()));
    }
    if let Some((task, task_state)) = tasks.get(&message.id) {
        line.push_str(&format!(", became task {task} ({task_state})"));
    }
    line.push_str(&format!(": {}", first_line(&message.body, SUBJECT_CHARS)));
    line
}

/// `sent` for a message the agent sent, else as `msg inbox` says it (`unread`, `read`, ...).
fn state(message: &Message) -> String {
    if message.tags.iter().any(|t| t == "sent") {
        return "sent".into();
    }
    message_state(message)
}

/// The conversation of message `given`: every message of its thread the agent may see.
fn conversation(door: &Door, given: &str, limit: usize) -> Result<String, ToolError> {
    let (_, message) = door.find_message(given)?;
    let root = message.thread_root().to_owned();
    let mut thread: Vec<Message> = match door.ctx().existing_store()? {
        Some(store) => store.thread(&root)?,
        None => Vec::new(),
    };
    thread.retain(|m| door.may_see(m));
    let total = thread.len();
    // The latest messages matter most: an overlong thread loses its start.
    let skipped = total.saturating_sub(limit);
    let boundary = Boundary::random();
    // Named by the message asked for: the thread's root may be a message the agent may
    // not see (the person's own), whose ID it is not told.
    let mut out = format!(
        "The conversation of {}: {total} {} of yours, oldest first",
        message.id,
        plural(total, "message", "messages")
    );
    if skipped > 0 {
        out.push_str(&format!(
            " (the first {skipped} left out; raise `limit` to see them)"
        ));
    }
    out.push(':');
    let visible: HashSet<&str> = thread.iter().map(|m| m.id.as_str()).collect();
    for message in &thread[skipped..] {
        out.push_str("\n\n");
        out.push_str(&full_message(door, message, &visible, &boundary));
    }
    Ok(out)
}

/// A message in full: who, when, the message it answers (when the agent may see that one
/// too, whose IDs are `visible`), and its text (framed unless the owner's).
fn full_message(
    door: &Door,
    message: &Message,
    visible: &HashSet<&str>,
    boundary: &Boundary,
) -> String {
    let to = message.to.as_deref().unwrap_or("?");
    let mut out = format!(
        "{} {} from {} to {}, {}",
        message.id,
        message.created.as_deref().unwrap_or("[?]"),
        message.from,
        to,
        state(message)
    );
    if message.priority != Priority::Normal {
        out.push_str(&format!(", {} priority", message.priority.as_str()));
    }
    if let Some(parent) = message.reply_to.as_deref().filter(|p| visible.contains(p)) {
        out.push_str(&format!(", answers {parent}"));
    }
    let text = at_most(
        &message.body,
        MAX_TEXT_CHARS,
        "the whole text is in the org file",
    );
    if message.from == door.agent() {
        out.push_str(" (sent by you):\n");
        out.push_str(text.trim_end_matches('\n'));
    } else {
        let tier = door.ctx().trust_tier(&message.from);
        out.push_str(&format!(" (tier {tier}):\n"));
        out.push_str(&framed(
            &text,
            door.trusts(&message.from),
            &message.from,
            &tier,
            boundary,
        ));
    }
    out
}

/// `read`: the message or task `given`, in full. A message addressed to the agent is
/// marked read (it was unread), or archived with `archive`; a task is only shown.
pub(crate) fn read(door: &Door, given: &str, archive: bool) -> Result<String, ToolError> {
    let message = match door.find_message(given) {
        Ok(found) => found,
        Err(message_err) => {
            // Not a message of the agent's: perhaps one of its tasks.
            return match tasks::find(door, given) {
                Ok(task) if archive => Err(ToolError::new(format!(
                    "`archive`: {} is a task, and only messages are archived; leave `archive` out to read it",
                    task.id()
                ))),
                Ok(task) => tasks::full_task(door, &task, &Boundary::random()),
                Err(_) => Err(ToolError::new(format!(
                    "{message_err}; nor is it one of your tasks (list them with `tasks`, your messages with `inbox`)"
                ))),
            };
        }
    };
    let (folder, mut message) = message;
    let to_agent = folder == Folder::Inbox && message.to.as_deref() == Some(door.agent());
    let mut note = String::new();
    if archive && !to_agent {
        return Err(ToolError::new(format!(
            "`archive`: {} was sent by you, and only messages to you are archived; leave `archive` out to read it",
            message.id
        )));
    }
    if to_agent && (archive || message.is_unread()) {
        let store = door.ctx().store()?;
        message = if archive {
            note = " It is archived now.".to_owned();
            store.archive(&message.id)?
        } else {
            note = " It was unread and is marked read now.".to_owned();
            store.mark_read(&message.id)?
        };
    }
    let messages = door.messages()?;
    let visible: HashSet<&str> = messages.iter().map(|(_, m)| m.id.as_str()).collect();
    let mut out = full_message(door, &message, &visible, &Boundary::random());
    if let Some((task, state)) = task_of_message(door)?.get(&message.id) {
        out.push_str(&format!(
            "\n\nIt became your task {task} ({state}): `claim_task` to start it, `complete_task` to answer it."
        ));
    }
    if to_agent {
        out.push_str(&format!(
            "\n\nAnswer with `send` (to {}, reply_to {}).{note}",
            message.from, message.id
        ));
    }
    Ok(out)
}

/// The ID of the message `given` answers, among those the agent may see.
fn parent(door: &Door, given: &str) -> Result<String, ToolError> {
    door.find_message(given).map(|(_, m)| m.id).map_err(|err| {
        ToolError::new(format!(
            "`reply_to`: {err}; answer one of the messages `inbox` lists, or leave `reply_to` out"
        ))
    })
}

/// `send`: a message from the agent to `to` (to its owner: into the owner's inbox; to
/// anyone else: into the outbox, for the relay), answering `reply_to`.
pub(crate) fn send(
    door: &Door,
    to: &str,
    text: &str,
    reply_to: Option<&str>,
    priority: Priority,
) -> Result<String, ToolError> {
    if to.contains(',') {
        return Err(ToolError::new(format!(
            "`to`: {to:?} names several recipients; `send` takes one: call it once for each"
        )));
    }
    let recipient = door
        .ctx()
        .recipient(to)
        .map_err(|err| ToolError::new(format!("`to`: {err}")))?;
    if recipient == door.agent() {
        return Err(ToolError::new(format!(
            "`to`: {recipient} is you; give your owner ({}) or another actor",
            door.ctx().user()
        )));
    }
    let reply_to = reply_to.map(|given| parent(door, given)).transpose()?;
    let sent = send_message(
        door.ctx(),
        &Outgoing {
            from: door.agent().to_owned(),
            to: recipient.clone(),
            content: text.to_owned(),
            reply_to,
            thread: None,
            priority,
        },
        None,
    )?;
    let mut out = sent.confirmation();
    if let Some(root) = &sent.message.thread {
        out.push_str(&format!(" in thread {root}"));
    }
    out.push('.');
    if let Some(warning) = unknown_recipient(door.ctx(), &recipient) {
        out.push_str(&format!("\nWarning: {warning}."));
    }
    Ok(out)
}
