//! Issue 19's defects, each as a new user met it, through the real binaries (defects 4, 5
//! and 12 are in `broadcast.rs`, 11 and 14 with the demo and 13 in `relay.rs`).

use crate::support::{Env, copy_tree, fixtures, json, queue_task, redact};

#[test]
fn defect_3_one_definition_of_unread_after_a_v0_1_0_migration() {
    let env = Env::with_fixture("v0.1.0");
    env.write_settings(crate::support::SETTINGS);
    env.run("msg", &["migrate"]).ok();
    let listed = json(env.run("msg", &["inbox", "--json"]).ok());
    let unread_flags: Vec<(String, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["state"].as_str().unwrap().to_owned(),
                m["unread"].as_bool().unwrap(),
            )
        })
        .collect();
    // The `:todo:` message of v0.1.0 is TODO without `unread`: "todo", not unread.
    for (state, unread) in &unread_flags {
        assert_eq!(state == "unread", *unread, "{unread_flags:?}");
    }
    assert!(
        unread_flags.iter().any(|(s, _)| s == "todo"),
        "{unread_flags:?}"
    );
    let unread_count = unread_flags.iter().filter(|(_, u)| *u).count();
    let only_unread = json(env.run("msg", &["inbox", "--unread", "--json"]).ok());
    assert_eq!(only_unread.as_array().unwrap().len(), unread_count);
    let text = env.run("msg", &["inbox"]).ok().to_owned();
    let listed_unread = text.lines().filter(|l| l.starts_with("unread ")).count();
    assert_eq!(listed_unread, unread_count, "{text}");
    assert!(
        text.ends_with(&format!(", {unread_count} unread\n")),
        "{text}"
    );
}

#[test]
fn defect_6_migrate_without_an_identity_changes_nothing() {
    let env = Env::empty();
    copy_tree(&fixtures().join("v0.1.0"), &env.root());
    let before = env.tree();
    for args in [vec!["migrate"], vec!["migrate", "--dry-run"]] {
        let line = env
            .command("msg", &args)
            .env("USER", "someone")
            .output()
            .map(crate::support::finish)
            .unwrap()
            .fails(1, "msg")
            .to_owned();
        assert!(
            line.contains("run `msg init --name gregor` first"),
            "{line}"
        );
    }
    assert_eq!(env.tree(), before);
    // Under another name: refused too, saying whose files they are.
    env.write_settings("identity: {name: bob}\n");
    let line = env.run("msg", &["migrate"]).fails(1, "msg").to_owned();
    assert!(line.contains("belong to gregor, not to you"), "{line}");
    env.write_settings(crate::support::SETTINGS);
    env.run("msg", &["migrate"]).ok();
    let backups = std::fs::read_dir(env.root().join("0-personal/org/migration-backup"))
        .unwrap()
        .count();
    assert_eq!(backups, 1);
}

#[test]
fn defect_8_a_wrong_state_names_the_commands_people_type() {
    let env = Env::new();
    let id = queue_task(&env, "gregor", "Summarise");
    env.run("msg", &["task", "claim", &id]).ok();
    env.run("msg", &["task", "complete", &id]).ok();
    let line = env
        .run("msg", &["task", "claim", &id])
        .fails(1, "msg")
        .to_owned();
    assert!(!line.contains("request_revision"), "{line}");
    assert!(
        line.contains("from DONE you can accept (→ ARCHIVED) or revise (→ QUEUED)"),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            "(next: `msg task accept {id}`, `msg task revise {id}`)"
        )),
        "{line}"
    );
    let line = env
        .run("task-queue", &["approve", &id])
        .fails(1, "task-queue")
        .to_owned();
    assert!(
        line.ends_with(&format!(
            "(next: `task-queue accept {id}`, `task-queue revise {id}`)"
        )),
        "{line}"
    );
}

#[test]
fn defect_9_a_python3_watcher_entry_is_replaced() {
    let env = Env::new();
    let settings = env.home().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(
        &settings,
        r#"{"hooks":{"UserPromptSubmit":[{"hooks":[{"type":"command","command":"python3 ~/.datacore/hooks/inbox-watcher.py"}]}]}}"#,
    )
    .unwrap();
    let watcher = crate::support::exe("inbox-watcher");
    env.run("msg", &["hooks", "install", "--command", watcher])
        .ok();
    let text = env.read(&settings);
    assert!(!text.contains("inbox-watcher.py"), "{text}");
    assert_eq!(text.matches("inbox-watcher").count(), 2, "{text}"); // both events
}

