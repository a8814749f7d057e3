//! `cargo bench -p msg-store`: figures for the MessageStore (see docs/PERFORMANCE.md).
//!
//! - 10,000 durable creates into one inbox: the time per create over the first and the last
//!   1,000 (append-only, so they should be equal within noise);
//! - `mark_read` on a 10,000-message inbox (locked re-read, splice, atomic durable write);
//! - `unread()` on inboxes of 5,000 and 100,000 messages (read + scan + filter).
//!
//! `-- --quick` runs fewer iterations.

use std::path::Path;
use std::time::{Duration, Instant};

use msg_core::org::NewEntry;
use msg_store::{MessageStore, NewMessage};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let root = std::env::temp_dir().join(format!("msg-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "msg-store benchmark ({} mode)",
        if quick { "quick" } else { "full" }
    );

    let creates = if quick { 2_000 } else { 10_000 };
    let store = MessageStore::open(&root.join("creates")).unwrap();
    let mut per_create = Vec::with_capacity(creates);
    for i in 0..creates {
        let started = Instant::now();
        store
            .create_message(&NewMessage::new(
                "tex@team.example.com",
                "gregor",
                format!("Message {i}\nwith a second line"),
            ))
            .unwrap();
        per_create.push(started.elapsed());
    }
    let window = creates / 10;
    let first = mean(&per_create[..window]);
    let last = mean(&per_create[creates - window..]);
    let total: Duration = per_create.iter().sum();
    let rate = creates as f64 / total.as_secs_f64();
    println!(
        "creates: {creates} durable creates at {rate:.0}/s (target >= 500/s: {}); first {window}: {:.3} ms each, last {window}: {:.3} ms each",
        verdict(rate >= 500.0),
        ms(first),
        ms(last)
    );

    for size in [10_000, 100_000] {
        if quick && size > 10_000 {
            continue;
        }
        let space = root.join(format!("inbox-{size}"));
        let store = generated(&space, size);
        let mut marks = Vec::new();
        for id in ids_spread(&store, if quick { 5 } else { 20 }) {
            let started = Instant::now();
            store.mark_read(&id).unwrap();
            marks.push(started.elapsed());
        }
        marks.sort();
        println!(
            "mark_read on {size} messages: median {:.2} ms, max {:.2} ms",
            ms(marks[marks.len() / 2]),
            ms(*marks.last().unwrap())
        );
    }

    for size in [5_000, 100_000] {
        if quick && size > 5_000 {
            continue;
        }
        let store = generated(&root.join(format!("unread-{size}")), size);
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..if quick { 3 } else { 10 } {
            let started = Instant::now();
            count = store.unread().unwrap().len();
            times.push(started.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        let bytes = std::fs::read(store.inbox_path()).unwrap();
        let started = Instant::now();
        let doc = msg_core::org::Document::parse(
            bytes,
            &msg_core::org::TodoKeywords::parse(msg_store::STATES),
        );
        let scan = started.elapsed();
        println!(
            "  ({} entries, {:.1} MB: the scan alone takes {:.2} ms)",
            doc.len(),
            doc.bytes().len() as f64 / 1e6,
            ms(scan)
        );
        let target = if size == 5_000 {
            format!(
                " (target <= 10 ms: {})",
                verdict(median <= Duration::from_millis(10))
            )
        } else {
            String::new()
        };
        println!(
            "unread() on {size} messages ({count} unread): median {:.2} ms{target}",
            ms(median)
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// A space whose inbox holds `count` messages in canonical form, every third one read.
fn generated(space: &Path, count: usize) -> MessageStore {
    let store = MessageStore::open(space).unwrap();
    let mut text = String::from("#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n");
    for i in 0..count {
        let read = i % 3 == 0;
        text.push_str(
            &NewEntry {
                keyword: Some(if read { "DONE" } else { "TODO" }.into()),
                priority: None,
                title: "[2026-11-24 Tue 07:08]".into(),
                tags: if read {
                    vec!["message".into()]
                } else {
                    vec!["unread".into(), "message".into()]
                },
                properties: vec![
                    ("ID".into(), format!("msg-20261124-070853-{i:012x}")),
                    ("FROM".into(), "tex@team.example.com".into()),
                    ("TO".into(), "gregor".into()),
                    ("CREATED".into(), "[2026-11-24 Tue 07:08]".into()),
                ],
                body: format!("Can you review PR #{i}?\n\nThe OAuth part is the tricky one."),
            }
            .render("\n"),
        );
    }
    std::fs::write(store.inbox_path(), text).unwrap();
    store
}

fn ids_spread(store: &MessageStore, n: usize) -> Vec<String> {
    let unread = store.unread().unwrap();
    (0..n)
        .map(|k| unread[k * unread.len() / n].id.clone())
        .collect()
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / times.len() as u32
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}
