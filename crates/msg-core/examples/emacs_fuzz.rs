//! The Emacs oracle fuzzer at a larger size than the test suite runs it:
//! `cargo run --release -p msg-core --example emacs_fuzz -- [SEED] [COUNT]` (defaults: a
//! seed from the clock, 3,000 mutants). Prints the figures, and each mutant Emacs reads
//! differently (kept in a directory it names), so a new difference becomes a test case.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::time::Instant;

use common::emacs::{self, Heading};
use common::fuzz::mutants;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let count: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3000);
    if !emacs::available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("msg-core-fuzz-{seed}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let mutants = mutants(seed, count);
    let files: Vec<_> = mutants
        .iter()
        .enumerate()
        .map(|(n, (_, bytes))| {
            let path = dir.join(format!("mutant-{n:05}.org"));
            fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let mut theirs: Vec<Heading> = Vec::new();
    for batch in files.chunks(200) {
        theirs.extend(emacs::read(&dir, batch));
    }
    let emacs_time = started.elapsed();
    let mut differences = 0;
    for (path, (how, _)) in files.iter().zip(&mutants) {
        let file = path.display().to_string();
        let emacs: Vec<&Heading> = theirs.iter().filter(|h| h.file == file).collect();
        let ours = emacs::ours(path);
        let same = emacs.len() == ours.len() && emacs.iter().zip(&ours).all(|(e, o)| **e == *o);
        if !same {
            differences += 1;
            println!("{how} ({file})");
            if let Some((e, o)) = emacs.iter().zip(&ours).find(|(e, o)| ***e != **o) {
                println!("    Emacs: {e:?}\n    us:    {o:?}");
            } else {
                println!(
                    "    {} headings for Emacs, {} for us",
                    emacs.len(),
                    ours.len()
                );
            }
        }
    }
    println!(
        "seed {seed}: {count} mutants, {} headings, {differences} read differently; {:.1} s (Emacs and writing the files), files in {}",
        theirs.len(),
        emacs_time.as_secs_f64(),
        dir.display()
    );
}
