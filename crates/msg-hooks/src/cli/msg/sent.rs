//! What you sent: `msg sent` (the outbox with each message's delivery state) and `msg resend`
//! (a failed message goes back to pending, for the relay connection to send again).

use argh::{ArgsInfo, FromArgs};

use crate::cli::{json, print, render};
use crate::context::Context;
use crate::desk::lookup;

#[derive(FromArgs, ArgsInfo, Debug)]
/// List what you sent (outbox.org), each with its delivery state: pending (waiting for the
/// relay connection, with the last attempt's error if any), queued (the relay holds it for
/// an offline recipient), delivered, or failed with the reason.
#[argh(subcommand, name = "sent", help_triggers("-h", "--help"))]
pub(super) struct Sent {
    /// only the messages that failed
    #[argh(switch)]
    failed: bool,
    /// only messages to this actor
    #[argh(option)]
    to: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Sent {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let to = self.to.as_deref().map(|to| ctx.recipient(to)).transpose()?;
        let sent = match ctx.existing_store()? {
            Some(store) => store.sent()?,
            None => Vec::new(),
        };
        let sent: Vec<msg_store::Message> = sent
            .into_iter()
            .filter(|m| !self.failed || m.property("DELIVERY") == Some("failed"))
            .filter(|m| to.as_ref().is_none_or(|to| m.to.as_ref() == Some(to)))
            .collect();
        if self.json {
            return print(&json::to_text(&json::messages(&sent)));
        }
        print(&render::sent_list(&sent))
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Send a failed message again: it becomes pending, and the relay connection (`msg relay
/// connect`) sends it at its next look at the outbox.
#[argh(subcommand, name = "resend", help_triggers("-h", "--help"))]
pub(super) struct Resend {
    /// the sent message: its ID, or a unique prefix or suffix
    #[argh(positional)]
    id: String,
}

impl Resend {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let store = ctx.store()?;
        let sent = store.sent()?;
        let id = lookup::resolve(
            &self.id,
            sent.iter().map(|m| m.id.as_str()),
            "sent message",
            store.outbox_path(),
        )?;
        let message = store.resend(&id)?;
        print(&format!(
            "[messaging] Resending {} to {}: pending delivery by the relay\n",
            message.id,
            message.to.as_deref().unwrap_or("?")
        ))
    }
}
