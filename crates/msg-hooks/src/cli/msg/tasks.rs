//! Tasks: `msg tasks`, `msg task submit|approve|reject|cancel|claim|complete|retry|revise|
//! accept`, and `msg intake` (messages to your agents become tasks).

use argh::{ArgsInfo, FromArgs};
use msg_inbox::{Task, TaskState};
use serde_json::json;

use crate::cli::{self, json, print, render};
use crate::context::Context;
use crate::desk::intake::{self, IntakeOutcome};
use crate::desk::{GovernorNote, Submission, Submitted, TaskDesk};

#[derive(FromArgs, ArgsInfo, Debug)]
/// List an agent's tasks.
#[argh(subcommand, name = "tasks", help_triggers("-h", "--help"))]
pub(super) struct Tasks {
    /// only tasks in this state (WAITING, QUEUED, WORKING, DONE, CANCELLED, ARCHIVED;
    /// repeat it or separate states with commas)
    #[argh(option)]
    state: Vec<String>,
    /// whose tasks (default: your agent)
    #[argh(option)]
    agent: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Tasks {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let wanted = states(&self.state)?;
        let tasks: Vec<Task> = match ctx.existing_agent_inbox(self.agent.as_deref())? {
            Some(inbox) => inbox.tasks()?,
            None => Vec::new(),
        };
        let tasks: Vec<Task> = tasks
            .into_iter()
            .filter(|t| wanted.is_empty() || wanted.contains(&t.state()))
            .collect();
        if self.json {
            return print(&json::to_text(&json::tasks(&tasks)));
        }
        print(&render::task_list(&tasks))
    }
}

/// The states named by `--state` (repeated, or separated by commas), any case.
fn states(given: &[String]) -> anyhow::Result<Vec<TaskState>> {
    let mut states = Vec::new();
    for word in given.iter().flat_map(|g| g.split(',')) {
        let word = word.trim();
        if word.is_empty() {
            continue;
        }
        let state = TaskState::from_keyword(&word.to_ascii_uppercase()).ok_or_else(|| {
            cli::usage(format!(
                "--state {word:?}: use TODO, WAITING, QUEUED, WORKING, DONE, CANCELLED or ARCHIVED"
            ))
        })?;
        states.push(state);
    }
    Ok(states)
}

