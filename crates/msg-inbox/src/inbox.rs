//! [`AgentInbox`]: one agent's task file, `<space>/org/messaging/agents/<agent>.org`.
//!
//! Every write is one engine transaction: take the file's lock, read the file as it is now,
//! check the operation's precondition against that, splice the change, write durably, release.
//! So a check can never pass on a stale copy (the original checked in memory before locking),
//! a state a person set in Emacs is what the next operation sees, and two processes can never
//! both claim one task.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use msg_core::config::Settings;
use msg_core::id::{IdKind, new_id};
use msg_core::org::{
    EntryEditor, EntryRef, NewEntry, OrgError, OrgFile, Outline, OutlineEntry, TodoKeywords,
    Transaction,
};
use msg_core::paths::Paths;
use msg_core::timestamp::{format_inactive, now_local};
use msg_core::validate;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::content;
use crate::cost::estimated_cost;
use crate::error::InboxError;
use crate::property;
use crate::schedule;
use crate::state::{TASK_KEYWORDS, TaskState};
use crate::task::{Task, TaskCounts};
use crate::transition::{Change, Transition};

/// Where the current time comes from (the local clock, or a test's).
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// A task to add with [`AgentInbox::create`]: the sender, the text and the sender's tier,
/// plus optional tags, estimates and properties of the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    from: String,
    content: String,
    trust_tier: String,
    tags: Vec<String>,
    effort: Option<u32>,
    estimated_tokens: Option<u64>,
    extra: Vec<(String, String)>,
}

impl NewTask {
    /// A task from `from_actor`, whose tier is `trust_tier`; the first non-blank line of
    /// `content` is its title (shown in the heading after the time and the sender).
    pub fn new(
        from_actor: impl Into<String>,
        content: impl Into<String>,
        trust_tier: impl Into<String>,
    ) -> NewTask {
        NewTask {
            from: from_actor.into(),
            content: content.into(),
            trust_tier: trust_tier.into(),
            tags: Vec::new(),
            effort: None,
            estimated_tokens: None,
            extra: Vec::new(),
        }
    }

    /// The heading's tags.
    pub fn tags(mut self, tags: &[&str]) -> NewTask {
        self.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// The sender's effort estimate (`EFFORT`).
    pub fn effort(mut self, effort: u32) -> NewTask {
        self.effort = Some(effort);
        self
    }

    /// The sender's token estimate (`ESTIMATED_TOKENS`, `ESTIMATED_COST`).
    pub fn estimated_tokens(mut self, tokens: u64) -> NewTask {
        self.estimated_tokens = Some(tokens);
        self
    }

    /// Whether [`AgentInbox::create`] accepts `key: value` as a caller's property: not one
    /// the inbox sets itself ([`InboxError::ReservedProperty`]), a valid property name, a
    /// single-line value. For callers that must check before doing anything else (msg-hooks
    /// checks before the governor counts an admission).
    pub fn check_property(key: &str, value: &str) -> Result<(), InboxError> {
        if property::is_reserved(key) {
            return Err(InboxError::ReservedProperty {
                key: key.to_owned(),
            });
        }
        validate::property_key(key)?;
        validate::property_value(key, value)?;
        Ok(())
    }

    /// A property of the caller's (for example `MESSAGE_ID: msg-…`), written in the task's
    /// first append after the inbox's own properties, in the order given. It may not be one
    /// the inbox sets itself (`ID`, `FROM`, `TRUST_TIER`, `APPROVAL`, `AWAITING`, …).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTask {
        self.extra.push((key.into(), value.into()));
        self
    }
}

/// One agent's task file and the task state machine on it.
///
/// Cheap to clone; holds no open file. Every method reads or locks the file anew, so any
/// number of `AgentInbox` values, in any number of processes, can work on one file.
#[derive(Clone)]
pub struct AgentInbox {
    agent: String,
    file: OrgFile,
    settings: Settings,
    clock: Clock,
}

impl fmt::Debug for AgentInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentInbox")
            .field("agent", &self.agent)
            .field("path", &self.file.path())
            .finish_non_exhaustive()
    }
}

/// The result of a transaction closure: the outer error aborts the transaction (nothing is
/// written); the inner one is an inbox error found *before anything was staged*, so
/// committing the empty transaction writes nothing either.
type Outcome<T> = Result<Result<T, InboxError>, OrgError>;

