//! `send-reply`: the agent's reply, optionally completing the task it answers. Exit 0, 1 with
//! one line on stderr, or 2 for a usage mistake.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use argh::{ArgsInfo, FromArgs};

use crate::cli::{self, print, render};
use crate::context::Context;
use crate::desk::{Reply, send_reply};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Sends your agent's reply. To the local user it lands in the local inbox; to anyone else it
/// is recorded in outbox.org, pending delivery by the relay. With --complete-task, the task
/// (which must be WORKING) is completed and the governor told the tokens used.
#[argh(help_triggers("-h", "--help"))]
struct Args {
    /// the recipient (an actor ID, e.g. gregor or tex@team.example.com, or @handle from
    /// contacts.yaml); for a task that came as a message, its sender
    #[argh(positional)]
    to: String,
    /// the reply text, one argument (quote it); `-` reads it from stdin
    #[argh(positional)]
    content: String,
    /// the message this answers: its ID, or a unique prefix or suffix of it
    #[argh(option)]
    reply_to: Option<String>,
    /// the task this reply completes (ID, or a unique prefix or suffix)
    #[argh(option)]
    complete_task: Option<String>,
    /// the same as --complete-task (the spelling the original documented)
    #[argh(option)]
    complete: Option<String>,
    /// tokens the task used, for the governor (with --complete-task)
    #[argh(option)]
    tokens: Option<u64>,
    /// the sender (default: your agent, USER-claude)
    #[argh(option, long = "as")]
    sender: Option<String>,
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
        name: "send-reply",
        ..Args::get_args_info()
    }
}

/// The `send-reply` executable.
pub fn send_reply_main() -> ExitCode {
    let parsed = cli::args().and_then(|mut args| {
        cli::mark_stdin_arguments(&mut args);
        cli::parse::<Args>("send-reply", &args)
    });
    let args = match parsed {
        Ok(args) => args,
        Err(early) => return early.finish(2),
    };
    cli::exit_with("send-reply", run(args))
}

fn run(args: Args) -> anyhow::Result<()> {
    let ctx = Context::load(args.root.as_deref(), args.space.as_deref())?;
    msg_core::timestamp::init_local_offset(ctx.utc_offset());
    let complete_task = match (args.complete_task, args.complete) {
        (Some(a), Some(b)) if a != b => {
            return Err(cli::usage(format!(
                "--complete-task {a} and --complete {b} name different tasks; give one"
            )));
        }
        (a, b) => a.or(b),
    };
    if args.tokens.is_some() && complete_task.is_none() {
        return Err(cli::usage("--tokens goes with --complete-task"));
    }
    let content = if args.content == cli::STDIN_ARGUMENT {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the reply from stdin")?;
        text
    } else {
        args.content
    };
    let report = send_reply(
        &ctx,
        &Reply {
            to: args.to,
            content,
            reply_to: args.reply_to,
            complete_task,
            tokens: args.tokens,
            sender: args.sender,
            agent: None,
        },
    )?;
    let mut out = format!("{}\n", report.sent.confirmation());
    if let Some((task, note)) = &report.completed {
        out.push_str(&format!("[messaging] Completed task: {}\n", task.id()));
        if let Some(line) = render::governor_note(note) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    print(&out)
}
