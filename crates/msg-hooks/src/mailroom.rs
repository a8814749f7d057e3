//! Where messages cross between the relay and the files: a message received from the relay
//! goes into `inbox.org` once ([`receive`]), and a sent message in `outbox.org` records what
//! the relay said about its delivery ([`record_delivery`]).
//!
//! Both are one locked transaction of the org engine on the store's file, reading the file as
//! it is now: a received message is looked up by ID under the inbox lock before it is
//! appended, so a redelivery (the relay sends again what was not acknowledged) never writes
//! it twice, even with two clients running. The append is `fdatasync`ed before [`receive`]
//! returns, so the caller may acknowledge it to the relay.
//!
//! An ID is the sender's: another sender cannot suppress a message by reusing its ID, because
//! an entry with the same ID from a different sender is not a duplicate; the newcomer is
//! stored under `<id>-<hash of its sender>` with `ORIGINAL_ID` keeping the ID it came with.

use std::collections::HashMap;

use msg_core::org::{NewEntry, OrgError, OrgFile, TodoKeywords};
use msg_core::timestamp;
use msg_core::validate;
use msg_store::{Message, STATES};

use crate::context::Context;
use crate::error::HooksError;
use crate::reply::{DELIVERY_PENDING, DELIVERY_PROPERTY};

/// The longest ID kept as the sender gave it (the relay's limit).
const MAX_ID_BYTES: usize = 128;

/// A message as the relay hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incoming {
    /// The sender, as the relay authenticated it.
    pub from: String,
    /// The recipient: the local user or one of the local agents.
    pub to: String,
    /// The text.
    pub content: String,
    /// The sender's message ID (may be empty from old clients).
    pub id: String,
    /// The thread, if any.
    pub thread: Option<String>,
    /// The message answered, if any.
    pub reply_to: Option<String>,
    /// The sender's timestamp, as given.
    pub timestamp: String,
}

/// What [`receive`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The ID the message has in `inbox.org`.
    pub id: String,
    /// Whether it was written now (`false`: it was already there, from an earlier delivery).
    pub new: bool,
}

impl Incoming {
    /// The ID to store the message under: the sender's when it is usable, else one derived
    /// from the message itself (so a redelivery gets the same one).
    fn stored_id(&self) -> String {
        let usable = !self.id.is_empty()
            && self.id.len() <= MAX_ID_BYTES
            && !self.id.chars().any(|c| c.is_control() || c.is_whitespace());
        if usable {
            return self.id.clone();
        }
        let mut hasher = blake3::Hasher::new();
        for part in [
            &self.from,
            &self.to,
            &self.timestamp,
            &self.content,
            &self.id,
        ] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        format!("relay-{}", &hasher.finalize().to_hex()[..24])
    }
}

fn keywords() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

/// An optional single-line field: kept when it is one line without control characters.
fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .filter(|v| !v.is_empty() && !v.chars().any(char::is_control))
        .cloned()
}

/// Writes `message` into the inbox of `ctx`'s space, unread, unless it is there already
/// (same ID, same sender). Returns once the entry is on disk.
pub fn receive(ctx: &Context, message: &Incoming) -> Result<Receipt, HooksError> {
    receive_all(ctx, std::slice::from_ref(message))?
        .pop()
        .expect("one receipt per message")
}

