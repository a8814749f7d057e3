//! `msg`: every subcommand's output and exit status.

use serde_json::Value;

use crate::support::{Env, deliver, id_in, queue_task, redact, task_state};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

#[test]
fn init_creates_what_is_missing_and_keeps_what_exists() {
    let env = Env::empty();
    let first = env.run("msg", &["init", "--name", "gregor"]);
    insta::assert_snapshot!("init", redact(first.ok(), &env));
    let settings = env.read(&env.root().join(".datacore/settings.local.yaml"));
    assert!(settings.contains("  name: \"gregor\"\n"), "{settings}");
    assert!(settings.contains("    \"gregor\": owner"), "{settings}");
    let again = env.run("msg", &["init", "--name", "someone"]);
    let out = redact(again.ok(), &env);
    assert_eq!(out.matches("kept    ").count(), 5, "{out}");
    assert!(
        out.contains("note: the settings file names you \"gregor\", not \"someone\""),
        "{out}"
    );
    // The space is healthy and gregor owns his agent.
    let doctor = env.run("msg", &["doctor"]);
    assert!(
        doctor.ok().ends_with("0 errors, 1 warning\n"),
        "{}",
        doctor.stdout
    );
    let other = Env::empty();
    other.run("msg", &["--space", "1-team", "init"]).ok();
    let settings = other.read(&other.root().join(".datacore/settings.local.yaml"));
    assert!(
        settings.contains("  name: \"tester\"\n") && settings.contains("default_space: \"1-team\"")
    );
    assert!(
        other
            .root()
            .join("1-team/org/messaging/agents/tester-claude.org")
            .is_file()
    );
}

#[test]
fn send_routes_by_recipient() {
    let env = Env::new();
    let out = env
        .run(
            "msg",
            &[
                "send",
                "tex@team.example.com",
                "Hello Tex",
                "--priority",
                "high",
            ],
        )
        .ok()
        .to_owned();
    assert!(
        out.ends_with("(in outbox.org, pending delivery by the relay)\n"),
        "{out}"
    );
    assert!(env.read(&env.outbox_path()).contains("* DONE [#A] "));
    let out = env
        .run("msg", &["send", "gregor", "Note to self"])
        .ok()
        .to_owned();
    assert!(out.ends_with("(delivered to the local inbox)\n"), "{out}");
    // To the agent: a task, through the governor.
    let out = env
        .run("msg", &["send", "gregor-claude", "Tidy the README"])
        .ok()
        .to_owned();
    assert!(out.starts_with("[messaging] Submitted task task-"), "{out}");
    assert!(
        out.contains("(QUEUED: gregor-claude picks it up before its next prompt)"),
        "{out}"
    );
    assert_eq!(task_state(&env, &id_in(&out)), "QUEUED");
    let line = env
        .run(
            "msg",
            &["send", "tex@team.example.com", "x", "--priority", "urgent"],
        )
        .fails(2, "msg")
        .to_owned();
    assert!(line.contains("use high, normal or low"), "{line}");
}

#[test]
fn inbox_show_read_unread_archive_and_thread() {
    let env = Env::new();
    let question = deliver(
        &env,
        "tex@team.example.com",
        "Can you review PR #24?\n\nThe OAuth part.",
    );
    let reply = env
        .run(
            "msg",
            &[
                "send",
                "tex@team.example.com",
                "On it.",
                "--reply-to",
                &question,
            ],
        )
        .ok()
        .to_owned();
    let reply = id_in(&reply);
    let other = deliver(&env, "partner@external.com", "Lunch?\u{1b}[2J");
    insta::assert_snapshot!("inbox", redact(env.run("msg", &["inbox"]).ok(), &env));
    let listed = json(
        env.run(
            "msg",
            &["inbox", "--json", "--from", "partner@external.com"],
        )
        .ok(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], other.as_str());
    assert_eq!(listed[0]["state"], "unread");
    assert_eq!(listed[0]["body"], "Lunch?\u{1b}[2J");

    insta::assert_snapshot!(
        "show_message",
        redact(env.run("msg", &["show", &question]).ok(), &env)
    );
    let shown = json(env.run("msg", &["show", &reply, "--json"]).ok());
    assert_eq!(shown["reply_to"], question.as_str());
    assert_eq!(shown["properties"]["DELIVERY"], "pending");

    assert_eq!(
        env.run("msg", &["read", &question]).ok(),
        format!("[messaging] Marked read: {question}\n")
    );
    let unread = json(env.run("msg", &["inbox", "--unread", "--json"]).ok());
    assert_eq!(unread.as_array().unwrap().len(), 1);
    env.run("msg", &["unread", &question]).ok();
    env.run("msg", &["archive", &other]).ok();
    assert_eq!(
        json(env.run("msg", &["inbox", "--json"]).ok())
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(env.run("msg", &["inbox", "--all", "--json"]).ok())
            .as_array()
            .unwrap()
            .len(),
        2
    );

    insta::assert_snapshot!(
        "thread",
        redact(env.run("msg", &["thread", &reply]).ok(), &env)
    );
    let thread = json(env.run("msg", &["thread", &question, "--json"]).ok());
    assert_eq!(thread["root"], question.as_str());
    assert_eq!(thread["messages"].as_array().unwrap().len(), 2);
}

