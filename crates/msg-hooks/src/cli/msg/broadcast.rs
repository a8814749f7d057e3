//! `msg broadcast`: one message to a group of contacts.yaml and to named recipients, a copy
//! each in one thread; also what `msg send alice,bob …` does.

use anyhow::anyhow;
use argh::{ArgsInfo, FromArgs};
use msg_store::Priority;

use super::tasks::submitted_text;
use crate::cli::{self, print};
use crate::context::Context;
use crate::desk::broadcast::{Broadcast as Message, Copy, broadcast};
use crate::desk::send::unknown_recipient;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Send one message to several recipients: the members of each --group (defined under
/// `groups:` in contacts.yaml) and each --to. Each gets a copy of its own (its own delivery
/// state in outbox.org; your agent gets a task, through the governor), all in one thread.
#[argh(subcommand, name = "broadcast", help_triggers("-h", "--help"))]
pub(super) struct Broadcast {
    /// the text, one argument (quote it)
    #[argh(positional)]
    text: String,
    /// a group of contacts.yaml (repeatable)
    #[argh(option)]
    group: Vec<String>,
    /// a recipient, or several separated by commas (repeatable): actor IDs or @handles
    #[argh(option)]
    to: Vec<String>,
    /// the message this answers: its ID, or a unique prefix or suffix
    #[argh(option)]
    reply_to: Option<String>,
    /// high, normal (default) or low
    #[argh(option, default = "String::from(\"normal\")")]
    priority: String,
}

impl Broadcast {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        if self.group.is_empty() && self.to.is_empty() {
            return Err(cli::usage("to whom? give --group NAME or --to NAME"));
        }
        let mut to = Vec::new();
        if !self.group.is_empty() {
            let path = ctx.contacts_file()?;
            let book = crate::contacts::load_book(&path)?;
            for group in &self.group {
                to.extend(book.group(group, &path)?);
            }
        }
        to.extend(split_recipients(&self.to));
        send_to_all(ctx, to, self.text, self.reply_to, &self.priority)
    }
}

/// The recipients of `--to a,b --to c` (or `msg send a,b`): each argument split at commas.
pub(super) fn split_recipients(given: &[String]) -> Vec<String> {
    given
        .iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `--priority`.
pub(super) fn priority(given: &str) -> anyhow::Result<Priority> {
    Priority::parse(given)
        .ok_or_else(|| cli::usage(format!("--priority {given:?}: use high, normal or low")))
}

/// Sends the broadcast and prints a line per recipient; exit 1 when a copy was refused.
pub(super) fn send_to_all(
    ctx: &Context,
    to: Vec<String>,
    text: String,
    reply_to: Option<String>,
    priority_given: &str,
) -> anyhow::Result<()> {
    let priority = priority(priority_given)?;
    let copies = broadcast(
        ctx,
        &Message {
            from: ctx.user().to_owned(),
            to,
            content: text,
            reply_to,
            priority,
        },
    )?;
    let mut out = String::new();
    let mut refused = 0;
    for (to, copy) in &copies {
        match copy {
            Copy::Sent(sent) => {
                warn_if_unknown(ctx, to);
                out.push_str(&format!("{} to {to}\n", sent.confirmation()));
            }
            Copy::Task(submitted) => out.push_str(&submitted_text(ctx, submitted)),
            Copy::Refused(err) => {
                refused += 1;
                out.push_str(&format!("[messaging] Not sent to {to}: {err}\n"));
            }
        }
    }
    print(&out)?;
    match refused {
        0 => Ok(()),
        n => Err(anyhow!(
            "{n} of {} recipients refused; the others were sent",
            copies.len()
        )),
    }
}

/// A warning on stderr when `to` is in no contact and no settings entry
/// ([`unknown_recipient`]).
pub(super) fn warn_if_unknown(ctx: &Context, to: &str) {
    if let Some(warning) = unknown_recipient(ctx, to) {
        eprintln!("msg: warning: {warning}");
    }
}
