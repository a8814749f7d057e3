//! `msg demo`: the whole system on one machine, narrated.
//!
//! Two people, alice and bob, each with a Datacore root of their own (two roots stand for
//! two machines), and a relay between them: the real relay ([`msg_relay::run`]) on
//! `127.0.0.1:0` in this process, with a secret made up for the run and a token per name.
//! Every step that a person or a client takes is a real child process of this executable
//! (`msg --root <root> send …`, `msg --root <root> relay connect --once`, `msg thread`,
//! `msg usage`); the agent's two steps run their library code in this process (the hook
//! `inbox-watcher` is a separate executable that `cargo run --bin msg` does not build, and
//! `send-reply` likewise), with the command each stands for printed above it.
//!
//! The flow: alice sends bob a message and a task for his agent, `bob-claude`; alice's
//! client hands both to the relay, which holds them for bob (offline); bob's client logs in
//! as bob and as bob-claude, takes in the backlog, and intake turns the message to the agent
//! into a task (alice is `team` in bob's `contacts.yaml`, so the governor admits it and it
//! is queued at once); the hook shows the agent the claimed task; the agent completes it
//! with a reply to alice; bob's client sends it; alice's client receives it; the governor's
//! figures and the paths of every org file close the run.

use std::path::{Path, PathBuf};
use std::process::Command;

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_relay::{RelayConfig, ServerSecret};

