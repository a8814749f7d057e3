//! `send-reply`: where replies go, completing tasks, the governor, and refusals that write
//! nothing.

use crate::support::{Env, deliver, id_in, queue_task, redact, task_state};

#[test]
fn a_reply_to_someone_else_waits_in_the_outbox_for_the_relay() {
    let env = Env::new();
    let question = deliver(&env, "tex@team.example.com", "Can you review PR #24?");
    let suffix = &question[question.len() - 6..];
    let run = env.run(
        "send-reply",
        &[
            "tex@team.example.com",
            "On it.\nSecond line.",
            "--reply-to",
            suffix,
        ],
    );
    let out = run.ok();
    assert!(out.starts_with("[messaging] Sent: msg-"), "{out}");
    assert!(
        out.ends_with(" (in outbox.org, pending delivery by the relay)\n"),
        "{out}"
    );
    let id = id_in(out);
    let outbox = env.read(&env.outbox_path());
    assert!(outbox.contains(&format!(":ID: {id}")));
    insta::assert_snapshot!("reply_in_outbox", redact(&outbox, &env));
    // Not in the inbox: the original wrote replies there as unread.
    assert!(!env.read(&env.inbox_path()).contains(&id));
}

#[test]
fn a_reply_to_the_local_user_lands_in_the_local_inbox() {
    let env = Env::new();
    let out = env
        .run("send-reply", &["gregor", "Finished the summary"])
        .ok()
        .to_owned();
    assert!(out.ends_with(" (delivered to the local inbox)\n"), "{out}");
    let id = id_in(&out);
    let message = env.ctx().store().unwrap().by_id(&id).unwrap().unwrap();
    assert!(message.is_unread());
    assert_eq!(message.from, "gregor-claude");
    assert_eq!(message.to.as_deref(), Some("gregor"));
    assert_eq!(message.body, "Finished the summary");
    let run = env.run(
        "send-reply",
        &["gregor", "from the person", "--as", "gregor"],
    );
    let id = id_in(run.ok());
    assert_eq!(
        env.ctx().store().unwrap().by_id(&id).unwrap().unwrap().from,
        "gregor"
    );
}

#[test]
fn complete_task_completes_links_and_reconciles_the_governor() {
    let env = Env::new();
    let task = queue_task(&env, "tex@team.example.com", "Summarise the standup notes");
    assert!(env.context("s1").unwrap().contains(&task));
    let before = env.run(
        "msg",
        &["usage", "--actor", "tex@team.example.com", "--json"],
    );
    let before: serde_json::Value = serde_json::from_str(before.ok()).unwrap();
    assert_eq!(before["tokens_reserved"], 5000);
    let run = env.run(
        "send-reply",
        &[
            "tex@team.example.com",
            "Three decisions.",
            "--complete-task",
            &task[task.len() - 8..],
            "--tokens",
            "1200",
        ],
    );
    let out = run.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[1], format!("[messaging] Completed task: {task}"));
    assert!(
        lines[2].starts_with("[messaging] Governor: admission adm-"),
        "{out}"
    );
    assert!(
        lines[2].ends_with(" completed with 1,200 tokens used (5,000 were reserved)"),
        "{out}"
    );
    assert_eq!(task_state(&env, &task), "DONE");
    let done = env
        .ctx()
        .agent_inbox(None)
        .unwrap()
        .find_by_id(&task)
        .unwrap()
        .unwrap();
    assert_eq!(done.property("TOKENS_USED"), Some("1200"));
    let reply = id_in(lines[0]);
    let sent = env.ctx().store().unwrap().sent().unwrap();
    let sent = sent.iter().find(|m| m.id == reply).unwrap();
    assert_eq!(sent.property("TASK"), Some(task.as_str()));
    assert_eq!(sent.property("DELIVERY"), Some("pending"));
    let after = env.run(
        "msg",
        &["usage", "--actor", "tex@team.example.com", "--json"],
    );
    let after: serde_json::Value = serde_json::from_str(after.ok()).unwrap();
    assert_eq!(
        (
            after["tokens_used"].clone(),
            after["tokens_reserved"].clone()
        ),
        (1200.into(), 0.into())
    );
    // `msg show` finds the reply from the task.
    let show = env.run("msg", &["show", &task]);
    assert!(
        show.ok().contains(&format!("  Reply: {reply}")),
        "{}",
        show.stdout
    );
}