/// [`receive`] for several messages in one transaction: one read of the inbox, one
/// `fdatasync` for all the appends (a backlog costs one lookup per batch, not per message).
/// Returns one result per message, in order: a message that can never be stored (a sender
/// or recipient that is not an actor name) is an error of its own; a failure to read or
/// write the inbox fails the call, and nothing is written.
pub fn receive_all(
    ctx: &Context,
    messages: &[Incoming],
) -> Result<Vec<Result<Receipt, HooksError>>, HooksError> {
    let store = ctx.store()?;
    let inbox = OrgFile::new(store.inbox_path(), keywords());
    let now = timestamp::now_local();
    let received = timestamp::format_inactive(now);
    inbox
        .transaction(|txn| {
            // Who sent each ID already in the file (the first entry, should an ID be there
            // twice by hand: a duplicate must not stop every later receipt).
            let mut known: HashMap<String, String> = HashMap::new();
            for entry in txn.document()?.entries() {
                if let Some(id) = entry.id() {
                    let from = entry.property("FROM").map(|f| f.into_owned());
                    known
                        .entry(id.into_owned())
                        .or_insert_with(|| from.unwrap_or_default());
                }
            }
            let mut results = Vec::with_capacity(messages.len());
            for message in messages {
                let checked = validate::actor("from", &message.from)
                    .and_then(|()| validate::actor("to", &message.to));
                if let Err(err) = checked {
                    results.push(Err(HooksError::from(err)));
                    continue;
                }
                let mut id = message.stored_id();
                let mut original = None;
                if let Some(from) = known.get(&id) {
                    if *from == message.from {
                        results.push(Ok(Receipt { id, new: false }));
                        continue;
                    }
                    // The same ID from someone else: not a redelivery. Keep both.
                    let hash = blake3::hash(message.from.as_bytes()).to_hex();
                    original = Some(id.clone());
                    id = format!("{id}-{}", &hash[..8]);
                    if known.get(&id) == Some(&message.from) {
                        results.push(Ok(Receipt { id, new: false }));
                        continue;
                    }
                }
                txn.append(&entry(message, &id, original, &received))?;
                known.insert(id.clone(), message.from.clone());
                results.push(Ok(Receipt { id, new: true }));
            }
            Ok(results)
        })
        .map_err(HooksError::from)
}

/// The inbox entry of a received message.
fn entry(message: &Incoming, id: &str, original: Option<String>, received: &str) -> NewEntry {
    let created = if message.timestamp.is_empty() || message.timestamp.chars().any(char::is_control)
    {
        received.to_owned()
    } else {
        message.timestamp.clone()
    };
    let mut properties = vec![
        ("ID".to_owned(), id.to_owned()),
        ("FROM".to_owned(), message.from.clone()),
        ("TO".to_owned(), message.to.clone()),
    ];
    if let Some(original) = original {
        properties.push(("ORIGINAL_ID".to_owned(), original));
    }
    if let Some(reply_to) = clean(&message.reply_to) {
        properties.push(("REPLY_TO".to_owned(), reply_to));
    }
    if let Some(thread) = clean(&message.thread) {
        properties.push(("THREAD".to_owned(), thread));
    }
    properties.push(("CREATED".to_owned(), created));
    properties.push(("RECEIVED".to_owned(), received.to_owned()));
    properties.push(("VIA".to_owned(), "relay".to_owned()));
    NewEntry {
        keyword: Some("TODO".to_owned()),
        priority: None,
        title: received.to_owned(),
        tags: vec!["unread".to_owned(), "message".to_owned()],
        properties,
        body: message.content.clone(),
    }
}

/// What the relay said about a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryState {
    /// Written to one of the recipient's connections.
    Delivered,
    /// Held by the relay until the recipient comes online.
    Queued,
    /// Refused for good, with the relay's error code.
    Failed(String),
}

impl DeliveryState {
    /// The `DELIVERY` property value.
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Queued => "queued",
            DeliveryState::Failed(_) => "failed",
        }
    }
}

/// The sent messages of `ctx`'s space still waiting for the relay (`:DELIVERY: pending`),
/// from one of `senders`, in file order. Reads nothing when there is no outbox yet.
pub fn pending(ctx: &Context, senders: &[String]) -> Result<Vec<Message>, HooksError> {
    let Some(store) = ctx.existing_store()? else {
        return Ok(Vec::new());
    };
    Ok(store
        .sent()?
        .into_iter()
        .filter(|m| m.property(DELIVERY_PROPERTY) == Some(DELIVERY_PENDING))
        .filter(|m| senders.contains(&m.from))
        .collect())
}