/// What `msg send` to the agent and `msg task submit` print.
pub(super) fn submitted_text(ctx: &Context, submitted: &Submitted) -> String {
    let task = &submitted.task;
    let agent = ctx.agent();
    let state = match task.state() {
        TaskState::Queued => format!("QUEUED: {agent} picks it up before its next prompt"),
        TaskState::Waiting => format!(
            "WAITING for approval: `msg task approve {}` queues it",
            task.id()
        ),
        other => other.to_string(),
    };
    format!(
        "[messaging] Submitted task {} ({state})\n[messaging] Governor: admitted as {}\n",
        task.id(),
        submitted.admission
    )
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Submit a task, or move one through its states.
#[argh(subcommand, name = "task", help_triggers("-h", "--help"))]
pub(super) struct TaskCmd {
    /// whose tasks (default: your agent)
    #[argh(option)]
    agent: Option<String>,
    #[argh(subcommand)]
    command: TaskCommand,
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum TaskCommand {
    Submit(Submit),
    Approve(Approve),
    Reject(Reject),
    Cancel(Cancel),
    Claim(Claim),
    Complete(Complete),
    Retry(Retry),
    Revise(Revise),
    Accept(Accept),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Submit a task for the agent. The governor admits it (reserving its estimated tokens) or
/// refuses it, saying which limit and when to retry; it is queued at once when the sender's
/// tier auto-accepts, else it waits for your approval.
#[argh(subcommand, name = "submit", help_triggers("-h", "--help"))]
struct Submit {
    /// the task text: the first line is its title, the rest its body
    #[argh(positional)]
    text: String,
    /// the sender (default: you)
    #[argh(option)]
    from: Option<String>,
    /// estimated tokens, reserved until the task ends (default 0)
    #[argh(option)]
    tokens: Option<u64>,
    /// estimated effort
    #[argh(option)]
    effort: Option<u32>,
    /// a tag (repeatable; default: AI)
    #[argh(option)]
    tag: Vec<String>,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Approve a task that waits for you: WAITING → QUEUED.
#[argh(subcommand, name = "approve", help_triggers("-h", "--help"))]
struct Approve {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Reject a task that waits for you: WAITING → CANCELLED; its reservation is released.
#[argh(subcommand, name = "reject", help_triggers("-h", "--help"))]
struct Reject {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// why, kept as REJECTION_REASON
    #[argh(option, default = "String::new()")]
    reason: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Cancel a queued or working task: → CANCELLED; its reservation is released.
#[argh(subcommand, name = "cancel", help_triggers("-h", "--help"))]
struct Cancel {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// why, kept as CANCELLATION_REASON
    #[argh(option, default = "String::new()")]
    reason: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Claim a queued task (QUEUED → WORKING): the one given, else the next in line.
#[argh(subcommand, name = "claim", help_triggers("-h", "--help"))]
struct Claim {
    /// the task: its ID, or a unique prefix or suffix (default: the next)
    #[argh(positional)]
    id: Option<String>,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Complete a working task (WORKING → DONE) and tell the governor the tokens used.
#[argh(subcommand, name = "complete", help_triggers("-h", "--help"))]
struct Complete {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// tokens the task used
    #[argh(option)]
    tokens: Option<u64>,
    /// what it cost, as text (e.g. $0.08)
    #[argh(option, default = "String::new()")]
    cost: String,
    /// where the result is
    #[argh(option, default = "String::new()")]
    result: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Put a working task back in the queue (WORKING → QUEUED), counting the retry.
#[argh(subcommand, name = "retry", help_triggers("-h", "--help"))]
struct Retry {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// why, kept as RETRY_REASON
    #[argh(option, default = "String::new()")]
    reason: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Ask for a revision of a done task (DONE → QUEUED), with feedback.
#[argh(subcommand, name = "revise", help_triggers("-h", "--help"))]
struct Revise {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// what to change, kept as REVISION_FEEDBACK_N
    #[argh(option, default = "String::new()")]
    feedback: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Accept a done task's result: DONE → ARCHIVED.
#[argh(subcommand, name = "accept", help_triggers("-h", "--help"))]
struct Accept {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// print JSON: the task as it is now (and the governor's note)
    #[argh(switch)]
    json: bool,
}

impl Submit {
    /// The submission these arguments describe (from you, tagged `AI`, unless given).
    fn submission(self, ctx: &Context) -> Submission {
        Submission {
            from: self.from.unwrap_or_else(|| ctx.user().to_owned()),
            text: self.text,
            tags: if self.tag.is_empty() {
                vec!["AI".into()]
            } else {
                self.tag
            },
            effort: self.effort,
            estimated_tokens: self.tokens,
        }
    }
}

impl TaskCommand {
    /// Whether `--json` was given to the subcommand.
    fn json(&self) -> bool {
        match self {
            TaskCommand::Submit(args) => args.json,
            TaskCommand::Approve(args) => args.json,
            TaskCommand::Reject(args) => args.json,
            TaskCommand::Cancel(args) => args.json,
            TaskCommand::Claim(args) => args.json,
            TaskCommand::Complete(args) => args.json,
            TaskCommand::Retry(args) => args.json,
            TaskCommand::Revise(args) => args.json,
            TaskCommand::Accept(args) => args.json,
        }
    }
}

/// The task a subcommand changed (none: `claim` found nothing queued), and what the
/// governor recorded.
fn changed(task: Option<&Task>, note: Option<&GovernorNote>) -> String {
    let mut value = task.map_or(serde_json::Value::Null, json::task);
    if let (Some(note), Some(object)) =
        (note.and_then(render::governor_note), value.as_object_mut())
    {
        object.insert("governor".into(), json!(note));
    }
    json::to_text(&value)
}

impl TaskCmd {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let desk = TaskDesk::open(ctx, self.agent.as_deref())?;
        if self.command.json() {
            return print(&Self::json(ctx, &desk, self.command)?);
        }
        let out = match self.command {
            TaskCommand::Submit(args) => {
                let submitted = desk.submit(&args.submission(ctx))?;
                submitted_text(ctx, &submitted)
            }
            TaskCommand::Approve(args) => {
                render::confirmation(&format!("Approved: {}", desk.approve(&args.id)?.id()), None)
            }
            TaskCommand::Reject(args) => {
                let (task, note) = desk.reject(&args.id, &args.reason)?;
                render::confirmation(&format!("Rejected: {}", task.id()), Some(&note))
            }
            TaskCommand::Cancel(args) => {
                let (task, note) = desk.cancel(&args.id, &args.reason)?;
                render::confirmation(&format!("Cancelled: {}", task.id()), Some(&note))
            }
            TaskCommand::Claim(args) => match desk.claim(args.id.as_deref())? {
                Some(task) => render::confirmation(
                    &format!("Claimed: {} ({})", task.id(), task.title()),
                    None,
                ),
                None => "[messaging] Nothing is queued.\n".to_owned(),
            },
            TaskCommand::Complete(args) => {
                let (task, note) =
                    desk.complete(&args.id, args.tokens, &args.cost, &args.result)?;
                render::confirmation(&format!("Completed: {}", task.id()), Some(&note))
            }
            TaskCommand::Retry(args) => render::confirmation(
                &format!("Re-queued: {}", desk.retry(&args.id, &args.reason)?.id()),
                None,
            ),
            TaskCommand::Revise(args) => render::confirmation(
                &format!(
                    "Revision requested: {}",
                    desk.revise(&args.id, &args.feedback)?.id()
                ),
                None,
            ),
            TaskCommand::Accept(args) => {
                render::confirmation(&format!("Accepted: {}", desk.accept(&args.id)?.id()), None)
            }
        };
        print(&out)
    }

    /// What a subcommand with `--json` prints.
    fn json(ctx: &Context, desk: &TaskDesk, command: TaskCommand) -> anyhow::Result<String> {
        Ok(match command {
            TaskCommand::Submit(args) => {
                let submitted = desk.submit(&args.submission(ctx))?;
                json::to_text(&json::submitted(&submitted))
            }
            TaskCommand::Approve(args) => changed(Some(&desk.approve(&args.id)?), None),
            TaskCommand::Reject(args) => {
                let (task, note) = desk.reject(&args.id, &args.reason)?;
                changed(Some(&task), Some(&note))
            }
            TaskCommand::Cancel(args) => {
                let (task, note) = desk.cancel(&args.id, &args.reason)?;
                changed(Some(&task), Some(&note))
            }
            TaskCommand::Claim(args) => changed(desk.claim(args.id.as_deref())?.as_ref(), None),
            TaskCommand::Complete(args) => {
                let (task, note) =
                    desk.complete(&args.id, args.tokens, &args.cost, &args.result)?;
                changed(Some(&task), Some(&note))
            }
            TaskCommand::Retry(args) => changed(Some(&desk.retry(&args.id, &args.reason)?), None),
            TaskCommand::Revise(args) => {
                changed(Some(&desk.revise(&args.id, &args.feedback)?), None)
            }
            TaskCommand::Accept(args) => changed(Some(&desk.accept(&args.id)?), None),
        })
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Turn unread messages addressed to your agents into tasks, through the governor; a
/// refused sender gets a reply saying why and when to retry. Safe to run any time, by any
/// number of processes: a message becomes at most one task.
#[argh(subcommand, name = "intake", help_triggers("-h", "--help"))]
pub(super) struct Intake {
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Intake {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let outcomes = intake::run(ctx)?;
        if self.json {
            let list: Vec<serde_json::Value> =
                outcomes.iter().map(IntakeOutcome::to_json).collect();
            return print(&json::to_text(&json!(list)));
        }
        if outcomes.is_empty() {
            return print("[messaging] No unread message for your agents.\n");
        }
        let mut out = String::new();
        for outcome in &outcomes {
            out.push_str(&format!("[messaging] {}\n", outcome.describe()));
        }
        print(&out)
    }
}
