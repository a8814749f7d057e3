//! The real `msg-relay` executable: startup, `PORT`, `--host`, `token`, `healthcheck`, SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Client, GUARD, Relay, SECRET, config};

fn relay_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_msg-relay"));
    command
        .env_remove("RELAY_SECRET")
        .env_remove("RELAY_SECRET_FILE")
        .env_remove("PORT")
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `msg-relay serve` and the lines of its log.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(command: &mut Command) -> Server {
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server { child, lines }
    }

    /// The first log line containing `needle`.
    fn line(&self, needle: &str) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(err) => panic!("no log line with {needle:?}: {err}"),
            }
        }
    }

    /// The address from the `event=listening` line.
    fn listening(&self) -> SocketAddr {
        let line = self.line("event=listening");
        let addr = line
            .split(' ')
            .find_map(|field| field.strip_prefix("addr="))
            .unwrap()
            .trim_matches('"');
        addr.parse().unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + GUARD;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.line("phase=complete");
                return status;
            }
            assert!(Instant::now() < deadline, "msg-relay ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Server {
    /// SIGKILL (what `Child::kill` sends): no shutdown code runs, as in a crash.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test must not leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_refuses_to_start_without_a_secret_with_one_line_and_status_2() {
    let output = run(relay_command().args(["serve", "--port", "0"]));
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("RELAY_SECRET must be set"), "{text}");
    assert!(!text.contains("panicked"));
}

#[test]
fn serve_refuses_a_short_secret_and_bad_flags_with_status_2() {
    let short = run(relay_command()
        .env("RELAY_SECRET", "hunter2")
        .args(["serve", "--port", "0"]));
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr(&short).contains("at least 16"));

    let bad_flag = run(relay_command().args(["serve", "--no-such-flag"]));
    assert_eq!(bad_flag.status.code(), Some(2));

    let bad_limit = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["serve", "--port", "0", "--burst", "0"]));
    assert_eq!(bad_limit.status.code(), Some(2));
    assert!(stderr(&bad_limit).contains("burst"));

    let bad_port = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .env("PORT", "eighty")
        .arg("serve"));
    assert_eq!(bad_port.status.code(), Some(2));
    assert!(stderr(&bad_port).contains("PORT"));
}

#[test]
fn help_is_status_0_and_documents_host_as_a_no_op() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["serve", "--help"],
        &["serve", "-h"],
    ] {
        let output = run(relay_command().args(args));
        assert_eq!(output.status.code(), Some(0), "{args:?}");
    }
    let help = run(relay_command().args(["serve", "--help"]));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--host") && text.contains("does nothing"),
        "{text}"
    );
    // Issue 19: the command list showed `auth {{username, token}}` (argh doubles braces in
    // subcommand descriptions).
    for args in [&["--help"][..], &["token", "--help"]] {
        let help = run(relay_command().args(args));
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(!text.contains("{{") && !text.contains("}}"), "{text}");
        assert!(text.contains("token"), "{text}");
    }
}

