//! `msg digest`: what waits for the person, grouped and bounded.

use std::fmt::Write as _;

use msg_store::{MessageStore, NewMessage, Priority};

use crate::support::{Env, json, queue_task, submit_task};

#[test]
fn messages_are_grouped_by_sender_high_priority_first_with_tasks_and_the_days_figures() {
    let env = Env::new();
    let store = env.ctx().store().unwrap();
    let send = |from: &str, text: &str, priority: Priority| {
        store
            .create_message(&NewMessage::new(from, "gregor", text).priority(priority))
            .unwrap()
            .id
    };
    send("partner@external.com", "Invoice attached", Priority::Normal);
    send("partner@external.com", "Second note", Priority::Normal);
    send("partner@external.com", "Third note", Priority::Normal);
    let urgent = send(
        "tex@team.example.com",
        "Prod is down\nDetails follow",
        Priority::High,
    );
    let read = send("tex@team.example.com", "Old news", Priority::Normal);
    store.mark_read(&read).unwrap();
    // A task awaiting approval, and one done awaiting acceptance.
    let waiting = submit_task(&env, "partner@external.com", "Draft a blog post");
    let done = queue_task(&env, "gregor", "Summarise the notes");
    env.run("msg", &["task", "claim", &done]).ok();
    env.run("msg", &["task", "complete", &done, "--tokens", "1200"])
        .ok();

    let before = env.tree();
    let text = env.run("msg", &["digest"]).ok().to_owned();
    // Reads only.
    assert_eq!(env.tree(), before);
    assert!(
        text.starts_with("Digest for gregor (space 0-personal), "),
        "{text}"
    );
    assert!(text.contains("Unread: 4 messages from 2 senders"), "{text}");
    // The sender with a high-priority message comes first, its high message first.
    let tex = text
        .find("  tex@team.example.com (team): 1, 1 high")
        .unwrap();
    let partner = text.find("  partner@external.com (trusted): 3").unwrap();
    assert!(tex < partner, "{text}");
    assert!(
        text.contains(&format!("    [HIGH] {urgent}  Prod is down\n")),
        "{text}"
    );
    assert!(!text.contains("Old news"), "{text}");
    assert!(
        text.contains("Awaiting your approval (gregor-claude): 1 task (msg task approve <ID>"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  {}  from partner@external.com: Draft a blog post",
            waiting
        )),
        "{text}"
    );
    assert!(
        text.contains("Done, awaiting your acceptance (gregor-claude): 1 task"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {done}  from gregor: Summarise the notes")),
        "{text}"
    );
    assert!(text.contains("\nToday: 1,200 tokens used + "), "{text}");

    let value = json(env.run("msg", &["digest", "--json"]).ok());
    assert_eq!(value["unread"]["total"], 4);
    assert_eq!(
        value["unread"]["senders"][0]["from"],
        "tex@team.example.com"
    );
    assert_eq!(value["unread"]["senders"][0]["high"], 1);
    assert_eq!(value["unread"]["senders"][0]["messages"][0]["id"], urgent);
    assert_eq!(
        value["unread"]["senders"][0]["messages"][0]["summary"],
        "Prod is down"
    );
    assert_eq!(value["unread"]["senders"][1]["count"], 3);
    assert_eq!(value["awaiting_approval"]["total"], 1);
    assert_eq!(value["awaiting_acceptance"]["tasks"][0]["id"], done);
    assert_eq!(value["today"]["tokens_used"], 1200);
}

#[test]
fn an_empty_root_has_a_short_digest_and_no_files_are_created() {
    let env = Env::new();
    let text = env.run("msg", &["digest"]).ok().to_owned();
    assert!(text.contains("\nNo unread messages.\n"), "{text}");
    assert!(!text.contains("Awaiting"), "{text}");
    assert!(!env.root().join("0-personal").exists());
}

#[test]
fn the_digest_stays_short_whatever_the_inbox_holds() {
    let env = Env::new();
    // 10,000 unread messages from 500 senders with long names and long first lines, written
    // as one file (the store's appends would take minutes), and 40 tasks awaiting approval.
    let mut inbox = String::from("#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n");
    for i in 0..10_000 {
        let from = format!("sender-{:03}-{}@example.org", i % 500, "x".repeat(150));
        let cookie = if i % 7 == 0 { "[#A] " } else { "" };
        writeln!(
            inbox,
            "* TODO {cookie}[2026-02-01 Sun 10:00] :unread:message:\n  :PROPERTIES:\n  :ID: msg-20260201-100000-{i:012x}\n  :FROM: {from}\n  :TO: gregor\n  :CREATED: [2026-02-01 Sun 10:00]\n  :END:\n  {}\x1b[2J",
            "A very long first line of a message. ".repeat(20)
        )
        .unwrap();
    }
    let store = MessageStore::open(&env.root().join("0-personal")).unwrap();
    std::fs::write(store.inbox_path(), inbox).unwrap();
    for n in 0..40 {
        let title = format!("Task {n} {}", "with a long title ".repeat(20));
        submit_task(&env, "partner@external.com", &title);
    }
    let text = env.run("msg", &["digest"]).ok().to_owned();
    assert!(
        text.chars().count() <= 4_000,
        "{} characters:\n{text}",
        text.chars().count()
    );
    assert!(
        text.contains("Unread: 10,000 messages from 500 senders"),
        "{text}"
    );
    assert!(
        text.contains("  and 494 more senders with 9,880 messages\n"),
        "{text}"
    );
    assert!(
        text.contains("Awaiting your approval (gregor-claude): 40 tasks"),
        "{text}"
    );
    assert!(
        text.contains("  and 36 more: msg tasks --state WAITING"),
        "{text}"
    );
    // Text others wrote cannot reach the terminal as control sequences.
    assert!(!text.contains('\x1b'), "{text}");
    let json_text = env.run("msg", &["digest", "--json"]).ok().to_owned();
    assert!(json_text.len() <= 8_000, "{} bytes", json_text.len());
    let value = json(&json_text);
    assert_eq!(value["unread"]["senders"].as_array().unwrap().len(), 6);
    assert_eq!(value["unread"]["senders_total"], 500);
}