#[test]
fn tasks_and_the_task_lifecycle_with_the_governor() {
    let env = Env::new();
    let out = env
        .run(
            "msg",
            &[
                "task",
                "submit",
                "Draft a post\nAbout tokenisation.",
                "--from",
                "partner@external.com",
                "--tokens",
                "25000",
                "--effort",
                "4",
                "--tag",
                "content",
            ],
        )
        .ok()
        .to_owned();
    assert!(
        out.contains("(WAITING for approval: `msg task approve task-"),
        "{out}"
    );
    let waiting = id_in(&out);
    let owner = queue_task(&env, "gregor", "Owner task");
    insta::assert_snapshot!("tasks", redact(env.run("msg", &["tasks"]).ok(), &env));
    let listed = json(
        env.run("msg", &["tasks", "--state", "waiting,QUEUED", "--json"])
            .ok(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let listed = json(
        env.run("msg", &["tasks", "--state", "WAITING", "--json"])
            .ok(),
    );
    assert_eq!(listed[0]["id"], waiting.as_str());
    assert_eq!(listed[0]["tags"][0], "content");
    assert_eq!(listed[0]["awaiting_approval"], true);
    env.run("msg", &["tasks", "--state", "SOON"])
        .fails(2, "msg");

    assert_eq!(
        env.run("msg", &["task", "approve", &waiting]).ok(),
        format!("[messaging] Approved: {waiting}\n")
    );
    // The owner's task is older and the owner's tier ranks first.
    let out = env.run("msg", &["task", "claim"]).ok().to_owned();
    assert_eq!(out, format!("[messaging] Claimed: {owner} (Owner task)\n"));
    let out = env
        .run(
            "msg",
            &[
                "task", "complete", &owner, "--tokens", "700", "--result", "notes.md",
            ],
        )
        .ok()
        .to_owned();
    assert!(
        out.contains(&format!(
            "[messaging] Completed: {owner}\n[messaging] Governor: admission adm-"
        )),
        "{out}"
    );
    env.run("msg", &["task", "claim", &waiting]).ok();
    let out = env
        .run(
            "msg",
            &["task", "cancel", &waiting, "--reason", "changed my mind"],
        )
        .ok()
        .to_owned();
    assert!(
        out.contains("released (25,000 reserved tokens freed)"),
        "{out}"
    );
    env.run(
        "msg",
        &["task", "revise", &owner, "--feedback", "more detail"],
    )
    .ok();
    env.run("msg", &["task", "claim"]).ok();
    env.run("msg", &["task", "retry", &owner]).ok();
    assert_eq!(
        env.run("msg", &["task", "claim"]).ok(),
        format!("[messaging] Claimed: {owner} (Owner task)\n")
    );
    assert_eq!(
        env.run("msg", &["task", "claim"]).ok(),
        "[messaging] Nothing is queued.\n"
    );
    env.run("msg", &["task", "complete", &owner]).ok();
    env.run("msg", &["task", "accept", &owner]).ok();
    assert_eq!(task_state(&env, &owner), "ARCHIVED");
    let shown = json(env.run("msg", &["show", &owner, "--json"]).ok());
    assert_eq!(shown["revision_count"], 1);
    assert_eq!(shown["properties"]["REVISION_FEEDBACK_1"], "more detail");
    let line = env
        .run("msg", &["task", "accept", &owner])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("ARCHIVED is final"), "{line}");
}

#[test]
fn the_governor_refuses_with_the_rule_and_figures() {
    let env = Env::new();
    let before = env.read(&env.agent_path());
    let line = env
        .run(
            "msg",
            &[
                "task",
                "submit",
                "Big job",
                "--from",
                "stranger@other.org",
                "--effort",
                "5",
            ],
        )
        .fails(1, "msg")
        .to_owned();
    assert_eq!(
        line,
        "msg: the governor refused the task: Effort 5 exceeds tier limit 3; split the task or give the sender a higher trust tier"
    );
    assert_eq!(env.read(&env.agent_path()), before);
    // Bad text or tags are refused before the governor counts anything.
    let line = env
        .run("msg", &["task", "submit", "x", "--tag", "no spaces"])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("tag \"no spaces\" is invalid"), "{line}");
    env.run("msg", &["task", "submit", "  "]).fails(1, "msg");
    let usage = json(env.run("msg", &["usage", "--json"]).ok());
    assert_eq!(usage["by_sender"], serde_json::json!({}));
}

