//! Real processes racing on one inbox. The Python original kept 100 of 400 creates and 100 of
//! 400 marks in these same races; here nothing may be lost.
//!
//! This test binary has no libtest harness: run without arguments it runs each scenario,
//! spawning copies of itself with `--worker ...` as the competing processes (real processes,
//! each with its own file descriptors and locks).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};

use msg_store::{Incoming, MessageState, MessageStore, NewMessage};

/// One race: `Err` says what was lost.
type Scenario = fn() -> Result<(), String>;

const WORKERS: usize = 4;
const PER_WORKER: usize = 100;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        return match worker(&args[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker {:?} failed: {e}", &args[2..]);
                ExitCode::FAILURE
            }
        };
    }
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    let scenarios: [(&str, Scenario); 4] = [
        ("concurrent_creates_keep_every_message", concurrent_creates),
        ("concurrent_marks_keep_every_mark", concurrent_marks),
        (
            "creates_race_marks_and_archives",
            creates_race_marks_and_archives,
        ),
        (
            "concurrent_receives_store_each_message_once",
            concurrent_receives,
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario) in scenarios {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match scenario() {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n  {e}");
                failed += 1;
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The roles a spawned copy plays.
fn worker(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let space = Path::new(&args[1]);
    let store = MessageStore::open(space)?;
    match args[0].as_str() {
        "create" => {
            let (worker, count): (usize, usize) = (args[2].parse()?, args[3].parse()?);
            for i in 0..count {
                store.create_message(&NewMessage::new(
                    format!("w{worker}"),
                    "gregor",
                    format!("message {i}"),
                ))?;
            }
        }
        "mark" => {
            for id in &args[2..] {
                store.mark_read(id)?;
            }
        }
        "archive" => {
            for id in &args[2..] {
                store.mark_read(id)?;
                store.archive(id)?;
            }
        }
        "receive" => {
            // The same deliveries as every other receiver (two relay clients getting the
            // same redeliveries), in batches of 10, from `from`.
            let from = &args[2];
            let all: Vec<Incoming> = (0..PER_WORKER).map(|i| incoming(from, i)).collect();
            for batch in all.chunks(10) {
                for receipt in store.receive_all(batch)? {
                    receipt?;
                }
            }
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    Ok(())
}

fn spawn(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().expect("own path"))
        .arg("--worker")
        .args(args)
        .spawn()
        .expect("spawn a worker")
}

fn wait_all(children: Vec<Child>) -> Result<(), String> {
    for mut child in children {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("a worker failed: {status}"));
        }
    }
    Ok(())
}

fn temp_space(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msg-store-mp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

fn concurrent_creates() -> Result<(), String> {
    let space = temp_space("creates");
    let store = MessageStore::open(&space).map_err(|e| e.to_string())?;
    let space_arg = space.display().to_string();
    let count = PER_WORKER.to_string();
    let children = (0..WORKERS)
        .map(|w| spawn(&["create", &space_arg, &w.to_string(), &count]))
        .collect();
    wait_all(children)?;
    let all = store.all().map_err(|e| e.to_string())?;
    let ids: HashSet<&str> = all.iter().map(|m| m.id.as_str()).collect();
    check(all.len() == WORKERS * PER_WORKER, || {
        format!("{} messages, expected 400", all.len())
    })?;
    check(ids.len() == all.len(), || {
        format!("{} unique IDs of {}", ids.len(), all.len())
    })?;
    for w in 0..WORKERS {
        let mine: Vec<&str> = all
            .iter()
            .filter(|m| m.from == format!("w{w}"))
            .map(|m| m.body.as_str())
            .collect();
        let expected: Vec<String> = (0..PER_WORKER).map(|i| format!("message {i}")).collect();
        check(mine == expected, || {
            format!("worker {w}'s messages are not all there in order")
        })?;
    }
    std::fs::remove_dir_all(space).map_err(|e| e.to_string())
}

fn seed(store: &MessageStore, count: usize) -> Result<Vec<String>, String> {
    (0..count)
        .map(|i| {
            store
                .create_message(&NewMessage::new("tex", "gregor", format!("seed {i}")))
                .map(|m| m.id)
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn concurrent_marks() -> Result<(), String> {
    let space = temp_space("marks");
    let store = MessageStore::open(&space).map_err(|e| e.to_string())?;
    let ids = seed(&store, WORKERS * PER_WORKER)?;
    let space_arg = space.display().to_string();
    let children = ids
        .chunks(PER_WORKER)
        .map(|chunk| {
            let mut args = vec!["mark", space_arg.as_str()];
            args.extend(chunk.iter().map(String::as_str));
            spawn(&args)
        })
        .collect();
    wait_all(children)?;
    let all = store.all().map_err(|e| e.to_string())?;
    let read = all
        .iter()
        .filter(|m| m.state == MessageState::Read && !m.tags.iter().any(|t| t == "unread"))
        .count();
    check(all.len() == ids.len(), || {
        format!("{} messages of {}", all.len(), ids.len())
    })?;
    check(read == ids.len(), || {
        format!("{read} of {} marked read", ids.len())
    })?;
    std::fs::remove_dir_all(space).map_err(|e| e.to_string())
}

fn creates_race_marks_and_archives() -> Result<(), String> {
    let space = temp_space("mixed");
    let store = MessageStore::open(&space).map_err(|e| e.to_string())?;
    let ids = seed(&store, 100)?;
    let space_arg = space.display().to_string();
    let mut children = vec![
        spawn(&["create", &space_arg, "0", "100"]),
        spawn(&["create", &space_arg, "1", "100"]),
    ];
    let mut marks = vec!["mark", space_arg.as_str()];
    marks.extend(ids[..50].iter().map(String::as_str));
    children.push(spawn(&marks));
    let mut archives = vec!["archive", space_arg.as_str()];
    archives.extend(ids[50..].iter().map(String::as_str));
    children.push(spawn(&archives));
    wait_all(children)?;
    let all = store.all().map_err(|e| e.to_string())?;
    check(all.len() == 300, || {
        format!("{} messages, expected 300", all.len())
    })?;
    let state_of = |id: &str| all.iter().find(|m| m.id == id).map(|m| m.state.clone());
    check(
        ids[..50]
            .iter()
            .all(|id| state_of(id) == Some(MessageState::Read)),
        || "a mark was lost".into(),
    )?;
    check(
        ids[50..]
            .iter()
            .all(|id| state_of(id) == Some(MessageState::Archived)),
        || "an archive was lost".into(),
    )?;
    let unread = all.iter().filter(|m| m.is_unread()).count();
    check(unread == 200, || {
        format!("{unread} unread, expected the 200 new ones")
    })?;
    std::fs::remove_dir_all(space).map_err(|e| e.to_string())
}

/// Message `i` of `from`; every sender uses the same IDs (a hostile one reusing them).
fn incoming(from: &str, i: usize) -> Incoming {
    Incoming {
        from: from.to_owned(),
        to: "gregor".to_owned(),
        content: format!("message {i}"),
        id: format!("msg-20261124-100000-{i:012x}"),
        ..Incoming::default()
    }
}

fn concurrent_receives() -> Result<(), String> {
    let space = temp_space("receives");
    let store = MessageStore::open(&space).map_err(|e| e.to_string())?;
    let space_arg = space.display().to_string();
    // Three receivers of alice's messages race one of mallory's, who reuses alice's IDs.
    let children = ["alice", "alice", "alice", "mallory"]
        .iter()
        .map(|from| spawn(&["receive", &space_arg, from]))
        .collect();
    wait_all(children)?;
    let all = store.all().map_err(|e| e.to_string())?;
    let ids: HashSet<&str> = all.iter().map(|m| m.id.as_str()).collect();
    check(all.len() == 2 * PER_WORKER, || {
        format!("{} messages, expected {}", all.len(), 2 * PER_WORKER)
    })?;
    check(ids.len() == all.len(), || {
        format!("{} unique IDs of {}", ids.len(), all.len())
    })?;
    for from in ["alice", "mallory"] {
        let mut bodies: Vec<&str> = all
            .iter()
            .filter(|m| m.from == from)
            .map(|m| m.body.as_str())
            .collect();
        bodies.sort_unstable();
        let mut expected: Vec<String> = (0..PER_WORKER).map(|i| format!("message {i}")).collect();
        expected.sort_unstable();
        check(bodies == expected, || {
            format!("{from}'s messages are not each there once")
        })?;
    }
    // Whoever came first keeps the ID; the other is stored apart and says what it reused.
    for i in 0..PER_WORKER {
        let id = incoming("alice", i).id;
        let holders: Vec<&msg_store::Message> = all
            .iter()
            .filter(|m| m.id == id || m.property("ORIGINAL_ID") == Some(id.as_str()))
            .collect();
        check(holders.len() == 2, || {
            format!("{id}: {} entries", holders.len())
        })?;
    }
    std::fs::remove_dir_all(space).map_err(|e| e.to_string())
}
