//! The `inbox-watcher` hook: what is new for the agent, before every prompt and when a
//! session starts.
//!
//! The agent sees only what is addressed to it: its own tasks, the tasks awaiting its
//! owner's approval, and messages to it that could not become tasks. The person's own
//! messages in `inbox.org` are never shown. Each run, for the user's agent (`<user>-claude`)
//! in the space:
//!
//! 1. When the inbox changed and an unread message is addressed to the agent, task intake
//!    turns it into a task ([`crate::desk::intake`]). If intake fails, the agent is told once
//!    per message that it is waiting (ID and sender, not its text: it has not been through
//!    the governor).
//! 2. When the task file changed, or a new context needs the task in progress: if a task is
//!    WORKING it is shown once per context; otherwise the next QUEUED task is claimed,
//!    atomically (`AgentInbox::claim_next_if_idle`: one transaction that reads the file
//!    once, and two runs never get the same task), and shown with its ID, sender, trust
//!    tier, full text and the exact command that completes it.
//! 3. Tasks awaiting the owner's approval are announced once each, with the count.
//!
//! A *context* is what the agent has been shown since its session started, or since the
//! last `SessionStart` (a resume, `/clear` or a compaction may have dropped what it was
//! shown). The task in progress and the note on untrusted text are given once per context.
//!
//! Text from senders below the owner tier is framed as data, in tags with a random boundary
//! the sender cannot guess, so it cannot close the frame and go on as the owner; the
//! whole stays under [`MAX_CONTEXT_CHARS`](super::MAX_CONTEXT_CHARS). Nothing new:
//! no output.
//!
//! What was shown is kept per agent (in
//! `<root>/.datacore/state/messaging/inbox-watcher/<space>/<agent>.json`), under a lock held
//! for the whole run, so concurrent runs take turns and never show one item twice. The run
//! also records the fingerprints of the files it read; a file unchanged since has nothing
//! new, so the common case (nothing happened since the last prompt) reads no org file at
//! all. A Datacore root without the task file and the inbox is left untouched: the hook
//! creates nothing.

use std::collections::HashSet;

use crate::trust::verdict::{self, Judge};
use msg_core::config::{OWNER_TIER, UNKNOWN_TIER};
use msg_inbox::{Task, TaskState};
use msg_store::Message;
use serde_json::json;

use super::briefing::{Approvals, Briefing, NotTaken, TaskItem, TaskShown};
use super::hook_event::{EventKind, HookEvent};
use super::seen::{Held, SeenState, Shown};
use super::untrusted::Boundary;
use crate::context::Context;
use crate::desk::intake;
use crate::error::HooksError;
use crate::sighting::Sighting;

/// What a run of the watcher produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOutput {
    /// The text for stdout (one JSON object and a newline, or the plain lines); `None`
    /// when nothing is new.
    pub stdout: Option<String>,
    /// Problems worth a line on stderr that did not stop the run.
    pub warnings: Vec<String>,
}

