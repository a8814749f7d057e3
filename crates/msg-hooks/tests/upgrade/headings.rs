//! Headings that say who and what (`* TODO [2026-12-07 Mon 10:48] alice: Can you review PR
//! #24? :unread:message:`) in files the Python v0.2.0 also uses.
//!
//! The original (org-workspace 0.3.0) reads entries by their properties and tags, never by
//! their titles. Its reader is written out here from the reference's grammar
//! (`original-v0.2.0.md` §3.2 and §3.3: a heading's first word is a keyword only if the file
//! declares it, tags are a trailing `:word:` group of letters, digits, `_` and `@`, the first
//! drawer holds the properties, a modified heading is re-rendered as `* STATE text :tags:`).
//! With it, the test checks that files written by our real executables, with hostile text,
//! still read for the original with exactly the tags, keywords and properties we wrote; that
//! the original's own operations (mark read, claim) on our entries leave files we still read
//! as before; and that the original's timestamp-only entries still show sender and subject.

use std::fs;
use std::path::Path;

use msg_store::{Incoming, MessageStore};

use crate::support::{Env, json};

/// An entry as org-workspace 0.3.0 reads it.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    /// The heading's line index (0-based) in the file.
    line: usize,
    level: usize,
    keyword: Option<String>,
    /// The heading text, trimmed.
    heading: String,
    tags: Vec<String>,
    properties: Vec<(String, String)>,
}

impl Node {
    fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// §3.2: the heading line as the original re-renders it after a change.
    fn render(&self) -> String {
        let mut line = format!("{} ", "*".repeat(self.level));
        if let Some(keyword) = &self.keyword {
            line.push_str(keyword);
            line.push(' ');
        }
        line.push_str(&self.heading);
        if !self.tags.is_empty() {
            line.push_str(&format!(" :{}:", self.tags.join(":")));
        }
        line
    }
}

/// Python's `\w` (Unicode letters, digits and `_`) and `@`: the characters of a tag.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '@'
}

/// §3.3: the trailing tag group of a heading's rest, if there is one, and the text before it.
fn split_tags(rest: &str) -> (&str, Vec<String>) {
    let trimmed = rest.trim_end();
    if let Some(blank) = trimmed.rfind([' ', '\t']) {
        let group = &trimmed[blank + 1..];
        let words: Vec<&str> = group
            .strip_prefix(':')
            .and_then(|g| g.strip_suffix(':'))
            .map(|g| g.split(':').collect())
            .unwrap_or_default();
        if !words.is_empty()
            && words
                .iter()
                .all(|w| !w.is_empty() && w.chars().all(tag_char))
        {
            return (
                &trimmed[..blank],
                words.into_iter().map(str::to_owned).collect(),
            );
        }
    }
    (trimmed, Vec::new())
}

/// Every entry of `text`, read with the keywords of the file's own `#+TODO:` lines.
fn read(text: &str) -> Vec<Node> {
    let lines: Vec<&str> = text.lines().collect();
    let keywords: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("#+TODO:"))
        .flat_map(str::split_whitespace)
        .filter(|w| *w != "|")
        .collect();
    let mut nodes: Vec<Node> = Vec::new();
    let mut in_drawer = false;
    let mut drawer_done = false;
    for (index, line) in lines.iter().enumerate() {
        let stars = line.chars().take_while(|c| *c == '*').count();
        if stars > 0 && line[stars..].starts_with(' ') {
            let rest = &line[stars + 1..];
            let (keyword, rest) = match rest.split_once(' ') {
                Some((first, after)) if keywords.contains(&first) => {
                    (Some(first.to_owned()), after)
                }
                _ if keywords.contains(&rest.trim()) => (Some(rest.trim().to_owned()), ""),
                _ => (None, rest),
            };
            let (heading, tags) = split_tags(rest);
            nodes.push(Node {
                line: index,
                level: stars,
                keyword,
                heading: heading.trim().to_owned(),
                tags,
                properties: Vec::new(),
            });
            in_drawer = false;
            drawer_done = false;
            continue;
        }
        let Some(node) = nodes.last_mut() else {
            continue;
        };
        let t = line.trim();
        if !drawer_done && !in_drawer && t == ":PROPERTIES:" {
            in_drawer = true;
        } else if in_drawer && t == ":END:" {
            in_drawer = false;
            drawer_done = true;
        } else if in_drawer && let Some((key, value)) = t[1..].split_once(':') {
            node.properties
                .push((key.to_owned(), value.trim().to_owned()));
        }
    }
    nodes
}

