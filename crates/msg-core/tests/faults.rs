//! A full disk on every write path of the org engine: a write that fails leaves the file
//! exactly as it was (no torn entry, no stray temporary file), and the error names the file.
//!
//! The disk is made full in two ways: `durable::fault::disk_full` (a test hook, so this runs
//! anywhere), and, where the machine allows an unprivileged mount namespace, a real 64 KiB
//! tmpfs filled to several free-space levels (`a_real_full_tmpfs_…`; it says so when it
//! cannot run).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_fs::TempDir;
use msg_core::durable::fault::disk_full;
use msg_core::org::{Document, NewEntry, OrgError, OrgFile, TodoKeywords};
use time::macros::datetime;

use common::{STATES, fixtures};

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

fn message(id: &str, keyword: &str, body: &str) -> NewEntry {
    NewEntry {
        keyword: Some(keyword.into()),
        title: "[2026-11-24 Tue 10:02]".into(),
        tags: vec!["unread".into(), "message".into()],
        properties: vec![
            ("ID".into(), id.into()),
            ("FROM".into(), "tex@team.example.com".into()),
            ("DELIVERY".into(), "pending".into()),
        ],
        body: body.into(),
        ..NewEntry::default()
    }
}

/// One way of writing to `path`, as a transaction (the file may or may not exist).
type WritePath = fn(&Path) -> Result<(), OrgError>;

/// Every kind of write the engine makes.
fn write_paths() -> Vec<(&'static str, WritePath)> {
    vec![
        ("append a new entry", |path| {
            OrgFile::new(path, states()).transaction(|txn| {
                txn.append(&message(
                    "msg-new",
                    "TODO",
                    &"a long body line\n".repeat(200),
                ))
            })
        }),
        (
            "append with an undeclared keyword (header line too)",
            |path| {
                OrgFile::new(path, TodoKeywords::parse("TODO | DONE REVIEWED")).transaction(|txn| {
                    txn.append(&message("msg-new", "REVIEWED", &"body\n".repeat(300)))
                })
            },
        ),
        ("edit one entry (the fast path)", |path| {
            OrgFile::new(path, states()).transaction(|txn| {
                txn.edit("msg-20261124-070853-e29f763d", |e| {
                    e.set_keyword("DONE", datetime!(2026-11-24 10:02 +01:00))
                })
            })
        }),
        ("edit two entries and append (the full path)", |path| {
            OrgFile::new(path, states()).transaction(|txn| {
                txn.edit("msg-20261124-070853-e29f763d", |e| e.set_property("X", "1"))?;
                txn.edit("msg-20261124-070853-f0089658", |e| e.set_tags(&["read"]))?;
                txn.append(&message("msg-new", "TODO", "appended in a rewrite"))
            })
        }),
        ("declare keywords", |path| {
            OrgFile::new(path, states())
                .transaction(|txn| txn.declare_keywords(&["REVIEWED"]).map(drop))
        }),
        ("move an entry to a new archive file", |path| {
            let archive = OrgFile::new(path.with_file_name("archive.org"), states());
            let inbox = OrgFile::new(path, states());
            OrgFile::transaction_all(&[&inbox, &archive], |txns| {
                for subtree in txns[0].take(&["msg-20261124-070853-f0089658"])? {
                    txns[1].append_subtree(&subtree)?;
                }
                Ok(())
            })
        }),
    ]
}

