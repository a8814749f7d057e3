//! The executables: each one's arguments and what it does with them, behind one entry point
//! per binary ([`msg_main`], [`inbox_watcher_main`], [`send_reply_main`],
//! [`mark_message_main`], [`task_queue_main`]); `src/bin/*.rs` only call them.
//!
//! - `msg/`: the person's command, one file per group of subcommands;
//! - `inbox_watcher.rs`, `send_reply.rs`, `mark_message.rs`, `task_queue.rs`: the agent's
//!   hook and helper commands;
//! - `render.rs` (human) and `json.rs` (`--json`): the two output forms. The hook's JSON is
//!   not here: it is the hook's contract, built in `hook/watcher.rs`.
//! - `completions.rs` and `man.rs`: shell completions and man pages for every program, made
//!   from the programs' argh definitions ([`programs`]).
//!
//! This file holds the conventions every executable shares: how arguments are parsed, how
//! results are printed, and which exit status means what.
//!
//! - exit 0: done (including "nothing to do");
//! - exit 1: failure, with one line on stderr: `<program>: <what went wrong>`;
//! - exit 2: a usage mistake (unknown flag, missing argument), naming the command it is
//!   about, what was probably meant ("did you mean"), and that command's `--help`. The
//!   `inbox-watcher` hook never exits 2, because Claude Code would block the person's prompt.
//!
//! Output goes to stdout in one write; a reader that closed the pipe early (`msg inbox |
//! head -1`) is not an error.

mod completions;
mod inbox_watcher;
mod json;
mod man;
mod mark_message;
mod msg;
mod render;
mod send_reply;
mod task_queue;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use argh::{ArgsInfo, CommandInfoWithArgs, EarlyExit, FlagInfoKind, FromArgs};

use crate::error::HooksError;

pub use inbox_watcher::inbox_watcher_main;
pub use mark_message::mark_message_main;
pub use msg::msg_main;
pub use send_reply::send_reply_main;
pub use task_queue::task_queue_main;

/// A mistake in how a program was called: exit status 2.
#[derive(Debug)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage mistake as an `anyhow::Error` that [`exit_with`] turns into exit status 2.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// What to do instead of running the command: print help (exit 0) or a usage error (exit 2).
#[derive(Debug)]
pub(crate) enum EarlyOut {
    /// `--help`: the text for stdout.
    Help(String),
    /// A usage error: the text for stderr.
    Usage(String),
}

impl EarlyOut {
    /// Prints the text and returns the exit status: 0 for help, `usage_status` for a usage
    /// error (2, or 1 for the hook).
    pub(crate) fn finish(self, usage_status: u8) -> ExitCode {
        match self {
            EarlyOut::Help(text) => {
                let _ = print_stdout(&format!("{text}\n"));
                ExitCode::SUCCESS
            }
            EarlyOut::Usage(text) => {
                eprintln!("{text}");
                ExitCode::from(usage_status)
            }
        }
    }
}

/// The program's arguments after its name, as UTF-8.
pub(crate) fn args() -> Result<Vec<String>, EarlyOut> {
    std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string().map_err(|arg| {
                EarlyOut::Usage(format!(
                    "argument {:?} is not valid UTF-8",
                    arg.to_string_lossy()
                ))
            })
        })
        .collect()
}

/// The version every program prints for `--version`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Parses `args` (without the program name) into `T`. `--version` alone prints the version;
/// a usage error names the command it is about and points to that command's `--help`, with
/// the closest command or flag when a word is not one.
pub(crate) fn parse<T: FromArgs + ArgsInfo>(program: &str, args: &[String]) -> Result<T, EarlyOut> {
    if matches!(args, [only] if only == "--version" || only == "-V") {
        return Err(EarlyOut::Help(version(program)));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    T::from_args(&[program], &args).map_err(|EarlyExit { output, status }| match status {
        Ok(()) => EarlyOut::Help(with_version_line(&args, output.trim_end())),
        Err(()) => EarlyOut::Usage(usage_message(program, &T::get_args_info(), &args, &output)),
    })
}

/// The top-level help lists `--version` with `--help` (argh knows only its own flags).
fn with_version_line(args: &[&str], help: &str) -> String {
    const HELP_LINE: &str = "  -h, --help        display usage information";
    if args.len() != 1 || !help.contains(HELP_LINE) {
        return help.to_owned();
    }
    help.replacen(
        HELP_LINE,
        &format!("{HELP_LINE}\n  -V, --version     print the version and exit"),
        1,
    )
}

/// The subcommands `args` name from the top, and the command they lead to: options are
/// skipped (with their values), the first other word that is not a subcommand ends it.
fn command_path<'i>(
    info: &'i CommandInfoWithArgs,
    args: &[&str],
) -> (Vec<&'static str>, &'i CommandInfoWithArgs, Option<usize>) {
    let mut path = Vec::new();
    let mut level = info;
    let mut index = 0;
    while index < args.len() {
        let arg = args[index];
        if arg == "--" {
            break;
        }
        if arg.starts_with('-') {
            let takes_value = level
                .flags
                .iter()
                .any(|flag| flag.long == arg && matches!(flag.kind, FlagInfoKind::Option { .. }));
            index += if takes_value { 2 } else { 1 };
            continue;
        }
        match level.commands.iter().find(|c| c.name == arg) {
            Some(sub) => {
                path.push(sub.name);
                level = &sub.command;
                index += 1;
            }
            None => return (path, level, Some(index)),
        }
    }
    (path, level, None)
}