/// The original's `mark_read`: DONE, the `unread` tag removed, the heading re-rendered.
fn mark_read(path: &Path, id: &str) {
    change(path, id, |node, _| {
        node.keyword = Some("DONE".into());
        node.tags.retain(|t| t != "unread");
    });
}

/// The original's `claim`: WORKING, `STARTED` inserted before `:END:`.
fn claim(path: &Path, id: &str) {
    change(path, id, |node, lines| {
        node.keyword = Some("WORKING".into());
        let end = (node.line..lines.len())
            .find(|&i| lines[i].trim() == ":END:")
            .unwrap();
        lines.insert(end, "  :STARTED: [2026-12-07 Mon 11:00]".to_owned());
    });
}

/// Applies `edit` to the entry with `id` and saves as the original does: the heading
/// re-rendered, every other line as it was.
fn change(path: &Path, id: &str, edit: impl FnOnce(&mut Node, &mut Vec<String>)) {
    let text = fs::read_to_string(path).unwrap();
    let mut node = read(&text)
        .into_iter()
        .find(|n| n.property("ID") == Some(id))
        .unwrap_or_else(|| panic!("{id} not found by the original's reader"));
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut node, &mut lines);
    lines[node.line] = node.render();
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

const HOSTILE: &str = "[[https://x.example][ok]] [#A] <2026-12-08> :urgent:owner:\n\
                       Second line.";

fn v020() -> Env {
    Env::with_fixture("python-v0.2.0/root")
}