/// The files of `dir`, with their bytes (temporary files included, to catch strays).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".lock"))
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs every write path with `free` bytes left on a simulated disk, on a fresh copy of the
/// Python original's inbox; returns how many failed.
fn run_with_free_space(free: u64) -> usize {
    let inbox = fixtures().join("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let mut failed = 0;
    for (name, write) in write_paths() {
        for existing in [true, false] {
            let dir = TempDir::new().unwrap();
            let path = dir.path().join("inbox.org");
            if existing {
                fs::copy(&inbox, &path).unwrap();
            }
            let before = snapshot(dir.path());
            let result = {
                let _full = disk_full(dir.path(), free);
                write(&path)
            };
            match result {
                Ok(()) => {
                    let doc = Document::parse(fs::read(&path).unwrap(), &states());
                    assert!(doc.invalid_utf8().is_none(), "{name}: {free} bytes free");
                }
                Err(OrgError::NotFound { .. }) if !existing => {}
                Err(err) => {
                    failed += 1;
                    let message = err.to_string();
                    eprintln!("{name} (file exists: {existing}), {free} bytes free: {message}");
                    assert!(
                        message.contains(&*dir.path().to_string_lossy()),
                        "{name}, {free} bytes free: the error names no file: {message}"
                    );
                    let mut after = snapshot(dir.path());
                    // A move writes the receiving file first: when the source then fails,
                    // the entry is in both files (never in neither), whole.
                    after.retain(|(path, bytes)| {
                        let archive = path.ends_with("archive.org");
                        if archive {
                            let doc = Document::parse(bytes.clone(), &states());
                            let moved = doc.find_by_id("msg-20261124-070853-f0089658");
                            assert!(matches!(moved, Ok(Some(_))), "{name}: a torn move");
                        }
                        !archive
                    });
                    let names = |files: &[(PathBuf, Vec<u8>)]| {
                        files
                            .iter()
                            .map(|(p, b)| (p.clone(), b.len()))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(
                        names(&after),
                        names(&before),
                        "{name}, {free} bytes free: a failed write changed the directory ({message})"
                    );
                    assert!(
                        after == before,
                        "{name}, {free} bytes free: a failed write changed a file ({message})"
                    );
                }
            }
        }
    }
    failed
}

#[test]
fn a_full_disk_leaves_every_file_as_it_was_on_every_write_path() {
    let mut failures = Vec::new();
    for free in [0, 1, 40, 100, 1000, 3000, 10_000] {
        failures.push((free, run_with_free_space(free)));
    }
    // The small levels fail everything that writes; with room enough, everything works.
    assert!(failures[0].1 >= 8, "{failures:?}");
    assert_eq!(run_with_free_space(10_000_000), 0);
}

#[test]
fn a_failed_append_is_cut_back_to_the_byte() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("outbox.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| txn.append(&message("msg-1", "TODO", "first")))
        .unwrap();
    let before = fs::read(&path).unwrap();
    for free in [0, 1, 2, 17, 64, 129, 500] {
        let _full = disk_full(dir.path(), free);
        let err = file
            .transaction(|txn| txn.append(&message("msg-2", "TODO", &"x".repeat(600))))
            .unwrap_err();
        assert!(err.to_string().contains("outbox.org"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before, "{free} bytes free");
    }
    file.transaction(|txn| txn.append(&message("msg-2", "TODO", "second")))
        .unwrap();
    assert_eq!(file.read().unwrap().len(), 2);
}

/// The real thing, where the machine allows it: the test binary runs itself again in a new
/// user and mount namespace with a 64 KiB tmpfs, fills it to several levels and appends.
#[test]
fn a_real_full_tmpfs_leaves_the_file_as_it_was() {
    if let Ok(dir) = std::env::var("MSG_TMPFS_CHILD") {
        tmpfs_child(Path::new(&dir));
        return;
    }
    let scratch = TempDir::new().unwrap();
    let mount = scratch.path().join("small");
    fs::create_dir_all(&mount).unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs '{}' && exec '{}' --exact a_real_full_tmpfs_leaves_the_file_as_it_was --nocapture --test-threads 1",
        mount.display(),
        exe.display()
    );
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .env("MSG_TMPFS_CHILD", &mount)
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) if String::from_utf8_lossy(&output.stdout).contains("tmpfs child ran") => {
            panic!(
                "the tmpfs run failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        }
        other => {
            eprintln!(
                "skipped: no unprivileged tmpfs here ({}); the simulated full disk above covers every write path",
                match other {
                    Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                }
            );
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("tmpfs levels checked"), "{stdout}");
    eprintln!("a real 64 KiB tmpfs, filled to 0-6 free pages: checked");
}

/// Inside the namespace: `dir` is a 64 KiB tmpfs.
fn tmpfs_child(dir: &Path) {
    println!("tmpfs child ran");
    let path = dir.join("inbox.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| txn.append(&message("msg-1", "TODO", "first")))
        .unwrap();
    let filler = dir.join("filler");
    let mut failures = 0;
    // Leave 0, 1, 2, 4 and 6 pages free, then append 12 KiB (3 pages) and edit.
    for pages in [0u64, 1, 2, 4, 6] {
        fill(&filler, pages);
        let before = fs::read(&path).unwrap();
        let result =
            file.transaction(|txn| txn.append(&message("msg-2", "TODO", &"y\n".repeat(6000))));
        match result {
            Ok(()) => {
                let doc = file.read().unwrap();
                assert_eq!(doc.len(), 2, "{pages} pages free: the whole entry is there");
                file.transaction(|txn| {
                    // Undo for the next level: back to one entry, by rewriting.
                    txn.take(&["msg-2"]).map(drop)
                })
                .unwrap();
            }
            Err(err) => {
                failures += 1;
                assert!(err.to_string().contains("inbox.org"), "{err}");
                assert_eq!(fs::read(&path).unwrap(), before, "{pages} pages free");
            }
        }
        let edit = file
            .transaction(|txn| txn.edit("msg-1", |e| e.set_property("NOTE", &"z".repeat(3000))));
        if let Err(err) = edit {
            assert!(err.to_string().contains("inbox.org"), "{err}");
            assert_eq!(fs::read(&path).unwrap(), before, "{pages} pages free");
        } else {
            file.transaction(|txn| txn.edit("msg-1", |e| e.remove_property("NOTE").map(drop)))
                .unwrap();
        }
        let leftovers: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert!(failures >= 2, "the small levels must fail ({failures})");
    println!("tmpfs levels checked");
}

/// Fills the file system of `filler` so that about `pages` 4 KiB pages stay free.
fn fill(filler: &Path, pages: u64) {
    let _ = fs::remove_file(filler);
    let mut file = fs::File::create(filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(pages * 4096)).unwrap();
}
