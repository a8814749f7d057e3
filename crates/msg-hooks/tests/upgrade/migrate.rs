//! `msg migrate`: the v0.1.0 layout (`fixtures/v0.1.0/`) into today's files.

use std::path::PathBuf;

use msg_inbox::TaskState;
use msg_store::MessageState;

use crate::emacs;
use crate::support::{Env, copy_tree, fixtures, json};

const SETTINGS: &str = "\
identity:
  name: gregor
messaging:
  trust_overrides:
    gregor: owner
    tex: team
";

fn v010() -> Env {
    let env = Env::with_fixture("v0.1.0");
    env.write_settings(SETTINGS);
    env
}

fn old_dir(env: &Env) -> PathBuf {
    env.root().join("0-personal/org/inboxes")
}

/// The single backup folder of a run.
fn backups(env: &Env) -> Vec<PathBuf> {
    let dir = env.root().join("0-personal/org/migration-backup");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = v010();
    let before = env.tree();
    let out = env.run("msg", &["migrate", "--dry-run"]).ok().to_owned();
    assert_eq!(env.tree(), before, "a dry run wrote something");
    assert!(
        out.contains("gregor.org -> 0-personal/org/messaging/inbox.org: 3 messages"),
        "{out}"
    );
    assert!(out.contains("line 27   msg-20251212-143100-tex-dup2 (was msg-20251212-143100-tex, a duplicate ID; kept in ORIGINAL_ID)"), "{out}");
    assert!(
        out.contains(
            "gregor-claude.org -> 0-personal/org/messaging/agents/gregor-claude.org: 2 tasks"
        ),
        "{out}"
    );
    assert!(
        out.contains("USERS.yaml -> 0-personal/contacts.yaml: 2 actors (gregor, tex)"),
        "{out}"
    );
    assert!(
        out.ends_with("(dry run: nothing written or moved)\n"),
        "{out}"
    );
}

