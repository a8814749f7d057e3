//! A message as read from the inbox: an ID plus a snapshot of the entry.

use msg_core::org::EntryRef;

/// What an inbox entry carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A text message (tag `message`).
    Message,
    /// A file delivery notice (tag `file_delivery`).
    FileDelivery,
    /// Neither tag: an entry a person wrote by hand.
    Other,
}

/// Where a message is in its life, read from its keyword and the `unread` tag.
///
/// Unread has one definition, used everywhere (the listings, `--unread`, `--json`, the hook,
/// intake): a not-done keyword **and** the `unread` tag, as in the original's
/// `find_unread`. A not-done keyword without the tag is [`MessageState::ToDo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageState {
    /// `TODO` (or another not-done keyword) with the `unread` tag: not read yet.
    Unread,
    /// A not-done keyword without the `unread` tag: read, but kept as something to do
    /// (v0.1.0's `:todo:` messages after `msg migrate`, or a keyword a person set again in
    /// Emacs). Its keyword is [`Message::keyword`].
    ToDo,
    /// `DONE`: read.
    Read,
    /// `ARCHIVED`.
    Archived,
    /// Any other keyword (`CANCELLED`, or one a person added), or none.
    Other(Option<String>),
}

/// How urgent a message is. Written as Org's priority cookie, which Emacs reads (the
/// original's `:PRIORITY:` drawer line, which Emacs ignores, is still read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `[#A]`, `high`.
    High,
    /// No cookie (or `[#B]`), `normal`.
    Normal,
    /// `[#C]`, `low`.
    Low,
}

impl Priority {
    /// Reads `high`, `normal` or `low` (any case).
    pub fn parse(text: &str) -> Option<Priority> {
        match text.trim().to_ascii_lowercase().as_str() {
            "high" | "a" => Some(Priority::High),
            "normal" | "b" | "" => Some(Priority::Normal),
            "low" | "c" => Some(Priority::Low),
            _ => None,
        }
    }

    /// The cookie letter this priority is written as (none for normal).
    pub(crate) fn cookie(self) -> Option<char> {
        match self {
            Priority::High => Some('A'),
            Priority::Normal => None,
            Priority::Low => Some('C'),
        }
    }

    /// `high`, `normal` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// A snapshot of one inbox or outbox entry. Operations take the [`Message::id`] and resolve it
/// in the file as it is then, so a snapshot never goes stale in a harmful way: it is only
/// what the file said when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The `:ID:`.
    pub id: String,
    /// Message, file delivery or other.
    pub kind: MessageKind,
    /// Unread, read, archived…
    pub state: MessageState,
    /// The TODO keyword as written.
    pub keyword: Option<String>,
    /// The entry's own tags, in file order.
    pub tags: Vec<String>,
    /// `FROM`.
    pub from: String,
    /// `TO` (file deliveries have none).
    pub to: Option<String>,
    /// `REPLY_TO`: the message this one answers.
    pub reply_to: Option<String>,
    /// `THREAD`: the root of the thread this message belongs to (none for a root).
    pub thread: Option<String>,
    /// The priority cookie, else the `:PRIORITY:` property, else normal.
    pub priority: Priority,
    /// `CREATED`, as written (`[2026-11-24 Tue 10:02]`).
    pub created: Option<String>,
    /// The heading text (the creation time for messages this system writes).
    pub title: String,
    /// The body as the sender wrote it (indentation and escapes removed, LOGBOOK left out).
    pub body: String,
    /// Every property, in file order.
    pub properties: Vec<(String, String)>,
    /// The heading's line in the file when it was read; `None` for the snapshot a create
    /// returns (an append does not read the file to count lines).
    pub line: Option<usize>,
}

impl Message {
    /// Reads an entry. `None` when it has no ID (not something this store can address).
    pub(crate) fn from_entry(entry: &EntryRef<'_>, done: impl Fn(&str) -> bool) -> Option<Message> {
        let id = entry.id()?.into_owned();
        let tags: Vec<String> = entry.tags().into_iter().map(|t| t.into_owned()).collect();
        let kind = if tags.iter().any(|t| t == "file_delivery") {
            MessageKind::FileDelivery
        } else if tags.iter().any(|t| t == "message") {
            MessageKind::Message
        } else {
            MessageKind::Other
        };
        let keyword = entry.keyword().map(|k| k.into_owned());
        let state = match keyword.as_deref() {
            Some("DONE") => MessageState::Read,
            Some("ARCHIVED") => MessageState::Archived,
            Some(k) if !done(k) && tags.iter().any(|t| t == "unread") => MessageState::Unread,
            Some(k) if !done(k) => MessageState::ToDo,
            other => MessageState::Other(other.map(str::to_owned)),
        };
        let property = |key: &str| {
            entry
                .property(key)
                .map(|v| v.into_owned())
                .filter(|v| !v.is_empty())
        };
        let priority = match entry.priority() {
            Some('A') => Priority::High,
            Some('C') => Priority::Low,
            Some(_) => Priority::Normal,
            None => property("PRIORITY")
                .and_then(|p| Priority::parse(&p))
                .unwrap_or(Priority::Normal),
        };
        Some(Message {
            from: property("FROM").unwrap_or_default(),
            to: property("TO"),
            reply_to: property("REPLY_TO"),
            thread: property("THREAD"),
            created: property("CREATED"),
            priority,
            properties: entry
                .properties()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            title: entry.title().into_owned(),
            body: entry.body_text(),
            line: Some(entry.line()),
            id,
            kind,
            state,
            keyword,
            tags,
        })
    }

    /// Whether the message is unread: a not-done keyword and the `unread` tag
    /// ([`MessageState::Unread`]).
    pub fn is_unread(&self) -> bool {
        self.state == MessageState::Unread
    }

    /// The value of property `key` (case-insensitive).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The root of this message's thread: its `THREAD`, or its own ID for a root.
    pub fn thread_root(&self) -> &str {
        self.thread.as_deref().unwrap_or(&self.id)
    }
}
