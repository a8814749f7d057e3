//! `msg watch`: messages and tasks printed as they arrive, and `messaging.notify_command`
//! run for each; driven by file notifications, not polling ([`crate::desk::arrivals`]).

use std::io::{self, Write};
use std::process::Child;

use argh::{ArgsInfo, FromArgs};
use serde_json::json;

use crate::cli::render::printable;
use crate::context::Context;
use crate::desk::arrivals::{
    Arrival, ArrivalKind, FileWatch, Seen, pending, run_notify_command, watched_dirs,
};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Print new messages and tasks as they arrive (a message or file for you, a task waiting
/// for your approval, a task your agent finished), each once, and run
/// messaging.notify_command for each. Driven by file notifications; runs until interrupted
/// or until --count of them were printed.
#[argh(subcommand, name = "watch", help_triggers("-h", "--help"))]
pub(super) struct Watch {
    /// print one JSON object per line (kind, id, from, subject, created, file)
    #[argh(switch)]
    json: bool,
    /// first print what is already unread or waiting for you
    #[argh(switch)]
    existing: bool,
    /// exit after printing this many
    #[argh(option)]
    count: Option<usize>,
    /// whose tasks (default: your agent)
    #[argh(option)]
    agent: Option<String>,
}

impl Watch {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let dirs = watched_dirs(ctx)?;
        if !dirs[0].is_dir() {
            anyhow::bail!(
                "nothing to watch: {} does not exist (run `msg init`)",
                dirs[0].display()
            );
        }
        // Watching starts before the first read, so nothing written after that read is
        // missed: its event is already queued.
        let mut watch = FileWatch::new(&dirs)?;
        let mut out = Announcer {
            json: self.json,
            left: self.count,
            command: ctx.settings().messaging.notify_command.clone(),
            children: Vec::new(),
        };
        let mut seen = Seen::new();
        let now = seen.fresh(pending(ctx, self.agent.as_deref())?);
        if self.existing && !out.announce(&now)? {
            return Ok(());
        }
        while out.left != Some(0) {
            watch.wait(None)?;
            out.reap();
            if !out.announce(&seen.fresh(pending(ctx, self.agent.as_deref())?))? {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Where arrivals go: stdout and the notify command.
struct Announcer {
    json: bool,
    /// How many more may be printed (`--count`).
    left: Option<usize>,
    /// `messaging.notify_command` (empty: none).
    command: Vec<String>,
    /// Notify commands started and not yet reaped.
    children: Vec<Child>,
}

impl Announcer {
    /// Prints each of `arrivals` (up to `--count`) and starts the notify command for it.
    /// `Ok(false)` when the watch is over: the count is reached, or nobody reads stdout.
    fn announce(&mut self, arrivals: &[Arrival]) -> anyhow::Result<bool> {
        for arrival in arrivals {
            if self.left == Some(0) {
                return Ok(false);
            }
            let line = if self.json {
                json!({
                    "kind": arrival.kind.as_str(),
                    "id": arrival.id,
                    "from": arrival.from,
                    "subject": arrival.subject,
                    "created": arrival.created,
                    "file": arrival.file,
                })
                .to_string()
            } else {
                describe(arrival)
            };
            let mut stdout = io::stdout().lock();
            match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return Ok(false),
                other => other?,
            }
            if !self.command.is_empty() {
                match run_notify_command(&self.command, arrival) {
                    Ok(child) => self.children.push(child),
                    Err(err) => eprintln!(
                        "msg watch: cannot run messaging.notify_command ({}): {err}",
                        self.command[0]
                    ),
                }
            }
            if let Some(left) = &mut self.left {
                *left -= 1;
            }
        }
        Ok(self.left != Some(0))
    }

    /// Collects the notify commands that ended, saying which failed.
    fn reap(&mut self) {
        self.children.retain_mut(|child| match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    eprintln!("msg watch: messaging.notify_command exited with {status}");
                }
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
    }
}

/// One line for a person, control characters escaped (a sender's text must not drive the
/// terminal).
fn describe(arrival: &Arrival) -> String {
    let at = arrival.created.as_deref().unwrap_or("");
    let from = printable(&arrival.from);
    let what = match arrival.kind {
        ArrivalKind::Message => format!("message from {from}"),
        ArrivalKind::FileDelivery => format!("file from {from}"),
        ArrivalKind::TaskWaiting => format!("task from {from} waits for your approval"),
        ArrivalKind::TaskDone => "task done, to review".to_owned(),
    };
    let line = format!("{at} {what}: {}  ({})", arrival.subject, arrival.id);
    printable(line.trim_start())
}
