//! `<space>/contacts.yaml`: the people and agents of a space.
//!
//! The schema is the original template's (reference R5): `actors: [{id, name, handles,
//! trust_tier, added}]`. The tier that counts is the settings' (`messaging.trust_overrides`,
//! which the governor reads); a `trust_tier` here is what the person noted, and `msg
//! contacts` and `msg doctor` point out where the two disagree.

use std::path::Path;

use serde::Deserialize;

use crate::context::Context;
use crate::error::HooksError;

/// An actor as `msg contacts` lists it: from `contacts.yaml`, or only from the settings'
/// `messaging.trust_overrides`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    /// The actor ID.
    pub id: String,
    /// The display name from the contacts file.
    pub name: Option<String>,
    /// Other names from the contacts file.
    pub handles: Vec<String>,
    /// The tier that counts: the settings'.
    pub tier: String,
    /// The tier the contacts file notes.
    pub noted_tier: Option<String>,
    /// When it was added, from the contacts file.
    pub added: Option<String>,
    /// Whether the contacts file lists it.
    pub in_contacts_file: bool,
}

/// The space's contacts, then the actors only the settings name, with the tier of each.
pub fn listing(ctx: &Context) -> Result<Vec<ContactRow>, HooksError> {
    let path = ctx.paths().contacts_file(ctx.space())?;
    let listed = load(&path)?;
    let mut rows: Vec<ContactRow> = listed
        .iter()
        .map(|contact| ContactRow {
            id: contact.id.clone(),
            name: contact.name.clone(),
            handles: contact.handles.clone(),
            tier: ctx.trust_tier(&contact.id),
            noted_tier: contact.trust_tier.clone(),
            added: contact.added.clone(),
            in_contacts_file: true,
        })
        .collect();
    for (actor, tier) in &ctx.settings().messaging.trust_overrides {
        if !listed.iter().any(|contact| &contact.id == actor) {
            rows.push(ContactRow {
                id: actor.clone(),
                name: None,
                handles: Vec::new(),
                tier: tier.clone(),
                noted_tier: None,
                added: None,
                in_contacts_file: false,
            });
        }
    }
    Ok(rows)
}

/// One actor of `contacts.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// The actor ID messages use (`tex@team.example.com`).
    pub id: String,
    /// A display name.
    pub name: Option<String>,
    /// Other names of the same actor.
    pub handles: Vec<String>,
    /// The tier the person noted for the actor.
    pub trust_tier: Option<String>,
    /// When the actor was added, as written.
    #[serde(deserialize_with = "text")]
    pub added: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ContactsFile {
    actors: Option<Vec<Contact>>,
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

/// Reads the contacts at `path`: none when the file is missing, an error naming the line
/// when it is not valid.
pub fn load(path: &Path) -> Result<Vec<Contact>, HooksError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(HooksError::io("read", path)(err)),
    };
    parse(&text, path)
}

/// Parses contacts YAML; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Contact>, HooksError> {
    let file: Option<ContactsFile> = serde_yaml::from_str(text).map_err(|err| HooksError::BadFile {
        path: path.to_owned(),
        line: err.location().map(|l| l.line()),
        message: format!("not a contacts file: {err}; the form is `actors: [{{id, name, handles, trust_tier, added}}]`"),
    })?;
    let actors = file.and_then(|f| f.actors).unwrap_or_default();
    for (index, actor) in actors.iter().enumerate() {
        if actor.id.trim().is_empty() {
            return Err(HooksError::BadFile {
                path: path.to_owned(),
                line: None,
                message: format!("actor {} has no id", index + 1),
            });
        }
    }
    Ok(actors)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let template = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/contacts.yaml"
        ));
        assert!(
            parse(template, Path::new("contacts.yaml"))
                .unwrap()
                .is_empty()
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