/// Python: `PORT` was ignored and `--host` did nothing while looking like it mattered.
/// `PORT=0` asks for any free port: an ignored `PORT` would show up as 8080.
#[test]
fn serve_honours_port_keeps_host_a_no_op_on_loopback_and_stops_on_sigterm() {
    let server = Server::start(
        relay_command()
            .env("RELAY_SECRET", SECRET)
            .env("PORT", "0")
            .args(["serve", "--host"]),
    );
    let addr = server.listening();
    assert_eq!(
        addr.ip().to_string(),
        "127.0.0.1",
        "--host must not change the bind address"
    );
    assert_ne!(addr.port(), 8080);
    assert_ne!(addr.port(), 0);

    msg_relay::healthcheck(addr, GUARD).unwrap();
    let probe = run(relay_command().args(["healthcheck", "--port", &addr.port().to_string()]));
    assert_eq!(probe.status.code(), Some(0), "{}", stderr(&probe));
    let probe_env = run(relay_command()
        .env("PORT", addr.port().to_string())
        .arg("healthcheck"));
    assert_eq!(probe_env.status.code(), Some(0), "{}", stderr(&probe_env));

    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn the_port_flag_wins_over_port_and_the_secret_can_come_from_a_file() {
    let dir = std::env::temp_dir().join(format!("msg-relay-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("relay_secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let server = Server::start(
        relay_command()
            .env("PORT", "eighty") // not even parsed: the flag decides
            .args(["serve", "--port", "0", "--secret-file"])
            .arg(&file),
    );
    let addr = server.listening();
    msg_relay::healthcheck(addr, GUARD).unwrap();
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn healthcheck_fails_with_status_1_when_nothing_listens() {
    // A port that was free a moment ago; nothing listens on it now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run(relay_command().args(["healthcheck", "--port", &port.to_string()]));
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("cannot reach the relay"), "{text}");
    assert_eq!(text.lines().count(), 1);
    // Issue 19: the OS error was printed twice ("refused (os error 111): refused (os …").
    assert_eq!(text.matches("os error").count(), 1, "{text}");
}

#[tokio::test]
async fn the_token_command_issues_a_token_the_relay_accepts_for_that_name_only() {
    let output = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["token", "alice"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.len(), 64);

    let relay = Relay::start(config()).await;
    let mut alice = relay.connect().await;
    alice
        .send(serde_json::json!({"type": "auth", "username": "alice", "token": token}))
        .await;
    assert_eq!(alice.recv().await["type"], "auth_ok");
    let mut eve = relay.connect().await;
    eve.send(serde_json::json!({"type": "auth", "username": "bob", "token": token}))
        .await;
    eve.expect_error("auth_failed").await;

    let no_secret = run(relay_command().args(["token", "alice"]));
    assert_eq!(no_secret.status.code(), Some(2));
    let bad_name = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["token", "a\nb"]));
    assert_eq!(bad_name.status.code(), Some(2));
}

fn serve_with_spool(dir: &std::path::Path) -> Server {
    Server::start(
        relay_command()
            .env("RELAY_SECRET", SECRET)
            .args(["serve", "--port", "0", "--spool"])
            .arg(dir),
    )
}

/// Issue 7: what the relay acknowledged as queued survives a crash (SIGKILL) and arrives once
/// the recipient logs in; once acknowledged, it is not delivered again after another crash.
#[tokio::test]
async fn queued_messages_survive_sigkill_and_acknowledged_ones_stay_delivered() {
    let spool = assert_fs::TempDir::new().unwrap();
    let server = serve_with_spool(spool.path());
    let mut alice = Client::connect_to(server.listening()).await;
    alice.auth("alice").await;
    for n in 0..20 {
        alice
            .send(json!({"type": "send", "to": "bob", "content": format!("c{n}"), "id": format!("m{n}")}))
            .await;
        // `queued` is sent only after the spool's fdatasync.
        alice.expect_ack("queued").await;
    }
    server.kill();

    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    server.line("recovered_messages=20");
    let mut bob = Client::connect_to(addr).await;
    let backlog = bob.auth_backlog("bob", true).await;
    let ids: Vec<String> = (0..20).map(|n| format!("m{n}")).collect();
    assert_eq!(
        backlog
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(backlog[3]["content"], "c3");
    assert_eq!(backlog[3]["from"], "alice");
    for message in &backlog[..15] {
        bob.ack(&message["id"]).await;
    }
    // A fence: the spool writes in order, so the sync that lets this `queued` ack out also
    // covers the acknowledgements sent before it.
    bob.send(json!({"type": "send", "to": "carol", "content": "fence", "id": "fence"}))
        .await;
    bob.expect_ack("queued").await;
    server.kill();

    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    let mut bob = Client::connect_to(addr).await;
    let backlog = bob.auth_backlog("bob", true).await;
    assert_eq!(
        backlog
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        &ids[15..]
    );
    let mut carol = Client::connect_to(addr).await;
    let backlog = carol.auth_backlog("carol", false).await;
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0]["content"], "fence");
    // A graceful stop keeps what the legacy client took (delivered on write) delivered.
    let status = server.terminate();
    assert!(status.success());
    let server = serve_with_spool(spool.path());
    let mut carol = Client::connect_to(server.listening()).await;
    carol.auth("carol").await; // asserts an empty backlog
}

