//! `cargo bench -p msg-hooks --bench watcher`: `inbox-watcher` as Claude Code runs it, a
//! fresh process per prompt, timed from spawn to exit, against the same binary's `--help`
//! (process start) in the same run: the figures of `docs/PERFORMANCE.md`, section msg-hooks
//! (issue 22: every state within 4× process start at 1,000 tasks + 1,000 messages, 8× at
//! 10,000).
//!
//! Each size (1,000 and 10,000 tasks, plus as many messages in the inbox) is measured in
//! five states, each the median of 21 runs (`--quick`: 5), every run followed by a run of
//! `inbox-watcher --help`, so that the ratio compares two figures taken under the same
//! load. Each run gives its wall-clock time and its CPU time (user and system, from
//! `/proc/PID/schedstat` once the process has exited), which a busy machine disturbs far
//! less:
//!
//! 1. *nothing new*: nothing happened since the last prompt. The watcher compares the
//!    files' fingerprints with its state and reads no org file.
//! 2. *a message*: one message to the person was appended to the inbox (not timed); the
//!    watcher must find out that nothing in it is addressed to the agent.
//! 3. *a task in progress*: a task is WORKING (shown in this context already) and a new
//!    task was appended to the task file (not timed): the watcher reads the file, claims
//!    nothing (one task at a time) and says nothing.
//! 4. *both files changed*: 2 and 3 together.
//! 5. *a task to claim*: no task is WORKING, so the watcher claims the next one (a durable
//!    rewrite of the task file) and prints it. Before each run the claimed task is put back
//!    (`retry`, not timed).
//!
//! `-- --before PATH` measures an earlier build of `inbox-watcher` too, in the same run,
//! interleaved run by run with this one (each on its own copy of the files), so that
//! before and after see the same load. (An earlier build shows the person's messages to
//! the agent; only this build's output is checked.)
//!
//! The files: tasks in the Python original's form, 1 WORKING, 5 QUEUED, 3 WAITING, the rest
//! DONE, ARCHIVED or CANCELLED (a file that grew with use); messages with a one-to-five line
//! body, 20 % unread, 60 % read (CLOSED and a LOGBOOK line), 20 % archived. Run without
//! `--bench` (as `cargo test --all-targets` does), it checks every state once on small
//! files. `-- --keep` keeps the generated roots (for profiling).

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_inbox::{AgentInbox, NewTask, TaskState};

mod support;

use support::{load_average, summary};

const SETTINGS: &str = "identity:\n  name: bench\nmessaging:\n  utc_offset: \"+01:00\"\n  trust_overrides:\n    bench: owner\n    \"tex@team.example.com\": team\n  compute:\n    max_queue_depth: 100000\n";
const HEADER: &str = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";
const EVENT: &str = r#"{"session_id":"bench","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"UserPromptSubmit","prompt":"go on"}"#;

/// The states measured, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NothingNew,
    Message,
    TaskInProgress,
    BothChanged,
    TaskToClaim,
}

impl State {
    const ALL: [State; 5] = [
        State::NothingNew,
        State::Message,
        State::TaskInProgress,
        State::BothChanged,
        State::TaskToClaim,
    ];

    fn name(self) -> &'static str {
        match self {
            State::NothingNew => "nothing new",
            State::Message => "a message (to the person)",
            State::TaskInProgress => "a task in progress (task file changed)",
            State::BothChanged => "both files changed",
            State::TaskToClaim => "a task to claim",
        }
    }
}

