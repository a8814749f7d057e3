//! `msg migrate`: the v0.1.0 layout (`<space>/org/inboxes/`) into today's files.
//!
//! v0.1.0 kept one file per recipient under `org/inboxes/`: `<user>.org` (messages, keyword
//! `MESSAGE`, status in the tags `:unread:`, `:todo:`, `:done:`), `<user>-claude.org` (the
//! agent's tasks, status in `TASK_STATUS`, `STARTED_AT`, `COMPLETED_AT`) and `USERS.yaml`.
//! This module turns them into:
//!
//! - `org/messaging/inbox.org`: `* TODO [ts] :unread:message:` (unread), `* TODO … :message:todo:`
//!   (marked to do), `* DONE … :message:` (done or read); every property kept, `thread-<id>`
//!   thread IDs mapped to the root message's ID (the old value in `ORIGINAL_THREAD`), a
//!   `high`/`low` `PRIORITY` also written as Org's `[#A]`/`[#C]` cookie, `CREATED` from the
//!   heading's timestamp;
//! - `org/messaging/agents/<user>-claude.org`: DONE (`TASK_STATUS: done` or `:done:`), WORKING
//!   (`TASK_STATUS: working`), otherwise WAITING for the person's approval (a migration never
//!   starts work on its own); `STARTED_AT`/`COMPLETED_AT` become `STARTED`/`COMPLETED`, the
//!   sender's tier is written as `TRUST_TIER`, the first line of the text becomes the title;
//! - `<space>/contacts.yaml`: `actors: [{id, name, handles, trust_tier, added}]`.
//!
//! Every migrated entry carries `MIGRATED_FROM: v0.1.0 org/inboxes/<file>:<line>`. A v0.1.0
//! ID that is already taken (the old scheme gave two messages of one sender in one second the
//! same ID) gets `<id>-dup<n>` and keeps the old one in `ORIGINAL_ID`; references to it are
//! left as they were (they pointed at the first one) and the plan says so.
//!
//! # Crash safety and idempotence
//!
//! 1. Every target file gets its new entries in one locked, durable append (the org engine);
//!    `contacts.yaml` is created or replaced atomically, its old version copied to the
//!    backup first.
//! 2. The targets are read back through `msg-store` and `msg-inbox`: every planned ID must be
//!    found with its state.
//! 3. Only then are the old files moved (`rename`, then `fsync` of both directories) into
//!    `<space>/org/migration-backup/v0.1.0-<date>/`. Nothing is deleted.
//!
//! A run that stops anywhere can be run again: an entry whose `MIGRATED_FROM` is already in
//! the target is not appended twice (duplicate IDs are numbered from the source files
//! alone, so they come out the same), contacts already listed are not added again, and a
//! file already moved is no longer a source. Once everything is moved, a run changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use msg_core::durable;
use msg_core::org::{Document, NewEntry, OrgFile, TodoKeywords};
use msg_inbox::TaskState;
use msg_store::StoreError;

use crate::context::{AGENT_SUFFIX, Context};
use crate::error::HooksError;

/// The folder of the v0.1.0 files, below `<space>/org/`.
pub const V010_DIR: &str = "inboxes";
/// The property that records where a migrated entry came from.
pub const MIGRATED_FROM: &str = "MIGRATED_FROM";
/// The property that keeps a v0.1.0 ID that had to be replaced.
pub const ORIGINAL_ID: &str = "ORIGINAL_ID";
/// The property that keeps a v0.1.0 `thread-…` ID that was mapped.
pub const ORIGINAL_THREAD: &str = "ORIGINAL_THREAD";
/// The folder below `<space>/org/` that receives the old files.
pub const BACKUP_DIR: &str = "migration-backup";

/// The v0.1.0 status tags, which become keywords.
const STATUS_TAGS: [&str; 3] = ["unread", "todo", "done"];

fn org_error(err: msg_core::org::OrgError) -> HooksError {
    HooksError::Store(StoreError::Org(err))
}

/// Which kind of file a source becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Messages for the inbox.
    Inbox,
    /// Tasks for the agent's file.
    Agent,
}

/// One v0.1.0 entry and what it becomes.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Its heading line in the old file.
    pub line: usize,
    /// The v0.1.0 ID.
    pub old_id: String,
    /// The ID it has in the new file.
    pub new_id: String,
    /// The entry as it is written.
    pub entry: NewEntry,
    /// It is in the target already (an earlier run wrote it).
    pub already_there: bool,
}

