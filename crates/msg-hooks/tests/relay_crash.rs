//! End to end: the relay dies abruptly (SIGKILL) while messages are in flight both ways, and
//! comes back on the same port and spool.
//!
//! # How the relay runs as a process of its own
//!
//! The `msg-relay` executable belongs to another package, so `env!("CARGO_BIN_EXE_msg-relay")`
//! does not exist here, and finding it in the target directory would depend on what was
//! built before. Nor should msg-hooks ship a relay binary only its tests need. Instead this
//! test binary, which has no libtest harness (`harness = false`, as msg-store's
//! `multiprocess.rs`), starts *itself* again ([`std::env::current_exe`]) with
//! `--relay-process SPOOL PORT`. That child process does what `msg-relay serve --spool DIR
//! --port P` does after parsing its flags: it opens the spool ([`msg_relay::Spool::open`],
//! which takes the directory's `flock`), binds the port and runs [`msg_relay::run`] on a
//! multi-threaded runtime, with no shutdown signal at all. The test kills it with
//! [`Child::kill`], which is SIGKILL: no close frames, no flush, no destructors; the kernel
//! closes the sockets and releases the spool's lock. What survives is what the spool had
//! synced to disk, exactly as for a crashed production relay. (The flag parsing of
//! `msg-relay serve` is msg-relay's own tests' business.)
//!
//! Unlike the in-process relay of `tests/hooks/relay.rs`, whose graceful stop flushes the
//! queues and closes every socket with 1001, nothing here gives the clients a goodbye: they
//! find the connection reset, back off, and log in again when the new process listens.
//!
//! If the test process itself dies, the relay child sees its stdin closed and exits, so no
//! relay outlives a crashed test run.
//!
//! The same relay process (with its log on, to a file) shows that sealed messages leave no
//! plaintext at the relay: neither in its spool nor in its log (issue 21).
//!
//! Run without arguments (or with a filter that matches) it runs the tests and prints
//! libtest's lines; `--list` lists them. SIGKILL needs unix: elsewhere it does nothing.

#[cfg(unix)]
#[allow(dead_code, reason = "each test binary uses part of the shared harness")]
mod support;

#[cfg(not(unix))]
fn main() {
    println!("relay_crash: SIGKILL of a child process needs unix; nothing to run");
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    crash::main()
}