#[test]
fn the_original_reads_our_new_entries_by_their_properties_and_tags() {
    let env = v020();
    let messaging = env.messaging();
    let (inbox, outbox, tasks) = (
        messaging.join("inbox.org"),
        messaging.join("outbox.org"),
        messaging.join("agents/gregor-claude.org"),
    );
    let before: Vec<Node> = [&inbox, &outbox, &tasks]
        .iter()
        .flat_map(|p| read(&env.read(p)))
        .collect();
    // The reader follows the reference: the fixture written by the original reads with the
    // tags and properties the reference describes.
    assert_eq!(before[0].tags, ["message"]);
    assert_eq!(before[0].heading, "[2026-11-24 Tue 07:08]");
    assert_eq!(before[0].property("FROM"), Some("tex@team.example.com"));

    // New entries written by the real executables and the relay client's store call.
    env.run("msg", &["send", "gregor", HOSTILE]).ok();
    env.run("msg", &["send", "tex@team.example.com", HOSTILE])
        .ok();
    env.run("msg", &["task", "submit", HOSTILE]).ok();
    MessageStore::open(&env.root().join("0-personal"))
        .unwrap()
        .receive(&Incoming {
            from: "tex@team.example.com".into(),
            to: "gregor".into(),
            content: HOSTILE.into(),
            id: "msg-20261207-104800-0123456789ab".into(),
            timestamp: "[2026-12-07 Mon 10:48]".into(),
            ..Incoming::default()
        })
        .unwrap();

    let new_in = |path: &Path| -> Vec<Node> {
        let ids: Vec<String> = before
            .iter()
            .filter_map(|n| n.property("ID").map(str::to_owned))
            .collect();
        read(&env.read(path))
            .into_iter()
            .filter(|n| !ids.iter().any(|id| Some(id.as_str()) == n.property("ID")))
            .collect()
    };
    let received = new_in(&inbox);
    let sent = new_in(&outbox);
    let task = new_in(&tasks);
    assert_eq!((received.len(), sent.len(), task.len()), (2, 1, 1));

    // Keywords, tags and properties: exactly what we wrote, nothing forged from the text
    // (`:urgent:owner:` stays in the heading text, the cookie too).
    for node in &received {
        assert_eq!(node.keyword.as_deref(), Some("TODO"));
        assert_eq!(node.tags, ["unread", "message"], "{node:?}");
        assert!(
            node.heading.contains("tex@team.example.com: ") || node.heading.contains("gregor: ")
        );
        assert!(
            node.heading.contains(":urgent:owner\u{200B}:"),
            "{}",
            node.heading
        );
        assert_eq!(node.property("TO"), Some("gregor"));
    }
    assert_eq!(sent[0].keyword.as_deref(), Some("DONE"));
    assert_eq!(sent[0].tags, ["sent", "message"]);
    assert!(
        sent[0]
            .heading
            .contains(" to tex@team.example.com: [\u{200B}[https")
    );
    assert_eq!(task[0].keyword.as_deref(), Some("QUEUED"));
    assert_eq!(task[0].tags, ["AI"]);
    assert_eq!(task[0].property("FROM"), Some("gregor"));
    assert_eq!(task[0].property("TRUST_TIER"), Some("owner"));

    // What the original's queries see matches what `msg --json` reports, entry by entry.
    let listed = json(env.run("msg", &["inbox", "--all", "--json"]).ok());
    for node in &received {
        let id = node.property("ID").unwrap();
        let ours = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap();
        assert_eq!(ours["from"], node.property("FROM").unwrap());
        assert_eq!(ours["title"], node.heading.as_str());
        assert_eq!(ours["body"], HOSTILE);
        // The original's find_unread: state TODO and tag `unread`.
        assert_eq!(ours["unread"], true);
    }

    // The original marks one read and claims the task; we still read both as before.
    let message_id = received[0].property("ID").unwrap().to_owned();
    let task_id = task[0].property("ID").unwrap().to_owned();
    mark_read(&inbox, &message_id);
    claim(&tasks, &task_id);
    let shown = json(env.run("msg", &["show", &message_id, "--json"]).ok());
    assert_eq!(shown["state"], "read");
    assert_eq!(shown["body"], HOSTILE);
    assert_eq!(shown["tags"], serde_json::json!(["message"]));
    let claimed = json(env.run("msg", &["show", &task_id, "--json"]).ok());
    assert_eq!(claimed["state"], "WORKING");
    assert_eq!(
        claimed["title"],
        "[[https://x.example][ok]] [#A] <2026-12-08> :urgent:owner:"
    );
    assert_eq!(claimed["body"], "Second line.");
    // ...and our next transition works on what the original wrote.
    env.run("msg", &["task", "complete", &task_id, "--tokens", "10"])
        .ok();
    assert_eq!(
        read(&env.read(&tasks))
            .iter()
            .find(|n| n.property("ID") == Some(task_id.as_str()))
            .unwrap()
            .keyword
            .as_deref(),
        Some("DONE")
    );
    // Every entry of the fixture is still there, byte for byte.
    let after = env.read(&inbox);
    for line in fs::read_to_string(
        crate::support::fixtures().join("python-v0.2.0/root/0-personal/org/messaging/inbox.org"),
    )
    .unwrap()
    .lines()
    {
        assert!(after.contains(line), "{line:?} lost");
    }
}

#[test]
fn the_originals_timestamp_only_entries_still_show_sender_and_subject() {
    let env = v020();
    let listed = json(env.run("msg", &["inbox", "--json"]).ok());
    let first = &listed[0];
    assert_eq!(first["title"], "[2026-11-24 Tue 07:08]");
    assert_eq!(first["from"], "tex@team.example.com");
    assert!(
        first["body"]
            .as_str()
            .unwrap()
            .starts_with("Can you review PR #24?")
    );
    // The person's listing shows who and what for them too.
    let text = env.run("msg", &["inbox"]).ok().to_owned();
    assert!(
        text.lines()
            .any(|l| l.contains("tex@team.example.com") && l.contains("Can you review PR #24?")),
        "{text}"
    );
}
