//! Sealed messages: the content (with its thread, reply, priority and signature) encrypted
//! so that only the recipient, and the sender's own key, can read it; the relay sees the
//! envelope only (from, to, ID, size, time).
//!
//! A random 32-byte content key encrypts the inner fields once (ChaCha20-Poly1305, RFC 8439;
//! a key used once, so a zero nonce). The content key is then sealed to each reader with
//! HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305):
//! to the recipient's encryption key, and to the sender's own so that a copy of the frame
//! (a relay's spool, a second machine) stays readable by the sender. Both the content and
//! each wrapped key are bound to the envelope (from, to, id) as associated data, so the
//! relay cannot move a sealed payload to another message.
//!
//! The payload, base64url in the frame's `sealed` field:
//!
//! ```text
//! version (1 byte, 1) | slots (1 byte, n)
//! n × [ key id (8 bytes: BLAKE3 of the reader's X25519 key) | HPKE encapsulated key (32) |
//!       wrapped content key (32 + 16-byte tag) ]
//! ciphertext of the inner fields (+ 16-byte tag)
//! ```
//!
//! The inner fields are length-prefixed (`canonical.rs`'s writer): content, thread?,
//! reply_to?, priority, signature token?.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{OsRng, RngCore, TryRngCore};

use super::canonical::{Reader, Writer};
use super::keys::{EncryptionSecret, Kem, PublicKeys, SecretKeys};

type Aead16 = hpke::aead::ChaCha20Poly1305;
type Kdf = hpke::kdf::HkdfSha256;

const VERSION: u8 = 1;
const INFO: &[u8] = b"datacore-messaging/seal v1";
const AAD_CONTEXT: &[u8] = b"datacore-messaging/sealed\0";
const SLOT_BYTES: usize = 8 + 32 + 32 + 16;
/// The most readers a payload may name (a hostile one cannot make a receiver try more).
const MAX_SLOTS: usize = 8;

/// What the frame says of a message in the clear: what the seal is bound to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) id: &'a str,
}

impl Envelope<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut out = Writer::with_capacity(64);
        out.raw(AAD_CONTEXT);
        out.raw(&[VERSION]);
        out.field(self.from.as_bytes());
        out.field(self.to.as_bytes());
        out.field(self.id.as_bytes());
        out.finish()
    }
}

/// The fields a seal hides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inner {
    pub(crate) content: String,
    pub(crate) thread: Option<String>,
    pub(crate) reply_to: Option<String>,
    pub(crate) priority: String,
    /// The signature token, when the message is signed.
    pub(crate) signature: Option<String>,
}

/// Why a sealed payload could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not a payload of this version (bad base64, too short, another version).
    Malformed,
    /// None of its slots is for a key of this identity.
    NotForUs,
    /// A slot is for us, but the key or the content does not decrypt: changed in transit,
    /// or moved from another message.
    Damaged,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OpenError::Malformed => "the sealed payload is not one this version can read",
            OpenError::NotForUs => "it is sealed to keys this machine does not have",
            OpenError::Damaged => {
                "it does not decrypt: changed on the way, or moved from another message"
            }
        })
    }
}

/// Seals `inner` to each of `readers` (X25519 public keys), bound to `envelope`.
pub(crate) fn seal(inner: &Inner, envelope: &Envelope<'_>, readers: &[[u8; 32]]) -> String {
    assert!(
        !readers.is_empty() && readers.len() <= MAX_SLOTS,
        "1 to {MAX_SLOTS} readers"
    );
    let aad = envelope.aad();
    let mut content_key = [0u8; 32];
    OsRng.unwrap_err().fill_bytes(&mut content_key);
    let mut out = Vec::with_capacity(2 + readers.len() * SLOT_BYTES + inner.content.len() + 64);
    out.push(VERSION);
    out.push(u8::try_from(readers.len()).expect("at most 8"));
    for reader in readers {
        let public = <Kem as hpke::Kem>::PublicKey::from_bytes(reader)
            .expect("every 32 bytes are an X25519 public key");
        let (encapped, wrapped) = hpke::single_shot_seal::<Aead16, Kdf, Kem, _>(
            &OpModeS::Base,
            &public,
            INFO,
            &content_key,
            &aad,
            &mut OsRng.unwrap_err(),
        )
        .expect("sealing 32 bytes to a valid key cannot fail");
        out.extend_from_slice(&PublicKeys::encryption_id(reader));
        out.extend_from_slice(&encapped.to_bytes());
        out.extend_from_slice(&wrapped);
    }
    let mut fields = Writer::with_capacity(inner.content.len() + 256);
    fields.field(inner.content.as_bytes());
    fields.optional(inner.thread.as_deref().map(str::as_bytes));
    fields.optional(inner.reply_to.as_deref().map(str::as_bytes));
    fields.field(inner.priority.as_bytes());
    fields.optional(inner.signature.as_deref().map(str::as_bytes));
    let cipher = ChaCha20Poly1305::new(&content_key.into());
    let sealed = cipher
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: &fields.finish(),
                aad: &aad,
            },
        )
        .expect("encryption in memory cannot fail");
    out.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(out)
}

