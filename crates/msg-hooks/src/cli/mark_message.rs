//! `mark-message <id> <read|unread|archive>`. Exit 0, 1 with one line on stderr (unknown ID,
//! wrong state), or 2 for a usage mistake.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::{ArgsInfo, FromArgs};

use crate::cli::{self, print};
use crate::context::Context;
use crate::desk::messages::{MarkAction, mark};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Marks a message in your inbox read, unread or archived.
#[argh(help_triggers("-h", "--help"))]
struct Args {
    /// the message: its ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: String,
    /// read, unread or archive
    #[argh(positional)]
    action: MarkAction,
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
        name: "mark-message",
        ..Args::get_args_info()
    }
}

/// The `mark-message` executable.
pub fn mark_message_main() -> ExitCode {
    let args = match cli::args().and_then(|args| cli::parse::<Args>("mark-message", &args)) {
        Ok(args) => args,
        Err(early) => return early.finish(2),
    };
    cli::exit_with("mark-message", run(args))
}

fn run(args: Args) -> anyhow::Result<()> {
    let ctx = Context::load(args.root.as_deref(), args.space.as_deref())?;
    msg_core::timestamp::init_local_offset(ctx.utc_offset());
    let message = mark(&ctx.store()?, &args.id, args.action)?;
    print(&format!("{}\n", args.action.confirmation(&message.id)))
}
