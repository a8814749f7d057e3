//! Files written by the Python v0.2.0 (`fixtures/python-v0.2.0/root`) need no conversion: the
//! real executables read all of it with the original's meaning and keep working on it, and
//! the first write changes only what UPGRADING.md says it changes.

use msg_governor::ManualClock;
use time::{Date, Month, UtcOffset};

use crate::emacs;
use crate::support::{Env, fixtures, json};

const INBOX: &str = "0-personal/org/messaging/inbox.org";
const BUDGET: &str = ".datacore/state/messaging/budget-2026-11-24.json";

fn v020() -> Env {
    Env::with_fixture("python-v0.2.0/root")
}

#[test]
fn messages_threads_and_file_deliveries_read_as_written() {
    let env = v020();
    let all = json(env.run("msg", &["inbox", "--all", "--json"]).ok());
    let seen: Vec<(&str, &str, &str, bool)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["kind"].as_str().unwrap(),
                m["state"].as_str().unwrap(),
                m["unread"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("msg-20261124-070853-f0089658", "message", "read", false),
            ("msg-20261124-070853-8afa25ad", "message", "archived", false),
            ("msg-20261124-070853-75ae0f47", "message", "unread", true),
            ("msg-20261124-070853-e29f763d", "message", "unread", true),
            (
                "file-20261124-070853-68f03cf7",
                "file_delivery",
                "unread",
                true
            ),
        ]
    );
    assert_eq!(all[1]["priority"], "high");
    assert_eq!(
        all[3]["body"],
        "Héllo — ünïcode & émoji ✓ text\n* not a heading because indented"
    );
    // Without --all the archived message is not listed.
    let listed = json(env.run("msg", &["inbox", "--json"]).ok());
    assert_eq!(listed.as_array().unwrap().len(), 4);

    // The thread, from its last message, in order.
    let thread = json(env.run("msg", &["thread", "75ae0f47", "--json"]).ok());
    assert_eq!(thread["root"], "msg-20261124-070853-f0089658");
    let ids: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "msg-20261124-070853-f0089658",
            "msg-20261124-070853-8afa25ad",
            "msg-20261124-070853-75ae0f47"
        ]
    );

    // The file delivery with its properties.
    let file = json(
        env.run("msg", &["show", "file-20261124-070853-68f03cf7", "--json"])
            .ok(),
    );
    assert_eq!(file["properties"]["FILENAME"], "quarterly-report.pdf");
    assert_eq!(file["properties"]["SIZE"], "2400000");
    assert_eq!(file["properties"]["FAIRDROP_REF"], "");
}

#[test]
fn tasks_in_every_state_read_and_move_on() {
    let env = v020();
    let tasks = json(env.run("msg", &["tasks", "--json"]).ok());
    let states: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "DONE",
            "CANCELLED",
            "WAITING",
            "QUEUED",
            "WORKING",
            "QUEUED",
            "CANCELLED"
        ]
    );
    // Each live state takes its next step, by the original's org-… IDs.
    env.run(
        "task-queue",
        &["approve", "--task-id", "org-20261124-070853-ef173c07"],
    )
    .ok();
    env.run("msg", &["task", "accept", "3e136109"]).ok();
    env.run("msg", &["task", "complete", "687a1253", "--tokens", "100"])
        .ok();
    env.run(
        "msg",
        &["task", "cancel", "36392fa8", "--reason", "not now"],
    )
    .ok();
    let tasks = json(env.run("msg", &["tasks", "--json"]).ok());
    let states: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "ARCHIVED",
            "CANCELLED",
            "QUEUED",
            "QUEUED",
            "DONE",
            "CANCELLED",
            "CANCELLED"
        ]
    );
    // A revised task keeps the original's feedback as the first revision.
    let revised = json(env.run("msg", &["show", "36392fa8", "--json"]).ok());
    assert_eq!(
        revised["properties"]["REVISION_FEEDBACK"],
        "Mention the relay fix"
    );
}

