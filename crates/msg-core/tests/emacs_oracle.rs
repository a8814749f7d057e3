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
use std::process::Command;

use assert_fs::TempDir;
use msg_core::org::{Document, NewEntry, OrgError, OrgFile, Party, TodoKeywords, headline};
use serde::Deserialize;
use time::macros::datetime;

use common::{STATES, org_fixtures};

/// Prints one JSON object per heading of each file given on the command line. JSON is
/// valid YAML, so the test reads it with serde_yaml.
const SCRIPT: &str = r#"
(require 'org)
(require 'json)
(setq org-todo-keywords
      '((sequence "TODO" "WAITING" "QUEUED" "WORKING" "|" "DONE" "CANCELLED" "ARCHIVED")))
(dolist (file command-line-args-left)
  (with-current-buffer (find-file-noselect file)
    (org-mode)
    (org-map-entries
     (lambda ()
       (let* ((props (seq-filter
                      (lambda (p) (not (member (car p) '("CATEGORY" "FILE" "BLOCKED" "ITEM" "TODO" "TAGS" "ALLTAGS" "PRIORITY" "TIMESTAMP_IA" "TIMESTAMP" "CLOSED" "DEADLINE" "SCHEDULED" "CLOCKSUM" "CLOCKSUM_T"))))
                      (org-entry-properties nil 'standard)))
              (priority (org-element-property :priority (org-element-at-point))))
         (princ (concat
                 (json-encode
                  `((file . ,file)
                    (line . ,(line-number-at-pos))
                    (level . ,(org-current-level))
                    (todo . ,(or (substring-no-properties (or (org-get-todo-state) "")) ""))
                    (priority . ,(if priority (char-to-string priority) ""))
                    (title . ,(substring-no-properties (org-get-heading t t t t)))
                    (tags . ,(vconcat (mapcar #'substring-no-properties (org-get-tags nil t))))
                    (closed . ,(or (org-entry-get nil "CLOSED") ""))
                    (properties . ,(vconcat (mapcar (lambda (p) (vector (car p) (substring-no-properties (cdr p)))) props)))))
                 "\n")))))))
(setq command-line-args-left nil)
"#;

#[derive(Debug, Deserialize, PartialEq)]
struct Heading {
    file: String,
    line: usize,
    level: usize,
    todo: String,
    priority: String,
    title: String,
    tags: Vec<String>,
    closed: String,
    properties: Vec<(String, String)>,
}

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

/// What our scanner reads, in the same shape as Emacs's output.
fn ours(path: &Path) -> Vec<Heading> {
    let doc = Document::parse(fs::read(path).unwrap(), &states());
    doc.entries()
        .map(|e| {
            let mut properties: Vec<(String, String)> = e
                .properties()
                .map(|(k, v)| (k.to_uppercase(), v.into_owned()))
                // Org treats PRIORITY as special: it reads the `[#A]` cookie and ignores a
                // `:PRIORITY:` drawer line (DESIGN.md §3). We read the line, because the
                // Python original wrote priorities there; the cookie is compared above.
                .filter(|(k, _)| k != "PRIORITY")
                .collect();
            properties.sort();
            Heading {
                file: path.display().to_string(),
                line: e.line(),
                level: e.level(),
                todo: e.keyword().unwrap_or_default().into_owned(),
                priority: e.priority().map(String::from).unwrap_or_default(),
                title: e.title().into_owned(),
                tags: e.tags().into_iter().map(|t| t.into_owned()).collect(),
                closed: e.closed().unwrap_or_default().into_owned(),
                properties,
            }
        })
        .collect()
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

/// Whether Emacs can run; when it cannot, the caller says it skipped (or fails when CI
/// requires Emacs).
fn emacs_available() -> bool {
    if Command::new("emacs").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("MSG_REQUIRE_EMACS").is_none(),
        "MSG_REQUIRE_EMACS is set but emacs is not installed (apt-get install emacs-nox)"
    );
    eprintln!("skipped: emacs is not installed (apt-get install emacs-nox to run this check)");
    false
}

/// Runs `script` (written into `dir`) in `emacs -Q --batch` on `files` with `env`; its
/// stdout. Fails the test when Emacs fails.
fn run_emacs(dir: &Path, script: &str, files: &[PathBuf], env: &[(&str, &Path)]) -> String {
    let path = dir.join("script.el");
    fs::write(&path, script).unwrap();
    let output = Command::new("emacs")
        .args(["-Q", "--batch", "-l"])
        .arg(&path)
        .args(files)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "emacs failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn emacs_reads_fixtures_and_our_writes_as_we_do() {
    if !emacs_available() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut files = org_fixtures();
    files.extend(written_files(dir.path()));
    let stdout = run_emacs(dir.path(), SCRIPT, &files, &[]);
    let mut emacs: Vec<Heading> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_yaml::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for heading in &mut emacs {
        heading.properties.sort();
    }
    let expected: Vec<Heading> = files.iter().flat_map(|f| ours(f)).collect();
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
    if !emacs_available() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let file = headlines_file(dir.path());
    let canary = dir.path().join("canary");
    let stdout = run_emacs(
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
