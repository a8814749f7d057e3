//! The fast path (an [`Outline`] and edits that scan only their entry's section) against the
//! full path (a [`Document`] indexing every entry): on every fixture and on hand-made hostile
//! files, both must read every entry the same, find every ID the same (duplicates included)
//! and write byte-identical files, or fail with the same error.

mod common;

use std::fs;
use std::path::Path;

use assert_fs::TempDir;
use msg_core::org::{Document, EntryEditor, OrgError, OrgFile, Outline, TodoKeywords};
use time::macros::datetime;

use common::{STATES, org_fixtures};

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

/// Hand-made files with what the fast path must not get wrong.
fn hostile_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "ID text outside ID lines, two ID properties, lowercase key, padded value",
            b"#+TODO: TODO | DONE\n:ID: pre\n* TODO one\n  :PROPERTIES:\n  :ID: a1\n  :ID: b2\n  :END:\n  a1 in the body; :ID: a1 forged in the body\n* TODO two :unread:\n  :PROPERTIES:\n  :REPLY_TO: a1\n  :id:    b2   \n  :END:\n** DONE child\n   :PROPERTIES:\n   :ID: c3\n   :END:\n* three\n:ID: a1\n"
                .to_vec(),
        ),
        (
            "duplicate IDs",
            b"* TODO x\n  :PROPERTIES:\n  :ID: dup\n  :END:\n* TODO y\n  :PROPERTIES:\n  :ID: dup\n  :END:\n* TODO z\n  :PROPERTIES:\n  :ID: solo\n  :END:\n"
                .to_vec(),
        ),
        (
            "CRLF, keyword line after the headings, no final newline",
            b"* NEXT a\r\n  :PROPERTIES:\r\n  :ID: n1\r\n  :END:\r\n#+TODO: NEXT | FINISHED\r\n* FINISHED b\r\n  CLOSED: [2026-01-01 Thu 10:00]\r\n  :PROPERTIES:\r\n  :ID: f2\r\n  :END:\r\n  :LOGBOOK:\r\n  - note\r\n  :END:\r\n* TODO c\r\n  :PROPERTIES:\r\n  :ID: t3\r\n  :END:\r\n  body"
                .to_vec(),
        ),
        (
            "drawers Emacs ignores, a drawer not directly after the heading, odd headings",
            b"*not a heading\n* TODO broken\n  :PROPERTIES:\n  not a property\n  :ID: g1\n  :END:\n* TODO late\n  text first\n  :PROPERTIES:\n  :ID: g2\n  :END:\n*** TODO deep\n  :PROPERTIES:\n  :ID: g3\n  :END:\n* \n  :PROPERTIES:\n  :ID: g4\n  :END:\n* TODO unclosed\n  :PROPERTIES:\n  :ID: g5\n"
                .to_vec(),
        ),
        (
            "keywords at the edges of a heading line",
            b"* TODO\r\n* DONE\n*\tTODO tab before\n* TODO\ttab after\n*  WAITING  two blanks\n* [#A] TODO not first\n* TODO\rX\n** QUEUED :tag:\n* DONE"
                .to_vec(),
        ),
        (
            "long lines repeating an ID and `#+`",
            [
                &b"#+TODO: NEXT | FINISHED #+TODO: X | Y\n* NEXT rep\n  :PROPERTIES:\n  :ID: rep\n  :END:\n  "[..],
                &b"rep #+ ".repeat(300),
                b"\n  #+TODO: LATE | GONE ",
                &b"#+".repeat(300),
                b"\n* FINISHED other\n  :PROPERTIES:\n  :REPLY_TO: rep\n  :ID: other\n  :END:\n",
            ]
            .concat(),
        ),
        (
            "invalid UTF-8 outside the entry",
            b"* TODO ok\n  :PROPERTIES:\n  :ID: u1\n  :END:\n* TODO bad \xff\xfe\n  :PROPERTIES:\n  :ID: u2\n  :END:\n"
                .to_vec(),
        ),
    ]
}

fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = org_fixtures()
        .into_iter()
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect();
    files.extend(
        hostile_files()
            .into_iter()
            .map(|(name, bytes)| (name.to_owned(), bytes)),
    );
    files
}

