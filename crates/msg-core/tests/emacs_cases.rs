//! Every way of reading a file differently from Emacs that issue 15 found, as a regression
//! test: what we read (written out here, as Emacs 28 / Org 9.5 reads it), what our writes do
//! with such a file, and, where Emacs runs, that Emacs reads each file (before and after our
//! writes) as we do.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_fs::TempDir;
use msg_core::org::{Document, DrawerProblem, Eol, NewEntry, OrgError, OrgFile, TodoKeywords};
use time::macros::datetime;

use common::STATES;
use common::emacs::{self, Heading};

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

fn doc(text: &[u8]) -> Document {
    Document::parse(text.to_vec(), &states())
}

/// One entry as we read it: keyword, title, tags, properties.
type Read = (String, String, Vec<String>, Vec<(String, String)>);

/// A line of a property drawer, what is wrong with it, and the problem it must be reported as.
type DrawerCase = (&'static str, &'static str, fn(&DrawerProblem) -> bool);

/// What we read of every entry.
fn reading(text: &[u8]) -> Vec<Read> {
    let doc = doc(text);
    doc.entries()
        .map(|e| {
            (
                e.keyword().unwrap_or_default().into_owned(),
                e.title().into_owned(),
                e.tags().into_iter().map(|t| t.into_owned()).collect(),
                e.properties()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            )
        })
        .collect()
}

fn entry(keyword: &str, title: &str, tags: &[&str], properties: &[(&str, &str)]) -> Read {
    (
        keyword.to_owned(),
        title.to_owned(),
        tags.iter().map(|t| (*t).to_owned()).collect(),
        properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

const HEADER: &str = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// Every file of `dir` read by Emacs and by us: the same.
fn emacs_agrees(dir: &Path) {
    if !emacs::available() {
        return;
    }
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "org"))
        .collect();
    files.sort();
    let theirs = emacs::read(dir, &files);
    for file in &files {
        let name = file.display().to_string();
        let emacs: Vec<&Heading> = theirs.iter().filter(|h| h.file == name).collect();
        let ours = emacs::ours(file);
        assert_eq!(emacs.len(), ours.len(), "{name}: heading counts");
        for (e, o) in emacs.iter().zip(&ours) {
            assert_eq!(**e, *o, "{name}");
        }
    }
}

// Issue 15, item 3: property lines Emacs rejects make it ignore the whole drawer.
#[test]
fn property_lines_emacs_rejects_hide_the_whole_drawer() {
    let dir = TempDir::new().unwrap();
    let cases: [DrawerCase; 4] = [
        ("  : note: x", "blank after the first colon", |p| {
            matches!(p, DrawerProblem::ContinuationLine { line: 4 })
        }),
        ("  :\tFROM: ana", "TAB after the first colon", |p| {
            matches!(p, DrawerProblem::TabAfterColon { line: 4 })
        }),
        ("  :FR\rOM: ana", "CR inside the key", |p| {
            matches!(p, DrawerProblem::WhitespaceInKey { line: 4 })
        }),
        ("  :FROM:\tana", "TAB before the value", |p| {
            matches!(p, DrawerProblem::TabBeforeValue { line: 4 })
        }),
    ];
    for (n, (line, what, problem)) in cases.into_iter().enumerate() {
        let text =
            format!("{HEADER}* TODO message\n  :PROPERTIES:\n{line}\n  :ID: msg-1\n  :END:\n");
        assert_eq!(
            reading(text.as_bytes()),
            [entry("TODO", "message", &[], &[])],
            "{what}: no ID, no property"
        );
        let problems = doc(text.as_bytes()).drawer_problems();
        assert!(problem(&problems[0].problem), "{what}: {problems:?}");
        let path = write(dir.path(), &format!("property-{n}.org"), text.as_bytes());
        let err = OrgFile::new(&path, states())
            .transaction(|txn| txn.edit("msg-1", |e| e.set_property("X", "1")))
            .unwrap_err();
        assert!(matches!(err, OrgError::NotFound { .. }), "{what}: {err}");
    }
    emacs_agrees(dir.path());
}