/// argh's usage error on one line, with the command it is about, what was probably meant,
/// and that command's `--help`.
fn usage_message(program: &str, info: &CommandInfoWithArgs, args: &[&str], output: &str) -> String {
    let (path, level, stopped_at) = command_path(info, args);
    let mut command = program.to_owned();
    for name in &path {
        command.push(' ');
        command.push_str(name);
    }
    // argh lists names one per indented line: `…not provided:\n    to\n    text`.
    let mut lines = output.trim_end().lines();
    let first = lines.next().unwrap_or("").trim_end();
    let listed: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut message = if listed.is_empty() {
        first.to_owned()
    } else {
        format!("{} {}", first, listed.join(", "))
    };
    if let Some(given) = first.strip_prefix("Unrecognized argument: ") {
        let given = given.trim().trim_matches('"');
        if given.starts_with('-') {
            let flags = level
                .flags
                .iter()
                .map(|f| f.long)
                .chain(["--help"])
                .filter(|f| !f.is_empty());
            message.push_str(&crate::suggest::did_you_mean(given, flags, ""));
        } else if !level.commands.is_empty()
            && stopped_at.is_some_and(|at| args.get(at) == Some(&given))
        {
            message = if path.is_empty() {
                format!("unknown command {given:?}")
            } else {
                format!("`{command}` has no command {given:?}")
            };
            let names = level.commands.iter().map(|c| c.name);
            message.push_str(&crate::suggest::did_you_mean(
                given,
                names,
                &format!("{command} "),
            ));
        }
    }
    format!("{program}: {message}; run `{command} --help` for usage")
}

/// The version line for `program`.
pub(crate) fn version(program: &str) -> String {
    format!("{program} {VERSION}")
}

/// Every program's arguments as argh knows them, for completions and man pages.
pub(crate) fn programs() -> Vec<CommandInfoWithArgs> {
    vec![
        msg::args_info(),
        inbox_watcher::args_info(),
        send_reply::args_info(),
        mark_message::args_info(),
        task_queue::args_info(),
    ]
}

/// Removes every `--name VALUE` and `--name=VALUE` before a `--` from `args` and returns the
/// last value, so that global options such as `msg --root DIR` work anywhere on the command
/// line. A `--name` without a value is a usage error of `program`.
pub(crate) fn take_option(
    program: &str,
    args: &mut Vec<String>,
    name: &str,
) -> Result<Option<String>, EarlyOut> {
    let flag = format!("--{name}");
    let with_value = format!("--{name}=");
    let mut value = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            break;
        }
        if args[i] == flag {
            if i + 1 >= args.len() {
                return Err(EarlyOut::Usage(format!(
                    "{program}: {flag} needs a value; run `{program} --help` for usage"
                )));
            }
            value = Some(args.remove(i + 1));
            args.remove(i);
            continue;
        }
        if let Some(rest) = args[i].strip_prefix(&with_value) {
            value = Some(rest.to_owned());
            args.remove(i);
            continue;
        }
        i += 1;
    }
    Ok(value)
}

/// What a lone `-` argument (meaning: read stdin) becomes before argh sees it, which would
/// take it for an option. An argument from the operating system cannot contain NUL, so no
/// real argument looks like this.
pub(crate) const STDIN_ARGUMENT: &str = "\0-";