/// One build of the watcher and its own copy of the files.
struct Subject {
    name: String,
    exe: PathBuf,
    root: PathBuf,
    /// This build: its output is checked.
    current: bool,
    /// Messages and tasks appended so far (for unique texts).
    appended: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let quick =
        args.iter().any(|arg| arg == "--quick") || std::env::var_os("MSG_BENCH_QUICK").is_some();
    let before = args
        .iter()
        .position(|arg| arg == "--before")
        .and_then(|at| args.get(at + 1))
        .map(PathBuf::from);
    let (sizes, runs): (&[usize], usize) = match (full, quick) {
        (false, _) => (&[50], 2),
        (true, true) => (&[1_000, 10_000], 5),
        (true, false) => (&[1_000, 10_000], 21),
    };
    println!(
        "inbox-watcher, a fresh process per run, median of {runs} runs (min–max), each run followed by one of the same binary's `--help`; wall-clock time and CPU time (user + system); load average {}\n",
        load_average()
    );
    println!(
        "| tasks + messages | state | build | wall: state | wall: `--help` | ratio | CPU: state | CPU: `--help` | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &size in sizes {
        let mut subjects = vec![Subject {
            name: "this build".into(),
            exe: PathBuf::from(env!("CARGO_BIN_EXE_inbox-watcher")),
            root: generate(size, "after"),
            current: true,
            appended: 0,
        }];
        if let Some(exe) = &before {
            subjects.push(Subject {
                name: format!("before ({})", exe.display()),
                exe: exe.clone(),
                root: generate(size, "before"),
                current: false,
                appended: 0,
            });
        }
        for subject in &subjects {
            let first = run(&subject.exe, &subject.root).stdout;
            assert!(first.contains("Task in progress"), "{first}");
        }
        for state in State::ALL {
            // Before each state the files settle (see `settle`), so that one state's writes
            // do not make the next one read a file it would otherwise trust.
            for subject in &subjects {
                settle(subject, full);
            }
            let mut times: Vec<(Vec<Sample>, Vec<Sample>)> =
                subjects.iter().map(|_| (Vec::new(), Vec::new())).collect();
            for n in 0..runs {
                // Alternate which build goes first.
                let order: Vec<usize> = if n % 2 == 0 {
                    (0..subjects.len()).collect()
                } else {
                    (0..subjects.len()).rev().collect()
                };
                for at in order {
                    let subject = &mut subjects[at];
                    prepare(subject, state);
                    let hook = run(&subject.exe, &subject.root);
                    if subject.current {
                        check(state, &hook.stdout);
                    }
                    times[at].0.push(hook);
                    times[at].1.push(help(&subject.exe));
                }
            }
            for (subject, (hooks, helps)) in subjects.iter().zip(times) {
                let wall = |samples: &[Sample]| timed(samples.iter().map(|s| s.wall).collect());
                let cpu = |samples: &[Sample]| timed(samples.iter().map(|s| s.cpu).collect());
                let (hook_wall, hook_wall_text) = wall(&hooks);
                let (help_wall, help_wall_text) = wall(&helps);
                let (hook_cpu, hook_cpu_text) = cpu(&hooks);
                let (help_cpu, help_cpu_text) = cpu(&helps);
                println!(
                    "| {} + {} | {} | {} | {hook_wall_text} | {help_wall_text} | {:.1}× | {hook_cpu_text} | {help_cpu_text} | {:.1}× |",
                    grouped(size),
                    grouped(size),
                    state.name(),
                    subject.name,
                    hook_wall / help_wall,
                    hook_cpu / help_cpu,
                );
            }
        }
        for subject in &subjects {
            if args.iter().any(|arg| arg == "--keep") {
                println!("(kept {})", subject.root.display());
            } else {
                let _ = std::fs::remove_dir_all(&subject.root);
            }
        }
    }
    println!(
        "\nTargets (issue 22): every state ≤ 4× `--help` at 1,000, ≤ 8× at 10,000. Python v0.2.0: 74 ms with 10 tasks, 343 ms with 1,000, 1.85 s with 5,000."
    );
    println!("load average after the runs: {}", load_average());
}

/// One run of a program: its wall-clock time (spawn to exit), its CPU time (user and
/// system, from the kernel's scheduler statistics of the exited process) and its stdout.
struct Sample {
    wall: Duration,
    cpu: Duration,
    stdout: String,
}

/// Runs `exe` with `args` (and `root` as the Datacore root), `stdin` on its input.
fn sample(exe: &Path, args: &[&str], root: Option<&Path>, stdin: &str) -> Sample {
    let start = Instant::now();
    let mut command = Command::new(exe);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(root) = root {
        command.env("DATACORE_ROOT", root);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // The pipes closed when the process exited; its CPU time is final once it is a zombie,
    // and readable until it is reaped.
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_zombie(pid) {
        assert!(Instant::now() < deadline, "{} did not exit", exe.display());
        std::thread::yield_now();
    }
    let wall = start.elapsed();
    let cpu = cpu_time(pid);
    let status = child.wait().unwrap();
    assert!(
        status.success() && stderr.is_empty(),
        "{} {args:?}: {status}: {stderr}",
        exe.display()
    );
    Sample { wall, cpu, stdout }
}

/// Whether process `pid` has exited and waits to be reaped (`/proc/PID/stat` state `Z`).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rfind(')')?;
            stat[after_name + 1..]
                .split_whitespace()
                .next()
                .map(|s| s == "Z")
        })
        .unwrap_or(false)
}