impl AgentInbox {
    /// The inbox of `agent` in `space` below `paths`' root. Both names are validated before
    /// they become a path (no `/`, no `..`, no control characters). A missing file is created
    /// with the header `#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED` (and
    /// its directories). `settings` give the trust tiers (auto-accept, claim priority) and
    /// the stale-work timeout (`messaging.compute.per_task_timeout_minutes`).
    pub fn open(
        paths: &Paths,
        space: &str,
        agent: &str,
        settings: &Settings,
    ) -> Result<AgentInbox, InboxError> {
        let path = paths.agent_file(space, agent)?;
        let inbox = AgentInbox {
            agent: agent.to_owned(),
            file: OrgFile::new(path, TodoKeywords::parse(TASK_KEYWORDS)),
            settings: settings.clone(),
            clock: Arc::new(now_local),
        };
        if !inbox.file.path().exists() {
            // Reading inside a transaction creates the file with its header; a process that
            // created it meanwhile wins, and then nothing is written.
            inbox.file.transaction(|txn| txn.document().map(|_| ()))?;
        }
        Ok(inbox)
    }

    /// Uses `clock` instead of the local time for every timestamp and for staleness (tests,
    /// replays).
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static,
    ) -> AgentInbox {
        self.clock = Arc::new(clock);
        self
    }

    /// Waits at most `timeout` for another process's lock on the file (default 10 s).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> AgentInbox {
        self.file = self.file.with_lock_timeout(timeout);
        self
    }

    /// The agent's name.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The task file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Runs `f` as one locked transaction; see [`Outcome`].
    fn run<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Outcome<T>) -> Result<T, InboxError> {
        self.file.transaction(f)?
    }

    /// Adds a task from `from_actor` with tier `trust_tier`. It starts `QUEUED` with
    /// `APPROVAL: auto_accepted` when the tier auto-accepts (settings `trust_tiers`; `owner`
    /// and `team` by default), else `WAITING` with `AWAITING: owner-approval`.
    ///
    /// The heading says who and what (`[SUBMITTED] FROM: first line`, shortened and escaped
    /// by msg-core's `headline`) and the body holds the whole text, so no text can forge
    /// an entry or a property and nothing is lost; `tags` are kept on the heading. The task
    /// reads back with the first non-blank line as its title and the rest as its body
    /// ([`Task::title`], [`Task::body`]). `effort` and `estimated_tokens` are written as
    /// `EFFORT`, `ESTIMATED_TOKENS` and `ESTIMATED_COST` (`$` + tokens / 1000 × 0.015).
    ///
    /// The write is one append (no full read of the file), so its cost does not grow with
    /// the file. [`AgentInbox::create`] does the same from a [`NewTask`], which can also
    /// carry properties of the caller's.
    pub fn create_task(
        &self,
        from_actor: &str,
        content: &str,
        trust_tier: &str,
        tags: &[&str],
        effort: Option<u32>,
        estimated_tokens: Option<u64>,
    ) -> Result<Task, InboxError> {
        let mut task = NewTask::new(from_actor, content, trust_tier).tags(tags);
        task.effort = effort;
        task.estimated_tokens = estimated_tokens;
        self.create(&task)
    }

    /// Adds `task` (see [`AgentInbox::create_task`] for the state and the text) with its
    /// caller's properties ([`NewTask::property`]) after the inbox's own, all in one
    /// `fdatasync`ed append: a crash leaves either no task or the whole task. A caller's
    /// property that the inbox sets itself ([`InboxError::ReservedProperty`]), that is
    /// given twice, or whose name or value is not a single-line property is refused before
    /// anything is written.
    pub fn create(&self, task: &NewTask) -> Result<Task, InboxError> {
        let from_actor = task.from.as_str();
        let trust_tier = task.trust_tier.as_str();
        let content = task.content.as_str();
        validate::actor("from_actor", from_actor)?;
        validate::actor("trust_tier", trust_tier)?;
        for (index, (key, value)) in task.extra.iter().enumerate() {
            NewTask::check_property(key, value)?;
            if task.extra[..index]
                .iter()
                .any(|(earlier, _)| earlier.eq_ignore_ascii_case(key))
            {
                return Err(InboxError::InvalidArgument {
                    field: "property",
                    value: key.clone(),
                    reason: "it is given twice; give each property once",
                });
            }
        }
        let auto_accept = self.settings.tier_config(trust_tier).auto_accept;
        let state = if auto_accept {
            TaskState::Queued
        } else {
            TaskState::Waiting
        };
        let tags = task.tags.clone();
        for tag in &tags {
            validate::tag(tag)?;
        }
        let whole = content::whole_text(content)?;
        let at = self.now();
        let stamp = format_inactive(at);
        let id = new_id(
            IdKind::Task,
            format!("{from_actor}\n{trust_tier}\n{content}").as_bytes(),
            at,
        );
        let mut properties: Vec<(String, String)> = vec![
            (property::FROM.into(), from_actor.into()),
            (property::TRUST_TIER.into(), trust_tier.into()),
            (property::SUBMITTED.into(), stamp.clone()),
        ];
        properties.push(if auto_accept {
            (property::APPROVAL.into(), property::AUTO_ACCEPTED.into())
        } else {
            (property::AWAITING.into(), property::OWNER_APPROVAL.into())
        });
        if let Some(effort) = task.effort {
            properties.push((property::EFFORT.into(), effort.to_string()));
        }
        if let Some(tokens) = task.estimated_tokens {
            properties.push((property::ESTIMATED_TOKENS.into(), tokens.to_string()));
            properties.push((property::ESTIMATED_COST.into(), estimated_cost(tokens)));
        }
        properties.push((property::ID.into(), id));
        properties.push((property::CREATED.into(), stamp.clone()));
        properties.extend(task.extra.iter().cloned());
        let entry = NewEntry {
            keyword: Some(state.keyword().to_owned()),
            title: content::heading(&stamp, from_actor, &whole),
            tags,
            properties,
            body: whole,
            ..NewEntry::default()
        };
        self.file.transaction(|txn| txn.append(&entry))?;
        Ok(Task::new_appended(
            state,
            &entry.title,
            entry.tags,
            entry.properties,
            &entry.body,
        ))
    }

    /// `WAITING → QUEUED`: the owner approves. Sets `APPROVAL: owner_approved` and removes
    /// `AWAITING`.
    pub fn approve(&self, id: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::Approve)
    }

    /// `WAITING → CANCELLED`: the owner rejects; a non-empty `reason` is kept as
    /// `REJECTION_REASON`.
    pub fn reject(&self, id: &str, reason: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::Reject { reason })
    }

    /// `QUEUED | WORKING → CANCELLED`: the owner cancels; a non-empty `reason` is kept as
    /// `CANCELLATION_REASON`.
    pub fn cancel(&self, id: &str, reason: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::Cancel { reason })
    }

    /// `QUEUED → WORKING`: the agent claims this task; sets `STARTED`. To take whichever task
    /// is next, use [`AgentInbox::claim_next`].
    pub fn claim(&self, id: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::Claim)
    }

    /// `WORKING → DONE`: the agent finished. Sets `COMPLETED`, and each of `TOKENS_USED`,
    /// `COST`, `RESULT_PATH` and `QUALITY_SCORE` (two decimals) that is given (`Some`, or a
    /// non-empty text). These describe the latest completion: after a revision, one that is
    /// not given is removed rather than left over from the earlier attempt.
    pub fn complete(
        &self,
        id: &str,
        tokens_used: Option<u64>,
        cost: &str,
        result_path: &str,
        quality_score: Option<f64>,
    ) -> Result<Task, InboxError> {
        self.apply(
            id,
            Transition::Complete {
                tokens_used,
                cost,
                result_path,
                quality_score,
            },
        )
    }

    /// `WORKING → QUEUED`: the attempt failed; adds 1 to `RETRY_COUNT` and keeps a non-empty
    /// `reason` as `RETRY_REASON` (the latest only).
    pub fn retry(&self, id: &str, reason: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::Retry { reason })
    }

    /// `DONE → ARCHIVED`: the owner accepts the result.
    pub fn accept(&self, id: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::Accept)
    }

    /// `DONE → QUEUED`: the owner asks for a revision. Adds 1 to `REVISION_COUNT`; a
    /// non-empty `feedback` becomes `REVISION_FEEDBACK_<n>` (kept for good: the history) and
    /// `REVISION_FEEDBACK` (the latest, as the original wrote it).
    pub fn request_revision(&self, id: &str, feedback: &str) -> Result<Task, InboxError> {
        self.apply(id, Transition::RequestRevision { feedback })
    }

    /// Applies one operation to the task `id` in one transaction: the engine's edit by ID,
    /// which finds the entry by a byte search for its ID and scans only its section; the
    /// precondition is checked on that section as read under the lock.
    fn apply(&self, id: &str, transition: Transition<'_>) -> Result<Task, InboxError> {
        transition.validate()?;
        let operation = transition.operation();
        let at = self.now();
        let stamp = format_inactive(at);
        let path = self.file.path();
        let outcome = self.file.transaction(|txn| {
            txn.edit(id, |editor| {
                let task = {
                    let entry = editor.entry();
                    let keyword = entry.keyword().map(Cow::into_owned);
                    let state = keyword.as_deref().and_then(TaskState::from_keyword);
                    if state.is_none() {
                        let mut stray = StrayEntry::of(&entry);
                        stray.line = editor.line();
                        return Ok(Err(stray.into_error(path)));
                    }
                    if !state.is_some_and(|s| operation.from_states().contains(&s)) {
                        return Ok(Err(InboxError::WrongState {
                            id: id.to_owned(),
                            operation,
                            keyword,
                        }));
                    }
                    Task::from_entry(&entry).expect("a task state and an ID were checked")
                };
                let changes = match transition.changes(&task, &stamp) {
                    Ok(changes) => changes,
                    Err(bad) => {
                        return Ok(Err(InboxError::InvalidNumber {
                            path: path.to_owned(),
                            id: id.to_owned(),
                            key: bad.key,
                            value: bad.value,
                        }));
                    }
                };
                change(editor, operation.to_state(), at, &changes)?;
                Ok(Ok(edited_task(editor)))
            })
        });
        match outcome {
            Ok(result) => result,
            Err(OrgError::NotFound { path, id }) => Err(InboxError::NotFound { path, id }),
            Err(e) => Err(e.into()),
        }
    }

    /// Claims the next queued task, atomically: inside one transaction it picks the `QUEUED`
    /// task with the highest trust-tier `priority_boost` (then the oldest, then the first in
    /// the file) and moves it to `WORKING` with `STARTED`. Two processes calling this at once
    /// never get the same task. `None` when nothing is queued.
    ///
    /// A task a person queued by hand without an `:ID:` is claimed too, and gets an ID in
    /// the same write; a task whose ID another entry also carries is skipped (no operation by
    /// ID could reach it; `msg doctor` reports it).
    pub fn claim_next(&self) -> Result<Option<Task>, InboxError> {
        let at = self.now();
        let stamp = format_inactive(at);
        self.run(|txn| {
            let mut skip = Vec::new();
            loop {
                // The headings, then the queued tasks' sections: no index of the whole file.
                let outline = txn.outline()?;
                let Some(index) = schedule::next_queued(outline, &self.settings, &skip) else {
                    return Ok(Ok(None));
                };
                let scanned = outline.entry(index);
                let entry = scanned.get();
                let new_id = match entry.id() {
                    Some(id) => match outline.find_by_id(&id) {
                        Ok(_) => None,
                        Err(_) => {
                            skip.push(index);
                            continue;
                        }
                    },
                    None => Some(new_id(IdKind::Task, entry.title().as_bytes(), at)),
                };
                let task = txn.edit_at(index, |editor| {
                    if let Some(id) = &new_id {
                        editor.set_property(property::ID, id)?;
                    }
                    let changes = [Change::Set(property::STARTED.into(), stamp.clone())];
                    change(editor, TaskState::Working, at, &changes)?;
                    Ok(edited_task(editor))
                })?;
                return Ok(Ok(Some(task)));
            }
        })
    }

    /// The `WORKING` tasks that have been working longer than
    /// `messaging.compute.per_task_timeout_minutes` (default 30; 0 turns staleness off),
    /// counted from the later of `STARTED` and the newest LOGBOOK move to `WORKING`. A task
    /// with neither is never stale (a person set it working by hand).
    pub fn stale_tasks(&self) -> Result<Vec<Task>, InboxError> {
        let outline = self.file.read_outline()?;
        let now = wall_clock(self.now());
        let timeout = self.settings.compute().per_task_timeout_minutes;
        Ok(in_states(&outline, &[TaskState::Working])
            .filter(|entry| is_stale(&entry.get(), now, timeout))
            .filter_map(|entry| Task::from_entry(&entry.get()))
            .collect())
    }

    /// Moves every stale task (see [`AgentInbox::stale_tasks`]) back to `QUEUED` in one
    /// transaction, as a retry: `RETRY_COUNT` + 1 and a `RETRY_REASON` saying since when it
    /// was working. Staleness is judged on the file as read under the lock, so a task that
    /// completed meanwhile is left alone. Returns the re-queued tasks. A stale task whose
    /// `RETRY_COUNT` is not a number (a hand edit) stops the whole re-queue with an error
    /// naming it; nothing is written then.
    pub fn requeue_stale(&self) -> Result<Vec<Task>, InboxError> {
        let at = self.now();
        let now = wall_clock(at);
        let stamp = format_inactive(at);
        let timeout = self.settings.compute().per_task_timeout_minutes;
        let path = self.file.path();
        self.run(|txn| {
            let doc = txn.document()?;
            let mut plans = Vec::new();
            for entry in doc.entries().filter(|entry| is_stale(entry, now, timeout)) {
                let Some(task) = Task::from_entry(&entry) else {
                    continue;
                };
                let since = schedule::working_since(&entry).expect("stale tasks have a start");
                let since = format_inactive(since.assume_offset(at.offset()));
                let reason = format!(
                    "stale: WORKING since {since}, longer than the {timeout}-minute timeout"
                );
                match (Transition::Retry { reason: &reason }).changes(&task, &stamp) {
                    Ok(changes) => plans.push((entry.index(), changes)),
                    Err(bad) => {
                        return Ok(Err(InboxError::InvalidNumber {
                            path: path.to_owned(),
                            id: task.id().to_owned(),
                            key: bad.key,
                            value: bad.value,
                        }));
                    }
                }
            }
            let mut requeued = Vec::with_capacity(plans.len());
            for (index, changes) in plans {
                txn.edit_at(index, |editor| {
                    change(editor, TaskState::Queued, at, &changes)
                })?;
                requeued.push(read_task(txn, index)?);
            }
            Ok(Ok(requeued))
        })
    }

    /// Every task (entries with a task keyword and an ID), in file order.
    pub fn tasks(&self) -> Result<Vec<Task>, InboxError> {
        let outline = self.file.read_outline()?;
        Ok(outline
            .entries()
            .filter_map(|entry| Task::from_entry(&entry.get()))
            .collect())
    }

    /// The tasks in any of `states`, in file order (oldest first: tasks are appended). Only
    /// the headings of the other entries are read.
    pub fn find_by_state(&self, states: &[TaskState]) -> Result<Vec<Task>, InboxError> {
        let outline = self.file.read_outline()?;
        Ok(in_states(&outline, states)
            .filter_map(|entry| Task::from_entry(&entry.get()))
            .collect())
    }

    /// The tasks waiting for the owner: `WAITING` with `AWAITING: owner-approval`.
    pub fn find_awaiting_approval(&self) -> Result<Vec<Task>, InboxError> {
        Ok(self
            .find_by_state(&[TaskState::Waiting])?
            .into_iter()
            .filter(Task::is_awaiting_approval)
            .collect())
    }

    /// The task with ID `id`, as the file has it now; `None` when no entry has the ID. An ID
    /// on two entries is an error naming both lines, and an entry with the ID but no task
    /// keyword (`* QUEUD …`, mistyped in Emacs) is [`InboxError::NoTaskKeyword`], naming
    /// its line and the fix.
    pub fn find_by_id(&self, id: &str) -> Result<Option<Task>, InboxError> {
        let outline = self.file.read_outline()?;
        let index = match outline.find_by_id(id) {
            Ok(Some(index)) => index,
            Ok(None) => return Ok(None),
            Err(dup) => return Err(dup.in_file(self.file.path()).into()),
        };
        let scanned = outline.entry(index);
        let entry = scanned.get();
        match Task::from_entry(&entry) {
            Some(task) => Ok(Some(task)),
            None => Err(StrayEntry::of(&entry).into_error(self.file.path())),
        }
    }

    /// Entries with an ID but no task keyword: a keyword mistyped or removed in Emacs. The
    /// other queries do not see them as tasks (Emacs does not either), so `msg doctor`
    /// reports them.
    pub fn stray_entries(&self) -> Result<Vec<StrayEntry>, InboxError> {
        let outline = self.file.read_outline()?;
        Ok((0..outline.len())
            .filter(|&index| {
                outline
                    .keyword(index)
                    .is_none_or(|k| TaskState::from_keyword(&k).is_none())
            })
            .filter_map(|index| {
                let scanned = outline.entry(index);
                let entry = scanned.get();
                entry.id().is_some().then(|| StrayEntry::of(&entry))
            })
            .collect())
    }

    /// How many tasks are in each state, and in all (from the headings alone).
    pub fn counts(&self) -> Result<TaskCounts, InboxError> {
        let outline = self.file.read_outline()?;
        let mut counts = TaskCounts::default();
        for state in (0..outline.len()).filter_map(|index| {
            outline
                .keyword(index)
                .and_then(|k| TaskState::from_keyword(&k))
        }) {
            counts.add(state);
        }
        Ok(counts)
    }
}

