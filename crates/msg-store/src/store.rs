//! `MessageStore`: the inbox and the outbox of one space.

use std::path::{Path, PathBuf};
use std::time::Duration;

use msg_core::id::{IdKind, new_id};
use msg_core::org::{
    Document, EntryEditor, NewEntry, OrgError, OrgFile, Outline, Party, TodoKeywords, Transaction,
    headline,
};
use msg_core::paths::Paths;
use msg_core::timestamp;
use msg_core::validate;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::message::{Message, MessageKind, MessageState, Priority};

/// The keywords of every messaging file (the v0.2.0 header).
pub const STATES: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";

/// Properties the store sets itself; callers cannot pass them as extras.
const RESERVED: [&str; 7] = [
    "ID", "FROM", "TO", "CREATED", "REPLY_TO", "THREAD", "PRIORITY",
];

/// The body of a file delivery notice, as the original wrote it.
const FILE_DELIVERY_BODY: &str = "File delivery via Fairdrop. Download to process.";

/// A message to create: required fields plus optional ones set with the builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    from: String,
    to: String,
    content: String,
    reply_to: Option<String>,
    thread: Option<String>,
    priority: Priority,
    extra: Vec<(String, String)>,
}

impl NewMessage {
    /// A message from `from` to `to`; `content` may have several lines.
    pub fn new(from: impl Into<String>, to: impl Into<String>, content: impl Into<String>) -> Self {
        NewMessage {
            from: from.into(),
            to: to.into(),
            content: content.into(),
            reply_to: None,
            thread: None,
            priority: Priority::Normal,
            extra: Vec::new(),
        }
    }

    /// Answers message `id`: the new message joins that message's thread. An empty ID means
    /// no reply, as in the original.
    pub fn reply_to(mut self, id: impl Into<String>) -> Self {
        self.reply_to = Some(id.into()).filter(|id: &String| !id.is_empty());
        self
    }

    /// Puts the message in thread `root` without answering a message: the copies of a
    /// broadcast after the first share its thread. A reply's thread comes from its parent
    /// instead; an empty ID means none.
    pub fn thread(mut self, root: impl Into<String>) -> Self {
        self.thread = Some(root.into()).filter(|root: &String| !root.is_empty());
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Adds a property of the caller's (for example `CHANNEL: review`).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }
}

/// A file delivery notice to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFileDelivery {
    /// The sender.
    pub from: String,
    /// The file's name.
    pub filename: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its MIME type.
    pub content_type: String,
    /// The Swarm reference.
    pub swarm_ref: String,
    /// The Fairdrop reference (may be empty).
    pub fairdrop_ref: String,
}

/// What [`MessageStore::archive_older_than`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The IDs moved, in inbox order.
    pub moved: Vec<String>,
    /// The file they were moved to (none when nothing was old enough).
    pub archive_file: Option<PathBuf>,
}

/// The universal inbox (`inbox.org`) and the sent log (`outbox.org`) of one space.
///
/// Every operation locks the file, reads it as it is now and finds messages by ID, so any
/// number of processes (and a person in Emacs) can use the same files: nothing is lost and
/// no decision is made on a stale copy.
#[derive(Debug, Clone)]
pub struct MessageStore {
    dir: PathBuf,
    pub(crate) inbox: OrgFile,
    pub(crate) outbox: OrgFile,
    keywords: TodoKeywords,
}

/// The outcome of a transaction closure: the store's own errors travel inside `Ok` so that
/// the org engine's transaction commits nothing (no change was staged) and hands them back.
type Inner<T> = Result<Result<T, StoreError>, OrgError>;

impl MessageStore {
    /// The store of the space at `space_root` (`<root>/<space>`): creates
    /// `org/messaging/inbox.org` and `outbox.org` with the `#+TODO:` header when missing and
    /// never truncates them.
    pub fn open(space_root: &Path) -> Result<MessageStore, StoreError> {
        MessageStore::at(space_root.join("org").join("messaging"))
    }

    /// The store of `space` under the Datacore root of `paths` (names are validated).
    pub fn for_space(paths: &Paths, space: &str) -> Result<MessageStore, StoreError> {
        MessageStore::at(paths.messaging_dir(space)?)
    }

