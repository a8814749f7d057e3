//! Setting up and checking: `msg init`, `msg doctor`, `msg hooks install`, `msg migrate`,
//! and `msg demo`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use argh::{ArgsInfo, FromArgs};
use serde_json::json;

use super::Location;
use crate::cli::{self, json, print};
use crate::context::Context;
use crate::setup::{claude_settings, demo, doctor, init, migrate};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Create what is missing: the settings file (naming you, as owner) and the space (contacts,
/// inbox, outbox, your agent's task file). Nothing that exists is changed.
#[argh(subcommand, name = "init", help_triggers("-h", "--help"))]
pub(super) struct Init {
    /// your name, the sender of your messages (default: $USER)
    #[argh(option)]
    name: Option<String>,
}

impl Init {
    pub(super) fn run(self, at: &Location<'_>) -> anyhow::Result<()> {
        let report = init::init(&at.paths(), at.space, self.name.as_deref())?;
        msg_core::timestamp::init_local_offset(report.context.utc_offset());
        let mut out = String::new();
        for step in &report.steps {
            out.push_str(&step.describe());
            out.push('\n');
        }
        for note in &report.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out.push_str(&format!(
            "You are {}; your agent is {} in space {}.\nNext: `msg hooks install` registers the agent's hook with Claude Code.\nTo reach other machines: set messaging.relay.token (the relay's operator runs `msg-relay token NAME` for you) and, for another relay than the default, messaging.relay.url in the settings, then `msg relay connect`.\n",
            report.context.user(),
            report.context.agent(),
            report.context.space()
        ));
        print(&out)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Check the settings and every messaging file; exit 1 when something must be fixed.
#[argh(subcommand, name = "doctor", help_triggers("-h", "--help"))]
pub(super) struct Doctor {
    /// print JSON
    #[argh(switch)]
    json: bool,
    /// apply the safe fixes (a missing header, undeclared keywords) and show each one
    #[argh(switch)]
    fix: bool,
}

impl Doctor {
    pub(super) fn run(self, at: &Location<'_>) -> anyhow::Result<()> {
        let paths = at.paths();
        let (fixed, failed, mut report) = if self.fix {
            doctor::fix(&paths, at.space)
        } else {
            (Vec::new(), Vec::new(), doctor::check(&paths, at.space))
        };
        report.findings.extend(failed);
        if self.json {
            let mut value = report.to_json();
            if self.fix {
                value["fixed"] = fixed
                    .iter()
                    .map(|f| json!({"file": f.path.display().to_string(), "fix": f.what}))
                    .collect();
            }
            print(&json::to_text(&value))?;
        } else {
            let mut out = String::new();
            for f in &fixed {
                out.push_str(&format!("fixed    {}: {}\n", f.path.display(), f.what));
            }
            if self.fix && fixed.is_empty() {
                out.push_str("nothing to fix safely\n");
            }
            out.push_str(&report.to_text());
            print(&out)?;
        }
        match report.count(doctor::Level::Error) {
            0 => Ok(()),
            1 => Err(anyhow!("1 problem needs fixing")),
            n => Err(anyhow!("{n} problems need fixing")),
        }
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Claude Code integration.
#[argh(subcommand, name = "hooks", help_triggers("-h", "--help"))]
pub(super) struct Hooks {
    #[argh(subcommand)]
    command: HooksCommand,
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum HooksCommand {
    Install(Install),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Register inbox-watcher in Claude Code's settings (UserPromptSubmit and SessionStart),
/// keeping everything else; a changed file is backed up first. Running it again changes
/// nothing.
#[argh(subcommand, name = "install", help_triggers("-h", "--help"))]
struct Install {
    /// the settings file (default: ~/.claude/settings.json)
    #[argh(option)]
    settings: Option<PathBuf>,
    /// the watcher to register (default: inbox-watcher next to this msg)
    #[argh(option)]
    command: Option<PathBuf>,
    /// show the result without writing
    #[argh(switch)]
    dry_run: bool,
}

impl Hooks {
    pub(super) fn run(self) -> anyhow::Result<()> {
        let HooksCommand::Install(install) = self.command;
        let settings = match &install.settings {
            Some(path) => path.clone(),
            None => std::env::home_dir()
                .ok_or_else(|| anyhow!("no home directory: give --settings"))?
                .join(".claude")
                .join("settings.json"),
        };
        let watcher: PathBuf = match &install.command {
            Some(path) => std::path::absolute(path).context("cannot resolve --command")?,
            None => {
                let exe = std::env::current_exe().context("cannot find this program's path")?;
                exe.with_file_name("inbox-watcher")
            }
        };
        if !watcher.is_file() {
            return Err(anyhow!(
                "{} does not exist: install it (`cargo install --path crates/msg-hooks`) or give --command",
                watcher.display()
            ));
        }
        let command = claude_settings::hook_command(&watcher);
        let report = claude_settings::install(&settings, &command, install.dry_run)?;
        let mut out = String::new();
        if install.dry_run {
            out.push_str(&report.text);
        }
        if report.changes.is_empty() && report.changed {
            out.push_str(&format!("created {}\n", report.path.display()));
        }
        for change in &report.changes {
            out.push_str(&format!("{change}\n"));
        }
        if let Some(backup) = &report.backup {
            out.push_str(&format!("backup: {}\n", backup.display()));
        }
        if !report.changed {
            out.push_str(&format!(
                "{} already runs {command}; nothing changed\n",
                report.path.display()
            ));
        } else if install.dry_run {
            out.push_str("(dry run: nothing written)\n");
        } else {
            out.push_str(&format!("wrote {}\n", report.path.display()));
        }
        print(&out)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Move the v0.1.0 files (<space>/org/inboxes/: <you>.org, <you>-claude.org, USERS.yaml)
/// into inbox.org, agents/<you>-claude.org and contacts.yaml. The old files are moved to
/// <space>/org/migration-backup/v0.1.0-<date>/, never deleted; running it again changes
/// nothing.
#[argh(subcommand, name = "migrate", help_triggers("-h", "--help"))]
pub(super) struct Migrate {
    /// print the plan and change nothing
    #[argh(switch)]
    dry_run: bool,
}

impl Migrate {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let report = migrate::migrate(
            ctx,
            migrate::MigrateOptions {
                dry_run: self.dry_run,
            },
        )?;
        let mut out = report.to_text(ctx.paths().root());
        if self.dry_run && !report.plan.is_empty() {
            out.push_str("(dry run: nothing written or moved)\n");
        }
        print(&out)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Watch the whole system work on this machine: a relay, two people (alice and bob, each
/// with a root of their own) and bob's agent. alice sends bob a message and a task for his
/// agent; the governor admits it; the agent sees it, completes it and replies; alice gets
/// the result. Every org file is kept and its path printed. With --root DIR, the two roots
/// are DIR/alice and DIR/bob (DIR must be empty or new); else a new temporary directory.
#[argh(subcommand, name = "demo", help_triggers("-h", "--help"))]
pub(super) struct Demo {}

impl Demo {
    pub(super) fn run(self, at: &Location<'_>) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        demo::run(&exe, at.root, &mut |text: &str| {
            let _ = cli::print_stdout(text);
        })?;
        Ok(())
    }
}
