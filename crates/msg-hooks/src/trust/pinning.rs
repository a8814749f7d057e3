//! Pins written to `contacts.yaml` (`public_key`, `encryption_key`, `key_verified`): keys
//! recorded on their first use, unconfirmed; keys the person gives (`msg contacts add
//! --key`); the person's confirmation of the fingerprint (`msg contacts verify`); a pin
//! moved by a rotation announcement the old keys signed.
//!
//! Each is one change of the file under its lock ([`update::set_fields`]) that first checks
//! the pin is still the one the decision was made on, so a key is never replaced by a
//! change decided on an older reading. Only a changed key the person gives with
//! `--replace` replaces a pin; a changed key in a message never does (it is refused on
//! receipt, [`super::verdict::Check::KeyChanged`]).

use std::path::Path;

use super::keys::PublicKeys;
use super::pins::contact_keys;
use crate::contacts::Contact;
use crate::contacts::edit::Value;
use crate::contacts::update;
use crate::error::{HooksError, TrustError};

/// What [`pin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pinned {
    /// The actor had no keys; these are pinned now, unconfirmed.
    New,
    /// The actor already had these keys: nothing changed.
    Same,
    /// Other keys (this fingerprint) were pinned; replaced, and the confirmation dropped.
    Replaced { old: String },
}

fn key_fields(keys: &PublicKeys) -> [(&'static str, Option<Value>); 2] {
    [
        ("public_key", Some(Value::Text(keys.signing_text()))),
        ("encryption_key", Some(Value::Text(keys.encryption_text()))),
    ]
}

/// The keys pinned for `contact`, `None` when it has none; keys written wrong are an error
/// naming the file.
fn pinned(contact: &Contact, path: &Path) -> Result<Option<PublicKeys>, HooksError> {
    match contact_keys(contact) {
        None => Ok(None),
        Some(Ok(keys)) => Ok(Some(keys)),
        Some(Err(reason)) => Err(HooksError::BadFile {
            path: path.to_owned(),
            line: None,
            message: format!("the keys of {}: {reason}", contact.id),
        }),
    }
}

/// `msg contacts add ACTOR --key CARD` for a listed actor: pins `keys` when it has none;
/// the same keys change nothing; other keys are refused ([`TrustError::KeyChanged`]) unless
/// `replace`, which also drops the person's confirmation of the old ones.
pub(crate) fn pin(
    path: &Path,
    actor: &str,
    keys: &PublicKeys,
    replace: bool,
) -> Result<Pinned, HooksError> {
    let book = crate::contacts::load_book(path)?;
    let id = crate::contacts::resolve(&book.actors, actor, path)?;
    let old = match book.actor(&id) {
        Some(contact) => pinned(contact, path)?,
        None => None,
    };
    let outcome = match old {
        None => Pinned::New,
        Some(old) if old == *keys => return Ok(Pinned::Same),
        Some(old) if replace => Pinned::Replaced {
            old: old.fingerprint(),
        },
        Some(old) => {
            return Err(TrustError::KeyChanged {
                path: path.to_owned(),
                actor: id,
                pinned: old.fingerprint(),
                given: keys.fingerprint(),
            }
            .into());
        }
    };
    let [signing, encryption] = key_fields(keys);
    update::set_fields(
        path,
        &id,
        &[signing, encryption, ("key_verified", None)],
        |contact| {
            if pinned(contact, path)? == old {
                Ok(())
            } else {
                Err(TrustError::PinMoved {
                    path: path.to_owned(),
                    actor: id.clone(),
                }
                .into())
            }
        },
    )?;
    Ok(outcome)
}

/// `msg contacts verify ACTOR`: records today as when the person confirmed the pinned
/// keys' fingerprint. `given`, when there is one, must be that fingerprint (spaces and case
/// aside). Returns the fingerprint and whether it had been confirmed before.
pub(crate) fn confirm(
    path: &Path,
    actor: &str,
    given: Option<&str>,
    today: &str,
) -> Result<(String, bool), HooksError> {
    let mut found = None;
    update::set_fields(
        path,
        actor,
        &[("key_verified", Some(Value::Text(today.to_owned())))],
        |contact| {
            let Some(keys) = pinned(contact, path)? else {
                return Err(TrustError::NoKey {
                    path: path.to_owned(),
                    actor: contact.id.clone(),
                }
                .into());
            };
            let fingerprint = keys.fingerprint();
            if let Some(given) = given
                && !same_fingerprint(given, &fingerprint)
            {
                return Err(TrustError::FingerprintMismatch {
                    actor: contact.id.clone(),
                    pinned: fingerprint,
                    given: given.to_owned(),
                }
                .into());
            }
            let before = contact
                .key_verified
                .as_deref()
                .is_some_and(|v| !v.trim().is_empty());
            found = Some((fingerprint, before));
            Ok(())
        },
    )?;
    Ok(found.expect("set by the check"))
}

/// Whether a fingerprint as someone typed it is `fingerprint` (spaces, dashes and case
/// aside).
fn same_fingerprint(given: &str, fingerprint: &str) -> bool {
    let bare = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != ':')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    bare(given) == bare(fingerprint)
}

