//! `cargo bench -p msg-hooks --bench mcp_push`: how soon `msg mcp` pushes new work, and what
//! it costs while nothing happens (the figures of `docs/PERFORMANCE.md`, section `msg mcp`).
//!
//! A real `msg mcp` is started on a generated root and spoken to over its pipes (initialize,
//! then `notifications/initialized`, which starts push). Then, for each root size:
//!
//! 1. *a task written*: this process submits a task through the task desk (the governor,
//!    then the append and its `fdatasync`), as `msg task submit` would; the clock starts
//!    when the call returns (the write is durable) and stops when the reader thread has
//!    read the `notifications/claude/channel` line from the server's stdout.
//! 2. *a message to the agent*: a message is received into the inbox as `msg relay
//!    connect` receives one (append, `fdatasync`); the server runs intake (the governor,
//!    the task's append, the message marked read) and pushes the task it became.
//! 3. *idle*: the CPU time of every thread of the server (`/proc/<pid>/task/*/schedstat`,
//!    nanoseconds) over [`IDLE`] of nothing happening, from a second after the last push.
//!
//! Each figure is the median of 21 runs (`--quick`: 5) with the min and max; the load
//! average is printed before and after (the machine is shared). Run without `--bench` (as
//! `cargo test --all-targets` does), it checks each situation once on an empty root.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_hooks::{Context, Submission, TaskDesk};

mod support;

#[path = "../tests/support/mcp.rs"]
#[allow(dead_code, reason = "the bench uses part of the tests' MCP client")]
mod mcp_client;

use mcp_client::{DEADLINE, McpClient};
use support::{load_average, summary};

const SETTINGS: &str = "identity:\n  name: bench\nmessaging:\n  utc_offset: \"+01:00\"\n  trust_overrides:\n    bench: owner\n    \"tex@team.example.com\": team\n  compute:\n    max_queue_depth: 100000\n    rate_limits:\n      tasks_per_hour: 100000\n";
const HEADER: &str = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";
/// When every generated task and message was written (the bench does not look at dates).
const AT: &str = "[2026-02-01 Sun 10:00]";
/// How long the server is watched doing nothing.
const IDLE: Duration = Duration::from_secs(5);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let quick =
        args.iter().any(|arg| arg == "--quick") || std::env::var_os("MSG_BENCH_QUICK").is_some();
    let (sizes, runs, idle): (&[usize], usize, Duration) = match (full, quick) {
        (false, _) => (&[0], 1, Duration::from_millis(200)),
        (true, true) => (&[0, 1_000, 10_000], 5, IDLE),
        (true, false) => (&[0, 1_000, 10_000], 21, IDLE),
    };
    println!(
        "msg mcp push, median of {runs} runs (min–max); load average {}\n",
        load_average()
    );
    println!(
        "| tasks + messages in the files | a task written → pushed | a message to the agent → its task pushed | CPU while idle for {:?} |",
        idle
    );
    println!("|---|---|---|---|");
    for &size in sizes {
        let root = generate(size);
        let mut command = Command::new(env!("CARGO_BIN_EXE_msg"));
        command.arg("mcp").env("DATACORE_ROOT", &root);
        let mut server = McpClient::start(command);
        server.initialize("2025-11-25");
        let ctx = Context::new(Paths::new(&root), settings(), None).unwrap();
        // The first push: the server's watch and record are in place.
        submit(&ctx, "warm-up");
        push(&mut server);
        let tasks = (0..runs)
            .map(|n| {
                submit(&ctx, &format!("Task {n}"));
                let synced = Instant::now();
                push(&mut server).saturating_duration_since(synced)
            })
            .collect();
        let messages = (0..runs)
            .map(|n| {
                receive(&ctx, n);
                let synced = Instant::now();
                push(&mut server).saturating_duration_since(synced)
            })
            .collect();
        let cpu = cpu_over(&server, idle);
        println!(
            "| {size} + {size} | {} | {} | {:.3} ms of CPU ({:.4} %) |",
            summary(tasks),
            summary(messages),
            cpu.as_secs_f64() * 1e3,
            100.0 * cpu.as_secs_f64() / idle.as_secs_f64()
        );
        server.close().ok_and_nothing_left();
        let _ = std::fs::remove_dir_all(&root);
    }
    println!(
        "\nTarget (issue 17): under 50 ms from the file's fsync to the notification; ~0 CPU while idle."
    );
    println!("load average after the runs: {}", load_average());
}

