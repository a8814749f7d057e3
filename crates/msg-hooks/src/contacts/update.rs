//! Changing `contacts.yaml`: `msg contacts add`, `remove` and `trust`, and any other field
//! of an actor ([`set_field`]).
//!
//! Every change is one step under the file's lock (`contacts.yaml.lock`, msg-core's
//! [`FileLock`]): read the file as it is now, change the lines of one actor ([`super::edit`]),
//! read the result back through the same parser every command uses and check that it is
//! exactly the old contents with that one change (so a layout the editor misjudged can
//! never be written), then write it atomically ([`write_atomically`]). A missing file starts
//! from the template, comments included. Values are checked first: an actor ID as the relay
//! checks names, a tier that the settings define, handles that name no other actor.

use std::path::Path;

use msg_core::durable::{DEFAULT_LOCK_TIMEOUT, FileLock, write_atomically};
use msg_core::validate;

use super::edit::{self, Value};
use super::{Contact, ContactBook, parse_book, resolve};
use crate::error::HooksError;

/// An actor to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NewContact {
    /// The actor ID.
    pub(crate) id: String,
    /// A display name.
    pub(crate) name: Option<String>,
    /// Other names (`@tex` or `tex`).
    pub(crate) handles: Vec<String>,
    /// The tier to note.
    pub(crate) tier: Option<String>,
    /// The date it is added (`2026-12-07`).
    pub(crate) added: String,
}

/// An actor ID as the relay accepts names ([`msg_relay::validate_username`]: one line, no
/// control characters, at most 128 bytes), not starting with `@` (that marks a handle).
pub(crate) fn check_actor_id(field: &str, id: &str) -> Result<(), HooksError> {
    validate::actor(field, id)?;
    if let Err(err) = msg_relay::validate_username(id) {
        return Err(HooksError::InvalidName {
            field: field.to_owned(),
            value: id.to_owned(),
            reason: err.to_string(),
        });
    }
    if id.starts_with('@') {
        return Err(HooksError::InvalidName {
            field: field.to_owned(),
            value: id.to_owned(),
            reason: "an ID does not start with @ (that marks a handle); give the ID".into(),
        });
    }
    Ok(())
}

/// `tier` when the settings define it (`tiers`: built in and `messaging.trust_tiers`).
fn check_tier(tier: &str, tiers: &[String]) -> Result<(), HooksError> {
    if tiers.iter().any(|t| t == tier) {
        return Ok(());
    }
    Err(HooksError::InvalidName {
        field: "tier".into(),
        value: tier.to_owned(),
        reason: format!(
            "not a tier: use {} (or define it under messaging.trust_tiers)",
            tiers.join(", ")
        ),
    })
}

/// Handles that are one line, not empty, and name no other actor (by ID or handle).
fn check_handles(book: &ContactBook, id: &str, handles: &[String]) -> Result<(), HooksError> {
    for handle in handles {
        let bare = handle.strip_prefix('@').unwrap_or(handle);
        validate::actor("handle", bare)?;
        let taken = book.actors.iter().find(|other| {
            other.id != id
                && (other.id.eq_ignore_ascii_case(bare)
                    || other
                        .handles
                        .iter()
                        .any(|h| h.strip_prefix('@').unwrap_or(h).eq_ignore_ascii_case(bare)))
        });
        if let Some(other) = taken {
            return Err(HooksError::InvalidName {
                field: "handle".into(),
                value: handle.clone(),
                reason: format!("it already names {:?}", other.id),
            });
        }
    }
    Ok(())
}

/// Adds an actor; an ID already listed is an error (use [`set_tier`] or [`set_field`]).
pub(crate) fn add(path: &Path, new: &NewContact, tiers: &[String]) -> Result<Contact, HooksError> {
    check_actor_id("id", &new.id)?;
    if let Some(name) = &new.name {
        validate::actor("name", name)?;
    }
    if let Some(tier) = &new.tier {
        check_tier(tier, tiers)?;
    }
    let contact = Contact {
        id: new.id.clone(),
        name: new.name.clone(),
        handles: new.handles.clone(),
        trust_tier: new.tier.clone(),
        added: Some(new.added.clone()),
        other: Default::default(),
    };
    change(path, |text, book| {
        if book.actor(&new.id).is_some() {
            return Err(HooksError::InvalidName {
                field: "id".into(),
                value: new.id.clone(),
                reason: format!(
                    "already in {}; `msg contacts trust {} TIER` changes its tier",
                    path.display(),
                    new.id
                ),
            });
        }
        check_handles(book, &new.id, &new.handles)?;
        let mut fields = vec![("id", Value::Text(new.id.clone()))];
        if let Some(name) = &new.name {
            fields.push(("name", Value::Text(name.clone())));
        }
        if !new.handles.is_empty() {
            fields.push(("handles", Value::List(new.handles.clone())));
        }
        if let Some(tier) = &new.tier {
            fields.push(("trust_tier", Value::Text(tier.clone())));
        }
        fields.push(("added", Value::Text(new.added.clone())));
        let text = edit::add_actor(text, &fields).map_err(|e| cannot(path, e))?;
        let mut expected = book.clone();
        expected.actors.push(contact.clone());
        Ok((text, expected))
    })?;
    Ok(contact)
}

