//! `msg broadcast` and `msg send a,b`: a copy per recipient in one thread; and what `msg
//! send` refuses before writing anything (issue 19, defects 4, 5 and 12).

use crate::support::{Env, json};

fn sent(env: &Env) -> Vec<serde_json::Value> {
    let store = env.ctx().store().unwrap();
    store
        .sent()
        .unwrap()
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id, "to": m.to, "thread": m.thread,
                "delivery": m.property("DELIVERY"),
            })
        })
        .collect()
}

#[test]
fn a_group_and_named_recipients_get_a_copy_each_in_one_thread() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    env.run("msg", &["contacts", "add", "ann", "--handle", "@an"])
        .ok();
    let path = env.root().join("0-personal/contacts.yaml");
    let text = env.read(&path).replace(
        "groups: {}",
        "groups:\n  team: [\"@an\", bob, gregor-claude]",
    );
    std::fs::write(&path, text).unwrap();

    let run = env.run(
        "msg",
        &[
            "broadcast",
            "Standup at 10",
            "--group",
            "team",
            "--to",
            "carol,ann",
        ],
    );
    let out = run.stdout.clone();
    assert_eq!(run.code, 0, "{run:?}");
    // bob and carol are in no contact and no settings entry: a warning each, sent anyway.
    assert_eq!(run.stderr.lines().count(), 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("\"bob\" is in no contact"),
        "{}",
        run.stderr
    );
    assert!(
        out.contains("to ann\n") && out.contains("to bob\n") && out.contains("to carol\n"),
        "{out}"
    );
    assert!(
        out.contains("Submitted task task-"),
        "the agent gets a task: {out}"
    );
    let sent = sent(&env);
    let to: Vec<&str> = sent.iter().map(|m| m["to"].as_str().unwrap()).collect();
    assert_eq!(to, ["ann", "bob", "carol"], "each once, in order");
    let root = sent[0]["id"].as_str().unwrap();
    assert!(sent[0]["thread"].is_null());
    assert!(sent[1..].iter().all(|m| m["thread"] == root), "{sent:?}");
    assert!(sent.iter().all(|m| m["delivery"] == "pending"));
    // `msg thread` shows all three as one conversation.
    let thread = json(env.run("msg", &["thread", root, "--json"]).ok());
    assert_eq!(thread["messages"].as_array().unwrap().len(), 3);

    // `msg send a,b` is the same.
    let out = env
        .run("msg", &["send", "gregor, tex@team.example.com", "hi both"])
        .ok()
        .to_owned();
    assert!(
        out.contains("(delivered to the local inbox) to gregor"),
        "{out}"
    );
    assert!(out.contains("to tex@team.example.com"), "{out}");

    let line = env
        .run("msg", &["broadcast", "x", "--group", "nope"])
        .fails(1, "msg")
        .to_owned();
    assert!(
        line.contains("no group \"nope\"; the groups are team"),
        "{line}"
    );
    env.run("msg", &["broadcast", "x"]).fails(2, "msg");
}

#[test]
fn send_refuses_empty_oversized_and_impossible_messages_before_writing() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    let before = env.tree();
    // Defect 5: an empty message.
    let line = env
        .run("msg", &["send", "bob", ""])
        .fails(1, "msg")
        .to_owned();
    assert!(
        line.contains("the message text must not be empty"),
        "{line}"
    );
    env.run("msg", &["send", "bob", "  \n "]).fails(1, "msg");
    // Defect 4: 70 KB does not fit a relay frame: refused now, with the limit.
    let big = "x".repeat(70 * 1024);
    let line = env
        .run("msg", &["send", "bob", &big])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("a relay takes 65536 at most"), "{line}");
    // Defect 12: a name no one can log in as (300 characters), checked as the relay does.
    let long = "b".repeat(300);
    let line = env
        .run("msg", &["send", &long, "hi"])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("the limit is 128"), "{line}");
    assert_eq!(env.tree(), before, "nothing was written");
    // A name that can log in but that nobody here knows: sent, with a warning.
    let run = env.run("msg", &["send", "bo b", "hi"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .starts_with("msg: warning: \"bo b\" is in no contact"),
        "{}",
        run.stderr
    );
    // A known one: no warning.
    env.run("msg", &["send", "tex@team.example.com", "hi"]).ok();
    // Large but within the frame: sent.
    env.run(
        "msg",
        &["send", "tex@team.example.com", &"y".repeat(60 * 1024)],
    )
    .ok();
}