#[test]
fn usage_reports_and_explains() {
    let env = Env::new();
    queue_task(&env, "tex@team.example.com", "A task");
    let summary = env.run("msg", &["usage"]).ok().to_owned();
    assert!(
        summary.contains(": 0 used + 5,000 reserved of 500,000 tokens; 1/1000 active tasks"),
        "{summary}"
    );
    assert!(summary.contains("Active admissions:\n  adm-"), "{summary}");
    let value = json(env.run("msg", &["usage", "--json"]).ok());
    assert_eq!(value["total_tokens_reserved"], 5000);
    assert_eq!(
        value["by_sender"]["tex@team.example.com"]["active_tasks"],
        1
    );
    let actor = env
        .run("msg", &["usage", "--actor", "tex@team.example.com"])
        .ok()
        .to_owned();
    assert!(
        actor.contains("tex@team.example.com (tier team)"),
        "{actor}"
    );
    assert!(
        actor.contains("tokens: 0 used + 5,000 reserved of 100,000 (95,000 left)"),
        "{actor}"
    );
    let explained = env.run(
        "msg",
        &[
            "usage",
            "explain",
            "tex@team.example.com",
            "--tokens",
            "99000",
        ],
    );
    // A refusal is exit 1 (issue 19, defect 15), the explanation still on stdout.
    assert_eq!(explained.code, 1, "{explained:?}");
    let explained = explained.stdout;
    assert!(
        explained.contains("would be rejected by sender budget"),
        "{explained}"
    );
    let value = json(
        env.run("msg", &["usage", "explain", "gregor", "--json"])
            .ok(),
    );
    assert_eq!(value["allowed"], true);
    assert_eq!(value["checks"].as_array().unwrap().len(), 5);
}

#[test]
fn contacts_show_the_file_and_the_settings() {
    let env = Env::new();
    let space = env.root().join("0-personal");
    std::fs::create_dir_all(&space).unwrap();
    std::fs::write(
        space.join("contacts.yaml"),
        "actors:\n  - id: tex@team.example.com\n    name: Tex\n    trust_tier: trusted\n    added: 2026-11-24\n",
    )
    .unwrap();
    insta::assert_snapshot!("contacts", env.run("msg", &["contacts"]).ok());
    let value = json(env.run("msg", &["contacts", "--json"]).ok());
    assert_eq!(value[0]["trust_tier"], "team");
    assert_eq!(value[0]["noted_tier"], "trusted");
    assert_eq!(value[0]["added"], "2026-11-24");
}

#[test]
fn doctor_reports_duplicate_ids_with_lines_and_bad_settings() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    let inbox = env.inbox_path();
    let entry = "* TODO [2026-11-24 Tue 10:02] :unread:message:\n  :PROPERTIES:\n  :ID: msg-dup\n  :FROM: x\n  :END:\n  text\n";
    let text = format!(
        "{}{entry}{entry}* TODO broken drawer\n  :PROPERTIES:\n  not a property\n  :END:\n",
        env.read(&inbox)
    );
    std::fs::write(&inbox, text).unwrap();
    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "msg: 2 problems need fixing\n");
    let out = redact(&run.stdout, &env);
    assert!(out.contains("<TMP>/root/0-personal/org/messaging/inbox.org:8: error: ID \"msg-dup\" is on two entries (lines 2 and 8)"), "{out}");
    assert!(out.contains("<TMP>/root/0-personal/org/messaging/inbox.org:15: error: a property drawer Emacs ignores (line 16 is not a `:KEY: value` line)"), "{out}");
    let value = json(env.run("msg", &["doctor", "--json"]).stdout.as_str());
    assert_eq!(value["errors"], 2);

    env.write_settings("identity:\n  name: a\n name: b\n");
    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("settings.local.yaml: error: invalid settings in"),
        "{}",
        run.stdout
    );
}

