//! What the receiving client concluded about a message: the check, its words, and the
//! properties the inbox entry keeps (`SIGNATURE`, `SIGNED_BY`, `ENCRYPTED`,
//! `SIGNATURE_CHECK`, `SIGNATURE_NOTE`), which intake and `msg show` read back.

use msg_core::config::SignaturePolicy;

use super::keys::PublicKeys;
use super::pins::Pins;
use super::seal::OpenError;
use crate::context::Context;

/// The signature token as received.
pub(crate) const SIGNATURE: &str = "SIGNATURE";
/// The fingerprint of the keys that signed.
pub(crate) const SIGNED_BY: &str = "SIGNED_BY";
/// `yes` when the message travelled sealed.
pub(crate) const ENCRYPTED: &str = "ENCRYPTED";
/// [`Check::code`].
pub(crate) const SIGNATURE_CHECK: &str = "SIGNATURE_CHECK";
/// [`Check::note`], for every check but `verified`.
pub(crate) const SIGNATURE_NOTE: &str = "SIGNATURE_NOTE";
/// On a task taken in from such a message: why its sender's tier did not apply
/// ([`withheld`]).
pub(crate) const TIER_WITHHELD: &str = "TIER_WITHHELD";

/// The outcome of checking one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// A valid signature from the key the person confirmed for the sender (or one of this
    /// machine's own identities).
    Verified,
    /// A valid signature from a key nobody confirmed: the sender's pinned key, or (`first_use`)
    /// a key seen for the first time.
    UnverifiedKey { first_use: bool },
    /// No signature (a v0.2.0 client, a sender without keys, or a relay that removed it).
    Unsigned,
    /// A signature that does not match the message.
    Invalid,
    /// A valid signature from new keys that the sender's pinned keys vouch for in the
    /// message itself (`msg keys rotate`): the pin moves to them, still `confirmed` or not.
    Rotated { confirmed: bool },
    /// A valid signature from a key other than the one pinned for the sender.
    KeyChanged { pinned: String },
    /// A valid signature from the key pinned for someone else.
    KeyOfAnother { holder: String },
    /// The same sender's message with this ID came before.
    Replayed,
    /// Created outside the replay window, or with a time that cannot be read.
    Stale { created: String },
    /// Sealed, and it does not open here.
    Unreadable(OpenError),
    /// The keys pinned for the sender cannot be read.
    BadPin { reason: String },
}

impl Check {
    /// The value of `SIGNATURE_CHECK`.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Check::Verified => "verified",
            Check::UnverifiedKey { .. } | Check::Rotated { confirmed: false } => "unverified-key",
            Check::Rotated { confirmed: true } => "verified",
            Check::Unsigned => "unsigned",
            Check::Invalid => "invalid",
            Check::KeyChanged { .. } => "key-changed",
            Check::KeyOfAnother { .. } => "key-of-another",
            Check::Replayed => "replayed",
            Check::Stale { .. } => "stale",
            Check::Unreadable(_) => "unreadable",
            Check::BadPin { .. } => "bad-pin",
        }
    }

    /// Whether the signature is valid and made by the key it names (whoever that is).
    pub(crate) fn signature_holds(&self) -> bool {
        matches!(
            self,
            Check::Verified
                | Check::UnverifiedKey { .. }
                | Check::Rotated { .. }
                | Check::KeyChanged { .. }
                | Check::KeyOfAnother { .. }
        )
    }

    /// What people read: why the message counts as it does.
    pub(crate) fn note(&self, from: &str, signer: Option<&PublicKeys>) -> String {
        let fingerprint = signer.map(PublicKeys::fingerprint).unwrap_or_default();
        match self {
            Check::Verified => format!("signed with {from}'s confirmed key ({fingerprint})"),
            Check::UnverifiedKey { first_use: true } => format!(
                "signed with a key {from} used for the first time ({fingerprint}), not confirmed: compare the fingerprint with {from} and run `msg contacts verify {from}`"
            ),
            Check::UnverifiedKey { first_use: false } => format!(
                "signed with {from}'s key ({fingerprint}), not confirmed: compare the fingerprint with {from} and run `msg contacts verify {from}`"
            ),
            Check::Rotated { confirmed } => format!(
                "{from} moved to new keys ({fingerprint}); the keys pinned for {from}{} vouch for them in this message",
                if *confirmed { ", which you confirmed," } else { "" }
            ),
            Check::Unsigned => "not signed".to_owned(),
            Check::Invalid => "the signature does not match the message: sender, recipient, time or text changed on the way".to_owned(),
            Check::KeyChanged { pinned } => format!(
                "KEY CHANGED: signed with {fingerprint}, but contacts.yaml pins {pinned} for {from}; refused. If {from} has a new key, confirm it with them, then `msg contacts add {from} --key … --replace`"
            ),
            Check::KeyOfAnother { holder } => format!(
                "signed with {holder}'s key ({fingerprint}), not {from}'s: the sender's name was changed on the way"
            ),
            Check::Replayed => format!("a replay: {from}'s message with this ID came before"),
            Check::Stale { created } => format!(
                "created {created}, outside the replay window (8 days back, 1 day ahead): it cannot be told from a replay"
            ),
            Check::Unreadable(reason) => format!("sealed, and it does not open here: {reason}"),
            Check::BadPin { reason } => format!("the keys pinned for {from} cannot be used: {reason}"),
        }
    }
}

