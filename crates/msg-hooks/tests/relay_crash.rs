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
//! Run without arguments (or with a filter that matches) it runs the test and prints
//! libtest's lines; `--list` lists it. SIGKILL needs unix: elsewhere it does nothing.

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
    /// and the port (0: any) follow.
    const RELAY_PROCESS: &str = "--relay-process";
    /// What the child prints, followed by the port, once it listens.
    const LISTENING: &str = "test-relay-process listening on ";
    /// The one test.
    const TEST: &str = "a_relay_killed_mid_flow_loses_and_duplicates_nothing";

    pub(crate) fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.first().map(String::as_str) == Some(RELAY_PROCESS) {
            relay_process(Path::new(&args[1]), args[2].parse().unwrap());
            return ExitCode::SUCCESS;
        }
        if args.iter().any(|arg| arg == "--list") {
            println!("{TEST}: test");
            return ExitCode::SUCCESS;
        }
        // `--ignored` asks for ignored tests only: there are none.
        let filter = args.iter().find(|arg| !arg.starts_with('-'));
        if args.iter().any(|arg| arg == "--ignored")
            || filter.is_some_and(|f| !TEST.contains(f.as_str()))
        {
            println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed");
            return ExitCode::SUCCESS;
        }
        println!("\nrunning 1 test");
        // A failing assertion panics: the process exits 101 with the message, as libtest's
        // binaries do.
        a_relay_killed_mid_flow_loses_and_duplicates_nothing();
        println!("test {TEST} ... ok\n\ntest result: ok. 1 passed; 0 failed");
        ExitCode::SUCCESS
    }

    /// The relay child process (see the module docs): serves `msg_relay::run` with its spool in
    /// `spool` on `port` until killed, or until its stdin closes.
    fn relay_process(spool: &Path, port: u16) {
        // The parent holds our stdin open; when it ends (even killed), so does this relay.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            std::process::exit(0);
        });
        let config = relay_config(Some(spool));
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
            let mut child = Command::new(std::env::current_exe().unwrap())
                .arg(RELAY_PROCESS)
                .arg(spool)
                .arg(port.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
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
}
