//! The `inbox-watcher` hook: what is new for the agent, before every prompt.
//!
//! Each run, for the user's agent (`<user>-claude`) in the space:
//!
//! 1. If a task is WORKING, it is shown once per session (and again on `SessionStart`, when
//!    the agent may have lost it); otherwise the next QUEUED task is claimed, atomically
//!    (`AgentInbox::claim_next`: two runs never get the same task), and shown with its ID,
//!    sender, trust tier, full text and the exact command that completes it.
//! 2. Tasks awaiting the owner's approval are announced once each, with the count.
//! 3. Unread messages (not the agent's own) are shown once each.
//!
//! Before that, when the inbox changed and an unread message is addressed to the agent, task
//! intake turns it into a task ([`crate::desk::intake`]): the message is shown as the task
//! it became (claimed at once when it is QUEUED).
//!
//! Text from senders below the owner tier is framed as data, in tags with a random boundary
//! the sender cannot guess, so it cannot close the frame and go on as the owner; the
//! whole stays under [`MAX_CONTEXT_CHARS`](super::MAX_CONTEXT_CHARS). Nothing new:
//! no output.
//!
//! What was shown is kept per agent (in
//! `<root>/.datacore/state/messaging/inbox-watcher/<space>/<agent>.json`), under a lock held
//! for the whole run, so concurrent runs take turns and never show one item twice. The run also records the
//! fingerprints of the files it read; a file unchanged since has nothing new, so the common
//! case (nothing happened since the last prompt) reads no org file at all. A Datacore root
//! without the task file and the inbox is left untouched: the hook creates nothing.

use std::collections::HashSet;
use std::time::Duration;

use msg_core::durable::FileLock;
use msg_inbox::{Task, TaskState};
use msg_store::Message;
use serde_json::json;

use super::briefing::{Approvals, Briefing, MessageItem, TaskItem, TaskShown};
use super::hook_event::{EventKind, HookEvent};
use super::seen::{SeenState, Working, seen_file};
use super::untrusted::Boundary;
use crate::context::Context;
use crate::desk::intake;
use crate::error::HooksError;
use crate::record::Record as _;
use crate::sighting::Sighting;
use msg_core::config::OWNER_TIER;

/// How long a run waits for another run for the same agent. Runs take milliseconds; a
/// longer wait means something is stuck, and the prompt should not wait for it.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// What a run of the watcher produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOutput {
    /// The text for stdout (one JSON object and a newline, or the plain lines); `None`
    /// when nothing is new.
    pub stdout: Option<String>,
    /// Problems worth a line on stderr that did not stop the run.
    pub warnings: Vec<String>,
}

