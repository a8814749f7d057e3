//! Processes at the same time: claims happen once, replies are never lost.

use std::io::Write;

use crate::support::{Env, hook_context, queue_task, task_state};

/// Starts `n` copies of `program`, then releases them together by closing their stdin
/// (each blocks reading it first), and collects their outputs.
fn race(env: &Env, program: &str, args: &[&str], stdins: &[String]) -> Vec<std::process::Output> {
    let mut children: Vec<_> = stdins.iter().map(|_| env.spawn(program, args)).collect();
    for (child, stdin) in children.iter_mut().zip(stdins) {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
    }
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn four_watchers_at_once_claim_a_task_exactly_once() {
    let env = Env::new();
    let first = queue_task(&env, "gregor", "Only one of you gets this");
    let second = queue_task(&env, "gregor", "And this one waits");
    let events: Vec<String> = (0..4)
        .map(|n| format!(r#"{{"session_id":"session-{n}","hook_event_name":"UserPromptSubmit"}}"#))
        .collect();
    let outputs = race(&env, "inbox-watcher", &[], &events);
    let mut claims = 0;
    let mut in_progress = 0;
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout.clone()).unwrap();
        let context =
            hook_context(&stdout, "UserPromptSubmit").expect("each session hears of the task");
        assert!(context.contains(&first), "{context}");
        claims += context.matches("You claimed task").count();
        in_progress += context.matches("Task in progress").count();
    }
    assert_eq!((claims, in_progress), (1, 3));
    assert_eq!(task_state(&env, &first), "WORKING");
    assert_eq!(task_state(&env, &second), "QUEUED");
    let working = env
        .ctx()
        .agent_inbox(None)
        .unwrap()
        .find_by_state(&[msg_inbox::TaskState::Working])
        .unwrap();
    assert_eq!(working.len(), 1);
}

#[test]
fn four_send_replies_at_once_lose_nothing() {
    let env = Env::new();
    // Each process sends one reply read from stdin; five rounds of four.
    let mut ids = Vec::new();
    for round in 0..5 {
        let texts: Vec<String> = (0..4).map(|n| format!("reply {round}-{n}")).collect();
        for output in race(&env, "send-reply", &["tex@team.example.com", "-"], &texts) {
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            ids.push(crate::support::id_in(
                &String::from_utf8(output.stdout).unwrap(),
            ));
        }
        let local: Vec<String> = (0..4).map(|n| format!("local {round}-{n}")).collect();
        for output in race(&env, "send-reply", &["gregor", "-"], &local) {
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let store = env.ctx().store().unwrap();
    let sent = store.sent().unwrap();
    assert_eq!(sent.len(), 20);
    let mut bodies: Vec<&str> = sent.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    let mut expected: Vec<String> = (0..5)
        .flat_map(|r| (0..4).map(move |n| format!("reply {r}-{n}")))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
    for id in &ids {
        assert!(sent.iter().any(|m| &m.id == id), "{id} lost");
    }
    assert_eq!(store.unread().unwrap().len(), 20);
    // Both files are whole: every entry parses, no ID twice.
    for path in [env.outbox_path(), env.inbox_path()] {
        let doc = msg_core::org::OrgFile::new(
            &path,
            msg_core::org::TodoKeywords::parse(msg_store::STATES),
        )
        .read()
        .unwrap();
        assert!(doc.duplicate_ids().is_empty());
        assert_eq!(doc.len(), 20);
    }
}
