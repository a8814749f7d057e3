//! Performance figures of the governor: durable `admit` latency in one process, and the
//! throughput of four processes admitting at once (target: 1,000 durable admissions/s in
//! all, none lost). The method and the figures are in docs/PERFORMANCE.md.
//!
//! `cargo bench -p msg-governor` prints a Markdown table; it takes a few seconds.
//!
//! - `--quick` runs fewer iterations: `cargo bench -p msg-governor --bench admit -- --quick`,
//!   or set `MSG_BENCH_QUICK=1`.
//! - Without `--bench` (as `cargo test --benches` or `--all-targets` runs it) it only checks,
//!   with a handful of admissions, that every measurement works.
//! - `--child <root> <actor> <count> <cycle|burst>` is the worker process it starts (this
//!   binary again): it waits until its standard input is closed, so that all workers start
//!   together, then admits `count` tasks and prints its start and end time.
//!
//! Every admission is durable when `admit` returns: its journal line has been appended and
//! `fdatasync`ed (and every compaction wrote its snapshot and new journal with fsync, rename
//! and directory fsync). The state lives in a fresh directory under `std::env::temp_dir()`,
//! removed at the end.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_governor::{Decision, TaskGovernor};

const TARGET_ADMISSIONS_PER_SECOND: f64 = 1000.0;
const WORKERS: usize = 4;
/// What a completed task reports as used (its reservation is 1,000).
const ACTUAL_TOKENS: u64 = 900;

/// Limits that never reject, so that every attempt is an admission; the offset is fixed so
/// that every process agrees on the budget day.
const SETTINGS: &str = "\
messaging:
  utc_offset: \"+00:00\"
  compute:
    daily_budget_tokens: 0
    max_queue_depth: 1000000000
    rate_limits: {tasks_per_hour: 1000000000}
  trust_overrides:
    solo: owner
    worker-0: owner
    worker-1: owner
    worker-2: owner
    worker-3: owner
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let full = args.iter().any(|arg| arg == "--bench");
    let quick = args.iter().any(|arg| arg == "--quick")
        || std::env::var_os("MSG_BENCH_QUICK").is_some_and(|v| !v.is_empty());
    let (latency_runs, per_worker) = match (full, quick) {
        (false, _) => (20, 10),
        (true, true) => (200, 100),
        (true, false) => (1000, 250),
    };
    let base = std::env::temp_dir().join(format!("msg-governor-bench-{}", std::process::id()));
    let result = run(&base, latency_runs, per_worker);
    let _ = std::fs::remove_dir_all(&base);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("admit bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(base: &Path, latency_runs: usize, per_worker: u64) -> Result<(), String> {
    println!("| measurement | figure | target |");
    println!("|---|---|---|");

    let root = fresh_root(&base.join("latency"))?;
    let governor = open(&root)?;
    let mut admit_times = Vec::with_capacity(latency_runs);
    let mut complete_times = Vec::with_capacity(latency_runs);
    for _ in 0..latency_runs {
        let start = Instant::now();
        let decision = governor.admit("solo", 1000, 1).map_err(|e| e.to_string())?;
        admit_times.push(start.elapsed());
        let Decision::Admitted(admission) = decision else {
            return Err(format!("rejected: {:?}", decision.rejection()));
        };
        let start = Instant::now();
        governor
            .complete(&admission.id, ACTUAL_TOKENS)
            .map_err(|e| e.to_string())?;
        complete_times.push(start.elapsed());
    }
    let journal = governor.state_dir().join("governor.journal");
    let file_size: u64 = [governor.state_file(), journal.as_path()]
        .iter()
        .map(|path| std::fs::metadata(path).map_or(0, |m| m.len()))
        .sum();
    let (median, p90, p99) = percentiles(&mut admit_times);
    println!(
        "| `admit`, one process, {latency_runs} runs (median / p90 / p99) | {} / {} / {} ms | |",
        ms(median),
        ms(p90),
        ms(p99)
    );
    let (median, p90, _) = percentiles(&mut complete_times);
    println!(
        "| `complete`, one process (median / p90) | {} / {} ms | |",
        ms(median),
        ms(p90)
    );
    println!(
        "| state (snapshot + journal) after {latency_runs} admissions in the hour | {:.1} KiB | |",
        file_size as f64 / 1024.0
    );

    for mode in ["cycle", "burst"] {
        let root = fresh_root(&base.join(mode))?;
        let total = WORKERS as u64 * per_worker;
        let spans = run_workers(&root, per_worker, mode)?;
        let start = spans.iter().map(|s| s.0).min().unwrap_or_default();
        let end = spans.iter().map(|s| s.1).max().unwrap_or_default();
        let seconds = (end.saturating_sub(start)) as f64 / 1e9;
        let rate = total as f64 / seconds;
        let summary = open(&root)?.daily_summary().map_err(|e| e.to_string())?;
        let recorded: u64 = summary.by_sender.values().map(|s| s.tasks_today).sum();
        let lost = total.saturating_sub(recorded);
        let expected_active = if mode == "burst" { total } else { 0 };
        if recorded != total || summary.active_tasks != expected_active {
            return Err(format!(
                "{mode}: {total} admitted, {recorded} recorded, {} active",
                summary.active_tasks
            ));
        }
        let label = match mode {
            "cycle" => format!(
                "{WORKERS} processes × {per_worker} admit + complete cycles (admissions/s; lost)"
            ),
            _ => format!(
                "{WORKERS} processes × {per_worker} admissions, none completed (admissions/s; lost)"
            ),
        };
        println!(
            "| {label} | {rate:.0}/s; {lost} lost | ≥ {TARGET_ADMISSIONS_PER_SECOND:.0}/s; 0 |"
        );
    }
    Ok(())
}

