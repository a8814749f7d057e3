//! What `benches/trust.rs` times: the trust work of one message, through the same functions
//! the relay client calls. Public only for the benchmark (hidden from the docs): the
//! benchmark is another crate and cannot reach the `pub(crate)` wing otherwise.

use super::canonical::Signable;
use super::keys::SecretKeys;
use super::seal::{self, Envelope, Inner};
use super::signature::Token;

/// Two identities' keys and a message between them.
pub struct Sample {
    alice: SecretKeys,
    bob: SecretKeys,
    content: String,
}

/// A message of `content` from alice to bob, with fixed keys.
pub fn sample(content: &str) -> Sample {
    Sample {
        alice: SecretKeys::from_bytes(&[1; 32], &[2; 32]).expect("fixed keys"),
        bob: SecretKeys::from_bytes(&[3; 32], &[4; 32]).expect("fixed keys"),
        content: content.to_owned(),
    }
}

impl Sample {
    fn signable(&self) -> Signable<'_> {
        Signable {
            from: "alice",
            to: "bob-claude",
            id: "msg-20261124-100259-1a2b3c4d5e6f",
            created: "[2026-11-24 Tue 10:02]",
            reply_to: None,
            thread: None,
            content: &self.content,
            priority: "normal",
        }
    }

    /// The signature token, as the sender makes it.
    pub fn sign(&self) -> String {
        Token::sign(&self.alice, &self.signable()).to_text()
    }

    /// Whether `token` verifies, as the receiver checks it (parse, canonical form, Ed25519).
    pub fn verify(&self, token: &str) -> bool {
        Token::parse(token).is_some_and(|token| token.verifies(&self.signable()))
    }

    /// The sealed payload to bob and alice, as the sender makes it.
    pub fn seal(&self, signature: &str) -> String {
        let inner = Inner {
            content: self.content.clone(),
            priority: "normal".into(),
            signature: Some(signature.to_owned()),
            ..Inner::default()
        };
        seal::seal(
            &inner,
            &self.envelope(),
            &[self.bob.public().encryption, self.alice.public().encryption],
        )
    }

    /// The content of `payload`, opened by bob.
    pub fn open(&self, payload: &str) -> Option<String> {
        seal::open(payload, &self.envelope(), [&self.bob])
            .ok()
            .map(|inner| inner.content)
    }

    fn envelope(&self) -> Envelope<'static> {
        Envelope {
            from: "alice",
            to: "bob-claude",
            id: "msg-20261124-100259-1a2b3c4d5e6f",
        }
    }
}
