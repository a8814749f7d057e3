//! `cargo bench -p msg-hooks --bench lifecycle`: the task lifecycle through the command line,
//! side by side with other implementations (the Python original, an earlier build) in one
//! interleaved run, so that every implementation meets the same machine load.
//!
//! A task's lifecycle is three fresh processes, as an owner and an agent run them:
//!
//! 1. `task-queue approve --task-id ID` (the owner; the task waits for approval),
//! 2. `inbox-watcher` with a UserPromptSubmit event on stdin (the agent's next prompt claims
//!    the task: nothing else is queued or in progress),
//! 3. `send-reply alice 'Done: …' --complete-task ID --tokens 1200` (the agent's answer).
//!
//! Every implementation gets its own Datacore root holding the same task file: 200 tasks
//! (`--quick`: 50) in the Python original's form, all WAITING, from `alice` (tier
//! `trusted`, so they need the approval), to the agent `gregor-claude`. Task by task, each
//! implementation runs the task's three commands, in an order rotated from task to task.
//! Each command must exit 0 and say what it did (the task's ID or its text); at the end every
//! task file must hold 200 DONE tasks.
//!
//! Implementations are command templates, split on whitespace, in which `{}` stands for the
//! program name (`task-queue`, `inbox-watcher`, `send-reply`):
//!
//! - this build: the binaries next to this bench (`target/release/{}`), always;
//! - `MSG_BENCH_PYTHON`: the Python original, e.g.
//!   `/tmp/venv/bin/python /tmp/datacore-messaging/hooks/{}.py` (how to assemble it:
//!   `docs/PERFORMANCE.md`, "The task lifecycle through the command line"); without it the
//!   Python side is skipped, with a notice;
//! - `MSG_BENCH_BEFORE`: another build of ours, e.g. `/tmp/before/{}`, for before/after
//!   figures from the same run.
//!
//! Figures per implementation: the wall-clock time per task (the sum of its three processes,
//! from spawn to exit): median, p90 and mean; the median of each step; and the CPU time per
//! task (user + system of the children, from `/proc/self/stat`, which counts in ticks of
//! 10 ms: only the total over many tasks means anything). Then each one's ratio to this build.
//!
//! Run without `--bench` (as `cargo test --benches` does), it checks the lifecycle of 5 tasks.
//! `-- --keep` keeps the roots.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SETTINGS: &str =
    "identity:\n  name: gregor\nmessaging:\n  trust_overrides:\n    alice: trusted\n";
const HEADER: &str = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";
const EVENT: &str = r#"{"session_id":"bench","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"UserPromptSubmit","prompt":"go on"}"#;
const STEPS: [&str; 3] = ["approve", "claim", "complete"];

/// One implementation under test: its name, command template and root, and its figures.
struct Implementation {
    name: String,
    template: Vec<String>,
    root: PathBuf,
    /// Per task: the wall-clock time of each step.
    times: Vec<[Duration; 3]>,
    /// The children's CPU time, in clock ticks.
    cpu_ticks: u64,
}

impl Implementation {
    fn new(name: &str, template: &str, tasks: usize) -> Implementation {
        let template: Vec<String> = template.split_whitespace().map(str::to_owned).collect();
        assert!(
            template.iter().any(|part| part.contains("{}")),
            "the command template of {name} has no {{}} for the program name: {template:?}"
        );
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "msg-hooks-lifecycle-{}-{}",
            std::process::id(),
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(".datacore")).unwrap();
        std::fs::write(root.join(".datacore/settings.local.yaml"), SETTINGS).unwrap();
        let file = agent_file(&root);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, waiting_tasks(tasks)).unwrap();
        Implementation {
            name: name.to_owned(),
            template,
            root,
            times: Vec::with_capacity(tasks),
            cpu_ticks: 0,
        }
    }

    /// Runs `program` with `args` (and `stdin`); checks that it succeeded and that its
    /// output contains `expect`; returns its wall-clock time.
    fn run(&mut self, program: &str, args: &[&str], stdin: &str, expect: &str) -> Duration {
        let mut parts = self.template.iter().map(|part| part.replace("{}", program));
        let mut command = Command::new(parts.next().expect("a template is not empty"));
        command
            .args(parts)
            .args(args)
            .env("DATACORE_ROOT", &self.root)
            .env_remove("RELAY_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let ticks_before = children_cpu_ticks();
        let start = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("{}: cannot start {program}: {err}", self.name));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let elapsed = start.elapsed();
        self.cpu_ticks += children_cpu_ticks() - ticks_before;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(expect),
            "{}: {program} {args:?} exited with {}, expected {expect:?} in its output\nstdout: {stdout}\nstderr: {}",
            self.name,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        elapsed
    }

    /// The lifecycle of task `index`.
    fn lifecycle(&mut self, index: usize) {
        let id = task_id(index);
        let text = format!("Task {index}:");
        let approve = self.run(
            "task-queue",
            &["approve", "--task-id", &id],
            "",
            &format!("Approved: {id}"),
        );
        let claim = self.run("inbox-watcher", &[], EVENT, &text);
        let reply = format!("Done: report {index} summarised");
        let complete = self.run(
            "send-reply",
            &["alice", &reply, "--complete-task", &id, "--tokens", "1200"],
            "",
            &format!("Completed task: {id}"),
        );
        self.times.push([approve, claim, complete]);
    }

    /// Checks that every task ended DONE.
    fn check(&self, tasks: usize) {
        let text = std::fs::read_to_string(agent_file(&self.root)).unwrap();
        let done = text.lines().filter(|l| l.starts_with("* DONE ")).count();
        assert_eq!(
            done, tasks,
            "{}: {done} of {tasks} tasks are DONE",
            self.name
        );
    }
}