#[test]
fn defect_10_not_found_names_every_file_searched() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    let line = env
        .run("msg", &["show", "nothing-like-it"])
        .fails(1, "msg")
        .to_owned();
    let line = redact(&line, &env);
    assert!(
        line.contains("inbox.org, <TMP>/root/0-personal/org/messaging/outbox.org or <TMP>/root/0-personal/org/messaging/agents/gregor-claude.org"),
        "{line}"
    );
}

#[test]
fn defect_15_explain_exits_1_when_the_governor_would_refuse() {
    let env = Env::new();
    env.run("msg", &["usage", "explain", "gregor"]).ok();
    let run = env.run(
        "msg",
        &["usage", "explain", "stranger", "--tokens", "999999999"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        !run.stdout.is_empty(),
        "the explanation is printed: {run:?}"
    );
    assert_eq!(
        run.stderr,
        "msg: the governor would refuse a task from stranger now\n"
    );
}

#[test]
fn defect_16_init_says_how_to_reach_a_relay() {
    let env = Env::empty();
    let out = env.run("msg", &["init", "--name", "ann"]).ok().to_owned();
    assert!(out.contains("`msg hooks install`"), "{out}");
    assert!(
        out.contains("messaging.relay.token") && out.contains("`msg relay connect`"),
        "{out}"
    );
}

#[test]
fn defect_17_a_task_approved_in_emacs_counts_as_approved() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    env.run(
        "msg",
        &["task", "submit", "Translate", "--from", "stranger"],
    )
    .ok();
    // The person approves in Emacs: only the keyword changes; AWAITING stays.
    let path = env.agent_path();
    let text = env.read(&path).replacen("* WAITING ", "* QUEUED ", 1);
    std::fs::write(&path, &text).unwrap();
    let tasks = json(env.run("msg", &["tasks", "--json"]).ok());
    assert_eq!(tasks[0]["state"], "QUEUED");
    assert_eq!(tasks[0]["awaiting_approval"], false);
    let doctor = env.run("msg", &["doctor"]).stdout;
    assert!(
        !doctor.contains("AWAITING") && !doctor.contains("awaiting"),
        "{doctor}"
    );
    // The next operation records the approval.
    let id = tasks[0]["id"].as_str().unwrap().to_owned();
    env.run("msg", &["task", "claim", &id]).ok();
    let text = env.read(&path);
    assert!(!text.contains(":AWAITING:"), "{text}");
    assert!(text.contains(":APPROVAL: owner_approved"), "{text}");
}

#[test]
fn defect_18_doctor_reports_unknown_keys_and_how_the_machine_is_wired() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    let settings = env.root().join(".datacore/settings.local.yaml");
    let text = env
        .read(&settings)
        .replace("messaging:\n", "messaging:\n  show_in_todya: false\n");
    std::fs::write(&settings, text).unwrap();
    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 0, "warnings only: {run:?}");
    let out = run.stdout;
    assert!(out.contains("settings: warning: messaging.show_in_todya is not a setting of datacore-messaging (did you mean messaging.show_in_today?)"), "{out}");
    assert!(out.contains("does not run inbox-watcher, so your agent does not see its tasks: `msg hooks install` registers it"), "{out}");
    assert!(out.contains("relay: note: not configured"), "{out}");
    assert!(out.ends_with("0 errors, 2 warnings\n"), "{out}");
    // Registered and configured: said so.
    let watcher = crate::support::exe("inbox-watcher");
    env.run("msg", &["hooks", "install", "--command", watcher])
        .ok();
    let out = env.run("msg", &["doctor"]).stdout;
    assert!(
        out.contains("runs inbox-watcher before each prompt"),
        "{out}"
    );
}

#[test]
fn defect_19_json_has_iso_8601_times_beside_org_ones() {
    let env = Env::new();
    env.run("msg", &["send", "gregor", "hi"]).ok();
    let message = &json(env.run("msg", &["inbox", "--json"]).ok())[0];
    let created_at = message["created_at"].as_str().unwrap();
    assert_eq!(created_at.len(), 19, "{created_at}");
    assert_eq!(&created_at[10..11], "T");
    // The same minute as the Org timestamp.
    let org = message["created"].as_str().unwrap();
    assert!(org.contains(&created_at[11..16]), "{org} {created_at}");
    let id = queue_task(&env, "gregor", "Summarise");
    env.run("msg", &["task", "claim", &id]).ok();
    let task = &json(env.run("msg", &["tasks", "--json"]).ok())[0];
    for key in ["created_at", "submitted_at", "started_at"] {
        assert!(
            task[key].as_str().is_some_and(|t| t.contains('T')),
            "{key}: {task}"
        );
    }
    assert!(task["completed_at"].is_null());
}