/// Removes the actor `given` (its ID, or `@handle`); returns it as it was.
pub(crate) fn remove(path: &Path, given: &str) -> Result<Contact, HooksError> {
    let mut removed = None;
    change(path, |text, book| {
        let id = listed(book, given, path)?;
        let text = edit::remove_actor(text, &id).map_err(|e| cannot(path, e))?;
        let mut expected = book.clone();
        let index = expected
            .actors
            .iter()
            .position(|c| c.id == id)
            .expect("listed");
        removed = Some(expected.actors.remove(index));
        Ok((text, expected))
    })?;
    Ok(removed.expect("set by the change"))
}

/// Notes `tier` for the actor `given` (ID or `@handle`); returns the actor as it is now.
pub(crate) fn set_tier(
    path: &Path,
    given: &str,
    tier: &str,
    tiers: &[String],
) -> Result<Contact, HooksError> {
    check_tier(tier, tiers)?;
    set_field(path, given, "trust_tier", &Value::Text(tier.to_owned()))
}

/// Sets `key` of the actor `given` (ID or `@handle`) to `value`: one of the known fields, or
/// any other, which the file keeps as [`Contact::other`]. Returns the actor as it is now.
pub(crate) fn set_field(
    path: &Path,
    given: &str,
    key: &str,
    value: &Value,
) -> Result<Contact, HooksError> {
    if key == "id" {
        return Err(HooksError::InvalidName {
            field: "key".into(),
            value: key.to_owned(),
            reason: "an actor's id is how it is found; remove it and add it again".into(),
        });
    }
    match value {
        Value::Text(text) => validate::single_line(key, text)?,
        Value::List(items) => {
            for item in items {
                validate::single_line(key, item)?;
            }
        }
    }
    let mut changed = None;
    change(path, |text, book| {
        let id = listed(book, given, path)?;
        if key == "handles"
            && let Value::List(handles) = value
        {
            check_handles(book, &id, handles)?;
        }
        let text = edit::set_field(text, &id, key, value).map_err(|e| cannot(path, e))?;
        let mut expected = book.clone();
        let contact = expected
            .actors
            .iter_mut()
            .find(|c| c.id == id)
            .expect("listed");
        let text_value = || match value {
            Value::Text(text) => Some(text.clone()),
            Value::List(_) => None,
        };
        match key {
            "name" => contact.name = text_value(),
            "trust_tier" => contact.trust_tier = text_value(),
            "added" => contact.added = text_value(),
            "handles" => {
                contact.handles = match value {
                    Value::List(items) => items.clone(),
                    Value::Text(text) => vec![text.clone()],
                }
            }
            other => {
                contact.other.insert(
                    other.to_owned(),
                    match value {
                        Value::Text(text) => serde_yaml::Value::String(text.clone()),
                        Value::List(items) => serde_yaml::Value::Sequence(
                            items
                                .iter()
                                .map(|i| serde_yaml::Value::String(i.clone()))
                                .collect(),
                        ),
                    },
                );
            }
        }
        changed = Some(contact.clone());
        Ok((text, expected))
    })?;
    Ok(changed.expect("set by the change"))
}

/// The ID of the listed actor `given` names (its ID, or `@handle`).
fn listed(book: &ContactBook, given: &str, path: &Path) -> Result<String, HooksError> {
    let id = resolve(&book.actors, given, path)?;
    if book.actor(&id).is_none() {
        return Err(HooksError::NotFound {
            what: "contact",
            given: given.to_owned(),
            path: path.to_owned(),
            also: Vec::new(),
        });
    }
    Ok(id)
}

fn cannot(path: &Path, err: edit::EditError) -> HooksError {
    HooksError::BadFile {
        path: path.to_owned(),
        line: err.line,
        message: format!("{}; nothing was changed", err.message),
    }
}

