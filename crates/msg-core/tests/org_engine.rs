//! The org engine against real files: the fixtures written by the Python original and by
//! Emacs, edits that must leave every other byte alone, and concurrent writers.

mod common;

use std::fs;
use std::path::PathBuf;

use assert_fs::TempDir;
use msg_core::durable::DurableError;
use msg_core::org::{Document, NewEntry, OrgError, OrgFile, TodoKeywords};
use time::macros::datetime;

use common::{STATES, fixtures, org_fixtures};

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

/// Copies a fixture into a fresh temp dir (fixtures are read-only inputs).
fn copy_fixture(relative: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let src = fixtures().join(relative);
    let dst = dir.path().join(src.file_name().unwrap());
    fs::copy(&src, &dst).unwrap();
    (dir, dst)
}

#[test]
fn python_inbox_reads_with_the_originals_meaning() {
    let bytes =
        fs::read(fixtures().join("python-v0.2.0/root/0-personal/org/messaging/inbox.org")).unwrap();
    let doc = Document::parse(bytes, &states());
    let summary: Vec<_> = doc
        .entries()
        .map(|e| {
            (
                e.keyword().unwrap().into_owned(),
                e.id().unwrap().into_owned(),
                e.tags().join(":"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "DONE".into(),
                "msg-20261124-070853-f0089658".into(),
                "message".into()
            ),
            (
                "ARCHIVED".into(),
                "msg-20261124-070853-8afa25ad".into(),
                "message".into()
            ),
            (
                "TODO".into(),
                "msg-20261124-070853-75ae0f47".into(),
                "unread:message".into()
            ),
            (
                "TODO".into(),
                "msg-20261124-070853-e29f763d".into(),
                "unread:message".into()
            ),
            (
                "TODO".into(),
                "file-20261124-070853-68f03cf7".into(),
                "unread:file_delivery".into()
            ),
        ]
    );
    let archived = doc.entry(1);
    assert_eq!(archived.closed().as_deref(), Some("[2026-11-24 Tue 07:08]"));
    assert_eq!(
        archived.property("thread").as_deref(),
        Some("msg-20261124-070853-f0089658")
    );
    assert_eq!(archived.title(), "[2026-11-24 Tue 07:08]");
    let first = doc.entry(0);
    assert_eq!(
        first.body_text(),
        "Can you review PR #24?\n\nThe OAuth part is the tricky one."
    );
    let unicode = doc.entry(3);
    assert_eq!(
        unicode.body_text(),
        "Héllo — ünïcode & émoji ✓ text\n* not a heading because indented"
    );
    let file = doc.entry(4);
    assert_eq!(file.property("FAIRDROP_REF").as_deref(), Some(""));
    assert_eq!(file.property("SIZE").as_deref(), Some("2400000"));
    assert!(doc.duplicate_ids().is_empty());
    assert!(doc.ignored_drawers().is_empty());
}

#[test]
fn emacs_edited_files_keep_their_meaning() {
    for name in ["inbox-edited-in-emacs.org", "inbox-crlf.org"] {
        let bytes = fs::read(fixtures().join("emacs").join(name)).unwrap();
        let doc = Document::parse(bytes, &TodoKeywords::empty());
        assert_eq!(doc.is_crlf(), name.contains("crlf"));
        assert_eq!(doc.len(), 6, "{name}");
        let scheduled = doc.entry(2);
        assert_eq!(
            scheduled.scheduled().as_deref(),
            Some("<2026-11-25 Wed 09:00>")
        );
        assert_eq!(
            scheduled.property("NOTE_BY_ME").as_deref(),
            Some("remember to ping")
        );
        assert_eq!(scheduled.tags(), ["message"]);
        let notes = doc.entry(3);
        assert_eq!((notes.level(), notes.keyword()), (2, None));
        assert_eq!(notes.title(), "My notes on the review");
        assert_eq!(
            scheduled.ranges().subtree_range().end,
            notes.ranges().subtree_range().end
        );
        let priority = doc.entry(4);
        assert_eq!(priority.priority(), Some('A'));
        assert_eq!(priority.title(), "[2026-11-24 Tue 07:08]");
        assert_eq!(priority.tags(), ["unread", "message"]);
        assert!(
            doc.text(doc.preamble_range())
                .contains("Some words a person wrote")
        );
    }
    let bytes = fs::read(fixtures().join("emacs/agent-edited-in-emacs.org")).unwrap();
    let doc = Document::parse(bytes, &TodoKeywords::empty());
    let done = doc.entry(3);
    assert_eq!(done.keyword().as_deref(), Some("DONE"));
    assert!(
        done.logbook()
            .unwrap()
            .starts_with("- State \"DONE\"       from \"WORKING\"")
    );
    assert_eq!(done.tags(), ["AI", "pm"]);
}

#[test]
fn v010_duplicate_ids_are_reported_with_both_lines() {
    let bytes = fs::read(fixtures().join("v0.1.0/0-personal/org/inboxes/gregor.org")).unwrap();
    let doc = Document::parse(bytes, &states());
    let dups = doc.duplicate_ids();
    assert_eq!(dups.len(), 1);
    assert_eq!(
        (dups[0].id.as_str(), dups[0].first_line, dups[0].second_line),
        ("msg-20251212-143100-tex", 16, 27)
    );
    // MESSAGE is not a keyword there: it is part of the title.
    assert_eq!(doc.entry(0).keyword(), None);
    assert_eq!(doc.entry(0).title(), "MESSAGE [2025-12-12 Fri 14:25]");
}

/// For every fixture and every entry: set a property, change tags and the keyword on that
/// entry alone; every byte outside its section stays identical.
#[test]
fn edits_touch_only_their_entry_in_every_fixture() {
    let at = datetime!(2026-11-24 10:02 +01:00);
    for fixture in org_fixtures() {
        let original = fs::read(&fixture).unwrap();
        let doc = Document::parse(original.clone(), &states());
        for index in 0..doc.len() {
            let dir = TempDir::new().unwrap();
            let path = dir.path().join("f.org");
            fs::write(&path, &original).unwrap();
            let file = OrgFile::new(&path, states());
            let target = match doc.entry(index).keyword().as_deref() {
                Some("ARCHIVED") => "DONE",
                _ => "ARCHIVED",
            };
            let result = file.transaction(|txn| {
                txn.edit_at(index, |e| {
                    e.set_property("X_TEST", "one")?;
                    e.set_property("X_TEST", "two")?;
                    e.set_tags(&["x", "y"])?;
                    e.set_keyword(target, at)?;
                    Ok(())
                })
            });
            let mut after = fs::read(&path).unwrap();
            if let Err(OrgError::DuplicateId { .. } | OrgError::IgnoredDrawer { .. }) = result {
                assert_eq!(after, original);
                continue;
            }
            result.unwrap_or_else(|e| panic!("{}: entry {index}: {e}", fixture.display()));
            if !doc.declared_keywords().contains(target) {
                // The file did not declare the keyword: its header gained the line, before
                // the first heading. Take it out to compare the rest.
                let header = format!("#+TODO: {STATES}{}", doc.eol());
                let at = doc.preamble_range().end;
                assert_eq!(
                    &after[at..at + header.len()],
                    header.as_bytes(),
                    "{}",
                    fixture.display()
                );
                after.drain(at..at + header.len());
            }
            let section = doc.entry(index).ranges().section_range();
            let new_doc = Document::parse(after.clone(), &states());
            assert_eq!(new_doc.len(), doc.len(), "{}", fixture.display());
            let new_section = new_doc.entry(index).ranges().section_range();
            assert_eq!(
                after[..section.start],
                original[..section.start],
                "{}",
                fixture.display()
            );
            assert_eq!(
                after[new_section.end..],
                original[section.end..],
                "{}",
                fixture.display()
            );
            let edited = new_doc.entry(index);
            assert_eq!(edited.property("X_TEST").as_deref(), Some("two"));
            assert_eq!(edited.tags(), ["x", "y"]);
            assert_eq!(edited.keyword().as_deref(), Some(target));
            assert!(
                edited.closed().is_some(),
                "{}: entry {index}:\n{}",
                fixture.display(),
                String::from_utf8_lossy(&after[new_section.clone()])
            );
            assert!(
                edited
                    .logbook()
                    .unwrap()
                    .contains(&format!("- State \"{target}\""))
            );
        }
    }
}

fn message(id: &str, body: &str) -> NewEntry {
    NewEntry {
        keyword: Some("TODO".into()),
        priority: None,
        title: "[2026-11-24 Tue 10:02]".into(),
        tags: vec!["unread".into(), "message".into()],
        properties: vec![
            ("ID".into(), id.into()),
            ("FROM".into(), "tex@team.example.com".into()),
            ("TO".into(), "gregor".into()),
            ("CREATED".into(), "[2026-11-24 Tue 10:02]".into()),
        ],
        body: body.into(),
    }
}

#[test]
fn canonical_entries_match_the_python_format() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("org/messaging/inbox.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.append(&message(
            "msg-1",
            "Can you review PR #24?\n\nThe OAuth part is the tricky one.",
        ))
    })
    .unwrap();
    let mut high = message(
        "msg-2",
        "#+INCLUDE: \"/etc/passwd\"\n* TODO forged heading\n:END:",
    );
    high.priority = Some('A');
    file.transaction(|txn| txn.append(&high)).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("canonical_entries", text);
    let doc = file.read().unwrap();
    assert_eq!(
        doc.len(),
        2,
        "a forged heading in a body must not become an entry"
    );
    assert_eq!(
        doc.entry(1).body_text(),
        "#+INCLUDE: \"/etc/passwd\"\n* TODO forged heading\n:END:"
    );
    assert_eq!(doc.entry(1).priority(), Some('A'));
}

