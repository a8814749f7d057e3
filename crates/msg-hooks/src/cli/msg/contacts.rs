//! `msg contacts`: the space's contacts and the trust tier each has.

use argh::FromArgs;

use crate::cli::{json, print, render};
use crate::context::Context;

#[derive(FromArgs, Debug)]
/// List the space's contacts (contacts.yaml) and the trust tier each has (the settings'
/// override, else the one noted in contacts.yaml).
#[argh(subcommand, name = "contacts", help_triggers("-h", "--help"))]
pub(super) struct Contacts {
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Contacts {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let rows = ctx.contact_rows()?;
        if self.json {
            return print(&json::to_text(&json::contacts(&rows)));
        }
        print(&render::contact_list(
            &rows,
            &ctx.paths().contacts_file(ctx.space())?,
        ))
    }
}
