//! The org engine end to end, on real files.
//!
//! With no arguments: copies the Emacs-edited inbox fixture (CRLF-free, aligned tags, a
//! person's notes, text before the first heading) into a fresh temporary root, appends a
//! message, marks another one read, and shows that every byte outside the two touched entries
//! is unchanged.
//!
//! With file arguments: scans each org file and reports entries, keywords, duplicate IDs,
//! property drawers Emacs ignores and invalid UTF-8, without writing anything.
//!
//! ```text
//! cargo run -p msg-core --example engine
//! cargo run -p msg-core --example engine -- ~/Data/0-personal/org/messaging/inbox.org
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use msg_core::id::{IdKind, new_id};
use msg_core::org::{Document, NewEntry, OrgFile, TodoKeywords};
use msg_core::timestamp;

const STATES: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";

fn main() -> ExitCode {
    timestamp::init_local_offset(None);
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.iter().any(|f| f == "--help" || f == "-h") {
        println!(
            "usage: engine [FILE.org ...]\n\nWithout files: a demo on a copy of the bundled Emacs fixture in a temporary directory.\nWith files: scan each and report what the engine reads, without writing."
        );
        return ExitCode::SUCCESS;
    }
    let result = if files.is_empty() {
        demo()
    } else {
        files.iter().try_for_each(|f| report(f))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn report(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let doc = OrgFile::new(path, TodoKeywords::parse(STATES)).read()?;
    println!(
        "{}: {} bytes, {} entries, {}",
        path.display(),
        doc.bytes().len(),
        doc.len(),
        if doc.is_crlf() { "CRLF" } else { "LF" }
    );
    for entry in doc.entries() {
        println!(
            "  {:>5}  {}{} {}{}  {}",
            entry.line(),
            "*".repeat(entry.level()),
            entry.keyword().map(|k| format!(" {k}")).unwrap_or_default(),
            entry.title(),
            match entry.tags().as_slice() {
                [] => String::new(),
                tags => format!("  :{}:", tags.join(":")),
            },
            entry.id().unwrap_or_default(),
        );
    }
    for dup in doc.duplicate_ids() {
        println!(
            "  warning: ID {} is on lines {} and {}",
            dup.id, dup.first_line, dup.second_line
        );
    }
    for line in doc.ignored_drawers() {
        println!("  warning: line {line}: a property drawer that Emacs ignores");
    }
    if let Some(bad) = doc.invalid_utf8() {
        println!(
            "  warning: line {}: not UTF-8; the engine will not write to this file",
            bad.line
        );
    }
    Ok(())
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let fixture = include_bytes!("../../../fixtures/emacs/inbox-edited-in-emacs.org");
    let root = std::env::temp_dir().join(format!("msg-core-demo-{}", std::process::id()));
    let path = root.join("0-personal/org/messaging/inbox.org");
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    std::fs::write(&path, fixture)?;
    println!(
        "1. A copy of an inbox a person edited in Emacs: {}",
        path.display()
    );
    report(&path)?;

    let inbox = OrgFile::new(&path, TodoKeywords::parse(STATES));
    let at = timestamp::now_local();
    let id = new_id(IdKind::Message, b"gregor:tex:demo", at);
    inbox.transaction(|txn| {
        txn.append(&NewEntry {
            keyword: Some("TODO".into()),
            title: timestamp::format_inactive(at),
            tags: vec!["unread".into(), "message".into()],
            properties: vec![
                ("ID".into(), id.clone()),
                ("FROM".into(), "gregor".into()),
                ("TO".into(), "tex@team.example.com".into()),
                ("CREATED".into(), timestamp::format_inactive(at)),
            ],
            body: "Reviewed. One question:\n* is this a heading? (no: bodies cannot forge entries)"
                .into(),
            ..NewEntry::default()
        })?;
        txn.edit("msg-20261124-070853-e29f763d", |entry| {
            entry.set_keyword("DONE", at)?;
            entry.set_tags(&["message"])
        })
    })?;
    println!(
        "\n2. Appended {id} and marked msg-20261124-070853-e29f763d read, in one locked transaction."
    );
    report(&path)?;

    let after = std::fs::read(&path)?;
    let before_doc = Document::parse(fixture.to_vec(), &TodoKeywords::parse(STATES));
    let touched = before_doc
        .find_by_id("msg-20261124-070853-e29f763d")?
        .expect("in the fixture");
    let range = touched.ranges().section_range();
    let after_doc = Document::parse(after.clone(), &TodoKeywords::parse(STATES));
    let new_range = after_doc
        .find_by_id("msg-20261124-070853-e29f763d")?
        .expect("still there")
        .ranges()
        .section_range();
    let prefix_same = after[..range.start] == fixture[..range.start];
    let middle_same =
        after[new_range.end..new_range.end + (fixture.len() - range.end)] == fixture[range.end..];
    println!(
        "\n3. Bytes before the edited entry unchanged: {prefix_same}; bytes after it (up to the appended entry) unchanged: {middle_same}."
    );
    println!(
        "\n4. The edited entry now reads:\n{}",
        String::from_utf8_lossy(&after[new_range])
    );
    std::fs::remove_dir_all(&root)?;
    if prefix_same && middle_same {
        Ok(())
    } else {
        Err("the guard should have prevented this: bytes outside the edited entry changed".into())
    }
}