    fn at(dir: PathBuf) -> Result<MessageStore, StoreError> {
        let keywords = TodoKeywords::parse(STATES);
        let store = MessageStore {
            inbox: OrgFile::new(dir.join("inbox.org"), keywords.clone()),
            outbox: OrgFile::new(dir.join("outbox.org"), keywords.clone()),
            dir,
            keywords,
        };
        for file in [&store.inbox, &store.outbox] {
            // A transaction that reads a missing file creates it with the header (under the
            // lock, so two processes creating it at once write it once). Existing files are
            // not read: opening the store must stay cheap for hooks that run on every prompt.
            if !file.path().exists() {
                file.transaction(|txn| txn.document().map(drop))?;
            }
        }
        Ok(store)
    }

    /// Waits at most `timeout` for another process's lock (default 10 s).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> MessageStore {
        self.inbox = self.inbox.with_lock_timeout(timeout);
        self.outbox = self.outbox.with_lock_timeout(timeout);
        self
    }

    /// `inbox.org`.
    pub fn inbox_path(&self) -> &Path {
        self.inbox.path()
    }

    /// `outbox.org`.
    pub fn outbox_path(&self) -> &Path {
        self.outbox.path()
    }

    /// Creates an unread message in the inbox: `* TODO <now> <from>: <first line> :unread:message:`
    /// (the title says who and what: [`msg_core::org::headline`]) with ID, FROM,
    /// TO, the caller's properties, REPLY_TO and THREAD for replies, and CREATED; a priority
    /// becomes the heading's cookie. Without a reply the message is appended without reading
    /// the inbox, so the cost does not grow with its size.
    pub fn create_message(&self, message: &NewMessage) -> Result<Message, StoreError> {
        self.write_message(message, &self.inbox, "TODO", &["unread", "message"])
    }

    /// Records a message this user sent in `outbox.org`
    /// (`* DONE <now> to <to>: <first line> :sent:message:`), with the same fields as
    /// [`MessageStore::create_message`].
    pub fn record_sent(&self, message: &NewMessage) -> Result<Message, StoreError> {
        self.write_message(message, &self.outbox, "DONE", &["sent", "message"])
    }

    fn write_message(
        &self,
        message: &NewMessage,
        target: &OrgFile,
        keyword: &str,
        tags: &[&str],
    ) -> Result<Message, StoreError> {
        validate::actor("from_actor", &message.from)?;
        validate::actor("to_actor", &message.to)?;
        if let Some(reply_to) = &message.reply_to {
            validate::property_value("reply_to", reply_to)?;
        }
        if let Some(thread) = &message.thread {
            validate::property_value("thread", thread)?;
        }
        for (key, value) in &message.extra {
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(key)) {
                return Err(StoreError::ReservedProperty { key: key.clone() });
            }
            validate::property_key(key)?;
            validate::property_value(key, value)?;
        }
        let now = timestamp::now_local();
        let id = new_id(
            IdKind::Message,
            format!("{}:{}:{}", message.from, message.to, message.content).as_bytes(),
            now,
        );
        let mut properties = vec![
            ("ID".to_owned(), id),
            ("FROM".to_owned(), message.from.clone()),
            ("TO".to_owned(), message.to.clone()),
        ];
        properties.extend(message.extra.iter().cloned());
        // The inbox names the sender, the outbox (what this user sent) the recipient.
        let party = if target.path() == self.inbox.path() {
            Party::From(&message.from)
        } else {
            Party::To(&message.to)
        };
        let title = headline(&timestamp::format_inactive(now), party, &message.content);
        let entry = |properties: Vec<(String, String)>| NewEntry {
            keyword: Some(keyword.to_owned()),
            priority: message.priority.cookie(),
            title: title.clone(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            properties,
            body: message.content.clone(),
        };
        let Some(reply_to) = &message.reply_to else {
            if let Some(thread) = &message.thread {
                properties.push(("THREAD".to_owned(), thread.clone()));
            }
            properties.push(("CREATED".to_owned(), timestamp::format_inactive(now)));
            let entry = entry(properties);
            target.transaction(|txn| txn.append(&entry))?;
            return Ok(self.snapshot(&entry));
        };
        // A reply: the thread root is the parent's THREAD, else the parent's ID. The parent is
        // read from disk under the locks (it may be one we received, or one we sent).
        OrgFile::transaction_all(&[&self.inbox, &self.outbox], |txns| {
            let mut thread = reply_to.clone();
            for txn in txns.iter_mut() {
                if let Ok(Some(parent)) = txn.document()?.find_by_id(reply_to) {
                    if let Some(root) = parent.property("THREAD").filter(|t| !t.is_empty()) {
                        thread = root.into_owned();
                    }
                    break;
                }
            }
            let mut properties = properties;
            properties.push(("REPLY_TO".to_owned(), reply_to.clone()));
            properties.push(("THREAD".to_owned(), thread));
            properties.push(("CREATED".to_owned(), timestamp::format_inactive(now)));
            let entry = entry(properties);
            let index = if target.path() == self.inbox.path() {
                0
            } else {
                1
            };
            txns[index].append(&entry)?;
            Ok(self.snapshot(&entry))
        })
        .map_err(StoreError::from)
    }

    /// Creates an unread file delivery notice with the original's properties (ID, FROM,
    /// FILENAME, SIZE, CONTENT_TYPE, SWARM_REF, FAIRDROP_REF, DOWNLOADED, CREATED).
    pub fn create_file_delivery(&self, delivery: &NewFileDelivery) -> Result<Message, StoreError> {
        validate::actor("from_actor", &delivery.from)?;
        validate::property_value("filename", &delivery.filename)?;
        if delivery.filename.trim().is_empty() {
            return Err(validate::ValidationError::Empty {
                field: "filename".into(),
            }
            .into());
        }
        validate::property_value("content_type", &delivery.content_type)?;
        validate::property_value("swarm_ref", &delivery.swarm_ref)?;
        validate::property_value("fairdrop_ref", &delivery.fairdrop_ref)?;
        let now = timestamp::now_local();
        let id = new_id(
            IdKind::FileDelivery,
            format!("{}:{}", delivery.from, delivery.filename).as_bytes(),
            now,
        );
        let entry = NewEntry {
            keyword: Some("TODO".into()),
            priority: None,
            title: headline(
                &timestamp::format_inactive(now),
                Party::From(&delivery.from),
                &format!("file {}", delivery.filename),
            ),
            tags: vec!["unread".into(), "file_delivery".into()],
            properties: vec![
                ("ID".into(), id),
                ("FROM".into(), delivery.from.clone()),
                ("FILENAME".into(), delivery.filename.clone()),
                ("SIZE".into(), delivery.size.to_string()),
                ("CONTENT_TYPE".into(), delivery.content_type.clone()),
                ("SWARM_REF".into(), delivery.swarm_ref.clone()),
                ("FAIRDROP_REF".into(), delivery.fairdrop_ref.clone()),
                ("DOWNLOADED".into(), "false".into()),
                ("CREATED".into(), timestamp::format_inactive(now)),
            ],
            body: FILE_DELIVERY_BODY.into(),
        };
        self.inbox.transaction(|txn| txn.append(&entry))?;
        Ok(self.snapshot(&entry))
    }

    /// What an entry we just wrote reads as (rendered and scanned, so it is exactly what
    /// a later query returns).
    fn snapshot(&self, entry: &NewEntry) -> Message {
        let doc = Document::parse(entry.render("\n").into_bytes(), &self.keywords);
        let message = Message::from_entry(&doc.entry(0), |k| self.keywords.is_done(k));
        Message {
            line: None,
            ..message.expect("the entry has an ID")
        }
    }

    /// Every message of `outline`, each entry scanned in turn (no index of the whole file).
    fn messages_in(&self, outline: &Outline) -> Vec<Message> {
        outline
            .entries()
            .filter_map(|e| Message::from_entry(&e.get(), |k| outline.keywords().is_done(k)))
            .collect()
    }

    /// Every inbox entry with an ID, as the file is now, in file order.
    pub fn all(&self) -> Result<Vec<Message>, StoreError> {
        Ok(self.messages_in(&self.inbox.read_outline()?))
    }

    /// Unread messages and file deliveries (a not-done keyword and the `unread` tag), in
    /// file order; [`Message::kind`] tells them apart.
    pub fn unread(&self) -> Result<Vec<Message>, StoreError> {
        let outline = self.inbox.read_outline()?;
        // Only entries tagged unread are scanned and become snapshots: this runs before
        // every prompt; the others' headings alone are read.
        Ok((0..outline.len())
            .filter(|&index| outline.has_tag(index, "unread"))
            .filter_map(|index| {
                Message::from_entry(&outline.entry(index).get(), |k| {
                    outline.keywords().is_done(k)
                })
            })
            .filter(Message::is_unread)
            .collect())
    }

    /// Text messages in any state.
    pub fn messages(&self) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|m| m.kind == MessageKind::Message)
            .collect())
    }

    /// File deliveries; only those still tagged `unread` when `unread_only`.
    pub fn file_deliveries(&self, unread_only: bool) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|m| m.kind == MessageKind::FileDelivery)
            .filter(|m| !unread_only || m.tags.iter().any(|t| t == "unread"))
            .collect())
    }

    /// The whole thread whose root is `root_id`, root included, from the inbox and the
    /// outbox (what this user sent), in conversation order: by the time in the ID (else
    /// CREATED), and never a reply before the message it answers.
    pub fn thread(&self, root_id: &str) -> Result<Vec<Message>, StoreError> {
        let in_thread = |m: &Message| m.id == root_id || m.thread.as_deref() == Some(root_id);
        let mut thread: Vec<Message> = self.all()?.into_iter().filter(in_thread).collect();
        thread.extend(self.sent()?.into_iter().filter(in_thread));
        thread.sort_by_key(sent_at);
        Ok(parents_first(thread))
    }

    /// The inbox message with `id`, if any.
    pub fn by_id(&self, id: &str) -> Result<Option<Message>, StoreError> {
        let outline = self.inbox.read_outline()?;
        let found = outline
            .find_by_id(id)
            .map_err(|dup| dup.in_file(self.inbox.path()))?;
        Ok(found.and_then(|index| {
            Message::from_entry(&outline.entry(index).get(), |k| {
                outline.keywords().is_done(k)
            })
        }))
    }

    /// Inbox messages from `actor` (exact match, as actors are compared everywhere).
    pub fn from_sender(&self, actor: &str) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|m| m.from == actor)
            .collect())
    }

    /// What this user sent (`outbox.org`), in file order.
    pub fn sent(&self) -> Result<Vec<Message>, StoreError> {
        Ok(self.messages_in(&self.outbox.read_outline()?))
    }

    /// Marks a message read: TODO → DONE (CLOSED and a LOGBOOK line, as Emacs writes them)
    /// and removes the `unread` tag. A message already read only loses a leftover `unread`
    /// tag; an archived or cancelled one is an error.
    pub fn mark_read(&self, id: &str) -> Result<Message, StoreError> {
        self.transition(
            id,
            "mark read",
            "unread or read messages",
            |state| {
                matches!(
                    state,
                    MessageState::Unread | MessageState::ToDo | MessageState::Read
                )
            },
            |e, at| {
                e.set_keyword("DONE", at)?;
                set_tag(e, "unread", false)
            },
        )
    }

    /// Marks a read message unread again: DONE → TODO (CLOSED removed) and adds `unread`.
    pub fn mark_unread(&self, id: &str) -> Result<Message, StoreError> {
        self.transition(
            id,
            "mark unread",
            "unread or read messages",
            |state| {
                matches!(
                    state,
                    MessageState::Unread | MessageState::ToDo | MessageState::Read
                )
            },
            |e, at| {
                e.set_keyword("TODO", at)?;
                set_tag(e, "unread", true)
            },
        )
    }

    /// Archives a message (→ ARCHIVED); from unread it also clears `unread`. Archiving an
    /// archived message changes nothing; a cancelled one is an error.
    pub fn archive(&self, id: &str) -> Result<Message, StoreError> {
        self.transition(
            id,
            "archive",
            "unread, read or archived messages",
            |state| {
                matches!(
                    state,
                    MessageState::Unread
                        | MessageState::ToDo
                        | MessageState::Read
                        | MessageState::Archived
                )
            },
            |e, at| {
                e.set_keyword("ARCHIVED", at)?;
                set_tag(e, "unread", false)
            },
        )
    }

    /// Takes a message out of the archive: ARCHIVED → DONE (read; CLOSED and a LOGBOOK line
    /// as for any move). A read message changes nothing; an unread or cancelled one is an
    /// error. (Messages moved to `archive/inbox-YYYY-MM.org` by `archive_older_than` are in
    /// another file and not found here.)
    pub fn unarchive(&self, id: &str) -> Result<Message, StoreError> {
        self.transition(
            id,
            "unarchive",
            "archived or read messages",
            |state| matches!(state, MessageState::Archived | MessageState::Read),
            |e, at| {
                e.set_keyword("DONE", at)?;
                Ok(true)
            },
        )
    }

    /// Marks every unread message and file delivery read, as [`MessageStore::mark_read`]
    /// does each, in one transaction (one read of the inbox, one write). Returns the IDs,
    /// in file order.
    pub fn mark_all_read(&self) -> Result<Vec<String>, StoreError> {
        let at = timestamp::now_local();
        let marked = self.inbox.transaction(|txn| {
            let outline = txn.outline()?;
            let ids: Vec<String> = (0..outline.len())
                .filter(|&index| outline.has_tag(index, "unread"))
                .filter_map(|index| {
                    Message::from_entry(&outline.entry(index).get(), |k| {
                        outline.keywords().is_done(k)
                    })
                })
                .filter(Message::is_unread)
                .map(|m| m.id)
                .collect();
            for id in &ids {
                txn.edit(id, |e| {
                    e.set_keyword("DONE", at)?;
                    set_tag(e, "unread", false)
                })?;
            }
            Ok(ids)
        })?;
        Ok(marked)
    }

    /// Marks a file delivery downloaded (`DOWNLOADED: true`).
    pub fn mark_downloaded(&self, id: &str) -> Result<Message, StoreError> {
        self.transition(
            id,
            "mark downloaded",
            "file deliveries",
            |_| true,
            |e, _| {
                if e.entry().property("DOWNLOADED").is_none() && !e.entry().has_tag("file_delivery")
                {
                    return Ok(false);
                }
                e.set_property("DOWNLOADED", "true")?;
                Ok(true)
            },
        )
    }

    /// Runs one state change on message `id` under the inbox lock, checking `allowed`
    /// against the state in the file now; `apply` returns `false` to refuse.
    fn transition(
        &self,
        id: &str,
        action: &'static str,
        allowed_text: &'static str,
        allowed: impl Fn(&MessageState) -> bool,
        apply: impl FnOnce(
            &mut msg_core::org::EntryEditor<'_>,
            OffsetDateTime,
        ) -> Result<bool, OrgError>,
    ) -> Result<Message, StoreError> {
        let path = self.inbox.path().to_owned();
        let at = timestamp::now_local();
        // The engine's edit by ID: a byte search for the ID and a scan of its section only;
        // the state is checked on that section as read under the lock.
        let outcome: Inner<Message> = self.inbox.transaction(|txn: &mut Transaction<'_>| {
            txn.edit(id, |e| {
                let current = editor_message(e);
                let refuse = |current: &Message| StoreError::Transition {
                    action,
                    id: id.to_owned(),
                    state: current
                        .keyword
                        .clone()
                        .unwrap_or_else(|| "without a keyword".to_owned()),
                    allowed: allowed_text,
                    path: path.clone(),
                    line: current.line.unwrap_or_default(),
                };
                let Some(current) = current else {
                    // An entry with the ID is always a message (`from_entry` needs only it).
                    return Ok(Err(StoreError::NotFound {
                        path: path.clone(),
                        id: id.to_owned(),
                    }));
                };
                if !allowed(&current.state) {
                    return Ok(Err(refuse(&current)));
                }
                if !apply(e, at)? {
                    return Ok(Err(refuse(&current)));
                }
                Ok(Ok(editor_message(e).expect("has an ID")))
            })
        });
        match outcome {
            Ok(result) => result,
            Err(OrgError::NotFound { path, id }) => Err(StoreError::NotFound { path, id }),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves read and archived messages created more than `days` days before `now` out of
    /// `inbox.org` into `archive/inbox-<YYYY-MM>.org` (the month of `now`), as Org's
    /// `org-archive-subtree` does: each keeps its children and gains `ARCHIVE_TIME`,
    /// `ARCHIVE_FILE` and `ARCHIVE_TODO`. Unread messages are never moved. Both files are
    /// locked for the move; the inbox keeps every other byte.
    pub fn archive_older_than(
        &self,
        days: u32,
        now: OffsetDateTime,
    ) -> Result<ArchiveReport, StoreError> {
        let cutoff = now - time::Duration::days(i64::from(days));
        let cutoff = time::PrimitiveDateTime::new(cutoff.date(), cutoff.time());
        let archive_path = self.dir.join("archive").join(format!(
            "inbox-{:04}-{:02}.org",
            now.year(),
            u8::from(now.month())
        ));
        let archive = OrgFile::new(&archive_path, self.keywords.clone());
        let inbox_path = self.inbox.path().display().to_string();
        let archive_time = timestamp::format_inactive(now);
        let archive_time = archive_time.trim_matches(['[', ']']).to_owned();
        let moved = OrgFile::transaction_all(&[&self.inbox, &archive], |txns| {
            let outline = txns[0].outline()?;
            let old: Vec<String> = self
                .messages_in(outline)
                .into_iter()
                .filter(|m| matches!(m.state, MessageState::Read | MessageState::Archived))
                .filter(|m| {
                    m.created
                        .as_deref()
                        .and_then(timestamp::parse_org_timestamp)
                        .is_some_and(|created| created < cutoff)
                })
                .map(|m| m.id)
                .collect();
            if old.is_empty() {
                return Ok(old);
            }
            let ids: Vec<&str> = old.iter().map(String::as_str).collect();
            let mut taken = txns[0].take(&ids)?;
            for subtree in &mut taken {
                let keyword = Document::parse(subtree.bytes().to_vec(), &self.keywords)
                    .entry(0)
                    .keyword()
                    .map(|k| k.into_owned());
                subtree.edit(self.inbox.path(), |e| {
                    e.set_property("ARCHIVE_TIME", &archive_time)?;
                    e.set_property("ARCHIVE_FILE", &inbox_path)?;
                    if let Some(keyword) = &keyword {
                        e.set_property("ARCHIVE_TODO", keyword)?;
                    }
                    Ok(())
                })?;
                txns[1].append_subtree(subtree)?;
            }
            Ok(old)
        })?;
        Ok(ArchiveReport {
            archive_file: (!moved.is_empty()).then_some(archive_path),
            moved,
        })
    }
}