#[test]
fn hooks_install_is_idempotent_keeps_other_settings_and_backs_up() {
    let env = Env::new();
    let settings = env.home().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let original = r#"{
  "theme": "dark",
  "model": "opus",
  "hooks": {
    "UserPromptSubmit": [
      {"hooks": [{"type": "command", "command": "/opt/datacore-messaging/hooks/inbox-watcher.py"}]},
      {"hooks": [{"type": "command", "command": "/usr/local/bin/other-hook"}]}
    ]
  },
  "permissions": {"allow": []}
}
"#;
    std::fs::write(&settings, original).unwrap();
    let watcher = crate::support::exe("inbox-watcher");
    let path = settings.display().to_string();
    let out = env
        .run(
            "msg",
            &[
                "hooks",
                "install",
                "--settings",
                &path,
                "--command",
                watcher,
            ],
        )
        .ok()
        .to_owned();
    let out = redact(&out, &env).replace(watcher, "<WATCHER>");
    insta::assert_snapshot!("hooks_install", out);
    assert_eq!(
        env.read(&env.home().join(".claude/settings.json.backup")),
        original
    );
    let written = env.read(&settings);
    let value = json(&written);
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["theme", "model", "hooks", "permissions"]);
    assert_eq!(
        value["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
        "/usr/local/bin/other-hook"
    );
    assert_eq!(
        value["hooks"]["UserPromptSubmit"][1]["hooks"][0]["command"],
        watcher
    );
    assert_eq!(
        value["hooks"]["SessionStart"][0]["hooks"][0]["type"],
        "command"
    );
    let again = env
        .run(
            "msg",
            &[
                "hooks",
                "install",
                "--settings",
                &path,
                "--command",
                watcher,
            ],
        )
        .ok()
        .to_owned();
    assert!(again.ends_with("; nothing changed\n"), "{again}");
    assert_eq!(env.read(&settings), written);
    assert!(!env.home().join(".claude/settings.json.backup.2").exists());
    // A new file, and the default path under $HOME.
    let fresh = env.home().join("fresh/settings.json");
    let fresh_path = fresh.display().to_string();
    env.run(
        "msg",
        &[
            "hooks",
            "install",
            "--settings",
            &fresh_path,
            "--command",
            watcher,
            "--dry-run",
        ],
    )
    .ok();
    assert!(!fresh.exists());
    env.run(
        "msg",
        &[
            "hooks",
            "install",
            "--settings",
            &fresh_path,
            "--command",
            watcher,
        ],
    )
    .ok();
    assert_eq!(
        json(&env.read(&fresh))["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
        watcher
    );
    // Without --settings and --command: $HOME/.claude/settings.json and the inbox-watcher
    // next to msg, which is the one already registered.
    let default = env.run("msg", &["hooks", "install"]).ok().to_owned();
    assert!(default.ends_with("; nothing changed\n"), "{default}");
    let line = env
        .run(
            "msg",
            &[
                "hooks",
                "install",
                "--settings",
                &path,
                "--command",
                "/nonexistent/inbox-watcher",
            ],
        )
        .fails(1, "msg")
        .to_owned();
    assert!(
        line.contains("/nonexistent/inbox-watcher does not exist"),
        "{line}"
    );
    std::fs::write(&settings, "[1, 2]").unwrap();
    let line = env
        .run(
            "msg",
            &[
                "hooks",
                "install",
                "--settings",
                &path,
                "--command",
                watcher,
            ],
        )
        .fails(1, "msg")
        .to_owned();
    assert!(
        line.ends_with("settings.json: not a JSON object; fix it by hand, nothing was changed"),
        "{line}"
    );
}

#[test]
fn exit_codes_and_help() {
    let env = Env::new();
    env.run("msg", &["frobnicate"]).fails(2, "msg");
    env.run("msg", &[]).fails(2, "msg");
    env.run("msg", &["show"]).fails(2, "msg");
    env.run("msg", &["--root"]).fails(2, "msg");
    let help = env.run("msg", &["--help"]);
    for command in [
        "send", "inbox", "show", "read", "unread", "archive", "thread", "tasks", "task", "usage",
        "contacts", "init", "doctor", "hooks",
    ] {
        assert!(
            help.ok().contains(&format!("  {command} ")),
            "{command}: {}",
            help.stdout
        );
    }
    assert!(env.run("msg", &["task", "--help"]).ok().contains("submit"));
    let line = env
        .run("msg", &["show", "nothing-like-it"])
        .fails(1, "msg")
        .to_owned();
    assert!(line.contains("no message or task in"), "{line}");
    // Global options work anywhere on the line.
    let other = Env::new();
    deliver(&other, "gregor", "elsewhere");
    let root = other.root().display().to_string();
    let listed = json(env.run("msg", &["inbox", "--json", "--root", &root]).ok());
    assert_eq!(listed[0]["body"], "elsewhere");
}
