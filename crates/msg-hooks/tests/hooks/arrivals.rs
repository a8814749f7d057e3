//! `msg watch` (arrivals as they happen, each once, driven by file notifications),
//! `messaging.notify_command`, `msg presence` with real relay clients, `msg whoami`, and the
//! `--json` of the commands that change something (what the Emacs package reads).
//!
//! Waiting is on lines and file contents with a deadline: `msg watch --existing` prints what
//! is there only after its file watch is set up, so a test that has read that first line
//! knows that every later write is seen.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::relay::{DEADLINE, Person, TestRelay};
use crate::support::{Env, id_in, json};

/// A running `msg watch`, its stdout lines on a channel.
struct Watching {
    child: Child,
    lines: Receiver<String>,
}

impl Watching {
    fn start(env: &Env, args: &[&str]) -> Watching {
        let mut child = env
            .command("msg", &[&["watch"], args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching { child, lines }
    }

    #[track_caller]
    fn next(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|err| panic!("no line from msg watch within {DEADLINE:?}: {err}"))
    }

    #[track_caller]
    fn next_json(&self) -> Value {
        json(&self.next())
    }

    /// Waits for the process to end (its stdout closes); its exit code and stderr.
    #[track_caller]
    fn exit(mut self) -> (i32, String) {
        while self.lines.recv_timeout(DEADLINE).is_ok() {}
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        (status.code().unwrap_or(-1), stderr)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_prints_each_arrival_once_as_it_happens() {
    let env = Env::new();
    env.run("msg", &["send", "gregor", "Already here"]).ok();
    let watch = Watching::start(&env, &["--json", "--existing", "--count", "5"]);
    let first = watch.next_json();
    assert_eq!(first["kind"], "message");
    assert_eq!(first["subject"], "Already here");
    assert_eq!(first["from"], "gregor");

    // Written by other processes after the watch was set up: a message, a task that waits
    // for approval, and the same task once done (announced again, as done).
    let sent = id_in(
        env.run("msg", &["send", "gregor", "Lunch at 12?\nOr 1?"])
            .ok(),
    );
    let message = watch.next_json();
    assert_eq!(message["id"], sent.as_str());
    assert_eq!(message["subject"], "Lunch at 12?");
    assert!(message["file"].as_str().unwrap().ends_with("inbox.org"));

    let task = id_in(
        env.run(
            "msg",
            &[
                "task",
                "submit",
                "--from",
                "stranger@x.org",
                "Translate the README",
            ],
        )
        .ok(),
    );
    let waiting = watch.next_json();
    assert_eq!(waiting["kind"], "task_waiting");
    assert_eq!(waiting["id"], task.as_str());
    assert_eq!(waiting["from"], "stranger@x.org");

    // Reading a message and approving a task announce nothing.
    env.run("msg", &["read", &sent]).ok();
    env.run("msg", &["task", "approve", &task]).ok();
    env.run("msg", &["task", "claim", &task]).ok();
    env.run("msg", &["task", "complete", "--tokens", "10", &task])
        .ok();
    let done = watch.next_json();
    assert_eq!(done["kind"], "task_done");
    assert_eq!(done["id"], task.as_str());

    // A file delivery from the relay client's store call, as an arrival of its own kind.
    let store = msg_store::MessageStore::open(&env.root().join("0-personal")).unwrap();
    let file = store
        .create_file_delivery(&msg_store::NewFileDelivery {
            from: "tex@team.example.com".into(),
            filename: "report.pdf".into(),
            size: 10,
            content_type: "application/pdf".into(),
            swarm_ref: "abc".into(),
            fairdrop_ref: String::new(),
        })
        .unwrap();
    let delivered = watch.next_json();
    assert_eq!(delivered["kind"], "file_delivery");
    assert_eq!(delivered["id"], file.id.as_str());
    assert_eq!(delivered["subject"], "file report.pdf");
    let (code, stderr) = watch.exit();
    assert_eq!((code, stderr.as_str()), (0, ""), "--count 5 ends the watch");
}

#[test]
fn watch_lines_for_people_and_its_usage() {
    let env = Env::new();
    env.run("msg", &["send", "gregor", "Hello there"]).ok();
    let watch = Watching::start(&env, &["--existing", "--count", "1"]);
    let line = watch.next();
    assert!(
        line.contains("message from gregor: Hello there  (msg-"),
        "{line}"
    );
    assert_eq!(watch.exit().0, 0);
    // A sender's control characters reach the terminal escaped.
    env.run("msg", &["send", "gregor", "\u{1b}[2Jcleared?"])
        .ok();
    let watch = Watching::start(&env, &["--existing", "--count", "2"]);
    let lines = [watch.next(), watch.next()];
    assert!(lines[1].contains("\\u{1b}[2Jcleared?"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains('\u{1b}')));
    let help = env.run("msg", &["watch", "--help"]).ok().to_owned();
    for flag in ["--json", "--existing", "--count", "--agent"] {
        assert!(help.contains(flag), "{help}");
    }
    let empty = Env::empty();
    empty.write_settings("identity: {name: gregor}\n");
    let refused = empty.run("msg", &["watch"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("msg init"), "{}", refused.stderr);
}

#[test]
fn the_notify_command_runs_for_each_arrival_without_a_shell() {
    let env = Env::new();
    let log = env.dir.path().join("notified.log");
    // sh only as the notified program: the values arrive as arguments and environment.
    env.write_settings(&format!(
        "{}  notify_command: [sh, -c, 'printf \"%s|%s|%s\\n\" \"$1\" \"$MSG_KIND\" \"$MSG_ID\" >> {}', sh, '{{from}}: {{subject}}']\n",
        crate::support::SETTINGS,
        log.display()
    ));
    env.run("msg", &["send", "gregor", "First"]).ok();
    let watch = Watching::start(&env, &["--json", "--existing", "--count", "2"]);
    watch.next();
    let hostile = "$(touch pwned) `id` \"quoted\"";
    let id = id_in(env.run("msg", &["send", "gregor", hostile]).ok());
    watch.next();
    let deadline = Instant::now() + DEADLINE;
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 2 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("gregor: First|message|msg-"), "{text}");
    assert_eq!(lines[1], format!("gregor: {hostile}|message|{id}"));
    assert!(!env.dir.path().join("pwned").exists());
    assert!(!env.root().join("pwned").exists());
}

#[test]
fn changes_print_json_with_what_they_changed() {
    let env = Env::new();
    let sent = json(
        env.run("msg", &["send", "--json", "tex@team.example.com", "Hi"])
            .ok(),
    );
    assert_eq!(sent["delivery"], "pending_relay");
    assert_eq!(sent["message"]["subject"], "Hi");
    let local = json(
        env.run("msg", &["send", "--json", "gregor", "Note to self"])
            .ok(),
    );
    assert_eq!(local["delivery"], "local_inbox");
    let id = local["message"]["id"].as_str().unwrap().to_owned();
    let read = json(env.run("msg", &["read", "--json", &id]).ok());
    assert_eq!(
        (read["state"].as_str(), read["unread"].as_bool()),
        (Some("read"), Some(false))
    );
    let archived = json(env.run("msg", &["archive", "--json", &id]).ok());
    assert_eq!(archived["state"], "archived");
    let back = json(env.run("msg", &["unarchive", "--json", &id]).ok());
    assert_eq!(back["state"], "read");
    let again = env.run("msg", &["unarchive", &id]).ok().to_owned();
    assert!(again.contains("Unarchived (read)"), "{again}");

    let submitted = json(
        env.run(
            "msg",
            &[
                "task",
                "submit",
                "--json",
                "--from",
                "stranger@x.org",
                "Translate",
            ],
        )
        .ok(),
    );
    assert!(submitted["admission"].as_str().unwrap().starts_with("adm-"));
    assert_eq!(submitted["task"]["kind"], "task");
    let task = submitted["task"]["id"].as_str().unwrap().to_owned();
    assert_eq!(submitted["task"]["state"], "WAITING");
    let approved = json(env.run("msg", &["task", "approve", "--json", &task]).ok());
    assert_eq!(approved["state"], "QUEUED");
    let claimed = json(env.run("msg", &["task", "claim", "--json"]).ok());
    assert_eq!(claimed["id"], task.as_str());
    let done = json(
        env.run(
            "msg",
            &["task", "complete", "--json", "--tokens", "7", &task],
        )
        .ok(),
    );
    assert_eq!(done["state"], "DONE");
    assert!(done["governor"].as_str().is_some(), "{done}");
    let nothing = env.run("msg", &["task", "claim", "--json"]).ok().to_owned();
    assert_eq!(nothing.trim(), "null");
    // Messages say what they are about, tasks that they are tasks.
    let inbox = json(env.run("msg", &["inbox", "--all", "--json"]).ok());
    assert_eq!(inbox[0]["subject"], "Note to self");
    let tasks = json(env.run("msg", &["tasks", "--json"]).ok());
    assert_eq!(tasks[0]["kind"], "task");
}

#[test]
fn whoami_names_the_person_the_agents_and_the_files() {
    let env = Env::new();
    let me = json(env.run("msg", &["whoami", "--json"]).ok());
    assert_eq!(me["user"], "gregor");
    assert_eq!(me["agent"], "gregor-claude");
    assert_eq!(me["agents"], serde_json::json!(["gregor-claude"]));
    assert_eq!(me["trust_tier"], "owner");
    let root = env.root();
    assert_eq!(
        me["inbox"].as_str().unwrap(),
        root.join("0-personal/org/messaging/inbox.org")
            .display()
            .to_string()
    );
    assert_eq!(
        me["agent_files"][0]["file"].as_str().unwrap(),
        root.join("0-personal/org/messaging/agents/gregor-claude.org")
            .display()
            .to_string()
    );
    let text = env.run("msg", &["whoami"]).ok().to_owned();
    assert!(text.starts_with("You are gregor (owner)"), "{text}");
}

/// `msg presence --json` of `person`: each contact's (name, status, online).
fn presence(person: &Person) -> (bool, Vec<(String, String, bool)>) {
    let value = json(person.run("msg", &["presence", "--json"]).ok());
    let people = value["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["online"].as_bool().unwrap(),
            )
        })
        .collect();
    (value["client_running"].as_bool().unwrap(), people)
}

#[test]
fn presence_is_what_the_running_client_heard() {
    let relay = TestRelay::start();
    let alice = Person::new("alice", &relay, false, "");
    alice.write_contacts("actors:\n  - {id: bob}\n  - {id: carol}\n");
    let bob = Person::new("bob", &relay, false, "");
    assert_eq!(
        presence(&alice),
        (
            false,
            vec![
                ("bob".into(), "unknown".into(), false),
                ("carol".into(), "unknown".into(), false)
            ]
        )
    );
    let mut alice_client = alice.connect();
    alice_client.wait_for(&["bob is offline"]);
    let bob_client = bob.connect();
    alice_client.wait_for(&["bob is online"]);
    let (running, people) = presence(&alice);
    assert!(running);
    assert_eq!(people[0], ("bob".into(), "online".into(), true));
    assert!(!people[1].2, "carol never connected");
    let text = alice.run("msg", &["presence"]).ok().to_owned();
    assert!(text.contains("bob") && text.contains("online"), "{text}");

    drop(bob_client);
    alice_client.wait_for(&["bob is offline"]);
    assert!(!presence(&alice).1[0].2);

    drop(alice_client);
    let (running, people) = presence(&alice);
    assert!(!running, "the client is gone");
    assert!(people.iter().all(|p| p.1 == "unknown"), "{people:?}");
    let text = alice.run("msg", &["presence"]).ok().to_owned();
    assert!(text.contains("not running"), "{text}");
}