/// Records `keys`, seen for the first time in a valid signature of `actor`'s, as its pin,
/// unconfirmed: only for an actor listed in the contacts file without keys (a stranger's
/// message counts as tier `unknown` anyway; `msg contacts add` makes it a contact). Returns
/// whether it was recorded.
pub(crate) fn record_first_use(
    path: &Path,
    actor: &str,
    keys: &PublicKeys,
) -> Result<bool, HooksError> {
    let book = crate::contacts::load_book(path)?;
    match book.actor(actor) {
        Some(contact) if contact_keys(contact).is_none() => {}
        _ => return Ok(false),
    }
    update::set_fields(
        path,
        actor,
        &key_fields(keys),
        |contact| match contact_keys(contact) {
            None => Ok(()),
            Some(_) => Err(TrustError::PinMoved {
                path: path.to_owned(),
                actor: actor.to_owned(),
            }
            .into()),
        },
    )?;
    Ok(true)
}

/// Moves `actor`'s pin from `old` to `new`, as a rotation announcement signed by `old`
/// asks; the person's confirmation (`key_verified`) stays as it was, since the keys they
/// confirmed vouch for the new ones.
pub(crate) fn move_pin(
    path: &Path,
    actor: &str,
    old: &PublicKeys,
    new: &PublicKeys,
) -> Result<(), HooksError> {
    update::set_fields(path, actor, &key_fields(new), |contact| {
        match pinned(contact, path)? {
            Some(keys) if keys == *old => Ok(()),
            _ => Err(TrustError::PinMoved {
                path: path.to_owned(),
                actor: actor.to_owned(),
            }
            .into()),
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keys::SecretKeys;

    fn keys(seed: u8) -> PublicKeys {
        *SecretKeys::from_bytes(&[seed; 32], &[seed + 1; 32])
            .unwrap()
            .public()
    }

    fn contact(path: &Path, actor: &str) -> Contact {
        crate::contacts::load_book(path)
            .unwrap()
            .actor(actor)
            .unwrap()
            .clone()
    }

    const FILE: &str =
        "# people\nactors:\n  - id: ann  # from work\n    trust_tier: team\n  - id: bob\n";

    #[test]
    fn a_first_key_is_recorded_once_and_unconfirmed_for_listed_actors_only() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("contacts.yaml");
        std::fs::write(&path, FILE).unwrap();
        assert!(record_first_use(&path, "ann", &keys(1)).unwrap());
        // A second first use (another key) does not replace it; a stranger is not added.
        assert!(!record_first_use(&path, "ann", &keys(3)).unwrap());
        assert!(!record_first_use(&path, "mallory", &keys(3)).unwrap());
        let ann = contact(&path, "ann");
        assert_eq!(
            contact_keys(&ann).unwrap().unwrap(),
            keys(1),
            "the first key stays"
        );
        assert_eq!(ann.key_verified, None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# people\nactors:\n  - id: ann  # from work\n    trust_tier: team\n    public_key: \"ed25519:"),
            "{text}"
        );
        assert!(text.ends_with("  - id: bob\n"), "{text}");
    }

    #[test]
    fn a_pin_changes_only_when_asked_to_replace_it() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("contacts.yaml");
        std::fs::write(&path, FILE).unwrap();
        assert_eq!(pin(&path, "bob", &keys(1), false).unwrap(), Pinned::New);
        confirm(&path, "bob", None, "2026-12-07").unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        assert_eq!(pin(&path, "bob", &keys(1), false).unwrap(), Pinned::Same);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        let err = pin(&path, "bob", &keys(3), false).unwrap_err().to_string();
        assert!(
            err.contains("refused") && err.contains("--replace"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        assert_eq!(
            pin(&path, "bob", &keys(3), true).unwrap(),
            Pinned::Replaced {
                old: keys(1).fingerprint()
            }
        );
        let bob = contact(&path, "bob");
        assert_eq!(contact_keys(&bob).unwrap().unwrap(), keys(3));
        assert_eq!(bob.key_verified, None, "the new keys are not confirmed");
    }

    #[test]
    fn a_confirmation_needs_a_pin_and_the_right_fingerprint() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("contacts.yaml");
        std::fs::write(&path, FILE).unwrap();
        let err = confirm(&path, "ann", None, "2026-12-07").unwrap_err();
        assert!(
            err.to_string().contains("no key is pinned for ann"),
            "{err}"
        );
        record_first_use(&path, "ann", &keys(1)).unwrap();
        let fingerprint = keys(1).fingerprint();
        let err = confirm(&path, "ann", Some(&keys(3).fingerprint()), "2026-12-07")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not confirmed"), "{err}");
        assert_eq!(contact(&path, "ann").key_verified, None);
        let typed = fingerprint.replace(' ', "").to_uppercase();
        assert_eq!(
            confirm(&path, "ann", Some(&typed), "2026-12-07").unwrap(),
            (fingerprint.clone(), false)
        );
        assert_eq!(
            contact(&path, "ann").key_verified.as_deref(),
            Some("2026-12-07")
        );
        assert_eq!(
            confirm(&path, "ann", None, "2026-12-08").unwrap(),
            (fingerprint, true)
        );
    }

    #[test]
    fn a_rotation_moves_only_the_pin_it_names_and_keeps_the_confirmation() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("contacts.yaml");
        std::fs::write(&path, FILE).unwrap();
        pin(&path, "ann", &keys(1), false).unwrap();
        confirm(&path, "ann", None, "2026-12-07").unwrap();
        let err = move_pin(&path, "ann", &keys(5), &keys(3)).unwrap_err();
        assert!(err.to_string().contains("changed meanwhile"), "{err}");
        move_pin(&path, "ann", &keys(1), &keys(3)).unwrap();
        let ann = contact(&path, "ann");
        assert_eq!(contact_keys(&ann).unwrap().unwrap(), keys(3));
        assert_eq!(ann.key_verified.as_deref(), Some("2026-12-07"));
    }
}
