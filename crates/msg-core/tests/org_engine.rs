//! The org engine against real files: the fixtures written by the Python original and by
//! Emacs, edits that must leave every other byte alone, and concurrent writers.

use std::fs;
use std::path::{Path, PathBuf};

use assert_fs::TempDir;
use msg_core::org::{Document, NewEntry, OrgError, OrgFile, TodoKeywords};
use time::macros::datetime;

const STATES: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every `.org` fixture, recursively.
fn org_fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "org") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures(), &mut out);
    out.sort();
    assert!(out.len() >= 8, "fixtures missing: {out:?}");
    out
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