/// Answers a `UserPromptSubmit` or `SessionStart` event: the hook's JSON output.
pub(super) fn watch_prompt(ctx: &Context, event: &HookEvent) -> Result<WatchOutput, HooksError> {
    let agent_path = ctx.agent_file(None)?;
    let inbox_path = ctx.inbox_file()?;
    // Sightings come before any read: a change made while reading shows up next time.
    let mut agent_print = Sighting::of(&agent_path);
    let mut inbox_print = Sighting::of(&inbox_path);
    if agent_print.is_none() && inbox_print.is_none() {
        return Ok(WatchOutput::default());
    }
    let (record, warning) = Held::open(ctx)?;
    let seen = &record.seen;
    let mut output = WatchOutput::default();
    output.warnings.extend(warning);

    let (mut shown, new_context) = context_now(seen, event);
    let settings_same = ctx
        .settings_print()
        .is_some_and(|now| Sighting::unchanged(seen.files.settings.as_ref(), now.as_ref()));
    let mut next = seen.clone();
    // A new sighting of unchanged settings would differ from the recorded one only in when
    // it was taken, and make every run rewrite the record.
    if !settings_same {
        next.files.settings = ctx.settings_print().flatten();
    }
    let mut briefing = Briefing::default();

    // Task intake first, so that a message addressed to the agent is shown as the task it
    // becomes. Only when the inbox changed.
    let inbox_same =
        settings_same && Sighting::unchanged(seen.files.inbox.as_ref(), inbox_print.as_ref());
    if !inbox_same {
        let waiting = match inbox_print {
            Some(_) => take_in(ctx, &mut output.warnings)?,
            None => Waiting::default(),
        };
        if waiting.took_in {
            agent_print = Sighting::of(&agent_path);
            inbox_print = Sighting::of(&inbox_path);
        }
        next.files.inbox = inbox_print;
        let announced: HashSet<&str> = seen.messages.iter().map(String::as_str).collect();
        let fresh: Vec<&Message> = waiting
            .messages
            .iter()
            .filter(|m| !announced.contains(m.id.as_str()))
            .collect();
        let new: Vec<(String, String, String)> = if fresh.is_empty() {
            Vec::new()
        } else {
            let judge = Judge::load(ctx);
            fresh
                .into_iter()
                .map(|m| (m.id.clone(), m.from.clone(), message_tier(ctx, &judge, m)))
                .collect()
        };
        next.messages = waiting.messages.into_iter().map(|m| m.id).collect();
        if let (false, Some(error)) = (new.is_empty(), waiting.error) {
            briefing.not_taken = Some(NotTaken { error, new });
        }
    }

    let agent_same =
        settings_same && Sighting::unchanged(seen.files.agent.as_ref(), agent_print.as_ref());
    // A new context needs the task in progress shown again, which takes its text (a state
    // without a context, from an earlier build, may not know the task in progress).
    let read_tasks =
        !agent_same || (new_context && (seen.in_progress.is_some() || seen.context.is_none()));
    let mut new_approvals = Vec::new();
    if read_tasks {
        let tasks = match agent_print {
            Some(_) => watch_tasks(ctx, seen, &shown)?,
            None => TaskNews::default(),
        };
        next.files.agent = agent_print;
        next.in_progress = tasks.in_progress;
        next.approvals = tasks.awaiting;
        if let Some(item) = &tasks.task {
            shown.task = Some(item.task.id().to_owned());
        }
        briefing.task = tasks.task;
        new_approvals = tasks.new_approvals;
    }
    // With anything to say, the count of tasks awaiting approval goes with it (from the
    // record when the task file was not read this time).
    let news = briefing.task.is_some() || briefing.not_taken.is_some() || !new_approvals.is_empty();
    if news && !next.approvals.is_empty() {
        briefing.approvals = Some(Approvals {
            new: new_approvals,
            total: next.approvals.len(),
        });
    }

    let note = briefing.has_frame() && !shown.note;
    shown.note |= briefing.has_frame();
    next.context = Some(shown);
    record.save(&next)?;
    if !briefing.is_empty() {
        let context = briefing.render(&Boundary::random(), note);
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

/// The agent's context as of `event`, and whether it is a new one: a `SessionStart` always
/// starts one (the agent may have lost what it was shown), and so does another session.
pub(super) fn context_now(seen: &SeenState, event: &HookEvent) -> (Shown, bool) {
    let session = event.session_id.as_deref().unwrap_or_default();
    match &seen.context {
        Some(shown) if shown.session == session && event.kind() != EventKind::SessionStart => {
            (shown.clone(), false)
        }
        _ => (Shown::new(session), true),
    }
}

/// The tier that decides how far a task's text is trusted: the sender's tier in the
/// settings now, unless the task was submitted with a lower one.
pub(super) fn task_tier(ctx: &Context, task: &Task) -> (String, bool) {
    let from = task.from().unwrap_or("");
    let tier_now = ctx.trust_tier(from);
    let trusted = !from.is_empty()
        && ctx.is_owner(from)
        && task.trust_tier().is_none_or(|tier| tier == OWNER_TIER);
    let mut tier = match task.trust_tier() {
        Some(recorded) if recorded != tier_now && !trusted => {
            format!("{tier_now}, submitted as {recorded}")
        }
        _ => tier_now,
    };
    if let Some(reason) = task.property(verdict::TIER_WITHHELD) {
        tier.push_str(&format!("; signature: {reason}"));
    }
    (tier, trusted)
}

/// The tier a message from the relay is shown with: its sender's, unless its signature does
/// not vouch for the sender (then `unknown`, with the reason).
fn message_tier(ctx: &Context, judge: &Judge, message: &Message) -> String {
    match judge.withheld(message) {
        Some(reason) => format!("{UNKNOWN_TIER}; signature: {reason}"),
        None => ctx.trust_tier(&message.from),
    }
}

/// `task` as the briefing shows it.
pub(super) fn task_item(
    ctx: &Context,
    task: Task,
    news: TaskShown,
    other_working: usize,
) -> TaskItem {
    let (tier, trusted) = task_tier(ctx, &task);
    TaskItem {
        task,
        news,
        tier,
        trusted,
        other_working,
    }
}

/// What the task file holds for the agent now.
#[derive(Debug, Default)]
struct TaskNews {
    /// The task to show.
    task: Option<TaskItem>,
    /// Tasks awaiting approval not announced before: (ID, sender, tier).
    new_approvals: Vec<(String, String, String)>,
    /// The task WORKING now.
    in_progress: Option<String>,
    /// Every task awaiting approval now.
    awaiting: Vec<String>,
}

fn watch_tasks(ctx: &Context, seen: &SeenState, shown: &Shown) -> Result<TaskNews, HooksError> {
    // One transaction: the open tasks, and the next one claimed when none is working.
    let open = ctx.agent_inbox(None)?.claim_next_if_idle()?;
    let working: Vec<&Task> = open
        .open
        .iter()
        .filter(|t| t.state() == TaskState::Working)
        .collect();
    let mut news = TaskNews::default();
    if let Some(task) = open.claimed {
        news.in_progress = Some(task.id().to_owned());
        news.task = Some(task_item(ctx, task, TaskShown::Claimed, 0));
    } else if let Some(&task) = working.first() {
        news.in_progress = Some(task.id().to_owned());
        if shown.task.as_deref() != Some(task.id()) {
            news.task = Some(task_item(
                ctx,
                task.clone(),
                TaskShown::InProgress,
                working.len() - 1,
            ));
        }
    }

    let awaiting: Vec<&Task> = open
        .open
        .iter()
        .filter(|t| t.is_awaiting_approval())
        .collect();
    let announced: HashSet<&str> = seen.approvals.iter().map(String::as_str).collect();
    news.new_approvals = awaiting
        .iter()
        .filter(|t| !announced.contains(t.id()))
        .map(|t| {
            let from = t.from().unwrap_or("unknown").to_owned();
            // As the task was admitted (a forged sender's task says `unknown` and why).
            let (tier, _) = task_tier(ctx, t);
            (t.id().to_owned(), from, tier)
        })
        .collect();
    news.awaiting = awaiting.iter().map(|t| t.id().to_owned()).collect();
    Ok(news)
}

/// Messages to the agent that are still waiting after intake.
#[derive(Debug, Default)]
struct Waiting {
    /// Whether intake ran (and so may have changed both files).
    took_in: bool,
    /// The messages still waiting to be taken in.
    messages: Vec<Message>,
    /// Why they are still waiting.
    error: Option<String>,
}

/// Runs task intake on the unread messages addressed to the agent. An intake error is a
/// warning (the prompt goes on), and the messages still waiting are then read again.
fn take_in(ctx: &Context, warnings: &mut Vec<String>) -> Result<Waiting, HooksError> {
    let store = ctx.store()?;
    let mine = store.unread_to(ctx.agent())?;
    if !intake::any_for(&mine, ctx.agent()) {
        return Ok(Waiting::default());
    }
    let Err(err) = intake::run_on(ctx, &mine) else {
        return Ok(Waiting {
            took_in: true,
            ..Waiting::default()
        });
    };
    warnings.push(format!("task intake: {err}"));
    let messages = store
        .unread_to(ctx.agent())?
        .into_iter()
        .filter(|m| intake::any_for(std::slice::from_ref(m), ctx.agent()))
        .collect();
    Ok(Waiting {
        took_in: true,
        messages,
        error: Some(err.to_string()),
    })
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
