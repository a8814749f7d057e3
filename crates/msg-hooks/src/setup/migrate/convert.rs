//! Converting a v0.1.0 entry into today's form: a message for `inbox.org`, a task for the
//! agent's file (see the module docs of `msg migrate` for the mapping).

use msg_core::org::{NewEntry, TodoKeywords};
use msg_inbox::TaskState;

use super::read::OldEntry;
use super::{ORIGINAL_THREAD, Target};
use crate::context::Context;

/// The v0.1.0 status tags, which become keywords.
const STATUS_TAGS: [&str; 3] = ["unread", "todo", "done"];

/// The converted entry without its ID decided.
pub(super) fn convert(ctx: &Context, kind: Target, old: &OldEntry) -> NewEntry {
    let prop = |key: &str| {
        old.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let priority = match prop("PRIORITY").map(|p| p.trim().to_ascii_lowercase()) {
        Some(p) if p == "high" => Some('A'),
        Some(p) if p == "low" => Some('C'),
        _ => None,
    };
    let other_tags = old
        .tags
        .iter()
        .filter(|t| !STATUS_TAGS.contains(&t.as_str()))
        .cloned();
    let has = |tag: &str| old.tags.iter().any(|t| t == tag);
    match kind {
        Target::Inbox => {
            let (keyword, mut tags) = if has("unread") {
                ("TODO", vec!["unread".to_owned(), "message".to_owned()])
            } else if has("todo") {
                ("TODO", vec!["message".to_owned(), "todo".to_owned()])
            } else {
                ("DONE", vec!["message".to_owned()])
            };
            tags.extend(other_tags.filter(|t| t != "message"));
            let mut properties = Vec::new();
            let mut original_thread = None;
            for (key, value) in &old.properties {
                match key.as_str() {
                    "ID" => {}
                    "THREAD" => match value.strip_prefix("thread-") {
                        Some(root) if !root.is_empty() => {
                            properties.push((key.clone(), root.to_owned()));
                            original_thread = Some(value.clone());
                        }
                        _ => properties.push((key.clone(), value.clone())),
                    },
                    _ => properties.push((key.clone(), value.clone())),
                }
            }
            if let Some(thread) = original_thread {
                properties.push((ORIGINAL_THREAD.into(), thread));
            }
            if prop("CREATED").is_none() {
                properties.push(("CREATED".into(), old.timestamp.clone()));
            }
            NewEntry {
                keyword: Some(keyword.into()),
                priority,
                title: old.timestamp.clone(),
                tags,
                properties,
                body: old.body.clone(),
            }
        }
        Target::Agent => {
            let status = prop("TASK_STATUS").map(|s| s.trim().to_ascii_lowercase());
            let state = match status.as_deref() {
                Some("done") => TaskState::Done,
                Some("working") => TaskState::Working,
                _ if has("done") => TaskState::Done,
                _ => TaskState::Waiting,
            };
            let from = prop("FROM").unwrap_or_default().to_owned();
            let mut properties = vec![
                ("FROM".to_owned(), from.clone()),
                ("TRUST_TIER".to_owned(), ctx.trust_tier(&from)),
                ("SUBMITTED".to_owned(), old.timestamp.clone()),
            ];
            if state == TaskState::Waiting {
                properties.push(("AWAITING".into(), "owner-approval".into()));
            }
            properties.push((
                "CREATED".into(),
                prop("CREATED").unwrap_or(&old.timestamp).to_owned(),
            ));
            if let Some(started) = prop("STARTED_AT") {
                properties.push(("STARTED".into(), started.to_owned()));
            }
            if let Some(completed) = prop("COMPLETED_AT") {
                properties.push(("COMPLETED".into(), completed.to_owned()));
            }
            for (key, value) in &old.properties {
                if ![
                    "ID",
                    "FROM",
                    "CREATED",
                    "TASK_STATUS",
                    "STARTED_AT",
                    "COMPLETED_AT",
                ]
                .contains(&key.as_str())
                {
                    properties.push((key.clone(), value.clone()));
                }
            }
            let mut tags = vec!["AI".to_owned()];
            tags.extend(other_tags.filter(|t| t != "AI"));
            // The first line of the text is the title, as for tasks submitted today; text
            // Org would read differently as a title stays whole in the body.
            let (first, rest) = match old.body.split_once('\n') {
                Some((first, rest)) => (first.trim(), rest.trim_start_matches('\n')),
                None => (old.body.trim(), ""),
            };
            let candidate = NewEntry {
                keyword: Some(state.keyword().into()),
                priority,
                title: first.to_owned(),
                tags: tags.clone(),
                properties: properties.clone(),
                body: rest.to_owned(),
            };
            let keywords = TodoKeywords::parse(msg_inbox::TASK_KEYWORDS);
            if !first.is_empty() && candidate.validate(&keywords).is_ok() {
                candidate
            } else {
                NewEntry {
                    title: old.timestamp.clone(),
                    body: old.body.clone(),
                    ..candidate
                }
            }
        }
    }
}

/// `entry`, or, when Org would read its title back differently (it starts with `COMMENT` or
/// a keyword, or ends in something like `:tag:`), the entry with a plain title and the old
/// title as the first line of the body, so that nothing is lost and the append cannot fail.
pub(super) fn readable(kind: Target, entry: NewEntry) -> NewEntry {
    let keywords = TodoKeywords::parse(match kind {
        Target::Inbox => msg_store::STATES,
        Target::Agent => msg_inbox::TASK_KEYWORDS,
    });
    if entry.validate(&keywords).is_ok() {
        return entry;
    }
    let body = if entry.body.is_empty() {
        entry.title.clone()
    } else {
        format!("{}\n\n{}", entry.title, entry.body)
    };
    NewEntry {
        title: "Migrated v0.1.0 entry".into(),
        body,
        ..entry
    }
}