/// With `--spool`, a `delivered` ack for an `acks` client leaves only after the message's
/// record is on disk: killed right after the last ack, the relay still has every message the
/// recipient had not acknowledged, and delivers each again at its next login.
#[tokio::test]
async fn delivered_but_unacknowledged_messages_survive_sigkill() {
    let spool = assert_fs::TempDir::new().unwrap();
    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    let mut bob = Client::connect_to(addr).await;
    assert!(bob.auth_backlog("bob", true).await.is_empty());
    let mut alice = Client::connect_to(addr).await;
    alice.auth("alice").await;
    for n in 0..20 {
        alice
            .send(json!({"type": "send", "to": "bob", "content": format!("c{n}"), "id": format!("d{n}")}))
            .await;
        alice.expect_ack("delivered").await;
    }
    server.kill();

    let server = serve_with_spool(spool.path());
    let mut bob = Client::connect_to(server.listening()).await;
    let backlog = bob.auth_backlog("bob", true).await;
    let ids: Vec<String> = (0..20).map(|n| format!("d{n}")).collect();
    assert_eq!(
        backlog
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ids
    );
}

#[test]
fn two_relays_cannot_share_a_spool() {
    let spool = assert_fs::TempDir::new().unwrap();
    let first = serve_with_spool(spool.path());
    first.listening();
    let second = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["serve", "--port", "0", "--spool"])
        .arg(spool.path()));
    assert_eq!(second.status.code(), Some(1));
    let text = stderr(&second);
    assert!(text.contains("in use by another relay"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// The defaults `msg-relay serve --help` shows for each limit (generated from
/// `Limits::default()`) are the ones docs/relay.md's table of flags gives.
#[test]
fn the_documented_defaults_are_the_ones_serve_uses() {
    let help = run(relay_command().args(["serve", "--help"]));
    let help = String::from_utf8(help.stdout).unwrap();
    // "--flag  text … (default N)" blocks, as one line each.
    let shown: Vec<(String, String)> = help
        .split("\n  --")
        .skip(1)
        .filter_map(|block| {
            let block = block.split_whitespace().collect::<Vec<_>>().join(" ");
            let flag = block.split(' ').next()?.to_owned();
            let default = block.strip_suffix(')')?.rsplit_once("(default ")?.1;
            default
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| (flag, default.to_owned()))
        })
        .collect();
    assert!(shown.len() >= 19, "{help}");
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/relay.md"),
    )
    .unwrap();
    for (flag, default) in &shown {
        let row = docs
            .lines()
            .find(|line| line.starts_with(&format!("| `--{flag} ")))
            .unwrap_or_else(|| panic!("docs/relay.md has no row for --{flag}"));
        let documented = row.split('|').nth(2).unwrap().trim();
        let documented = documented.split('`').nth(1).unwrap_or(documented);
        assert_eq!(documented, default, "--{flag} in docs/relay.md: {row}");
    }
    // "What the relay defends against": each row names its flags and their defaults in the
    // same order.
    let defences = docs
        .split("## What the relay defends against")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/relay.md has the defences section");
    let backticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut checked = 0;
    for row in defences.lines().filter(|line| line.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').collect();
        let (flags, defaults) = (backticked(cells[3]), backticked(cells[4]));
        for (flag, documented) in flags.iter().zip(&defaults) {
            if let Some((_, default)) = shown.iter().find(|(name, _)| format!("--{name}") == *flag)
            {
                assert_eq!(documented, default, "{flag} in the defences table: {row}");
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 15,
        "{checked} defaults checked in the defences table"
    );
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Issue 16, item 8: an `auth` that reached the relay before the auth deadline but was read
/// after it (the process was stopped) is served, not refused with `auth_timeout`.
#[tokio::test]
async fn an_auth_that_arrived_in_time_is_served_even_when_read_after_the_deadline() {
    let server = Server::start(relay_command().env("RELAY_SECRET", SECRET).args([
        "serve",
        "--port",
        "0",
        "--auth-timeout-secs",
        "1",
    ]));
    let mut alice = Client::connect_to(server.listening()).await;
    signal(&server, "STOP");
    alice
        .send(json!({"type": "auth", "username": "alice", "token": crate::support::token("alice")}))
        .await;
    // Well past the deadline while the relay cannot read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&server, "CONT");
    assert_eq!(alice.recv().await["type"], "auth_ok");
    assert!(alice.backlog().await.is_empty());
    alice.expect_nothing_pending().await;
}

/// Issue 16, item 8: a refused user name was logged whole, a 60 KB line per attempt.
#[tokio::test]
async fn a_huge_refused_user_name_is_logged_cut_short() {
    let server = Server::start(
        relay_command()
            .env("RELAY_SECRET", SECRET)
            .args(["serve", "--port", "0"]),
    );
    let mut eve = Client::connect_to(server.listening()).await;
    let name = "e".repeat(60_000);
    eve.send(json!({"type": "auth", "username": name, "token": "00"}))
        .await;
    eve.expect_error("invalid_username").await;
    let line = server.line("event=auth_failed");
    assert!(line.len() < 500, "{} bytes: {}", line.len(), &line[..500]);
    assert!(line.contains("(+59800 bytes)"), "{line}");
}

/// Issue 16, item 5: the dedupe window forgot, across a restart, the messages it had
/// delivered and let go (only queued ones were remembered): a repeated send after a clean
/// restart was delivered again with `duplicate: false`. Enough traffic passes for the spool
/// to compact its log, which keeps what the window needs.
#[tokio::test]
async fn a_send_repeated_after_a_restart_is_recognised_even_once_delivered() {
    let spool = assert_fs::TempDir::new().unwrap();
    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    let mut bob = Client::logged_in(addr, "bob", true).await;
    let mut carol = Client::logged_in(addr, "carol", false).await;
    let mut alice = Client::logged_in(addr, "alice", false).await;
    let content = "z".repeat(60 * 1024);
    let send = |to: &str, n: usize| json!({"type": "send", "to": to, "content": content, "id": format!("{to}-{n}")});
    // 30 × 60 KiB: the log passes 1 MiB with almost nothing live, and is compacted.
    for n in 0..15 {
        alice.send(send("bob", n)).await;
        alice.expect_ack("delivered").await;
        let message = bob.recv().await;
        bob.ack(&message["id"]).await;
        alice.send(send("carol", n)).await;
        alice.expect_ack("delivered").await;
        assert_eq!(carol.recv().await["id"], format!("carol-{n}"));
    }
    bob.expect_nothing_pending().await;
    let log = std::fs::metadata(spool.path().join("queue.log"))
        .unwrap()
        .len();
    assert!(log < 1024 * 1024, "the log was not compacted: {log} bytes");
    assert!(server.terminate().success());

    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    let mut bob = Client::logged_in(addr, "bob", true).await;
    let mut carol = Client::logged_in(addr, "carol", false).await;
    let mut alice = Client::logged_in(addr, "alice", false).await;
    for n in 0..15 {
        for to in ["bob", "carol"] {
            alice.send(send(to, n)).await;
            let ack = alice.recv().await;
            assert_eq!(
                ack,
                json!({"type": "ack", "id": format!("{to}-{n}"), "to": to, "status": "delivered", "duplicate": true})
            );
        }
    }
    bob.expect_nothing_pending().await;
    carol.expect_nothing_pending().await;
    // Another sender's message with one of those IDs is another message.
    let mut eve = Client::logged_in(addr, "eve", false).await;
    eve.send(send("bob", 0)).await;
    eve.expect_ack("delivered").await;
    assert_eq!(bob.recv().await["from"], "eve");
}

/// Issue 16, item 6: tokens derive from the secret, so a leaked one meant rotating the
/// secret for everyone. `msg-relay token --revoke NAME` on a running relay refuses that
/// name's tokens at once (its sessions are closed), keeps the revocation across a restart,
/// and touches no one else.
#[tokio::test]
async fn one_users_tokens_are_revoked_on_a_running_relay_and_stay_revoked() {
    let spool = assert_fs::TempDir::new().unwrap();
    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    let old_token = crate::support::token("alice");
    let mut alice = Client::logged_in(addr, "alice", false).await;
    let mut bob = Client::logged_in(addr, "bob", false).await;

    let revoke = run(relay_command().env("RELAY_SECRET", SECRET).args([
        "token",
        "alice",
        "--revoke",
        "--port",
        &addr.port().to_string(),
    ]));
    assert_eq!(revoke.status.code(), Some(0), "{}", stderr(&revoke));
    let new_token = String::from_utf8_lossy(&revoke.stdout).trim().to_owned();
    assert_eq!(new_token.len(), 64);
    assert_ne!(new_token, old_token);
    assert!(stderr(&revoke).contains("closed 1"), "{}", stderr(&revoke));
    // At once: alice's session is closed, bob's is not.
    alice.expect_error("token_revoked").await;
    alice.expect_close(1008).await;
    bob.expect_nothing_pending().await;
    // The token command prints the token that works now, given the spool.
    let printed = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["token", "alice", "--spool"])
        .arg(spool.path()));
    assert_eq!(String::from_utf8(printed.stdout).unwrap().trim(), new_token);

    // What the relay at `addr` answers alice's login with `token`.
    let login = |addr: SocketAddr, token: String| async move {
        let mut client = Client::connect_to(addr).await;
        client
            .send(json!({"type": "auth", "username": "alice", "token": token}))
            .await;
        client.recv().await
    };
    assert_eq!(
        login(addr, old_token.clone()).await["code"],
        "token_revoked"
    );
    assert_eq!(login(addr, new_token.clone()).await["type"], "auth_ok");
    assert!(server.terminate().success());

    // After a restart too.
    let server = serve_with_spool(spool.path());
    let addr = server.listening();
    assert_eq!(login(addr, old_token).await["code"], "token_revoked");
    assert_eq!(login(addr, new_token).await["type"], "auth_ok");
    // Nobody else's token changed.
    Client::logged_in(addr, "bob", false).await;
}

/// A revocation needs the operator's secret, and a relay that can keep it.
#[test]
fn a_revocation_is_refused_without_the_secret_or_without_a_spool() {
    let server = Server::start(
        relay_command()
            .env("RELAY_SECRET", SECRET)
            .args(["serve", "--port", "0"]),
    );
    let port = server.listening().port().to_string();
    let no_spool = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["token", "alice", "--revoke", "--port", &port]));
    assert_eq!(no_spool.status.code(), Some(1));
    let text = stderr(&no_spool);
    assert!(text.contains("--spool"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    let wrong_secret = run(relay_command()
        .env("RELAY_SECRET", "another-secret-0123456789abcdef")
        .args(["token", "alice", "--revoke", "--port", &port]));
    assert_eq!(wrong_secret.status.code(), Some(1));
    assert!(
        stderr(&wrong_secret).contains("operator token"),
        "{}",
        stderr(&wrong_secret)
    );
    let both = run(relay_command()
        .env("RELAY_SECRET", SECRET)
        .args(["token", "alice", "--revoke", "--spool", "/tmp"]));
    assert_eq!(both.status.code(), Some(2));
}
