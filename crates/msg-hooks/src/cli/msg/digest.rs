//! `msg digest`: what waits for the person, in brief (the original's message-digest agent
//! and Datacore `today` hook, which v0.2.0 mapped to the task-claiming watcher by mistake).
//!
//! Unread messages grouped by sender (senders with high-priority messages first, then the
//! most messages; in a group high priority first, then the newest), the agent's tasks
//! awaiting the person's approval, its tasks done and awaiting acceptance, and today's
//! governor figures. It reads and changes nothing else: no file is created, nothing is
//! marked read, nothing is claimed.
//!
//! **Bounded.** It is meant to be read at the start of a session (the `today` skill, the
//! Datacore briefing), so it lists at most [`MAX_SENDERS`] senders, [`MAX_PER_SENDER`]
//! messages each and [`MAX_TASKS`] tasks of each kind, with one line each cut to
//! [`MAX_LINE_CHARS`] (names to [`MAX_NAME_CHARS`]), and counts the rest: the text stays under [`MAX_DIGEST_CHARS`]
//! (4,000 characters) and the JSON under 8,000 bytes whatever the size of the files (tested
//! with 10,000 unread messages from 500 senders).

use std::collections::BTreeMap;

use argh::{ArgsInfo, FromArgs};
use msg_governor::DailySummary;
use msg_inbox::{Task, TaskState};
use msg_store::{Message, Priority};
use serde_json::{Value, json};

use crate::cli::render::one_line;
use crate::cli::{json, print};
use crate::context::Context;
use crate::desk::messages::clip;
use msg_core::figures::{grouped, plural};

/// The most characters of the text form. (The JSON form lists the same items, each field
/// cut like the text, and so stays under 8,000 bytes; `tests/hooks/digest.rs` checks both.)
const MAX_DIGEST_CHARS: usize = 4_000;
/// The most senders listed; the others are counted.
const MAX_SENDERS: usize = 6;
/// The most messages listed per sender.
const MAX_PER_SENDER: usize = 2;
/// The most tasks of each kind listed.
const MAX_TASKS: usize = 4;
/// The most characters of a message's first line or a task's title.
const MAX_LINE_CHARS: usize = 60;
/// The most characters of a sender's or tier's name.
const MAX_NAME_CHARS: usize = 40;

#[derive(FromArgs, ArgsInfo, Debug)]
/// What waits for you, in brief: unread messages by sender (high priority first), your
/// agent's tasks awaiting your approval or your acceptance, today's governor figures. At
/// most 4,000 characters whatever the size of your files; reads only, changes nothing.
#[argh(subcommand, name = "digest", help_triggers("-h", "--help"))]
pub(super) struct Digest {
    /// print JSON (at most 8,000 bytes)
    #[argh(switch)]
    json: bool,
}

impl Digest {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let digest = Gathered::read(ctx)?;
        if self.json {
            return print(&json::to_text(&digest.to_json(ctx)));
        }
        print(&digest.text(ctx))
    }
}

/// The unread messages of one sender.
#[derive(Debug)]
struct SenderGroup {
    from: String,
    count: usize,
    high: usize,
    /// Up to [`MAX_PER_SENDER`]: high priority first, then the newest.
    shown: Vec<Message>,
}

/// Tasks of one kind: the first [`MAX_TASKS`] and how many in all.
#[derive(Debug, Default)]
struct TaskList {
    total: usize,
    shown: Vec<Task>,
}

impl TaskList {
    fn of(tasks: impl Iterator<Item = Task>) -> TaskList {
        let mut list = TaskList::default();
        for task in tasks {
            list.total += 1;
            if list.shown.len() < MAX_TASKS {
                list.shown.push(task);
            }
        }
        list
    }
}

/// What the digest says, read from the files.
#[derive(Debug)]
struct Gathered {
    unread_total: usize,
    senders_total: usize,
    /// Up to [`MAX_SENDERS`], in the order shown.
    groups: Vec<SenderGroup>,
    awaiting_approval: TaskList,
    awaiting_acceptance: TaskList,
    today: DailySummary,
}

