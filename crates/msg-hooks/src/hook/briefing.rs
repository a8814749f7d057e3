//! The text the inbox watcher puts in front of the agent: the task it claimed or has in
//! progress, tasks awaiting approval, new messages; each with the exact commands to act on
//! it, text from non-owners framed as data, and the whole under [`MAX_CONTEXT_CHARS`].

use msg_inbox::Task;
use msg_store::{Message, MessageKind};

use super::untrusted::{Boundary, wrap};
use msg_core::figures::{grouped, plural};

/// Claude Code cuts `additionalContext` at 10,000 characters; the briefing stays below.
pub const MAX_CONTEXT_CHARS: usize = 9_500;
/// The most of a task's text shown; the rest is behind `msg show <ID>`.
const MAX_TASK_TEXT_CHARS: usize = 6_000;
/// The most of one message's text shown.
const MAX_MESSAGE_TEXT_CHARS: usize = 1_200;
/// Room kept for the line that summarises messages left out.
const SUMMARY_RESERVE_CHARS: usize = 400;
/// Actor and tier names are free-form; beyond this they are cut.
const MAX_NAME_CHARS: usize = 120;

/// Why a task is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskShown {
    /// The watcher just claimed it.
    Claimed,
    /// It was already WORKING; shown once per session.
    InProgress,
}

/// A task to show, with its sender's standing.
#[derive(Debug, Clone)]
pub(crate) struct TaskItem {
    pub(crate) task: Task,
    pub(crate) news: TaskShown,
    /// The sender's tier now (settings), or the tier the task was submitted with when lower.
    pub(crate) tier: String,
    /// Whether the text may be read as the owner's instructions.
    pub(crate) trusted: bool,
    /// Other tasks that are WORKING too (set by hand in Emacs).
    pub(crate) other_working: usize,
}

/// A new message to show.
#[derive(Debug, Clone)]
pub(crate) struct MessageItem {
    pub(crate) message: Message,
    pub(crate) tier: String,
    pub(crate) trusted: bool,
}

/// Tasks awaiting the owner's approval.
#[derive(Debug, Clone)]
pub(crate) struct Approvals {
    /// The tasks not announced before: (ID, sender, tier); may be empty, then only the
    /// count is shown.
    pub(crate) new: Vec<(String, String, String)>,
    /// All tasks awaiting approval.
    pub(crate) total: usize,
}

/// Everything new for the agent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Briefing {
    pub(crate) task: Option<TaskItem>,
    pub(crate) approvals: Option<Approvals>,
    pub(crate) messages: Vec<MessageItem>,
}

impl Briefing {
    /// Whether there is nothing to show.
    pub(crate) fn is_empty(&self) -> bool {
        self.task.is_none() && self.approvals.is_none() && self.messages.is_empty()
    }

    /// The text, at most [`MAX_CONTEXT_CHARS`] characters.
    pub(crate) fn render(&self, boundary: &Boundary) -> String {
        let mut sections: Vec<String> = Vec::new();
        if let Some(item) = &self.task {
            sections.push(task_section(item, boundary));
        }
        if let Some(approvals) = &self.approvals {
            sections.push(approvals_section(approvals));
        }
        let mut text = sections.join("\n\n");
        if !self.messages.is_empty() {
            text.push_str(&self.messages_section(chars(&text), boundary));
        }
        cap(text)
    }

    /// The messages that fit after `used` characters, and a line for the rest.
    fn messages_section(&self, used: usize, boundary: &Boundary) -> String {
        let count = self.messages.len();
        let mut text = String::new();
        if used > 0 {
            text.push_str("\n\n");
        }
        text.push_str(&format!(
            "[messaging] {} new {} (shown once; mark one read with `mark-message <ID> read`, answer with `send-reply <SENDER> '<text>' --reply-to <ID>`):",
            count,
            plural(count, "message", "messages")
        ));
        let budget = MAX_CONTEXT_CHARS.saturating_sub(used + SUMMARY_RESERVE_CHARS);
        let mut shown = 0;
        for item in &self.messages {
            let entry = format!("\n{}", message_entry(item, boundary));
            if chars(&text) + chars(&entry) > budget {
                break;
            }
            text.push_str(&entry);
            shown += 1;
        }
        if shown < count {
            let mut senders: Vec<&str> = Vec::new();
            for item in &self.messages[shown..] {
                if !senders.contains(&item.message.from.as_str()) {
                    senders.push(&item.message.from);
                }
            }
            let names: Vec<String> = senders.iter().take(5).map(|s| short(s)).collect();
            let more = if senders.len() > 5 {
                format!(" and {} others", senders.len() - 5)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "\n[messaging] {} more new {} (from {}{more}) not shown here: run `msg inbox --unread` to read them.",
                count - shown,
                plural(count - shown, "message", "messages"),
                names.join(", "),
            ));
        }
        text
    }
}