/// The CPU time process `pid` used: the first field of `/proc/PID/schedstat`, nanoseconds
/// on a CPU (user and kernel: page faults and file copies included, waits for the disk
/// not).
fn cpu_time(pid: u32) -> Duration {
    let schedstat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    let ns: u64 = schedstat
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Duration::from_nanos(ns)
}

/// Runs `exe` as the hook once on `root`.
fn run(exe: &Path, root: &Path) -> Sample {
    sample(exe, &[], Some(root), EVENT)
}

/// `exe --help`: the process start the states are compared with.
fn help(exe: &Path) -> Sample {
    sample(exe, &["--help"], None, "")
}

/// The median in milliseconds, and the median with the range as text.
fn timed(times: Vec<Duration>) -> (f64, String) {
    let mut sorted = times.clone();
    sorted.sort();
    (sorted[sorted.len() / 2].as_secs_f64() * 1e3, summary(times))
}

/// What changes before a run of `state` (not timed).
fn prepare(subject: &mut Subject, state: State) {
    let root = subject.root.clone();
    subject.appended += 1;
    let n = subject.appended;
    let message = || {
        let store = msg_store::MessageStore::open(&root.join("0-personal")).unwrap();
        let message =
            msg_store::NewMessage::new("tex@team.example.com", "bench", format!("News {n}"));
        store.create_message(&message).unwrap();
    };
    let task = || {
        inbox(&root)
            .create(&NewTask::new("bench", format!("Later task {n}"), "owner"))
            .unwrap();
    };
    match state {
        State::NothingNew => {}
        State::Message => message(),
        State::TaskInProgress => task(),
        State::BothChanged => {
            message();
            task();
        }
        State::TaskToClaim => {
            let inbox = inbox(&root);
            for task in inbox.find_by_state(&[TaskState::Working]).unwrap() {
                inbox.retry(task.id(), "bench").unwrap();
            }
        }
    }
}

/// This build's output in `state`.
fn check(state: State, out: &str) {
    match state {
        State::TaskToClaim => assert!(out.contains("You claimed task"), "{out}"),
        _ => assert_eq!(out, "", "{state:?}"),
    }
}

/// Waits until the files are older than the watcher's racy margin (2 s), then runs the
/// watcher once, untimed: it reads what changed and records fingerprints it can trust from
/// then on. The check run (`full` false) does not wait; its runs then read both files.
fn settle(subject: &Subject, full: bool) {
    if full {
        wait_for_margin(&subject.root);
    }
    let first = run(&subject.exe, &subject.root).stdout;
    if subject.current {
        assert_eq!(first, "", "nothing new before a state");
    }
}

fn wait_for_margin(root: &Path) {
    let newest = [agent_file(root), inbox_file(root)]
        .iter()
        .map(|file| std::fs::metadata(file).unwrap().modified().unwrap())
        .max()
        .unwrap();
    let age = SystemTime::now().duration_since(newest).unwrap_or_default();
    let margin = Duration::from_millis(2_100);
    if age < margin {
        std::thread::sleep(margin - age);
    }
}

fn inbox(root: &Path) -> AgentInbox {
    AgentInbox::open(&Paths::new(root), "0-personal", "bench-claude", &settings()).unwrap()
}

fn settings() -> Settings {
    Settings::from_yaml_str(SETTINGS, Path::new("settings.local.yaml")).unwrap()
}

fn agent_file(root: &Path) -> PathBuf {
    root.join("0-personal/org/messaging/agents/bench-claude.org")
}

fn inbox_file(root: &Path) -> PathBuf {
    root.join("0-personal/org/messaging/inbox.org")
}

/// A Datacore root with `size` tasks and `size` messages (`label` tells the copies of one
/// run apart).
fn generate(size: usize, label: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "msg-hooks-bench-{}-{size}-{label}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join(".datacore")).unwrap();
    std::fs::write(root.join(".datacore/settings.local.yaml"), SETTINGS).unwrap();
    std::fs::create_dir_all(agent_file(&root).parent().unwrap()).unwrap();
    std::fs::write(agent_file(&root), tasks(size)).unwrap();
    std::fs::write(inbox_file(&root), messages(size)).unwrap();
    std::fs::write(root.join("0-personal/org/messaging/outbox.org"), HEADER).unwrap();
    root
}

