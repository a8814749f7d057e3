//! What each subcommand does: call the library, print the result.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use msg_core::figures::grouped;
use msg_core::paths::Paths;
use msg_hooks::migrate;
use msg_hooks::{
    Context, Found, Outgoing, Submission, TaskDesk, claude_settings, cli, contacts, doctor, init,
    json, relay_client, render,
};
use msg_inbox::{Task, TaskState};
use msg_store::{Message, MessageState, Priority};
use serde_json::json;

use crate::args::{self, Cli, Command, HooksCommand, TaskCommand};

/// Prints `text` to stdout (a closed pipe is fine).
fn print(text: &str) -> anyhow::Result<()> {
    cli::print_stdout(text).context("cannot write to stdout")
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    let root = cli.root.as_deref();
    let space = cli.space.as_deref();
    // init and doctor work without loadable settings; every other command needs them.
    match &cli.command {
        Command::Init(args) => return init_space(root, space, args),
        Command::Doctor(args) => return doctor_report(root, space, args),
        Command::Hooks(args) => return hooks(args),
        Command::Demo(_) => return crate::demo::run(root),
        _ => {}
    }
    let ctx = Context::load(root, space)?;
    // Before anything could start a thread (msg-core's timestamp rules).
    msg_core::timestamp::init_local_offset(ctx.utc_offset());
    if let Some((action, id)) = args::mark_action(&cli.command) {
        let message = msg_hooks::mark(&ctx.store()?, id, action)?;
        return print(&format!("{}\n", action.confirmation(&message.id)));
    }
    match cli.command {
        Command::Send(args) => send(&ctx, args),
        Command::Inbox(args) => inbox(&ctx, &args),
        Command::Show(args) => show(&ctx, &args),
        Command::Thread(args) => thread(&ctx, &args),
        Command::Tasks(args) => tasks(&ctx, &args),
        Command::Task(args) => task(&ctx, args),
        Command::Usage(args) => usage(&ctx, &args),
        Command::Contacts(args) => contacts_list(&ctx, &args),
        Command::Migrate(args) => migrate(&ctx, &args),
        Command::Relay(args) => relay(ctx, &args),
        Command::Intake(args) => intake(&ctx, &args),
        Command::Read(_)
        | Command::Unread(_)
        | Command::Archive(_)
        | Command::Init(_)
        | Command::Doctor(_)
        | Command::Hooks(_)
        | Command::Demo(_) => unreachable!("handled above"),
    }
}

fn send(ctx: &Context, args: args::Send) -> anyhow::Result<()> {
    let priority = Priority::parse(&args.priority).ok_or_else(|| {
        cli::usage(format!(
            "--priority {:?}: use high, normal or low",
            args.priority
        ))
    })?;
    let mut args = args;
    args.to = contacts::recipient(ctx, &args.to)?;
    if args.to == ctx.agent() {
        if args.reply_to.is_some() || priority != Priority::Normal {
            return Err(cli::usage(
                "a message to your agent becomes a task: --reply-to and --priority do not apply",
            ));
        }
        let submitted = TaskDesk::open(ctx, None)?.submit(&Submission {
            from: ctx.user().to_owned(),
            text: args.text,
            tags: vec!["AI".into()],
            ..Submission::default()
        })?;
        return print(&submitted_text(ctx, &submitted));
    }
    let sent = msg_hooks::send(
        ctx,
        &Outgoing {
            from: ctx.user().to_owned(),
            to: args.to,
            content: args.text,
            reply_to: args.reply_to,
            priority,
        },
        None,
    )?;
    print(&format!("{}\n", sent.confirmation()))
}

fn inbox(ctx: &Context, args: &args::Inbox) -> anyhow::Result<()> {
    let messages: Vec<Message> = match ctx.existing_store()? {
        Some(store) => store.all()?,
        None => Vec::new(),
    };
    let messages: Vec<Message> = messages
        .into_iter()
        .filter(|m| args.all || m.state != MessageState::Archived)
        .filter(|m| !args.unread || m.is_unread())
        .filter(|m| args.from.as_ref().is_none_or(|from| &m.from == from))
        .collect();
    if args.json {
        return print(&json::to_text(&json::messages(&messages)));
    }
    print(&render::message_list(&messages))
}

fn show(ctx: &Context, args: &args::Show) -> anyhow::Result<()> {
    let found = msg_hooks::find_any(ctx, args.agent.as_deref(), &args.id)?;
    let agent = args.agent.as_deref().unwrap_or(ctx.agent());
    match found {
        Found::Received(message) | Found::Sent(message) if args.json => {
            print(&json::to_text(&json::message(&message)))
        }
        Found::Received(message) => print(&render::message_detail(&message, "received")),
        Found::Sent(message) => print(&render::message_detail(&message, "sent")),
        Found::Task(task) => {
            let replies = match ctx.existing_store()? {
                Some(store) => msg_hooks::replies_to_task(&store, task.id())?,
                None => Vec::new(),
            };
            if args.json {
                let mut value = json::task(&task);
                value["agent"] = json!(agent);
                value["replies"] = json!(replies);
                return print(&json::to_text(&value));
            }
            print(&render::task_detail(&task, agent, &replies))
        }
    }
}

