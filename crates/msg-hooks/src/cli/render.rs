//! Human output: messages, tasks and lists as they read well in a terminal.
//!
//! Text that others wrote is shown with its control characters escaped (`\u{1b}` instead of
//! an escape sequence), so a message cannot move the cursor, recolour or retitle the
//! person's terminal.

use msg_core::figures::grouped;
use msg_inbox::{Task, TaskCounts, TaskState};
use msg_store::{Message, MessageKind};

use crate::contacts::ContactRow;
use crate::desk::GovernorNote;
use crate::desk::messages::{clip, message_state};

/// `text` with control characters other than line breaks and tabs escaped.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of `text`: control characters, line breaks included, escaped.
pub(crate) fn one_line(text: &str) -> String {
    printable(&text.replace(['\n', '\r'], " "))
}

/// What a message says in one line: the first line of its text, or the file delivered.
fn message_summary(message: &Message) -> String {
    match message.kind {
        MessageKind::FileDelivery => format!(
            "file: {}",
            message.property("FILENAME").unwrap_or(&message.title)
        ),
        _ => message
            .body
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("")
            .to_owned(),
    }
}

/// Lays out rows as columns separated by two spaces; the last column is not padded.
fn columns(rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; width];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    widths[i] - cell.chars().count() + 2,
                ));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A list of messages, one per line, and a count.
pub(crate) fn message_list(messages: &[Message]) -> String {
    if messages.is_empty() {
        return "No messages.\n".into();
    }
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            vec![
                message_state(m),
                m.id.clone(),
                clip(&one_line(&m.from), 30),
                m.created.clone().unwrap_or_default(),
                clip(&one_line(&message_summary(m)), 60),
            ]
        })
        .collect();
    let unread = messages.iter().filter(|m| m.is_unread()).count();
    format!(
        "{}{} {}, {unread} unread\n",
        columns(&rows),
        messages.len(),
        if messages.len() == 1 {
            "message"
        } else {
            "messages"
        }
    )
}

/// One message in full: its properties, then its text.
pub(crate) fn message_detail(message: &Message, where_from: &str) -> String {
    let mut out = format!(
        "Message {} ({}, {where_from})\n",
        message.id,
        message_state(message)
    );
    if !message.tags.is_empty() {
        out.push_str(&format!("  Tags: {}\n", one_line(&message.tags.join(" "))));
    }
    if let Some(check) = message.property(crate::trust::verdict::SIGNATURE_CHECK) {
        let note = message
            .property(crate::trust::verdict::SIGNATURE_NOTE)
            .map(|note| format!(": {}", one_line(note)))
            .unwrap_or_default();
        out.push_str(&format!("  Signature: {}{note}\n", one_line(check)));
    }
    for (key, value) in &message.properties {
        if [
            crate::trust::verdict::SIGNATURE_CHECK,
            crate::trust::verdict::SIGNATURE_NOTE,
        ]
        .contains(&key.as_str())
        {
            continue; // said above
        }
        out.push_str(&format!("  {}: {}\n", one_line(key), one_line(value)));
    }
    if message.priority != msg_store::Priority::Normal {
        out.push_str(&format!("  Priority: {}\n", message.priority.as_str()));
    }
    out.push('\n');
    out.push_str(&printable(&message.body));
    if !message.body.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// What became of a sent message: `pending`, `pending (last try: rate_limited)`, `queued`,
/// `delivered`, `failed: frame_too_large`; `-` without a delivery state.
pub(crate) fn delivery(message: &Message) -> String {
    let error = message.property("DELIVERY_ERROR").map(one_line);
    match (message.property("DELIVERY"), error) {
        (Some("pending"), Some(error)) => format!("pending (last try: {error})"),
        (Some("failed"), Some(error)) => format!("failed: {error}"),
        (Some(state), _) => one_line(state),
        (None, _) => "-".into(),
    }
}

/// The sent messages, one per line: delivery state, ID, recipient, time, first line.
pub(crate) fn sent_list(messages: &[Message]) -> String {
    if messages.is_empty() {
        return "Nothing sent.\n".into();
    }
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            vec![
                delivery(m),
                m.id.clone(),
                clip(&one_line(m.to.as_deref().unwrap_or("?")), 30),
                m.created.clone().unwrap_or_default(),
                clip(&one_line(&message_summary(m)), 50),
            ]
        })
        .collect();
    let failed = messages
        .iter()
        .filter(|m| m.property("DELIVERY") == Some("failed"))
        .count();
    let mut out = columns(&rows);
    out.push_str(&format!(
        "{}, {failed} failed{}\n",
        msg_core::figures::counted(messages.len(), "message", "messages"),
        if failed > 0 {
            " (`msg resend ID` sends one again)"
        } else {
            ""
        }
    ));
    out
}

