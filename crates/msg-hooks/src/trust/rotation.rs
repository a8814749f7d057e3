//! Key rotation: `msg keys rotate` sends each contact who holds the old keys a message,
//! signed with the new keys, in which the old keys vouch for the new ones (their signature
//! of [`rotation_statement`]). A receiver that pinned the old keys moves the pin to the new
//! ones, keeping whether the person had confirmed them; anyone else sees a key change.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::keys::{self, PublicKeys, rotation_statement};

/// The line that marks an announcement, and its fields, one per line.
const MARK: &str = "datacore-key-rotation: v1";

/// An announcement, read from a message's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rotation {
    pub(crate) identity: String,
    pub(crate) old: PublicKeys,
    pub(crate) new: PublicKeys,
    signature: [u8; 64],
}

/// The text of the announcement of `identity`'s move from `old` to `new`, with the old keys'
/// `signature` of the statement.
pub(crate) fn announcement(
    identity: &str,
    old: &PublicKeys,
    new: &PublicKeys,
    signature: &[u8; 64],
) -> String {
    format!(
        "{identity} has new keys: fingerprint {} (was {}). The old keys vouch for the new ones below; \
         your client moves its pin when it held the old keys.\n\
         {MARK}\nidentity: {identity}\nold: {}\nnew: {}\nsignature: {}",
        new.fingerprint(),
        old.fingerprint(),
        old.card(),
        new.card(),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

impl Rotation {
    /// The announcement in `text`, if it holds one that reads.
    pub(crate) fn parse(text: &str) -> Option<Rotation> {
        let mut lines = text.lines().skip_while(|line| line.trim() != MARK).skip(1);
        let mut field = |name: &str| {
            let line = lines.next()?;
            line.strip_prefix(name)?.strip_prefix(": ").map(str::trim)
        };
        let identity = field("identity")?.to_owned();
        let old = PublicKeys::from_card(field("old")?).ok()?;
        let new = PublicKeys::from_card(field("new")?).ok()?;
        let signature = URL_SAFE_NO_PAD
            .decode(field("signature")?)
            .ok()?
            .try_into()
            .ok()?;
        Some(Rotation {
            identity,
            old,
            new,
            signature,
        })
    }

    /// Whether this moves `from`'s `pinned` keys to `signer`'s: it is `from`'s, from the
    /// pinned keys to the keys that signed the message, and the pinned keys signed it.
    pub(crate) fn moves(&self, from: &str, pinned: &PublicKeys, signer: &PublicKeys) -> bool {
        self.identity == from
            && self.old == *pinned
            && self.new == *signer
            && keys::verify(
                pinned,
                &rotation_statement(from, &self.old, &self.new),
                &self.signature,
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keys::SecretKeys;

    #[test]
    fn an_announcement_moves_only_the_pin_it_was_signed_for() {
        let old = SecretKeys::from_bytes(&[1; 32], &[2; 32]).unwrap();
        let new = SecretKeys::from_bytes(&[3; 32], &[4; 32]).unwrap();
        let other = SecretKeys::from_bytes(&[5; 32], &[6; 32]).unwrap();
        let statement = rotation_statement("gregor", old.public(), new.public());
        let text = announcement("gregor", old.public(), new.public(), &old.sign(&statement));
        let rotation = Rotation::parse(&text).unwrap();
        assert!(rotation.moves("gregor", old.public(), new.public()));
        assert!(!rotation.moves("alice", old.public(), new.public()));
        assert!(!rotation.moves("gregor", other.public(), new.public()));
        assert!(!rotation.moves("gregor", old.public(), other.public()));
        // Signed by the new keys instead of the old: vouches for nothing.
        let forged = announcement("gregor", old.public(), new.public(), &new.sign(&statement));
        assert!(
            !Rotation::parse(&forged)
                .unwrap()
                .moves("gregor", old.public(), new.public())
        );
        assert_eq!(Rotation::parse("hello"), None);
        assert_eq!(Rotation::parse(&text.replace("old: ", "old ")), None);
    }
}
