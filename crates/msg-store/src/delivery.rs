//! What became of a sent message: the relay's answer recorded on its `outbox.org` entry.
//!
//! A message for someone elsewhere is recorded as sent with `:DELIVERY: pending`
//! ([`DELIVERY_PROPERTY`], [`DELIVERY_PENDING`]); the relay connection then records
//! `queued` with `QUEUED_AT` (the relay holds it for an offline recipient), `delivered` with
//! `DELIVERED_AT` (the recipient has it: at once, or later when the relay says a queued one
//! arrived), or `failed` with `DELIVERY_ERROR`. Each record is one locked transaction on the
//! outbox, deciding from the entry as it is now. A failed message can be sent again
//! ([`MessageStore::resend`]).

use msg_core::org::OrgError;
use msg_core::timestamp;

use crate::error::StoreError;
use crate::message::Message;
use crate::store::MessageStore;

/// The property of a sent message that says whether it has been delivered.
pub const DELIVERY_PROPERTY: &str = "DELIVERY";
/// [`DELIVERY_PROPERTY`] of a message the relay has yet to deliver.
pub const DELIVERY_PENDING: &str = "pending";
/// Why a delivery failed, or why the last attempt did not go through.
const DELIVERY_ERROR: &str = "DELIVERY_ERROR";
/// When the relay said the recipient has the message.
const DELIVERED_AT: &str = "DELIVERED_AT";
/// When the relay queued the message for an offline recipient.
const QUEUED_AT: &str = "QUEUED_AT";

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
    /// The [`DELIVERY_PROPERTY`] value: `delivered`, `queued` or `failed`.
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Queued => "queued",
            DeliveryState::Failed(_) => "failed",
        }
    }
}

impl MessageStore {
    /// The sent messages still waiting for the relay (`:DELIVERY: pending`) from one of
    /// `senders`, in file order.
    pub fn pending_deliveries(&self, senders: &[&str]) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .sent()?
            .into_iter()
            .filter(|m| m.property(DELIVERY_PROPERTY) == Some(DELIVERY_PENDING))
            .filter(|m| senders.contains(&m.from.as_str()))
            .collect())
    }

    /// Records `state` on the sent message `id`: [`DELIVERY_PROPERTY`] and the time
    /// (`QUEUED_AT` or `DELIVERED_AT`), or `DELIVERY_ERROR` for a failure. A pending message
    /// changes; a queued one may still be delivered (the relay says so when the recipient
    /// takes it) or fail (it expired first); any other answer about a message already
    /// marked is a repeat and changes nothing, as does an ID not in the outbox. Returns
    /// whether the entry changed.
    pub fn record_delivery(&self, id: &str, state: &DeliveryState) -> Result<bool, StoreError> {
        let at = timestamp::format_inactive(timestamp::now_local());
        let path = self.outbox.path();
        let changed = self.outbox.transaction(|txn| {
            let doc = txn.document()?;
            let current = match doc.find_by_id(id).map_err(|dup| dup.in_file(path))? {
                Some(entry) => entry.property(DELIVERY_PROPERTY).map(|v| v.into_owned()),
                None => return Ok(false),
            };
            let open = match current.as_deref() {
                Some(DELIVERY_PENDING) => true,
                Some("queued") => !matches!(state, DeliveryState::Queued),
                _ => false,
            };
            if !open {
                return Ok(false);
            }
            txn.edit(id, |e| {
                e.set_property(DELIVERY_PROPERTY, state.as_str())?;
                match state {
                    DeliveryState::Failed(code) => e.set_property(DELIVERY_ERROR, code),
                    DeliveryState::Queued => e.set_property(QUEUED_AT, &at),
                    DeliveryState::Delivered => e.set_property(DELIVERED_AT, &at),
                }
            })?;
            Ok::<bool, OrgError>(true)
        })?;
        Ok(changed)
    }

    /// Makes the failed sent message `id` pending again, so that the relay connection sends
    /// it once more; `DELIVERY_ERROR` is removed. Returns the message as it is now. A message in any other delivery
    /// state is refused: pending and queued ones are on their way, delivered ones arrived.
    pub fn resend(&self, id: &str) -> Result<Message, StoreError> {
        let path = self.outbox.path().to_owned();
        let outcome: Result<Result<Message, StoreError>, OrgError> =
            self.outbox.transaction(|txn| {
                txn.edit(id, |e| {
                    let state = e
                        .entry()
                        .property(DELIVERY_PROPERTY)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    if state != "failed" {
                        return Ok(Err(StoreError::Transition {
                            action: "resend",
                            id: id.to_owned(),
                            state: if state.is_empty() {
                                "without a delivery state".to_owned()
                            } else {
                                state
                            },
                            allowed: "failed messages",
                            path: path.clone(),
                            line: e.line(),
                        }));
                    }
                    e.set_property(DELIVERY_PROPERTY, DELIVERY_PENDING)?;
                    e.remove_property(DELIVERY_ERROR)?;
                    let keywords = e.keywords();
                    let message = Message::from_entry(&e.entry(), |k| keywords.is_done(k))
                        .expect("found by its ID");
                    Ok(Ok(message))
                })
            });
        match outcome {
            Ok(result) => result,
            Err(OrgError::NotFound { path, id }) => Err(StoreError::NotFound { path, id }),
            Err(err) => Err(err.into()),
        }
    }

    /// Records on the pending message `id` why the last attempt did not go through
    /// (`DELIVERY_ERROR`), leaving it pending so that it is sent again. A message not
    /// pending, or already carrying that error, is left as it is (nothing is written).
    pub fn record_attempt_error(&self, id: &str, code: &str) -> Result<(), StoreError> {
        let path = self.outbox.path();
        self.outbox.transaction(|txn| {
            let doc = txn.document()?;
            let found = doc
                .find_by_id(id)
                .map_err(|dup| dup.in_file(path))?
                .is_some_and(|e| {
                    e.property(DELIVERY_PROPERTY).as_deref() == Some(DELIVERY_PENDING)
                        && e.property(DELIVERY_ERROR).as_deref() != Some(code)
                });
            if found {
                txn.edit(id, |e| e.set_property(DELIVERY_ERROR, code))?;
            }
            Ok(())
        })?;
        Ok(())
    }
}