fn agent_file(root: &Path) -> PathBuf {
    root.join("0-personal/org/messaging/agents/gregor-claude.org")
}

fn task_id(index: usize) -> String {
    format!("org-20260311-090000-{index:08x}")
}

/// `tasks` WAITING tasks as org-workspace 0.3.0 writes them (the Python original's
/// `AgentInbox.create_task` for a `trusted` sender with effort and estimate).
fn waiting_tasks(tasks: usize) -> String {
    let mut out = String::from(HEADER);
    for index in 0..tasks {
        out.push_str(&format!(
            "* WAITING Task {index}: summarise report {index} :AI:research:\n  :PROPERTIES:\n  :FROM: alice\n  :TRUST_TIER: trusted\n  :SUBMITTED: [2026-03-11 Wed 09:00]\n  :AWAITING: owner-approval\n  :EFFORT: 2\n  :ESTIMATED_TOKENS: 5000\n  :ESTIMATED_COST: $0.07\n  :ID: {}\n  :CREATED: [2026-03-11 Wed 09:00]\n  :END:\n",
            task_id(index)
        ));
    }
    out
}

/// User + system time of this process's waited-for children, in clock ticks
/// (`/proc/self/stat` fields 16 and 17).
fn children_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it follow its `)`.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3: fields 16 and 17 are its 14th and 15th.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(16).unwrap_or(0) + field(17).unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let quick =
        args.iter().any(|arg| arg == "--quick") || std::env::var_os("MSG_BENCH_QUICK").is_some();
    let tasks = match (full, quick) {
        (false, _) => 5,
        (true, true) => 50,
        (true, false) => 200,
    };
    let this_build = Path::new(env!("CARGO_BIN_EXE_task-queue"))
        .parent()
        .unwrap()
        .join("{}");
    let mut implementations = vec![Implementation::new(
        "this build",
        this_build.to_str().expect("a UTF-8 target path"),
        tasks,
    )];
    match std::env::var("MSG_BENCH_BEFORE") {
        Ok(template) => implementations.push(Implementation::new("before", &template, tasks)),
        Err(_) => println!("(MSG_BENCH_BEFORE is not set: no earlier build to compare)"),
    }
    match std::env::var("MSG_BENCH_PYTHON") {
        Ok(template) => implementations.push(Implementation::new("python", &template, tasks)),
        Err(_) => println!(
            "SKIPPED: the Python original (MSG_BENCH_PYTHON is not set; see docs/PERFORMANCE.md, \"The task lifecycle through the command line\")"
        ),
    }
    println!(
        "the task lifecycle (approve, claim, complete) of {tasks} tasks, three fresh processes each, interleaved task by task; load average {}",
        load_average()
    );
    let start = Instant::now();
    let count = implementations.len();
    for index in 0..tasks {
        // Rotate who goes first, so that no implementation always follows the same one.
        for turn in 0..count {
            implementations[(index + turn) % count].lifecycle(index);
        }
    }
    let took = start.elapsed();
    for implementation in &implementations {
        implementation.check(tasks);
    }
    let ticks_per_second = 100.0; // USER_HZ on Linux
    println!(
        "\n| implementation | per task: median | p90 | mean | approve | claim | complete | CPU per task |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut means = Vec::new();
    for implementation in &implementations {
        let mut totals: Vec<Duration> = implementation
            .times
            .iter()
            .map(|steps| steps.iter().sum())
            .collect();
        totals.sort();
        let mean = totals.iter().sum::<Duration>() / tasks as u32;
        let step_medians: Vec<String> = (0..STEPS.len())
            .map(|step| {
                let mut times: Vec<Duration> =
                    implementation.times.iter().map(|t| t[step]).collect();
                times.sort();
                format!("{:.1} ms", ms(percentile(&times, 0.5)))
            })
            .collect();
        let cpu = implementation.cpu_ticks as f64 / ticks_per_second / tasks as f64;
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {:.1} ms |",
            implementation.name,
            ms(percentile(&totals, 0.5)),
            ms(percentile(&totals, 0.9)),
            ms(mean),
            step_medians.join(" | "),
            cpu * 1e3
        );
        means.push((percentile(&totals, 0.5), mean, cpu));
    }
    let (ours_median, ours_mean, ours_cpu) = means[0];
    for (implementation, (median, mean, cpu)) in implementations.iter().zip(&means).skip(1) {
        println!(
            "{} / this build: {:.1}× (medians), {:.1}× (means), {:.1}× (CPU)",
            implementation.name,
            median.as_secs_f64() / ours_median.as_secs_f64(),
            mean.as_secs_f64() / ours_mean.as_secs_f64(),
            cpu / ours_cpu.max(f64::MIN_POSITIVE),
        );
    }
    println!(
        "\n{:.1} s in all; load average after the runs: {}",
        took.as_secs_f64(),
        load_average()
    );
    for implementation in &implementations {
        if args.iter().any(|arg| arg == "--keep") {
            println!("(kept {})", implementation.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&implementation.root);
        }
    }
}
