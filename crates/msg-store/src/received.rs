//! Messages received from elsewhere (the relay) going into `inbox.org` once each.
//!
//! A received message keeps the ID its sender gave it, so a redelivery (the relay sends again
//! what was not acknowledged) is recognised: the inbox is read under its lock, and a message
//! whose ID is there from the same sender is not written again, even with two clients
//! running. An ID is the sender's: another sender cannot suppress a message by reusing its
//! ID, because an entry with the same ID from a different sender is not a duplicate; the
//! newcomer is stored under `<id>-<hash of its sender>` with `ORIGINAL_ID` keeping the ID it
//! came with.

use std::collections::HashMap;

use msg_core::org::{NewEntry, Party, headline};
use msg_core::timestamp;
use msg_core::validate;

use crate::error::StoreError;
use crate::message::Priority;
use crate::store::{MessageStore, RESERVED};

/// The longest ID kept as the sender gave it (the relay's limit).
const MAX_ID_BYTES: usize = 128;

/// A message received from elsewhere, as the relay hands it over.
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
    /// The sender's timestamp, as given (kept as `CREATED`; the time of receipt when empty).
    pub timestamp: String,
    /// The priority the sender gave (normal when none).
    pub priority: Priority,
    /// What the receiver found out about the message, kept as properties after `VIA`
    /// (the relay client's signature check: `SIGNATURE`, `SIGNED_BY`, `ENCRYPTED`, …).
    /// This store does not read them; a key that is reserved or not a property name, or a
    /// value that is not one line, is left out.
    pub properties: Vec<(String, String)>,
}

/// What [`MessageStore::receive`] did with one message.
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
            && !self.id.chars().any(|c| c.is_control() || c.is_whitespace())
            && validate::property_value("id", &self.id).is_ok();
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

    /// The inbox entry of this message, stored as `id`.
    fn entry(&self, id: &str, original: Option<String>, received: &str) -> NewEntry {
        let created = clean(&Some(self.timestamp.clone())).unwrap_or_else(|| received.to_owned());
        let mut properties = vec![
            ("ID".to_owned(), id.to_owned()),
            ("FROM".to_owned(), self.from.clone()),
            ("TO".to_owned(), self.to.clone()),
        ];
        if let Some(original) = original {
            properties.push(("ORIGINAL_ID".to_owned(), original));
        }
        if let Some(reply_to) = clean(&self.reply_to) {
            properties.push(("REPLY_TO".to_owned(), reply_to));
        }
        if let Some(thread) = clean(&self.thread) {
            properties.push(("THREAD".to_owned(), thread));
        }
        properties.push(("CREATED".to_owned(), created));
        properties.push(("RECEIVED".to_owned(), received.to_owned()));
        properties.push(("VIA".to_owned(), "relay".to_owned()));
        for (key, value) in &self.properties {
            let usable = !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(key))
                && !properties.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
                && validate::property_key(key).is_ok()
                && validate::property_value(key, value).is_ok();
            if usable {
                properties.push((key.clone(), value.clone()));
            }
        }
        NewEntry {
            keyword: Some("TODO".to_owned()),
            priority: self.priority.cookie(),
            title: headline(received, Party::From(&self.from), &self.content),
            tags: vec!["unread".to_owned(), "message".to_owned()],
            properties,
            body: self.content.clone(),
        }
    }
}

/// An optional single-line field: kept when it is one line without control characters that
/// Org would not evaluate (a hostile sender's `reply_to` with a newline, or a `thread` holding
/// a diary sexp `<%%(…)>`, is dropped, never written).
fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .filter(|v| {
            !v.is_empty()
                && !v.chars().any(char::is_control)
                && validate::property_value("field", v).is_ok()
        })
        .cloned()
}

impl MessageStore {
    /// Writes a received `message` into `inbox.org`, unread, unless it is there already
    /// (same ID, same sender). Returns once the entry is on disk (`fdatasync`ed), so the
    /// caller may acknowledge it to the relay.
    pub fn receive(&self, message: &Incoming) -> Result<Receipt, StoreError> {
        self.receive_all(std::slice::from_ref(message))?
            .pop()
            .expect("one receipt per message")
    }

    /// [`MessageStore::receive`] for several messages in one transaction: one read of the
    /// inbox under its lock, one `fdatasync` for all the appends (a backlog costs one lookup
    /// per batch, not per message). Returns one result per message, in order: a message that
    /// can never be stored (a sender or recipient that is not an actor name) is an error of
    /// its own; a failure to read or write the inbox fails the call, and nothing is written.
    /// A message repeated within the batch is written once.
    pub fn receive_all(
        &self,
        messages: &[Incoming],
    ) -> Result<Vec<Result<Receipt, StoreError>>, StoreError> {
        let received = timestamp::format_inactive(timestamp::now_local());
        let results = self.inbox.transaction(|txn| {
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
                    results.push(Err(StoreError::from(err)));
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
                txn.append(&message.entry(&id, original, &received))?;
                known.insert(id.clone(), message.from.clone());
                results.push(Ok(Receipt { id, new: true }));
            }
            Ok(results)
        })?;
        Ok(results)
    }
}