/// Runs the watcher for the event and returns the hook's JSON output.
pub fn watch(ctx: &Context, event: &HookEvent) -> Result<WatchOutput, HooksError> {
    let agent_path = ctx.agent_file(None)?;
    let inbox_path = ctx.inbox_file()?;
    // Sightings come before any read: a change made while reading shows up next time.
    let mut agent_print = Sighting::of(&agent_path);
    let mut inbox_print = Sighting::of(&inbox_path);
    if agent_print.is_none() && inbox_print.is_none() {
        return Ok(WatchOutput::default());
    }
    let seen_path = seen_file(&ctx.paths().governor_state_dir(), ctx.space(), ctx.agent());
    // Held to the end: the read-decide-save of the seen state is one step across runs.
    let _lock = FileLock::exclusive(&seen_path, LOCK_TIMEOUT)?;
    let (seen, warning) = SeenState::load(&seen_path)?;
    let mut output = WatchOutput::default();
    output.warnings.extend(warning);

    let session = event.session_id.clone().unwrap_or_default();
    let session_start = event.kind() == EventKind::SessionStart;
    let settings_same = ctx
        .settings_print()
        .is_some_and(|now| Sighting::unchanged(seen.files.settings.as_ref(), now.as_ref()));
    let mut next = seen.clone();
    next.files.settings = ctx.settings_print().flatten();
    let mut briefing = Briefing::default();

    // Task intake first, so that a message addressed to the agent is shown as the task it
    // becomes. Only when the inbox changed, and it reads the unread messages the messages
    // section reads anyway.
    let mut unread = None;
    let inbox_changed =
        !(settings_same && Sighting::unchanged(seen.files.inbox.as_ref(), inbox_print.as_ref()));
    if inbox_changed && inbox_print.is_some() {
        match take_in(ctx) {
            Ok(Intake::Nothing(messages)) => unread = Some(messages),
            Ok(Intake::Done) => {
                agent_print = Sighting::of(&agent_path);
                inbox_print = Sighting::of(&inbox_path);
            }
            Err(err) => output.warnings.push(format!("task intake: {err}")),
        }
    }

    let agent_same =
        settings_same && Sighting::unchanged(seen.files.agent.as_ref(), agent_print.as_ref());
    let new_session = seen.working.as_ref().is_some_and(|w| w.session != session);
    let read_tasks = !agent_same || new_session || session_start;
    let read_messages =
        !(settings_same && Sighting::unchanged(seen.files.inbox.as_ref(), inbox_print.as_ref()));
    // Each section reads and scans its own file only when it changed. (Running the two on
    // two threads was tried: a fresh process spends most of a scan faulting in memory, and
    // two threads of one process fault in its memory no faster than one; see
    // docs/PERFORMANCE.md.)
    let tasks = read_tasks.then(|| match agent_print {
        Some(_) => watch_tasks(ctx, &seen, &session, session_start),
        None => Ok(TaskNews::default()),
    });
    let messages = read_messages.then(|| match inbox_print {
        Some(_) => watch_messages(ctx, &seen, unread),
        None => Ok(MessageNews::default()),
    });
    let mut new_approvals = Vec::new();
    if let Some(tasks) = tasks {
        let tasks = tasks?;
        next.files.agent = agent_print;
        next.working = tasks.working;
        next.approvals = tasks.awaiting;
        briefing.task = tasks.task;
        new_approvals = tasks.new_approvals;
    }
    if let Some(messages) = messages {
        let messages = messages?;
        next.files.inbox = inbox_print;
        next.messages = messages.still_unread;
        briefing.messages = messages.new;
    }
    // With anything to say, the count of tasks awaiting approval goes with it (from the
    // record when the task file was not read this time).
    let news =
        briefing.task.is_some() || !briefing.messages.is_empty() || !new_approvals.is_empty();
    if news && !next.approvals.is_empty() {
        briefing.approvals = Some(Approvals {
            new: new_approvals,
            total: next.approvals.len(),
        });
    }

    if next != seen {
        next.save(&seen_path)?;
    }
    if !briefing.is_empty() {
        let context = briefing.render(&Boundary::random());
        let hook_output = json!({
            "hookSpecificOutput": {
                "hookEventName": event.kind().name(),
                "additionalContext": context,
            }
        });
        output.stdout = Some(format!("{hook_output}\n"));
    }
    Ok(output)
}

/// The tier that decides how far a task's text is trusted: the sender's tier in the
/// settings now, unless the task was submitted with a lower one.
fn task_tier(ctx: &Context, task: &Task) -> (String, bool) {
    let from = task.from().unwrap_or("");
    let tier_now = ctx.trust_tier(from);
    let trusted = !from.is_empty()
        && ctx.is_owner(from)
        && task.trust_tier().is_none_or(|tier| tier == OWNER_TIER);
    let tier = match task.trust_tier() {
        Some(recorded) if recorded != tier_now && !trusted => {
            format!("{tier_now}, submitted as {recorded}")
        }
        _ => tier_now,
    };
    (tier, trusted)
}

/// What the task file holds for the agent now.
#[derive(Debug, Default)]
struct TaskNews {
    /// The task to show.
    task: Option<TaskItem>,
    /// Tasks awaiting approval not announced before: (ID, sender, tier).
    new_approvals: Vec<(String, String, String)>,
    /// The task in progress now, with this session.
    working: Option<Working>,
    /// Every task awaiting approval now.
    awaiting: Vec<String>,
}

/// What the inbox holds for the agent now.
#[derive(Debug, Default)]
struct MessageNews {
    /// Unread messages not shown before.
    new: Vec<MessageItem>,
    /// Every unread message now (the agent's own left out).
    still_unread: Vec<String>,
}

