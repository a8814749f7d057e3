//! The harness every test binary of msg-hooks shares (`tests/hooks`, `tests/upgrade`,
//! `tests/relay_crash.rs`): a temporary Datacore root, the real executables run against it
//! ([`Env`], [`Run`]), what tests seed and read in process, and, in `relay.rs`, the relay
//! and people with roots and clients of their own.
//!
//! Each binary includes it as a module and uses part of it.

pub(crate) mod mcp;
pub(crate) mod relay;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assert_fs::TempDir;
use msg_hooks::Context;

/// The programs of this crate.
pub(crate) const PROGRAMS: [&str; 5] = [
    "msg",
    "inbox-watcher",
    "send-reply",
    "mark-message",
    "task-queue",
];

/// The settings most tests use: gregor is the owner, tex is team, partner is trusted, and the
/// limits do not get in the way of tests that submit many tasks.
pub(crate) const SETTINGS: &str = "\
identity:
  name: gregor
messaging:
  utc_offset: \"+01:00\"
  trust_overrides:
    gregor: owner
    \"tex@team.example.com\": team
    \"partner@external.com\": trusted
  compute:
    max_queue_depth: 1000
    rate_limits:
      tasks_per_hour: 1000
";

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts exit 0 and no stderr; returns stdout.
    #[track_caller]
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert_eq!(self.stderr, "", "stdout: {}", self.stdout);
        &self.stdout
    }

    /// Asserts exit `code` with exactly one line on stderr, starting with `program: `, and
    /// nothing on stdout; returns the line.
    #[track_caller]
    pub(crate) fn fails(&self, code: i32, program: &str) -> &str {
        assert_eq!(
            self.code, code,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert_eq!(self.stdout, "", "stderr: {}", self.stderr);
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "not one line: {:?}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with(&format!("{program}: ")),
            "{:?}",
            self.stderr
        );
        self.stderr.trim_end()
    }
}

/// A Datacore root (`<tmp>/root`) in a temporary directory, with its own HOME
/// (`<tmp>/home`).
pub(crate) struct Env {
    pub(crate) dir: TempDir,
}

impl Env {
    /// A root with [`SETTINGS`].
    pub(crate) fn new() -> Env {
        let env = Env::empty();
        env.write_settings(SETTINGS);
        env
    }

    /// A root with nothing in it.
    pub(crate) fn empty() -> Env {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Env { dir }
    }

    /// A root that is a copy of `fixtures/<name>`.
    pub(crate) fn with_fixture(name: &str) -> Env {
        let env = Env::empty();
        copy_tree(&fixtures().join(name), &env.root());
        env
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub(crate) fn write_settings(&self, text: &str) {
        let path = self.root().join(".datacore/settings.local.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn messaging(&self) -> PathBuf {
        self.root().join("0-personal/org/messaging")
    }

    pub(crate) fn inbox_path(&self) -> PathBuf {
        self.messaging().join("inbox.org")
    }

    pub(crate) fn outbox_path(&self) -> PathBuf {
        self.messaging().join("outbox.org")
    }

    pub(crate) fn agent_path(&self) -> PathBuf {
        self.messaging().join("agents/gregor-claude.org")
    }

    pub(crate) fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The library's view of this root, for seeding and checking.
    pub(crate) fn ctx(&self) -> Context {
        Context::load(Some(&self.root()), None).unwrap()
    }

    /// `program` with `args`, on this root and HOME, with nothing of the caller's
    /// environment that would change what it does.
    pub(crate) fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(exe(program));
        command
            .args(args)
            .env("DATACORE_ROOT", self.root())
            .env("HOME", self.home())
            .env("USER", "tester")
            .env_remove("RELAY_SECRET")
            .env_remove("DATACORE_RELAY_TOKEN")
            .current_dir(self.dir.path());
        command
    }

    /// Runs `program` with `args`, stdin closed.
    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Run {
        let output = self
            .command(program, args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        finish(output)
    }

    /// Runs `program` with `stdin` as its input.
    pub(crate) fn run_with_stdin(&self, program: &str, args: &[&str], stdin: &str) -> Run {
        let mut child = self.spawn(program, args);
        // A program that fails before reading its input closes the pipe: not our error.
        match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        finish(child.wait_with_output().unwrap())
    }

    /// Starts `program` with piped stdin, stdout and stderr; the caller feeds and closes
    /// stdin (a barrier: children block reading it).
    pub(crate) fn spawn(&self, program: &str, args: &[&str]) -> Child {
        self.command(program, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Every file below the root (lock files aside) with its bytes.
    pub(crate) fn tree(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(&self.root(), &self.root(), &mut out);
        out
    }

    /// The watcher with a UserPromptSubmit event of `session`.
    pub(crate) fn watch(&self, session: &str) -> Run {
        self.run_with_stdin(
            "inbox-watcher",
            &[],
            &format!(
                r#"{{"session_id":"{session}","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"UserPromptSubmit","prompt":"hello"}}"#
            ),
        )
    }

    /// The watcher's additionalContext, checking the JSON contract; `None` when silent.
    #[track_caller]
    pub(crate) fn context(&self, session: &str) -> Option<String> {
        let run = self.watch(session);
        hook_context(run.ok(), "UserPromptSubmit")
    }
}

/// Checks the hook output contract and returns `additionalContext`: one line of JSON, an
/// object with exactly `hookSpecificOutput.{hookEventName, additionalContext}`, under 10,000
/// characters.
#[track_caller]
pub(crate) fn hook_context(stdout: &str, event: &str) -> Option<String> {
    if stdout.is_empty() {
        return None;
    }
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "{stdout:?}"
    );
    let value: serde_json::Value = serde_json::from_str(stdout).expect("valid JSON");
    let object = value.as_object().expect("an object");
    assert_eq!(object.len(), 1, "{stdout}");
    let specific = object["hookSpecificOutput"]
        .as_object()
        .expect("hookSpecificOutput");
    assert_eq!(specific.len(), 2, "{stdout}");
    assert_eq!(specific["hookEventName"], event);
    let context = specific["additionalContext"]
        .as_str()
        .expect("a string")
        .to_owned();
    assert!(!context.is_empty());
    assert!(
        context.chars().count() < 10_000,
        "{} characters",
        context.chars().count()
    );
    Some(context)
}

/// What a finished process printed and how it ended.
pub(crate) fn finish(output: std::process::Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(base, &path, out);
        } else if path.extension().is_none_or(|e| e != "lock") {
            out.insert(
                path.strip_prefix(base).unwrap().to_owned(),
                std::fs::read(&path).unwrap(),
            );
        }
    }
}

/// `fixtures/` at the top of the repository.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The top of the repository.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `text` as JSON, or a panic showing it.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The path of one of this package's executables.
pub(crate) fn exe(program: &str) -> &'static str {
    match program {
        "msg" => env!("CARGO_BIN_EXE_msg"),
        "inbox-watcher" => env!("CARGO_BIN_EXE_inbox-watcher"),
        "send-reply" => env!("CARGO_BIN_EXE_send-reply"),
        "mark-message" => env!("CARGO_BIN_EXE_mark-message"),
        "task-queue" => env!("CARGO_BIN_EXE_task-queue"),
        other => panic!("no program {other}"),
    }
}

