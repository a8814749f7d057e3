//! A minimal MCP client for `msg mcp`: JSON-RPC lines over the child's stdin and stdout,
//! written here from the specification (no SDK), so the tests see the bytes a client sees.
//! The `mcp_push` benchmark uses it too (it depends on nothing else of the harness).
//!
//! A reader thread stamps every line from the server with the moment it arrived and hands
//! it over on a channel; a test waits for the response to its request, or for a
//! notification, with a deadline. Notifications that arrive while a test waits for a
//! response are kept for later.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long any one answer or notification may take. Generous: the machine is shared.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// A running `msg mcp` and the client's side of its pipes.
pub(crate) struct McpClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<(Instant, Value)>,
    stderr: std::thread::JoinHandle<String>,
    held: VecDeque<(Instant, Value)>,
    next_id: u64,
}

impl McpClient {
    /// Starts `command` (`msg mcp …` with its environment) with piped stdio.
    pub(crate) fn start(mut command: Command) -> McpClient {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("not JSON-RPC ({err}): {line:?}"));
                if sender.send((at, value)).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        McpClient {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            held: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Writes one message.
    pub(crate) fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line from the server, within `deadline`.
    fn next_line(&mut self, deadline: Instant) -> Option<(Instant, Value)> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Sends request `method` and returns the whole response (`result` or `error`).
    pub(crate) fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + DEADLINE;
        loop {
            let Some((at, line)) = self.next_line(deadline) else {
                panic!("no answer to {method} within {DEADLINE:?}");
            };
            if line.get("id") == Some(&json!(id)) && line.get("method").is_none() {
                return line;
            }
            self.held.push_back((at, line));
        }
    }

    /// The `result` of request `method`, or a panic showing the error.
    pub(crate) fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {response}"),
        }
    }

    /// The handshake: `initialize` asking for `version`, then `notifications/initialized`.
    /// Returns the server's `initialize` result.
    pub(crate) fn initialize(&mut self, version: &str) -> Value {
        let result = self.result(
            "initialize",
            json!({
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "msg-hooks-tests", "version": "1"},
            }),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        result
    }

    /// Calls tool `name`: its text and whether it is an error result.
    pub(crate) fn call(&mut self, name: &str, arguments: Value) -> (String, bool) {
        let result = self.result("tools/call", json!({"name": name, "arguments": arguments}));
        let text = result["content"]
            .as_array()
            .unwrap_or_else(|| panic!("no content: {result}"))
            .iter()
            .map(|c| c["text"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        (text, result["isError"] == json!(true))
    }

    /// Calls tool `name` and asserts it worked: its text.
    #[track_caller]
    pub(crate) fn ok(&mut self, name: &str, arguments: Value) -> String {
        let (text, error) = self.call(name, arguments);
        assert!(!error, "{name} failed: {text}");
        text
    }

    /// Calls tool `name` and asserts it was refused: its text.
    #[track_caller]
    pub(crate) fn refused(&mut self, name: &str, arguments: Value) -> String {
        let (text, error) = self.call(name, arguments);
        assert!(error, "{name} did not fail: {text}");
        text
    }

    /// The next notification `method` (with when it arrived) within `wait`, or `None`.
    pub(crate) fn notification(
        &mut self,
        method: &str,
        wait: Duration,
    ) -> Option<(Instant, Value)> {
        if let Some(index) = self.held.iter().position(|(_, l)| l["method"] == method) {
            return self.held.remove(index);
        }
        let deadline = Instant::now() + wait;
        while let Some((at, line)) = self.next_line(deadline) {
            if line["method"] == method {
                return Some((at, line));
            }
            self.held.push_back((at, line));
        }
        None
    }

    /// The child's process ID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin (the end of the session) and waits for the server to end: how it
    /// ended, and every notification it sent that was not taken yet.
    pub(crate) fn close(mut self) -> Closed {
        drop(self.stdin.take());
        let deadline = Instant::now() + DEADLINE;
        let mut notifications: Vec<Value> = self.held.drain(..).map(|(_, l)| l).collect();
        // The reader's channel ends with the server's stdout.
        while let Some((_, line)) = self.next_line(deadline) {
            notifications.push(line);
        }
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            assert!(
                Instant::now() < deadline,
                "msg mcp did not end within {DEADLINE:?} of its stdin closing"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        Closed {
            code,
            stderr: stderr.join().unwrap(),
            notifications,
        }
    }
}

/// How a server ended.
#[derive(Debug)]
pub(crate) struct Closed {
    pub(crate) code: Option<i32>,
    pub(crate) stderr: String,
    /// The lines it sent that no test took.
    pub(crate) notifications: Vec<Value>,
}

impl Closed {
    /// Asserts a clean end: exit 0, nothing on stderr.
    #[track_caller]
    pub(crate) fn ok(&self) {
        assert_eq!(self.code, Some(0), "{}", self.stderr);
        assert_eq!(self.stderr, "");
    }

    /// Asserts a clean end with no notification left untaken.
    #[track_caller]
    pub(crate) fn ok_and_nothing_left(&self) {
        self.ok();
        assert!(self.notifications.is_empty(), "{:?}", self.notifications);
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        // A test that failed midway leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
