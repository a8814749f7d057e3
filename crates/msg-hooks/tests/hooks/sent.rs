//! `msg sent`, `msg resend`, `msg read --all`, `msg unarchive` and `msg search` through the
//! real binary.

use msg_store::DeliveryState;

use crate::support::{Env, json, queue_task};

#[test]
fn sent_lists_each_delivery_state_and_resend_retries_a_failed_one() {
    let env = Env::new();
    let ids: Vec<String> = ["one", "two", "three", "four"]
        .iter()
        .map(|text| {
            let out = env
                .run("msg", &["send", "tex@team.example.com", text])
                .ok()
                .to_owned();
            crate::support::id_in(&out)
        })
        .collect();
    let store = env.ctx().store().unwrap();
    store
        .record_delivery(&ids[1], &DeliveryState::Queued)
        .unwrap();
    store
        .record_delivery(&ids[2], &DeliveryState::Delivered)
        .unwrap();
    store
        .record_delivery(&ids[3], &DeliveryState::Failed("frame_too_large".into()))
        .unwrap();
    store.record_attempt_error(&ids[0], "rate_limited").unwrap();
    let out = env.run("msg", &["sent"]).ok().to_owned();
    for expected in [
        "pending (last try: rate_limited)",
        "queued",
        "delivered",
        "failed: frame_too_large",
        "4 messages, 1 failed (`msg resend ID` sends one again)",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    let failed = json(env.run("msg", &["sent", "--failed", "--json"]).ok());
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["delivery"], "failed");
    assert_eq!(failed[0]["delivery_error"], "frame_too_large");
    // A queued message that the relay later says was delivered becomes delivered.
    assert!(
        store
            .record_delivery(&ids[1], &DeliveryState::Delivered)
            .unwrap()
    );
    let all = json(env.run("msg", &["sent", "--json"]).ok());
    assert_eq!(all[1]["delivery"], "delivered");
    assert!(all[1]["queued_at"].is_string() && all[1]["delivered_at"].is_string());
    assert!(
        all[2]["queued_at"].is_null(),
        "delivered at once: never queued"
    );

    // `msg thread` shows the failure too.
    let thread = env.run("msg", &["thread", &ids[3]]).ok().to_owned();
    assert!(thread.contains("sent, failed: frame_too_large"), "{thread}");

    let line = env
        .run("msg", &["resend", &ids[2]])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("cannot resend message"), "{line}");
    assert!(line.contains("resend works on failed messages"), "{line}");
    let suffix = &ids[3][ids[3].len() - 8..];
    let out = env.run("msg", &["resend", suffix]).ok().to_owned();
    assert!(out.contains("pending delivery by the relay"), "{out}");
    let again = json(env.run("msg", &["sent", "--json"]).ok());
    assert_eq!(again[3]["delivery"], "pending");
    assert!(again[3]["delivery_error"].is_null());
}

#[test]
fn read_all_and_unarchive() {
    let env = Env::new();
    for text in ["a", "b", "c"] {
        env.run("msg", &["send", "gregor", text]).ok();
    }
    let inbox = json(env.run("msg", &["inbox", "--json"]).ok());
    let first = inbox[0]["id"].as_str().unwrap().to_owned();
    env.run("msg", &["archive", &first]).ok();
    let out = env.run("msg", &["read", "--all"]).ok().to_owned();
    assert_eq!(out, "[messaging] Marked read: 2 messages\n");
    assert!(
        json(env.run("msg", &["inbox", "--unread", "--json"]).ok())
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        env.run("msg", &["read", "--all"]).ok(),
        "[messaging] Marked read: 0 messages\n"
    );
    env.run("msg", &["read"]).fails(2, "msg");
    env.run("msg", &["read", &first, "--all"]).fails(2, "msg");
    assert_eq!(
        json(env.run("msg", &["inbox", "--json"]).ok())
            .as_array()
            .unwrap()
            .len(),
        2
    );
    env.run("msg", &["unarchive", &first]).ok();
    let inbox = json(env.run("msg", &["inbox", "--json"]).ok());
    assert_eq!(inbox.as_array().unwrap().len(), 3);
    assert_eq!(inbox[0]["state"], "read");
    // Unarchiving a read message changes nothing; it is not an error.
    env.run("msg", &["unarchive", &first]).ok();
    let inbox = json(env.run("msg", &["inbox", "--json"]).ok());
    assert_eq!(inbox[0]["state"], "read");
}

#[test]
fn search_finds_messages_sent_archived_and_tasks() {
    let env = Env::new();
    env.run("msg", &["send", "gregor", "The quarterly BUDGET is due"])
        .ok();
    env.run(
        "msg",
        &["send", "tex@team.example.com", "About the budget: later"],
    )
    .ok();
    queue_task(&env, "gregor", "Check the budget numbers");
    env.run("msg", &["send", "gregor", "nothing here"]).ok();
    let found = json(env.run("msg", &["search", "Budget", "--json"]).ok());
    assert_eq!(found["total"], 3, "{found}");
    let places: Vec<&str> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["place"].as_str().unwrap())
        .collect();
    assert_eq!(places, ["inbox", "outbox", "tasks:gregor-claude"]);
    assert_eq!(found["hits"][2]["field"], "title");
    let out = env
        .run("msg", &["search", "budget", "--limit", "1"])
        .ok()
        .to_owned();
    assert!(
        out.ends_with("3 matches in 3 files (1 shown; --limit N shows more)\n"),
        "{out}"
    );
    // A property's name is not a match: every message has `:FROM:`.
    let found = json(env.run("msg", &["search", "from", "--json"]).ok());
    assert_eq!(found["total"], 0, "{found}");
    env.run("msg", &["search", " "]).fails(1, "msg");
}
