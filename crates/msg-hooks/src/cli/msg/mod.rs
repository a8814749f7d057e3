//! `msg`: the person's command. Every subcommand and flag is defined once, in the file of
//! its group, beside what it does; this file holds the top-level enum and the dispatch.
//!
//! A new command is a struct with `#[derive(FromArgs, ArgsInfo)]` and a `run` method in its
//! group's file (or a new file), one variant of [`Command`] and one arm in [`run`]. (`ArgsInfo`
//! is what the completions and man pages are made from; the compiler asks for it.) A group
//! of subcommands is an enum: argh's `ArgsInfo` does not see a struct used directly as a
//! subcommand.
//!
//! `--root` and `--space` are global: they are taken from anywhere on the command line before
//! argh sees the rest ([`parse`]).

mod broadcast;
mod contacts;
mod mcp;
mod messages;
mod presence;
mod reference;
mod relay;
mod search;
mod sent;
mod setup;
mod tasks;
mod usage;
mod watch;
mod whoami;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::{ArgsInfo, FromArgs};
use msg_core::paths::Paths;

use crate::cli;
use crate::context::Context;

#[derive(FromArgs, ArgsInfo, Debug)]
/// The person's side of datacore-messaging: send and read messages, hand tasks to your
/// agent and decide on them, see what they cost. Exit 0 ok, 1 failure, 2 usage.
#[argh(help_triggers("-h", "--help"))]
struct Cli {
    /// the Datacore root, anywhere on the line (default: $DATACORE_ROOT, else ~/Data)
    #[argh(option)]
    root: Option<PathBuf>,
    /// the space, anywhere on the line (default: messaging.default_space, else 0-personal)
    #[argh(option)]
    space: Option<String>,
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum Command {
    Send(messages::Send),
    Broadcast(broadcast::Broadcast),
    Inbox(messages::Inbox),
    Show(messages::Show),
    Read(messages::Read),
    Unread(messages::Unread),
    Archive(messages::Archive),
    Unarchive(messages::Unarchive),
    Thread(messages::Thread),
    Watch(watch::Watch),
    Sent(sent::Sent),
    Search(search::Search),
    Resend(sent::Resend),
    Tasks(tasks::Tasks),
    Task(tasks::TaskCmd),
    Usage(usage::Usage),
    Contacts(contacts::Contacts),
    Presence(presence::PresenceCmd),
    Whoami(whoami::Whoami),
    Init(setup::Init),
    Doctor(setup::Doctor),
    Hooks(setup::Hooks),
    Migrate(setup::Migrate),
    Relay(relay::Relay),
    Intake(tasks::Intake),
    Demo(setup::Demo),
    Mcp(mcp::Mcp),
    Completions(reference::Completions),
    Man(reference::Man),
}

/// The `msg` executable: parses the command line, runs the command, prints its error on one
/// line. Exit 0 ok, 1 failure, 2 usage.
pub fn msg_main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(early) => return early.finish(2),
    };
    cli::exit_with("msg", run(cli))
}

/// `msg`'s arguments as argh knows them (completions and man pages).
pub(crate) fn args_info() -> argh::CommandInfoWithArgs {
    argh::CommandInfoWithArgs {
        name: "msg",
        ..<Cli as ArgsInfo>::get_args_info()
    }
}

/// `--root` and `--space` may come anywhere: they are taken out first, then argh parses the
/// rest. `msg help [COMMAND…]` is `msg [COMMAND…] --help`.
fn parse() -> Result<Cli, cli::EarlyOut> {
    let mut args = cli::args()?;
    let root = cli::take_option("msg", &mut args, "root")?;
    let space = cli::take_option("msg", &mut args, "space")?;
    if args.first().is_some_and(|first| first == "help") {
        args.remove(0);
        args.push("--help".to_owned());
    }
    let mut cli: Cli = cli::parse("msg", &args)?;
    cli.root = root.map(Into::into);
    cli.space = space;
    Ok(cli)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let at = Location {
        root: cli.root.as_deref(),
        space: cli.space.as_deref(),
    };
    match cli.command {
        Command::Send(args) => args.run(&at.context()?),
        Command::Broadcast(args) => args.run(&at.context()?),
        Command::Inbox(args) => args.run(&at.context()?),
        Command::Show(args) => args.run(&at.context()?),
        Command::Read(args) => args.run(&at.context()?),
        Command::Unread(args) => args.run(&at.context()?),
        Command::Archive(args) => args.run(&at.context()?),
        Command::Unarchive(args) => args.run(&at.context()?),
        Command::Thread(args) => args.run(&at.context()?),
        Command::Watch(args) => args.run(&at.context()?),
        Command::Sent(args) => args.run(&at.context()?),
        Command::Search(args) => args.run(&at.context()?),
        Command::Resend(args) => args.run(&at.context()?),
        Command::Tasks(args) => args.run(&at.context()?),
        Command::Task(args) => args.run(&at.context()?),
        Command::Usage(args) => args.run(&at.context()?),
        Command::Contacts(args) => args.run(&at.context()?),
        Command::Presence(args) => args.run(&at.context()?),
        Command::Whoami(args) => args.run(&at.context()?),
        // These work without loadable settings: they create or check them.
        Command::Init(args) => args.run(&at),
        Command::Doctor(args) => args.run(&at),
        Command::Hooks(args) => args.run(),
        Command::Migrate(args) => args.run(&at.context()?),
        Command::Relay(args) => args.run(at.context()?),
        Command::Intake(args) => args.run(&at.context()?),
        Command::Demo(args) => args.run(&at),
        Command::Mcp(args) => args.run(at.context()?),
        Command::Completions(args) => args.run(),
        Command::Man(args) => args.run(),
    }
}

/// Where a command works: the global `--root` and `--space`.
struct Location<'a> {
    root: Option<&'a Path>,
    space: Option<&'a str>,
}

impl Location<'_> {
    /// The root's layout, without reading anything.
    fn paths(&self) -> Paths {
        self.root.map_or_else(Paths::from_env, Paths::new)
    }

    /// The context (settings loaded), with msg-core's local offset set from it.
    fn context(&self) -> anyhow::Result<Context> {
        let ctx = Context::load(self.root, self.space)?;
        // Before anything could start a thread (msg-core's timestamp rules).
        msg_core::timestamp::init_local_offset(ctx.utc_offset());
        Ok(ctx)
    }
}