fn task_section(item: &TaskItem, boundary: &Boundary) -> String {
    let task = &item.task;
    let id = task.id();
    let from = task.from().unwrap_or("unknown");
    let mut text = match item.news {
        TaskShown::Claimed => format!(
            "[messaging] You claimed task {id} (now WORKING). Work on it now unless your owner says otherwise."
        ),
        TaskShown::InProgress => format!(
            "[messaging] Task in progress: {id} (WORKING{}). Continue it, or put it back in the queue if you are not working on it.",
            task.property("STARTED")
                .map(|started| format!(" since {started}"))
                .unwrap_or_default()
        ),
    };
    text.push_str(&format!(
        "\nFrom: {} (trust tier {})",
        short(from),
        short(&item.tier)
    ));
    let mut details = Vec::new();
    if let Some(effort) = task.property("EFFORT") {
        details.push(format!("effort {}", short(effort)));
    }
    if let Some(tokens) = task.property("ESTIMATED_TOKENS") {
        let tokens = tokens
            .trim()
            .parse::<u64>()
            .map(grouped)
            .unwrap_or_else(|_| short(tokens));
        details.push(format!("estimated tokens {tokens}"));
    }
    if task.retry_count() > 0 {
        details.push(format!("attempt {}", task.retry_count() + 1));
    }
    if !details.is_empty() {
        text.push_str(&format!("\n{}", capitalised(&details.join(", "))));
    }
    let feedback = task.revision_feedback();
    let mut body = task_text(task);
    if let Some(latest) = feedback.last() {
        body.push_str(&format!("\n\nRevision requested: {latest}"));
    }
    let body = truncate(&body, MAX_TASK_TEXT_CHARS, id);
    text.push_str("\nTask text:\n");
    if item.trusted {
        text.push_str(&body);
    } else {
        text.push_str(&wrap(&body, &short(from), &short(&item.tier), boundary));
    }
    text.push_str(&format!(
        "\n\nWhen it is done, reply and complete it with one command:\n  send-reply {} '<your reply>' --complete-task {id} --tokens <tokens you used>\nIf you cannot finish it: task-queue retry {id} --reason '<why>'",
        shell_word(from),
    ));
    if item.other_working > 0 {
        text.push_str(&format!(
            "\n{} other {} WORKING too: `msg tasks --state WORKING` lists them.",
            item.other_working,
            plural(item.other_working, "task is", "tasks are")
        ));
    }
    text
}

/// The task's whole text: its heading, then its body.
fn task_text(task: &Task) -> String {
    if task.body().is_empty() {
        task.title().to_owned()
    } else {
        format!("{}\n{}", task.title(), task.body())
    }
}

fn approvals_section(approvals: &Approvals) -> String {
    if approvals.new.is_empty() {
        return format!(
            "[messaging] {} {} your owner's approval (announced before; `msg tasks --state WAITING` lists them).",
            approvals.total,
            plural(approvals.total, "task awaits", "tasks await")
        );
    }
    let mut text = format!(
        "[messaging] {} {} your owner's approval; tell them. They approve with `msg task approve <ID>` or reject with `msg task reject <ID>`; `msg show <ID>` shows one.",
        approvals.total,
        plural(approvals.total, "task awaits", "tasks await")
    );
    for (id, from, tier) in approvals.new.iter().take(10) {
        text.push_str(&format!(
            "\n- new: {id} from {} ({})",
            short(from),
            short(tier)
        ));
    }
    if approvals.new.len() > 10 {
        text.push_str(&format!("\n- and {} more new", approvals.new.len() - 10));
    }
    text
}

fn message_entry(item: &MessageItem, boundary: &Boundary) -> String {
    let message = &item.message;
    let from = short(&message.from);
    let mut head = format!("- {} from {from} ({})", message.id, short(&item.tier));
    if let Some(created) = &message.created {
        head.push_str(&format!(", {created}"));
    }
    if let Some(to) = &message.to {
        head.push_str(&format!(", to {}", short(to)));
    }
    if let Some(reply_to) = &message.reply_to {
        head.push_str(&format!(", in reply to {reply_to}"));
    }
    let body = match message.kind {
        MessageKind::FileDelivery => format!(
            "File delivery: {} ({} bytes, {})",
            message.property("FILENAME").unwrap_or("?"),
            message.property("SIZE").unwrap_or("?"),
            message.property("CONTENT_TYPE").unwrap_or("unknown type"),
        ),
        _ => message.body.clone(),
    };
    let body = truncate(&body, MAX_MESSAGE_TEXT_CHARS, &message.id);
    if item.trusted {
        format!("{head}:\n{body}")
    } else {
        format!(
            "{head}:\n{}",
            wrap(&body, &from, &short(&item.tier), boundary)
        )
    }
}

/// At most `max` characters of `text`, with a note on where the rest is.
fn truncate(text: &str, max: usize, id: &str) -> String {
    let total = chars(text);
    if total <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!(
        "{cut}\n[… {} more characters: `msg show {id}` shows the whole text]",
        grouped((total - max) as u64)
    )
}

/// A name cut to [`MAX_NAME_CHARS`].
fn short(name: &str) -> String {
    if chars(name) <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let cut: String = name.chars().take(MAX_NAME_CHARS).collect();
    format!("{cut}…")
}

/// The final guard: the sections are bounded by construction, this only cuts what absurdly
/// long names could add.
fn cap(text: String) -> String {
    if chars(&text) <= MAX_CONTEXT_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CONTEXT_CHARS - 100).collect();
    cut.push_str(
        "\n[messaging] (cut to stay under Claude Code's limit: run `msg inbox` and `msg tasks`)",
    );
    cut
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `word` as one shell word: as it is when it is plainly safe, else in single quotes.
pub(crate) fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("tex@team.example.com"), "tex@team.example.com");
        assert_eq!(shell_word("Tex Bar"), "'Tex Bar'");
        assert_eq!(shell_word("o'neil"), r"'o'\''neil'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn long_texts_are_cut_with_a_pointer_to_the_rest() {
        let text = "é".repeat(10);
        assert_eq!(truncate(&text, 20, "x"), text);
        assert_eq!(
            truncate(&text, 4, "msg-1"),
            "éééé\n[… 6 more characters: `msg show msg-1` shows the whole text]"
        );
        let long = "x".repeat(MAX_CONTEXT_CHARS * 2);
        assert!(chars(&cap(long)) <= MAX_CONTEXT_CHARS);
    }
}
