//! `<space>/contacts.yaml`: the people and agents of a space, read, resolved and edited.
//!
//! This module reads the file and knows nothing of a [`Context`](crate::Context); the
//! context uses it for trust tiers ([`Context::trust_tier`](crate::Context::trust_tier)),
//! recipients ([`Context::recipient`](crate::Context::recipient)) and `msg contacts`
//! ([`Context::contact_rows`](crate::Context::contact_rows)).
//!
//! The schema is the original template's (reference R5): `actors: [{id, name, handles,
//! trust_tier, added}]`, plus `groups: {NAME: [member, …]}` for `msg broadcast --group`
//! (members are actor IDs or `@handles`). A sender's tier is its `messaging.trust_overrides`
//! entry in the settings, else the `trust_tier` noted here, else `unknown`; `msg contacts`
//! and `msg doctor` point out where the settings override a tier noted here. Any other key
//! of an actor is kept as it is ([`Contact::other`]), so later fields (keys, notes) need no
//! change here to survive an edit.
//!
//! Handles name an actor for people: `msg send @gz …` and `send-reply @gz …` resolve `@gz`
//! to the actor whose `handles` list `gz` ([`resolve`]).
//!
//! `msg contacts add|remove|trust` change the file as a person would: `edit.rs` changes only
//! the lines of the actor concerned (comments, order and layout stay), and `update.rs` does
//! it under the file's lock, checks that the result reads back as exactly the intended
//! change, and writes it atomically.

mod edit;
pub(crate) mod update;

use std::collections::BTreeMap;

use std::path::Path;

use serde::Deserialize;

use crate::error::HooksError;

/// `templates/contacts.yaml`: an empty contact list with its schema (what `msg init` writes,
/// and what `msg contacts add` starts from when the file is missing).
pub(crate) const TEMPLATE: &str = include_str!("../../../../templates/contacts.yaml");

/// An actor as `msg contacts` lists it: from `contacts.yaml`, or only from the settings'
/// `messaging.trust_overrides`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactRow {
    /// The actor ID.
    pub(crate) id: String,
    /// The display name from the contacts file.
    pub(crate) name: Option<String>,
    /// Other names from the contacts file.
    pub(crate) handles: Vec<String>,
    /// The tier that counts: the settings' override, else the one noted here, else
    /// `unknown`.
    pub(crate) tier: String,
    /// The tier the contacts file notes.
    pub(crate) noted_tier: Option<String>,
    /// When it was added, from the contacts file.
    pub(crate) added: Option<String>,
    /// Whether the contacts file lists it.
    pub(crate) in_contacts_file: bool,
    /// The groups it is a member of.
    pub(crate) groups: Vec<String>,
}

/// The actor ID that `given` names: an ID as it is, or `@handle` (also `handle` without the
/// `@`, when no actor has that ID) resolved through the handles of `contacts` (compared
/// without a leading `@` and ignoring ASCII case). `@handle` that no actor has, or that
/// several have, is an error; a plain name no contact knows is taken as an ID.
pub(crate) fn resolve(
    contacts: &[Contact],
    given: &str,
    path: &Path,
) -> Result<String, HooksError> {
    let (name, is_handle) = match given.strip_prefix('@') {
        Some(name) => (name, true),
        None => (given, false),
    };
    if contacts.iter().any(|c| c.id == name) {
        return Ok(name.to_owned());
    }
    let matches: Vec<&Contact> = contacts
        .iter()
        .filter(|c| {
            c.handles.iter().any(|handle| {
                handle
                    .strip_prefix('@')
                    .unwrap_or(handle)
                    .eq_ignore_ascii_case(name)
            })
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] if !is_handle => Ok(given.to_owned()),
        [] => Err(HooksError::NotFound {
            what: "contact",
            given: given.to_owned(),
            path: path.to_owned(),
            also: Vec::new(),
        }),
        several => Err(HooksError::Ambiguous {
            what: "contact",
            given: given.to_owned(),
            matches: several.iter().map(|c| c.id.clone()).collect(),
        }),
    }
}

/// One actor of `contacts.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Contact {
    /// The actor ID messages use (`tex@team.example.com`).
    pub(crate) id: String,
    /// A display name.
    pub(crate) name: Option<String>,
    /// Other names of the same actor.
    pub(crate) handles: Vec<String>,
    /// The tier the person noted for the actor.
    pub(crate) trust_tier: Option<String>,
    /// When the actor was added, as written.
    #[serde(deserialize_with = "text")]
    pub(crate) added: Option<String>,
    /// Every other key of the actor, as written (kept through edits of other fields).
    #[serde(flatten)]
    pub(crate) other: BTreeMap<String, serde_yaml::Value>,
}

/// Everything `contacts.yaml` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ContactBook {
    /// The actors, in file order.
    pub(crate) actors: Vec<Contact>,
    /// Named groups of recipients (actor IDs or `@handles`), for `msg broadcast --group`.
    pub(crate) groups: BTreeMap<String, Vec<String>>,
}

impl ContactBook {
    /// The actor with exactly this ID.
    pub(crate) fn actor(&self, id: &str) -> Option<&Contact> {
        self.actors.iter().find(|c| c.id == id)
    }