/// An old org file and the entries it gives.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// The old file.
    pub source: PathBuf,
    /// The new file.
    pub target: PathBuf,
    /// Messages or tasks.
    pub kind: Target,
    /// Its entries.
    pub entries: Vec<PlannedEntry>,
    /// Things a person should know (entries that are not messages, references to a
    /// duplicate ID).
    pub notes: Vec<String>,
}

/// `USERS.yaml` and the actors it gives.
#[derive(Debug, Clone)]
pub struct ContactsPlan {
    /// The old file.
    pub source: PathBuf,
    /// `<space>/contacts.yaml`.
    pub target: PathBuf,
    /// Actors to add, as YAML list items.
    pub add: Vec<(String, String)>,
    /// Actors the target lists already.
    pub present: Vec<String>,
}

/// What `msg migrate` does (or would do) in one space.
#[derive(Debug, Clone)]
pub struct MigrationPlan {
    /// The space.
    pub space: String,
    /// `<space>/org/inboxes`.
    pub source_dir: PathBuf,
    /// The org files to convert.
    pub files: Vec<FilePlan>,
    /// `USERS.yaml`, when there is one.
    pub contacts: Option<ContactsPlan>,
    /// Files left where they are, and why.
    pub left: Vec<(PathBuf, String)>,
    /// Other spaces that hold v0.1.0 files.
    pub other_spaces: Vec<String>,
}

