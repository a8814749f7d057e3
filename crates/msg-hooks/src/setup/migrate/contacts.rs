//! `USERS.yaml` into `<space>/contacts.yaml`: the actors it names that the contacts do not
//! list yet, added as the template's schema has them, the rest of the file kept as it is.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::HooksError;

/// `USERS.yaml` and the actors it gives.
#[derive(Debug, Clone)]
pub(crate) struct ContactsPlan {
    /// The old file.
    pub(crate) source: PathBuf,
    /// `<space>/contacts.yaml`.
    pub(crate) target: PathBuf,
    /// Actors to add, as YAML list items.
    pub(crate) add: Vec<(String, String)>,
    /// Actors the target lists already.
    pub(crate) present: Vec<String>,
}

/// A YAML scalar as text (`added: 2025-12-11` is a string to serde_yaml already).
fn scalar(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON string is a YAML double-quoted scalar: any text stays one value.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

pub(super) fn contacts_plan(ctx: &Context, source: &Path) -> Result<ContactsPlan, HooksError> {
    let text = std::fs::read_to_string(source).map_err(HooksError::io("read", source))?;
    let bad = |message: String| HooksError::BadFile {
        path: source.to_owned(),
        line: None,
        message,
    };
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| bad(format!("not YAML: {e}")))?;
    let users = match value.get("users") {
        Some(serde_yaml::Value::Mapping(users)) => users.clone(),
        Some(serde_yaml::Value::Null) | None => serde_yaml::Mapping::new(),
        Some(_) => {
            return Err(bad(
                "`users` should map each user name to its details".into()
            ));
        }
    };
    let target = ctx.paths().contacts_file(ctx.space())?;
    let existing: HashSet<String> = if target.exists() {
        crate::contacts::load(&target)?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        HashSet::new()
    };
    let mut add = Vec::new();
    let mut present = Vec::new();
    for (name, details) in &users {
        let Some(id) = scalar(name) else {
            return Err(bad(format!("a user name is not text: {name:?}")));
        };
        if existing.contains(&id) {
            present.push(id);
            continue;
        }
        let handles: Vec<String> = match details.get("handles") {
            Some(serde_yaml::Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
            Some(other) => scalar(other).into_iter().collect(),
            None => Vec::new(),
        };
        let mut item = format!("  - id: {}\n    name: {}\n", quoted(&id), quoted(&id));
        let handles: Vec<String> = handles.iter().map(|h| quoted(h)).collect();
        let _ = writeln!(item, "    handles: [{}]", handles.join(", "));
        let _ = writeln!(item, "    trust_tier: {}", quoted(&ctx.trust_tier(&id)));
        if let Some(added) = details.get("added").and_then(scalar) {
            let _ = writeln!(item, "    added: {}", quoted(&added));
        }
        add.push((id, item));
    }
    Ok(ContactsPlan {
        source: source.to_owned(),
        target,
        add,
        present,
    })
}

/// The contacts file with `items` added, or `None` when its layout is not one this can
/// extend safely.
pub(super) fn contacts_text(existing: Option<&str>, items: &[(String, String)]) -> Option<String> {
    let block: String = items.iter().map(|(_, item)| item.as_str()).collect();
    let Some(text) = existing else {
        let template = crate::contacts::TEMPLATE;
        return Some(template.replacen("actors: []\n", &format!("actors:\n{block}"), 1))
            .filter(|t| t.contains(&block));
    };
    let mut out = String::with_capacity(text.len() + block.len());
    let mut done = false;
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_end();
        if !done && (trimmed == "actors: []" || trimmed == "actors:") {
            out.push_str("actors:\n");
            if trimmed == "actors:" {
                // New items go first, at the indentation the existing items use.
                let indent = lines
                    .clone()
                    .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .map(|l| l.len() - l.trim_start_matches(' ').len())
                    .unwrap_or(2);
                for (_, item) in items {
                    for item_line in item.split_inclusive('\n') {
                        out.push_str(&" ".repeat(indent));
                        out.push_str(item_line.strip_prefix("  ").unwrap_or(item_line));
                    }
                }
            } else {
                out.push_str(&block);
            }
            done = true;
            continue;
        }
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push('\n');
        }
    }
    done.then_some(out)
}

/// Whether `text` parses as contacts and lists every actor of `plan`.
pub(super) fn contacts_complete(text: &str, plan: &ContactsPlan) -> bool {
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return false;
    };
    let Some(serde_yaml::Value::Sequence(actors)) = value.get("actors") else {
        return false;
    };
    let ids: HashSet<String> = actors
        .iter()
        .filter_map(|a| a.get("id").and_then(scalar))
        .collect();
    plan.add.iter().all(|(id, _)| ids.contains(id))
        && plan.present.iter().all(|id| ids.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_added_to_an_empty_or_existing_list() {
        let items = vec![(
            "tex".to_owned(),
            "  - id: \"tex\"\n    name: \"tex\"\n".to_owned(),
        )];
        let fresh = contacts_text(None, &items).unwrap();
        assert!(fresh.contains("actors:\n  - id: \"tex\"\n"), "{fresh}");
        let kept = contacts_text(Some("# mine\nactors: []\n"), &items).unwrap();
        assert_eq!(
            kept,
            "# mine\nactors:\n  - id: \"tex\"\n    name: \"tex\"\n"
        );
        let flush = contacts_text(Some("actors:\n- id: a\n"), &items).unwrap();
        assert_eq!(flush, "actors:\n- id: \"tex\"\n  name: \"tex\"\n- id: a\n");
        assert!(contacts_text(Some("people: []\n"), &items).is_none());
    }
}