#[cfg(unix)]
mod crash {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::process::ExitStatusExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, ExitCode, Stdio};
    use std::sync::mpsc::{Receiver, channel};
    use std::time::{Duration, Instant};

    use assert_fs::TempDir;

    use crate::support::id_in;
    use crate::support::relay::{Client, DEADLINE, Person, bind, relay_config};

    /// The first argument that makes this binary the relay child process; the spool directory
    /// and the port (0: any) follow, then `log` when the relay logs (to its stderr).
    const RELAY_PROCESS: &str = "--relay-process";
    /// What the child prints, followed by the port, once it listens.
    const LISTENING: &str = "test-relay-process listening on ";
    /// The tests, in the order they run.
    const TESTS: [(&str, fn()); 2] = [
        (
            "a_relay_killed_mid_flow_loses_and_duplicates_nothing",
            a_relay_killed_mid_flow_loses_and_duplicates_nothing,
        ),
        (
            "sealed_messages_leave_no_plaintext_in_the_spool_or_the_log",
            sealed_messages_leave_no_plaintext_in_the_spool_or_the_log,
        ),
    ];

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.first().map(String::as_str) == Some(RELAY_PROCESS) {
            let log = args.get(3).map(String::as_str) == Some("log");
            relay_process(Path::new(&args[1]), args[2].parse().unwrap(), log);
            return ExitCode::SUCCESS;
        }
        if args.iter().any(|arg| arg == "--list") {
            for (name, _) in TESTS {
                println!("{name}: test");
            }
            return ExitCode::SUCCESS;
        }
        // `--ignored` asks for ignored tests only: there are none.
        let filter = args.iter().find(|arg| !arg.starts_with('-'));
        let chosen: Vec<(&str, fn())> = TESTS
            .into_iter()
            .filter(|(name, _)| {
                !args.iter().any(|arg| arg == "--ignored")
                    && filter.is_none_or(|f| name.contains(f.as_str()))
            })
            .collect();
        println!("\nrunning {} tests", chosen.len());
        // A failing assertion panics: the process exits 101 with the message, as libtest's
        // binaries do.
        for (name, test) in &chosen {
            test();
            println!("test {name} ... ok");
        }
        println!("\ntest result: ok. {} passed; 0 failed", chosen.len());
        ExitCode::SUCCESS
    }

    /// The relay child process (see the module docs): serves `msg_relay::run` with its spool in
    /// `spool` on `port` until killed, or until its stdin closes; with `log`, logging at the
    /// info level (everything it logs) to stderr.
    fn relay_process(spool: &Path, port: u16, log: bool) {
        // The parent holds our stdin open; when it ends (even killed), so does this relay.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
        let mut config = relay_config(Some(spool));
        if log {
            config.log_level = msg_relay::LogLevel::Info;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = bind(port).await;
            println!("{LISTENING}{}", listener.local_addr().unwrap().port());
            msg_relay::run(listener, config, std::future::pending())
                .await
                .unwrap();
        });
    }

    /// The relay as a child process (see the module docs), killed when dropped.
    struct RelayProcess {
        child: Child,
        port: u16,
        spool: PathBuf,
    }

    impl RelayProcess {
        /// A relay on `port` (0: any) with its spool in `spool`, once it listens.
        fn start(spool: &Path, port: u16) -> RelayProcess {
            RelayProcess::spawn(spool, port, None)
        }

        /// [`RelayProcess::start`] on any port, logging everything it logs to `log`.
        fn start_logging(spool: &Path, log: &Path) -> RelayProcess {
            RelayProcess::spawn(spool, 0, Some(log))
        }

        fn spawn(spool: &Path, port: u16, log: Option<&Path>) -> RelayProcess {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command
                .arg(RELAY_PROCESS)
                .arg(spool)
                .arg(port.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            match log {
                Some(log) => {
                    command
                        .arg("log")
                        .stderr(std::fs::File::create(log).unwrap());
                }
                None => {
                    command.stderr(Stdio::inherit());
                }
            }
            let mut child = command.spawn().unwrap();
            let lines = read_lines(child.stdout.take().unwrap());
            let deadline = Instant::now() + DEADLINE;
            let mut seen = Vec::new();
            let port = loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match lines.recv_timeout(left) {
                    Ok(line) => {
                        if let Some(at) = line.find(LISTENING) {
                            break line[at + LISTENING.len()..].trim().parse().unwrap();
                        }
                        seen.push(line);
                    }
                    Err(err) => {
                        let _ = child.kill();
                        panic!("the relay process did not listen ({err}); it printed {seen:?}")
                    }
                }
            };
            RelayProcess {
                child,
                port,
                spool: spool.to_owned(),
            }
        }

        fn url(&self) -> String {
            format!("ws://127.0.0.1:{}/ws", self.port)
        }

        /// SIGKILL, and waits until the process is gone (its sockets and spool lock with it).
        fn kill(&mut self) {
            self.child.kill().unwrap();
            let status = self.child.wait().unwrap();
            assert_eq!(status.signal(), Some(9), "{status:?}");
        }

        /// A new relay process on the same port and spool.
        fn restart(&mut self) {
            *self = RelayProcess::start(&self.spool, self.port);
        }
    }

    impl Drop for RelayProcess {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// The lines of `from`, on a channel; read to the end so the writer never blocks.
    fn read_lines(from: impl Read + Send + 'static) -> Receiver<String> {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        rx
    }

    /// How often each ID is the `:ID:` of an entry in `person`'s `inbox.org`, read as text.
    fn on_disk(person: &Person, ids: &[String]) -> Vec<(String, usize)> {
        let path = person.ctx().store().unwrap().inbox_path().to_owned();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut found: Vec<(String, usize)> = ids.iter().map(|id| (id.clone(), 0)).collect();
        for line in text.lines() {
            let Some(value) = line.trim_start().strip_prefix(":ID:") else {
                continue;
            };
            match found.iter_mut().find(|(id, _)| id == value.trim()) {
                Some((_, count)) => *count += 1,
                None => found.push((value.trim().to_owned(), 1)),
            }
        }
        found
    }

    /// Asserts that `person`'s inbox holds each of `ids` exactly once, and nothing else.
    #[track_caller]
    fn exactly_once(person: &Person, ids: &[String]) {
        let counts = on_disk(person, ids);
        let wrong: Vec<&(String, usize)> = counts.iter().filter(|(_, n)| *n != 1).collect();
        assert!(
            wrong.is_empty() && counts.len() == ids.len(),
            "{}: not every message exactly once in inbox.org: {wrong:?} (of {counts:?})",
            person.name
        );
        let mut parsed: Vec<String> = person.inbox().into_iter().map(|m| m.id).collect();
        parsed.sort_unstable();
        let mut want = ids.to_vec();
        want.sort_unstable();
        assert_eq!(parsed, want, "{}: the store's reading", person.name);
    }

    /// `person`'s outbox: each ID with its `DELIVERY` state.
    fn outbox_states(person: &Person) -> Vec<(String, Option<String>)> {
        person
            .outbox()
            .into_iter()
            .map(|m| {
                let state = m.property("DELIVERY").map(str::to_owned);
                (m.id, state)
            })
            .collect()
    }

    /// `person`'s outbox by `DELIVERY` state: (pending, queued, delivered, other).
    fn delivery_states(person: &Person) -> (usize, usize, usize, usize) {
        let mut states = (0, 0, 0, 0);
        for message in person.outbox() {
            match message.property("DELIVERY") {
                Some("pending") => states.0 += 1,
                Some("queued") => states.1 += 1,
                Some("delivered") => states.2 += 1,
                _ => states.3 += 1,
            }
        }
        states
    }

    fn a_relay_killed_mid_flow_loses_and_duplicates_nothing() {
        let spool = TempDir::new().unwrap();
        let mut relay = RelayProcess::start(spool.path(), 0);
        let url = relay.url();
        let alice = Person::on_url("alice", &url, false, "");
        let bob = Person::on_url("bob", &url, true, "");
        bob.write_contacts(
            "actors:\n  - {id: alice, name: Alice, handles: ['@al'], trust_tier: team}\n",
        );
        let carol = Person::on_url("carol", &url, false, "");
        let send = |from: &Person, to: &str, text: String| {
            id_in(from.run("msg", &["send", to, &text]).ok())
        };
        let mut alice_client = alice.connect();
        let mut bob_client = bob.connect();
        alice_client.wait_for(&["alice: logged in"]);
        bob_client.wait_for_all(&["bob:".to_owned(), "bob-claude:".to_owned()], "logged in");

        // Settled before the kill: a task for bob's agent, taken in; two messages for carol, who
        // is offline, acknowledged `queued` (synced to the spool before that ack).
        let task_message = send(&alice, "bob-claude", "Summarise the notes".into());
        bob_client.wait_for(&["[intake]", &task_message, "(QUEUED)"]);
        let tasks = bob.tasks();
        assert_eq!(tasks.len(), 1, "{tasks:?}");
        let task_id = tasks[0].id().to_owned();
        bob.run("msg", &["task", "claim", &task_id]).ok();
        let for_carol: Vec<String> = (0..2)
            .map(|n| send(&alice, "carol", format!("for carol {n}")))
            .collect();
        alice_client.wait_for_all(&for_carol, "queued");

        // Mid-flow: messages both ways.
        let mut to_bob = vec![task_message.clone()];
        let mut to_alice = Vec::new();
        for n in 0..4 {
            to_bob.push(send(&alice, "bob", format!("flowing {n}")));
            to_alice.push(send(&bob, "alice", format!("flowing back {n}")));
        }
        bob_client.wait_for(&["bob: received", &to_bob[1]]);
        // A burst both ways, and the kill the moment alice's client has written the burst's first
        // message to the relay: the clients are then sending and receiving the rest (the outbox is
        // polled every 200 ms, so they go out in groups), some answered, some not.
        // The task's result goes out in the middle of it.
        let burst = to_bob.len();
        let mut reply = String::new();
        for n in 0..15 {
            to_bob.push(send(&alice, "bob", format!("burst {n}")));
            to_alice.push(send(&bob, "alice", format!("burst back {n}")));
            if n == 5 {
                let run = bob.run(
                    "send-reply",
                    &[
                        "alice",
                        "Three bullets: a, b, c.",
                        "--complete-task",
                        &task_id,
                        "--tokens",
                        "500",
                    ],
                );
                reply = id_in(run.ok());
                to_alice.push(reply.clone());
            }
        }
        alice_client.wait_for(&["alice: sent", &to_bob[burst]]);
        relay.kill();
        // For the record (failure output, --nocapture): how much was open at the kill.
        let at_kill = (delivery_states(&alice), delivery_states(&bob));

        // While the relay is down both sides write more; it comes back on the same port and
        // spool, and both clients log in again by themselves (their backoff).
        for n in 0..2 {
            to_bob.push(send(&alice, "bob", format!("while down {n}")));
            to_alice.push(send(&bob, "alice", format!("while down back {n}")));
        }
        relay.restart();

        // Both clients log in again by themselves; wait until every message is in its
        // recipient's inbox.org and every sent one has the relay's answer recorded.
        let mut alice_sent = to_bob.clone();
        alice_sent.extend(for_carol.iter().cloned());
        let deadline = Instant::now() + DEADLINE;
        loop {
            alice_client.pump();
            bob_client.pump();
            if on_disk(&bob, &to_bob).iter().all(|(_, n)| *n > 0)
                && on_disk(&alice, &to_alice).iter().all(|(_, n)| *n > 0)
                && delivery_states(&alice).0 == 0
                && delivery_states(&bob).0 == 0
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not every message in its recipient's inbox, or not every sent one answered, \
             within {DEADLINE:?}\nbob's inbox: {:?}\nalice's inbox: {:?}\nalice's outbox: \
             {:?}\nbob's outbox: {:?}\nalice's client:\n{}\nbob's client:\n{}",
                on_disk(&bob, &to_bob),
                on_disk(&alice, &to_alice),
                outbox_states(&alice),
                outbox_states(&bob),
                alice_client.seen().join("\n"),
                bob_client.seen().join("\n"),
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        // For the record: what the kill left to repair (from the lines read so far, so a line
        // still on its way may be missing from the counts).
        alice_client.pump();
        bob_client.pump();
        let lines = |client: &Client, ids: &[String], word: &str| {
            client
                .seen()
                .iter()
                .filter(|l| l.contains(word) && ids.iter().any(|id| l.contains(id.as_str())))
                .count()
        };
        eprintln!(
            "at the kill (pending, queued, delivered, other): alice {:?}, bob {:?}; \
         sent again: {} by alice, {} by bob; delivered again and recognised: {} to bob, \
         {} to alice",
            at_kill.0,
            at_kill.1,
            lines(&alice_client, &alice_sent, ": sent ").saturating_sub(alice_sent.len()),
            lines(&bob_client, &to_alice, ": sent ").saturating_sub(to_alice.len()),
            lines(&bob_client, &to_bob, " again "),
            lines(&alice_client, &to_alice, " again "),
        );

        // carol drains once: what was queued for her before the kill is there, once.
        let drained = carol.drain();
        assert!(drained.contains("received 2 new"), "{drained}");

        exactly_once(&bob, &to_bob);
        exactly_once(&alice, &to_alice);
        exactly_once(&carol, &for_carol);
        // Every sent message was accepted by the relay: delivered, or durably queued.
        for person in [&alice, &bob] {
            let outbox = person.outbox();
            assert!(
                outbox
                    .iter()
                    .all(|m| matches!(m.property("DELIVERY"), Some("delivered" | "queued"))),
                "{}: {outbox:?}",
                person.name
            );
        }
        assert_eq!(alice.outbox().len(), alice_sent.len());
        assert_eq!(bob.outbox().len(), to_alice.len());

        // The task exists once, done, and its result reached alice as the reply to it.
        let tasks = bob.tasks();
        assert_eq!(tasks.len(), 1, "{tasks:?}");
        assert_eq!(tasks[0].id(), task_id);
        assert_eq!(tasks[0].property("MESSAGE_ID"), Some(task_message.as_str()));
        assert_eq!(tasks[0].state(), msg_inbox::TaskState::Done);
        let result = alice.inbox().into_iter().find(|m| m.id == reply).unwrap();
        assert_eq!(result.from, "bob-claude");
        assert_eq!(result.reply_to.as_deref(), Some(task_message.as_str()));

        // Nothing is left at the relay for anyone, nor pending here: later drains bring and send
        // nothing new. (The relay may hand over once more what it had given the killed clients
        // just before they died; that is recognised, counted "again", and not written.)
        drop((alice_client, bob_client));
        for person in [&alice, &bob, &carol] {
            let again = person.drain();
            assert!(again.contains("received 0 new"), "{}: {again}", person.name);
            assert!(again.contains("sent 0 ("), "{}: {again}", person.name);
        }
        exactly_once(&bob, &to_bob);
        exactly_once(&alice, &to_alice);
        exactly_once(&carol, &for_carol);
    }

    /// Every file below `dir`, with its bytes.
    fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(files_below(&path));
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
        files
    }

    /// Keys for everyone, each side holding the other's; returns nothing: the roots have it.
    fn exchange_keys(alice: &Person, bob: &Person) {
        let keys = |person: &Person| -> Vec<serde_json::Value> {
            person.run("msg", &["keys", "init"]).ok();
            let shown = person.run("msg", &["keys", "show", "--json"]);
            serde_json::from_str::<serde_json::Value>(shown.ok())
                .unwrap()
                .as_array()
                .unwrap()
                .clone()
        };
        let entry = |keys: &serde_json::Value| {
            format!(
                "  - id: {}\n    trust_tier: team\n    public_key: {}\n    encryption_key: {}\n    key_verified: 2026-11-24\n",
                keys["identity"].as_str().unwrap(),
                keys["public_key"].as_str().unwrap(),
                keys["encryption_key"].as_str().unwrap()
            )
        };
        let alice_keys = keys(alice);
        let bob_keys = keys(bob);
        alice.write_contacts(&format!(
            "actors:\n{}",
            bob_keys.iter().map(entry).collect::<String>()
        ));
        bob.write_contacts(&format!(
            "actors:\n{}",
            alice_keys.iter().map(entry).collect::<String>()
        ));
    }

    fn sealed_messages_leave_no_plaintext_in_the_spool_or_the_log() {
        let dir = TempDir::new().unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();
        let log = dir.path().join("relay.log");
        let mut relay = RelayProcess::start_logging(&spool, &log);
        let url = relay.url();
        let alice = Person::on_url("alice", &url, false, "");
        let bob = Person::on_url("bob", &url, true, "");
        exchange_keys(&alice, &bob);

        // bob is offline: both wait in the relay's spool (synced before the `queued` ack).
        let secret = "The vault code is 7419, and the meeting moved to Thursday";
        let to_bob = id_in(alice.run("msg", &["send", "bob", secret]).ok());
        let to_agent = id_in(
            alice
                .run("msg", &["send", "bob-claude", &format!("Task: {secret}")])
                .ok(),
        );
        let out = alice.drain();
        for id in [&to_bob, &to_agent] {
            assert!(out.contains(&format!("sent sealed {id}")), "{out}");
            assert!(out.contains(&format!("{id} queued")), "{out}");
        }
        let leaks = |what: &str| {
            let mut found = Vec::new();
            for (path, bytes) in files_below(&spool)
                .into_iter()
                .chain([(log.clone(), std::fs::read(&log).unwrap())])
            {
                for needle in [secret, "vault code", "7419", "Thursday"] {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(format!("{needle:?} in {}", path.display()));
                    }
                }
            }
            assert!(
                found.is_empty(),
                "{what}: plaintext at the relay: {found:?}"
            );
        };
        let spooled: usize = files_below(&spool).iter().map(|(_, b)| b.len()).sum();
        assert!(
            spooled > 1000,
            "the spool holds the two messages ({spooled} bytes)"
        );
        leaks("queued");

        // bob reads them: plain org on his side, marked as sealed on the way.
        bob.drain();
        let inbox = bob.inbox();
        let message = inbox.iter().find(|m| m.id == to_bob).unwrap();
        assert_eq!(message.body, secret);
        assert_eq!(message.property("ENCRYPTED"), Some("yes"));
        assert_eq!(message.property("SIGNATURE_CHECK"), Some("verified"));
        let task = bob
            .tasks()
            .into_iter()
            .find(|t| t.property("MESSAGE_ID") == Some(to_agent.as_str()))
            .unwrap();
        assert_eq!(task.state(), msg_inbox::TaskState::Queued);
        leaks("delivered");
        relay.kill();
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("event=login"), "the log is on: {logged}");
        leaks("after the relay stopped");
    }
}
