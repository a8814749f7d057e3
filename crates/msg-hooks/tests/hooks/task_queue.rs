//! `task-queue`: the original's status block and actions, the documented spellings, and
//! errors instead of silence.

use crate::support::{Env, queue_task, task_state};

fn submit(env: &Env, from: &str, text: &str) -> String {
    let ctx = env.ctx();
    msg_hooks::TaskDesk::open(&ctx, None)
        .unwrap()
        .submit(&msg_hooks::Submission {
            from: from.into(),
            text: text.into(),
            estimated_tokens: Some(2000),
            ..Default::default()
        })
        .unwrap()
        .task
        .id()
        .to_owned()
}

#[test]
fn status_prints_the_original_block() {
    let env = Env::new();
    queue_task(&env, "gregor", "Owner task");
    submit(&env, "stranger@other.org", "Unknown task");
    insta::assert_snapshot!(env.run("task-queue", &["status"]).ok(), @r"
    Task queue for gregor-claude:
      Queued:  1
      Working: 0
      Waiting: 1
      Done:    0
      Total:   2
    ");
}

#[test]
fn every_action_with_the_id_positional_or_as_task_id() {
    let env = Env::new();
    let waiting = submit(&env, "partner@external.com", "Draft a post");
    let out = env
        .run("task-queue", &["approve", &waiting[waiting.len() - 6..]])
        .ok()
        .to_owned();
    assert_eq!(out, format!("[messaging] Approved: {waiting}\n"));
    assert_eq!(task_state(&env, &waiting), "QUEUED");
    env.run("msg", &["task", "claim", &waiting]).ok();
    let out = env
        .run(
            "task-queue",
            &["retry", "--task-id", &waiting, "--reason", "crashed"],
        )
        .ok()
        .to_owned();
    assert_eq!(out, format!("[messaging] Re-queued: {waiting}\n"));
    env.run("msg", &["task", "claim"]).ok();
    env.run("msg", &["task", "complete", &waiting, "--tokens", "100"])
        .ok();
    let out = env
        .run("task-queue", &["revise", &waiting, "--reason", "shorter"])
        .ok()
        .to_owned();
    assert_eq!(out, format!("[messaging] Revision requested: {waiting}\n"));
    env.run("msg", &["task", "claim"]).ok();
    env.run("msg", &["task", "complete", &waiting]).ok();
    let out = env.run("task-queue", &["accept", &waiting]).ok().to_owned();
    assert_eq!(out, format!("[messaging] Accepted: {waiting}\n"));
    assert_eq!(task_state(&env, &waiting), "ARCHIVED");

    let rejected = submit(&env, "stranger@other.org", "Do something odd");
    let out = env
        .run(
            "task-queue",
            &["reject", "--task-id", &rejected, "--reason", "Not relevant"],
        )
        .ok()
        .to_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("[messaging] Rejected: {rejected}"));
    assert!(
        lines[1].ends_with(" released (2,000 reserved tokens freed)"),
        "{out}"
    );
    let task = env
        .ctx()
        .agent_inbox(None)
        .unwrap()
        .find_by_id(&rejected)
        .unwrap()
        .unwrap();
    assert_eq!(task.property("REJECTION_REASON"), Some("Not relevant"));

    let cancelled = queue_task(&env, "gregor", "Never mind");
    let out = env
        .run("task-queue", &["cancel", &cancelled])
        .ok()
        .to_owned();
    assert!(
        out.starts_with(&format!("[messaging] Cancelled: {cancelled}\n")),
        "{out}"
    );
    assert_eq!(task_state(&env, &cancelled), "CANCELLED");
}

#[test]
fn not_found_and_wrong_state_are_errors_not_silence() {
    let env = Env::new();
    let queued = queue_task(&env, "gregor", "Queued");
    let before = env.read(&env.agent_path());
    let line = env
        .run("task-queue", &["approve", &queued])
        .fails(1, "task-queue")
        .to_owned();
    assert_eq!(
        line,
        format!(
            "task-queue: cannot approve task {queued}: it is QUEUED, but approve needs WAITING; from QUEUED you can claim (→ WORKING) or cancel (→ CANCELLED) (next: `msg task claim {queued}`, `task-queue cancel {queued}`)"
        )
    );
    let line = env
        .run("task-queue", &["cancel", "--task-id", "task-nope"])
        .fails(1, "task-queue")
        .to_owned();
    assert!(
        line.contains("no task in") && line.contains("\"task-nope\""),
        "{line}"
    );
    assert_eq!(env.read(&env.agent_path()), before);
}

#[test]
fn usage_mistakes_exit_2() {
    let env = Env::new();
    let line = env
        .run("task-queue", &["approve"])
        .fails(2, "task-queue")
        .to_owned();
    assert!(line.contains("which task?"), "{line}");
    env.run("task-queue", &["explode"]).fails(2, "task-queue");
    env.run("task-queue", &["status", "task-1"])
        .fails(2, "task-queue");
    env.run("task-queue", &["approve", "a", "--task-id", "b"])
        .fails(2, "task-queue");
    assert!(
        env.run("task-queue", &["--help"])
            .ok()
            .contains("--task-id")
    );
}