fn watch_tasks(
    ctx: &Context,
    seen: &SeenState,
    session: &str,
    session_start: bool,
) -> Result<TaskNews, HooksError> {
    let inbox = ctx.agent_inbox(None)?;
    let tasks =
        inbox.find_by_state(&[TaskState::Working, TaskState::Waiting, TaskState::Queued])?;
    let working: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.state() == TaskState::Working)
        .collect();
    let any_queued = tasks.iter().any(|t| t.state() == TaskState::Queued);
    let item = |task: Task, news: TaskShown, other_working: usize| {
        let (tier, trusted) = task_tier(ctx, &task);
        TaskItem {
            task,
            news,
            tier,
            trusted,
            other_working,
        }
    };
    let mut news = TaskNews::default();
    if let Some(&task) = working.first() {
        let current = Working {
            task: task.id().to_owned(),
            session: session.to_owned(),
        };
        if session_start || seen.working.as_ref() != Some(&current) {
            news.task = Some(item(task.clone(), TaskShown::InProgress, working.len() - 1));
        }
        news.working = Some(current);
    } else if any_queued {
        // Atomic across processes: two watchers never claim the same task.
        if let Some(task) = inbox.claim_next()? {
            news.working = Some(Working {
                task: task.id().to_owned(),
                session: session.to_owned(),
            });
            news.task = Some(item(task, TaskShown::Claimed, 0));
        }
    }

    let awaiting: Vec<&Task> = tasks.iter().filter(|t| t.is_awaiting_approval()).collect();
    let announced: HashSet<&str> = seen.approvals.iter().map(String::as_str).collect();
    let new: Vec<(String, String, String)> = awaiting
        .iter()
        .filter(|t| !announced.contains(t.id()))
        .map(|t| {
            let from = t.from().unwrap_or("unknown").to_owned();
            let tier = ctx.trust_tier(&from);
            (t.id().to_owned(), from, tier)
        })
        .collect();
    news.new_approvals = new;
    news.awaiting = awaiting.iter().map(|t| t.id().to_owned()).collect();
    Ok(news)
}

/// What the watcher's intake step did.
enum Intake {
    /// No unread message for the agent: the unread messages, for the messages section.
    Nothing(Vec<Message>),
    /// Messages were taken in (or tried): the files changed.
    Done,
}

/// Runs task intake for the agent when an unread message is addressed to it.
fn take_in(ctx: &Context) -> Result<Intake, HooksError> {
    let unread = ctx.store()?.unread()?;
    if !intake::any_for(&unread, ctx.agent()) {
        return Ok(Intake::Nothing(unread));
    }
    let mine: Vec<Message> = unread
        .into_iter()
        .filter(|m| m.to.as_deref() == Some(ctx.agent()))
        .collect();
    intake::run_on(ctx, &mine)?;
    Ok(Intake::Done)
}

fn watch_messages(
    ctx: &Context,
    seen: &SeenState,
    unread: Option<Vec<Message>>,
) -> Result<MessageNews, HooksError> {
    let unread = match unread {
        Some(unread) => unread,
        None => ctx.store()?.unread()?,
    };
    let shown: HashSet<&str> = seen.messages.iter().map(String::as_str).collect();
    let mut news = MessageNews::default();
    for message in unread {
        // The agent's own replies to the user are for the user.
        if message.from == ctx.agent() {
            continue;
        }
        news.still_unread.push(message.id.clone());
        if shown.contains(message.id.as_str()) {
            continue;
        }
        let tier = ctx.trust_tier(&message.from);
        news.new.push(MessageItem {
            trusted: ctx.is_owner(&message.from),
            tier,
            message,
        });
    }
    Ok(news)
}

/// The `--plain` output: the v0.2.0 text lines (`[messaging] Task in progress: <heading>`,
/// or `[messaging] Claimed task: <heading>` with `From:` and `Tier:` lines), plus an `ID:`
/// line, which the original left out (D-HK-1). Like v0.2.0, it shows the task in progress on
/// every prompt and no messages; unlike it, it creates no file.
pub(crate) fn watch_plain(ctx: &Context) -> Result<WatchOutput, HooksError> {
    if !ctx.agent_file(None)?.exists() {
        return Ok(WatchOutput::default());
    }
    let inbox = ctx.agent_inbox(None)?;
    if let Some(task) = inbox.find_by_state(&[TaskState::Working])?.first() {
        return Ok(WatchOutput {
            stdout: Some(format!("[messaging] Task in progress: {}\n", task.title())),
            warnings: Vec::new(),
        });
    }
    let Some(task) = inbox.claim_next()? else {
        return Ok(WatchOutput::default());
    };
    Ok(WatchOutput {
        stdout: Some(format!(
            "[messaging] Claimed task: {}\n  From: {}\n  Tier: {}\n  ID: {}\n",
            task.title(),
            task.from().unwrap_or("unknown"),
            task.trust_tier().unwrap_or("unknown"),
            task.id()
        )),
        warnings: Vec::new(),
    })
}