impl MigrationPlan {
    /// Whether there is nothing to move or write.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.contacts.is_none()
    }

    /// The plan for a terminal.
    pub fn to_text(&self, root: &Path) -> String {
        let show = |p: &Path| {
            p.strip_prefix(root)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        let mut out = String::new();
        if self.is_empty() && self.left.is_empty() {
            let _ = writeln!(
                out,
                "no v0.1.0 files in {}: nothing to migrate",
                show(&self.source_dir)
            );
        } else {
            let _ = writeln!(out, "v0.1.0 files in {}:", show(&self.source_dir));
        }
        for file in &self.files {
            let what = match file.kind {
                Target::Inbox => ("message", "messages"),
                Target::Agent => ("task", "tasks"),
            };
            let new = file.entries.iter().filter(|e| !e.already_there).count();
            let done = file.entries.len() - new;
            let _ = write!(
                out,
                "  {} -> {}: {}",
                file_name(&file.source),
                show(&file.target),
                plural(new, what.0, what.1)
            );
            if done > 0 {
                let _ = write!(out, " ({done} already there)");
            }
            out.push('\n');
            for entry in &file.entries {
                let heading = match (&entry.entry.keyword, entry.entry.tags.is_empty()) {
                    (Some(k), false) => format!("{k} :{}:", entry.entry.tags.join(":")),
                    (Some(k), true) => k.clone(),
                    (None, _) => String::new(),
                };
                let _ = write!(out, "    line {:<4} {}", entry.line, entry.new_id);
                if entry.new_id != entry.old_id {
                    let _ = write!(
                        out,
                        " (was {}, a duplicate ID; kept in {ORIGINAL_ID})",
                        entry.old_id
                    );
                }
                let _ = write!(out, "  {heading}");
                if file.kind == Target::Agent {
                    let _ = write!(out, "  {}", entry.entry.title);
                }
                if entry.already_there {
                    out.push_str("  (already there)");
                }
                out.push('\n');
            }
            for note in &file.notes {
                let _ = writeln!(out, "    note: {note}");
            }
        }
        if let Some(contacts) = &self.contacts {
            let names: Vec<&str> = contacts.add.iter().map(|(id, _)| id.as_str()).collect();
            let _ = write!(
                out,
                "  {} -> {}: {}",
                file_name(&contacts.source),
                show(&contacts.target),
                plural(names.len(), "actor", "actors")
            );
            if !names.is_empty() {
                let _ = write!(out, " ({})", names.join(", "));
            }
            if !contacts.present.is_empty() {
                let _ = write!(out, "; already listed: {}", contacts.present.join(", "));
            }
            out.push('\n');
        }
        for (path, why) in &self.left {
            let _ = writeln!(out, "  {}: left in place ({why})", file_name(path));
        }
        for space in &self.other_spaces {
            let _ = writeln!(
                out,
                "space {space} has v0.1.0 files too: `msg --space {space} migrate` migrates them"
            );
        }
        out
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    /// The plan it carried out.
    pub plan: MigrationPlan,
    /// Entries appended, per target file.
    pub appended: Vec<(PathBuf, usize)>,
    /// Actors added to contacts.yaml.
    pub contacts_added: usize,
    /// Where the old files went, when any were moved.
    pub backup: Option<PathBuf>,
    /// The old files moved there.
    pub moved: Vec<PathBuf>,
}

impl MigrationReport {
    /// The report for a terminal.
    pub fn to_text(&self, root: &Path) -> String {
        let mut out = self.plan.to_text(root);
        let show = |p: &Path| {
            p.strip_prefix(root)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        for (path, count) in &self.appended {
            let _ = writeln!(
                out,
                "wrote {}: {}",
                show(path),
                plural(*count, "new entry", "new entries")
            );
        }
        if self.contacts_added > 0
            && let Some(contacts) = &self.plan.contacts
        {
            let _ = writeln!(
                out,
                "wrote {}: {}",
                show(&contacts.target),
                plural(self.contacts_added, "actor", "actors")
            );
        }
        if let Some(backup) = &self.backup {
            let _ = writeln!(
                out,
                "moved {} to {} (kept, never deleted)",
                plural(self.moved.len(), "old file", "old files"),
                show(backup)
            );
        }
        if self.backup.is_some() {
            out.push_str("checked: every migrated entry reads back through the inbox and the agent's task file; `msg doctor` checks the rest\n");
        }
        out
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One v0.1.0 entry as read.
#[derive(Debug, Clone)]
struct OldEntry {
    line: usize,
    id: String,
    timestamp: String,
    tags: Vec<String>,
    properties: Vec<(String, String)>,
    body: String,
    marker: String,
}

/// Reads the v0.1.0 entries of `path`: level-1 `MESSAGE` headings with an ID. Anything
/// else is returned as a note (it stays in the backup).
fn read_old(path: &Path, rel: &str) -> Result<(Vec<OldEntry>, Vec<String>), HooksError> {
    let bytes = std::fs::read(path).map_err(HooksError::io("read", path))?;
    let doc = Document::parse(bytes, &TodoKeywords::parse("MESSAGE"));
    if let Some(bad) = doc.invalid_utf8() {
        return Err(HooksError::BadFile {
            path: path.to_owned(),
            line: Some(bad.line),
            message: "not valid UTF-8; re-save it as UTF-8 and run `msg migrate` again".into(),
        });
    }
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for entry in doc.entries() {
        let is_message = entry.keyword().as_deref() == Some("MESSAGE");
        let id = entry.id().map(|id| id.into_owned());
        match (entry.level(), is_message, id) {
            (1, true, Some(id)) if !id.is_empty() => entries.push(OldEntry {
                line: entry.line(),
                id,
                timestamp: entry.title().into_owned(),
                tags: entry.tags().into_iter().map(|t| t.into_owned()).collect(),
                properties: entry
                    .properties()
                    .map(|(k, v)| (k.to_ascii_uppercase(), v.into_owned()))
                    .collect(),
                body: entry.body_text(),
                marker: format!("v0.1.0 {rel}:{}", entry.line()),
            }),
            _ => notes.push(format!(
                "line {}: {:?} is not a v0.1.0 message with an ID; it is kept in the backup only",
                entry.line(),
                entry.title()
            )),
        }
    }
    Ok((entries, notes))
}

/// The converted entry without its ID decided.
fn convert(ctx: &Context, kind: Target, old: &OldEntry) -> NewEntry {
    let prop = |key: &str| {
        old.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let priority = match prop("PRIORITY").map(|p| p.trim().to_ascii_lowercase()) {
        Some(p) if p == "high" => Some('A'),
        Some(p) if p == "low" => Some('C'),
        _ => None,
    };
    let other_tags = old
        .tags
        .iter()
        .filter(|t| !STATUS_TAGS.contains(&t.as_str()))
        .cloned();
    let has = |tag: &str| old.tags.iter().any(|t| t == tag);
    match kind {
        Target::Inbox => {
            let (keyword, mut tags) = if has("unread") {
                ("TODO", vec!["unread".to_owned(), "message".to_owned()])
            } else if has("todo") {
                ("TODO", vec!["message".to_owned(), "todo".to_owned()])
            } else {
                ("DONE", vec!["message".to_owned()])
            };
            tags.extend(other_tags.filter(|t| t != "message"));
            let mut properties = Vec::new();
            let mut original_thread = None;
            for (key, value) in &old.properties {
                match key.as_str() {
                    "ID" => {}
                    "THREAD" => match value.strip_prefix("thread-") {
                        Some(root) if !root.is_empty() => {
                            properties.push((key.clone(), root.to_owned()));
                            original_thread = Some(value.clone());
                        }
                        _ => properties.push((key.clone(), value.clone())),
                    },
                    _ => properties.push((key.clone(), value.clone())),
                }
            }
            if let Some(thread) = original_thread {
                properties.push((ORIGINAL_THREAD.into(), thread));
            }
            if prop("CREATED").is_none() {
                properties.push(("CREATED".into(), old.timestamp.clone()));
            }
            NewEntry {
                keyword: Some(keyword.into()),
                priority,
                title: old.timestamp.clone(),
                tags,
                properties,
                body: old.body.clone(),
            }
        }
        Target::Agent => {
            let status = prop("TASK_STATUS").map(|s| s.trim().to_ascii_lowercase());
            let state = match status.as_deref() {
                Some("done") => TaskState::Done,
                Some("working") => TaskState::Working,
                _ if has("done") => TaskState::Done,
                _ => TaskState::Waiting,
            };
            let from = prop("FROM").unwrap_or_default().to_owned();
            let mut properties = vec![
                ("FROM".to_owned(), from.clone()),
                ("TRUST_TIER".to_owned(), ctx.trust_tier(&from)),
                ("SUBMITTED".to_owned(), old.timestamp.clone()),
            ];
            if state == TaskState::Waiting {
                properties.push(("AWAITING".into(), "owner-approval".into()));
            }
            properties.push((
                "CREATED".into(),
                prop("CREATED").unwrap_or(&old.timestamp).to_owned(),
            ));
            if let Some(started) = prop("STARTED_AT") {
                properties.push(("STARTED".into(), started.to_owned()));
            }
            if let Some(completed) = prop("COMPLETED_AT") {
                properties.push(("COMPLETED".into(), completed.to_owned()));
            }
            for (key, value) in &old.properties {
                if ![
                    "ID",
                    "FROM",
                    "CREATED",
                    "TASK_STATUS",
                    "STARTED_AT",
                    "COMPLETED_AT",
                ]
                .contains(&key.as_str())
                {
                    properties.push((key.clone(), value.clone()));
                }
            }
            let mut tags = vec!["AI".to_owned()];
            tags.extend(other_tags.filter(|t| t != "AI"));
            // The first line of the text is the title, as for tasks submitted today; text
            // Org would read differently as a title stays whole in the body.
            let (first, rest) = match old.body.split_once('\n') {
                Some((first, rest)) => (first.trim(), rest.trim_start_matches('\n')),
                None => (old.body.trim(), ""),
            };
            let candidate = NewEntry {
                keyword: Some(state.keyword().into()),
                priority,
                title: first.to_owned(),
                tags: tags.clone(),
                properties: properties.clone(),
                body: rest.to_owned(),
            };
            let keywords = TodoKeywords::parse(msg_inbox::TASK_KEYWORDS);
            if !first.is_empty() && candidate.validate(&keywords).is_ok() {
                candidate
            } else {
                NewEntry {
                    title: old.timestamp.clone(),
                    body: old.body.clone(),
                    ..candidate
                }
            }
        }
    }
}

/// `entry`, or, when Org would read its title back differently (it starts with `COMMENT` or
/// a keyword, or ends in something like `:tag:`), the entry with a plain title and the old
/// title as the first line of the body, so that nothing is lost and the append cannot fail.
fn readable(kind: Target, entry: NewEntry) -> NewEntry {
    let keywords = TodoKeywords::parse(match kind {
        Target::Inbox => msg_store::STATES,
        Target::Agent => msg_inbox::TASK_KEYWORDS,
    });
    if entry.validate(&keywords).is_ok() {
        return entry;
    }
    let body = if entry.body.is_empty() {
        entry.title.clone()
    } else {
        format!("{}\n\n{}", entry.title, entry.body)
    };
    NewEntry {
        title: "Migrated v0.1.0 entry".into(),
        body,
        ..entry
    }
}

/// A source org file and what it becomes, before IDs are decided.
struct Source {
    path: PathBuf,
    kind: Target,
    entries: Vec<(OldEntry, NewEntry)>,
    notes: Vec<String>,
}

impl Source {
    /// Reads the v0.1.0 file `path` and converts each of its entries for `kind`.
    fn read(ctx: &Context, kind: Target, path: PathBuf) -> Result<Source, HooksError> {
        let rel = format!("org/{V010_DIR}/{}", file_name(&path));
        let (old, notes) = read_old(&path, &rel)?;
        let entries = old
            .into_iter()
            .map(|o| {
                let new = readable(kind, convert(ctx, kind, &o));
                (o, new)
            })
            .collect();
        Ok(Source {
            path,
            kind,
            entries,
            notes,
        })
    }
}

/// Decides the IDs of `sources` (all going to one target whose current text is `target`):
/// entries whose `MIGRATED_FROM` is in the target already keep the ID they got there; an
/// ID taken by another entry gets `-dup<n>`.
fn assign(target: &Document, sources: &[Source]) -> Vec<Vec<PlannedEntry>> {
    let mut migrated: HashMap<String, String> = HashMap::new();
    let mut taken: HashSet<String> = HashSet::new();
    for entry in target.entries() {
        let Some(id) = entry.id() else { continue };
        if let Some(marker) = entry.property(MIGRATED_FROM) {
            migrated.insert(marker.into_owned(), id.clone().into_owned());
        }
        taken.insert(id.into_owned());
    }
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        let mut planned = Vec::with_capacity(source.entries.len());
        for (old, new) in &source.entries {
            if let Some(id) = migrated.get(&old.marker) {
                planned.push(PlannedEntry {
                    line: old.line,
                    old_id: old.id.clone(),
                    new_id: id.clone(),
                    entry: with_ids(source.kind, new, id, &old.id, &old.marker),
                    already_there: true,
                });
                continue;
            }
            let mut id = old.id.clone();
            let mut n = 2;
            while taken.contains(&id) {
                id = format!("{}-dup{n}", old.id);
                n += 1;
            }
            taken.insert(id.clone());
            planned.push(PlannedEntry {
                line: old.line,
                old_id: old.id.clone(),
                entry: with_ids(source.kind, new, &id, &old.id, &old.marker),
                new_id: id,
                already_there: false,
            });
        }
        out.push(planned);
    }
    out
}

/// `entry` with its `ID` where the stores write it (first for messages; before `CREATED`
/// for tasks), and `ORIGINAL_ID` and `MIGRATED_FROM` last.
fn with_ids(kind: Target, entry: &NewEntry, id: &str, old_id: &str, marker: &str) -> NewEntry {
    let mut entry = entry.clone();
    let at = match kind {
        Target::Inbox => 0,
        Target::Agent => entry
            .properties
            .iter()
            .position(|(k, _)| k == "CREATED")
            .unwrap_or(0),
    };
    let mut properties = Vec::with_capacity(entry.properties.len() + 3);
    properties.extend(entry.properties[..at].iter().cloned());
    properties.push(("ID".into(), id.into()));
    properties.extend(entry.properties[at..].iter().cloned());
    if id != old_id {
        properties.push((ORIGINAL_ID.into(), old_id.into()));
    }
    properties.push((MIGRATED_FROM.into(), marker.into()));
    entry.properties = properties;
    entry
}

/// Notes about references (`REPLY_TO`, `THREAD`) to an ID two old entries carried.
fn reference_notes(planned: &[PlannedEntry]) -> Vec<String> {
    let renamed: HashSet<&str> = planned
        .iter()
        .filter(|p| p.new_id != p.old_id)
        .map(|p| p.old_id.as_str())
        .collect();
    let mut notes = Vec::new();
    for p in planned {
        for (key, value) in &p.entry.properties {
            if (key == "REPLY_TO" || key == "THREAD") && renamed.contains(value.as_str()) {
                notes.push(format!(
                    "line {}: {key} {value} was carried by two old entries; it now names the first (check {} -dupN if it meant the other)",
                    p.line, value
                ));
            }
        }
    }
    notes
}

/// The org files to read for a target, keyed by target path.
fn target_file(path: &Path, kind: Target) -> OrgFile {
    let states = match kind {
        Target::Inbox => msg_store::STATES,
        Target::Agent => msg_inbox::TASK_KEYWORDS,
    };
    OrgFile::new(path, TodoKeywords::parse(states))
}

/// Reads the v0.1.0 files of the context's space and the current targets, and says what a
/// migration would do. Reads only.
pub fn plan(ctx: &Context) -> Result<MigrationPlan, HooksError> {
    let space = ctx.space();
    let space_dir = ctx.paths().space_dir(space)?;
    let source_dir = space_dir.join("org").join(V010_DIR);
    let other_spaces = other_spaces(ctx.paths().root(), space);
    let mut plan = MigrationPlan {
        space: space.to_owned(),
        source_dir: source_dir.clone(),
        files: Vec::new(),
        contacts: None,
        left: Vec::new(),
        other_spaces,
    };
    let mut names: Vec<PathBuf> = match std::fs::read_dir(&source_dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(HooksError::io("list", &source_dir))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(plan),
        Err(e) => return Err(HooksError::io("list", &source_dir)(e)),
    };
    names.sort();
    let user = ctx.user();
    let agent = ctx.agent();
    let mut sources: Vec<Source> = Vec::new();
    for path in names {
        let name = file_name(&path);
        if !path.is_file() {
            plan.left
                .push((path, "a directory; v0.1.0 kept none here".into()));
            continue;
        }
        if name == "USERS.yaml" {
            plan.contacts = Some(contacts_plan(ctx, &path)?);
            continue;
        }
        let Some(stem) = name.strip_suffix(".org") else {
            plan.left.push((path, "not a v0.1.0 inbox file".into()));
            continue;
        };
        let kind = if stem == user {
            Target::Inbox
        } else if stem == agent {
            Target::Agent
        } else {
            let why = if stem.ends_with(AGENT_SUFFIX) {
                format!("another person's agent; you are {user:?} (identity.name)")
            } else {
                format!(
                    "the inbox of {stem:?}, not yours; you are {user:?} (identity.name in the settings)"
                )
            };
            plan.left.push((path, why));
            continue;
        };
        sources.push(Source::read(ctx, kind, path)?);
    }
    for kind in [Target::Inbox, Target::Agent] {
        let group: Vec<Source> = sources
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| Source {
                path: s.path.clone(),
                kind: s.kind,
                entries: s.entries.clone(),
                notes: s.notes.clone(),
            })
            .collect();
        if group.is_empty() {
            continue;
        }
        let target = match kind {
            Target::Inbox => ctx.inbox_file()?,
            Target::Agent => ctx.agent_file(None)?,
        };
        let doc = target_file(&target, kind).read().map_err(org_error)?;
        let assigned = assign(&doc, &group);
        for (source, entries) in group.into_iter().zip(assigned) {
            let mut notes = source.notes;
            notes.extend(reference_notes(&entries));
            plan.files.push(FilePlan {
                source: source.path,
                target: target.clone(),
                kind,
                entries,
                notes,
            });
        }
    }
    Ok(plan)
}

/// Spaces other than `space` below `root` that have `org/inboxes/`.
fn other_spaces(root: &Path, space: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("org").join(V010_DIR).is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != space && !name.starts_with('.'))
        .collect();
    found.sort();
    found
}

/// A YAML scalar as text (`added: 2025-12-11` is a string to serde_yaml already).
fn scalar(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON string is a YAML double-quoted scalar: any text stays one value.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

fn contacts_plan(ctx: &Context, source: &Path) -> Result<ContactsPlan, HooksError> {
    let text = std::fs::read_to_string(source).map_err(HooksError::io("read", source))?;
    let bad = |message: String| HooksError::BadFile {
        path: source.to_owned(),
        line: None,
        message,
    };
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| bad(format!("not YAML: {e}")))?;
    let users = match value.get("users") {
        Some(serde_yaml::Value::Mapping(users)) => users.clone(),
        Some(serde_yaml::Value::Null) | None => serde_yaml::Mapping::new(),
        Some(_) => {
            return Err(bad(
                "`users` should map each user name to its details".into()
            ));
        }
    };
    let target = ctx.paths().contacts_file(ctx.space())?;
    let existing: HashSet<String> = if target.exists() {
        crate::contacts::load(&target)?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        HashSet::new()
    };
    let mut add = Vec::new();
    let mut present = Vec::new();
    for (name, details) in &users {
        let Some(id) = scalar(name) else {
            return Err(bad(format!("a user name is not text: {name:?}")));
        };
        if existing.contains(&id) {
            present.push(id);
            continue;
        }
        let handles: Vec<String> = match details.get("handles") {
            Some(serde_yaml::Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
            Some(other) => scalar(other).into_iter().collect(),
            None => Vec::new(),
        };
        let mut item = format!("  - id: {}\n    name: {}\n", quoted(&id), quoted(&id));
        let handles: Vec<String> = handles.iter().map(|h| quoted(h)).collect();
        let _ = writeln!(item, "    handles: [{}]", handles.join(", "));
        let _ = writeln!(item, "    trust_tier: {}", quoted(&ctx.trust_tier(&id)));
        if let Some(added) = details.get("added").and_then(scalar) {
            let _ = writeln!(item, "    added: {}", quoted(&added));
        }
        add.push((id, item));
    }
    Ok(ContactsPlan {
        source: source.to_owned(),
        target,
        add,
        present,
    })
}

/// The contacts file with `items` added, or `None` when its layout is not one this can
/// extend safely.
fn contacts_text(existing: Option<&str>, items: &[(String, String)]) -> Option<String> {
    let block: String = items.iter().map(|(_, item)| item.as_str()).collect();
    let Some(text) = existing else {
        let template = crate::init::CONTACTS_TEMPLATE;
        return Some(template.replacen("actors: []\n", &format!("actors:\n{block}"), 1))
            .filter(|t| t.contains(&block));
    };
    let mut out = String::with_capacity(text.len() + block.len());
    let mut done = false;
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_end();
        if !done && (trimmed == "actors: []" || trimmed == "actors:") {
            out.push_str("actors:\n");
            if trimmed == "actors:" {
                // New items go first, at the indentation the existing items use.
                let indent = lines
                    .clone()
                    .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .map(|l| l.len() - l.trim_start_matches(' ').len())
                    .unwrap_or(2);
                for (_, item) in items {
                    for item_line in item.split_inclusive('\n') {
                        out.push_str(&" ".repeat(indent));
                        out.push_str(item_line.strip_prefix("  ").unwrap_or(item_line));
                    }
                }
            } else {
                out.push_str(&block);
            }
            done = true;
            continue;
        }
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push('\n');
        }
    }
    done.then_some(out)
}

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct MigrateOptions {
    /// Only plan.
    pub dry_run: bool,
}

/// Plans and, unless `dry_run`, carries out the migration of the context's space.
pub fn migrate(ctx: &Context, options: MigrateOptions) -> Result<MigrationReport, HooksError> {
    let plan = plan(ctx)?;
    let mut report = MigrationReport {
        plan,
        appended: Vec::new(),
        contacts_added: 0,
        backup: None,
        moved: Vec::new(),
    };
    if options.dry_run || report.plan.is_empty() {
        return Ok(report);
    }
    let space_org = ctx.paths().space_dir(ctx.space())?.join("org");
    let backup = fresh_backup_dir(&space_org)?;

    // 1. The new entries, durably: one locked append per target, deciding the IDs again
    //    under the lock from what the target holds now.
    let mut by_target: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, file) in report.plan.files.iter().enumerate() {
        by_target.entry(file.target.clone()).or_default().push(i);
    }
    for (target, indices) in &by_target {
        let kind = report.plan.files[indices[0]].kind;
        if kind == Target::Inbox {
            // The store creates inbox.org and outbox.org with their header.
            ctx.store()?;
        }
        let sources: Vec<Source> = indices
            .iter()
            .map(|&i| Source::read(ctx, kind, report.plan.files[i].source.clone()))
            .collect::<Result<_, HooksError>>()?;
        let file = target_file(target, kind);
        let assigned = file
            .transaction(|txn| {
                let assigned = assign(txn.document()?, &sources);
                for planned in assigned.iter().flatten() {
                    if !planned.already_there {
                        txn.append(&planned.entry)?;
                    }
                }
                Ok(assigned)
            })
            .map_err(org_error)?;
        let count = assigned
            .iter()
            .flatten()
            .filter(|p| !p.already_there)
            .count();
        for (&i, entries) in indices.iter().zip(assigned) {
            report.plan.files[i].entries = entries;
        }
        report.appended.push((target.clone(), count));
    }

    // 2. Contacts: the old contacts.yaml is copied to the backup before it is replaced.
    if let Some(contacts) = &report.plan.contacts
        && !contacts.add.is_empty()
    {
        let existing = match std::fs::read_to_string(&contacts.target) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(HooksError::io("read", &contacts.target)(e)),
        };
        let text = contacts_text(existing.as_deref(), &contacts.add)
            .filter(|text| contacts_complete(text, contacts))
            .ok_or_else(|| HooksError::BadFile {
                path: contacts.target.clone(),
                line: None,
                message: format!(
                    "cannot add the v0.1.0 users to it automatically (no top-level `actors:` list); add them by hand:\n{}",
                    contacts.add.iter().map(|(_, item)| item.as_str()).collect::<String>()
                ),
            })?;
        match existing {
            Some(old) => {
                create_dir(&backup)?;
                durable::create_new(
                    &backup.join("contacts.yaml.before-migration"),
                    old.as_bytes(),
                )?;
                durable::write_atomically(&contacts.target, text.as_bytes())?;
            }
            None => {
                if let Some(dir) = contacts.target.parent() {
                    create_dir(dir)?;
                }
                durable::create_new(&contacts.target, text.as_bytes())?;
            }
        }
        report.contacts_added = contacts.add.len();
    }

    // 3. Read everything back through the stores before any old file moves.
    verify(ctx, &report.plan)?;

    // 4. Move the old files into the backup.
    let mut sources: Vec<PathBuf> = report.plan.files.iter().map(|f| f.source.clone()).collect();
    if let Some(contacts) = &report.plan.contacts {
        sources.push(contacts.source.clone());
    }
    create_dir(&backup.join(V010_DIR))?;
    for source in &sources {
        let to = backup.join(V010_DIR).join(file_name(source));
        std::fs::rename(source, &to).map_err(HooksError::io("move", source))?;
        report.moved.push(to);
    }
    sync_dir(&backup.join(V010_DIR))?;
    sync_dir(&report.plan.source_dir)?;
    // An emptied folder goes too (remove_dir fails on a folder that is not empty).
    if std::fs::remove_dir(&report.plan.source_dir).is_ok() {
        sync_dir(&space_org)?;
    }
    report.backup = Some(backup);
    Ok(report)
}

