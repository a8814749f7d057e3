//! `msg keys init|show|rotate`: this machine's keys, for the person and each local agent.

use argh::{ArgsInfo, FromArgs};
use serde_json::{Value, json};

use crate::cli::{json, print, usage};
use crate::context::Context;
use crate::desk::send::{self, Outgoing};
use crate::trust::keys::{self, KeyRing, PublicKeys};
use crate::trust::rotation;
use msg_store::Priority;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Your keys and your agents': create them, show their public halves to give to others,
/// replace them.
#[argh(subcommand, name = "keys", help_triggers("-h", "--help"))]
pub(super) struct Keys {
    #[argh(subcommand)]
    command: KeysCommand,
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum KeysCommand {
    Init(Init),
    Show(Show),
    Rotate(Rotate),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Create the keys of each local identity that has none (you and your agents); existing keys
/// are kept.
#[argh(subcommand, name = "init", help_triggers("-h", "--help"))]
struct Init {
    /// print JSON
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Show each local identity's public keys: the key card to give to contacts (`msg contacts
/// add NAME --key CARD`) and the fingerprint to read to them.
#[argh(subcommand, name = "show", help_triggers("-h", "--help"))]
struct Show {
    /// only this identity (you or one of your agents)
    #[argh(option)]
    identity: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Replace an identity's keys (default: yours). The old keys sign the new ones, so contacts
/// who confirmed the old fingerprint can take the new keys without a new check; the old
/// keys are kept to open messages sealed to them on the way.
#[argh(subcommand, name = "rotate", help_triggers("-h", "--help"))]
struct Rotate {
    /// the identity whose keys to replace (you, or one of your agents)
    #[argh(option)]
    identity: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Keys {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        match self.command {
            KeysCommand::Init(args) => args.run(ctx),
            KeysCommand::Show(args) => args.run(ctx),
            KeysCommand::Rotate(args) => args.run(ctx),
        }
    }
}

/// The person, then each local agent.
fn identities(ctx: &Context) -> Vec<String> {
    let mut all = vec![ctx.user().to_owned()];
    all.extend(ctx.local_agents());
    all
}

/// `identity` when it is one of this machine's identities.
fn local(ctx: &Context, identity: Option<String>) -> anyhow::Result<String> {
    let identity = identity.unwrap_or_else(|| ctx.user().to_owned());
    let all = identities(ctx);
    if !all.contains(&identity) {
        return Err(usage(format!(
            "{identity:?} is not an identity of this machine; they are {}",
            all.join(", ")
        )));
    }
    Ok(identity)
}

fn public_json(ctx: &Context, ring: &KeyRing) -> anyhow::Result<Value> {
    let public = ring.current.public();
    Ok(json!({
        "identity": ring.identity,
        "fingerprint": public.fingerprint(),
        "card": public.card(),
        "public_key": public.signing_text(),
        "encryption_key": public.encryption_text(),
        "created": ring.created,
        "retired_keys": ring.retired.len(),
        "file": keys::key_file(ctx.paths(), &ring.identity)?,
    }))
}

fn describe(ring: &KeyRing) -> String {
    let public = ring.current.public();
    format!(
        "{}\n  fingerprint  {}\n  key card     {}\n  created      {}\n",
        ring.identity,
        public.fingerprint(),
        public.card(),
        ring.created
    )
}

impl Init {
    fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let mut out = String::new();
        let mut list = Vec::new();
        for identity in identities(ctx) {
            let (ring, created) = KeyRing::ensure(ctx.paths(), &identity)?;
            let mut value = public_json(ctx, &ring)?;
            value["created_now"] = json!(created);
            list.push(value);
            out.push_str(if created { "created " } else { "kept    " });
            out.push_str(&describe(&ring));
        }
        if self.json {
            return print(&json::to_text(&Value::Array(list)));
        }
        out.push_str(
            "Give your key card to your contacts (`msg contacts add NAME --key CARD` on their side) and read the fingerprint to them.\n",
        );
        print(&out)
    }
}

impl Show {
    fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let wanted = match self.identity {
            Some(identity) => vec![local(ctx, Some(identity))?],
            None => identities(ctx),
        };
        let mut out = String::new();
        let mut list = Vec::new();
        for identity in wanted {
            match KeyRing::load(ctx.paths(), &identity)? {
                Some(ring) => {
                    list.push(public_json(ctx, &ring)?);
                    out.push_str(&describe(&ring));
                }
                None => {
                    list.push(json!({"identity": identity, "fingerprint": null}));
                    out.push_str(&format!("{identity}\n  no keys yet: `msg keys init`\n"));
                }
            }
        }
        if self.json {
            return print(&json::to_text(&Value::Array(list)));
        }
        print(&out)
    }
}

impl Rotate {
    fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let identity = local(ctx, self.identity)?;
        let Some(mut ring) = KeyRing::load(ctx.paths(), &identity)? else {
            anyhow::bail!("{identity} has no keys to replace: `msg keys init` creates them");
        };
        let old = *ring.current.public();
        let signature = ring.rotate(keys::now_text());
        ring.save(ctx.paths())?;
        let announced = announce(ctx, &identity, &old, &ring, &signature)?;
        if self.json {
            let mut value = public_json(ctx, &ring)?;
            value["old_fingerprint"] = json!(old.fingerprint());
            value["announced_to"] = json!(announced);
            return print(&json::to_text(&value));
        }
        let mut out = format!(
            "replaced the keys of {identity}: {} → {}\n",
            old.fingerprint(),
            ring.current.public().fingerprint()
        );
        out.push_str(&describe(&ring));
        if announced.is_empty() {
            out.push_str("No contact has your keys: nobody to tell.\n");
        } else {
            out.push_str(&format!(
                "Announced to {} (signed with the old key; sent by `msg relay connect`).\n",
                announced.join(", ")
            ));
        }
        print(&out)
    }
}

/// Queues the announcement of `identity`'s new keys for every contact that holds its old
/// ones (those contacts have keys pinned); returns who.
fn announce(
    ctx: &Context,
    identity: &str,
    old: &PublicKeys,
    ring: &KeyRing,
    signature: &[u8; 64],
) -> anyhow::Result<Vec<String>> {
    let text = rotation::announcement(identity, old, ring.current.public(), signature);
    let contacts = crate::contacts::load(&ctx.paths().contacts_file(ctx.space())?)?;
    let mut told = Vec::new();
    for contact in contacts {
        let own = contact.id == ctx.user() || ctx.local_agents().contains(&contact.id);
        if own || contact.public_key.is_none() {
            continue;
        }
        send::send(
            ctx,
            &Outgoing {
                from: identity.to_owned(),
                to: contact.id.clone(),
                content: text.clone(),
                reply_to: None,
                thread: None,
                priority: Priority::Normal,
            },
            None,
        )?;
        told.push(contact.id);
    }
    Ok(told)
}