#[test]
fn the_first_write_adds_a_logbook_line_keeps_the_lock_and_touches_one_entry() {
    let env = v020();
    let path = env.root().join(INBOX);
    let before = env.read(&path);
    env.run("mark-message", &["msg-20261124-070853-75ae0f47", "read"])
        .ok();
    let after = env.read(&path);
    // Only the third entry changed: its keyword, its tags and a LOGBOOK after the drawer.
    let entry_start = before.find("* TODO [2026-11-24 Tue 07:08] :unread:message:\n  :PROPERTIES:\n  :ID: msg-20261124-070853-75ae0f47").unwrap();
    let entry_end = before[entry_start + 1..].find("\n* ").unwrap() + entry_start + 2;
    assert_eq!(after[..entry_start], before[..entry_start]);
    assert!(after.ends_with(&before[entry_end..]));
    let entry = &after[entry_start..after.len() - (before.len() - entry_end)];
    assert!(
        entry.starts_with("* DONE [2026-11-24 Tue 07:08] :message:\n"),
        "{entry}"
    );
    assert!(
        entry.contains("  :END:\n  :LOGBOOK:\n  - State \"DONE\"       from \"TODO\"       ["),
        "{entry}"
    );
    // The lock file stays (the original deleted it).
    assert!(env.root().join(format!("{INBOX}.lock")).exists());
    // Emacs still reads the whole file the same way, with the file's own header.
    if let Some(headings) = emacs::read(&path) {
        let todo: Vec<&str> = headings.iter().map(|h| h.todo.as_str()).collect();
        assert_eq!(todo, ["DONE", "ARCHIVED", "DONE", "TODO", "TODO"]);
    }
}

#[test]
fn the_budget_file_seeds_the_governor_and_is_never_written() {
    let env = v020();
    let budget = env.root().join(BUDGET);
    let original = std::fs::read(&budget).unwrap();
    // The fixture's day, whatever today is.
    let at = Date::from_calendar_date(2026, Month::November, 24)
        .unwrap()
        .with_hms(10, 0, 0)
        .unwrap()
        .assume_offset(UtcOffset::from_hms(1, 0, 0).unwrap());
    let governor = env
        .ctx()
        .governor()
        .unwrap()
        .with_clock(ManualClock::new(at));
    let tex = governor.usage("tex@team.example.com").unwrap();
    assert_eq!(tex.tokens_used, 4200);
    assert_eq!(tex.tasks_today, 1);
    assert_eq!(
        governor.usage("stranger@other.org").unwrap().tokens_used,
        300
    );
    // Commands that use the governor leave the file alone.
    env.run("msg", &["usage"]).ok();
    env.run("msg", &["task", "submit", "one more", "--tokens", "10"])
        .ok();
    assert_eq!(std::fs::read(&budget).unwrap(), original);
    assert!(
        env.root()
            .join(".datacore/state/messaging/governor.json")
            .exists()
    );
}

#[test]
fn the_settings_mean_what_they_meant() {
    let env = v020();
    let ctx = env.ctx();
    assert_eq!(ctx.user(), "gregor");
    assert_eq!(ctx.agent(), "gregor-claude");
    assert_eq!(ctx.space(), "0-personal");
    assert_eq!(ctx.trust_tier("tex@team.example.com"), "team");
    assert!(ctx.is_owner("gregor"));
    let doctor = env.run("msg", &["doctor"]);
    assert_eq!(doctor.code, 0, "{}", doctor.stdout);
    assert!(
        doctor.stdout.ends_with("0 errors, 1 warning\n"),
        "{}",
        doctor.stdout
    );
    // The settings file is never rewritten.
    assert_eq!(
        std::fs::read(env.root().join(".datacore/settings.local.yaml")).unwrap(),
        std::fs::read(fixtures().join("python-v0.2.0/root/.datacore/settings.local.yaml")).unwrap()
    );
}