    /// The members of group `name`, each resolved to an actor ID ([`resolve`]); an unknown
    /// group is an error naming the groups there are.
    pub(crate) fn group(&self, name: &str, path: &Path) -> Result<Vec<String>, HooksError> {
        let Some(members) = self.groups.get(name) else {
            let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
            return Err(HooksError::BadFile {
                path: path.to_owned(),
                line: None,
                message: if known.is_empty() {
                    format!(
                        "no group {name:?}: define it under `groups:` (`groups: {{{name}: [alice, \"@tex\"]}}`)"
                    )
                } else {
                    format!("no group {name:?}; the groups are {}", known.join(", "))
                },
            });
        };
        members
            .iter()
            .map(|member| resolve(&self.actors, member, path))
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ContactsFile {
    actors: Option<Vec<Contact>>,
    groups: Option<BTreeMap<String, Option<Vec<String>>>>,
}

/// A date or any other scalar, kept as text (`2026-11-24` is a date to YAML).
fn text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_yaml::Value>::deserialize(deserializer)?;
    Ok(match value {
        None | Some(serde_yaml::Value::Null) => None,
        Some(serde_yaml::Value::String(text)) => Some(text),
        Some(serde_yaml::Value::Number(number)) => Some(number.to_string()),
        Some(serde_yaml::Value::Bool(flag)) => Some(flag.to_string()),
        Some(other) => Some(format!("{other:?}")),
    })
}

/// Reads the actors at `path`: none when the file is missing, an error naming the line
/// when it is not valid.
pub(crate) fn load(path: &Path) -> Result<Vec<Contact>, HooksError> {
    Ok(load_book(path)?.actors)
}

/// Reads the whole contacts file at `path` (actors and groups): empty when it is missing.
pub(crate) fn load_book(path: &Path) -> Result<ContactBook, HooksError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ContactBook::default());
        }
        Err(err) => return Err(HooksError::io("read", path)(err)),
    };
    parse_book(&text, path)
}

/// Parses a whole contacts file: an error names the line and the form, an actor without an
/// `id`, an ID listed twice, and a group without a name or with an empty member.
pub(crate) fn parse_book(text: &str, path: &Path) -> Result<ContactBook, HooksError> {
    let bad = |line: Option<usize>, message: String| HooksError::BadFile {
        path: path.to_owned(),
        line,
        message,
    };
    let file: Option<ContactsFile> = serde_yaml::from_str(text).map_err(|err| {
        bad(
            err.location().map(|l| l.line()),
            format!("not a contacts file: {err}; the form is `actors: [{{id, name, handles, trust_tier, added}}]` and `groups: {{NAME: [member, …]}}`"),
        )
    })?;
    let file = file.unwrap_or_default();
    let actors = file.actors.unwrap_or_default();
    for (index, actor) in actors.iter().enumerate() {
        if actor.id.trim().is_empty() {
            return Err(bad(None, format!("actor {} has no id", index + 1)));
        }
        if actors[..index].iter().any(|earlier| earlier.id == actor.id) {
            return Err(bad(
                None,
                format!(
                    "actor {:?} is listed twice; keep one entry for it",
                    actor.id
                ),
            ));
        }
    }
    let mut groups = BTreeMap::new();
    for (name, members) in file.groups.unwrap_or_default() {
        let members = members.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(bad(None, "a group has an empty name".into()));
        }
        if members.iter().any(|m| m.trim().is_empty()) {
            return Err(bad(None, format!("group {name:?} has an empty member")));
        }
        groups.insert(name, members);
    }
    Ok(ContactBook { actors, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, path: &Path) -> Result<Vec<Contact>, HooksError> {
        Ok(parse_book(text, path)?.actors)
    }

    #[test]
    fn reads_the_template_schema() {
        let contacts = parse(
            "actors:\n  - id: tex@team.example.com\n    name: Tex\n    handles: [tex]\n    trust_tier: team\n    added: 2026-11-24\n  - id: gregor\n",
            Path::new("contacts.yaml"),
        )
        .unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[0].added.as_deref(), Some("2026-11-24"));
        assert_eq!(contacts[0].handles, ["tex"]);
        assert_eq!(contacts[1].trust_tier, None);
        assert!(parse("", Path::new("c")).unwrap().is_empty());
        assert!(parse("actors:\n", Path::new("c")).unwrap().is_empty());
    }

    #[test]
    fn the_template_parses() {
        let book = parse_book(TEMPLATE, Path::new("contacts.yaml")).unwrap();
        assert_eq!(book, ContactBook::default());
    }

    #[test]
    fn handles_resolve_to_ids() {
        let contacts = parse(
            "actors:\n  - {id: gz@team.example.com, handles: ['@gz', gregor]}\n  - {id: tex, handles: [t]}\n  - {id: tex2, handles: [T]}\n",
            Path::new("c.yaml"),
        )
        .unwrap();
        let path = Path::new("c.yaml");
        assert_eq!(
            resolve(&contacts, "@gz", path).unwrap(),
            "gz@team.example.com"
        );
        assert_eq!(
            resolve(&contacts, "@GZ", path).unwrap(),
            "gz@team.example.com"
        );
        assert_eq!(
            resolve(&contacts, "gregor", path).unwrap(),
            "gz@team.example.com"
        );
        assert_eq!(resolve(&contacts, "tex", path).unwrap(), "tex");
        assert_eq!(resolve(&contacts, "@tex", path).unwrap(), "tex");
        assert_eq!(resolve(&contacts, "someone", path).unwrap(), "someone");
        let err = resolve(&contacts, "@nobody", path).unwrap_err();
        assert!(err.to_string().starts_with("no contact in c.yaml"), "{err}");
        let err = resolve(&contacts, "@t", path).unwrap_err();
        assert!(
            err.to_string().contains("matches 2 contact IDs: tex, tex2"),
            "{err}"
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        let err = parse("actors:\n  - id: a\n   name: b\n", Path::new("c.yaml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("c.yaml, line 3: not a contacts file"),
            "{err}"
        );
        let err = parse("actors:\n  - name: b\n", Path::new("c.yaml")).unwrap_err();
        assert_eq!(err.to_string(), "c.yaml: actor 1 has no id");
    }
}