/// The ID in a `[messaging] <Word…>: <id>` or `Submitted task <id>` line.
pub(crate) fn id_in(text: &str) -> String {
    for word in text.split([' ', '\n', '(', ')', ',']) {
        if ["msg-", "task-", "file-"]
            .iter()
            .any(|p| word.starts_with(p))
            && word.len() > 20
        {
            return word.to_owned();
        }
    }
    panic!("no ID in {text:?}");
}

/// `text` with what changes from run to run replaced: IDs by `<task-1>`, `<msg-2>`, … in
/// order of appearance, admission IDs by `<adm-1>`, timestamps by `[DATE]`, the watcher's
/// random boundary by `BOUNDARY`, the temporary directory by `<TMP>`.
pub(crate) fn redact(text: &str, env: &Env) -> String {
    let text = text.replace(&env.dir.path().display().to_string(), "<TMP>");
    let mut names: HashMap<String, String> = HashMap::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    'scan: while !rest.is_empty() {
        for prefix in ["msg-", "task-", "file-", "adm-"] {
            if rest.starts_with(prefix) {
                let len = rest[prefix.len()..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .map_or(rest.len(), |end| end + prefix.len());
                let id = &rest[..len];
                let digits = id.chars().filter(char::is_ascii_digit).count();
                if digits >= 8 {
                    let kind = &prefix[..prefix.len() - 1];
                    let name = names.entry(id.to_owned()).or_insert_with(|| {
                        let n = counts.entry(kind).or_insert(0);
                        *n += 1;
                        format!("<{kind}-{n}>")
                    });
                    out.push_str(name);
                    rest = &rest[len..];
                    continue 'scan;
                }
            }
        }
        if rest.starts_with("untrusted-data-") && rest.get(..31).is_some() {
            out.push_str("untrusted-data-BOUNDARY");
            rest = &rest[31..];
            continue;
        }
        if rest.get(..22).is_some_and(is_timestamp) {
            out.push_str("[DATE]");
            rest = &rest[22..];
            continue;
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `[2026-11-24 Tue 10:02]`.
fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 22
        && b[0] == b'['
        && b[5] == b'-'
        && b[8] == b'-'
        && b[11] == b' '
        && b[15] == b' '
        && b[18] == b':'
        && b[21] == b']'
}

/// Submits a task from `from` through the governor (in process), approving it when it
/// waits; returns its ID.
pub(crate) fn queue_task(env: &Env, from: &str, text: &str) -> String {
    let ctx = env.ctx();
    let desk = msg_hooks::TaskDesk::open(&ctx, None).unwrap();
    let submitted = desk
        .submit(&msg_hooks::Submission {
            from: from.into(),
            text: text.into(),
            tags: vec!["AI".into()],
            estimated_tokens: Some(5000),
            effort: Some(1),
        })
        .unwrap();
    if submitted.task.state() == msg_inbox::TaskState::Waiting {
        desk.approve(submitted.task.id()).unwrap();
    }
    submitted.task.id().to_owned()
}

/// Writes an unread message from `from` to gregor into the inbox (in process, as the relay
/// would deliver it); returns its ID.
pub(crate) fn deliver(env: &Env, from: &str, text: &str) -> String {
    let store = env.ctx().store().unwrap();
    store
        .create_message(&msg_store::NewMessage::new(from, "gregor", text))
        .unwrap()
        .id
}

/// The state keyword of task `id` in the agent's file.
pub(crate) fn task_state(env: &Env, id: &str) -> String {
    let inbox = env.ctx().agent_inbox(None).unwrap();
    inbox.find_by_id(id).unwrap().unwrap().state().to_string()
}