/// An entry of a task file with an ID but no task keyword (see
/// [`AgentInbox::stray_entries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrayEntry {
    /// Its ID.
    pub id: String,
    /// The 1-based line of its heading.
    pub line: usize,
    /// The keyword it has that is no task state, or the first word of its title when that
    /// looks like a keyword (`QUEUD`).
    pub word: Option<String>,
}

impl StrayEntry {
    fn of(entry: &msg_core::org::EntryRef<'_>) -> StrayEntry {
        StrayEntry {
            id: entry.id().map(|id| id.into_owned()).unwrap_or_default(),
            line: entry.line(),
            word: entry
                .keyword()
                .or_else(|| entry.keyword_like())
                .map(|w| w.into_owned()),
        }
    }

    /// The error for an operation on this entry in the file at `path`.
    pub fn into_error(self, path: &std::path::Path) -> InboxError {
        InboxError::NoTaskKeyword {
            path: path.to_owned(),
            id: self.id,
            line: self.line,
            word: self.word,
        }
    }
}

/// Changes the keyword to `to` (with `CLOSED:` and the LOGBOOK line, as Emacs does), then
/// the properties.
fn change(
    editor: &mut EntryEditor<'_>,
    to: TaskState,
    at: OffsetDateTime,
    changes: &[Change],
) -> Result<(), OrgError> {
    editor.set_keyword(to.keyword(), at)?;
    for change in changes {
        match change {
            Change::Set(key, value) => editor.set_property(key, value)?,
            Change::Remove(key) => {
                editor.remove_property(key)?;
            }
        }
    }
    Ok(())
}