/// A fresh Datacore root with the bench settings.
fn fresh_root(root: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join(".datacore")).map_err(|e| e.to_string())?;
    std::fs::write(root.join(".datacore/settings.local.yaml"), SETTINGS)
        .map_err(|e| e.to_string())?;
    Ok(root.to_owned())
}

fn open(root: &Path) -> Result<TaskGovernor, String> {
    let settings = Settings::load(root).map_err(|e| e.to_string())?;
    TaskGovernor::open(Paths::new(root).governor_state_dir(), settings).map_err(|e| e.to_string())
}

/// Starts the workers, lets them go together, and returns each one's (start, end) in Unix
/// nanoseconds.
fn run_workers(root: &Path, per_worker: u64, mode: &str) -> Result<Vec<(u128, u128)>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut children: Vec<Child> = Vec::new();
    for worker in 0..WORKERS {
        let child = Command::new(&exe)
            .arg("--child")
            .arg(root)
            .arg(format!("worker-{worker}"))
            .arg(per_worker.to_string())
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        children.push(child);
    }
    for child in &mut children {
        drop(child.stdin.take());
    }
    let mut spans = Vec::new();
    for child in children {
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!("worker failed: {text}"));
        }
        let mut numbers = text.split_whitespace().map(str::parse::<u128>);
        match (numbers.next(), numbers.next()) {
            (Some(Ok(start)), Some(Ok(end))) => spans.push((start, end)),
            _ => return Err(format!("unexpected worker output: {text}")),
        }
    }
    Ok(spans)
}

/// The worker: `<root> <actor> <count> <cycle|burst>`.
fn child(args: &[String]) -> ExitCode {
    let [root, actor, count, mode] = args else {
        eprintln!("usage: admit --child <root> <actor> <count> <cycle|burst>");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("count must be a number");
        return ExitCode::from(2);
    };
    let governor = match open(Path::new(root)) {
        Ok(governor) => governor,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let start = unix_nanos();
    for _ in 0..count {
        match governor.admit(actor, 1000, 1) {
            Ok(Decision::Admitted(admission)) => {
                if mode == "cycle"
                    && let Err(err) = governor.complete(&admission.id, ACTUAL_TOKENS)
                {
                    eprintln!("{err}");
                    return ExitCode::FAILURE;
                }
            }
            Ok(Decision::Rejected(rejection)) => {
                eprintln!("rejected: {rejection}");
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{start} {}", unix_nanos());
    ExitCode::SUCCESS
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(0.99))
}

fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}
