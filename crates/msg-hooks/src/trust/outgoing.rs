//! A message on its way out: signed with the sender's key, and sealed to the recipient
//! (and the sender) when the recipient's encryption key is pinned and sealing is not turned
//! off for it (`seal: false` in `contacts.yaml`).

use super::canonical::Signable;
use super::keys::KeyRing;
use super::pins::Pins;
use super::seal::{self, Envelope, Inner};
use super::signature::Token;

/// What a client without keys shows of a sealed message (a v0.2.0 client, or one whose keys
/// were lost): the relay sees this too, never the text.
pub(crate) const SEALED_PLACEHOLDER: &str = "(A sealed message: it opens only with the recipient's keys, in datacore-messaging 0.3 or later.)";

/// The fields of a `send` frame that trust decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) content: String,
    pub(crate) thread: Option<String>,
    pub(crate) reply_to: Option<String>,
    pub(crate) priority: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) sealed: Option<String>,
}

impl Outgoing {
    /// `message` from `from` as it goes out: signed when `ring` holds `from`'s keys and the
    /// message has its creation time (the signature covers it), sealed when `pins` hold the
    /// recipient's encryption key.
    pub(crate) fn prepare(
        message: &msg_store::Message,
        from: &str,
        ring: Option<&KeyRing>,
        pins: &Pins,
    ) -> Outgoing {
        let to = message.to.as_deref().unwrap_or_default();
        let priority = message.priority.as_str();
        let signature = match (ring, message.created.as_deref()) {
            (Some(ring), Some(created)) => Some(
                Token::sign(
                    &ring.current,
                    &Signable {
                        from,
                        to,
                        id: &message.id,
                        created,
                        reply_to: message.reply_to.as_deref(),
                        thread: message.thread.as_deref(),
                        content: &message.body,
                        priority,
                    },
                )
                .to_text(),
            ),
            _ => None,
        };
        let recipient = match pins.of(to) {
            Some(Ok(pin)) if pin.seal => Some(pin.keys.encryption),
            _ => None,
        };
        if let (Some(recipient), Some(ring)) = (recipient, ring) {
            let inner = Inner {
                content: message.body.clone(),
                thread: message.thread.clone(),
                reply_to: message.reply_to.clone(),
                priority: priority.to_owned(),
                signature,
            };
            let envelope = Envelope {
                from,
                to,
                id: &message.id,
            };
            let readers = [recipient, ring.current.public().encryption];
            return Outgoing {
                content: SEALED_PLACEHOLDER.to_owned(),
                sealed: Some(seal::seal(&inner, &envelope, &readers)),
                ..Outgoing::default()
            };
        }
        Outgoing {
            content: message.body.clone(),
            thread: message.thread.clone(),
            reply_to: message.reply_to.clone(),
            // Only a signed message needs it, and only a new client reads it: v0.2.0 frames
            // stay as they were.
            priority: signature.as_ref().map(|_| priority.to_owned()),
            signature,
            sealed: None,
        }
    }
}