fn thread(ctx: &Context, args: &args::Thread) -> anyhow::Result<()> {
    let found = msg_hooks::find_any(ctx, None, &args.id)?;
    let message = match found {
        Found::Received(message) | Found::Sent(message) => message,
        Found::Task(task) => {
            return Err(anyhow!(
                "{} is a task, not a message; `msg show {}` shows it",
                task.id(),
                task.id()
            ));
        }
    };
    let root = message.thread_root().to_owned();
    let messages = ctx.store()?.thread(&root)?;
    if args.json {
        return print(&json::to_text(&json!({
            "root": root,
            "messages": json::messages(&messages),
        })));
    }
    print(&render::thread_text(&root, &messages, ctx.user()))
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

fn tasks(ctx: &Context, args: &args::Tasks) -> anyhow::Result<()> {
    let wanted = states(&args.state)?;
    let tasks: Vec<Task> = match ctx.existing_agent_inbox(args.agent.as_deref())? {
        Some(inbox) => inbox.tasks()?,
        None => Vec::new(),
    };
    let tasks: Vec<Task> = tasks
        .into_iter()
        .filter(|t| wanted.is_empty() || wanted.contains(&t.state()))
        .collect();
    if args.json {
        return print(&json::to_text(&json::tasks(&tasks)));
    }
    print(&render::task_list(&tasks))
}

fn submitted_text(ctx: &Context, submitted: &msg_hooks::Submitted) -> String {
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

fn task(ctx: &Context, args: args::TaskCmd) -> anyhow::Result<()> {
    let desk = TaskDesk::open(ctx, args.agent.as_deref())?;
    let with_note = |line: String, note: Option<msg_hooks::GovernorNote>| {
        let mut out = format!("[messaging] {line}\n");
        if let Some(note) = note.as_ref().and_then(render::governor_note) {
            out.push_str(&note);
            out.push('\n');
        }
        out
    };
    let out = match args.command {
        TaskCommand::Submit(args) => {
            let submitted = desk.submit(&Submission {
                from: args.from.unwrap_or_else(|| ctx.user().to_owned()),
                text: args.text,
                tags: if args.tag.is_empty() {
                    vec!["AI".into()]
                } else {
                    args.tag
                },
                effort: args.effort,
                estimated_tokens: args.tokens,
            })?;
            submitted_text(ctx, &submitted)
        }
        TaskCommand::Approve(args) => {
            with_note(format!("Approved: {}", desk.approve(&args.id)?.id()), None)
        }
        TaskCommand::Reject(args) => {
            let (task, note) = desk.reject(&args.id, &args.reason)?;
            with_note(format!("Rejected: {}", task.id()), Some(note))
        }
        TaskCommand::Cancel(args) => {
            let (task, note) = desk.cancel(&args.id, &args.reason)?;
            with_note(format!("Cancelled: {}", task.id()), Some(note))
        }
        TaskCommand::Claim(args) => match desk.claim(args.id.as_deref())? {
            Some(task) => with_note(format!("Claimed: {} ({})", task.id(), task.title()), None),
            None => "[messaging] Nothing is queued.\n".to_owned(),
        },
        TaskCommand::Complete(args) => {
            let (task, note) = desk.complete(&args.id, args.tokens, &args.cost, &args.result)?;
            with_note(format!("Completed: {}", task.id()), Some(note))
        }
        TaskCommand::Retry(args) => with_note(
            format!("Re-queued: {}", desk.retry(&args.id, &args.reason)?.id()),
            None,
        ),
        TaskCommand::Revise(args) => with_note(
            format!(
                "Revision requested: {}",
                desk.revise(&args.id, &args.feedback)?.id()
            ),
            None,
        ),
        TaskCommand::Accept(args) => {
            with_note(format!("Accepted: {}", desk.accept(&args.id)?.id()), None)
        }
    };
    print(&out)
}

fn usage(ctx: &Context, args: &args::Usage) -> anyhow::Result<()> {
    let governor = ctx.governor()?;
    if let Some(explain) = &args.explain {
        let explanation = governor.explain(&explain.actor, explain.tokens, explain.effort)?;
        if explain.json || args.json {
            return print(&json::to_text(&json::explanation(&explanation)));
        }
        return print(&explanation.to_string());
    }
    if let Some(actor) = &args.actor {
        let usage = governor.usage(actor)?;
        if args.json {
            return print(&json::to_text(&json::usage(&usage)));
        }
        let limit = match usage.tier.daily_token_limit {
            0 => "unlimited".to_owned(),
            limit => grouped(limit),
        };
        let mut out = format!(
            "{} (tier {}), {}:\n  tokens: {} used + {} reserved of {limit}{}\n  tasks: {} today, {} in the last hour, {} active\n",
            usage.actor,
            usage.trust_tier,
            usage.date,
            grouped(usage.tokens_used),
            grouped(usage.tokens_reserved),
            usage
                .tokens_remaining()
                .map(|left| format!(" ({} left)", grouped(left)))
                .unwrap_or_default(),
            usage.tasks_today,
            usage.tasks_this_hour,
            usage.active.len(),
        );
        for admission in &usage.active {
            out.push_str(&format!("  {admission}\n"));
        }
        return print(&out);
    }
    let summary = governor.daily_summary()?;
    let active = governor.active_admissions()?;
    if args.json {
        return print(&json::to_text(&json::summary(&summary, &active)));
    }
    let mut out = summary.to_string();
    if !active.is_empty() {
        out.push_str("Active admissions:\n");
        for admission in &active {
            out.push_str(&format!("  {admission}\n"));
        }
    }
    print(&out)
}

fn contacts_list(ctx: &Context, args: &args::Contacts) -> anyhow::Result<()> {
    let rows = contacts::listing(ctx)?;
    if args.json {
        return print(&json::to_text(&json::contacts(&rows)));
    }
    print(&render::contact_list(
        &rows,
        &ctx.paths().contacts_file(ctx.space())?,
    ))
}

fn init_space(
    root: Option<&std::path::Path>,
    space: Option<&str>,
    args: &args::Init,
) -> anyhow::Result<()> {
    let paths = root.map_or_else(Paths::from_env, Paths::new);
    let report = init::init(&paths, space, args.name.as_deref())?;
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
        "You are {}; your agent is {} in space {}. Next: `msg hooks install` registers the agent's hook with Claude Code.\n",
        report.context.user(),
        report.context.agent(),
        report.context.space()
    ));
    print(&out)
}

