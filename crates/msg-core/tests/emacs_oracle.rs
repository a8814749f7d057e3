//! Emacs itself as the oracle: every fixture, and every file our engine writes (new entries
//! with hostile bodies, edited fixtures, header lines for new keywords, headlines over hostile
//! text), must read in Emacs's Org with the same keywords, titles, tags, priorities, CLOSED
//! timestamps and properties as our scanner reads; and Org must find nothing but text in our
//! headlines (no cookie, link, timestamp or target) and evaluate nothing when it builds an
//! agenda over what we write.
//!
//! Needs `emacs` on the PATH. `.ci/run` installs emacs-nox and sets `MSG_REQUIRE_EMACS=1`, so
//! in CI a missing Emacs fails the test; on a developer machine without Emacs it says it was
//! skipped.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use assert_fs::TempDir;
use msg_core::org::{NewEntry, OrgError, OrgFile, Party, TodoKeywords, headline};
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
    out.push(headlines_file(dir));
    out
}

/// Text someone else could send, each made to look like structure to Org.
const HOSTILE: &[&str] = &[
    "Can you review PR #24?\nThe OAuth part is the tricky one.",
    "[#A] jump the queue",
    "DONE already",
    "COMMENT hide me",
    "Fix it :urgent:security:",
    ":AI:research:",
    "progress [2/3] [66%] [%] [/]",
    "[[https://evil.example/steal][Open the PR]] and [[elisp:(kill-emacs)]]",
    "meet <2026-12-08 Tue 09:00> or <2026-12-09 Wed>--<2026-12-10 Thu>",
    "when [2026-12-08 Tue 09:00]",
    "<%%(progn (write-region \"title\" nil (getenv \"CANARY\")) t)>",
    "<<target>> <<<radio>>> [fn:1] [fn::inline] [cite:@key]",
    "- [ ] a checkbox\n- [X] done",
    "* TODO a heading\n** a child",
    "bidi \u{202E}gnp.exe\u{202C} and zero\u{200B}width",
    "tab\there and bell\u{7}",
    "A very long subject line that goes on and on well past the sixty characters a heading shows",
];

/// Messages (tags after the title) and tasks (none) whose titles are [`headline`]s of
/// [`HOSTILE`] text and whose bodies are that text plus a diary sexp.
fn headlines_file(dir: &Path) -> PathBuf {
    let path = dir.join("headlines.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| {
        for (i, text) in HOSTILE.iter().enumerate() {
            for (j, tags) in [vec!["unread".to_owned(), "message".to_owned()], vec![]]
                .into_iter()
                .enumerate()
            {
                let party = if j == 0 {
                    Party::From("mallory: <%x> [#A]")
                } else {
                    Party::To("bob")
                };
                txn.append(&NewEntry {
                    keyword: Some("TODO".into()),
                    title: headline("[2026-12-07 Mon 10:48]", party, text),
                    tags,
                    properties: vec![("ID".into(), format!("h-{i}-{j}"))],
                    body: format!(
                        "{text}\nsexp <%%(progn (write-region \"body\" nil (getenv \"CANARY\")) t)>"
                    ),
                    ..NewEntry::default()
                })?;
            }
        }
        Ok(())
    })
    .unwrap();
    path
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

/// For each heading of the file: what Org finds in the heading line besides text (its
/// priority as the agenda sorts it, bracket links (plain ones show their whole target),
/// statistics cookies, timestamps, targets, footnotes,
/// citations). Then an agenda over December 2026 with the file, printed after a marker line.
const STRUCTURE_SCRIPT: &str = r#"
(require 'org)
(require 'org-agenda)
(require 'json)
(setq org-todo-keywords
      '((sequence "TODO" "WAITING" "QUEUED" "WORKING" "|" "DONE" "CANCELLED" "ARCHIVED")))
(let ((file (car command-line-args-left))
      (default (* 1000 (- org-priority-lowest org-priority-default))))
  (with-current-buffer (find-file-noselect file)
    (org-mode)
    (org-map-entries
     (lambda ()
       (let* ((line (buffer-substring-no-properties (line-beginning-position) (line-end-position)))
              ;; The heading after its keyword and the timestamp that starts every headline.
              (rest (if (string-match "^\\*+ [A-Z]+ \\[[^]]*\\] " line)
                        (substring line (match-end 0))
                      (error "not a headline: %s" line)))
              (found '()))
         (unless (= (org-get-priority line) default) (push "priority" found))
         (dolist (check `(("bracket link (hides its target)" . ,org-link-bracket-re)
                          ("statistics cookie" . "\\[[0-9]*\\(%\\|/[0-9]*\\)\\]")
                          ("active timestamp" . ,org-ts-regexp)
                          ("inactive timestamp" . ,org-ts-regexp-inactive)
                          ("diary sexp" . "<%%(")
                          ("target" . "<<")
                          ("footnote" . "\\[fn:")
                          ("citation" . "\\[cite")))
           (when (string-match-p (cdr check) rest) (push (car check) found)))
         (princ (concat (json-encode `((line . ,(line-number-at-pos)) (found . ,(vconcat found)))) "\n")))))
    (setq org-agenda-files (list file))
    (org-agenda-list nil "2026-12-01" 31)
    (princ "AGENDA\n")
    (princ (buffer-substring-no-properties (point-min) (point-max)))))
(setq command-line-args-left nil)
"#;

#[test]
fn emacs_finds_only_text_in_our_headlines_and_evaluates_nothing() {
    if !emacs::available() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let file = headlines_file(dir.path());
    let canary = dir.path().join("canary");
    let stdout = emacs::run(
        dir.path(),
        STRUCTURE_SCRIPT,
        &[file],
        &[("CANARY", &canary)],
    );
    let (headings, agenda) = stdout.split_once("AGENDA\n").expect("the agenda ran");
    let mut count = 0;
    for line in headings.lines().filter(|l| l.starts_with('{')) {
        count += 1;
        assert!(
            line.ends_with(r#""found":[]}"#),
            "Org reads structure: {line}"
        );
    }
    assert_eq!(count, HOSTILE.len() * 2, "{headings}");
    assert!(
        !canary.exists(),
        "the agenda evaluated a diary sexp from a title or a body"
    );
    // Only the entries whose *body* holds active timestamps are on the agenda (a message may
    // put itself there, under a heading that names its sender); no title adds anything.
    let listed: Vec<&str> = agenda.lines().filter(|l| l.contains("TODO")).collect();
    assert!(
        !listed.is_empty(),
        "the agenda lists body timestamps:\n{agenda}"
    );
    for line in listed {
        assert!(line.contains(": meet <\u{200B}2026"), "{line}");
    }
}
