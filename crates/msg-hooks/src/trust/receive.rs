//! A batch of received messages checked: opened when sealed, signatures verified against
//! the pinned keys, the replay window applied; each becomes the [`Incoming`] the inbox
//! stores, with its check as properties.
//!
//! The window stays locked from the check until the batch is stored
//! ([`Reception::stored`]), so that two clients on one root cannot both take the same
//! message as new; only a message that was stored now is remembered, so a batch that
//! failed to be written is not taken for a replay when the relay sends it again.

use msg_store::{Incoming, Priority, Receipt, StoreError};

use super::canonical::Signable;
use super::keys::{KeyRing, PublicKeys};
use super::pinning;
use super::pins::Pins;
use super::replay::{Refusal, Window};
use super::rotation::Rotation;
use super::seal::{self, Envelope};
use super::signature::Token;
use super::verdict::{self, Check};
use crate::context::Context;
use crate::error::HooksError;

/// What a `message` frame carried, as the client read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Arrived {
    /// The sender, as the relay authenticated it.
    pub(crate) from: String,
    /// The recipient: the name this connection logged in as.
    pub(crate) to: String,
    pub(crate) content: String,
    pub(crate) id: String,
    pub(crate) thread: Option<String>,
    pub(crate) reply_to: Option<String>,
    pub(crate) timestamp: String,
    pub(crate) priority: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) sealed: Option<String>,
}

/// One message, checked.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// What the inbox stores (the check in its properties).
    pub(crate) incoming: Incoming,
    pub(crate) check: Check,
    /// The keys that signed, when the signature could be read.
    pub(crate) signer: Option<PublicKeys>,
    /// The signature token as received.
    token: Option<String>,
    /// Whether it came sealed.
    sealed: bool,
}

/// A batch being taken in: checked, with the replay window held.
pub(crate) struct Reception {
    window: Window,
    pub(crate) checked: Vec<Checked>,
}

impl Reception {
    /// Checks `batch`, received by the local identity `receiver`.
    pub(crate) fn check(
        ctx: &Context,
        receiver: &str,
        batch: Vec<Arrived>,
    ) -> Result<Reception, HooksError> {
        let pins = Pins::load(ctx).map_err(|err| err.to_string());
        let ring = KeyRing::load(ctx.paths(), receiver)?;
        let window = Window::open(ctx.paths(), msg_core::timestamp::now_local())?;
        let checked = batch
            .into_iter()
            .map(|arrived| {
                let mut checked = check_one(arrived, ring.as_ref(), pins.as_ref());
                if checked.check.signature_holds() {
                    let incoming = &checked.incoming;
                    match window.check(&incoming.from, &incoming.id, &incoming.timestamp) {
                        Ok(()) => {}
                        Err(Refusal::Replayed) => checked.check = Check::Replayed,
                        Err(Refusal::Stale) => {
                            checked.check = Check::Stale {
                                created: incoming.timestamp.clone(),
                            }
                        }
                    }
                }
                checked.incoming.properties = verdict::properties(
                    &checked.check,
                    &checked.incoming.from,
                    checked.signer.as_ref(),
                    checked.token.as_deref(),
                    checked.sealed,
                );
                checked
            })
            .collect();
        Ok(Reception { window, checked })
    }

    /// The messages to store.
    pub(crate) fn incoming(&self) -> Vec<Incoming> {
        self.checked.iter().map(|c| c.incoming.clone()).collect()
    }

    /// Remembers the signed messages stored now (one receipt per message, in order) and
    /// releases the window.
    pub(crate) fn stored(
        mut self,
        receipts: &[Result<Receipt, StoreError>],
    ) -> Result<Vec<Checked>, HooksError> {
        for (checked, receipt) in self.checked.iter().zip(receipts) {
            if matches!(receipt, Ok(receipt) if receipt.new) && checked.check.signature_holds() {
                self.window
                    .remember(&checked.incoming.from, &checked.incoming.id);
            }
        }
        self.window.close()?;
        Ok(self.checked)
    }
}