/// The entries of `outline` in any of `states`, scanned; the others' headings only are read.
fn in_states<'a>(
    outline: &'a Outline,
    states: &'a [TaskState],
) -> impl Iterator<Item = OutlineEntry<'a>> + 'a {
    (0..outline.len())
        .filter(|&index| {
            outline
                .keyword(index)
                .and_then(|k| TaskState::from_keyword(&k))
                .is_some_and(|s| states.contains(&s))
        })
        .map(|index| outline.entry(index))
}

/// The task an editor holds after its changes.
fn edited_task(editor: &EntryEditor<'_>) -> Task {
    Task::from_entry(&editor.entry()).expect("an edited task keeps its keyword and ID")
}

/// The task at `index` after this transaction's edits.
fn read_task(txn: &mut Transaction<'_>, index: usize) -> Result<Task, OrgError> {
    let doc = txn.document()?;
    Ok(Task::from_entry(&doc.entry(index)).expect("an edited task keeps its keyword and ID"))
}

fn is_stale(entry: &EntryRef<'_>, now: PrimitiveDateTime, timeout: u64) -> bool {
    entry.keyword().as_deref() == Some(TaskState::Working.keyword())
        && schedule::working_since(entry)
            .is_some_and(|since| schedule::is_stale(since, now, timeout))
}

/// The local wall-clock time Org timestamps are written in.
fn wall_clock(at: OffsetDateTime) -> PrimitiveDateTime {
    PrimitiveDateTime::new(at.date(), at.time())
}
