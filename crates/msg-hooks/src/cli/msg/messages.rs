//! Messages: `msg send`, `inbox`, `show`, `read`, `unread`, `archive`, `unarchive`, `thread`.
//! Every command that changes something prints, with `--json`, what it changed.

use anyhow::anyhow;
use argh::{ArgsInfo, FromArgs};
use msg_store::{Message, MessageState, Priority};
use serde_json::json;

use super::broadcast;
use super::tasks::submitted_text;
use crate::cli::{self, json, print, render};
use crate::context::Context;
use crate::desk::messages::{Found, MarkAction, find_any, mark, replies_to_task};
use crate::desk::send::{Outgoing, send};
use crate::desk::{Submission, TaskDesk};
use crate::trust::verdict::Judge;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Send a message. To your agent (YOU-claude) it becomes a task, through the governor;
/// to yourself it lands in your inbox; to anyone else it waits in outbox.org for the relay.
/// Several recipients separated by commas each get a copy, in one thread (as with
/// `msg broadcast`).
#[argh(subcommand, name = "send", help_triggers("-h", "--help"))]
pub(super) struct Send {
    /// the recipient: an actor ID, or @handle from contacts.yaml; several separated by
    /// commas
    #[argh(positional)]
    to: String,
    /// the text, one argument (quote it)
    #[argh(positional)]
    text: String,
    /// the message this answers: its ID, or a unique prefix or suffix
    #[argh(option)]
    reply_to: Option<String>,
    /// high, normal (default) or low
    #[argh(option, default = "String::from(\"normal\")")]
    priority: String,
    /// print JSON: the message as written and where it went (to your agent: the task)
    #[argh(switch)]
    json: bool,
}