#[test]
fn migration_converts_everything_keeps_the_old_files_and_runs_once() {
    let env = v010();
    let out = env.run("msg", &["migrate"]).ok().to_owned();
    assert!(
        out.contains("wrote 0-personal/org/messaging/inbox.org: 3 new entries"),
        "{out}"
    );
    assert!(
        out.contains("moved 3 old files to 0-personal/org/migration-backup/v0.1.0-"),
        "{out}"
    );

    // The files, byte for byte.
    let inbox = env.read(&env.messaging().join("inbox.org"));
    let agent = env.read(&env.messaging().join("agents/gregor-claude.org"));
    let contacts = env.read(&env.root().join("0-personal/contacts.yaml"));
    insta::assert_snapshot!("migrated_inbox", inbox);
    insta::assert_snapshot!("migrated_agent", agent);
    insta::assert_snapshot!("migrated_contacts", contacts);

    // The old files are in the dated backup, unchanged; the old folder is gone.
    let backup = backups(&env);
    assert_eq!(backup.len(), 1, "{backup:?}");
    for name in ["gregor.org", "gregor-claude.org", "USERS.yaml"] {
        assert_eq!(
            std::fs::read(backup[0].join("inboxes").join(name)).unwrap(),
            std::fs::read(fixtures().join("v0.1.0/0-personal/org/inboxes").join(name)).unwrap(),
            "{name}"
        );
    }
    assert!(!old_dir(&env).exists());

    // Through the store: states, tags, thread, the duplicate.
    let ctx = env.ctx();
    let store = ctx.store().unwrap();
    let messages = store.all().unwrap();
    let states: Vec<(&str, MessageState, bool)> = messages
        .iter()
        .map(|m| (m.id.as_str(), m.state.clone(), m.is_unread()))
        .collect();
    assert_eq!(
        states,
        [
            ("msg-20251212-142500-tex", MessageState::Unread, true),
            // v0.1.0's `:todo:`: TODO without `unread`, so not unread (issue 19, defect 3).
            ("msg-20251212-143100-tex", MessageState::ToDo, false),
            ("msg-20251212-143100-tex-dup2", MessageState::Read, false),
        ]
    );
    assert_eq!(messages[1].tags, ["message", "todo"]);
    assert_eq!(messages[1].priority, msg_store::Priority::High);
    assert_eq!(messages[1].thread_root(), "msg-20251212-142500-tex");
    assert_eq!(
        messages[2].property("ORIGINAL_ID"),
        Some("msg-20251212-143100-tex")
    );
    assert_eq!(messages[0].body, "Can you look at the relay config?");
    let thread = store.thread("msg-20251212-142500-tex").unwrap();
    assert_eq!(thread.len(), 2);

    // Through the agent inbox: states and our properties.
    let tasks = ctx.agent_inbox(None).unwrap().tasks().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].state(), TaskState::Done);
    assert_eq!(tasks[0].title(), "Summarise yesterday's standup.");
    assert_eq!(tasks[0].property("STARTED"), Some("[2025-12-12 Fri 15:01]"));
    assert_eq!(
        tasks[0].property("COMPLETED"),
        Some("[2025-12-12 Fri 15:20]")
    );
    assert_eq!(tasks[0].property("TASK_STATUS"), None);
    assert_eq!(tasks[1].state(), TaskState::Waiting);
    assert!(tasks[1].is_awaiting_approval());
    assert_eq!(tasks[1].trust_tier(), Some("team"));
    assert_eq!(tasks[1].property("ROUTE_TO"), Some("github:42"));

    // Through the commands.
    let listed = json(env.run("msg", &["tasks", "--json"]).ok());
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let contacts = json(env.run("msg", &["contacts", "--json"]).ok());
    assert_eq!(contacts[0]["id"], "gregor");
    assert_eq!(contacts[1]["handles"], serde_json::json!(["@tex"]));
    env.run("msg", &["task", "approve", "msg-20251212-160000-tex"])
        .ok();
    let doctor = env.run("msg", &["doctor"]);
    assert_eq!(doctor.code, 0, "{}", doctor.stdout);

    // A second run changes nothing.
    let before = env.tree();
    let again = env.run("msg", &["migrate"]).ok().to_owned();
    assert_eq!(
        again,
        "no v0.1.0 files in 0-personal/org/inboxes: nothing to migrate\n"
    );
    assert_eq!(env.tree(), before);
}

#[test]
fn emacs_reads_the_migrated_files() {
    let env = v010();
    env.run("msg", &["migrate"]).ok();
    let Some(inbox) = emacs::read(&env.messaging().join("inbox.org")) else {
        return;
    };
    let seen: Vec<(&str, bool, &str, Vec<&str>)> = inbox
        .iter()
        .map(|h| {
            (
                h.todo.as_str(),
                h.done,
                h.id.as_str(),
                h.tags.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "TODO",
                false,
                "msg-20251212-142500-tex",
                vec!["unread", "message"]
            ),
            (
                "TODO",
                false,
                "msg-20251212-143100-tex",
                vec!["message", "todo"]
            ),
            (
                "DONE",
                true,
                "msg-20251212-143100-tex-dup2",
                vec!["message"]
            ),
        ]
    );
    assert_eq!(inbox[0].title, "[2025-12-12 Fri 14:25]");
    let agent = emacs::read(&env.messaging().join("agents/gregor-claude.org")).unwrap();
    let seen: Vec<(&str, &str, &str)> = agent
        .iter()
        .map(|h| (h.todo.as_str(), h.title.as_str(), h.from.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("DONE", "Summarise yesterday's standup.", "gregor"),
            ("WAITING", "Fix the flaky relay test.", "tex"),
        ]
    );
}

