//! `msg contacts verify ID`: the fingerprint of the keys pinned for a contact, to compare
//! with the one they read from their `msg keys show`, and the person's confirmation recorded
//! (`key_verified` in `contacts.yaml`): from then on only messages signed with those keys
//! get the contact's tier.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use argh::{ArgsInfo, FromArgs};
use serde_json::json;

use crate::cli::{json, print};
use crate::error::TrustError;
use crate::trust::pinning;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Confirm a contact's keys: show the fingerprint of the keys pinned for them, to compare
/// with the one they read you from `msg keys show`, and record that you did. On a terminal
/// it asks; elsewhere give the fingerprint they read you with --fingerprint.
#[argh(subcommand, name = "verify", help_triggers("-h", "--help"))]
pub(super) struct Verify {
    /// the actor: its ID or @handle
    #[argh(positional)]
    id: String,
    /// the fingerprint the contact read you (spaces and case do not matter)
    #[argh(option)]
    fingerprint: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Verify {
    pub(super) fn run(self, path: &Path) -> anyhow::Result<()> {
        let today = msg_core::timestamp::now_local().date().to_string();
        let book = crate::contacts::load_book(path)?;
        let id = crate::contacts::resolve(&book.actors, &self.id, path)?;
        let given = match self.fingerprint {
            Some(given) => given,
            None => {
                // The pin, read without recording anything, to show its fingerprint.
                let keys = book
                    .actor(&id)
                    .and_then(crate::trust::pins::contact_keys)
                    .transpose()
                    .map_err(|reason| anyhow::anyhow!("the keys of {id}: {reason}"))?;
                let Some(keys) = keys else {
                    return Err(TrustError::NoKey {
                        path: path.to_owned(),
                        actor: id,
                    }
                    .into());
                };
                let fingerprint = keys.fingerprint();
                if !std::io::stdin().is_terminal() {
                    print(&format!("{id}: key fingerprint {fingerprint}\n"))?;
                    anyhow::bail!(
                        "not confirmed: compare it with the one {id} reads you from `msg keys show`, then run `msg contacts verify {id} --fingerprint \"…\"` with what they read (or run it on a terminal)"
                    );
                }
                print(&format!(
                    "{id}: key fingerprint {fingerprint}\nDoes {id} read you the same fingerprint from `msg keys show`? [y/N] "
                ))?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
                    anyhow::bail!(
                        "not confirmed: nothing was recorded (if the fingerprints differ, someone may have put their key in {id}'s place)"
                    );
                }
                fingerprint
            }
        };
        let (fingerprint, before) = pinning::confirm(path, &id, Some(&given), &today)?;
        if self.json {
            return print(&json::to_text(&json!({
                "id": id,
                "fingerprint": fingerprint,
                "verified": today,
                "already_verified": before,
            })));
        }
        print(&format!(
            "[messaging] Confirmed the key {fingerprint} of {id} in {}{}\n",
            path.display(),
            if before { " (again)" } else { "" }
        ))
    }
}