/// The pinned keys (or why they cannot be read) and the signature policy, read once, to tell
/// of each received message whether its sender's tier applies ([`withheld`]).
pub(crate) struct Judge {
    pins: Result<Pins, String>,
    policy: SignaturePolicy,
}

impl Judge {
    pub(crate) fn load(ctx: &Context) -> Self {
        Judge {
            pins: Pins::load(ctx).map_err(|err| err.to_string()),
            policy: ctx.settings().messaging.require_signatures,
        }
    }

    /// [`withheld`] with these pins and this policy.
    pub(crate) fn withheld(&self, message: &msg_store::Message) -> Option<String> {
        withheld(
            message,
            self.policy,
            self.pins.as_ref().map_err(String::as_str),
        )
    }
}

/// Why the sender's tier does not apply to `message` (it counts as tier `unknown`), or
/// `None` when it applies: a message that did not come through a relay (written on this
/// machine), a verified signature, or an unsigned one (or one from a key nobody confirmed)
/// from a sender `policy` does not require a signature of. `pins` (or why they cannot be
/// read) say whether the sender has a confirmed key.
pub(crate) fn withheld(
    message: &msg_store::Message,
    policy: SignaturePolicy,
    pins: Result<&Pins, &str>,
) -> Option<String> {
    if message.property("VIA") != Some("relay") {
        return None;
    }
    let from = &message.from;
    let code = message.property(SIGNATURE_CHECK).unwrap_or("unsigned");
    let note = || {
        message
            .property(SIGNATURE_NOTE)
            .map(str::to_owned)
            .unwrap_or_else(|| "not signed".to_owned())
    };
    match code {
        "verified" => None,
        "unsigned" | "unverified-key" => {
            let confirmed = match pins {
                Ok(pins) => pins.is_verified(from),
                Err(reason) => return Some(format!("{}; {reason}", note())),
            };
            if confirmed {
                Some(format!(
                    "{}; {from}'s key is confirmed, so only a message signed with it counts",
                    note()
                ))
            } else if policy == SignaturePolicy::Always {
                Some(format!("{} (messaging.require_signatures: always)", note()))
            } else {
                None
            }
        }
        _ => Some(note()),
    }
}

/// A received message's check as properties of its inbox entry.
pub(crate) fn properties(
    check: &Check,
    from: &str,
    signer: Option<&PublicKeys>,
    token: Option<&str>,
    sealed: bool,
) -> Vec<(String, String)> {
    let mut properties = Vec::new();
    if let Some(token) = token {
        properties.push((SIGNATURE.to_owned(), token.to_owned()));
    }
    if let Some(signer) = signer {
        properties.push((SIGNED_BY.to_owned(), signer.fingerprint()));
    }
    if sealed {
        properties.push((ENCRYPTED.to_owned(), "yes".to_owned()));
    }
    properties.push((SIGNATURE_CHECK.to_owned(), check.code().to_owned()));
    if *check != Check::Verified {
        properties.push((SIGNATURE_NOTE.to_owned(), check.note(from, signer)));
    }
    properties
}