/// Puts the moved files back where they were, as if the run had stopped before moving them.
fn undo_moves(env: &Env) {
    let backup = backups(env).pop().unwrap();
    copy_tree(&backup.join("inboxes"), &old_dir(env));
    std::fs::remove_dir_all(env.root().join("0-personal/org/migration-backup")).unwrap();
}

#[test]
fn a_run_that_stopped_before_moving_the_old_files_finishes_without_duplicates() {
    let env = v010();
    env.run("msg", &["migrate"]).ok();
    let inbox = env.messaging().join("inbox.org");
    let agent = env.messaging().join("agents/gregor-claude.org");
    let contacts = env.root().join("0-personal/contacts.yaml");
    let written = (env.read(&inbox), env.read(&agent), env.read(&contacts));

    // Stopped after writing everything, before moving anything.
    undo_moves(&env);
    let plan = env.run("msg", &["migrate", "--dry-run"]).ok().to_owned();
    assert!(plan.contains("0 messages (3 already there)"), "{plan}");
    assert!(plan.contains("already listed: gregor, tex"), "{plan}");
    env.run("msg", &["migrate"]).ok();
    assert_eq!(
        (env.read(&inbox), env.read(&agent), env.read(&contacts)),
        written
    );
    assert!(!old_dir(&env).exists());
    assert_eq!(backups(&env).len(), 1);

    // Stopped after the agent's file, before the inbox was written (and the person has
    // approved a task since): the rest is written, nothing twice.
    undo_moves(&env);
    std::fs::remove_file(&inbox).unwrap();
    env.run("msg", &["task", "approve", "msg-20251212-160000-tex"])
        .ok();
    let agent_now = env.read(&agent);
    let out = env.run("msg", &["migrate"]).ok().to_owned();
    assert!(
        out.contains("wrote 0-personal/org/messaging/inbox.org: 3 new entries"),
        "{out}"
    );
    assert!(
        out.contains("wrote 0-personal/org/messaging/agents/gregor-claude.org: 0 new entries"),
        "{out}"
    );
    assert_eq!(env.read(&inbox), written.0);
    assert_eq!(env.read(&agent), agent_now);
    assert!(!old_dir(&env).exists());
}

