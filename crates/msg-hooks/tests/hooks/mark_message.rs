//! `mark-message`: read, unread, archive by unique prefix or suffix; errors are errors.

use crate::support::{Env, deliver};

#[test]
fn marks_by_id_prefix_or_suffix() {
    let env = Env::new();
    let id = deliver(&env, "tex@team.example.com", "Hello");
    let suffix = &id[id.len() - 5..];
    assert_eq!(
        env.run("mark-message", &[suffix, "read"]).ok(),
        format!("[messaging] Marked read: {id}\n")
    );
    let store = env.ctx().store().unwrap();
    assert!(!store.by_id(&id).unwrap().unwrap().is_unread());
    assert_eq!(
        env.run("mark-message", &[&id, "unread"]).ok(),
        format!("[messaging] Marked unread: {id}\n")
    );
    assert!(store.by_id(&id).unwrap().unwrap().is_unread());
    assert_eq!(
        env.run("mark-message", &[&id, "archive"]).ok(),
        format!("[messaging] Archived: {id}\n")
    );
    assert_eq!(
        store.by_id(&id).unwrap().unwrap().keyword.as_deref(),
        Some("ARCHIVED")
    );
}

#[test]
fn unknown_ambiguous_and_wrong_state_are_one_line_failures() {
    let env = Env::new();
    let first = deliver(&env, "tex@team.example.com", "One");
    deliver(&env, "tex@team.example.com", "Two");
    let before = env.read(&env.inbox_path());
    let line = env
        .run("mark-message", &["msg-nope", "read"])
        .fails(1, "mark-message")
        .to_owned();
    assert!(line.starts_with("mark-message: no message in /"), "{line}");
    assert!(
        line.ends_with("inbox.org has an ID equal to, starting with or ending with \"msg-nope\""),
        "{line}"
    );
    let line = env
        .run("mark-message", &["msg-", "read"])
        .fails(1, "mark-message")
        .to_owned();
    assert!(line.contains("\"msg-\" matches 2 message IDs"), "{line}");
    assert_eq!(env.read(&env.inbox_path()), before);
    env.run("mark-message", &[&first, "archive"]).ok();
    let line = env
        .run("mark-message", &[&first, "read"])
        .fails(1, "mark-message")
        .to_owned();
    assert!(
        line.contains(&format!("cannot mark read message {first}: it is ARCHIVED")),
        "{line}"
    );
}

#[test]
fn usage_mistakes_exit_2() {
    let env = Env::new();
    let line = env
        .run("mark-message", &["msg-1", "done"])
        .fails(2, "mark-message")
        .to_owned();
    assert!(
        line.contains("unknown action \\\"done\\\"") || line.contains("unknown action"),
        "{line}"
    );
    env.run("mark-message", &["msg-1"]).fails(2, "mark-message");
    assert!(
        env.run("mark-message", &["--help"])
            .ok()
            .contains("read, unread or archive")
    );
}
