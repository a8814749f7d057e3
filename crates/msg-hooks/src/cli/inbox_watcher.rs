//! `inbox-watcher`: Claude Code's `UserPromptSubmit` and `SessionStart` hook. Reads the event
//! on stdin and prints `{"hookSpecificOutput": {...}}` when something is new, nothing
//! otherwise. Exit 0, or 1 with one line on stderr; never 2, which would block the prompt.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::{ArgsInfo, FromArgs};

use crate::cli::{self, print};
use crate::context::Context;
use crate::hook::{self, HookEvent};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Shows Claude Code what is new for your agent before each prompt: claims the next queued
/// task (with its ID and the command to complete it), announces new messages and tasks
/// awaiting approval, each once. Register it with `msg hooks install`.
#[argh(help_triggers("-h", "--help"))]
struct Args {
    /// print the v0.2.0 text lines (`[messaging] Claimed task: …`) instead of JSON
    #[argh(switch)]
    plain: bool,
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
        name: "inbox-watcher",
        ..Args::get_args_info()
    }
}

/// The `inbox-watcher` executable.
pub fn inbox_watcher_main() -> ExitCode {
    let args = match cli::args().and_then(|args| cli::parse::<Args>("inbox-watcher", &args)) {
        Ok(args) => args,
        // Exit 2 would block the person's prompt: a usage mistake is an ordinary failure.
        Err(early) => return early.finish(1),
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("inbox-watcher: {}", cli::one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let ctx = Context::load(args.root.as_deref(), args.space.as_deref())?;
    // Before anything could start a thread (msg-core's timestamp rules).
    msg_core::timestamp::init_local_offset(ctx.utc_offset());
    let output = if args.plain {
        hook::watch_plain(&ctx)?
    } else {
        hook::watch(&ctx, &HookEvent::from_stdin())?
    };
    for warning in &output.warnings {
        eprintln!("inbox-watcher: {warning}");
    }
    if let Some(stdout) = &output.stdout {
        print(stdout)?;
    }
    Ok(())
}
