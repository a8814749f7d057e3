//! Several real processes on one task file at once: nothing lost, nothing claimed twice.
//!
//! The worker processes are this test binary itself, run again with
//! `--exact processes::worker --nocapture` and the environment variable `MSG_INBOX_WORKER`
//! naming a role. That exercises the real cross-process `flock`s without installing any
//! binary. [`worker`] is an ordinary test that returns at once when the variable is absent
//! (as in every normal `cargo test` run). Each worker blocks on a line from its stdin until
//! the parent has started all of them, so they really race; they write what they did, one ID
//! per line, to a file the parent reads after they exit. No sleeps order anything.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use msg_core::config::Settings;
use msg_inbox::{AgentInbox, TaskState};

use crate::{Root, SPACE, scan};

const AGENT: &str = "race-claude";

/// Selects the worker role; absent in a normal test run.
const ROLE: &str = "MSG_INBOX_WORKER";
/// The `DATACORE_ROOT` the worker opens.
const ROOT: &str = "MSG_INBOX_WORKER_ROOT";
/// Where the worker writes the IDs it handled.
const OUT: &str = "MSG_INBOX_WORKER_OUT";
/// How many tasks a `create` worker makes; also its name.
const COUNT: &str = "MSG_INBOX_WORKER_COUNT";
const NAME: &str = "MSG_INBOX_WORKER_NAME";

/// The worker process's body (see the module documentation); a no-op in a normal run.
#[test]
fn worker() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"));
    let inbox = AgentInbox::open(
        &msg_core::paths::Paths::new(var(ROOT)),
        SPACE,
        AGENT,
        &Settings::default(),
    )
    .unwrap();
    let name = var(NAME);
    // Wait for the start signal: every worker has been spawned.
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).unwrap();
    let mut handled = Vec::new();
    match role.as_str() {
        "create" => {
            let count: usize = var(COUNT).parse().unwrap();
            for i in 0..count {
                let task = inbox
                    .create_task(
                        &format!("worker-{name}"),
                        &format!("Task {i} from worker {name}\nDetails of task {i}."),
                        "team",
                        &["AI"],
                        Some(1),
                        Some(1000),
                    )
                    .unwrap();
                handled.push(task.id().to_owned());
            }
        }
        "claim" => {
            while let Some(task) = inbox.claim_next().unwrap() {
                handled.push(task.id().to_owned());
            }
        }
        "claim-complete" => {
            while let Some(task) = inbox.claim_next().unwrap() {
                inbox
                    .complete(task.id(), Some(1), "", &format!("by-{name}"), None)
                    .unwrap();
                handled.push(task.id().to_owned());
            }
        }
        other => panic!("unknown worker role {other:?}"),
    }
    std::fs::write(var(OUT), handled.join("\n")).unwrap();
}