/// Search results: where, ID, sender, the matching line; then the count.
pub(crate) fn search_results(found: &crate::desk::search::Found) -> String {
    let rows: Vec<Vec<String>> = found
        .hits
        .iter()
        .map(|hit| {
            vec![
                hit.place.name(),
                hit.id
                    .clone()
                    .unwrap_or_else(|| format!("line {}", hit.line)),
                clip(&one_line(hit.from.as_deref().unwrap_or("-")), 30),
                clip(
                    &one_line(&format!("{}: {}", hit.field.to_lowercase(), hit.snippet)),
                    70,
                ),
            ]
        })
        .collect();
    let mut out = columns(&rows);
    let shown = if found.total > found.hits.len() {
        format!(" ({} shown; --limit N shows more)", found.hits.len())
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{} in {}{shown}\n",
        msg_core::figures::counted(found.total, "match", "matches"),
        msg_core::figures::counted(found.files, "file", "files")
    ));
    out
}

/// A thread in conversation order.
pub(crate) fn thread_text(root: &str, messages: &[Message], user: &str) -> String {
    let mut out = format!(
        "Thread {root} ({} {})\n",
        messages.len(),
        if messages.len() == 1 {
            "message"
        } else {
            "messages"
        }
    );
    for message in messages {
        let to = message.to.as_deref().unwrap_or("?");
        let state = if message.tags.iter().any(|t| t == "sent") {
            match message.property("DELIVERY") {
                Some(_) => format!("sent, {}", delivery(message)),
                None => "sent".to_owned(),
            }
        } else {
            message_state(message)
        };
        out.push_str(&format!(
            "\n{} {} → {} ({}, {state}{})\n",
            message.created.as_deref().unwrap_or("[?]"),
            one_line(&message.from),
            one_line(to),
            message.id,
            if message.from == user { ", you" } else { "" }
        ));
        for line in printable(&message.body).lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

/// A list of tasks, one per line, and the counts.
pub(crate) fn task_list(tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return "No tasks.\n".into();
    }
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.state().keyword().to_owned(),
                t.id().to_owned(),
                format!(
                    "{} ({})",
                    clip(&one_line(t.from().unwrap_or("?")), 30),
                    one_line(t.trust_tier().unwrap_or("?"))
                ),
                clip(&one_line(t.title()), 60),
            ]
        })
        .collect();
    let mut counts = Vec::new();
    for state in TaskState::ALL {
        let n = tasks.iter().filter(|t| t.state() == state).count();
        if n > 0 {
            counts.push(format!("{n} {}", state.keyword().to_lowercase()));
        }
    }
    format!(
        "{}{} {}: {}\n",
        columns(&rows),
        tasks.len(),
        if tasks.len() == 1 { "task" } else { "tasks" },
        counts.join(", ")
    )
}

/// One task in full: its properties, then its text.
pub(crate) fn task_detail(task: &Task, agent: &str, replies: &[String]) -> String {
    let mut out = format!("Task {} ({}, agent {agent})\n", task.id(), task.state());
    if !task.tags().is_empty() {
        out.push_str(&format!("  Tags: {}\n", one_line(&task.tags().join(" "))));
    }
    if let Some(closed) = task.closed() {
        out.push_str(&format!("  CLOSED: {closed}\n"));
    }
    for (key, value) in task.properties() {
        out.push_str(&format!("  {}: {}\n", one_line(key), one_line(value)));
    }
    for reply in replies {
        out.push_str(&format!("  Reply: {reply}\n"));
    }
    out.push('\n');
    out.push_str(&printable(task.title()));
    out.push('\n');
    if !task.body().is_empty() {
        out.push_str(&printable(task.body()));
        out.push('\n');
    }
    out
}