/// Records in `contacts.yaml` what the messages stored now (one receipt each, in order)
/// showed of their senders' keys: a key seen for the first time, for a listed contact
/// without keys (pinned unconfirmed), and a pin moved by a rotation announcement. Returns a
/// line for each change and each failure, for the client's report; a failure changes
/// nothing and costs no message.
pub(crate) fn learn_pins(
    ctx: &Context,
    checked: &[Checked],
    receipts: &[Result<Receipt, StoreError>],
) -> Vec<String> {
    let mut said = Vec::new();
    let path = match ctx.contacts_file() {
        Ok(path) => path,
        Err(err) => return vec![format!("keys not recorded: {err}")],
    };
    for (checked, receipt) in checked.iter().zip(receipts) {
        if !matches!(receipt, Ok(receipt) if receipt.new) {
            continue;
        }
        let from = &checked.incoming.from;
        let (Some(signer), check) = (checked.signer.as_ref(), &checked.check) else {
            continue;
        };
        let outcome = match check {
            Check::UnverifiedKey { first_use: true } => {
                pinning::record_first_use(&path, from, signer).map(|recorded| {
                    recorded.then(|| {
                        format!(
                            "{from}: recorded the key {} in {} as first used, not confirmed: compare the fingerprint with {from}, then `msg contacts verify {from}`",
                            signer.fingerprint(),
                            path.display()
                        )
                    })
                })
            }
            Check::Rotated { .. } => match Rotation::parse(&checked.incoming.content) {
                Some(rotation) => pinning::move_pin(&path, from, &rotation.old, signer).map(|()| {
                    Some(format!(
                        "{from}: moved the pin in {} from {} to {} (the old keys vouch for the new)",
                        path.display(),
                        rotation.old.fingerprint(),
                        signer.fingerprint()
                    ))
                }),
                None => Ok(None),
            },
            _ => Ok(None),
        };
        match outcome {
            Ok(Some(line)) => said.push(line),
            Ok(None) => {}
            Err(err) => said.push(format!("{from}: keys not recorded: {err}")),
        }
    }
    said
}

/// Opens and verifies one message.
fn check_one(arrived: Arrived, ring: Option<&KeyRing>, pins: Result<&Pins, &String>) -> Checked {
    let Arrived {
        from,
        to,
        mut content,
        id,
        mut thread,
        mut reply_to,
        timestamp,
        mut priority,
        mut signature,
        sealed,
    } = arrived;
    let was_sealed = sealed.is_some();
    let mut check = None;
    if let Some(payload) = &sealed {
        let envelope = Envelope {
            from: &from,
            to: &to,
            id: &id,
        };
        let opened = match ring {
            Some(ring) => seal::open(payload, &envelope, ring.encryption_secrets()),
            None => Err(seal::OpenError::NotForUs),
        };
        match opened {
            Ok(inner) => {
                content = inner.content;
                thread = inner.thread;
                reply_to = inner.reply_to;
                priority = Some(inner.priority);
                signature = inner.signature;
            }
            Err(reason) => {
                content =
                    format!("(A sealed message from {from} that cannot be opened here: {reason}.)");
                check = Some(Check::Unreadable(reason));
                signature = None;
            }
        }
    }
    let token = signature.as_deref().map(Token::parse);
    let priority_text = priority.clone().unwrap_or_else(|| "normal".to_owned());
    let signer = token.as_ref().and_then(|t| t.as_ref().map(|t| t.signer));
    let check = check.unwrap_or_else(|| match &token {
        None => Check::Unsigned,
        Some(None) => Check::Invalid,
        Some(Some(token)) => {
            let signable = Signable {
                from: &from,
                to: &to,
                id: &id,
                created: &timestamp,
                reply_to: reply_to.as_deref(),
                thread: thread.as_deref(),
                content: &content,
                priority: &priority_text,
            };
            if !token.verifies(&signable) {
                Check::Invalid
            } else {
                match pins {
                    Err(reason) => Check::BadPin {
                        reason: reason.clone(),
                    },
                    Ok(pins) => against_pins(pins, &from, &token.signer, &content),
                }
            }
        }
    });
    let incoming = Incoming {
        from,
        to,
        content,
        id,
        thread,
        reply_to,
        timestamp,
        priority: priority
            .as_deref()
            .and_then(Priority::parse)
            .unwrap_or_default(),
        properties: Vec::new(),
    };
    Checked {
        incoming,
        check,
        signer,
        token: signature,
        sealed: was_sealed,
    }
}

/// A valid signature by `signer` of a message saying `content`: is it `from`'s key?
fn against_pins(pins: &Pins, from: &str, signer: &PublicKeys, content: &str) -> Check {
    match pins.of(from) {
        Some(Ok(pin)) if pin.keys == *signer => {
            if pin.verified {
                Check::Verified
            } else {
                Check::UnverifiedKey { first_use: false }
            }
        }
        Some(Ok(pin)) => match Rotation::parse(content) {
            Some(rotation) if rotation.moves(from, &pin.keys, signer) => Check::Rotated {
                confirmed: pin.verified,
            },
            _ => match pins.holder_of(signer, from) {
                Some(holder) => Check::KeyOfAnother {
                    holder: holder.to_owned(),
                },
                None => Check::KeyChanged {
                    pinned: pin.keys.fingerprint(),
                },
            },
        },
        Some(Err(reason)) => Check::BadPin {
            reason: reason.clone(),
        },
        None => match pins.holder_of(signer, from) {
            Some(holder) => Check::KeyOfAnother {
                holder: holder.to_owned(),
            },
            None => Check::UnverifiedKey { first_use: true },
        },
    }
}