// Item 4: a TAB before the keyword.
#[test]
fn a_tab_before_the_keyword_leaves_no_keyword() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}* \tTODO tab first\n  :PROPERTIES:\n  :ID: t1\n  :END:\n");
    assert_eq!(
        reading(text.as_bytes()),
        [entry("", "\tTODO tab first", &[], &[("ID", "t1")])]
    );
    let path = write(dir.path(), "tab.org", text.as_bytes());
    OrgFile::new(&path, states())
        .transaction(|txn| {
            txn.edit("t1", |e| {
                e.set_keyword("DONE", datetime!(2026-11-24 10:02 +01:00))
            })
        })
        .unwrap();
    let written = fs::read_to_string(&path).unwrap();
    assert!(written.contains("* DONE \tTODO tab first\n"), "{written}");
    emacs_agrees(dir.path());
}

// Item 5: a UTF-8 byte order mark.
#[test]
fn a_byte_order_mark_is_not_part_of_the_first_line() {
    let dir = TempDir::new().unwrap();
    let bom = "\u{feff}";
    // Before `#+TODO:`: the header counts, and an edit adds no second one.
    let text = format!(
        "{bom}#+TODO: TODO QUEUED | DONE\n* TODO one\n  :PROPERTIES:\n  :ID: b1\n  :END:\n"
    );
    assert_eq!(
        doc(text.as_bytes()).declared_keywords().sequences().len(),
        1
    );
    let path = write(dir.path(), "bom-header.org", text.as_bytes());
    OrgFile::new(&path, states())
        .transaction(|txn| {
            txn.edit("b1", |e| {
                e.set_keyword("QUEUED", datetime!(2026-11-24 10:02 +01:00))
            })
        })
        .unwrap();
    let written = fs::read_to_string(&path).unwrap();
    assert_eq!(written.matches("#+TODO:").count(), 1, "{written}");
    assert!(written.starts_with(bom));
    // Before the first heading: the entry is there, and the header an edit needs goes
    // after the mark, at the start of the first line.
    let text = format!("{bom}* TODO first\n  :PROPERTIES:\n  :ID: b2\n  :END:\n");
    assert_eq!(
        reading(text.as_bytes()),
        [entry("TODO", "first", &[], &[("ID", "b2")])]
    );
    let path = write(dir.path(), "bom-heading.org", text.as_bytes());
    OrgFile::new(&path, TodoKeywords::parse("TODO | DONE"))
        .transaction(|txn| txn.declare_keywords(&["REVIEWED"]).map(drop))
        .unwrap();
    let written = fs::read_to_string(&path).unwrap();
    assert!(
        written.starts_with(&format!("{bom}#+TODO: TODO | DONE\n* TODO first")),
        "{written:?}"
    );
    emacs_agrees(dir.path());
}

// Item 6: line endings, decided for the whole file.
#[test]
fn line_endings_are_read_and_kept_as_emacs_decides_them() {
    let dir = TempDir::new().unwrap();
    // CRLF with one LF entry: Emacs reads it all as Unix, so the CRLF drawers are ignored.
    let crlf = "* TODO crlf\r\n  :PROPERTIES:\r\n  :ID: c1\r\n  :END:\r\n";
    let text = format!(
        "{}{crlf}* TODO lf\n  :PROPERTIES:\n  :ID: c2\n  :END:\n",
        HEADER.replace('\n', "\r\n")
    );
    let read = doc(text.as_bytes());
    assert_eq!(read.line_endings(), Eol::Unix);
    assert_eq!(read.lines_ending_in_cr(), [1, 2, 3, 4, 5]);
    assert_eq!(
        reading(text.as_bytes()),
        [
            entry("TODO", "crlf\r", &[], &[]),
            entry("TODO", "lf", &[], &[("ID", "c2")])
        ]
    );
    let path = write(dir.path(), "mixed.org", text.as_bytes());
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        txn.append(&NewEntry {
            keyword: Some("TODO".into()),
            title: "appended".into(),
            properties: vec![("ID".into(), "c3".into())],
            ..NewEntry::default()
        })
    })
    .unwrap();
    let written = fs::read(&path).unwrap();
    assert!(written.ends_with(b"* TODO appended\n  :PROPERTIES:\n  :ID: c3\n  :END:\n"));
    assert_eq!(doc(&written).line_endings(), Eol::Unix);
    // CR only: two entries for Emacs and for us, and never written.
    let text = format!("{}* TODO one\r* DONE two\r", HEADER.replace('\n', "\r"));
    assert_eq!(
        reading(text.as_bytes()),
        [
            entry("TODO", "one", &[], &[]),
            entry("DONE", "two", &[], &[])
        ]
    );
    let path = write(dir.path(), "mac.org", text.as_bytes());
    let file = OrgFile::new(&path, states());
    let err = file
        .transaction(|txn| {
            txn.append(&NewEntry {
                keyword: Some("TODO".into()),
                title: "x".into(),
                ..NewEntry::default()
            })
        })
        .unwrap_err();
    assert!(matches!(err, OrgError::MacLineEndings { .. }), "{err}");
    let err = file
        .transaction(|txn| txn.edit_at(0, |e| e.set_tags(&["t"])))
        .unwrap_err();
    assert!(matches!(err, OrgError::MacLineEndings { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), text.as_bytes());
    emacs_agrees(dir.path());
}

