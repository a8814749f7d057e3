//! Bad input gives one clear line and loses nothing.

use crate::support::{Env, deliver, queue_task, task_state};

#[test]
fn newlines_in_single_line_arguments_are_refused() {
    let env = Env::new();
    let task = queue_task(&env, "gregor", "A task");
    env.context("s1").unwrap();
    let (inbox, outbox, agent) = (
        env.read(&env.inbox_path()),
        env.read(&env.outbox_path()),
        env.read(&env.agent_path()),
    );
    let line = env
        .run("send-reply", &["tex@x.org\n:FROM: gregor", "hi"])
        .fails(1, "send-reply")
        .to_owned();
    assert_eq!(
        line,
        "send-reply: to must not contain line breaks (CR or LF), got \"tex@x.org\\n:FROM: gregor\""
    );
    let line = env
        .run("send-reply", &["tex@x.org", "hi", "--as", "a\rb"])
        .fails(1, "send-reply")
        .to_owned();
    assert!(line.contains("as must not contain line breaks"), "{line}");
    let line = env
        .run("task-queue", &["retry", &task, "--reason", "one\ntwo"])
        .fails(1, "task-queue")
        .to_owned();
    assert!(
        line.contains("reason must not contain line breaks"),
        "{line}"
    );
    let line = env
        .run("msg", &["send", "tex\n@x.org", "hi"])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("to must not contain line breaks"), "{line}");
    let line = env
        .run(
            "msg",
            &["task", "submit", "x", "--from", "eve\n* QUEUED forged"],
        )
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("must not contain line breaks"), "{line}");
    assert_eq!(env.read(&env.inbox_path()), inbox);
    assert_eq!(env.read(&env.outbox_path()), outbox);
    assert_eq!(env.read(&env.agent_path()), agent);
    assert_eq!(task_state(&env, &task), "WORKING");
    // A newline in the text itself is a multi-line message, kept whole.
    env.run("send-reply", &["tex@x.org", "line one\n* not a heading"])
        .ok();
    let sent = env.ctx().store().unwrap().sent().unwrap();
    assert_eq!(sent[0].body, "line one\n* not a heading");
}

#[test]
fn a_malformed_settings_file_stops_every_program_with_its_line() {
    let env = Env::new();
    queue_task(&env, "gregor", "Queued before the settings broke");
    env.write_settings(
        "identity:\n  name: gregor\nmessaging:\n  compute:\n    max_queue_depth: many\n",
    );
    let expected_end = "settings.local.yaml, line 5 column 22: messaging.compute.max_queue_depth: invalid type: string \"many\", expected a whole number, 0 or more";
    for (program, args, code) in [
        ("inbox-watcher", &[][..], 1),
        ("send-reply", &["tex@x.org", "hi"][..], 1),
        ("mark-message", &["msg-1", "read"][..], 1),
        ("task-queue", &["status"][..], 1),
        ("msg", &["inbox"][..], 1),
    ] {
        let run = env.run(program, args);
        let line = run.fails(code, program);
        assert!(line.contains(": invalid settings in /"), "{line}");
        assert!(line.ends_with(expected_end), "{line}");
    }
    // The hook claimed nothing.
    let inbox = env.read(&env.agent_path());
    assert!(inbox.contains("* QUEUED "), "{inbox}");
}

#[test]
fn an_unwritable_directory_is_one_line_and_loses_nothing() {
    // Tests run as root, for whom permissions do not stop a write; a directory whose parent
    // is a regular file stops everyone.
    let env = Env::new();
    let task = queue_task(&env, "gregor", "Do not lose me");
    let message = deliver(&env, "tex@team.example.com", "Do not lose me either");
    let state = env.root().join(".datacore/state");
    std::fs::rename(&state, env.dir.path().join("state-aside")).unwrap();
    std::fs::write(&state, "a file where the state directory should be").unwrap();
    let line = env.watch("s1").fails(1, "inbox-watcher").to_owned();
    assert!(
        line.contains("/.datacore/state/messaging/inbox-watcher/0-personal"),
        "{line}"
    );
    assert!(line.contains("Not a directory"), "{line}");
    assert_eq!(task_state(&env, &task), "QUEUED");
    std::fs::remove_file(&state).unwrap();
    std::fs::rename(env.dir.path().join("state-aside"), &state).unwrap();
    let context = env.context("s1").unwrap();
    assert!(context.contains("Do not lose me"), "{context}");
    // The person's message is theirs: never shown to the agent, still unread.
    assert!(!context.contains("Do not lose me either"), "{context}");
    let store = env.ctx().store().unwrap();
    assert!(store.by_id(&message).unwrap().unwrap().is_unread());

    let blocked = Env::new();
    std::fs::write(
        blocked.root().join("0-personal"),
        "a file where the space should be",
    )
    .unwrap();
    let line = blocked
        .run("send-reply", &["tex@x.org", "hi"])
        .fails(1, "send-reply")
        .to_owned();
    assert!(line.contains("Not a directory"), "{line}");
    assert!(line.contains("/0-personal/org/messaging/"), "{line}");
    let line = blocked
        .run("msg", &["send", "tex@x.org", "hi"])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("Not a directory"), "{line}");
    // The hook has nothing to read there and stays silent.
    assert_eq!(blocked.watch("s1").ok(), "");
}

#[test]
fn unknown_ids_are_one_line_each() {
    let env = Env::new();
    deliver(&env, "gregor", "x");
    for (program, args) in [
        ("mark-message", &["msg-0000", "read"][..]),
        ("task-queue", &["approve", "task-0000"][..]),
        (
            "send-reply",
            &["gregor", "x", "--complete-task", "task-0000"][..],
        ),
        ("msg", &["show", "zzzz"][..]),
        ("msg", &["task", "approve", "zzzz"][..]),
        ("msg", &["thread", "zzzz"][..]),
    ] {
        let line = env.run(program, args).fails(1, program).to_owned();
        assert!(
            line.contains("has an ID equal to, starting with or ending with"),
            "{program}: {line}"
        );
    }
}
