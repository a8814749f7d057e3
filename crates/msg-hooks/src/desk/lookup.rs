//! IDs as people type them: the whole ID, or a unique prefix or suffix of it.
//!
//! IDs are long (`task-20261124-100200-3f2a9c1b7d4e`); people copy the hash at the end or
//! the start with the date. v0.1.0 accepted any unique fragment, v0.2.0 only the exact ID.
//! Here an exact match always wins; otherwise the IDs starting or ending with what was given
//! must be exactly one.

use std::path::Path;

use crate::error::HooksError;

/// Finds the one ID among `ids` that equals `given`, or else starts or ends with it.
/// `what` (`message`, `task`) and `path` name what was searched in the errors.
pub(crate) fn resolve<'a>(
    given: &str,
    ids: impl IntoIterator<Item = &'a str>,
    what: &'static str,
    path: &Path,
) -> Result<String, HooksError> {
    let given_trimmed = given.trim();
    let not_found = || HooksError::NotFound {
        what,
        given: given.to_owned(),
        path: path.to_owned(),
        also: Vec::new(),
    };
    if given_trimmed.is_empty() {
        return Err(not_found());
    }
    let mut matches: Vec<&str> = Vec::new();
    for id in ids {
        if id == given_trimmed {
            return Ok(id.to_owned());
        }
        if (id.starts_with(given_trimmed) || id.ends_with(given_trimmed)) && !matches.contains(&id)
        {
            matches.push(id);
        }
    }
    match matches.as_slice() {
        [] => Err(not_found()),
        [only] => Ok((*only).to_owned()),
        _ => Err(HooksError::Ambiguous {
            what,
            given: given.to_owned(),
            matches: matches.into_iter().map(str::to_owned).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 4] = [
        "task-20261124-100200-3f2a9c1b7d4e",
        "task-20261124-100300-77aa00bb11cc",
        "org-20261124-070853-3e136109",
        "task-2",
    ];

    fn find(given: &str) -> Result<String, String> {
        resolve(given, IDS, "task", Path::new("/a.org")).map_err(|e| e.to_string())
    }

    #[test]
    fn exact_then_unique_prefix_or_suffix() {
        assert_eq!(find("task-2").unwrap(), "task-2");
        assert_eq!(find("3f2a9c1b7d4e").unwrap(), IDS[0]);
        assert_eq!(find("11cc").unwrap(), IDS[1]);
        assert_eq!(find("org-").unwrap(), IDS[2]);
        assert_eq!(find(" 11cc\n").unwrap(), IDS[1]);
    }

    #[test]
    fn ambiguous_and_missing_ids_are_errors() {
        assert_eq!(
            find("task-2026").unwrap_err(),
            "\"task-2026\" matches 2 task IDs: task-20261124-100200-3f2a9c1b7d4e, task-20261124-100300-77aa00bb11cc; give more of the ID"
        );
        assert_eq!(
            find("nope").unwrap_err(),
            "no task in /a.org has an ID equal to, starting with or ending with \"nope\""
        );
        assert!(find("").is_err());
        assert!(find("a\nb").is_err());
    }
}