/// One change of the file under its lock: `edit` gets the text and what it reads as, and
/// returns the new text and what it must read as; it is written only if it does.
fn change(
    path: &Path,
    edit: impl FnOnce(&str, &ContactBook) -> Result<(String, ContactBook), HooksError>,
) -> Result<(), HooksError> {
    let _lock = FileLock::exclusive(path, DEFAULT_LOCK_TIMEOUT)?;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => super::TEMPLATE.to_owned(),
        Err(err) => return Err(HooksError::io("read", path)(err)),
    };
    let book = parse_book(&text, path)?;
    let (new_text, expected) = edit(&text, &book)?;
    let reads_as = parse_book(&new_text, path).map_err(|err| HooksError::BadFile {
        path: path.to_owned(),
        line: None,
        message: format!(
            "the edit would not read back ({err}); nothing was changed: make the change by hand"
        ),
    })?;
    if reads_as != expected {
        return Err(HooksError::BadFile {
            path: path.to_owned(),
            line: None,
            message: "the edit would change more than the one actor (an unusual layout); nothing was changed: make the change by hand".into(),
        });
    }
    write_atomically(path, new_text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<String> {
        ["owner", "team", "trusted", "unknown"]
            .map(str::to_owned)
            .to_vec()
    }

    fn new(id: &str) -> NewContact {
        NewContact {
            id: id.into(),
            added: "2026-12-07".into(),
            ..NewContact::default()
        }
    }

    #[test]
    fn add_trust_and_remove_change_only_their_actor() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("contacts.yaml");
        let mine = "# my contacts\nactors:\n  - id: ann   # from work\n    name: Ann\n# end\ngroups:\n  team: [ann, \"@t\"]\n";
        std::fs::write(&path, mine).unwrap();
        let tex = NewContact {
            handles: vec!["@t".into()],
            tier: Some("team".into()),
            ..new("tex@team.example.com")
        };
        add(&path, &tex, &tiers()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my contacts\nactors:\n  - id: ann   # from work\n    name: Ann\n  - id: tex@team.example.com\n    handles: [\"@t\"]\n    trust_tier: team\n    added: \"2026-12-07\"\n# end\n"), "{text}");
        let book = super::super::load_book(&path).unwrap();
        assert_eq!(
            book.group("team", &path).unwrap(),
            ["ann", "tex@team.example.com"]
        );
        let changed = set_tier(&path, "@t", "trusted", &tiers()).unwrap();
        assert_eq!(changed.trust_tier.as_deref(), Some("trusted"));
        let removed = remove(&path, "ann").unwrap();
        assert_eq!(removed.name.as_deref(), Some("Ann"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# my contacts\nactors:\n  - id: tex@team.example.com\n"),
            "{text}"
        );
        // A field of a later version is kept as written and can be set.
        set_field(
            &path,
            "tex@team.example.com",
            "public_key",
            &Value::Text("ed25519:AAAA".into()),
        )
        .unwrap();
        let book = super::super::load_book(&path).unwrap();
        assert_eq!(
            book.actors[0].other["public_key"],
            serde_yaml::Value::String("ed25519:AAAA".into())
        );
        set_tier(&path, "tex@team.example.com", "team", &tiers()).unwrap();
        let book = super::super::load_book(&path).unwrap();
        assert_eq!(book.actors[0].other.len(), 1);
    }

    #[test]
    fn bad_values_change_nothing() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("contacts.yaml");
        add(&path, &new("ann"), &tiers()).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        assert!(before.contains("`msg contacts add`") || before.contains("actors:"));
        let refused = [
            add(&path, &new("ann"), &tiers()).unwrap_err().to_string(),
            add(&path, &new(&"x".repeat(300)), &tiers())
                .unwrap_err()
                .to_string(),
            add(&path, &new("@bob"), &tiers()).unwrap_err().to_string(),
            add(
                &path,
                &NewContact {
                    tier: Some("tem".into()),
                    ..new("bob")
                },
                &tiers(),
            )
            .unwrap_err()
            .to_string(),
            add(
                &path,
                &NewContact {
                    handles: vec!["ANN".into()],
                    ..new("bob")
                },
                &tiers(),
            )
            .unwrap_err()
            .to_string(),
            set_tier(&path, "nobody", "team", &tiers())
                .unwrap_err()
                .to_string(),
            set_field(&path, "ann", "id", &Value::Text("x".into()))
                .unwrap_err()
                .to_string(),
            set_field(&path, "ann", "name", &Value::Text("a\nb".into()))
                .unwrap_err()
                .to_string(),
        ];
        for (err, says) in refused.iter().zip([
            "already in",
            "128",
            "does not start with @",
            "not a tier: use owner, team, trusted, unknown",
            "already names \"ann\"",
            "no contact",
            "remove it and add it again",
            "must not contain line breaks",
        ]) {
            assert!(err.contains(says), "{err:?} should say {says:?}");
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}
