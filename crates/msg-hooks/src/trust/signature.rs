//! A message's signature as it travels: the `signature` field of `send` and `message`
//! frames (or, in a sealed message, inside the sealed payload).
//!
//! The token is `sig1.<signing key>.<encryption key>.<signature>`, each part base64url
//! without padding: the signer's public keys travel with the signature, so a receiver can
//! record a first-use key and check the signature before it knows the sender; whether the
//! key is the one it should be is the receiver's decision (`verdict.rs`), never the
//! token's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::canonical::Signable;
use super::keys::{self, PublicKeys, SecretKeys};

const PREFIX: &str = "sig1";

/// A signature token, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// The keys of whoever signed.
    pub(crate) signer: PublicKeys,
    /// The signature of the canonical form.
    pub(crate) signature: [u8; 64],
}

impl Token {
    /// Signs `message` with `keys`.
    pub(crate) fn sign(keys: &SecretKeys, message: &Signable<'_>) -> Token {
        let bytes = message.canonical(&keys.public().encryption);
        Token {
            signer: *keys.public(),
            signature: keys.sign(&bytes),
        }
    }

    /// Whether this is a valid signature of `message` by the keys it names.
    pub(crate) fn verifies(&self, message: &Signable<'_>) -> bool {
        let bytes = message.canonical(&self.signer.encryption);
        keys::verify(&self.signer, &bytes, &self.signature)
    }

    /// The token as text.
    pub(crate) fn to_text(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode(self.signer.signing),
            URL_SAFE_NO_PAD.encode(self.signer.encryption),
            URL_SAFE_NO_PAD.encode(self.signature)
        )
    }

    /// Reads a token; `None` when it is not one this version understands.
    pub(crate) fn parse(text: &str) -> Option<Token> {
        let mut parts = text.split('.');
        if parts.next()? != PREFIX {
            return None;
        }
        let mut decode = || URL_SAFE_NO_PAD.decode(parts.next()?).ok();
        let signing: [u8; 32] = decode()?.try_into().ok()?;
        let encryption: [u8; 32] = decode()?.try_into().ok()?;
        let signature: [u8; 64] = decode()?.try_into().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Token {
            signer: PublicKeys {
                signing,
                encryption,
            },
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::canonical::tests::sample;

    fn alice() -> SecretKeys {
        SecretKeys::from_bytes(&[1; 32], &[2; 32]).unwrap()
    }

    /// Ed25519 signatures are deterministic: the same keys and message give this token.
    #[test]
    fn golden_token_v1() {
        let token = Token::sign(&alice(), &sample());
        // Checked against OpenSSL's Ed25519 (Python `cryptography`) over the same bytes.
        assert_eq!(
            token.to_text(),
            concat!(
                "sig1.iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w",
                ".zo060cy2M-x7cMF4FKXHbs0CloUFDTRHRboFhw5YfVk",
                ".7U4lOp-FpieUqvsmyLkEeAF2ERLGCqqjjDL0KRE7lA-H-tfAkHwjOXwc7nEv4AukhZmQ-vzlRem2Qr9dUJ6ECA"
            )
        );
        assert_eq!(Token::parse(&token.to_text()), Some(token));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let token = Token::sign(&alice(), &sample());
        assert!(token.verifies(&sample()));
        let changed = [
            Signable {
                from: "gregor",
                ..sample()
            },
            Signable {
                to: "bob",
                ..sample()
            },
            Signable {
                content: "Can you merge PR #24?\nThanks",
                ..sample()
            },
            Signable {
                priority: "normal",
                ..sample()
            },
            Signable {
                created: "[2026-11-25 Wed 10:02]",
                ..sample()
            },
            Signable {
                reply_to: Some("x"),
                ..sample()
            },
        ];
        for message in changed {
            assert!(!token.verifies(&message), "{message:?}");
        }
        // Another encryption key beside the signature: the signature no longer holds.
        let mut swapped = token.clone();
        swapped.signer.encryption = [9; 32];
        assert!(!swapped.verifies(&sample()));
    }

    #[test]
    fn hostile_tokens_are_not_tokens() {
        let text = Token::sign(&alice(), &sample()).to_text();
        for bad in [
            "",
            "sig1",
            "sig2.a.b.c",
            &text.replacen("sig1", "sig2", 1),
            &format!("{text}.x"),
            &text[..text.len() - 2],
            "sig1.....",
            "sig1.AAAA.AAAA.AAAA",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad:?}");
        }
    }
}
