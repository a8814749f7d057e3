//! [`Task`]: a handle on one task, its ID plus a snapshot of its entry; and [`TaskCounts`].
//!
//! A handle never goes stale in a harmful way: every operation takes the ID and finds the task
//! in the file as it is then (the Python original kept live views that raised
//! `StaleNodeError`, or silently wrote from stale memory). The snapshot is what the file said
//! when the handle was made; operations return a fresh one.

use std::borrow::Cow;

use msg_core::org::{Document, EntryRef, TodoKeywords};
use msg_core::timestamp::parse_org_timestamp;
use time::PrimitiveDateTime;

use crate::content;
use crate::property;
use crate::state::TaskState;

/// One task: its ID and what its entry said when this value was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    id: String,
    state: TaskState,
    title: String,
    tags: Vec<String>,
    properties: Vec<(String, String)>,
    body: String,
    closed: Option<String>,
}

impl Task {
    /// The task an entry holds: `None` unless it has a task keyword and an ID.
    pub(crate) fn from_entry(entry: &EntryRef<'_>) -> Option<Task> {
        let state = TaskState::from_keyword(&entry.keyword()?)?;
        let id = entry.id()?.into_owned();
        let properties: Vec<(String, String)> = entry
            .properties()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Some(Task::read(
            id,
            state,
            &entry.title(),
            entry.tags().into_iter().map(Cow::into_owned).collect(),
            properties,
            &body_text(entry),
            entry.closed().map(Cow::into_owned),
        ))
    }

    /// A task just appended, described without reading the file back.
    pub(crate) fn new_appended(
        state: TaskState,
        heading: &str,
        tags: Vec<String>,
        properties: Vec<(String, String)>,
        body: &str,
    ) -> Task {
        let id = properties
            .iter()
            .find(|(k, _)| k == property::ID)
            .map(|(_, v)| v.clone())
            .expect("create_task always writes an ID");
        Task::read(id, state, heading, tags, properties, body, None)
    }

