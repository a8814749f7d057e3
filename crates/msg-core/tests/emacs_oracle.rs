//! Emacs itself as the oracle: every fixture, and every file our engine writes (new entries
//! with hostile bodies, edited fixtures, header lines for new keywords), must read in Emacs's
//! Org with the same keywords, titles, tags, priorities, CLOSED timestamps and properties as
//! our scanner reads.
//!
//! Needs `emacs` on the PATH. `.ci/run` installs emacs-nox and sets `MSG_REQUIRE_EMACS=1`, so
//! in CI a missing Emacs fails the test; on a developer machine without Emacs it says it was
//! skipped.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_fs::TempDir;
use msg_core::org::{NewEntry, OrgError, OrgFile, TodoKeywords};
use time::macros::datetime;

use common::emacs::{self, Heading};
use common::{STATES, org_fixtures};

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

/// Files written by our engine: each fixture with every entry edited, and new entries.
fn written_files(dir: &Path) -> Vec<PathBuf> {
    let at = datetime!(2026-11-24 10:02 +01:00);
    let mut out = Vec::new();
    for (n, fixture) in org_fixtures().into_iter().enumerate() {
        let path = dir.join(format!(
            "edited-{n}-{}",
            fixture.file_name().unwrap().to_string_lossy()
        ));
        fs::copy(&fixture, &path).unwrap();
        let file = OrgFile::new(&path, states());
        let count = file.read().unwrap().len();
        for index in 0..count {
            let result = file.transaction(|txn| {
                let target = match txn.document()?.entry(index).keyword().as_deref() {
                    Some("DONE") => "QUEUED",
                    _ => "DONE",
                };
                txn.edit_at(index, |e| {
                    e.set_property("X_EDITED", "yes: with a colon")?;
                    e.set_tags(&["edited", "x@y"])?;
                    e.set_keyword(target, at)
                })
            });
            match result {
                Ok(()) | Err(OrgError::IgnoredDrawer { .. }) => {}
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
        out.push(path);
    }
    let path = dir.join("new.org");
    let file = OrgFile::new(&path, states());
    for (i, body) in [
        "plain",
        "#+TITLE: forged\n:PROPERTIES:\n:ID: forged\n:END:\n* TODO forged",
        ":LOGBOOK:\n- State \"DONE\" from \"TODO\"\n:END:",
        "",
    ]
    .iter()
    .enumerate()
    {
        file.transaction(|txn| {
            txn.append(&NewEntry {
                keyword: Some(["TODO", "WAITING", "ARCHIVED", "QUEUED"][i].into()),
                priority: (i == 1).then_some('A'),
                title: format!("Entry {i} with: colons :inside: it"),
                tags: if i == 3 {
                    vec![]
                } else {
                    vec!["unread".into(), "message".into()]
                },
                properties: vec![
                    ("ID".into(), format!("msg-{i}")),
                    ("EMPTY".into(), String::new()),
                ],
                body: (*body).into(),
            })
        })
        .unwrap();
    }
    out.push(path);
    out
}

#[test]
fn emacs_reads_fixtures_and_our_writes_as_we_do() {
    if !emacs::available() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut files = org_fixtures();
    files.extend(written_files(dir.path()));
    let emacs = emacs::read(dir.path(), &files);
    let expected: Vec<Heading> = files.iter().flat_map(|f| emacs::ours(f)).collect();
    assert_eq!(emacs.len(), expected.len(), "heading counts differ");
    for (theirs, ours) in emacs.iter().zip(&expected) {
        assert_eq!(theirs, ours);
    }
}