/// When a message was written: the time in its ID (to the second), else its CREATED (to the
/// minute). Unknown times sort first, keeping file order.
fn sent_at(message: &Message) -> Option<time::PrimitiveDateTime> {
    msg_core::id::parse_id(&message.id).created.or_else(|| {
        message
            .created
            .as_deref()
            .and_then(timestamp::parse_org_timestamp)
    })
}

/// Reorders `messages` (already in time order) so that no reply comes before the message it
/// answers; clocks of two machines may disagree by a few seconds.
fn parents_first(mut pending: Vec<Message>) -> Vec<Message> {
    let mut ordered: Vec<Message> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|m| {
                m.reply_to
                    .as_deref()
                    .is_none_or(|parent| !pending.iter().any(|other| other.id == parent))
            })
            .unwrap_or(0); // a cycle (hand-edited IDs): keep time order
        ordered.push(pending.remove(ready));
    }
    ordered
}

/// Adds or removes `tag`, keeping the other tags in their order.
fn set_tag(
    e: &mut msg_core::org::EntryEditor<'_>,
    tag: &str,
    present: bool,
) -> Result<bool, OrgError> {
    let mut tags: Vec<String> = e
        .entry()
        .tags()
        .into_iter()
        .map(|t| t.into_owned())
        .collect();
    let had = tags.iter().any(|t| t == tag);
    if had == present {
        return Ok(true);
    }
    if present {
        tags.insert(0, tag.to_owned());
    } else {
        tags.retain(|t| t != tag);
    }
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    e.set_tags(&tags)?;
    Ok(true)
}

/// The message an editor holds (with its edits so far), with its line in the file.
fn editor_message(editor: &EntryEditor<'_>) -> Option<Message> {
    let keywords = editor.keywords();
    Message::from_entry(&editor.entry(), |k| keywords.is_done(k)).map(|message| Message {
        line: Some(editor.line()),
        ..message
    })
}
