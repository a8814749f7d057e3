//! `msg contacts`: the space's contacts, the trust tier each has and the state of its keys;
//! `msg contacts add` (with `--key`), `remove` and `trust` change `contacts.yaml` line by
//! line, keeping comments and order; `msg contacts verify` is in `verify.rs`.

use argh::{ArgsInfo, FromArgs};

use serde_json::json;

use super::verify::Verify;
use crate::cli::{json, print, render, usage};
use crate::contacts::update::{self, NewContact};
use crate::contacts::{ContactBook, ContactRow};
use crate::context::Context;
use crate::trust::keys::PublicKeys;
use crate::trust::pinning::{self, Pinned};
use crate::trust::pins::contact_keys;

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
    Verify(Verify),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Add an actor to contacts.yaml (created from the template when missing); the rest of the
/// file stays as it is. With --key, pin its keys (also for an actor already listed): not
/// confirmed until `msg contacts verify`.
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
    /// the actor's key card (dck1.…, from their `msg keys show`)
    #[argh(option)]
    key: Option<String>,
    /// replace other keys pinned for the actor (after confirming the new ones with them)
    #[argh(switch)]
    replace: bool,
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
                return print(&json::to_text(&keys_json(
                    json::contacts(&rows),
                    &rows,
                    &book,
                )));
            }
            return print(&render::contact_list(
                &with_keys(rows, &book),
                &book.groups,
                &path,
            ));
        };
        let out = match command {
            ContactsCommand::Add(add) => add.run(ctx, &path, &tiers)?,
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
            ContactsCommand::Verify(verify) => return verify.run(&path),
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

impl Add {
    fn run(
        self,
        ctx: &Context,
        path: &std::path::Path,
        tiers: &[String],
    ) -> anyhow::Result<String> {
        let keys = self.key.as_deref().map(PublicKeys::from_card).transpose()?;
        let book = crate::contacts::load_book(path)?;
        let listed = crate::contacts::resolve(&book.actors, &self.id, path)
            .ok()
            .filter(|id| book.actor(id).is_some());
        if let (Some(id), Some(keys)) = (&listed, &keys) {
            if self.tier.is_some() || !self.handle.is_empty() || self.name.is_some() {
                return Err(usage(format!(
                    "{id} is already in {}: `--key` alone pins its keys (`msg contacts trust {id} TIER` notes a tier)",
                    path.display()
                )));
            }
            let fingerprint = keys.fingerprint();
            return Ok(match pinning::pin(path, id, keys, self.replace)? {
                Pinned::Same => format!(
                    "[messaging] {id} already has the key {fingerprint} in {}; nothing changed\n",
                    path.display()
                ),
                Pinned::New => format!(
                    "[messaging] Pinned the key {fingerprint} for {id} in {}\n{}",
                    path.display(),
                    unconfirmed(id)
                ),
                Pinned::Replaced { old } => format!(
                    "[messaging] Replaced the key {old} of {id} with {fingerprint} in {}\n{}",
                    path.display(),
                    unconfirmed(id)
                ),
            });
        }
        if self.replace && keys.is_none() {
            return Err(usage("--replace goes with --key: the keys to pin instead"));
        }
        let contact = update::add(
            path,
            &NewContact {
                id: self.id,
                name: self.name,
                handles: self.handle,
                tier: self.tier,
                added: msg_core::timestamp::now_local().date().to_string(),
                keys: keys
                    .as_ref()
                    .map(|keys| (keys.signing_text(), keys.encryption_text())),
            },
            tiers,
        )?;
        let mut out = format!(
            "[messaging] Added {} to {}{}\n",
            contact.id,
            path.display(),
            overridden(ctx, &contact.id)
        );
        if let Some(keys) = keys {
            out.push_str(&format!(
                "[messaging] with the key {}\n{}",
                keys.fingerprint(),
                unconfirmed(&contact.id)
            ));
        }
        Ok(out)
    }
}

/// What to do next with keys pinned but not confirmed.
fn unconfirmed(id: &str) -> String {
    format!(
        "[messaging] Not confirmed yet: compare the fingerprint with the one {id} reads you from `msg keys show`, then `msg contacts verify {id}`\n"
    )
}

/// What `contacts.yaml` pins for `id`: `(fingerprint, confirmed on)`, or why the keys
/// written cannot be used; `None` without keys.
fn key_state(book: &ContactBook, id: &str) -> Option<Result<(String, Option<String>), String>> {
    let contact = book.actor(id)?;
    let keys = contact_keys(contact)?;
    Some(keys.map(|keys| {
        (
            keys.fingerprint(),
            contact
                .key_verified
                .clone()
                .filter(|v| !v.trim().is_empty()),
        )
    }))
}

/// The rows with a note on each actor's keys.
fn with_keys(mut rows: Vec<ContactRow>, book: &ContactBook) -> Vec<ContactRow> {
    for row in &mut rows {
        row.key_note = key_state(book, &row.id).map(|state| match state {
            Ok((fingerprint, Some(on))) => format!("key {fingerprint}, confirmed {on}"),
            Ok((fingerprint, None)) => format!("key {fingerprint}, not confirmed"),
            Err(reason) => format!("keys unusable: {reason}"),
        });
    }
    rows
}

/// The JSON of the rows with each actor's `key`: `{fingerprint, verified, problem}`, or
/// `null` without keys.
fn keys_json(
    mut list: serde_json::Value,
    rows: &[ContactRow],
    book: &ContactBook,
) -> serde_json::Value {
    if let Some(items) = list.as_array_mut() {
        for (item, row) in items.iter_mut().zip(rows) {
            item["key"] = match key_state(book, &row.id) {
                None => serde_json::Value::Null,
                Some(Ok((fingerprint, on))) => {
                    json!({"fingerprint": fingerprint, "verified": on, "problem": null})
                }
                Some(Err(reason)) => {
                    json!({"fingerprint": null, "verified": null, "problem": reason})
                }
            };
        }
    }
    list
}
