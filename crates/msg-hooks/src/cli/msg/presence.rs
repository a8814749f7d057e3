//! `msg presence`: who of your contacts is online, as the relay client last heard it
//! ([`crate::relay_client::presence`]).

use argh::{ArgsInfo, FromArgs};
use serde_json::json;

use crate::cli::{json, print};
use crate::context::Context;
use crate::relay_client::presence::{self, Presence};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Show who of your contacts is online, as the relay client (`msg relay connect`) last
/// heard it; nobody's presence is known while no client runs.
#[argh(subcommand, name = "presence", help_triggers("-h", "--help"))]
pub(super) struct PresenceCmd {
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl PresenceCmd {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let presence = presence::read(ctx)?;
        if self.json {
            return print(&json::to_text(&to_json(&presence)));
        }
        print(&text(&presence))
    }
}

fn to_json(presence: &Presence) -> serde_json::Value {
    json!({
        "client_running": presence.client_running,
        "connected": presence.connected,
        "updated": presence.updated,
        "contacts": presence.people.iter().map(|p| json!({
            "name": p.name,
            "status": p.status,
            "online": p.online(),
            "since": p.since,
        })).collect::<Vec<_>>(),
    })
}

fn text(presence: &Presence) -> String {
    let width = presence
        .people
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for person in &presence.people {
        let since = person
            .since
            .as_deref()
            .map(|s| format!("  since {s}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:width$}  {}{since}\n",
            person.name, person.status
        ));
    }
    if presence.people.is_empty() {
        out.push_str("No contacts (contacts.yaml) to watch.\n");
    }
    out.push_str(if !presence.client_running {
        "The relay client is not running: `msg relay connect` watches your contacts' presence.\n"
    } else if !presence.connected {
        "The relay client is not connected to the relay now (it reconnects by itself).\n"
    } else {
        "As the relay client heard it.\n"
    });
    out
}
