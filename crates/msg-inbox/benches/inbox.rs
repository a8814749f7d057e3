//! `cargo bench -p msg-inbox`: the figures of `docs/PERFORMANCE.md` (section msg-inbox).
//!
//! A plain `main` (harness = false) that prints its figures. Every operation is the real,
//! durable one: its own transaction, lock, `fdatasync`/`fsync` and rename, on a file under
//! `CARGO_TARGET_TMPDIR` (the target directory's disk, not a tmpfs).
//!
//! 1. Lifecycle of 1,000 tasks, create (WAITING) + approve + `claim_next` + complete. Target:
//!    ≤ 5 s in all (the Python original needs 94 s). Measured two ways: task by task (each
//!    task goes through all four steps before the next is created, so the file grows as it
//!    would in use), and phase by phase (all creates, then all approvals, ...: every
//!    transition runs on the full 1,000-task file, the worst case).
//! 2. `claim_next` on files of 1,000 and 10,000 queued tasks. Target: ≤ 30 ms at 10,000.
//!
//! Every run first measures the disk alone (`disk floor`): replacing a file of the lifecycle's
//! final size the way a transition does (write a temporary file, `fdatasync`, rename,
//! `fsync` the directory) and a one-line append with `fdatasync`. A transition cannot be
//! cheaper than the first, a create than the second; on a shared disk both move by 10x, so
//! the lifecycle figure is read next to them.
//!
//! `cargo bench -p msg-inbox -- <word>` runs only the parts whose name contains a word
//! (`lifecycle`, `lifecycle-phases`, `claim_next`). Run without `--bench` (as
//! `cargo test --all-targets` does), each part runs once on small files, in about a second.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_inbox::AgentInbox;

const SPACE: &str = "0-personal";

fn fresh_root(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("msg-inbox-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    root
}

fn open(root: &Path) -> AgentInbox {
    AgentInbox::open(
        &Paths::new(root),
        SPACE,
        "bench-claude",
        &Settings::default(),
    )
    .unwrap()
}

/// Runs `f` `n` times; returns the total and the per-call durations.
fn timed(n: usize, mut f: impl FnMut(usize)) -> (Duration, Vec<Duration>) {
    let mut each = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i);
        each.push(t.elapsed());
    }
    (start.elapsed(), each)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn summary(each: &mut [Duration]) -> String {
    each.sort();
    let n = each.len();
    format!(
        "median {}, p90 {}, max {}",
        ms(each[n / 2]),
        ms(each[n * 9 / 10]),
        ms(each[n - 1])
    )
}

fn content(i: usize) -> String {
    format!(
        "Task {i}: summarise the weekly report\nFocus on the numbers that changed.\n\n- compare with last week\n- list open questions"
    )
}

fn lifecycle_task_by_task(n: usize) {
    let root = fresh_root("lifecycle");
    let inbox = open(&root);
    let mut steps = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let (total, _) = timed(n, |i| {
        let t = Instant::now();
        let task = inbox
            .create_task(
                "partner@external.com",
                &content(i),
                "trusted",
                &["AI", "content"],
                Some(3),
                Some(5000),
            )
            .unwrap();
        steps[0].push(t.elapsed());
        let t = Instant::now();
        inbox.approve(task.id()).unwrap();
        steps[1].push(t.elapsed());
        let t = Instant::now();
        let claimed = inbox.claim_next().unwrap().unwrap();
        steps[2].push(t.elapsed());
        let t = Instant::now();
        inbox
            .complete(
                claimed.id(),
                Some(4200),
                "$0.06",
                "0-inbox/report.md",
                Some(0.9),
            )
            .unwrap();
        steps[3].push(t.elapsed());
    });
    let size = std::fs::metadata(inbox.path()).unwrap().len();
    println!(
        "lifecycle of {n} tasks, task by task (file grows to {} KiB):",
        size / 1024
    );
    for (name, each) in ["create", "approve", "claim_next", "complete"]
        .into_iter()
        .zip(&mut steps)
    {
        let sum: Duration = each.iter().sum();
        println!("  {name:<10} {:>10} total; {}", ms(sum), summary(each));
    }
    println!(
        "  all        {:>10} total ({:.2} ms per task; target 5 s, Python 94 s)",
        ms(total),
        total.as_secs_f64() * 1e3 / n as f64
    );
    assert_eq!(inbox.counts().unwrap().done, n);
    std::fs::remove_dir_all(root).unwrap();
}

