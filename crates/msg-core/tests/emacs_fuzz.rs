//! The mutation fuzzer with Emacs as the oracle: a few hundred mutants of the fixtures
//! (fixed seed, so a failure reproduces), read by Emacs in a few batch runs and by our
//! scanner; every ID, keyword, title, tag, priority, CLOSED time and property must agree.
//! The one difference on purpose: a `:PRIORITY:` drawer line, which the Python original
//! wrote and we read (see `common::emacs::ours`).
//!
//! `cargo run -p msg-core --example emacs_fuzz -- SEED COUNT` runs a larger batch.

mod common;

use std::fs;

use assert_fs::TempDir;

use common::emacs::{self, Heading};
use common::fuzz::mutants;

/// The seed and size of the run in CI.
const SEED: u64 = 0x5eed_0015;
const COUNT: usize = 300;
/// Files per Emacs run.
const BATCH: usize = 100;

#[test]
fn emacs_reads_every_mutant_as_we_do() {
    if !emacs::available() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let mutants = mutants(SEED, COUNT);
    let files: Vec<_> = mutants
        .iter()
        .enumerate()
        .map(|(n, (_, bytes))| {
            let path = dir.path().join(format!("mutant-{n:04}.org"));
            fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let mut theirs: Vec<Heading> = Vec::new();
    for batch in files.chunks(BATCH) {
        theirs.extend(emacs::read(dir.path(), batch));
    }
    let mut differences = Vec::new();
    for (path, (how, _)) in files.iter().zip(&mutants) {
        let file = path.display().to_string();
        let emacs: Vec<&Heading> = theirs.iter().filter(|h| h.file == file).collect();
        let ours = emacs::ours(path);
        let first = if emacs.len() != ours.len() {
            Some(format!(
                "{} headings for Emacs, {} for us",
                emacs.len(),
                ours.len()
            ))
        } else {
            emacs
                .iter()
                .zip(&ours)
                .find(|(e, o)| **e != *o)
                .map(|(e, o)| format!("Emacs: {e:?}\n    us:    {o:?}"))
        };
        if let Some(first) = first {
            differences.push(format!("{how}\n    {first}"));
        }
    }
    eprintln!(
        "{} mutants, {} headings read by Emacs, {} differences",
        COUNT,
        theirs.len(),
        differences.len()
    );
    if !differences.is_empty() {
        let kept = std::env::temp_dir().join("msg-core-fuzz-mutants");
        let _ = fs::remove_dir_all(&kept);
        fs::create_dir_all(&kept).unwrap();
        for path in &files {
            fs::copy(path, kept.join(path.file_name().unwrap())).unwrap();
        }
        panic!(
            "Emacs reads {} mutants differently (files kept in {}):\n{}",
            differences.len(),
            kept.display(),
            differences
                .iter()
                .take(12)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
