//! What the check for a save made without our lock costs each write of a whole file
//! (`cargo bench -p msg-core --bench write_window`, `-- --quick` for fewer rounds).
//!
//! Both variants write the same bytes over the same file, durably:
//!
//! - `rename`: what an edit did before issue 15: a temporary file, `fsync`, `rename` over
//!   the file, `fsync` of the directory (`durable::write_atomically`);
//! - `replace`: what it does now (`durable::replace`): the same temporary file, an exchange
//!   instead of the rename, then a look through the descriptor the file was read with, and
//!   the old file removed. When the file changed less than two seconds before it was read
//!   ("racy"), the look compares its bytes too.
//!
//! Rounds alternate the variants (A, B, A, B, …) on separate files, so that a change in the
//! machine's load hits both alike; the figures are medians. A settled file is one written
//! more than two seconds before the round (the files are prepared, then the bench waits).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use msg_core::durable::{self, ReadFile};

fn inbox(messages: usize) -> Vec<u8> {
    let mut text = String::from("#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n");
    for i in 0..messages {
        text.push_str(&format!(
            "* TODO [2026-11-24 Tue 10:02] :unread:message:\n  :PROPERTIES:\n  :ID: msg-20261124-100259-{i:012x}\n  :FROM: tex@team.example.com\n  :TO: gregor\n  :CREATED: [2026-11-24 Tue 10:02]\n  :END:\n  Can you review PR #{i}? The OAuth part is the tricky one, and the tests need a look too.\n"
        ));
    }
    text.into_bytes()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn fmt(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Prints the medians of both variants and their difference.
fn report(messages: usize, len: usize, what: &str, before: &mut [Duration], now: &mut [Duration]) {
    let (before, now) = (median(before), median(now));
    println!(
        "{messages:>6} messages ({:.1} MB), {what} rename {}, replace {}, check {:+.3} ms",
        len as f64 / 1e6,
        fmt(before),
        fmt(now),
        (now.as_secs_f64() - before.as_secs_f64()) * 1e3
    );
}

/// One write of `bytes` over `path` by each variant.
fn rename(path: &Path, bytes: &[u8]) -> Duration {
    let start = Instant::now();
    durable::write_atomically(path, bytes).unwrap();
    start.elapsed()
}

fn replace(path: &Path, bytes: &[u8]) -> Duration {
    // Reading the file is part of every edit in both variants; only the descriptor is kept.
    let read = ReadFile::open(path).unwrap().unwrap();
    let start = Instant::now();
    let done = durable::replace(path, read, &[bytes], bytes, || {}, |_| None).unwrap();
    let took = start.elapsed();
    assert_eq!(done, durable::Replaced::Written { rounds: 0 });
    took
}

fn files(dir: &Path, name: &str, count: usize, bytes: &[u8]) -> Vec<PathBuf> {
    (0..count)
        .map(|i| {
            let path = dir.join(format!("{name}-{i}.org"));
            fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 9 } else { 31 };
    let dir = std::env::temp_dir().join(format!("msg-core-write-window-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    println!(
        "write of a whole file: rename (before) vs replace (now), median of {rounds} interleaved rounds"
    );
    for messages in [1_000, 10_000] {
        let bytes = inbox(messages);
        // Racy: each file was just written (as after an edit a moment before).
        let a = files(&dir, "racy-a", 1, &bytes);
        let b = files(&dir, "racy-b", 1, &bytes);
        let (mut before, mut now) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            before.push(rename(&a[0], &bytes));
            now.push(replace(&b[0], &bytes));
        }
        report(messages, bytes.len(), "racy:  ", &mut before, &mut now);
        // Settled: files last written more than two seconds ago.
        let a = files(&dir, "settled-a", rounds, &bytes);
        let b = files(&dir, "settled-b", rounds, &bytes);
        std::thread::sleep(msg_core::fingerprint::RACY_MARGIN + Duration::from_millis(200));
        let (mut before, mut now) = (Vec::new(), Vec::new());
        for (a, b) in a.iter().zip(&b) {
            before.push(rename(a, &bytes));
            now.push(replace(b, &bytes));
        }
        report(messages, bytes.len(), "settled:", &mut before, &mut now);
    }
    // The check alone, without the disk flushes around it: `ReadFile::unchanged` on a file
    // as read, racy (the bytes are compared) and settled (only the fingerprint).
    println!("the check alone (ReadFile::unchanged), mean over many calls:");
    for messages in [1_000, 10_000] {
        let bytes = inbox(messages);
        let racy = dir.join(format!("alone-racy-{messages}.org"));
        fs::write(&racy, &bytes).unwrap();
        let settled = dir.join(format!("alone-settled-{messages}.org"));
        fs::write(&settled, &bytes).unwrap();
        std::thread::sleep(msg_core::fingerprint::RACY_MARGIN + Duration::from_millis(200));
        let settled_read = ReadFile::open(&settled).unwrap().unwrap();
        fs::write(&racy, &bytes).unwrap();
        let racy_read = ReadFile::open(&racy).unwrap().unwrap();
        for (what, path, read, calls) in [
            ("racy", &racy, &racy_read, if quick { 50 } else { 200 }),
            (
                "settled",
                &settled,
                &settled_read,
                if quick { 20_000 } else { 100_000 },
            ),
        ] {
            let start = Instant::now();
            for _ in 0..calls {
                assert!(read.unchanged(path, &[&bytes]).unwrap());
            }
            let each = start.elapsed() / calls;
            println!(
                "{messages:>6} messages ({:.1} MB), {what:<7}: {:.1} µs per check",
                bytes.len() as f64 / 1e6,
                each.as_secs_f64() * 1e6
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