/// Runs one worker process per `(role, count)`, releases them together, waits for all and
/// returns the IDs each handled.
fn run_workers(root: &Path, roles: &[(&str, usize)]) -> Vec<Vec<String>> {
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<(Child, std::path::PathBuf)> = roles
        .iter()
        .enumerate()
        .map(|(n, (role, count))| {
            let out = root.join(format!("worker-{n}.out"));
            let child = Command::new(&exe)
                .args(["--exact", "processes::worker", "--nocapture"])
                .env(ROLE, role)
                .env(ROOT, root)
                .env(OUT, &out)
                .env(COUNT, count.to_string())
                .env(NAME, n.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (child, out)
        })
        .collect();
    for (child, _) in &mut children {
        // Dropping stdin after the line also ends the wait of a worker that read early.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }
    children
        .into_iter()
        .map(|(child, out)| {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "worker failed: {}\n{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let text = std::fs::read_to_string(&out)
                .unwrap_or_else(|e| panic!("{}: {e} (did the worker test run?)", out.display()));
            text.lines().map(str::to_owned).collect()
        })
        .collect()
}

fn queued_tasks(root: &Root, count: usize) -> (AgentInbox, BTreeSet<String>) {
    let inbox = root.inbox(AGENT);
    let ids = (0..count)
        .map(|i| {
            inbox
                .create_task(
                    "gregor",
                    &format!("Queued {i}"),
                    "owner",
                    &["AI"],
                    None,
                    None,
                )
                .unwrap()
                .id()
                .to_owned()
        })
        .collect();
    (inbox, ids)
}

#[test]
fn four_processes_creating_100_tasks_each_leave_400() {
    let root = Root::new();
    let inbox = root.inbox(AGENT);
    let results = run_workers(root.path(), &[("create", 100); 4]);
    let created: BTreeSet<String> = results.iter().flatten().cloned().collect();
    assert_eq!(created.len(), 400);
    let tasks = inbox.tasks().unwrap();
    assert_eq!(tasks.len(), 400);
    let in_file: BTreeSet<String> = tasks.iter().map(|t| t.id().to_owned()).collect();
    assert_eq!(in_file, created);
    // Each worker's tasks are in the file in the order it created them, whole.
    for (n, ids) in results.iter().enumerate() {
        let mine: Vec<&msg_inbox::Task> = tasks
            .iter()
            .filter(|t| t.from() == Some(format!("worker-{n}").as_str()))
            .collect();
        let order: Vec<&str> = mine.iter().map(|t| t.id()).collect();
        assert_eq!(order, *ids);
        for (i, task) in mine.iter().enumerate() {
            assert_eq!(task.title(), format!("Task {i} from worker {n}"));
            assert_eq!(task.body(), format!("Details of task {i}."));
        }
    }
    let doc = scan(inbox.path());
    assert!(doc.duplicate_ids().is_empty());
    assert_eq!(doc.declared_keywords().sequences().len(), 1);
}

#[test]
fn eight_processes_racing_claim_next_claim_each_task_exactly_once() {
    let root = Root::new();
    let (inbox, ids) = queued_tasks(&root, 100);
    let results = run_workers(root.path(), &[("claim", 0); 8]);
    let claims: Vec<&String> = results.iter().flatten().collect();
    assert_eq!(claims.len(), 100, "every task claimed once, none twice");
    let claimed: BTreeSet<String> = claims.into_iter().cloned().collect();
    assert_eq!(claimed, ids);
    let counts = inbox.counts().unwrap();
    assert_eq!((counts.working, counts.queued, counts.total), (100, 0, 100));
}

#[test]
fn transitions_racing_creates_lose_nothing() {
    let root = Root::new();
    let (inbox, before) = queued_tasks(&root, 50);
    let results = run_workers(
        root.path(),
        &[
            ("create", 50),
            ("claim-complete", 0),
            ("create", 50),
            ("claim-complete", 0),
        ],
    );
    let created: BTreeSet<String> = results[0].iter().chain(&results[2]).cloned().collect();
    let completed: Vec<&String> = results[1].iter().chain(&results[3]).collect();
    let completed_set: BTreeSet<String> = completed.iter().map(|s| (*s).clone()).collect();
    assert_eq!(
        completed.len(),
        completed_set.len(),
        "a task completed twice"
    );

    let tasks = inbox.tasks().unwrap();
    let in_file: BTreeSet<String> = tasks.iter().map(|t| t.id().to_owned()).collect();
    assert_eq!(tasks.len(), 150, "no task lost or duplicated");
    assert_eq!(in_file, before.union(&created).cloned().collect());
    for task in &tasks {
        if completed_set.contains(task.id()) {
            assert_eq!(task.state(), TaskState::Done, "{}", task.id());
            assert!(task.property("COMPLETED").is_some());
            assert!(task.property("RESULT_PATH").unwrap().starts_with("by-"));
        } else {
            // Whatever no worker took is still queued, untouched.
            assert_eq!(task.state(), TaskState::Queued, "{}", task.id());
            assert_eq!(task.property("STARTED"), None);
        }
    }
    assert!(
        completed_set.is_superset(&before),
        "the first 50 were queued from the start"
    );
}