fn settings() -> Settings {
    Settings::from_yaml_str(SETTINGS, Path::new("settings.local.yaml")).unwrap()
}

/// A task from the owner, through the governor.
fn submit(ctx: &Context, text: &str) {
    TaskDesk::open(ctx, None)
        .unwrap()
        .submit(&Submission {
            from: "bench".into(),
            text: text.into(),
            ..Submission::default()
        })
        .unwrap();
}

/// A message from tex to the agent, as the relay client receives it.
fn receive(ctx: &Context, n: usize) {
    ctx.store()
        .unwrap()
        .receive(&msg_store::Incoming {
            from: "tex@team.example.com".into(),
            to: "bench-claude".into(),
            content: format!("Question {n}"),
            id: format!("msg-20261207-120000-{n:08x}"),
            ..msg_store::Incoming::default()
        })
        .unwrap();
}

/// The CPU time every thread of the server used over `wait`, from a second after the last
/// push: the round its own intake writes start is over by then.
fn cpu_over(server: &McpClient, wait: Duration) -> Duration {
    std::thread::sleep(Duration::from_secs(1).min(wait));
    let before = cpu_time(server.pid());
    std::thread::sleep(wait);
    cpu_time(server.pid()).saturating_sub(before)
}

/// The moment the next channel notification was read.
fn push(server: &mut McpClient) -> Instant {
    let (at, _) = server
        .notification("notifications/claude/channel", DEADLINE)
        .expect("a push within the deadline");
    at
}

/// The CPU time of all threads of process `pid`, from the scheduler's statistics.
fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = entry.unwrap().path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// A root with `size` tasks in the agent's file (5 QUEUED, 3 WAITING, 1 WORKING, the rest
/// done) and `size` messages in the inbox (a fifth unread).
fn generate(size: usize) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("msg-hooks-mcp-bench-{}-{size}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let messaging = root.join("0-personal/org/messaging");
    std::fs::create_dir_all(messaging.join("agents")).unwrap();
    std::fs::create_dir_all(root.join(".datacore")).unwrap();
    std::fs::write(root.join(".datacore/settings.local.yaml"), SETTINGS).unwrap();
    std::fs::write(messaging.join("agents/bench-claude.org"), tasks(size)).unwrap();
    std::fs::write(messaging.join("inbox.org"), messages(size)).unwrap();
    std::fs::write(messaging.join("outbox.org"), HEADER).unwrap();
    root
}

fn tasks(size: usize) -> String {
    let mut text = String::from(HEADER);
    for i in 0..size {
        let keyword = match size - i {
            1..=5 => "QUEUED",
            6..=8 => "WAITING",
            9 => "WORKING",
            _ => ["DONE", "ARCHIVED", "ARCHIVED", "CANCELLED"][i % 4],
        };
        writeln!(
            text,
            "* {keyword} Task {i}: summarise the weekly report :AI:"
        )
        .unwrap();
        if matches!(keyword, "DONE" | "ARCHIVED" | "CANCELLED") {
            writeln!(text, "CLOSED: {AT}").unwrap();
        }
        let awaiting = if keyword == "WAITING" {
            "  :AWAITING: owner-approval\n"
        } else {
            ""
        };
        writeln!(
            text,
            "  :PROPERTIES:\n  :ID: task-20260201-000000-{i:012x}\n  :FROM: tex@team.example.com\n  :TRUST_TIER: team\n  :SUBMITTED: {AT}\n{awaiting}  :END:\n  Read the report and list the three decisions.",
        )
        .unwrap();
    }
    text
}

fn messages(size: usize) -> String {
    let mut text = String::from(HEADER);
    for i in 0..size {
        let (keyword, tags) = match i % 5 {
            0 => ("TODO", ":unread:message:"),
            4 => ("ARCHIVED", ":message:"),
            _ => ("DONE", ":message:"),
        };
        writeln!(
            text,
            "* {keyword} {AT} tex: news {i} {tags}\n  :PROPERTIES:\n  :ID: msg-20260201-000000-{i:012x}\n  :FROM: tex@team.example.com\n  :TO: bench\n  :CREATED: {AT}\n  :END:\n  News number {i}, with a second line\n  and a third.",
        )
        .unwrap();
    }
    text
}