/// Whether `text` parses as contacts and lists every actor of `plan`.
fn contacts_complete(text: &str, plan: &ContactsPlan) -> bool {
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return false;
    };
    let Some(serde_yaml::Value::Sequence(actors)) = value.get("actors") else {
        return false;
    };
    let ids: HashSet<String> = actors
        .iter()
        .filter_map(|a| a.get("id").and_then(scalar))
        .collect();
    plan.add.iter().all(|(id, _)| ids.contains(id))
        && plan.present.iter().all(|id| ids.contains(id))
}

/// Every planned entry is found, by ID, through the store or the agent inbox.
fn verify(ctx: &Context, plan: &MigrationPlan) -> Result<(), HooksError> {
    for file in &plan.files {
        for entry in &file.entries {
            let keyword = entry.entry.keyword.as_deref().unwrap_or_default();
            let found = match file.kind {
                Target::Inbox => ctx
                    .store()?
                    .by_id(&entry.new_id)?
                    .map(|m| m.keyword.unwrap_or_default()),
                Target::Agent => ctx
                    .agent_inbox(None)?
                    .find_by_id(&entry.new_id)?
                    .map(|t| t.state().keyword().to_owned()),
            };
            // An entry an earlier run wrote may have been changed since (read, approved).
            let ok = match (&found, entry.already_there) {
                (Some(_), true) => true,
                (Some(found), false) => found == keyword,
                (None, _) => false,
            };
            if !ok {
                return Err(HooksError::BadFile {
                    path: file.target.clone(),
                    line: None,
                    message: format!(
                        "{} (from line {} of {}) does not read back as {keyword} (found {found:?}); the old files were not moved",
                        entry.new_id,
                        entry.line,
                        file.source.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// `<space>/org/migration-backup/v0.1.0-<date>`, or `-2`, `-3`, … when taken. Not created.
fn fresh_backup_dir(space_org: &Path) -> Result<PathBuf, HooksError> {
    let today = msg_core::timestamp::now_local().date();
    let base = space_org.join(BACKUP_DIR).join(format!("v0.1.0-{today}"));
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    Ok(dir)
}

fn create_dir(dir: &Path) -> Result<(), HooksError> {
    std::fs::create_dir_all(dir).map_err(HooksError::io("create", dir))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// `fsync` of a directory, so a rename in it survives a crash.
fn sync_dir(dir: &Path) -> Result<(), HooksError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(HooksError::io("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_added_to_an_empty_or_existing_list() {
        let items = vec![(
            "tex".to_owned(),
            "  - id: \"tex\"\n    name: \"tex\"\n".to_owned(),
        )];
        let fresh = contacts_text(None, &items).unwrap();
        assert!(fresh.contains("actors:\n  - id: \"tex\"\n"), "{fresh}");
        let kept = contacts_text(Some("# mine\nactors: []\n"), &items).unwrap();
        assert_eq!(
            kept,
            "# mine\nactors:\n  - id: \"tex\"\n    name: \"tex\"\n"
        );
        let flush = contacts_text(Some("actors:\n- id: a\n"), &items).unwrap();
        assert_eq!(flush, "actors:\n- id: \"tex\"\n  name: \"tex\"\n- id: a\n");
        assert!(contacts_text(Some("people: []\n"), &items).is_none());
    }
}