/// Byte parity with the Python original: the same fields give the same bytes, header
/// included, so files stay interchangeable.
#[test]
fn new_files_and_entries_are_byte_identical_to_the_originals() {
    let python = fs::read_to_string(
        fixtures().join("python-v0.2.0/root/0-personal/org/messaging/inbox.org"),
    )
    .unwrap();
    let first_entry_end = python.find("* ARCHIVED").unwrap();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    let entry = NewEntry {
        keyword: Some("DONE".into()),
        priority: None,
        title: "[2026-11-24 Tue 07:08]".into(),
        tags: vec!["message".into()],
        properties: vec![
            ("ID".into(), "msg-20261124-070853-f0089658".into()),
            ("FROM".into(), "tex@team.example.com".into()),
            ("TO".into(), "gregor".into()),
            ("CREATED".into(), "[2026-11-24 Tue 07:08]".into()),
        ],
        body: "Can you review PR #24?\n\nThe OAuth part is the tricky one.\n".into(),
    };
    OrgFile::new(&path, states())
        .transaction(|txn| txn.append(&entry))
        .unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        python[..first_entry_end]
    );
}

#[test]
fn appends_keep_crlf_and_add_a_missing_final_newline() {
    for (name, eol) in [
        ("emacs/inbox-crlf.org", "\r\n"),
        ("emacs/inbox-no-final-newline.org", "\n"),
    ] {
        let (_dir, path) = copy_fixture(name);
        let original = fs::read(&path).unwrap();
        let file = OrgFile::new(&path, states());
        file.transaction(|txn| txn.append(&message("msg-new", "one\ntwo")))
            .unwrap();
        let after = fs::read(&path).unwrap();
        assert_eq!(
            after[..original.len()],
            original[..],
            "{name}: existing bytes changed"
        );
        let added = String::from_utf8(after[original.len()..].to_vec()).unwrap();
        let expected_start = if original.ends_with(b"\n") {
            "* TODO"
        } else {
            "\n* TODO"
        };
        assert!(added.starts_with(expected_start), "{name}: {added:?}");
        let lines: Vec<&str> = added
            .trim_start_matches('\n')
            .split_inclusive('\n')
            .collect();
        assert!(
            lines
                .iter()
                .all(|l| l.ends_with(eol) && !l[..l.len() - eol.len()].contains('\r')),
            "{name}: {added:?}"
        );
        let doc = Document::parse(after, &states());
        let last = doc.entry(doc.len() - 1);
        assert_eq!(last.id().as_deref(), Some("msg-new"));
        assert_eq!(last.body_text(), "one\ntwo");
    }
}

