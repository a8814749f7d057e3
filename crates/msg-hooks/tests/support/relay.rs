//! The relay and the people around it, for the end-to-end tests: [`TestRelay`] (the real
//! relay on its own thread and runtime, on `127.0.0.1`), [`Person`] (a root of their own,
//! with their tokens) and [`Client`] (a running `msg relay connect`, whose stdout lines are
//! the events a test waits for).
//!
//! Waiting is on events with a deadline: a client's stdout lines arrive on a channel (each
//! line is printed after the file change it reports), and a test waits for the line it
//! needs; nothing sleeps for a fixed time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use msg_hooks::Context;
use msg_relay::{RelayConfig, ServerSecret};

use super::{Env, Run};

/// How long any one expected event may take. Generous: the machine is shared.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);
const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

/// The relay, served by `msg_relay::run` on its own thread and runtime.
pub(crate) struct TestRelay {
    pub(crate) port: u16,
    spool: Option<PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestRelay {
    pub(crate) fn start() -> TestRelay {
        TestRelay::on(0, None)
    }

    /// On `port` (0: any), with a spool directory when given.
    pub(crate) fn on(port: u16, spool: Option<PathBuf>) -> TestRelay {
        let (ready_tx, ready_rx) = channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let spool_dir = spool.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = bind(port).await;
                ready_tx
                    .send(listener.local_addr().unwrap().port())
                    .unwrap();
                let config = relay_config(spool_dir.as_deref());
                msg_relay::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        let port = ready_rx.recv().unwrap();
        TestRelay {
            port,
            spool,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// Stops the relay (every connection is closed) and waits until it is gone.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    /// A new relay on the same port and spool.
    pub(crate) fn restart(&mut self) {
        self.stop();
        *self = TestRelay::on(self.port, self.spool.clone());
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A listener on `127.0.0.1:port` (0: any). The port of a relay just stopped (or killed) can
/// take a moment to be free again: binding is tried again until [`DEADLINE`].
pub(crate) async fn bind(port: u16) -> tokio::net::TcpListener {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("cannot bind port {port}: {err}"),
        }
    }
}

/// The spool of a relay just stopped. Its lock goes with the last descriptor of it, and a
/// child that another test of this process forks holds a copy until it execs: so a
/// `Locked` spool is waited for (within the deadline), as a port is by [`bind`].
fn open_spool(dir: &Path) -> msg_relay::Spool {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match msg_relay::Spool::open(dir) {
            Err(msg_relay::SpoolError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            opened => return opened.unwrap(),
        }
    }
}

pub(crate) fn relay_config(spool: Option<&Path>) -> RelayConfig {
    RelayConfig {
        spool: spool.map(open_spool),
        log_level: msg_relay::LogLevel::Off,
        limits: msg_relay::Limits {
            // Closing quickly on stop: the tests restart the relay.
            shutdown_grace: Duration::from_millis(200),
            ..msg_relay::Limits::default()
        },
        ..RelayConfig::new(ServerSecret::new(SECRET).unwrap())
    }
}

pub(crate) fn token(name: &str) -> String {
    ServerSecret::new(SECRET)
        .unwrap()
        .token_for(name)
        .to_string()
}

/// A person with a Datacore root of their own (a machine).
pub(crate) struct Person {
    pub(crate) name: &'static str,
    env: Env,
}

impl Person {
    /// `name` on `relay`, owner of their root, with their agent's token when `agent`, and
    /// `extra` appended under `messaging:` (two-space indented YAML lines).
    pub(crate) fn new(name: &'static str, relay: &TestRelay, agent: bool, extra: &str) -> Person {
        Person::on_url(name, &relay.url(), agent, extra)
    }

    /// [`Person::new`] for the relay at `url`.
    pub(crate) fn on_url(name: &'static str, url: &str, agent: bool, extra: &str) -> Person {
        let person = Person {
            name,
            env: Env::empty(),
        };
        person.configure(url, agent, extra);
        person
    }

    pub(crate) fn configure(&self, url: &str, agent: bool, extra: &str) {
        let mut settings = format!(
            "identity: {{name: {name}}}\nmessaging:\n  utc_offset: \"+01:00\"\n  relay:\n    url: {url}\n    token: {token}\n",
            name = self.name,
            token = token(self.name)
        );
        if agent {
            settings.push_str(&format!(
                "    agent_tokens:\n      {name}-claude: {token}\n",
                name = self.name,
                token = token(&format!("{}-claude", self.name))
            ));
        }
        settings.push_str(extra);
        let path = self.root().join(".datacore/settings.local.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, settings).unwrap();
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.env.root()
    }

    pub(crate) fn ctx(&self) -> Context {
        self.env.ctx()
    }

    pub(crate) fn write_contacts(&self, yaml: &str) {
        let path = self.root().join("0-personal/contacts.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml).unwrap();
    }

    pub(crate) fn command(&self, program: &str, args: &[&str]) -> Command {
        self.env.command(program, args)
    }

    /// Runs `program`. These people keep no contacts of each other, so `msg send`'s warning
    /// about a recipient in no contact (tested in `hooks/broadcast.rs`) is dropped from
    /// stderr here.
    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Run {
        let mut run = self.env.run(program, args);
        run.stderr = run
            .stderr
            .lines()
            .filter(|line| {
                !(line.starts_with("msg: warning: ") && line.contains("is in no contact"))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        run
    }

    pub(crate) fn run_with_stdin(&self, program: &str, args: &[&str], stdin: &str) -> Run {
        self.env.run_with_stdin(program, args, stdin)
    }

    /// `msg relay connect` in the foreground.
    pub(crate) fn connect(&self) -> Client {
        let mut child = self
            .command("msg", &["relay", "connect"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// `msg relay connect --once`, which must succeed; its stdout.
    #[track_caller]
    pub(crate) fn drain(&self) -> String {
        let run = self.run("msg", &["relay", "connect", "--once", "--timeout", "20"]);
        assert_eq!(run.code, 0, "{run:?}");
        run.stdout
    }

    /// The inbox's messages.
    pub(crate) fn inbox(&self) -> Vec<msg_store::Message> {
        match self.ctx().existing_store().unwrap() {
            Some(store) => store.all().unwrap(),
            None => Vec::new(),
        }
    }

    /// The outbox's messages.
    pub(crate) fn outbox(&self) -> Vec<msg_store::Message> {
        match self.ctx().existing_store().unwrap() {
            Some(store) => store.sent().unwrap(),
            None => Vec::new(),
        }
    }

    /// The tasks of the person's agent.
    pub(crate) fn tasks(&self) -> Vec<msg_inbox::Task> {
        match self.ctx().existing_agent_inbox(None).unwrap() {
            Some(inbox) => inbox.tasks().unwrap(),
            None => Vec::new(),
        }
    }
}

/// A running `msg relay connect`; killed when dropped.
pub(crate) struct Client {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Client {
    /// The lines read so far (by the `wait_*` methods and [`Client::pump`]).
    pub(crate) fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Reads the lines printed so far without waiting.
    pub(crate) fn pump(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Waits for a line containing every one of `parts`; returns it.
    #[track_caller]
    pub(crate) fn wait_for(&mut self, parts: &[&str]) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if parts.iter().all(|p| line.contains(p)) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {parts:?} within {DEADLINE:?}; saw:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the client ended before a line with {parts:?}; saw:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Waits for the client to end (its stdout closes); returns its exit code and every line.
    #[track_caller]
    pub(crate) fn wait_exit(&mut self) -> (i32, Vec<String>) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the client did not end; saw:\n{}", self.seen.join("\n"))
                }
            }
        }
        let status = self.child.wait().unwrap();
        (status.code().unwrap_or(-1), self.seen.clone())
    }

    /// Waits until, for every one of `ids`, a line has contained it and one of `words` (in
    /// any order, lines seen before included).
    #[track_caller]
    pub(crate) fn wait_for_all_any(&mut self, ids: &[String], words: &[&str]) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let missing: Vec<&String> = ids
                .iter()
                .filter(|id| {
                    !self
                        .seen
                        .iter()
                        .any(|l| l.contains(id.as_str()) && words.iter().any(|w| l.contains(w)))
                })
                .collect();
            if missing.is_empty() {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {words:?} line for {missing:?} within {DEADLINE:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// [`Client::wait_for_all_any`] with one word.
    #[track_caller]
    pub(crate) fn wait_for_all(&mut self, ids: &[String], word: &str) {
        self.wait_for_all_any(ids, &[word]);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A relay scripted by the test, on `127.0.0.1:0` in a thread of its own: every text frame a
/// client sends that is JSON arrives on the returned channel, and `respond` says what to
/// write back to that client (in order). Returns the `ws://` URL.
pub(crate) fn scripted(
    respond: impl Fn(&serde_json::Value) -> Vec<serde_json::Value> + Clone + Send + 'static,
) -> (String, Receiver<serde_json::Value>) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (ready_tx, ready_rx) = channel();
    let (frames_tx, frames_rx) = channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ready_tx
                .send(listener.local_addr().unwrap().port())
                .unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let respond = respond.clone();
                let frames_tx = frames_tx.clone();
                tokio::spawn(async move {
                    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(Ok(message)) = socket.next().await {
                        let Message::Text(text) = message else {
                            continue;
                        };
                        let Ok(frame) = serde_json::from_str::<serde_json::Value>(&text) else {
                            continue;
                        };
                        let replies = respond(&frame);
                        let _ = frames_tx.send(frame);
                        for reply in replies {
                            let _ = socket.send(Message::text(reply.to_string())).await;
                        }
                    }
                });
            }
        });
    });
    let port = ready_rx.recv().unwrap();
    (format!("ws://127.0.0.1:{port}/ws"), frames_rx)
}