#[test]
fn complete_is_the_documented_spelling_of_complete_task() {
    let env = Env::new();
    let task = queue_task(&env, "gregor", "Task");
    env.context("s1").unwrap();
    let run = env.run("send-reply", &["gregor", "done", "--complete", &task]);
    assert!(
        run.ok()
            .contains(&format!("[messaging] Completed task: {task}"))
    );
    // A task without an admission (v0.2.0, by hand) charges its sender instead.
    let ctx = env.ctx();
    let inbox = ctx.agent_inbox(None).unwrap();
    let legacy = inbox
        .create_task("gregor", "Old task", "owner", &["AI"], None, None)
        .unwrap();
    inbox.claim(legacy.id()).unwrap();
    let run = env.run(
        "send-reply",
        &[
            "gregor",
            "done",
            "--complete",
            legacy.id(),
            "--tokens",
            "300",
        ],
    );
    assert!(
        run.ok().contains("[messaging] Governor: 300 tokens recorded for gregor (the task had no active admission)"),
        "{}",
        run.stdout
    );
    let both = env.run(
        "send-reply",
        &["gregor", "x", "--complete", "a", "--complete-task", "b"],
    );
    assert!(both.fails(2, "send-reply").contains("name different tasks"));
}

#[test]
fn a_task_that_is_not_working_is_refused_before_anything_is_sent() {
    let env = Env::new();
    let task = queue_task(&env, "gregor", "Still queued");
    let outbox = env.read(&env.outbox_path());
    let inbox = env.read(&env.inbox_path());
    let run = env.run(
        "send-reply",
        &["tex@team.example.com", "done", "--complete-task", &task],
    );
    let line = run.fails(1, "send-reply");
    assert_eq!(
        line,
        format!(
            "send-reply: cannot complete task {task}: it is QUEUED, but complete needs WORKING; from QUEUED you can claim (→ WORKING) or cancel (→ CANCELLED) (next: `msg task claim {task}`, `msg task cancel {task}`)"
        )
    );
    assert_eq!(env.read(&env.outbox_path()), outbox);
    assert_eq!(env.read(&env.inbox_path()), inbox);
    let run = env.run(
        "send-reply",
        &["tex@team.example.com", "done", "--complete-task", "nope"],
    );
    assert!(run.fails(1, "send-reply").contains("no task in"));
    assert_eq!(env.read(&env.outbox_path()), outbox);
    let run = env.run(
        "send-reply",
        &["tex@team.example.com", "done", "--reply-to", "msg-unknown"],
    );
    assert!(run.fails(1, "send-reply").contains("no message in"));
    assert_eq!(env.read(&env.outbox_path()), outbox);
}

#[test]
fn the_reply_can_come_from_stdin() {
    let env = Env::new();
    let text = "It's done: \"quotes\", $dollars and `backticks` survive.\n\nSecond paragraph.";
    let run = env.run_with_stdin("send-reply", &["tex@team.example.com", "-"], text);
    let id = id_in(run.ok());
    let sent = env.ctx().store().unwrap().sent().unwrap();
    assert_eq!(sent.iter().find(|m| m.id == id).unwrap().body, text);
}

#[test]
fn usage_mistakes_exit_2() {
    let env = Env::new();
    let run = env.run("send-reply", &["only-one-argument"]);
    assert!(
        run.fails(2, "send-reply")
            .contains("Required positional arguments not provided")
    );
    let run = env.run("send-reply", &["a", "b", "--tokens", "many"]);
    assert_eq!(run.code, 2);
    let run = env.run("send-reply", &["a", "b", "--tokens", "5"]);
    assert!(
        run.fails(2, "send-reply")
            .contains("--tokens goes with --complete-task")
    );
    assert!(
        env.run("send-reply", &["--help"])
            .ok()
            .contains("--complete-task")
    );
}
