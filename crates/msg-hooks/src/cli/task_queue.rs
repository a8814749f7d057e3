//! `task-queue <status|approve|reject|cancel|accept|revise|retry> [ID | --task-id ID]
//! [--reason TEXT]`. Exit 0, 1 with one line on stderr (unknown ID, wrong state), or 2 for a
//! usage mistake.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use argh::{ArgsInfo, FromArgs};

use crate::cli::{self, print, render};
use crate::context::Context;
use crate::desk::TaskDesk;

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Status,
    Approve,
    Reject,
    Cancel,
    Accept,
    Revise,
    Retry,
}

/// The actions, as typed.
pub(crate) const ACTIONS: [&str; 7] = [
    "status", "approve", "reject", "cancel", "accept", "revise", "retry",
];

impl FromStr for Action {
    type Err = String;

    fn from_str(text: &str) -> Result<Action, String> {
        Ok(match text {
            "status" => Action::Status,
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "cancel" => Action::Cancel,
            "accept" => Action::Accept,
            "revise" => Action::Revise,
            "retry" => Action::Retry,
            other => {
                return Err(format!(
                    "unknown action {other:?}{}: use status, approve, reject, cancel, accept, revise or retry",
                    crate::suggest::did_you_mean(other, ACTIONS, "")
                ));
            }
        })
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Shows your agent's task queue, or moves a task: approve or reject one that waits for
/// you, cancel a queued or working one, accept a done one, ask for a revision, or put a
/// working one back in the queue (retry).
#[argh(help_triggers("-h", "--help"))]
struct Args {
    /// status, approve, reject, cancel, accept, revise or retry
    #[argh(positional)]
    action: Action,
    /// the task: its ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: Option<String>,
    /// the task, as the original spelled it
    #[argh(option)]
    task_id: Option<String>,
    /// why (reject, cancel, retry) or what to change (revise)
    #[argh(option, default = "String::new()")]
    reason: String,
    /// the Datacore root (default: $DATACORE_ROOT, else ~/Data)
    #[argh(option)]
    root: Option<PathBuf>,
    /// the space (default: messaging.default_space, else 0-personal)
    #[argh(option)]
    space: Option<String>,
}

/// The arguments as argh knows them (completions and man pages).
pub(crate) fn args_info() -> argh::CommandInfoWithArgs {
    argh::CommandInfoWithArgs {
        name: "task-queue",
        ..Args::get_args_info()
    }
}

/// The `task-queue` executable.
pub fn task_queue_main() -> ExitCode {
    let args = match cli::args().and_then(|args| cli::parse::<Args>("task-queue", &args)) {
        Ok(args) => args,
        Err(early) => return early.finish(2),
    };
    cli::exit_with("task-queue", run(args))
}

fn run(args: Args) -> anyhow::Result<()> {
    let id = match (args.id, args.task_id) {
        (Some(a), Some(b)) if a != b => {
            return Err(cli::usage(format!(
                "the task is given twice, as {a} and as --task-id {b}; give it once"
            )));
        }
        (a, b) => a.or(b),
    };
    let id = match (args.action, id) {
        (Action::Status, Some(id)) => {
            return Err(cli::usage(format!("status takes no task ID (got {id})")));
        }
        (Action::Status, None) => None,
        (_, None) => {
            return Err(cli::usage(
                "which task? give its ID (or a unique prefix or suffix) or --task-id ID",
            ));
        }
        (_, Some(id)) => Some(id),
    };
    let ctx = Context::load(args.root.as_deref(), args.space.as_deref())?;
    msg_core::timestamp::init_local_offset(ctx.utc_offset());
    let desk = TaskDesk::open(&ctx, None)?;
    let out = match (args.action, id.as_deref()) {
        (Action::Status, _) => render::queue_status(ctx.agent(), &desk.inbox()?.counts()?),
        (_, None) => unreachable!("every action but status has its ID: checked above"),
        (Action::Approve, Some(id)) => {
            render::confirmation(&format!("Approved: {}", desk.approve(id)?.id()), None)
        }
        (Action::Reject, Some(id)) => {
            let (task, note) = desk.reject(id, &args.reason)?;
            render::confirmation(&format!("Rejected: {}", task.id()), Some(&note))
        }
        (Action::Cancel, Some(id)) => {
            let (task, note) = desk.cancel(id, &args.reason)?;
            render::confirmation(&format!("Cancelled: {}", task.id()), Some(&note))
        }
        (Action::Accept, Some(id)) => {
            render::confirmation(&format!("Accepted: {}", desk.accept(id)?.id()), None)
        }
        (Action::Revise, Some(id)) => render::confirmation(
            &format!(
                "Revision requested: {}",
                desk.revise(id, &args.reason)?.id()
            ),
            None,
        ),
        (Action::Retry, Some(id)) => render::confirmation(
            &format!("Re-queued: {}", desk.retry(id, &args.reason)?.id()),
            None,
        ),
    };
    print(&out)
}