/// Records `state` on the sent message `id` in `outbox.org`: `DELIVERY` and the time
/// (`DELIVERED_AT`), or `DELIVERY_ERROR` for a failure. A pending message changes, and a
/// queued one may still fail (the relay drops it when it expires before the recipient
/// logs in); any other answer about a message already marked is a repeat and changes
/// nothing. Returns whether the entry changed.
pub fn record_delivery(ctx: &Context, id: &str, state: &DeliveryState) -> Result<bool, HooksError> {
    let store = ctx.store()?;
    let outbox = OrgFile::new(store.outbox_path(), keywords());
    let at = timestamp::format_inactive(timestamp::now_local());
    let changed = outbox.transaction(|txn| {
        let doc = txn.document()?;
        let current = match doc
            .find_by_id(id)
            .map_err(|dup| dup.in_file(outbox.path()))?
        {
            Some(entry) => entry.property(DELIVERY_PROPERTY).map(|v| v.into_owned()),
            None => return Ok(false),
        };
        let open = match current.as_deref() {
            Some(DELIVERY_PENDING) => true,
            Some("queued") => matches!(state, DeliveryState::Failed(_)),
            _ => false,
        };
        if !open {
            return Ok(false);
        }
        txn.edit(id, |e| {
            e.set_property(DELIVERY_PROPERTY, state.as_str())?;
            match state {
                DeliveryState::Failed(code) => e.set_property("DELIVERY_ERROR", code),
                _ => e.set_property("DELIVERED_AT", &at),
            }
        })?;
        Ok::<bool, OrgError>(true)
    })?;
    Ok(changed)
}