/// Opens a payload with the first of `keys` it names (an identity's current and retired
/// keys).
pub(crate) fn open<'k>(
    payload: &str,
    envelope: &Envelope<'_>,
    keys: impl IntoIterator<Item = &'k SecretKeys>,
) -> Result<Inner, OpenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| OpenError::Malformed)?;
    let mut reader = Reader::new(&bytes);
    let [version, count] = reader.raw(2).ok_or(OpenError::Malformed)? else {
        unreachable!("two bytes")
    };
    let count = usize::from(*count);
    if *version != VERSION || count == 0 || count > MAX_SLOTS {
        return Err(OpenError::Malformed);
    }
    let slots: Vec<&[u8]> = (0..count)
        .map(|_| reader.raw(SLOT_BYTES))
        .collect::<Option<_>>()
        .ok_or(OpenError::Malformed)?;
    let ciphertext = reader.rest();
    let aad = envelope.aad();
    let keys: Vec<&SecretKeys> = keys.into_iter().collect();
    let (slot, secret) = slots
        .iter()
        .find_map(|slot| {
            keys.iter()
                .find(|keys| slot[..8] == PublicKeys::encryption_id(&keys.public().encryption))
                .map(|keys| (slot, keys.encryption()))
        })
        .ok_or(OpenError::NotForUs)?;
    let content_key = unwrap_key(slot, secret, &aad).ok_or(OpenError::Damaged)?;
    let cipher = ChaCha20Poly1305::new(&content_key.into());
    let plain = cipher
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| OpenError::Damaged)?;
    let mut fields = Reader::new(&plain);
    let inner = (|| {
        let inner = Inner {
            content: fields.text()?.to_owned(),
            thread: fields.optional_text()?.map(str::to_owned),
            reply_to: fields.optional_text()?.map(str::to_owned),
            priority: fields.text()?.to_owned(),
            signature: fields.optional_text()?.map(str::to_owned),
        };
        Some(inner)
    })()
    .ok_or(OpenError::Malformed)?;
    Ok(inner)
}

fn unwrap_key(slot: &[u8], secret: &EncryptionSecret, aad: &[u8]) -> Option<[u8; 32]> {
    let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(&slot[8..40]).ok()?;
    let key = hpke::single_shot_open::<Aead16, Kdf, Kem>(
        &OpModeR::Base,
        secret,
        &encapped,
        INFO,
        &slot[40..],
        aad,
    )
    .ok()?;
    key.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> SecretKeys {
        SecretKeys::from_bytes(&[seed; 32], &[seed.wrapping_add(100); 32]).unwrap()
    }

    const ENVELOPE: Envelope<'static> = Envelope {
        from: "alice",
        to: "bob",
        id: "msg-1",
    };

    fn inner() -> Inner {
        Inner {
            content: "the launch code is 0000".into(),
            thread: Some("msg-0".into()),
            reply_to: None,
            priority: "high".into(),
            signature: Some("sig1.x".into()),
        }
    }

    #[test]
    fn the_recipient_and_the_sender_open_it_nobody_else() {
        let (alice, bob, eve) = (keys(1), keys(2), keys(3));
        let sealed = seal(
            &inner(),
            &ENVELOPE,
            &[bob.public().encryption, alice.public().encryption],
        );
        assert!(!sealed.contains("launch"));
        assert_eq!(open(&sealed, &ENVELOPE, [&bob]).unwrap(), inner());
        assert_eq!(open(&sealed, &ENVELOPE, [&alice]).unwrap(), inner());
        assert_eq!(open(&sealed, &ENVELOPE, [&eve]), Err(OpenError::NotForUs));
        // A retired key still opens what was sealed to it.
        assert_eq!(open(&sealed, &ENVELOPE, [&eve, &bob]).unwrap(), inner());
        // Two seals of the same text differ (a new content key each time).
        assert_ne!(
            sealed,
            seal(&inner(), &ENVELOPE, &[bob.public().encryption])
        );
    }

    #[test]
    fn a_payload_moved_or_changed_does_not_open() {
        let bob = keys(2);
        let sealed = seal(&inner(), &ENVELOPE, &[bob.public().encryption]);
        for other in [
            Envelope {
                from: "gregor",
                ..ENVELOPE
            },
            Envelope {
                to: "bob-claude",
                ..ENVELOPE
            },
            Envelope {
                id: "msg-2",
                ..ENVELOPE
            },
        ] {
            assert_eq!(open(&sealed, &other, [&bob]), Err(OpenError::Damaged));
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            open(&URL_SAFE_NO_PAD.encode(&bytes), &ENVELOPE, [&bob]),
            Err(OpenError::Damaged)
        );
        for bad in ["", "!!", "AQ", "AgE", &sealed[..40]] {
            assert!(open(bad, &ENVELOPE, [&bob]).is_err(), "{bad:?}");
        }
        // A slot count over the bound is refused before anything is tried.
        bytes[1] = 200;
        assert_eq!(
            open(&URL_SAFE_NO_PAD.encode(&bytes), &ENVELOPE, [&bob]),
            Err(OpenError::Malformed)
        );
    }
}
