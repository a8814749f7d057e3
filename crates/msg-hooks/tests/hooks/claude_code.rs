//! The plugin and the hooks in the real Claude Code, run offline.
//!
//! Claude Code is the npm package `@anthropic-ai/claude-code` at [`CLAUDE_CODE_VERSION`],
//! found at `$MSG_CLAUDE`, else where `.ci/run` installs it
//! (`target/claude-code/node_modules/.bin/claude`). `.ci/run` sets `MSG_REQUIRE_CLAUDE=1`,
//! so in CI a missing one fails; elsewhere each test says loudly that it was skipped.
//!
//! Every run is offline and bounded: a temporary `HOME` (Claude Code's settings, plugins
//! and transcripts), a dummy `ANTHROPIC_API_KEY` (never a real one: the environment is
//! cleared), `ANTHROPIC_BASE_URL` pointing at a local port nothing listens on (the model
//! call fails at once, without retries), no telemetry or updates, and `timeout` around the
//! process. `claude -p hi --output-format stream-json --verbose` runs the `SessionStart`
//! and `UserPromptSubmit` hooks, prints an `init` event (MCP servers with their status,
//! plugins, skills, agents) and writes the session transcript under
//! `$HOME/.claude/projects/`, where each hook's context is a `hook_additional_context`
//! attachment: what the agent would have read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{Env, exe, json, queue_task, repo, task_state};

/// The Claude Code release these tests were written against (`.ci/run` installs it).
const CLAUDE_CODE_VERSION: &str = "2.1.332";
/// The longest a `claude` command may take here; it normally takes a few seconds.
const TIMEOUT_SECS: &str = "120";

/// The `claude` executable, or `None` (after saying so) when it is not installed.
fn claude() -> Option<PathBuf> {
    let path = std::env::var_os("MSG_CLAUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/claude-code/node_modules/.bin/claude"));
    let version = Command::new(&path)
        .arg("--version")
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    match version {
        Some(version) => {
            if !version.starts_with(CLAUDE_CODE_VERSION) {
                eprintln!(
                    "note: {} is Claude Code {}, these tests were written against {CLAUDE_CODE_VERSION}",
                    path.display(),
                    version.trim()
                );
            }
            Some(path)
        }
        None => {
            assert!(
                std::env::var_os("MSG_REQUIRE_CLAUDE").is_none(),
                "MSG_REQUIRE_CLAUDE is set but Claude Code is not at {} (npm install --prefix target/claude-code @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}, or set MSG_CLAUDE)",
                path.display()
            );
            eprintln!(
                "SKIPPED: the real Claude Code tests: no Claude Code at {} (npm install --prefix target/claude-code @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}, or set MSG_CLAUDE)",
                path.display()
            );
            None
        }
    }
}

/// Claude Code in a temporary HOME, working on `env`'s Datacore root, offline.
struct Claude<'a> {
    exe: PathBuf,
    env: &'a Env,
    /// A local port nothing listens on: the model call is refused at once.
    dead_port: u16,
}

impl<'a> Claude<'a> {
    fn new(exe: PathBuf, env: &'a Env) -> Claude<'a> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_port = listener.local_addr().unwrap().port();
        drop(listener);
        std::fs::create_dir_all(env.dir.path().join("project")).unwrap();
        Claude {
            exe,
            env,
            dead_port,
        }
    }