impl Send {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        if self.to.contains(',') {
            let to = broadcast::split_recipients(std::slice::from_ref(&self.to));
            return broadcast::send_to_all(ctx, to, self.text, self.reply_to, &self.priority);
        }
        let priority = broadcast::priority(&self.priority)?;
        let to = ctx.recipient(&self.to)?;
        if to == ctx.agent() {
            if self.reply_to.is_some() || priority != Priority::Normal {
                return Err(cli::usage(
                    "a message to your agent becomes a task: --reply-to and --priority do not apply",
                ));
            }
            let submitted = TaskDesk::open(ctx, None)?.submit(&Submission {
                from: ctx.user().to_owned(),
                text: self.text,
                tags: vec!["AI".into()],
                ..Submission::default()
            })?;
            if self.json {
                return print(&json::to_text(&json::submitted(&submitted)));
            }
            return print(&submitted_text(ctx, &submitted));
        }
        let sent = send(
            ctx,
            &Outgoing {
                thread: None,
                from: ctx.user().to_owned(),
                to: to.clone(),
                content: self.text,
                reply_to: self.reply_to,
                priority,
            },
            None,
        )?;
        broadcast::warn_if_unknown(ctx, &to);
        if self.json {
            return print(&json::to_text(&json::sent(&sent)));
        }
        print(&format!("{}\n", sent.confirmation()))
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// List the messages in your inbox (not archived ones, unless --all).
#[argh(subcommand, name = "inbox", help_triggers("-h", "--help"))]
pub(super) struct Inbox {
    /// only unread messages
    #[argh(switch)]
    unread: bool,
    /// only messages from this actor
    #[argh(option)]
    from: Option<String>,
    /// archived messages too
    #[argh(switch)]
    all: bool,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Inbox {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let messages: Vec<Message> = match ctx.existing_store()? {
            Some(store) => store.all()?,
            None => Vec::new(),
        };
        let messages: Vec<Message> = messages
            .into_iter()
            .filter(|m| self.all || m.state != MessageState::Archived)
            .filter(|m| !self.unread || m.is_unread())
            .filter(|m| self.from.as_ref().is_none_or(|from| &m.from == from))
            .collect();
        if self.json {
            return print(&json::to_text(&json::messages(&messages)));
        }
        print(&render::message_list(&messages))
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Show one message (received or sent) or task in full.
#[argh(subcommand, name = "show", help_triggers("-h", "--help"))]
pub(super) struct Show {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: String,
    /// whose tasks to search (default: your agent)
    #[argh(option)]
    agent: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Show {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let found = find_any(ctx, self.agent.as_deref(), &self.id)?;
        let agent = self.agent.as_deref().unwrap_or(ctx.agent());
        match found {
            Found::Received(message) if self.json => {
                let mut value = json::message(&message);
                value["signature"]["tier_withheld"] =
                    serde_json::json!(Judge::load(ctx).withheld(&message));
                print(&json::to_text(&value))
            }
            Found::Sent(message) if self.json => print(&json::to_text(&json::message(&message))),
            Found::Received(message) => {
                let mut text = render::message_detail(&message, "received");
                if let Some(reason) = Judge::load(ctx).withheld(&message) {
                    // Said before the text: the person decides what to do with the message
                    // knowing it.
                    let at = text.find("\n\n").unwrap_or(text.len());
                    text.insert_str(
                        at,
                        &format!("\n  COUNTS AS TIER unknown: {}", render::printable(&reason)),
                    );
                }
                print(&text)
            }
            Found::Sent(message) => print(&render::message_detail(&message, "sent")),
            Found::Task(task) => {
                let replies = match ctx.existing_store()? {
                    Some(store) => replies_to_task(&store, task.id())?,
                    None => Vec::new(),
                };
                if self.json {
                    let mut value = json::task(&task);
                    value["agent"] = json!(agent);
                    value["replies"] = json!(replies);
                    return print(&json::to_text(&value));
                }
                print(&render::task_detail(&task, agent, &replies))
            }
        }
    }
}

/// `msg read|unread|archive|unarchive ID`: `action` on the inbox message `given`; with
/// `json`, the message as it is now.
fn mark_message(ctx: &Context, given: &str, action: MarkAction, json: bool) -> anyhow::Result<()> {
    let message = mark(&ctx.store()?, given, action)?;
    if json {
        return print(&json::to_text(&json::message(&message)));
    }
    print(&format!("{}\n", action.confirmation(&message.id)))
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Mark a message read, or every unread one (--all).
#[argh(subcommand, name = "read", help_triggers("-h", "--help"))]
pub(super) struct Read {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: Option<String>,
    /// every unread message and file delivery, in one write
    #[argh(switch)]
    all: bool,
    /// print JSON: the message as it is now (with --all: the IDs marked read)
    #[argh(switch)]
    json: bool,
}

impl Read {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match (self.id, self.all) {
            (Some(id), false) => mark_message(ctx, &id, MarkAction::Read, self.json),
            (None, true) => {
                let marked = match ctx.existing_store()? {
                    Some(store) => store.mark_all_read()?,
                    None => Vec::new(),
                };
                if self.json {
                    return print(&json::to_text(&json!({ "marked_read": marked })));
                }
                print(&format!(
                    "[messaging] Marked read: {}\n",
                    msg_core::figures::counted(marked.len(), "message", "messages")
                ))
            }
            (Some(_), true) => Err(cli::usage("give a message ID or --all, not both")),
            (None, false) => Err(cli::usage(
                "which message? give its ID (or a unique prefix or suffix), or --all",
            )),
        }
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Mark a message unread again.
#[argh(subcommand, name = "unread", help_triggers("-h", "--help"))]
pub(super) struct Unread {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: String,
    /// print JSON: the message as it is now
    #[argh(switch)]
    json: bool,
}

impl Unread {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        mark_message(ctx, &self.id, MarkAction::Unread, self.json)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Archive a message.
#[argh(subcommand, name = "archive", help_triggers("-h", "--help"))]
pub(super) struct Archive {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: String,
    /// print JSON: the message as it is now
    #[argh(switch)]
    json: bool,
}

impl Archive {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        mark_message(ctx, &self.id, MarkAction::Archive, self.json)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Take a message out of the archive: ARCHIVED → read.
#[argh(subcommand, name = "unarchive", help_triggers("-h", "--help"))]
pub(super) struct Unarchive {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    id: String,
    /// print JSON: the message as it is now
    #[argh(switch)]
    json: bool,
}

impl Unarchive {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        mark_message(ctx, &self.id, MarkAction::Unarchive, self.json)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Show the conversation a message belongs to, received and sent, in order.
#[argh(subcommand, name = "thread", help_triggers("-h", "--help"))]
pub(super) struct Thread {
    /// any message of the thread: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Thread {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let message = match find_any(ctx, None, &self.id)? {
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
        if self.json {
            return print(&json::to_text(&json!({
                "root": root,
                "messages": json::messages(&messages),
            })));
        }
        print(&render::thread_text(&root, &messages, ctx.user()))
    }
}
