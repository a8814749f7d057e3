//! `msg doctor`: every problem with its file and line; `--fix` applies only the safe fixes.

use crate::emacs;
use crate::support::{Env, json};

const SETTINGS: &str =
    "identity:\n  name: gregor\nmessaging:\n  trust_overrides:\n    gregor: owner\n";

fn healthy() -> Env {
    let env = Env::empty();
    env.write_settings(SETTINGS);
    env.run("msg", &["init"]).ok();
    env
}

/// The doctor's lines at `level` about `file` (relative to the messaging folder), each as
/// `LINE: message` (the doctor prints `FILE:LINE: level: message`).
fn lines_about(stdout: &str, level: &str, file: &str) -> Vec<String> {
    let marker = format!("/org/messaging/{file}:");
    stdout
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find(&marker)? + marker.len()..];
            let (line, rest) = rest.split_once(':')?;
            let message = rest.strip_prefix(&format!(" {level}: "))?;
            Some(format!("{line}: {message}"))
        })
        .collect()
}

#[test]
fn a_healthy_space_exits_0() {
    let env = healthy();
    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let fix = env.run("msg", &["doctor", "--fix"]);
    assert_eq!(fix.code, 0);
    assert!(
        fix.stdout.starts_with("nothing to fix safely\n"),
        "{}",
        fix.stdout
    );
}

#[test]
fn every_problem_is_reported_with_its_file_and_line() {
    let env = healthy();
    let messaging = env.messaging();
    // An inbox as org-workspace 0.4 and a person's editing can leave it.
    std::fs::write(
        messaging.join("inbox.org"),
        "#+TODO: TODO | DONE\n\
         * TODO one\n  :PROPERTIES:\n  :ID: msg-1\n  :NOTE: |\n  :   first line\n  :   second line\n  :END:\n\
         * TODO two\n  :PROPERTIES:\n  :ID: msg-2\n\n  :FROM: tex\n  :END:\n\
         * WAITING three\n  :PROPERTIES:\n  :ID: msg-3\n  :END:\n\
         * DONE four\n  :PROPERTIES:\n  :ID: msg-3\n  :END:\n",
    )
    .unwrap();
    // A task file without a header, and an outbox saved as Latin-1.
    std::fs::write(
        messaging.join("agents/gregor-claude.org"),
        "* QUEUED a task\n  :PROPERTIES:\n  :ID: task-1\n  :END:\n",
    )
    .unwrap();
    let mut latin1 = b"#+TODO: TODO | DONE\n* DONE caf".to_vec();
    latin1.extend_from_slice(&[0xE9, b'\n']);
    std::fs::write(messaging.join("outbox.org"), latin1).unwrap();
    // A tier nobody defined, and governor state that does not read.
    env.write_settings(&format!("{SETTINGS}    tex: tem\n"));
    let state = env.root().join(".datacore/state/messaging");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("governor.json"), "{not json").unwrap();

    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        lines_about(&run.stdout, "error", "inbox.org"),
        [
            "15: the keyword WAITING is not declared by a #+TODO: line, so Emacs reads it as part of the title (`msg doctor --fix` declares it)",
            "19: ID \"msg-3\" is on two entries (lines 15 and 19): operations on that ID refuse to guess; give one of them a new ID",
            "3: a property drawer Emacs ignores (line 6 is a continuation line `:   …`, as org-workspace 0.4 writes multi-line values; put the value on one line); its properties (the ID too) are not read until it is repaired by hand",
            "10: a property drawer Emacs ignores (line 12 is blank); its properties (the ID too) are not read until it is repaired by hand",
        ]
    );
    assert_eq!(
        lines_about(&run.stdout, "error", "agents/gregor-claude.org"),
        [
            "1: no #+TODO: header, so Emacs reads only TODO and DONE as keywords here (`msg doctor --fix` adds `#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED`)"
        ]
    );
    assert_eq!(
        lines_about(&run.stdout, "error", "outbox.org"),
        ["2: not valid UTF-8: the file is read but never written; re-save it as UTF-8"]
    );
    assert!(run.stdout.contains("settings: error: messaging.trust_overrides gives \"tex\" the tier \"tem\", which is neither built in"), "{}", run.stdout);
    assert!(run.stdout.contains("governor: error: "), "{}", run.stdout);
    let value = json(&env.run("msg", &["doctor", "--json"]).stdout);
    assert_eq!(value["errors"], 8, "{value}");

    // --fix declares the keyword and adds the header, shows both, and leaves the rest.
    let inbox_before = env.read(&messaging.join("inbox.org"));
    let outbox_before = std::fs::read(messaging.join("outbox.org")).unwrap();
    let fix = env.run("msg", &["doctor", "--fix"]);
    assert_eq!(fix.code, 1, "{}", fix.stdout);
    let fixed: Vec<&str> = fix
        .stdout
        .lines()
        .filter(|l| l.starts_with("fixed"))
        .collect();
    assert_eq!(fixed.len(), 2, "{}", fix.stdout);
    assert!(
        fixed[0].ends_with("/org/messaging/inbox.org: added `#+TODO: WAITING |` at line 2"),
        "{}",
        fixed[0]
    );
    assert!(fixed[1].ends_with("/org/messaging/agents/gregor-claude.org: added `#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED` at line 1"), "{}", fixed[1]);
    assert_eq!(fix.stderr, "msg: 6 problems need fixing\n");
    // Exactly one line was inserted; duplicates and drawers are as they were.
    assert_eq!(
        env.read(&messaging.join("inbox.org")),
        inbox_before.replacen(
            "#+TODO: TODO | DONE\n",
            "#+TODO: TODO | DONE\n#+TODO: WAITING |\n",
            1
        )
    );
    assert_eq!(
        std::fs::read(messaging.join("outbox.org")).unwrap(),
        outbox_before
    );
    // A second --fix finds nothing more it may fix.
    let again = env.run("msg", &["doctor", "--fix"]);
    assert!(
        again.stdout.starts_with("nothing to fix safely\n"),
        "{}",
        again.stdout
    );

    // Emacs now reads the keywords as keywords.
    if let Some(headings) = emacs::read(&messaging.join("inbox.org")) {
        let todo: Vec<&str> = headings.iter().map(|h| h.todo.as_str()).collect();
        assert_eq!(todo, ["TODO", "TODO", "WAITING", "DONE"]);
    }
    if let Some(headings) = emacs::read(&messaging.join("agents/gregor-claude.org")) {
        assert_eq!(headings[0].todo, "QUEUED");
        assert_eq!(headings[0].id, "task-1");
    }
}