    /// `claude args…` in the project directory, bounded by [`TIMEOUT_SECS`].
    fn run(&self, args: &[&str]) -> Output {
        let programs = Path::new(exe("msg")).parent().unwrap();
        Command::new("timeout")
            .arg("--kill-after=5")
            .arg(TIMEOUT_SECS)
            .arg(&self.exe)
            .args(args)
            .env_clear()
            .env("HOME", self.env.home())
            .env("PATH", format!("{}:/usr/bin:/bin", programs.display()))
            .env("DATACORE_ROOT", self.env.root())
            .env("ANTHROPIC_API_KEY", "sk-ant-dummy-key-for-offline-tests")
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", self.dead_port),
            )
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_TELEMETRY", "1")
            .current_dir(self.env.dir.path().join("project"))
            .output()
            .unwrap()
    }

    /// `claude args…`, which must succeed.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "claude {args:?}: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// One prompt in print mode: the `init` event, and the hook contexts the session's
    /// transcript recorded, in order.
    fn prompt(&self) -> (Value, Vec<String>) {
        let out = self.run(&["-p", "hi", "--output-format", "stream-json", "--verbose"]);
        // The model call fails (nothing listens): the exit status says so, the events stand.
        assert_ne!(out.status.code(), Some(124), "claude -p timed out");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let events: Vec<Value> = stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(json)
            .collect();
        let init = events
            .iter()
            .find(|e| e["type"] == "system" && e["subtype"] == "init")
            .unwrap_or_else(|| {
                panic!(
                    "no init event\nstdout: {stdout}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .clone();
        let session = init["session_id"].as_str().unwrap().to_owned();
        (init, self.hook_contexts(&session))
    }

    /// Every `hook_additional_context` attachment of `session`'s transcript.
    fn hook_contexts(&self, session: &str) -> Vec<String> {
        let projects = self.env.home().join(".claude/projects");
        let transcript = std::fs::read_dir(&projects)
            .unwrap()
            .map(|dir| dir.unwrap().path().join(format!("{session}.jsonl")))
            .find(|path| path.is_file())
            .unwrap_or_else(|| panic!("no transcript of {session} under {}", projects.display()));
        let mut contexts = Vec::new();
        for line in std::fs::read_to_string(&transcript).unwrap().lines() {
            let entry = json(line);
            let attachment = &entry["attachment"];
            if attachment["type"] != "hook_additional_context" {
                continue;
            }
            match &attachment["content"] {
                Value::Array(parts) => {
                    contexts.extend(parts.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                Value::String(text) => contexts.push(text.clone()),
                other => panic!("an attachment's content: {other}"),
            }
        }
        contexts
    }
}

/// The names listed under `key` in the `init` event (strings, or objects with a `name`).
fn names(init: &Value, key: &str) -> Vec<String> {
    init[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {init}"))
        .iter()
        .map(|item| match item {
            Value::String(name) => name.clone(),
            other => other["name"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

#[test]
fn the_plugin_installs_from_the_local_marketplace_and_hands_the_agent_its_task() {
    let Some(exe) = claude() else { return };
    let env = Env::new();
    let task = queue_task(&env, "gregor", "Summarise the standup notes");
    let claude = Claude::new(exe, &env);
    let marketplace = repo().canonicalize().unwrap();
    let marketplace = marketplace.to_str().unwrap();
    let validated = claude.ok(&["plugin", "validate", marketplace]);
    assert!(validated.contains("Validation passed"), "{validated}");
    claude.ok(&["plugin", "marketplace", "add", marketplace]);
    claude.ok(&["plugin", "install", "msg@datacore-messaging"]);
    let listed = claude.ok(&["plugin", "list"]);
    assert!(listed.contains("msg@datacore-messaging"), "{listed}");

    let (init, contexts) = claude.prompt();
    let plugin = init["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "msg")
        .unwrap_or_else(|| panic!("the msg plugin is not loaded: {}", init["plugins"]));
    assert_eq!(plugin["source"], "msg@datacore-messaging");
    let skills = names(&init, "skills");
    for skill in [
        "msg:msg",
        "msg:reply",
        "msg:my-messages",
        "msg:broadcast",
        "msg:msg-add-user",
        "msg:today",
    ] {
        assert!(
            skills.iter().any(|s| s == skill),
            "{skill} not in {skills:?}"
        );
        assert!(
            names(&init, "slash_commands").iter().any(|c| c == skill),
            "/{skill} is not a slash command"
        );
    }
    let agents = names(&init, "agents");
    for agent in ["msg:message-task-intake", "msg:message-digest"] {
        assert!(
            agents.iter().any(|a| a == agent),
            "{agent} not in {agents:?}"
        );
    }
    let server = init["mcp_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "plugin:msg:msg")
        .unwrap_or_else(|| panic!("our MCP server is not listed: {}", init["mcp_servers"]))
        .clone();
    // Claude Code started `msg mcp` and completed the MCP handshake with it.
    assert_eq!(server["status"], "connected", "{server}");

    // The SessionStart hook claimed the task and the agent was shown its ID.
    let all = contexts.join("\n");
    assert!(
        all.contains(&format!("You claimed task {task} (now WORKING)")),
        "{contexts:#?}"
    );
    assert!(all.contains(&format!("--complete-task {task}")), "{all}");
    assert_eq!(task_state(&env, &task), "WORKING");
    // A second session is a new context: it is shown the task in progress, and only once.
    let (_, contexts) = claude.prompt();
    let all = contexts.join("\n");
    assert_eq!(
        all.matches(&format!("Task in progress: {task}")).count(),
        1,
        "{contexts:#?}"
    );
}

#[test]
fn without_the_plugin_msg_hooks_install_gives_the_agent_its_task_the_same_way() {
    let Some(exe) = claude() else { return };
    let env = Env::new();
    let task = queue_task(&env, "gregor", "Tidy the notes");
    // The person's own message is never the agent's business.
    crate::support::deliver(&env, "bob", "Lunch at 12?");
    env.run(
        "msg",
        &[
            "hooks",
            "install",
            "--command",
            crate::support::exe("inbox-watcher"),
        ],
    )
    .ok();
    let claude = Claude::new(exe, &env);
    let (init, contexts) = claude.prompt();
    assert!(
        !names(&init, "plugins").iter().any(|p| p == "msg"),
        "{}",
        init["plugins"]
    );
    let all = contexts.join("\n");
    assert!(
        all.contains(&format!("You claimed task {task} (now WORKING)")),
        "{contexts:#?}"
    );
    assert!(!all.contains("Lunch"), "{all}");
}
