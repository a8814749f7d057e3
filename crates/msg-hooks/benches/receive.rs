//! `cargo bench -p msg-hooks --bench receive`: what the relay client pays per received
//! message before it may acknowledge it (the space's `MessageStore::receive`, which the
//! client's mailroom calls: lock the inbox, read it to look
//! the ID up, append, `fdatasync`), with 1,000 and 10,000 messages already in the inbox, and
//! for a redelivery (the ID is found; nothing is written), and per message of a backlog of
//! 100 taken in as one transaction (what the client does with messages that arrive
//! together).
//!
//! Each figure is the median of 51 receipts (`--quick`: 11) in a warm process, as in
//! `msg relay connect`. Run without `--bench` (as `cargo test --all-targets` does), it checks
//! each case once on a small inbox.

use std::time::{Duration, Instant};

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_hooks::Context;
use msg_store::{Incoming, MessageStore, Receipt, StoreError};

#[allow(dead_code, reason = "this bench does not print the load average")]
mod support;

use support::summary;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let quick =
        args.iter().any(|arg| arg == "--quick") || std::env::var_os("MSG_BENCH_QUICK").is_some();
    let (sizes, runs): (&[usize], usize) = match (full, quick) {
        (false, _) => (&[20], 3),
        (true, true) => (&[1_000, 10_000], 11),
        (true, false) => (&[1_000, 10_000], 51),
    };
    println!(
        "MessageStore::receive (the relay client's mailroom) in a warm process, median of {runs} (min–max)\n"
    );
    println!(
        "| messages in the inbox | a new message (read, append, fdatasync) | a redelivery (read only) | in a backlog of 100 (one transaction), per message |"
    );
    println!("|---|---|---|---|");
    for &size in sizes {
        let dir =
            std::env::temp_dir().join(format!("msg-bench-receive-{}-{size}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = context(&dir);
        for n in 0..size {
            receive(&ctx, &message(&format!("msg-20261124-100000-{n:012x}"), n)).unwrap();
        }
        let new: Vec<Duration> = (0..runs)
            .map(|n| {
                let incoming = message(&format!("msg-20261124-110000-{n:012x}"), n);
                let start = Instant::now();
                let receipt = receive(&ctx, &incoming).unwrap();
                let took = start.elapsed();
                assert!(receipt.new);
                took
            })
            .collect();
        let again: Vec<Duration> = (0..runs)
            .map(|n| {
                let incoming = message(&format!("msg-20261124-100000-{n:012x}"), n);
                let start = Instant::now();
                let receipt = receive(&ctx, &incoming).unwrap();
                let took = start.elapsed();
                assert!(!receipt.new);
                took
            })
            .collect();
        // A backlog: 100 messages in one transaction, per message.
        let batches: Vec<Duration> = (0..runs.min(11))
            .map(|round| {
                let batch: Vec<Incoming> = (0..100)
                    .map(|n| message(&format!("msg-20261124-120000-{round:04x}{n:08x}"), n))
                    .collect();
                let start = Instant::now();
                let receipts = receive_all(&ctx, &batch).unwrap();
                let took = start.elapsed() / 100;
                assert!(receipts.iter().all(|r| r.as_ref().unwrap().new));
                took
            })
            .collect();
        println!(
            "| {} | {} | {} | {} |",
            grouped(size),
            summary(new),
            summary(again),
            summary(batches)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// What the relay client's mailroom does with one message: the space's store, then
/// `receive` (once on disk).
fn receive(ctx: &Context, message: &Incoming) -> Result<Receipt, StoreError> {
    store(ctx).receive(message)
}

/// The same for messages that arrive together: one transaction.
fn receive_all(
    ctx: &Context,
    messages: &[Incoming],
) -> Result<Vec<Result<Receipt, StoreError>>, StoreError> {
    store(ctx).receive_all(messages)
}

fn store(ctx: &Context) -> MessageStore {
    ctx.store().unwrap()
}

fn context(root: &std::path::Path) -> Context {
    let settings = Settings::from_yaml_str(
        "identity: {name: bench}\nmessaging: {utc_offset: \"+01:00\"}\n",
        std::path::Path::new("settings.local.yaml"),
    )
    .unwrap();
    msg_core::timestamp::init_local_offset(msg_hooks::utc_offset(&settings));
    Context::new(Paths::new(root), settings, None).unwrap()
}

/// A message of one to five lines, as a relay delivers it.
fn message(id: &str, n: usize) -> Incoming {
    let lines = 1 + n % 5;
    Incoming {
        from: "alice".into(),
        to: "bench".into(),
        content: (0..lines)
            .map(|line| format!("Line {line} of message {n}: something worth reading."))
            .collect::<Vec<_>>()
            .join("\n"),
        id: id.into(),
        thread: None,
        reply_to: None,
        timestamp: "[2026-11-24 Tue 10:00]".into(),
    }
}

fn grouped(n: usize) -> String {
    msg_core::figures::grouped(n as u64)
}