#[test]
fn an_undeclared_keyword_is_added_to_the_header_in_the_same_write() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    fs::write(
        &path,
        "#+TITLE: Mine\n#+TODO: TODO | DONE\n* TODO a\n  :PROPERTIES:\n  :ID: a\n  :END:\n",
    )
    .unwrap();
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.edit("a", |e| {
            e.set_keyword("QUEUED", datetime!(2026-11-24 10:02 UTC))
        })?;
        let mut entry = message("b", "");
        entry.keyword = Some("ARCHIVED".into());
        txn.append(&entry)
    })
    .unwrap();
    let text = fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("header_gains_keywords", text);
    let doc = Document::parse(text.into_bytes(), &TodoKeywords::empty());
    assert_eq!(doc.entry(0).keyword().as_deref(), Some("QUEUED"));
    assert_eq!(doc.entry(1).keyword().as_deref(), Some("ARCHIVED"));
}

#[test]
fn state_changes_write_closed_and_logbook_like_emacs() {
    let (_dir, path) = copy_fixture("emacs/agent-edited-in-emacs.org");
    let file = OrgFile::new(&path, states());
    let at = datetime!(2026-11-24 10:02 +01:00);
    file.transaction(|txn| {
        // QUEUED → WORKING → DONE on the entry without a LOGBOOK, and DONE → QUEUED (a
        // revision) on the one Emacs gave a LOGBOOK and a CLOSED line.
        txn.edit("org-20261124-070853-ef173c07", |e| {
            e.set_keyword("WORKING", at)?;
            e.set_keyword("DONE", at)
        })?;
        txn.edit("org-20261124-070853-adc87158", |e| {
            e.set_keyword("QUEUED", at)
        })
    })
    .unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let doc = Document::parse(text.clone().into_bytes(), &states());
    let sections: Vec<_> = [2, 3]
        .iter()
        .map(|&i| doc.text(doc.entry(i).ranges().section_range()).into_owned())
        .collect();
    insta::assert_snapshot!("state_changes", sections.join(""));
    assert!(
        doc.entry(3).closed().is_none(),
        "leaving DONE removes CLOSED"
    );
}