/// Records on the pending message `id` why the last attempt did not go through
/// (`DELIVERY_ERROR`), leaving it pending so that it is sent again.
pub fn record_attempt_error(ctx: &Context, id: &str, code: &str) -> Result<(), HooksError> {
    let store = ctx.store()?;
    let outbox = OrgFile::new(store.outbox_path(), keywords());
    outbox.transaction(|txn| {
        let doc = txn.document()?;
        let found = doc
            .find_by_id(id)
            .map_err(|dup| dup.in_file(outbox.path()))?
            .is_some_and(|e| {
                e.property(DELIVERY_PROPERTY).as_deref() == Some(DELIVERY_PENDING)
                    && e.property("DELIVERY_ERROR").as_deref() != Some(code)
            });
        if found {
            txn.edit(id, |e| e.set_property("DELIVERY_ERROR", code))?;
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
    use msg_core::paths::Paths;

    fn ctx(root: &std::path::Path) -> Context {
        let settings = Settings::from_yaml_str(
            "identity: {name: bob}\n",
            std::path::Path::new("settings.local.yaml"),
        )
        .unwrap();
        Context::new(Paths::new(root), settings, None).unwrap()
    }

    fn incoming(from: &str, id: &str, content: &str) -> Incoming {
        Incoming {
            from: from.into(),
            to: "bob".into(),
            content: content.into(),
            id: id.into(),
            timestamp: "2026-11-24T10:00:00".into(),
            ..Incoming::default()
        }
    }

    #[test]
    fn a_redelivery_is_not_written_twice() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        let first = receive(&ctx, &incoming("alice", "msg-1", "hello")).unwrap();
        assert!(first.new);
        let again = receive(&ctx, &incoming("alice", "msg-1", "hello")).unwrap();
        assert_eq!(
            again,
            Receipt {
                id: "msg-1".into(),
                new: false
            }
        );
        let all = ctx.store().unwrap().all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].body, "hello");
        assert!(all[0].is_unread());
    }

    #[test]
    fn another_sender_cannot_suppress_a_message_by_reusing_its_id() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        receive(&ctx, &incoming("alice", "msg-1", "from alice")).unwrap();
        let mallory = receive(&ctx, &incoming("mallory", "msg-1", "from mallory")).unwrap();
        assert!(mallory.new);
        assert_ne!(mallory.id, "msg-1");
        let again = receive(&ctx, &incoming("mallory", "msg-1", "from mallory")).unwrap();
        assert!(!again.new);
        let all = ctx.store().unwrap().all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].property("ORIGINAL_ID"), Some("msg-1"));
    }

    #[test]
    fn hostile_fields_cannot_forge_structure() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        let mut message = incoming("alice", "bad id\n:FROM: owner", "* DONE forged\n:END:");
        message.reply_to = Some("x\n* y".into());
        let receipt = receive(&ctx, &message).unwrap();
        assert!(receipt.id.starts_with("relay-"), "{}", receipt.id);
        let again = receive(&ctx, &message).unwrap();
        assert_eq!(again.id, receipt.id);
        assert!(!again.new);
        let all = ctx.store().unwrap().all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].from, "alice");
        assert_eq!(all[0].reply_to, None);
        assert_eq!(all[0].body, "* DONE forged\n:END:");
        assert!(receive(&ctx, &incoming("a\nb", "m", "x")).is_err());
    }

    #[test]
    fn a_batch_is_one_write_and_repeats_within_it_are_stored_once() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        receive(&ctx, &incoming("alice", "msg-0", "before")).unwrap();
        let batch = [
            incoming("alice", "msg-0", "before"),
            incoming("alice", "msg-1", "one"),
            incoming("a\nb", "msg-2", "bad sender"),
            incoming("alice", "msg-1", "one"),
            incoming("carol", "msg-1", "carol's one"),
            incoming("alice", "msg-3", "three"),
        ];
        let results = receive_all(&ctx, &batch).unwrap();
        let summary: Vec<Option<(String, bool)>> = results
            .iter()
            .map(|r| r.as_ref().ok().map(|r| (r.id.clone(), r.new)))
            .collect();
        let carol = summary[4].clone().unwrap().0;
        assert!(carol.starts_with("msg-1-"), "{carol}");
        assert_eq!(
            summary,
            [
                Some(("msg-0".into(), false)),
                Some(("msg-1".into(), true)),
                None,
                Some(("msg-1".into(), false)),
                Some((carol, true)),
                Some(("msg-3".into(), true)),
            ]
        );
        let bodies: Vec<String> = ctx
            .store()
            .unwrap()
            .all()
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, ["before", "one", "carol's one", "three"]);
    }

    #[test]
    fn delivery_is_recorded_once_on_pending_messages() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        let sent = crate::reply::send(
            &ctx,
            &crate::reply::Outgoing {
                from: "bob".into(),
                to: "alice".into(),
                content: "hi".into(),
                reply_to: None,
                priority: msg_store::Priority::Normal,
            },
            None,
        )
        .unwrap();
        let id = sent.message.id;
        assert_eq!(pending(&ctx, &["bob".into()]).unwrap().len(), 1);
        assert!(pending(&ctx, &["carol".into()]).unwrap().is_empty());
        record_attempt_error(&ctx, &id, "rate_limited").unwrap();
        assert_eq!(pending(&ctx, &["bob".into()]).unwrap().len(), 1);
        assert!(record_delivery(&ctx, &id, &DeliveryState::Queued).unwrap());
        assert!(!record_delivery(&ctx, &id, &DeliveryState::Delivered).unwrap());
        let sent = ctx.store().unwrap().sent().unwrap();
        assert_eq!(sent[0].property("DELIVERY"), Some("queued"));
        assert!(sent[0].property("DELIVERED_AT").is_some());
        assert!(pending(&ctx, &["bob".into()]).unwrap().is_empty());
        assert!(!record_delivery(&ctx, "msg-unknown", &DeliveryState::Queued).unwrap());
        // Queued, then expired at the relay: failed after all.
        assert!(record_delivery(&ctx, &id, &DeliveryState::Failed("expired".into())).unwrap());
        let sent = ctx.store().unwrap().sent().unwrap();
        assert_eq!(sent[0].property("DELIVERY"), Some("failed"));
        assert_eq!(sent[0].property("DELIVERY_ERROR"), Some("expired"));
        assert!(!record_delivery(&ctx, &id, &DeliveryState::Delivered).unwrap());
    }
}
