//! `msg mcp` under the MCP Inspector's CLI (`@modelcontextprotocol/inspector`, pinned to
//! [`INSPECTOR_VERSION`]): a client no one here wrote, on the official TypeScript SDK, lists
//! our tools (with its schema portability check, `--strict`) and calls each one against a
//! temporary root.
//!
//! `.ci/run` installs it with npm into `target/mcp-inspector` (never globally) and sets
//! `MSG_REQUIRE_MCP_INSPECTOR=1`, so in CI a missing Inspector fails; elsewhere the test
//! says loudly that it was skipped. It is found at `$MSG_MCP_INSPECTOR` (the launcher), else
//! at `target/mcp-inspector/node_modules/.bin/mcp-inspector` in the repository.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mcp::assert_tools;
use crate::support::{Env, exe, id_in, queue_task, repo};

/// The Inspector version `.ci/run` installs.
const INSPECTOR_VERSION: &str = "2.12.0";
/// How long one Inspector run may take (it starts Node and our server each time).
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// The Inspector's launcher, if installed; panics when it is required (CI) and missing.
fn inspector() -> Option<PathBuf> {
    let path = std::env::var_os("MSG_MCP_INSPECTOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/mcp-inspector/node_modules/.bin/mcp-inspector"));
    if path.exists() {
        return Some(path);
    }
    let install = format!(
        "npm install --prefix target/mcp-inspector @modelcontextprotocol/inspector@{INSPECTOR_VERSION}"
    );
    assert!(
        std::env::var_os("MSG_REQUIRE_MCP_INSPECTOR").is_none(),
        "MSG_REQUIRE_MCP_INSPECTOR is set but the MCP Inspector is not at {} ({install})",
        path.display()
    );
    eprintln!(
        "SKIPPED the MCP Inspector test: no Inspector at {} ({install}, or set MSG_MCP_INSPECTOR)",
        path.display()
    );
    None
}

/// Runs `command` to its end within [`RUN_DEADLINE`].
fn run_bounded(mut command: Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + RUN_DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the Inspector did not finish within {RUN_DEADLINE:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The Inspector's CLI on `msg mcp` in `env`'s root.
struct Inspector {
    launcher: PathBuf,
    env: Env,
}

impl Inspector {
    /// The Inspector with `args` (method, tool, arguments) against a fresh `msg mcp`.
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.launcher);
        command
            .arg("--cli")
            // The server's environment: the SDK passes only a few variables on by itself.
            .arg("-e")
            .arg(format!("DATACORE_ROOT={}", self.env.root().display()))
            .arg("-e")
            .arg(format!("HOME={}", self.env.home().display()))
            .args(args)
            .arg("--")
            .arg(exe("msg"))
            .arg("mcp")
            .env("HOME", self.env.home())
            .current_dir(self.env.dir.path());
        run_bounded(command)
    }

    /// `tools/call` of `tool` with `key=value` arguments: its text and whether it is an
    /// error result (the Inspector exits 5 for one).
    fn call(&self, tool: &str, arguments: &[&str]) -> (String, bool) {
        let mut args = vec!["--method", "tools/call", "--tool-name", tool];
        if !arguments.is_empty() {
            args.push("--tool-arg");
            args.extend_from_slice(arguments);
        }
        let output = self.run(&args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let result: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
            panic!(
                "{tool}: not a result ({err}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let error = result["isError"] == Value::Bool(true);
        assert_eq!(
            output.status.code(),
            Some(if error { 5 } else { 0 }),
            "{tool}: {stdout}"
        );
        (text, error)
    }

    #[track_caller]
    fn ok(&self, tool: &str, arguments: &[&str]) -> String {
        let (text, error) = self.call(tool, arguments);
        assert!(!error, "{tool}: {text}");
        text
    }
}

#[test]
fn the_inspector_lists_our_tools_and_calls_each_one() {
    let Some(launcher) = inspector() else {
        return;
    };
    let version = run_bounded({
        let mut command = Command::new(&launcher);
        command.arg("--version");
        command
    });
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        INSPECTOR_VERSION
    );

    let env = Env::new();
    let task = queue_task(&env, "gregor", "Summarise the standup notes");
    let question = "msg-20261207-101500-5eed5eed";
    env.ctx()
        .store()
        .unwrap()
        .receive(&msg_store::Incoming {
            from: "tex@team.example.com".into(),
            to: "gregor-claude".into(),
            content: "Which tests cover intake?".into(),
            id: question.into(),
            ..msg_store::Incoming::default()
        })
        .unwrap();
    let inspector = Inspector { launcher, env };

    // The list, with the Inspector's check that each schema works in every client.
    let listed = inspector.run(&["--method", "tools/list", "--strict"]);
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_tools(&list);

    // Each tool, as a session would use them.
    let inbox = inspector.ok("inbox", &["limit=5"]);
    assert!(
        inbox.contains(question) && inbox.contains("became task"),
        "{inbox}"
    );
    let read = inspector.ok(
        "read",
        &[&format!("id={}", &question[question.len() - 8..])],
    );
    assert!(read.contains("Which tests cover intake?"), "{read}");
    let tasks = inspector.ok("tasks", &["states=[\"QUEUED\",\"WORKING\"]"]);
    assert!(tasks.contains(&task), "{tasks}");
    let claimed = inspector.ok("claim_task", &[&format!("id={task}")]);
    assert!(claimed.contains("now WORKING"), "{claimed}");
    let returned = inspector.ok("return_task", &[&format!("id={task}"), "reason=later"]);
    assert!(returned.contains("QUEUED again"), "{returned}");
    let claimed = inspector.ok("claim_task", &[]);
    assert_eq!(id_in(&claimed), task);
    let done = inspector.ok(
        "complete_task",
        &[
            &format!("id={task}"),
            "result=Three decisions.",
            "tokens=800",
        ],
    );
    assert!(done.contains("is DONE"), "{done}");
    let sent = inspector.ok("send", &["to=gregor", "text=The notes are summarised."]);
    assert!(sent.contains("delivered to the local inbox"), "{sent}");
    let usage = inspector.ok("usage", &["sender=tex@team.example.com", "tokens=1000"]);
    assert!(usage.contains("tex@team.example.com"), "{usage}");
    // A mistake comes back as an error result that says the fix.
    let (text, error) = inspector.call("send", &["to=gregor"]);
    assert!(error);
    assert_eq!(text, "`text`: missing; give the message's text");
}