fn stamp(i: usize) -> String {
    let day = 1 + (i / 1440) % 28;
    let minute = i % 1440;
    format!(
        "[2026-02-{day:02} {} {:02}:{:02}]",
        ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][day % 7],
        minute / 60,
        minute % 60
    )
}

fn tasks(size: usize) -> String {
    let mut text = String::from(HEADER);
    for i in 0..size {
        let from_end = size - i;
        let keyword = match from_end {
            1..=5 => "QUEUED",
            6..=8 => "WAITING",
            9 => "WORKING",
            _ => ["DONE", "ARCHIVED", "ARCHIVED", "CANCELLED"][i % 4],
        };
        let (from, tier) = if i % 3 == 0 {
            ("tex@team.example.com", "team")
        } else {
            ("bench", "owner")
        };
        let at = stamp(i);
        writeln!(
            text,
            "* {keyword} Task {i}: summarise the weekly report :AI:research:"
        )
        .unwrap();
        if matches!(keyword, "DONE" | "ARCHIVED" | "CANCELLED") {
            writeln!(text, "CLOSED: {at}").unwrap();
        }
        writeln!(
            text,
            "  :PROPERTIES:\n  :FROM: {from}\n  :TRUST_TIER: {tier}\n  :SUBMITTED: {at}"
        )
        .unwrap();
        if keyword == "WAITING" {
            text.push_str("  :AWAITING: owner-approval\n");
        } else {
            text.push_str("  :APPROVAL: auto_accepted\n");
        }
        writeln!(
            text,
            "  :EFFORT: 3\n  :ESTIMATED_TOKENS: 5000\n  :ESTIMATED_COST: $0.07\n  :ID: task-20260201-000000-{i:012x}\n  :CREATED: {at}"
        )
        .unwrap();
        if keyword != "QUEUED" && keyword != "WAITING" {
            writeln!(text, "  :STARTED: {at}").unwrap();
        }
        if matches!(keyword, "DONE" | "ARCHIVED") {
            writeln!(
                text,
                "  :COMPLETED: {at}\n  :TOKENS_USED: 4200\n  :COST: $0.06\n  :RESULT_PATH: 0-inbox/result-{i}.md"
            )
            .unwrap();
        }
        text.push_str(
            "  :END:\n  Focus on the numbers that changed.\n  - compare with last week\n",
        );
    }
    text
}

fn messages(size: usize) -> String {
    let mut text = String::from(HEADER);
    let lines = [
        "Can you review PR #24? The OAuth part is the tricky one.",
        "Héllo — the numbers for last week are in ✓",
        "",
        "Let me know if the deadline moves.",
        "Thanks!",
    ];
    for i in 0..size {
        let at = stamp(i);
        // The agent's replies to the person are in the inbox too, and some read messages
        // were addressed to the agent (taken in as tasks long ago).
        let from = [
            "tex@team.example.com",
            "partner@external.com",
            "bench",
            "bench-claude",
        ][i % 4];
        let to = if i % 10 == 2 { "bench-claude" } else { "bench" };
        let id = format!("msg-20260201-000000-{i:012x}");
        match i % 5 {
            0 => writeln!(text, "* TODO {at} :unread:message:").unwrap(),
            1..=3 => writeln!(text, "* DONE {at} :message:\nCLOSED: {at}").unwrap(),
            _ => writeln!(text, "* ARCHIVED {at} :message:\nCLOSED: {at}").unwrap(),
        }
        writeln!(
            text,
            "  :PROPERTIES:\n  :ID: {id}\n  :FROM: {from}\n  :TO: {to}"
        )
        .unwrap();
        if i % 3 == 1 && i > 0 {
            let parent = format!("msg-20260201-000000-{:012x}", i - 1);
            writeln!(text, "  :REPLY_TO: {parent}\n  :THREAD: {parent}").unwrap();
        }
        writeln!(text, "  :CREATED: {at}\n  :END:").unwrap();
        if (1..=3).contains(&(i % 5)) {
            writeln!(
                text,
                "  :LOGBOOK:\n  - State \"DONE\"       from \"TODO\"       {at}\n  :END:"
            )
            .unwrap();
        }
        for line in &lines[..1 + i % 5] {
            if line.is_empty() {
                text.push('\n');
            } else {
                writeln!(text, "  {line}").unwrap();
            }
        }
    }
    text
}

fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
