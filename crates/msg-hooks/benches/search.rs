//! `cargo bench -p msg-hooks --bench search`: `msg search` on 100,000 entries (the target:
//! 100 ms warm, docs/PERFORMANCE.md), timed as a person runs it: a fresh process, from
//! spawn to exit (through `bash -c`, whose `times` gives the process's CPU time too), with
//! the files in the page cache (one untimed run first).
//!
//! The space: 40,000 received messages in `inbox.org`, 20,000 sent in `outbox.org`, 20,000
//! archived in `archive/inbox-2026-11.org` and 20,000 tasks in `agents/bench-claude.org`
//! (about 42 MB, each entry in the canonical form with a one-to-five line body). Searched
//! for: a word in one entry, a word in 1 % of them (all counted, 50 shown), and `from`,
//! which every entry holds as a property name (`:FROM:`) and 2 % as a value. Each
//! figure is the median of 11 runs (`--quick`: 3). Run without `--bench` (as `cargo test
//! --all-targets` does) it checks the results once on 1,000 entries.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SETTINGS: &str = "identity:\n  name: bench\nmessaging:\n  utc_offset: \"+01:00\"\n";
const HEADER: &str = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";
const WORDS: [&str; 12] = [
    "review", "release", "relay", "budget", "standup", "notes", "draft", "merge", "tests",
    "deploy", "summary", "question",
];

/// One entry in the canonical form; `n` decides its words.
fn entry(out: &mut String, keyword: &str, tags: &str, n: usize, task: bool) {
    let from = if n.is_multiple_of(7) {
        "tex@team.example.com"
    } else {
        "alice"
    };
    let title = if task {
        format!(
            "Please {} the {} for sprint {}",
            WORDS[n % 12],
            WORDS[(n / 12) % 12],
            n % 97
        )
    } else {
        format!("[2026-11-{:02} Tue 10:{:02}]", 1 + n % 28, n % 60)
    };
    let _ = writeln!(out, "* {keyword} {title} :{tags}:");
    let _ = writeln!(
        out,
        "  :PROPERTIES:\n  :ID: msg-20261124-{:06}-{:012x}\n  :FROM: {from}\n  :TO: bench\n  :CREATED: [2026-11-24 Tue 10:02]\n  :END:",
        n % 1_000_000,
        n * 7919
    );
    for line in 0..(1 + n % 5) {
        let _ = writeln!(
            out,
            "  About the {} and the {}: line {line} of message {n}, with the usual words.",
            WORDS[(n + line) % 12],
            WORDS[(n * 3 + line) % 12]
        );
    }
    if n % 100 == 42 {
        out.push_str("  The hippopotamus plan is on.\n");
    }
    if n.is_multiple_of(50) {
        out.push_str("  Forwarded from the standup.\n");
    }
}

fn file(path: &Path, count: usize, offset: usize, keyword: &str, tags: &str, task: bool) {
    let mut text = String::from(HEADER);
    for n in offset..offset + count {
        entry(&mut text, keyword, tags, n, task);
        if task && n == offset + count / 2 {
            // The one entry with the rare word: a task, halfway down the last file.
            text.push_str("  Unique marker: zanzibar-4242.\n");
        }
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn generate(root: &Path, scale: usize) {
    std::fs::create_dir_all(root.join(".datacore")).unwrap();
    std::fs::write(root.join(".datacore/settings.local.yaml"), SETTINGS).unwrap();
    let dir = root.join("0-personal/org/messaging");
    file(
        &dir.join("inbox.org"),
        4 * scale,
        0,
        "DONE",
        "message",
        false,
    );
    file(
        &dir.join("outbox.org"),
        2 * scale,
        4 * scale,
        "DONE",
        "sent:message",
        false,
    );
    file(
        &dir.join("archive/inbox-2026-11.org"),
        2 * scale,
        6 * scale,
        "ARCHIVED",
        "message",
        false,
    );
    file(
        &dir.join("agents/bench-claude.org"),
        2 * scale,
        8 * scale,
        "DONE",
        "AI",
        true,
    );
}

/// One `msg search` as a fresh process: its wall time, its CPU time (user + system, read
/// with bash's `times`: on a machine shared with other builds the CPU time is the steadier
/// figure) and its answer.
fn search(root: &Path, text: &str) -> (Duration, Duration, serde_json::Value) {
    let dir = root.parent().unwrap();
    let out = dir.join("search.json");
    let start = Instant::now();
    let output = Command::new("bash")
        .arg("-c")
        .arg("\"$0\" --root \"$1\" search \"$2\" --json > \"$3\" && times")
        .arg(env!("CARGO_BIN_EXE_msg"))
        .arg(root)
        .arg(text)
        .arg(&out)
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // `times`: the shell's own user and system time, then its children's.
    let times = String::from_utf8(output.stdout).unwrap();
    let children = times.lines().nth(1).expect("times prints two lines");
    let cpu: f64 = children
        .split_whitespace()
        .map(|t| {
            let (minutes, seconds) = t.trim_end_matches('s').split_once('m').unwrap();
            minutes.parse::<f64>().unwrap() * 60.0 + seconds.parse::<f64>().unwrap()
        })
        .sum();
    let value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    (took, Duration::from_secs_f64(cpu), value)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick");
    let (scale, runs) = match (full, quick) {
        (false, _) => (250, 1),
        (true, true) => (10_000, 3),
        (true, false) => (10_000, 11),
    };
    let base = std::env::temp_dir().join(format!("msg-search-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("root");
    generate(&dir, scale);
    let bytes: u64 = walk_size(&dir.join("0-personal"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "msg search on {} entries ({:.1} MB), a fresh process per run, median of {runs} (min–max); load average {}\n",
        10 * scale,
        bytes as f64 / 1e6,
        load.split_whitespace().next().unwrap_or("?")
    );
    println!(
        "| search | matches | wall: median (min–max) | CPU: median (min–max) |\n|---|---|---|---|"
    );
    for text in ["zanzibar-4242", "hippopotamus", "from"] {
        let (_, _, value) = search(&dir, text); // warms the page cache
        let runs_done: Vec<(Duration, Duration)> = (0..runs)
            .map(|_| {
                let (wall, cpu, _) = search(&dir, text);
                (wall, cpu)
            })
            .collect();
        let mut times: Vec<Duration> = runs_done.iter().map(|r| r.0).collect();
        let mut cpus: Vec<Duration> = runs_done.iter().map(|r| r.1).collect();
        times.sort();
        cpus.sort();
        let total = value["total"].as_u64().unwrap();
        match text {
            "zanzibar-4242" => assert_eq!(total, 1),
            "hippopotamus" => assert_eq!(total as usize, 10 * scale / 100),
            _ => assert_eq!(total as usize, 10 * scale / 50),
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| `{text}` | {total} | {:.1} ms ({:.1}–{:.1}) | {:.1} ms ({:.1}–{:.1}) |",
            ms(times[runs / 2]),
            ms(times[0]),
            ms(times[runs - 1]),
            ms(cpus[runs / 2]),
            ms(cpus[0]),
            ms(cpus[runs - 1])
        );
    }
    std::fs::remove_dir_all(&base).unwrap();
}

fn walk_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        walk_size(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