// Item 7: Org's own tag characters.
#[test]
fn tags_use_orgs_character_class() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "{HEADER}* TODO size :größe:\n  :PROPERTIES:\n  :ID: g1\n  :END:\n* TODO square :x²:\n* TODO accent :a:e\u{301}:b:\n"
    );
    assert_eq!(
        reading(text.as_bytes()),
        [
            entry("TODO", "size", &["größe"], &[("ID", "g1")]),
            entry("TODO", "square :x²:", &[], &[]),
            entry("TODO", "accent", &["a", "e\u{301}", "b"], &[]),
        ]
    );
    let path = write(dir.path(), "tags.org", text.as_bytes());
    // Adding a tag keeps the one Org read, whatever its letters.
    OrgFile::new(&path, states())
        .transaction(|txn| txn.edit("g1", |e| e.set_tags(&["unread", "größe"])))
        .unwrap();
    assert!(
        fs::read_to_string(&path)
            .unwrap()
            .contains("* TODO size :unread:größe:\n")
    );
    emacs_agrees(dir.path());
}

// Item 8: keyword lines in blocks, planning in any case, `:KEY+:`, key case, special keys.
#[test]
fn blocks_planning_extensions_and_special_keys_read_as_in_emacs() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "{HEADER}#+BEGIN_SRC org\n#+TODO: HIDDEN | GONE\n#+END_SRC\n\
         * HIDDEN is a title\n\
         * TODO lower-case planning\n  scheduled: <2026-11-25 Wed>\n  :PROPERTIES:\n  :ID: p1\n  :from: a@x\n  :FROM+: b@x\n  :Todo: X\n  :TAGS: y\n  :item: z\n  :END:\n"
    );
    assert_eq!(
        reading(text.as_bytes()),
        [
            entry("", "HIDDEN is a title", &[], &[]),
            entry(
                "TODO",
                "lower-case planning",
                &[],
                &[("ID", "p1"), ("FROM", "a@x b@x")]
            ),
        ]
    );
    let read = doc(text.as_bytes());
    let p1 = read.find_by_id("p1").unwrap().unwrap();
    assert_eq!(p1.property("from").as_deref(), Some("a@x b@x"));
    assert_eq!(p1.property("TODO"), None);
    assert_eq!(p1.scheduled().as_deref(), Some("<2026-11-25 Wed>"));
    write(dir.path(), "special.org", text.as_bytes());
    // Found by the fuzzer (seed 3): Org's keyword key runs to the last colon before the first
    // blank, so this line declares nothing (its key is `TODO::tag`).
    let text = "#+TODO::tag: NEXT | FINISHED\n* NEXT is a title\n";
    assert_eq!(
        reading(text.as_bytes()),
        [entry("", "NEXT is a title", &[], &[])]
    );
    write(dir.path(), "keyword-key.org", text.as_bytes());
    emacs_agrees(dir.path());
}

// Item 9 (the engine's part): an entry whose keyword was mistyped has no keyword, and says
// what stands in its place.
#[test]
fn a_mistyped_keyword_is_a_title_word_that_looks_like_one() {
    let text =
        format!("{HEADER}* QUEUD Summarise the report\n  :PROPERTIES:\n  :ID: task-1\n  :END:\n");
    let read = doc(text.as_bytes());
    let entry = read.find_by_id("task-1").unwrap().unwrap();
    assert_eq!(entry.keyword(), None);
    assert_eq!(entry.keyword_like().as_deref(), Some("QUEUD"));
    let text = format!("{HEADER}* Summarise the report\n");
    assert_eq!(doc(text.as_bytes()).entry(0).keyword_like(), None);
}