    /// The task from its entry's parts: the text from the heading and the body (see
    /// `content`), the rest as given.
    fn read(
        id: String,
        state: TaskState,
        heading: &str,
        tags: Vec<String>,
        properties: Vec<(String, String)>,
        body: &str,
        closed: Option<String>,
    ) -> Task {
        let property = |key: &str| {
            properties
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let text = content::read(
            heading,
            body,
            property(property::SUBMITTED),
            property(property::FROM),
        );
        Task {
            id,
            state,
            title: text.title,
            tags,
            body: text.body,
            properties,
            closed,
        }
    }

    /// The ID (the entry's `:ID:`): what every operation takes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The state.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// The first line of the task text. (The heading shows it after the time and the sender,
    /// shortened and escaped: `[2026-12-07 Mon 10:48] alice: Research pricing`; tasks written
    /// before 0.3.0, by the Python original or by hand have the first line as the heading.)
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The entry's own tags, in file order.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The rest of the task text after [`Task::title`], without the LOGBOOK, unindented.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Every property as `(key, value)`, in file order.
    pub fn properties(&self) -> &[(String, String)] {
        &self.properties
    }

    /// The value of property `key` (compared case-insensitively; the first one wins).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The `CLOSED:` timestamp, e.g. `[2026-11-24 Tue 10:02]`, set while the task is in a done
    /// state (DONE, CANCELLED, ARCHIVED).
    pub fn closed(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// `FROM`: who submitted the task.
    pub fn from(&self) -> Option<&str> {
        self.property(property::FROM)
    }

    /// `TRUST_TIER`: the tier name given at submission.
    pub fn trust_tier(&self) -> Option<&str> {
        self.property(property::TRUST_TIER)
    }

    /// Whether the task waits for the owner: `WAITING` with `AWAITING: owner-approval`.
    pub fn is_awaiting_approval(&self) -> bool {
        self.state == TaskState::Waiting
            && self.property(property::AWAITING) == Some(property::OWNER_APPROVAL)
    }

    /// `SUBMITTED`, as local wall-clock time.
    pub fn submitted(&self) -> Option<PrimitiveDateTime> {
        self.property(property::SUBMITTED)
            .and_then(parse_org_timestamp)
    }

    /// `STARTED`: when the task was last claimed, as local wall-clock time.
    pub fn started(&self) -> Option<PrimitiveDateTime> {
        self.property(property::STARTED)
            .and_then(parse_org_timestamp)
    }

    /// `RETRY_COUNT` (0 when missing or not a number).
    pub fn retry_count(&self) -> u64 {
        self.count(property::RETRY_COUNT).unwrap_or(0)
    }

    /// How often the owner asked for a revision: `REVISION_COUNT`, or 1 for a task revised
    /// by the Python original (which wrote `REVISION_FEEDBACK` without a count); 0 when
    /// neither is there or the count is not a number.
    pub fn revision_count(&self) -> u64 {
        self.count(property::REVISION_COUNT).unwrap_or(0)
    }

    /// Every revision's feedback, oldest first (revisions requested without feedback have
    /// none).
    pub fn revision_feedback(&self) -> Vec<&str> {
        let count = self.revision_count();
        if self.property(property::REVISION_COUNT).is_none() {
            return self
                .property(property::REVISION_FEEDBACK)
                .into_iter()
                .collect();
        }
        (1..=count)
            .filter_map(|n| self.property(&property::revision_feedback(n)))
            .collect()
    }

    /// A counter property: 0 when missing, `Err(value)` when not a whole number. A missing
    /// `REVISION_COUNT` next to a `REVISION_FEEDBACK` (the original's only trace of a
    /// revision) counts 1.
    pub(crate) fn count(&self, key: &str) -> Result<u64, String> {
        match self.property(key) {
            Some(value) => value.trim().parse().map_err(|_| value.to_owned()),
            None if key == property::REVISION_COUNT
                && self.property(property::REVISION_FEEDBACK).is_some() =>
            {
                Ok(1)
            }
            None => Ok(0),
        }
    }
}

/// The entry's body as text ([`EntryRef::body_text`]).
///
/// msg-core's `body_text` slices each line at the body's indentation by bytes, which panics
/// on a whitespace-only line that starts with a multi-byte blank (U+3000 where two spaces
/// are expected, from a hand edit). Never panic on a hand-edited file: such a body is read
/// from a copy with its whitespace-only lines emptied, which changes nothing in the result
/// (blank lines read back empty). The inbox itself never writes such lines.
fn body_text(entry: &EntryRef<'_>) -> String {
    let raw = entry.raw_body();
    let risky = !raw.is_ascii()
        && raw
            .split('\n')
            .any(|l| !l.is_ascii() && l.trim().is_empty());
    if !risky {
        return entry.body_text();
    }
    // A blank line after the heading keeps every line of the copy in the body (nothing can
    // be taken for a planning line or a property drawer).
    let mut copy = String::from("* body\n\n");
    for line in raw.split_inclusive('\n') {
        if line.trim().is_empty() {
            copy.push_str(&line[line.trim_end_matches(['\r', '\n']).len()..]);
        } else {
            copy.push_str(line);
        }
    }
    let doc = Document::parse(copy.into_bytes(), &TodoKeywords::empty());
    doc.entry(0).body_text()
}

/// How many tasks a file holds in each state. Entries without a task keyword (a person's
/// notes) are not tasks; tasks written by hand without an ID are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskCounts {
    /// `TODO` tasks.
    pub todo: usize,
    /// `WAITING` tasks.
    pub waiting: usize,
    /// `QUEUED` tasks.
    pub queued: usize,
    /// `WORKING` tasks.
    pub working: usize,
    /// `DONE` tasks.
    pub done: usize,
    /// `CANCELLED` tasks.
    pub cancelled: usize,
    /// `ARCHIVED` tasks.
    pub archived: usize,
    /// All tasks: the sum of the above.
    pub total: usize,
}

impl TaskCounts {
    /// The count for `state`.
    pub fn get(&self, state: TaskState) -> usize {
        match state {
            TaskState::Todo => self.todo,
            TaskState::Waiting => self.waiting,
            TaskState::Queued => self.queued,
            TaskState::Working => self.working,
            TaskState::Done => self.done,
            TaskState::Cancelled => self.cancelled,
            TaskState::Archived => self.archived,
        }
    }

    pub(crate) fn add(&mut self, state: TaskState) {
        let slot = match state {
            TaskState::Todo => &mut self.todo,
            TaskState::Waiting => &mut self.waiting,
            TaskState::Queued => &mut self.queued,
            TaskState::Working => &mut self.working,
            TaskState::Done => &mut self.done,
            TaskState::Cancelled => &mut self.cancelled,
            TaskState::Archived => &mut self.archived,
        };
        *slot += 1;
        self.total += 1;
    }
}
