//! Whose key is whose: the keys `contacts.yaml` pins for each actor, and this machine's own
//! identities, whose keys are in `.datacore/keys/` and need no confirmation.

use std::collections::HashMap;

use super::keys::{KeyRing, PublicKeys};
use crate::contacts::Contact;
use crate::context::Context;
use crate::error::HooksError;

/// The keys pinned for one actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pin {
    pub(crate) keys: PublicKeys,
    /// Confirmed by the person (`key_verified`), or one of this machine's own identities.
    pub(crate) verified: bool,
    /// Whether messages to the actor are sealed (not `seal: false`).
    pub(crate) seal: bool,
}

/// Every actor's pinned keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pins {
    /// Actor → its pin, or why the keys written for it cannot be used.
    by_actor: HashMap<String, Result<Pin, String>>,
}

impl Pins {
    /// The pins of `ctx`'s space and its own identities (the user and the local agents).
    /// A contacts file that cannot be read is an error: nobody's key would be known, and a
    /// changed key would pass for a first use.
    pub(crate) fn load(ctx: &Context) -> Result<Pins, HooksError> {
        let contacts = crate::contacts::load(&ctx.paths().contacts_file(ctx.space())?)?;
        let mut pins = Pins::from_contacts(&contacts);
        let mut own = vec![ctx.user().to_owned()];
        own.extend(ctx.local_agents());
        for identity in own {
            if let Some(ring) = KeyRing::load(ctx.paths(), &identity)? {
                pins.by_actor.insert(
                    identity,
                    Ok(Pin {
                        keys: *ring.current.public(),
                        verified: true,
                        seal: true,
                    }),
                );
            }
        }
        Ok(pins)
    }

    pub(crate) fn from_contacts(contacts: &[Contact]) -> Pins {
        let mut by_actor = HashMap::new();
        for contact in contacts {
            let Some(keys) = contact_keys(contact) else {
                continue;
            };
            let pin = keys.map(|keys| Pin {
                keys,
                verified: contact
                    .key_verified
                    .as_deref()
                    .is_some_and(|v| !v.trim().is_empty()),
                seal: contact.seal != Some(false),
            });
            by_actor.insert(contact.id.clone(), pin);
        }
        Pins { by_actor }
    }

    /// The pin of `actor`: `None` when it has no keys.
    pub(crate) fn of(&self, actor: &str) -> Option<&Result<Pin, String>> {
        self.by_actor.get(actor)
    }

    /// Whether `actor` has keys the person confirmed.
    pub(crate) fn is_verified(&self, actor: &str) -> bool {
        matches!(self.of(actor), Some(Ok(pin)) if pin.verified)
    }

    /// Another actor whose pinned keys these are.
    pub(crate) fn holder_of(&self, keys: &PublicKeys, besides: &str) -> Option<&str> {
        self.by_actor.iter().find_map(|(actor, pin)| match pin {
            Ok(pin) if actor != besides && pin.keys.signing == keys.signing => Some(actor.as_str()),
            _ => None,
        })
    }
}

/// The keys `contacts.yaml` pins for `contact`: `None` when it gives none, an error when
/// they cannot be used (one of the two missing, not a key).
pub(crate) fn contact_keys(contact: &Contact) -> Option<Result<PublicKeys, String>> {
    let given = |key: &Option<String>| key.clone().filter(|k| !k.trim().is_empty());
    match (given(&contact.public_key), given(&contact.encryption_key)) {
        (None, None) => None,
        (Some(signing), Some(encryption)) => Some(
            PublicKeys::from_texts(&signing, &encryption)
                .map_err(|err| format!("contacts.yaml: {err}")),
        ),
        _ => Some(Err(
            "contacts.yaml gives only one of `public_key` and `encryption_key`".to_owned(),
        )),
    }
}