#[test]
fn existing_files_are_kept_and_other_peoples_files_stay() {
    let env = v010();
    env.run("msg", &["init"]).ok();
    env.run("msg", &["send", "gregor", "a note to myself"]).ok();
    let inbox = env.messaging().join("inbox.org");
    let contacts = env.root().join("0-personal/contacts.yaml");
    let inbox_before = env.read(&inbox);
    let contacts_before = env.read(&contacts);
    std::fs::write(old_dir(&env).join("tex.org"), "* MESSAGE [2025-12-12 Fri 14:00] :unread:\n:PROPERTIES:\n:ID: msg-x-gregor\n:END:\nhi tex\n").unwrap();

    let out = env.run("msg", &["migrate"]).ok().to_owned();
    assert!(
        out.contains("tex.org: left in place (the inbox of \"tex\", not yours; you are \"gregor\""),
        "{out}"
    );
    let inbox_after = env.read(&inbox);
    assert!(inbox_after.starts_with(&inbox_before), "{inbox_after}");
    assert_eq!(env.ctx().store().unwrap().all().unwrap().len(), 4);
    // The template's empty list got the actors; the old file is in the backup.
    let contacts_after = env.read(&contacts);
    assert!(
        contacts_after.contains("actors:\n  - id: \"gregor\"\n"),
        "{contacts_after}"
    );
    let backup = backups(&env).pop().unwrap();
    assert_eq!(
        env.read(&backup.join("contacts.yaml.before-migration")),
        contacts_before
    );
    // tex.org is still where it was; a second run changes nothing.
    assert!(old_dir(&env).join("tex.org").exists());
    let before = env.tree();
    let again = env.run("msg", &["migrate"]).ok().to_owned();
    assert!(again.contains("tex.org: left in place"), "{again}");
    assert_eq!(env.tree(), before);
    // doctor points at the folder that is left.
    let doctor = env.run("msg", &["doctor"]);
    assert!(
        doctor.stdout.contains("v0.1.0 files are here"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn nothing_to_migrate_is_not_an_error() {
    let env = Env::empty();
    env.write_settings(SETTINGS);
    let out = env.run("msg", &["migrate"]).ok().to_owned();
    assert_eq!(
        out,
        "no v0.1.0 files in 0-personal/org/inboxes: nothing to migrate\n"
    );
    assert!(!env.root().join("0-personal").exists());
}

#[test]
fn hostile_v010_text_is_migrated_whole_and_cannot_forge_structure() {
    let env = Env::empty();
    env.write_settings(SETTINGS);
    std::fs::create_dir_all(old_dir(&env)).unwrap();
    std::fs::write(
        old_dir(&env).join("gregor.org"),
        "* MESSAGE COMMENT looks commented :unread:\n:PROPERTIES:\n:ID: msg-1-tex\n:FROM: tex\n:NOTE: a: b: c\n:END:\n#+TODO: EVIL | WORSE\n:END:\n:PROPERTIES:\nplain line\n\
         * MESSAGE [2025-12-12 Fri 14:25] title :with: :done:\n:PROPERTIES:\n:ID: msg-2-tex\n:FROM: tex\n:END:\nok\n\
         * A note of mine without an ID\nkeep me\n",
    )
    .unwrap();
    let out = env.run("msg", &["migrate"]).ok().to_owned();
    assert!(
        out.contains("note: line 17: \"A note of mine without an ID\" is not a v0.1.0 message with an ID; it is kept in the backup only"),
        "{out}"
    );
    let store = env.ctx().store().unwrap();
    let messages = store.all().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].title, "Migrated v0.1.0 entry");
    assert_eq!(
        messages[0].body,
        "COMMENT looks commented\n\n#+TODO: EVIL | WORSE\n:END:\n:PROPERTIES:\nplain line"
    );
    assert_eq!(messages[0].property("NOTE"), Some("a: b: c"));
    assert!(!messages[1].is_unread() && messages[1].state == MessageState::Read);
    assert_eq!(
        (messages[1].title.as_str(), messages[1].body.as_str()),
        ("[2025-12-12 Fri 14:25] title :with:", "ok")
    );
    // The note is in the backup, byte for byte with the rest.
    let backup = backups(&env).pop().unwrap();
    assert!(
        env.read(&backup.join("inboxes/gregor.org"))
            .contains("keep me")
    );
    let doctor = env.run("msg", &["doctor"]);
    assert_eq!(doctor.code, 0, "{}", doctor.stdout);
    if let Some(headings) = emacs::read(&env.messaging().join("inbox.org")) {
        let ids: Vec<&str> = headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["msg-1-tex", "msg-2-tex"]);
    }
}

#[test]
fn a_run_that_moved_only_some_old_files_finishes() {
    let env = v010();
    env.run("msg", &["migrate"]).ok();
    let inbox = env.messaging().join("inbox.org");
    let written = env.read(&inbox);
    // Stopped after moving USERS.yaml and the agent's file, before moving gregor.org.
    let backup = backups(&env).pop().unwrap();
    std::fs::create_dir_all(old_dir(&env)).unwrap();
    std::fs::rename(
        backup.join("inboxes/gregor.org"),
        old_dir(&env).join("gregor.org"),
    )
    .unwrap();
    let out = env.run("msg", &["migrate"]).ok().to_owned();
    assert!(out.contains("0 messages (3 already there)"), "{out}");
    assert!(
        out.contains("moved 1 old file to 0-personal/org/migration-backup/v0.1.0-"),
        "{out}"
    );
    assert_eq!(env.read(&inbox), written);
    assert!(!old_dir(&env).exists());
    assert_eq!(backups(&env).len(), 2);
}
