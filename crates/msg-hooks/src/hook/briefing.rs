//! The text the inbox watcher puts in front of the agent: the task it claimed or has in
//! progress, tasks awaiting approval, messages to the agent that could not become tasks;
//! each with the exact commands to act on it, text from non-owners framed as data (with
//! the note on what the frame means when the context does not hold it yet), and the whole
//! under [`MAX_CONTEXT_CHARS`].

use msg_inbox::Task;

use super::untrusted::{Boundary, NOTE, wrap};
use crate::desk::URGENT_TAG;
use msg_core::figures::{counted, grouped, plural};

/// Claude Code cuts `additionalContext` at 10,000 characters; the briefing stays below.
pub const MAX_CONTEXT_CHARS: usize = 9_500;
/// The most of a task's text shown; the rest is behind `msg show <ID>`.
const MAX_TASK_TEXT_CHARS: usize = 6_000;
/// The most messages listed when intake could not take them in; the rest are counted.
const MAX_LISTED: usize = 10;
/// Actor and tier names are free-form; beyond this they are cut.
const MAX_NAME_CHARS: usize = 120;

/// Why a task is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskShown {
    /// The watcher just claimed it.
    Claimed,
    /// It was already WORKING; shown once per context.
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

/// Tasks awaiting the owner's approval.
#[derive(Debug, Clone)]
pub(crate) struct Approvals {
    /// The tasks not announced before: (ID, sender, tier); may be empty, then only the
    /// count is shown.
    pub(crate) new: Vec<(String, String, String)>,
    /// All tasks awaiting approval.
    pub(crate) total: usize,
}

/// Messages to the agent that task intake could not take in.
#[derive(Debug, Clone)]
pub(crate) struct NotTaken {
    /// Why, as intake said.
    pub(crate) error: String,
    /// The messages not announced before: (ID, sender, tier).
    pub(crate) new: Vec<(String, String, String)>,
}

/// Everything new for the agent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Briefing {
    pub(crate) task: Option<TaskItem>,
    pub(crate) approvals: Option<Approvals>,
    pub(crate) not_taken: Option<NotTaken>,
}

impl Briefing {
    /// Whether there is nothing to show.
    pub(crate) fn is_empty(&self) -> bool {
        self.task.is_none() && self.approvals.is_none() && self.not_taken.is_none()
    }

    /// Whether the text holds a frame of untrusted text.
    pub(crate) fn has_frame(&self) -> bool {
        self.task.as_ref().is_some_and(|item| !item.trusted)
    }

    /// The text, at most [`MAX_CONTEXT_CHARS`] characters; with `note`, the note on what a
    /// frame means comes first (give it when the context does not hold it yet).
    pub(crate) fn render(&self, boundary: &Boundary, note: bool) -> String {
        let mut sections: Vec<String> = Vec::new();
        if note && self.has_frame() {
            sections.push(NOTE.to_owned());
        }
        if let Some(item) = &self.task {
            sections.push(task_section(item, boundary));
        }
        if let Some(approvals) = &self.approvals {
            sections.push(approvals_section(approvals));
        }
        if let Some(not_taken) = &self.not_taken {
            sections.push(not_taken_section(not_taken));
        }
        cap(sections.join("\n\n"))
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
    if task.tags().iter().any(|tag| tag == URGENT_TAG) {
        details.push("urgent".to_owned());
    }
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

fn not_taken_section(not_taken: &NotTaken) -> String {
    let count = not_taken.new.len();
    let mut text = format!(
        "[messaging] {} to you {} not a task yet: task intake failed ({}). {} taken in on a later prompt once that is fixed; tell your owner (`msg doctor` checks the files).",
        counted(count, "message", "messages"),
        plural(count, "is", "are"),
        short_text(&not_taken.error, 400),
        plural(count, "It is", "They are"),
    );
    for (id, from, tier) in not_taken.new.iter().take(MAX_LISTED) {
        text.push_str(&format!("\n- {id} from {} ({})", short(from), short(tier)));
    }
    if count > MAX_LISTED {
        text.push_str(&format!("\n- and {} more", count - MAX_LISTED));
    }
    text
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
    short_text(name, MAX_NAME_CHARS)
}

/// `text` cut to `max` characters.
fn short_text(text: &str, max: usize) -> String {
    if chars(text) <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
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