#[test]
fn properties_are_set_in_place_added_before_end_and_removed() {
    let (_dir, path) = copy_fixture("emacs/inbox-edited-in-emacs.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.edit("msg-20261124-070853-75ae0f47", |e| {
            e.set_property("NOTE_BY_ME", "pinged")?;
            e.set_property("DOWNLOADED", "true")?;
            assert!(e.remove_property("REPLY_TO")?);
            assert!(!e.remove_property("NOPE")?);
            Ok(())
        })?;
        // An entry without a drawer (the person's child heading) gets one.
        txn.edit_at(3, |e| e.set_property("ID", "notes-1"))
    })
    .unwrap();
    let doc = file.read().unwrap();
    let sections: Vec<_> = [2, 3]
        .iter()
        .map(|&i| doc.text(doc.entry(i).ranges().section_range()).into_owned())
        .collect();
    insta::assert_snapshot!("property_edits", sections.join(""));
}

#[test]
fn invalid_utf8_is_read_but_never_written() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    let mut bytes =
        b"#+TODO: TODO | DONE\n* TODO a\n  :PROPERTIES:\n  :ID: a\n  :END:\n  caf\xe9 latin-1\n"
            .to_vec();
    fs::write(&path, &bytes).unwrap();
    let file = OrgFile::new(&path, states());
    let doc = file.read().unwrap();
    assert_eq!(doc.invalid_utf8().map(|b| b.line), Some(6));
    assert_eq!(doc.entry(0).id().as_deref(), Some("a"));
    let err = file
        .transaction(|txn| txn.edit("a", |e| e.set_property("X", "1")))
        .unwrap_err();
    assert!(
        matches!(err, OrgError::InvalidUtf8 { line: 6, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("inbox.org:6"), "{err}");
    // An append next to the bad bytes is refused too (they are in the tail it checks).
    let err = file
        .transaction(|txn| txn.append(&message("b", "x")))
        .unwrap_err();
    assert!(matches!(err, OrgError::InvalidUtf8 { .. }), "{err}");
    bytes.truncate(bytes.len());
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn duplicate_ids_are_never_guessed() {
    let (_dir, path) = copy_fixture("v0.1.0/0-personal/org/inboxes/gregor.org");
    let before = fs::read(&path).unwrap();
    let file = OrgFile::new(&path, states());
    let err = file
        .transaction(|txn| txn.edit("msg-20251212-143100-tex", |e| e.set_property("X", "1")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: ID \"msg-20251212-143100-tex\" is on two entries (lines 16 and 27); give one of them a new ID (msg doctor lists all duplicates)",
            path.display()
        )
    );
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn hostile_values_are_rejected_before_anything_is_written() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| txn.append(&message("a", "hi")))
        .unwrap();
    let before = fs::read(&path).unwrap();
    let mut forged = message("b", "x");
    forged.properties[1].1 = "bob\n:TRUST_TIER: owner".into();
    let err = file.transaction(|txn| txn.append(&forged)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("FROM must not contain line breaks"),
        "{err}"
    );
    let err = file
        .transaction(|txn| txn.edit("a", |e| e.set_property("REASON", "a\r\n* TODO x")))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("REASON must not contain line breaks"),
        "{err}"
    );
    let err = file
        .transaction(|txn| txn.edit("a", |e| e.set_tags(&["ok", "not-ok"])))
        .unwrap_err();
    assert!(err.to_string().contains("not-ok"), "{err}");
    // A failed closure leaves even the earlier successful edits of the same transaction out.
    let err = file
        .transaction(|txn| {
            txn.edit("a", |e| e.set_property("X", "1"))?;
            txn.edit("missing", |e| e.set_property("X", "1"))
        })
        .unwrap_err();
    assert!(matches!(err, OrgError::NotFound { .. }));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_held_lock_times_out_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let path = path.clone();
        std::thread::spawn(move || {
            OrgFile::new(&path, states())
                .transaction(|_txn| {
                    held_tx.send(()).unwrap();
                    // Hold the lock until the other side has timed out.
                    done_rx.recv().unwrap();
                    Ok(())
                })
                .unwrap();
        })
    };
    held_rx.recv().unwrap();
    let waiter =
        OrgFile::new(&path, states()).with_lock_timeout(std::time::Duration::from_millis(50));
    let err = waiter
        .transaction(|txn| txn.append(&message("a", "")))
        .unwrap_err();
    assert!(
        matches!(err, OrgError::File(DurableError::LockTimeout { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("inbox.org.lock"), "{err}");
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    // The lock file stays: deleting it is how the original lost mutual exclusion.
    assert!(dir.path().join("inbox.org.lock").exists());
    waiter
        .transaction(|txn| txn.append(&message("a", "")))
        .unwrap();
}

/// Four writers with their own file handles (so their `flock`s really contend): each appends
/// 50 messages and marks 25 of its own read. Nothing may be lost: the Python original kept
/// 100 of 400 creates in the same setting.
#[test]
fn concurrent_writers_lose_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    let at = datetime!(2026-11-24 10:02 UTC);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let file = OrgFile::new(&path, states());
                    file.transaction(|txn| txn.append(&message(&format!("w{w}-{i}"), "hi")))
                        .unwrap();
                    if i % 2 == 1 {
                        let id = format!("w{w}-{}", i - 1);
                        file.transaction(|txn| txn.edit(&id, |e| e.set_keyword("DONE", at)))
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let doc = OrgFile::new(&path, states()).read().unwrap();
    assert_eq!(doc.len(), 200);
    assert!(doc.duplicate_ids().is_empty());
    let done = doc
        .entries()
        .filter(|e| e.keyword().as_deref() == Some("DONE"))
        .count();
    assert_eq!(done, 100);
    assert_eq!(
        doc.declared_keywords().sequences().len(),
        1,
        "header written once"
    );
}

#[test]
fn a_stale_temporary_file_from_a_crash_changes_nothing() {
    // A crash between writing the temporary file and the rename leaves the old file whole
    // and a `.inbox.org.<pid>-<n>.tmp` beside it; the next transaction is unaffected.
    let (dir, path) = copy_fixture("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let before = fs::read(&path).unwrap();
    fs::write(
        dir.path().join(".inbox.org.999999-0.tmp"),
        &before[..before.len() / 2],
    )
    .unwrap();
    let file = OrgFile::new(&path, states());
    assert_eq!(file.read().unwrap().bytes(), &before[..]);
    file.transaction(|txn| txn.edit("msg-20261124-070853-e29f763d", |e| e.set_tags(&["message"])))
        .unwrap();
    let doc = file.read().unwrap();
    assert_eq!(doc.len(), 5);
    assert_eq!(doc.entry(3).tags(), ["message"]);
}

/// Two writers lock the same two files, named in opposite orders, many times over: locks are
/// taken in sorted path order, so they never deadlock, and every write lands.
#[test]
fn locking_several_files_in_any_order_never_deadlocks() {
    let dir = TempDir::new().unwrap();
    let (a, b) = (dir.path().join("a.org"), dir.path().join("b.org"));
    let writers: Vec<_> = [(a.clone(), b.clone()), (b.clone(), a.clone())]
        .into_iter()
        .enumerate()
        .map(|(w, (first, second))| {
            std::thread::spawn(move || {
                let (first, second) = (
                    OrgFile::new(first, states()),
                    OrgFile::new(second, states()),
                );
                for i in 0..40 {
                    OrgFile::transaction_all(&[&first, &second], |txns| {
                        txns[0].append(&message(&format!("w{w}-{i}-first"), ""))?;
                        txns[1].append(&message(&format!("w{w}-{i}-second"), ""))
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    for path in [a, b] {
        let doc = OrgFile::new(path, states()).read().unwrap();
        assert_eq!(doc.len(), 80);
        assert!(doc.duplicate_ids().is_empty());
    }
}

#[test]
fn reading_a_missing_file_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("space/org/messaging/inbox.org");
    let doc = OrgFile::new(&path, states()).read().unwrap();
    assert!(doc.is_empty());
    assert!(!dir.path().join("space").exists());
}

/// Archiving moves whole subtrees (the person's child notes included) from one file to
/// another in one locked transaction; the rest of the source stays byte-identical.
#[test]
fn subtrees_move_between_files_with_nothing_else_changed() {
    let (dir, path) = copy_fixture("emacs/inbox-crlf.org");
    let archive = dir.path().join("archive/inbox-2026-11.org");
    let original = fs::read(&path).unwrap();
    let doc = Document::parse(original.clone(), &states());
    let moved = doc
        .find_by_id("msg-20261124-070853-75ae0f47")
        .unwrap()
        .unwrap()
        .ranges()
        .subtree_range();
    let (inbox, archive_file) = (
        OrgFile::new(&path, states()),
        OrgFile::new(&archive, states()),
    );
    OrgFile::transaction_all(&[&inbox, &archive_file], |txns| {
        let mut taken = txns[0].take(&[
            "msg-20261124-070853-75ae0f47",
            "msg-20261124-070853-f0089658",
        ])?;
        assert_eq!(taken.len(), 2);
        for subtree in &mut taken {
            subtree.edit(&path, |e| {
                e.set_property("ARCHIVE_TIME", "2026-11-24 Tue 10:02")
            })?;
            txns[1].append_subtree(subtree)?;
        }
        // Nothing else may change in a file entries were taken from.
        assert!(
            txns[0]
                .edit("msg-20261124-070853-8afa25ad", |e| e.set_property("X", "1"))
                .is_err()
        );
        Ok(())
    })
    .unwrap();
    let after = fs::read(&path).unwrap();
    let first = doc.entry(0).ranges().section_range();
    let mut expected = original[..first.start].to_vec();
    expected.extend_from_slice(&original[first.end..moved.start]);
    expected.extend_from_slice(&original[moved.end..]);
    assert_eq!(after, expected);
    let archived = OrgFile::new(&archive, states()).read().unwrap();
    assert!(
        !archived.is_crlf(),
        "moved text takes the archive's line endings"
    );
    let ids: Vec<_> = archived
        .entries()
        .map(|e| (e.level(), e.id().map(|i| i.into_owned())))
        .collect();
    assert_eq!(
        ids,
        [
            (1, Some("msg-20261124-070853-f0089658".into())),
            (1, Some("msg-20261124-070853-75ae0f47".into())),
            (2, None),
        ]
    );
    assert_eq!(
        archived.entry(1).property("ARCHIVE_TIME").as_deref(),
        Some("2026-11-24 Tue 10:02")
    );
    assert_eq!(archived.entry(2).title(), "My notes on the review");
}

/// An editor that saves the file without taking our lock (Emacs) while a transaction is
/// editing it: the save is kept, and the transaction's edit is redone on what was saved.
#[test]
fn a_save_by_a_program_without_the_lock_is_kept_and_the_edit_redone_on_it() {
    let (_dir, path) = copy_fixture("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.edit("msg-20261124-070853-e29f763d", |e| e.set_property("X", "1"))?;
        // The person saves in Emacs meanwhile (a rename, as Emacs does by default).
        let mut saved = fs::read(&path).unwrap();
        saved.extend_from_slice(b"* TODO written in Emacs\n");
        let temp = path.with_extension("emacs-save");
        fs::write(&temp, &saved).unwrap();
        fs::rename(&temp, &path).unwrap();
        Ok(())
    })
    .unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.ends_with("* TODO written in Emacs\n"),
        "the save is kept"
    );
    let doc = file.read().unwrap();
    let entry = doc
        .find_by_id("msg-20261124-070853-e29f763d")
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.property("X").as_deref(),
        Some("1"),
        "the edit is redone"
    );
}

/// When the person changed the very entry the transaction edits, the edit cannot be redone:
/// their save stays as it is, and the transaction says so.
#[test]
fn a_save_that_changed_the_same_entry_wins_and_is_reported() {
    let (_dir, path) = copy_fixture("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let file = OrgFile::new(&path, states());
    let mut saved = Vec::new();
    let err = file
        .transaction(|txn| {
            txn.edit("msg-20261124-070853-e29f763d", |e| e.set_property("X", "1"))?;
            // Saved in place, as Emacs does after its first save.
            let text = fs::read_to_string(&path).unwrap();
            let at = text.find(":ID: msg-20261124-070853-e29f763d").unwrap();
            saved = [&text[..at], ":NOTE: by hand\n  ", &text[at..]]
                .concat()
                .into_bytes();
            fs::write(&path, &saved).unwrap();
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, OrgError::ChangedMeanwhile { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), saved, "the person's save is kept");
}

/// Tags on an Emacs-aligned heading keep their column; removing all tags removes the group;
/// adding tags to a heading without any appends the group.
#[test]
fn tag_edits_keep_emacs_alignment() {
    let (_dir, path) = copy_fixture("emacs/agent-edited-in-emacs.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.edit("org-20261124-070853-3e136109", |e| {
            e.set_tags(&["AI", "research", "urgent"])
        })?;
        txn.edit("org-20261124-070853-7025823a", |e| e.set_tags(&[]))?;
        txn.edit("org-20261124-070853-ef173c07", |e| e.set_tags(&["x"]))
    })
    .unwrap();
    let doc = file.read().unwrap();
    let headings: Vec<String> = doc
        .entries()
        .take(3)
        .map(|e| doc.text(e.ranges().heading_range()).into_owned())
        .collect();
    insta::assert_snapshot!("tag_edits", headings.join("\n"));
    for heading in &headings[..1] {
        assert_eq!(
            heading.chars().count(),
            77,
            "still ends at Emacs's column 77: {heading:?}"
        );
    }
}

/// Moving entries to a file whose write fails loses nothing: the receiving file is written
/// first, so the source keeps its entries when that fails.
#[test]
fn a_failed_move_keeps_the_entries_in_the_source() {
    let (dir, path) = copy_fixture("python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let before = fs::read_to_string(&path).unwrap();
    let archive_path = dir.path().join("archive.org");
    let archive = OrgFile::new(&archive_path, states());
    archive
        .transaction(|txn| txn.append(&message("old", "archived earlier")))
        .unwrap();
    let inbox = OrgFile::new(&path, states());
    let result = OrgFile::transaction_all(&[&inbox, &archive], |txns| {
        for subtree in txns[0].take(&["msg-20261124-070853-f0089658"])? {
            txns[1].append_subtree(&subtree)?;
        }
        // A rewrite of the archive, which then fails: an editor saves it meanwhile, with a
        // change to the same entry (so the edit cannot be redone on the save).
        txns[1].edit("old", |e| e.set_property("X", "1"))?;
        let saved = fs::read_to_string(&archive_path)
            .unwrap()
            .replace("archived earlier", "archived earlier, and noted in Emacs");
        fs::write(&archive_path, saved).unwrap();
        Ok(())
    });
    assert!(
        matches!(result, Err(OrgError::ChangedMeanwhile { .. })),
        "{result:?}"
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        before,
        "the inbox still has the entry"
    );
}

#[test]
fn declare_keywords_adds_one_header_line_and_nothing_else() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("agent.org");
    let original = "-*- mode: org -*-\n#+TITLE: Tasks\n#+TODO: TODO | DONE\nMy notes.\n\n* QUEUED a :AI:\n* ARCHIVED b\n";
    fs::write(&path, original).unwrap();
    let file = OrgFile::new(&path, states());
    let line = file
        .transaction(|txn| txn.declare_keywords(&["QUEUED", "ARCHIVED", "TODO"]))
        .unwrap();
    assert_eq!(line, Some(4));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        original.replace(
            "#+TODO: TODO | DONE\n",
            "#+TODO: TODO | DONE\n#+TODO: QUEUED | ARCHIVED\n"
        )
    );
    // Declared now: nothing to add, and nothing is written (the file is not even replaced).
    let inode = |p: &PathBuf| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
    let before = (fs::read(&path).unwrap(), inode(&path));
    let again = file
        .transaction(|txn| txn.declare_keywords(&["QUEUED", "ARCHIVED"]))
        .unwrap();
    assert_eq!(again, None);
    assert_eq!((fs::read(&path).unwrap(), inode(&path)), before);
    // A keyword that cannot be one is refused before anything is staged.
    let err = file
        .transaction(|txn| txn.declare_keywords(&["NOT|THIS"]))
        .unwrap_err();
    assert!(matches!(err, OrgError::Invalid(_)), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before.0);
}

#[test]
fn declare_keywords_gives_a_file_without_a_header_the_whole_sequence() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    // CRLF and no final newline, text before the first heading: all kept.
    let original = "Notes first.\r\n* TODO [2026-11-24 Tue 10:02] :unread:\r\n  hi";
    fs::write(&path, original).unwrap();
    let file = OrgFile::new(&path, states());
    let line = file
        .transaction(|txn| txn.declare_keywords(&["TODO"]))
        .unwrap();
    assert_eq!(line, Some(2));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!(
            "Notes first.\r\n#+TODO: {STATES}\r\n* TODO [2026-11-24 Tue 10:02] :unread:\r\n  hi"
        )
    );
}

#[test]
fn declare_keywords_refuses_a_file_that_is_not_utf8() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    let original = b"* QUEUED caf\xe9\n".to_vec();
    fs::write(&path, &original).unwrap();
    let file = OrgFile::new(&path, states());
    let err = file
        .transaction(|txn| txn.declare_keywords(&["QUEUED"]))
        .unwrap_err();
    assert!(
        matches!(err, OrgError::InvalidUtf8 { line: 1, .. }),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), original);
}