fn doctor_report(
    root: Option<&std::path::Path>,
    space: Option<&str>,
    args: &args::Doctor,
) -> anyhow::Result<()> {
    let paths = root.map_or_else(Paths::from_env, Paths::new);
    let (fixed, failed, mut report) = if args.fix {
        doctor::fix(&paths, space)
    } else {
        (Vec::new(), Vec::new(), doctor::check(&paths, space))
    };
    report.findings.extend(failed);
    if args.json {
        let mut value = report.to_json();
        if args.fix {
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
        if args.fix && fixed.is_empty() {
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

fn hooks(args: &args::Hooks) -> anyhow::Result<()> {
    let HooksCommand::Install(install) = &args.command;
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

fn migrate(ctx: &Context, args: &args::Migrate) -> anyhow::Result<()> {
    let report = migrate::migrate(
        ctx,
        migrate::MigrateOptions {
            dry_run: args.dry_run,
        },
    )?;
    let mut out = report.to_text(ctx.paths().root());
    if args.dry_run && !report.plan.is_empty() {
        out.push_str("(dry run: nothing written or moved)\n");
    }
    print(&out)
}

/// Prints one line at once (the relay client's narrative); a closed pipe is ignored.
fn say(line: &str) {
    let _ = cli::print_stdout(&format!("{line}\n"));
}

fn relay(ctx: Context, args: &args::Relay) -> anyhow::Result<()> {
    let args::RelayCommand::Connect(connect) = &args.command;
    let options = relay_client::ConnectOptions {
        once: connect.once,
        timeout: std::time::Duration::from_secs(connect.timeout.max(1)),
        ..relay_client::ConnectOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime.block_on(async move {
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        // In the foreground, Ctrl-C closes the connections cleanly; a `--once` run keeps the
        // default (the process ends at once, which loses nothing: every write is atomic and
        // a message not yet acknowledged is delivered again).
        if !options.once {
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    say("[relay] stopping (Ctrl-C)");
                    let _ = stop.send(true);
                }
            });
        }
        relay_client::connect(ctx, options, std::sync::Arc::new(say), shutdown).await
    })?;
    say(&format!("[relay] done: {summary}"));
    Ok(())
}

fn intake(ctx: &Context, args: &args::Intake) -> anyhow::Result<()> {
    let outcomes = msg_hooks::intake::run(ctx)?;
    if args.json {
        let list: Vec<serde_json::Value> = outcomes
            .iter()
            .map(msg_hooks::intake::IntakeOutcome::to_json)
            .collect();
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
