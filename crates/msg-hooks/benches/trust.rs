//! `cargo bench -p msg-hooks --bench trust`: what trust costs per message in the relay
//! client: signing (canonical form + Ed25519), verifying (parse + canonical form + strict
//! Ed25519 verification), sealing (a content key, HPKE to two readers, ChaCha20-Poly1305)
//! and opening (HPKE + ChaCha20-Poly1305), for a short message (200 bytes) and a long one
//! (16 KiB).
//!
//! Each figure is the median over 21 rounds (`--quick`: 5) of the mean of a batch of 200
//! operations in a warm process. Run without `--bench` (as `cargo test --all-targets`
//! does), it checks each operation once: what `valgrind --tool=callgrind` runs to count
//! instructions per operation (`--size BYTES` for one message size; each operation is then
//! called twice: see docs/PERFORMANCE.md).

use std::time::Instant;

use msg_hooks::trust_bench::{Sample, sample};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let quick =
        args.iter().any(|arg| arg == "--quick") || std::env::var_os("MSG_BENCH_QUICK").is_some();
    let (rounds, batch) = match (full, quick) {
        (false, _) => (1, 1),
        (true, true) => (5, 200),
        (true, false) => (21, 200),
    };
    println!(
        "Trust per message in a warm process, µs: median of {rounds} batches of {batch} (min–max)\n"
    );
    println!("| message | sign | verify | seal (2 readers) | open |");
    println!("|---|---|---|---|---|");
    let sizes: Vec<usize> = match args.iter().position(|arg| arg == "--size") {
        Some(at) => vec![args[at + 1].parse().expect("--size BYTES")],
        None => vec![200, 16 * 1024],
    };
    for size in sizes {
        let text: String = "Summarise the standup notes, please. "
            .chars()
            .cycle()
            .take(size)
            .collect();
        let sample = sample(&text);
        let token = sample.sign();
        assert!(sample.verify(&token));
        let sealed = sample.seal(&token);
        assert_eq!(sample.open(&sealed).as_deref(), Some(text.as_str()));
        let sign = time(rounds, batch, || {
            std::hint::black_box(sample.sign());
        });
        let verify = time(rounds, batch, || {
            assert!(sample.verify(std::hint::black_box(&token)));
        });
        let seal = time(rounds, batch, || {
            std::hint::black_box(sample.seal(&token));
        });
        let open = time(rounds, batch, || {
            std::hint::black_box(open_once(&sample, &sealed));
        });
        println!(
            "| {} bytes | {sign} | {verify} | {seal} | {open} |",
            text.len()
        );
    }
}

fn open_once(sample: &Sample, sealed: &str) -> usize {
    sample.open(sealed).map_or(0, |text| text.len())
}

/// `median (min–max)` of the mean µs per call over `rounds` batches of `batch` calls.
fn time(rounds: usize, batch: usize, mut f: impl FnMut()) -> String {
    let mut means: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / batch as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    format!(
        "{:.1} ({:.1}–{:.1})",
        means[means.len() / 2],
        means[0],
        means[means.len() - 1]
    )
}