impl Gathered {
    fn read(ctx: &Context) -> anyhow::Result<Gathered> {
        let unread = match ctx.existing_store()? {
            Some(store) => store.unread()?,
            None => Vec::new(),
        };
        let unread_total = unread.len();
        let mut by_sender: BTreeMap<String, Vec<Message>> = BTreeMap::new();
        for message in unread {
            by_sender
                .entry(message.from.clone())
                .or_default()
                .push(message);
        }
        let senders_total = by_sender.len();
        let mut groups: Vec<SenderGroup> = by_sender
            .into_iter()
            .map(|(from, mut messages)| {
                let high = messages
                    .iter()
                    .filter(|m| m.priority == Priority::High)
                    .count();
                let count = messages.len();
                // File order is arrival order: the newest last.
                messages.reverse();
                messages.sort_by_key(|m| m.priority != Priority::High);
                messages.truncate(MAX_PER_SENDER);
                SenderGroup {
                    from,
                    count,
                    high,
                    shown: messages,
                }
            })
            .collect();
        groups.sort_by(|a, b| {
            b.high
                .cmp(&a.high)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.from.cmp(&b.from))
        });
        groups.truncate(MAX_SENDERS);

        let (awaiting_approval, awaiting_acceptance) = if ctx.agent_file(None)?.exists() {
            let tasks = ctx
                .agent_inbox(None)?
                .find_by_state(&[TaskState::Waiting, TaskState::Done])?;
            let (waiting, done): (Vec<Task>, Vec<Task>) = tasks
                .into_iter()
                .partition(|t| t.state() == TaskState::Waiting);
            (
                TaskList::of(waiting.into_iter().filter(Task::is_awaiting_approval)),
                TaskList::of(done.into_iter()),
            )
        } else {
            (TaskList::default(), TaskList::default())
        };
        Ok(Gathered {
            unread_total,
            senders_total,
            groups,
            awaiting_approval,
            awaiting_acceptance,
            today: ctx.governor()?.daily_summary()?,
        })
    }

    fn text(&self, ctx: &Context) -> String {
        let mut out = format!(
            "Digest for {} (space {}), {}\n",
            name(ctx.user()),
            ctx.space(),
            self.today.date
        );
        if self.unread_total == 0 {
            out.push_str("\nNo unread messages.\n");
        } else {
            out.push_str(&format!(
                "\nUnread: {} from {}\n",
                count(self.unread_total, "message", "messages"),
                count(self.senders_total, "sender", "senders")
            ));
        }
        for group in &self.groups {
            let high = match group.high {
                0 => String::new(),
                n => format!(", {n} high"),
            };
            out.push_str(&format!(
                "  {} ({}): {}{high}\n",
                name(&group.from),
                name(&ctx.trust_tier(&group.from)),
                group.count
            ));
            for message in &group.shown {
                let flag = if message.priority == Priority::High {
                    "[HIGH] "
                } else {
                    ""
                };
                out.push_str(&format!("    {flag}{}  {}\n", message.id, summary(message)));
            }
            if group.count > group.shown.len() {
                out.push_str(&format!(
                    "    and {} more\n",
                    grouped((group.count - group.shown.len()) as u64)
                ));
            }
        }
        if self.senders_total > self.groups.len() {
            let listed: usize = self.groups.iter().map(|g| g.count).sum();
            let more = self.senders_total - self.groups.len();
            out.push_str(&format!(
                "  and {} more {} with {}\n",
                grouped(more as u64),
                plural(more, "sender", "senders"),
                count(self.unread_total - listed, "message", "messages")
            ));
        }
        if self.unread_total > 0 {
            out.push_str(
                "  (msg inbox --unread [--from SENDER] lists them; msg show <ID> shows one)\n",
            );
        }
        tasks_text(
            &mut out,
            &self.awaiting_approval,
            &format!("Awaiting your approval ({})", ctx.agent()),
            "msg task approve <ID>, or msg task reject <ID>",
        );
        tasks_text(
            &mut out,
            &self.awaiting_acceptance,
            &format!("Done, awaiting your acceptance ({})", ctx.agent()),
            "msg task accept <ID>, or msg task revise <ID> --feedback '<what>'",
        );
        let budget = self
            .today
            .daily_budget_tokens
            .map_or_else(|| "unlimited".to_owned(), grouped);
        out.push_str(&format!(
            "\nToday: {} tokens used + {} reserved of {budget}; {} admitted, {}/{} active (msg usage)\n",
            grouped(self.today.total_tokens_used),
            grouped(self.today.total_tokens_reserved),
            count(self.tasks_today(), "task", "tasks"),
            self.today.active_tasks,
            self.today.max_queue_depth
        ));
        cap(out)
    }

    fn tasks_today(&self) -> usize {
        self.today
            .by_sender
            .values()
            .map(|s| s.tasks_today as usize)
            .sum()
    }

    fn to_json(&self, ctx: &Context) -> Value {
        let message = |m: &Message| {
            json!({
                "id": m.id,
                "priority": m.priority.as_str(),
                "created": m.created,
                "summary": summary(m),
            })
        };
        let senders: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                json!({
                    "from": name(&g.from),
                    "tier": name(&ctx.trust_tier(&g.from)),
                    "count": g.count,
                    "high": g.high,
                    "messages": g.shown.iter().map(message).collect::<Vec<_>>(),
                })
            })
            .collect();
        let tasks = |list: &TaskList| {
            json!({
                "total": list.total,
                "tasks": list.shown.iter().map(|t| json!({
                    "id": t.id(),
                    "from": t.from().map(name),
                    "title": line(t.title()),
                    "submitted": t.property("SUBMITTED"),
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "user": name(ctx.user()),
            "agent": name(ctx.agent()),
            "space": ctx.space(),
            "date": self.today.date.to_string(),
            "unread": {
                "total": self.unread_total,
                "senders_total": self.senders_total,
                "senders": senders,
            },
            "awaiting_approval": tasks(&self.awaiting_approval),
            "awaiting_acceptance": tasks(&self.awaiting_acceptance),
            "today": {
                "tokens_used": self.today.total_tokens_used,
                "tokens_reserved": self.today.total_tokens_reserved,
                "daily_budget_tokens": self.today.daily_budget_tokens,
                "tasks_admitted": self.tasks_today(),
                "active_tasks": self.today.active_tasks,
                "max_queue_depth": self.today.max_queue_depth,
            },
        })
    }
}

fn tasks_text(out: &mut String, list: &TaskList, heading: &str, how: &str) {
    if list.total == 0 {
        return;
    }
    out.push_str(&format!(
        "\n{heading}: {} ({how})\n",
        count(list.total, "task", "tasks")
    ));
    for task in &list.shown {
        out.push_str(&format!(
            "  {}  from {}: {}\n",
            task.id(),
            name(task.from().unwrap_or("unknown")),
            line(task.title())
        ));
    }
    if list.total > list.shown.len() {
        out.push_str(&format!(
            "  and {} more: msg tasks --state {}\n",
            list.total - list.shown.len(),
            list.shown[0].state().keyword()
        ));
    }
}

/// `count` and the noun, the count grouped as people read it (`10,000 messages`).
fn count(count: usize, one: &str, many: &str) -> String {
    format!("{} {}", grouped(count as u64), plural(count, one, many))
}

/// One line of text others wrote: control characters escaped, cut to [`MAX_LINE_CHARS`].
fn line(text: &str) -> String {
    clip(&one_line(text), MAX_LINE_CHARS)
}

/// A sender's or tier's name: control characters escaped, cut to [`MAX_NAME_CHARS`].
fn name(text: &str) -> String {
    clip(&one_line(text), MAX_NAME_CHARS)
}

/// What a message says, in one line.
fn summary(message: &Message) -> String {
    let first = match message.property("FILENAME") {
        Some(file) => format!("file: {file}"),
        None => message
            .body
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(&message.title)
            .to_owned(),
    };
    line(&first)
}

/// The final guard: the lists are bounded by construction, this only cuts what long names
/// could still add.
fn cap(text: String) -> String {
    if text.chars().count() <= MAX_DIGEST_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_DIGEST_CHARS - 60).collect();
    cut.push_str("\n(cut: msg inbox --unread and msg tasks show all)\n");
    cut
}