#[test]
fn fix_creates_a_missing_inbox_and_outbox() {
    let env = Env::empty();
    env.write_settings(SETTINGS);
    let run = env.run("msg", &["doctor", "--fix"]);
    assert!(
        run.stdout
            .contains("/org/messaging/inbox.org: created it with its #+TODO: header"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("/org/messaging/outbox.org: created it with its #+TODO: header"),
        "{}",
        run.stdout
    );
    assert_eq!(
        env.read(&env.messaging().join("inbox.org")),
        "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n"
    );
}

/// Issue 15: what Emacs reads differently from how a file looks, each at `FILE:LINE:` (the
/// form compilation-mode jumps to): a task whose keyword was mistyped in Emacs (and whose
/// admission the governor still counts), lines ending in CR LF in a file Emacs reads as
/// Unix, a TAB before a property value. `msg show` finds the task and says what to fix.
#[test]
fn what_emacs_reads_differently_is_reported_at_its_line() {
    let env = healthy();
    let messaging = env.messaging();
    let header = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";
    std::fs::write(
        messaging.join("agents/gregor-claude.org"),
        format!(
            "{header}* QUEUD Summarise the report\n  :PROPERTIES:\n  :ID: task-20261124-100200-3f2a9c1b7d4e\n  :ADMISSION: adm-7\n  :END:\n"
        ),
    )
    .unwrap();
    std::fs::write(
        messaging.join("inbox.org"),
        format!(
            "{header}* TODO crlf :unread:message:\r\n  :PROPERTIES:\r\n  :ID: msg-1\r\n  :END:\r\n\
             * TODO tab :unread:message:\n  :PROPERTIES:\n  :ID:\tmsg-2\n  :END:\n"
        ),
    )
    .unwrap();
    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        lines_about(&run.stdout, "error", "agents/gregor-claude.org"),
        [
            "2: task task-20261124-100200-3f2a9c1b7d4e has no keyword (\"QUEUD\" is not one): Emacs, `msg tasks` and the hook do not see it as a task, and the governor still counts its admission adm-7; set one of TODO, WAITING, QUEUED, WORKING, DONE, CANCELLED or ARCHIVED (in Emacs: C-c C-t on the heading)"
        ]
    );
    assert_eq!(
        lines_about(&run.stdout, "error", "inbox.org"),
        [
            "2: 4 lines end in CR LF while others end in LF alone, so Emacs reads every line as Unix and their CR as text (`^M`): drawers on those lines are ignored and their IDs not read; convert the file to one kind (in Emacs: C-x RET f utf-8-unix RET, then save)",
            "7: a property drawer Emacs ignores (line 8 has a TAB between `:KEY:` and the value; Org needs a space there); its properties (the ID too) are not read until it is repaired by hand",
        ]
    );
    let show = env.run("msg", &["show", "3f2a9c1b7d4e"]);
    assert_eq!(show.code, 1, "{}", show.stdout);
    assert!(
        show.stderr.contains("gregor-claude.org:2: task task-20261124-100200-3f2a9c1b7d4e has no task keyword (\"QUEUD\" is not one): set it to one of TODO"),
        "{}",
        show.stderr
    );
    let tasks = env.run("msg", &["tasks"]);
    assert!(!tasks.ok().contains("Summarise"), "{}", tasks.stdout);
}

/// An admission whose task was never written (the write failed, on a disk full beyond what
/// the release could still write) is found by doctor and released by `--fix`; one whose task
/// exists is left alone.
#[test]
fn an_admission_without_a_task_is_reported_and_released() {
    let env = healthy();
    let submitted = env
        .run(
            "msg",
            &["task", "submit", "A real task", "--from", "gregor"],
        )
        .ok()
        .to_owned();
    assert!(submitted.contains("task-"), "{submitted}");
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(20);
    let governor = env
        .ctx()
        .governor()
        .unwrap()
        .with_clock(msg_governor::ManualClock::new(past));
    let msg_governor::Decision::Admitted(orphan) = governor.admit("tex", 3000, 0).unwrap() else {
        panic!("admitted");
    };
    let run = env.run("msg", &["doctor"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("belongs to no task"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(
        lines[0].contains(&format!(
            "admission {} (tex, 3,000 tokens reserved",
            orphan.id
        )),
        "{}",
        lines[0]
    );
    let fix = env.run("msg", &["doctor", "--fix"]);
    assert!(
        fix.stdout.contains(&format!(
            "released admission {} (tex), which belonged to no task",
            orphan.id
        )),
        "{}",
        fix.stdout
    );
    assert_eq!(fix.code, 0, "{}", fix.stdout);
    let active = env.ctx().governor().unwrap().active_admissions().unwrap();
    assert_eq!(active.len(), 1, "the real task's admission stays");
}