/// The original's `task-queue status` block.
pub(crate) fn queue_status(agent: &str, counts: &TaskCounts) -> String {
    format!(
        "Task queue for {agent}:\n  Queued:  {}\n  Working: {}\n  Waiting: {}\n  Done:    {}\n  Total:   {}\n",
        counts.queued, counts.working, counts.waiting, counts.done, counts.total
    )
}

/// The contacts, one per line: ID, the tier that counts, name, handles, and where the
/// contacts file disagrees; then the groups.
pub(crate) fn contact_list(
    rows: &[ContactRow],
    groups: &std::collections::BTreeMap<String, Vec<String>>,
    file: &std::path::Path,
) -> String {
    if rows.is_empty() && groups.is_empty() {
        return format!(
            "No contacts: `msg contacts add NAME` adds one to {}.\n",
            file.display()
        );
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut note = Vec::new();
            if let Some(noted) = row.noted_tier.as_deref().filter(|n| *n != row.tier) {
                note.push(format!(
                    "contacts.yaml says {}; the settings decide",
                    one_line(noted)
                ));
            }
            if !row.in_contacts_file {
                note.push("only in the settings".to_owned());
            }
            if let Some(key) = &row.key_note {
                note.push(one_line(key));
            }
            let handles: Vec<String> = row.handles.iter().map(|h| one_line(h)).collect();
            vec![
                one_line(&row.id),
                one_line(&row.tier),
                one_line(row.name.as_deref().unwrap_or("-")),
                if handles.is_empty() {
                    "-".to_owned()
                } else {
                    handles.join(" ")
                },
                note.join("; "),
            ]
        })
        .collect();
    let mut out = columns(&table);
    for (name, members) in groups {
        let members: Vec<String> = members.iter().map(|m| one_line(m)).collect();
        out.push_str(&format!(
            "group {}: {}\n",
            one_line(name),
            members.join(", ")
        ));
    }
    out
}

/// What the governor did, as a `[messaging]` line; `None` when it did nothing.
pub(crate) fn governor_note(note: &GovernorNote) -> Option<String> {
    match note {
        GovernorNote::Nothing => None,
        GovernorNote::Completed { admission, tokens } => Some(format!(
            "[messaging] Governor: admission {} completed with {} tokens used ({} were reserved)",
            admission.id,
            grouped(*tokens),
            grouped(admission.reserved_tokens)
        )),
        GovernorNote::UsageRecorded { actor, tokens } => Some(format!(
            "[messaging] Governor: {} tokens recorded for {} (the task had no active admission)",
            grouped(*tokens),
            one_line(actor)
        )),
        GovernorNote::Released(admission) => Some(format!(
            "[messaging] Governor: admission {} released ({} reserved tokens freed)",
            admission.id,
            grouped(admission.reserved_tokens)
        )),
    }
}

/// `[messaging] <line>`, then the governor's part when it did something: what `msg task …`
/// and `task-queue` print after moving a task.
pub(crate) fn confirmation(line: &str, note: Option<&GovernorNote>) -> String {
    let mut out = format!("[messaging] {line}\n");
    if let Some(note) = note.and_then(governor_note) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[2Jb\n\tc\r"), "a\\u{1b}[2Jb\n\tc\\u{d}");
        assert_eq!(one_line("a\nb"), "a b");
    }

    #[test]
    fn columns_align_and_clip() {
        let rows = vec![
            vec!["a".to_owned(), "bb".to_owned(), "end".to_owned()],
            vec!["ccc".to_owned(), "d".to_owned(), "".to_owned()],
        ];
        assert_eq!(columns(&rows), "a    bb  end\nccc  d\n");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