use crate::context::Context;
use crate::desk::{Reply, send_reply};
use crate::error::HooksError;
use crate::hook::HookEvent;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum DemoError {
    /// The directory given with `--root` is not empty.
    #[error("{}: not empty; give a new or empty directory, or no --root for a temporary one", path.display())]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A file or directory could not be made.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was tried.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The embedded relay did not start.
    #[error("the relay did not start: {0}")]
    Relay(String),
    /// A step's command failed.
    #[error("step `{command}` failed ({status}): {stderr}")]
    Step {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it said on stderr.
        stderr: String,
    },
    /// A step did not have the outcome the story needs.
    #[error("{0}")]
    Unexpected(String),
    /// A library step failed.
    #[error(transparent)]
    Hooks(#[from] HooksError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_owned();
    move |source| DemoError::Io {
        action,
        path,
        source,
    }
}

/// The relay of the demo, on its own thread and runtime; stopped when dropped.
struct EmbeddedRelay {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedRelay {
    fn start(secret: ServerSecret) -> Result<EmbeddedRelay, DemoError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = ready_tx.send(Err(err.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err.to_string()));
                        return;
                    }
                };
                let address = listener.local_addr().map_err(|e| e.to_string());
                let _ = ready_tx.send(address);
                let config = RelayConfig {
                    log_level: msg_relay::LogLevel::Off,
                    ..RelayConfig::new(secret)
                };
                let _ = msg_relay::run(listener, config, async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        let address = ready_rx
            .recv()
            .map_err(|_| DemoError::Relay("its thread ended".into()))?
            .map_err(DemoError::Relay)?;
        Ok(EmbeddedRelay {
            url: format!("ws://{address}/ws"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EmbeddedRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A secret for the run: 64 hex digits hashed from the time, the process and a stack
/// address (the demo's relay listens on loopback only and lives for seconds).
fn made_up_secret() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"msg demo relay secret");
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.finalize().to_hex().to_string()
}

/// One person of the demo.
struct Person {
    name: &'static str,
    root: PathBuf,
}

/// Runs the demo: `exe` is the `msg` executable (for the child processes), `dir` where to
/// put the roots (a new temporary directory when `None`); `out` receives the narrative.
pub(crate) fn run(
    exe: &Path,
    dir: Option<&Path>,
    out: &mut dyn FnMut(&str),
) -> Result<(), DemoError> {
    let dir = match dir {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map_err(io("read", dir))?
                    .next()
                    .is_some()
            {
                return Err(DemoError::NotEmpty {
                    path: dir.to_owned(),
                });
            }
            dir.to_owned()
        }
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            std::env::temp_dir().join(format!("msg-demo-{stamp}-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let dir = std::path::absolute(&dir).map_err(io("resolve", &dir))?;

    let secret =
        ServerSecret::new(&made_up_secret()).map_err(|e| DemoError::Relay(e.to_string()))?;
    let tokens = |name: &str| secret.token_for(name).to_string();
    let alice = Person {
        name: "alice",
        root: dir.join("alice"),
    };
    let bob = Person {
        name: "bob",
        root: dir.join("bob"),
    };
    let (alice_token, bob_token, agent_token) =
        (tokens("alice"), tokens("bob"), tokens("bob-claude"));
    let relay = EmbeddedRelay::start(secret)?;

    out(&format!(
        "== datacore-messaging demo ==\n\
         Two people on two \"machines\" (two Datacore roots) and a relay between them.\n\
         relay: {} (msg-relay, in this process; one token per name)\n\
         alice: {}\n\
         bob:   {} (his agent bob-claude runs on his machine)\n\n",
        relay.url,
        alice.root.display(),
        bob.root.display()
    ));

    write_setup(
        &alice,
        &format!(
            "identity: {{name: alice}}\nmessaging:\n  relay:\n    url: {url}\n    token: {alice_token}\n  trust_overrides: {{alice: owner}}\n",
            url = relay.url
        ),
        "actors:\n  - {id: bob, name: Bob, handles: ['@bob'], trust_tier: team, added: 2026-11-24}\n  - {id: bob-claude, name: Bob's agent, handles: ['@bob-claude'], trust_tier: team, added: 2026-11-24}\n",
    )?;
    write_setup(
        &bob,
        &format!(
            "identity: {{name: bob}}\nmessaging:\n  relay:\n    url: {url}\n    token: {bob_token}\n    agent_tokens:\n      bob-claude: {agent_token}\n  trust_overrides: {{bob: owner}}\n",
            url = relay.url
        ),
        "actors:\n  - {id: alice, name: Alice, handles: ['@alice'], trust_tier: team, added: 2026-11-24}\n",
    )?;
    out(
        "Settings: each person has messaging.relay.url and a token; bob also has\n\
         messaging.relay.agent_tokens for bob-claude. bob's contacts.yaml lists alice as team.\n\n",
    );

    out("1. alice writes to bob, and gives bob's agent a task.\n");
    step(
        exe,
        &alice,
        &["send", "@bob", "Hi Bob, I left a task for your agent."],
        out,
    )?;
    step(
        exe,
        &alice,
        &[
            "send",
            "@bob-claude",
            "Summarise the standup notes\nThree bullet points: decisions, open questions, owners.",
        ],
        out,
    )?;

    out("2. alice's relay client sends them. bob is offline: the relay queues them.\n");
    step(exe, &alice, &["relay", "connect", "--once"], out)?;

    out(
        "3. bob's client logs in as bob and as bob-claude and takes in the backlog.\n   The message to bob-claude goes through the governor and becomes a task.\n",
    );
    step(exe, &bob, &["relay", "connect", "--once"], out)?;
    step(exe, &bob, &["tasks"], out)?;

    out(
        "4. bob starts a prompt in Claude Code: the inbox-watcher hook claims the task\n   and shows the agent what it needs (its context, as the hook prints it):\n",
    );
    let bob_ctx = Context::load(Some(&bob.root), None)?;
    let event = HookEvent {
        session_id: Some("demo-session".into()),
        hook_event_name: Some("UserPromptSubmit".into()),
        ..HookEvent::default()
    };
    let watched = crate::hook::watch(&bob_ctx, &event)?;
    let json = watched
        .stdout
        .ok_or_else(|| DemoError::Unexpected("the hook had nothing to show bob-claude".into()))?;
    let context = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| {
            v["hookSpecificOutput"]["additionalContext"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or(json);
    out(&indent(&context));
    out("\n");
    let task = bob_ctx
        .agent_inbox(None)?
        .find_by_state(&[msg_inbox::TaskState::Working])
        .map_err(HooksError::from)?
        .into_iter()
        .next()
        .ok_or_else(|| DemoError::Unexpected("no task is WORKING after the hook ran".into()))?;

    out("5. The agent does the work and replies, completing the task:\n");
    let result = "Decisions: ship v0.3 on Friday; keep the relay on one region.\n\
                  Open questions: who reviews the migration guide?\n\
                  Owners: alice (release notes), bob (relay deployment).";
    out(&format!(
        "   $ send-reply alice \"Decisions: ...\" --complete-task {} --tokens 1200\n",
        task.id()
    ));
    let report = send_reply(
        &bob_ctx,
        &Reply {
            to: "alice".into(),
            content: result.into(),
            complete_task: Some(task.id().to_owned()),
            tokens: Some(1200),
            ..Reply::default()
        },
    )?;
    out(&indent(&format!(
        "{}\n[messaging] Completed task: {}\n",
        report.sent.confirmation(),
        task.id()
    )));
    out("\n");

    out("6. bob's client sends the reply; alice is offline, so the relay queues it.\n");
    step(exe, &bob, &["relay", "connect", "--once"], out)?;

    out("7. alice's client takes in the result.\n");
    step(exe, &alice, &["relay", "connect", "--once"], out)?;
    let thread_root = first_received(&alice.root)?;
    step(exe, &alice, &["thread", &thread_root], out)?;

    out("8. What the governor recorded on bob's machine:\n");
    step(exe, &bob, &["usage"], out)?;

    drop(relay);
    out("The org files (open them in Emacs):\n");
    let mut files = Vec::new();
    collect_org_files(&dir, &mut files);
    files.sort();
    for file in files {
        out(&format!("  {}\n", file.display()));
    }
    out(&format!(
        "\nEverything is kept in {}. Try:\n  {} --root {} inbox\n",
        dir.display(),
        exe.display(),
        alice.root.display()
    ));
    Ok(())
}

/// The settings, `contacts.yaml` and the space of `person`.
fn write_setup(person: &Person, settings: &str, contacts: &str) -> Result<(), DemoError> {
    let paths = Paths::new(&person.root);
    let settings_file = paths.settings_file();
    if let Some(dir) = settings_file.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    // Checked before it is written: a mistake here is the demo's, not the person's.
    Settings::from_yaml_str(settings, &settings_file).map_err(HooksError::from)?;
    std::fs::write(&settings_file, settings).map_err(io("write", &settings_file))?;
    let ctx = Context::load(Some(&person.root), None)?;
    let contacts_file = paths.contacts_file(ctx.space()).map_err(HooksError::from)?;
    if let Some(dir) = contacts_file.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    std::fs::write(&contacts_file, contacts).map_err(io("write", &contacts_file))?;
    super::init::init(&paths, None, Some(person.name))?;
    Ok(())
}

/// `word` as a shell reads it back: as it is when it has nothing special, in single quotes
/// when it has blanks or shell characters, and as `$'…'` (bash, zsh) when it has a line
/// break, so the command shown can be pasted as it is.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        return word.to_owned();
    }
    if !word.contains(['\n', '\r']) {
        return format!("'{}'", word.replace('\'', "'\\''"));
    }
    let mut out = String::from("$'");
    for c in word.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Runs `msg --root <person's root> args…` and shows the command and its output.
fn step(
    exe: &Path,
    person: &Person,
    args: &[&str],
    out: &mut dyn FnMut(&str),
) -> Result<String, DemoError> {
    let shown: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
    let command = format!("msg --root <{}> {}", person.name, shown.join(" "));
    out(&format!("   $ {command}\n"));
    let output = Command::new(exe)
        .arg("--root")
        .arg(&person.root)
        .args(args)
        .env_remove("DATACORE_RELAY_TOKEN")
        .env_remove("RELAY_SECRET")
        .output()
        .map_err(io("run", exe))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(DemoError::Step {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    out(&indent(&stdout));
    out("\n");
    Ok(stdout)
}

/// The first message in `root`'s inbox (alice's: the agent's result).
fn first_received(root: &Path) -> Result<String, DemoError> {
    let ctx = Context::load(Some(root), None)?;
    ctx.store()?
        .all()
        .map_err(HooksError::from)?
        .into_iter()
        .next()
        .map(|m| m.id)
        .ok_or_else(|| DemoError::Unexpected("alice received nothing".into()))
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("     {line}\n")).collect()
}

fn collect_org_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_org_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "org") {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_argument_reads_back_as_itself_in_bash() {
        for word in [
            "send",
            "@bob-claude",
            "two words",
            "it's",
            "Summarise the notes.\nThree bullet points, please.",
            "a\\b\n'c'",
        ] {
            let output = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s {}", shell_word(word)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(output.stdout).unwrap(), word);
        }
        assert_eq!(shell_word("send"), "send");
        assert!(shell_word("a\nb").starts_with("$'"));
    }
}