/// Every word-like token of the file: all IDs, and text that is not an ID.
fn candidate_ids(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut ids: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ':')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    ids.push(String::new());
    ids.push("missing-id".to_owned());
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn an_outline_reads_every_entry_as_the_full_scan_does() {
    for (name, bytes) in all_files() {
        let doc = Document::parse(bytes.clone(), &states());
        let outline = Outline::parse(bytes.clone(), &states());
        assert_eq!(outline.len(), doc.len(), "{name}");
        assert_eq!(outline.keywords(), doc.keywords(), "{name}");
        assert_eq!(
            outline.declared_keywords(),
            doc.declared_keywords(),
            "{name}"
        );
        assert_eq!(outline.eol(), doc.eol(), "{name}");
        assert_eq!(outline.invalid_utf8(), doc.invalid_utf8(), "{name}");
        for index in 0..doc.len() {
            let full = doc.entry(index);
            let scanned = outline.entry(index);
            let light = scanned.get();
            assert_eq!(light.ranges(), full.ranges(), "{name}: entry {index}");
            assert_eq!(light.index(), index);
            assert_eq!(outline.line(index), full.line(), "{name}: entry {index}");
            assert_eq!(outline.keyword(index), full.keyword(), "{name}: {index}");
            for tag in ["unread", "message", "x", ""] {
                assert_eq!(outline.has_tag(index, tag), full.has_tag(tag), "{name}");
            }
            assert_eq!(light.body_text(), full.body_text());
            assert_eq!(
                light.properties().collect::<Vec<_>>(),
                full.properties().collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn an_outline_finds_every_id_as_the_full_scan_does() {
    let mut duplicates = 0;
    let mut found = 0;
    for (name, bytes) in all_files() {
        let doc = Document::parse(bytes.clone(), &states());
        let outline = Outline::parse(bytes.clone(), &states());
        for id in candidate_ids(&bytes) {
            let full = doc.find_by_id(&id).map(|e| e.map(|e| e.index()));
            let fast = outline.find_by_id(&id);
            assert_eq!(fast, full, "{name}: ID {id:?}");
            match full {
                Err(_) => duplicates += 1,
                Ok(Some(_)) => found += 1,
                Ok(None) => {}
            }
        }
    }
    // The comparison covered both outcomes that matter.
    assert!(duplicates >= 2, "{duplicates}");
    assert!(found >= 30, "{found}");
}

#[test]
fn an_outline_finds_entries_by_property_as_the_full_scan_does() {
    let mut found = 0;
    for (name, bytes) in all_files() {
        let doc = Document::parse(bytes.clone(), &states());
        let outline = Outline::parse(bytes.clone(), &states());
        let mut pairs: Vec<(String, String)> = doc
            .entries()
            .flat_map(|e| {
                e.properties()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs.push(("TO".into(), "nobody-at-all".into()));
        for (key, value) in pairs {
            for key in [key.clone(), key.to_lowercase()] {
                let full: Vec<usize> = doc
                    .entries()
                    .filter(|e| e.property(&key).as_deref() == Some(value.as_str()))
                    .map(|e| e.index())
                    .collect();
                let fast = outline.find_by_property(&key, &value, |_| true);
                assert_eq!(fast, full, "{name}: {key}: {value:?}");
                found += fast.len();
                // The candidate test narrows the result and nothing else.
                let odd = outline.find_by_property(&key, &value, |index| index % 2 == 1);
                let full_odd: Vec<usize> = full.iter().copied().filter(|i| i % 2 == 1).collect();
                assert_eq!(odd, full_odd, "{name}: {key}: {value:?}");
            }
        }
    }
    assert!(found >= 100, "{found}");
}

type Edit = fn(&mut EntryEditor<'_>) -> Result<(), OrgError>;

fn edits() -> Vec<(&'static str, Edit)> {
    vec![
        ("set a property", |e| e.set_property("BENCH_NOTE", "x")),
        ("change a property", |e| {
            e.set_property("FROM", "someone-else")
        }),
        ("remove a property", |e| e.remove_property("FROM").map(drop)),
        ("keyword to DONE", |e| {
            e.set_keyword("DONE", datetime!(2026-11-24 10:02 +01:00))
        }),
        ("keyword to TODO", |e| {
            e.set_keyword("TODO", datetime!(2026-11-24 10:02 +01:00))
        }),
        ("undeclared keyword", |e| {
            e.set_keyword("WORKING", datetime!(2026-11-24 10:02 +01:00))
        }),
        ("tags", |e| e.set_tags(&["x", "y"])),
        ("several", |e| {
            e.set_property("X_TEST", "one")?;
            e.set_tags(&[])?;
            e.set_keyword("ARCHIVED", datetime!(2026-11-24 10:02 +01:00))?;
            e.set_property("X_TEST", "two")
        }),
        ("nothing", |_| Ok(())),
    ]
}

/// Runs `edit` on a copy of `bytes`, by ID (`full`: after reading the whole document, which
/// takes the full path) or by index; returns the file afterwards or the error.
fn run(
    dir: &Path,
    bytes: &[u8],
    target: Target<'_>,
    full: bool,
    edit: Edit,
) -> Result<Vec<u8>, String> {
    let path = dir.join("f.org");
    fs::write(&path, bytes).unwrap();
    let file = OrgFile::new(&path, states());
    let result = file.transaction(|txn| {
        match target {
            Target::Id(id) => {
                if full {
                    txn.document()?;
                }
                txn.edit(id, |e| {
                    let line = e.line();
                    edit(e).map(|()| line)
                })
            }
            Target::Index(index) => {
                if full {
                    txn.document()?;
                } else {
                    txn.outline()?;
                }
                txn.edit_at(index, |e| {
                    let line = e.line();
                    edit(e).map(|()| line)
                })
            }
        }
        .map(drop)
    });
    let after = read(&path);
    match result {
        Ok(()) => Ok(after),
        Err(e) => {
            assert_eq!(after, bytes, "a failed edit wrote the file");
            Err(e.to_string())
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Target<'a> {
    Id(&'a str),
    Index(usize),
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

#[test]
fn fast_and_full_edits_write_identical_bytes_for_every_entry() {
    let mut compared = 0;
    for (name, bytes) in all_files() {
        let doc = Document::parse(bytes.clone(), &states());
        let mut targets: Vec<Target<'_>> = (0..doc.len()).map(Target::Index).collect();
        let ids: Vec<String> = candidate_ids(&bytes);
        targets.extend(ids.iter().map(|id| Target::Id(id)));
        for target in targets {
            if let Target::Id(id) = target
                && matches!(doc.find_by_id(id), Ok(None))
                && id != "missing-id"
            {
                continue; // not an ID: "missing-id" stands for all of them
            }
            for (what, edit) in edits() {
                // One directory, so that errors name the same path.
                let dir = TempDir::new().unwrap();
                let fast = run(dir.path(), &bytes, target, false, edit);
                let full = run(dir.path(), &bytes, target, true, edit);
                assert_eq!(
                    fast.as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned()),
                    full.as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned()),
                    "{name}: {target:?}: {what}"
                );
                assert_eq!(fast, full, "{name}: {target:?}: {what}");
                compared += 1;
            }
        }
    }
    assert!(compared > 1_000, "{compared}");
}

#[test]
fn the_fast_path_reports_the_editors_line_in_the_file() {
    let bytes = &hostile_files()[0].1;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("f.org");
    fs::write(&path, bytes).unwrap();
    let file = OrgFile::new(&path, states());
    let line = file
        .transaction(|txn| txn.edit("c3", |e| Ok(e.line())))
        .unwrap();
    assert_eq!(line, 14);
}

#[test]
fn a_second_change_in_one_transaction_sees_the_first() {
    // The fast path stages one section; a second edit, a read of the document or an append
    // continue on the full path with that section applied.
    let bytes = &hostile_files()[1].1;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("f.org");
    fs::write(&path, bytes).unwrap();
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.edit("solo", |e| e.set_property("A", "1"))?;
        txn.edit("solo", |e| e.set_property("B", "2"))?;
        let doc = txn.document()?;
        let entry = doc.find_by_id("solo").unwrap().unwrap();
        assert_eq!(entry.property("A").as_deref(), Some("1"));
        let outline = txn.outline()?;
        let index = outline.find_by_id("solo").unwrap().unwrap();
        assert_eq!(
            outline.entry(index).get().property("B").as_deref(),
            Some("2")
        );
        Ok(())
    })
    .unwrap();
    let doc = Document::parse(read(&path), &states());
    let entry = doc.find_by_id("solo").unwrap().unwrap();
    assert_eq!(entry.property("A").as_deref(), Some("1"));
    assert_eq!(entry.property("B").as_deref(), Some("2"));
}

#[test]
fn a_save_without_the_lock_during_a_fast_edit_is_never_overwritten() {
    let bytes = &hostile_files()[1].1;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("f.org");
    fs::write(&path, bytes).unwrap();
    let file = OrgFile::new(&path, states());
    let result = file.transaction(|txn| {
        txn.edit("solo", |e| e.set_property("A", "1"))?;
        // An editor saves the file meanwhile (a new file renamed over it, as Emacs does).
        let saved = dir.path().join("saved.org");
        fs::write(&saved, b"* TODO saved by a person\n").unwrap();
        fs::rename(&saved, &path).unwrap();
        Ok(())
    });
    assert!(
        matches!(result, Err(OrgError::ChangedMeanwhile { .. })),
        "{result:?}"
    );
    assert_eq!(read(&path), b"* TODO saved by a person\n");
}