/// Replaces each lone `-` before a `--` by [`STDIN_ARGUMENT`].
pub(crate) fn mark_stdin_arguments(args: &mut [String]) {
    for arg in args.iter_mut() {
        if arg == "--" {
            break;
        }
        if arg == "-" {
            *arg = STDIN_ARGUMENT.to_owned();
        }
    }
}

/// Writes `text` to stdout in one go. A closed pipe counts as success: the reader has what
/// it wanted.
pub(crate) fn print_stdout(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes `text` to stdout ([`print_stdout`]), an error naming stdout if that fails.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    print_stdout(text).context("cannot write to stdout")
}

/// The error chain of `err` on one line: each cause once (a cause whose text the line already
/// ends with is not repeated), line breaks replaced by spaces.
pub(crate) fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace(['\n', '\r'], " ")
}

/// For a task in a state the operation does not start from, the commands of `program` that
/// do move it on from there: ` (next: `msg task accept ID`, `msg task revise ID`)`.
fn next_steps(program: &str, err: &anyhow::Error) -> String {
    use msg_inbox::{InboxError, Operation, TaskState};
    let found = err
        .chain()
        .find_map(|cause| match cause.downcast_ref::<HooksError>()? {
            HooksError::Inbox(InboxError::WrongState { id, keyword, .. }) => {
                Some((id.clone(), keyword.clone()))
            }
            _ => None,
        });
    let Some((id, Some(keyword))) = found else {
        return String::new();
    };
    let Some(state) = TaskState::from_keyword(&keyword) else {
        return String::new();
    };
    let commands: Vec<String> = state
        .operations()
        .into_iter()
        .map(|op| {
            let word = op.name();
            match (program, op) {
                (
                    "task-queue",
                    Operation::Approve
                    | Operation::Reject
                    | Operation::Cancel
                    | Operation::Accept
                    | Operation::RequestRevision
                    | Operation::Retry,
                ) => format!("`task-queue {word} {id}`"),
                ("send-reply", Operation::Complete) => {
                    format!("`send-reply TO TEXT --complete-task {id}`")
                }
                _ => format!("`msg task {word} {id}`"),
            }
        })
        .collect();
    if commands.is_empty() {
        return String::new();
    }
    format!(" (next: {})", commands.join(", "))
}

/// Prints `program: <error on one line>` to stderr and returns exit status 2 for a
/// [`UsageError`], else 1.
pub(crate) fn fail(program: &str, err: &anyhow::Error) -> ExitCode {
    eprintln!("{program}: {}{}", one_line(err), next_steps(program, err));
    if err.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// The exit status of `result`: 0, or what [`fail`] prints and returns.
pub(crate) fn exit_with(program: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(program, &err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn global_options_are_taken_from_anywhere_before_the_separator() {
        let mut args = strings(&[
            "inbox",
            "--root",
            "/d",
            "--json",
            "--space=s",
            "--",
            "--root",
            "x",
        ]);
        assert_eq!(
            take_option("t", &mut args, "root").unwrap().as_deref(),
            Some("/d")
        );
        assert_eq!(
            take_option("t", &mut args, "space").unwrap().as_deref(),
            Some("s")
        );
        assert_eq!(args, strings(&["inbox", "--json", "--", "--root", "x"]));
        let mut args = strings(&["inbox", "--root"]);
        assert!(take_option("t", &mut args, "root").is_err());
    }

    #[test]
    fn a_chain_prints_each_cause_once_on_one_line() {
        let io = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let err = anyhow::Error::new(msg_core::durable::DurableError::Io {
            action: "append to",
            path: "/a".into(),
            source: io,
        })
        .context("sending\nfailed");
        assert_eq!(
            one_line(&err),
            "sending failed: cannot append to /a: denied"
        );
    }

    #[derive(FromArgs, ArgsInfo, Debug)]
    /// Test.
    struct Args {
        /// a flag
        #[argh(switch)]
        flag: bool,
    }

    #[test]
    fn help_and_usage_errors_are_told_apart() {
        assert!(matches!(
            parse::<Args>("t", &strings(&["--help"])),
            Err(EarlyOut::Help(_))
        ));
        match parse::<Args>("t", &strings(&["--nope"])) {
            Err(EarlyOut::Usage(text)) => {
                assert!(
                    text.starts_with("t: Unrecognized argument: --nope"),
                    "{text}"
                );
                assert!(!text.contains('\n'));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse::<Args>("t", &strings(&["--flag"])).unwrap().flag);
    }
}