fn lifecycle_phase_by_phase(n: usize) {
    let root = fresh_root("phases");
    let inbox = open(&root);
    let mut ids = Vec::with_capacity(n);
    let (create, mut create_each) = timed(n, |i| {
        let task = inbox
            .create_task(
                "partner@external.com",
                &content(i),
                "trusted",
                &["AI", "content"],
                Some(3),
                Some(5000),
            )
            .unwrap();
        ids.push(task.id().to_owned());
    });
    let (approve, mut approve_each) = timed(n, |i| {
        inbox.approve(&ids[i]).unwrap();
    });
    let (claim, mut claim_each) = timed(n, |_| {
        inbox.claim_next().unwrap().unwrap();
    });
    let (complete, mut complete_each) = timed(n, |i| {
        inbox
            .complete(&ids[i], Some(4200), "$0.06", "0-inbox/report.md", Some(0.9))
            .unwrap();
    });
    let size = std::fs::metadata(inbox.path()).unwrap().len();
    let total = create + approve + claim + complete;
    println!(
        "lifecycle of {n} tasks, phase by phase (every transition on the full {} KiB file):",
        size / 1024
    );
    for (name, phase, each) in [
        ("create", create, &mut create_each),
        ("approve", approve, &mut approve_each),
        ("claim_next", claim, &mut claim_each),
        ("complete", complete, &mut complete_each),
    ] {
        println!("  {name:<10} {:>10} total; {}", ms(phase), summary(each));
    }
    println!(
        "  all        {:>10} total ({:.2} ms per task)",
        ms(total),
        total.as_secs_f64() * 1e3 / n as f64
    );
    assert_eq!(inbox.counts().unwrap().done, n);
    std::fs::remove_dir_all(root).unwrap();
}

fn claim_next_on(n: usize, claims: usize) {
    let root = fresh_root(&format!("claim-{n}"));
    let inbox = open(&root);
    let (create, _) = timed(n, |i| {
        inbox
            .create_task("gregor", &content(i), "owner", &["AI"], Some(2), Some(3000))
            .unwrap();
    });
    let size = std::fs::metadata(inbox.path()).unwrap().len();
    // For scale: reading the file and its headings (`counts()`).
    let (_, mut read_each) = timed(claims, |_| {
        inbox.counts().unwrap();
    });
    let (_, mut claim_each) = timed(claims, |_| {
        inbox.claim_next().unwrap().unwrap();
    });
    println!(
        "claim_next on {n} queued tasks ({:.1} MiB; built by {n} durable creates in {}, {:.2} ms each):",
        size as f64 / (1024.0 * 1024.0),
        ms(create),
        create.as_secs_f64() * 1e3 / n as f64
    );
    println!("  counts() (read + headings) {}", summary(&mut read_each));
    println!("  claim_next           {}", summary(&mut claim_each));
    std::fs::remove_dir_all(root).unwrap();
}

/// What the disk alone costs: `n` durable replaces of a file of `bytes` bytes (temporary
/// file, `fdatasync`, rename, directory `fsync`: what every transition does) and `n`
/// one-line appends with `fdatasync` (what a create does).
fn disk_floor(bytes: usize, n: usize) {
    let root = fresh_root("disk");
    std::fs::create_dir_all(&root).unwrap();
    let dir = File::open(&root).unwrap();
    let data = vec![b'x'; bytes];
    let (tmp, target, log) = (root.join("t.tmp"), root.join("t.org"), root.join("a.org"));
    let (_, mut replaces) = timed(n, |_| {
        let mut file = File::create(&tmp).unwrap();
        file.write_all(&data).unwrap();
        file.sync_data().unwrap();
        std::fs::rename(&tmp, &target).unwrap();
        dir.sync_all().unwrap();
    });
    let (_, mut appends) = timed(n, |_| {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        file.write_all(b"* TODO a line of about the size of a heading\n")
            .unwrap();
        file.sync_data().unwrap();
    });
    println!("disk floor ({n} runs each; no org code involved):");
    println!(
        "  replace {} KiB durably  {}",
        bytes / 1024,
        summary(&mut replaces)
    );
    println!("  append one line durably {}", summary(&mut appends));
    std::fs::remove_dir_all(root).unwrap();
}

/// The 1-minute load average (`/proc/loadavg`): the machine is shared, so every run says
/// how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`. Without it (`cargo test --all-targets` runs bench
    // binaries too), every measurement runs once on small files, as a quick check.
    let full = args.iter().any(|a| a == "--bench");
    let (tasks, small, large, claims) = if full {
        (1_000, 1_000, 10_000, 50)
    } else {
        (20, 20, 50, 5)
    };
    let words: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| words.is_empty() || words.iter().any(|w| name.contains(w.as_str()));
    println!(
        "msg-inbox benchmarks (durable writes under {}; load average {}){}",
        env!("CARGO_TARGET_TMPDIR"),
        load_average(),
        if full {
            ""
        } else {
            ": quick check, not figures"
        }
    );
    disk_floor(818 * 1024, if full { 200 } else { 5 });
    if wanted("lifecycle") {
        lifecycle_task_by_task(tasks);
    }
    if wanted("lifecycle-phases") {
        lifecycle_phase_by_phase(tasks);
    }
    if wanted("claim_next") {
        claim_next_on(small, claims);
        claim_next_on(large, claims);
    }
    println!("load average after the runs: {}", load_average());
}
