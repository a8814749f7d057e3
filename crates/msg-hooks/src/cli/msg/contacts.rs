//! `msg contacts`: the space's contacts and the trust tier each has; `msg contacts add`,
//! `remove` and `trust` change `contacts.yaml` line by line, keeping comments and order.

use argh::{ArgsInfo, FromArgs};

use crate::cli::{json, print, render};
use crate::contacts::update::{self, NewContact};
use crate::context::Context;

#[derive(FromArgs, ArgsInfo, Debug)]
/// List the space's contacts (contacts.yaml) with their handles and the trust tier each has
/// (the settings' override, else the one noted in contacts.yaml), then the groups; or
/// change them.
#[argh(subcommand, name = "contacts", help_triggers("-h", "--help"))]
pub(super) struct Contacts {
    /// print JSON
    #[argh(switch)]
    json: bool,
    #[argh(subcommand)]
    command: Option<ContactsCommand>,
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum ContactsCommand {
    Add(Add),
    Remove(Remove),
    Trust(Trust),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Add an actor to contacts.yaml (created from the template when missing); the rest of the
/// file stays as it is.
#[argh(subcommand, name = "add", help_triggers("-h", "--help"))]
struct Add {
    /// the actor ID messages use (alice, tex@team.example.com)
    #[argh(positional)]
    id: String,
    /// another name for the actor in commands, e.g. @tex (repeatable)
    #[argh(option)]
    handle: Vec<String>,
    /// the trust tier to note (owner, team, trusted, unknown, or one the settings define)
    #[argh(option)]
    tier: Option<String>,
    /// a display name
    #[argh(option)]
    name: Option<String>,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Remove an actor from contacts.yaml; the rest of the file stays as it is.
#[argh(subcommand, name = "remove", help_triggers("-h", "--help"))]
struct Remove {
    /// the actor: its ID or @handle
    #[argh(positional)]
    id: String,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Note an actor's trust tier in contacts.yaml (a tier under messaging.trust_overrides in
/// the settings still wins).
#[argh(subcommand, name = "trust", help_triggers("-h", "--help"))]
struct Trust {
    /// the actor: its ID or @handle
    #[argh(positional)]
    id: String,
    /// the tier: owner, team, trusted, unknown, or one the settings define
    #[argh(positional)]
    tier: String,
}

impl Contacts {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let path = ctx.contacts_file()?;
        let tiers = ctx.settings().tier_names();
        let Some(command) = self.command else {
            let (rows, book) = ctx.contact_rows()?;
            if self.json {
                return print(&json::to_text(&json::contacts(&rows)));
            }
            return print(&render::contact_list(&rows, &book.groups, &path));
        };
        let out = match command {
            ContactsCommand::Add(add) => {
                let contact = update::add(
                    &path,
                    &NewContact {
                        id: add.id,
                        name: add.name,
                        handles: add.handle,
                        tier: add.tier,
                        added: msg_core::timestamp::now_local().date().to_string(),
                    },
                    &tiers,
                )?;
                format!(
                    "[messaging] Added {} to {}{}\n",
                    contact.id,
                    path.display(),
                    overridden(ctx, &contact.id)
                )
            }
            ContactsCommand::Remove(remove) => {
                let contact = update::remove(&path, &remove.id)?;
                let (_, book) = ctx.contact_rows()?;
                let member_of: Vec<&str> = book
                    .groups
                    .iter()
                    .filter(|(_, members)| {
                        members
                            .iter()
                            .any(|m| m == &contact.id || contact.handles.contains(m))
                    })
                    .map(|(name, _)| name.as_str())
                    .collect();
                let mut out = format!(
                    "[messaging] Removed {} from {}\n",
                    contact.id,
                    path.display()
                );
                if !member_of.is_empty() {
                    out.push_str(&format!(
                        "[messaging] It is still a member of group {} (edit `groups:` to change that)\n",
                        member_of.join(", ")
                    ));
                }
                out
            }
            ContactsCommand::Trust(trust) => {
                let contact = update::set_tier(&path, &trust.id, &trust.tier, &tiers)?;
                format!(
                    "[messaging] {} is noted as {} in {}{}\n",
                    contact.id,
                    trust.tier,
                    path.display(),
                    overridden(ctx, &contact.id)
                )
            }
        };
        print(&out)
    }
}

/// A note when the settings give `id` a tier, which wins over what contacts.yaml notes.
fn overridden(ctx: &Context, id: &str) -> String {
    match ctx.settings().messaging.trust_overrides.get(id) {
        Some(tier) => format!(
            "\n[messaging] Note: messaging.trust_overrides in the settings gives {id} the tier {tier}, which is what counts; remove that entry to use the one noted here"
        ),
        None => String::new(),
    }
}
