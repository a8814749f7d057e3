//! Emacs (Org 9.5) as the oracle: a script that prints how Emacs reads every heading of
//! the files it is given, and our reading in the same shape.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use msg_core::org::{Document, TodoKeywords};
use serde::Deserialize;

use super::STATES;

/// Prints one JSON object per heading of each file given on the command line. JSON is
/// valid YAML, so the test reads it with serde_yaml.
pub(crate) const SCRIPT: &str = r#"
(require 'org)
(require 'json)
(setq org-todo-keywords
      '((sequence "TODO" "WAITING" "QUEUED" "WORKING" "|" "DONE" "CANCELLED" "ARCHIVED")))
(dolist (file command-line-args-left)
  (with-current-buffer (find-file-noselect file)
    (org-mode)
    ;; Each heading in turn, as `org-map-entries' would visit them, without its agenda
    ;; preparation (which fails on a property such as a malformed Effort).
    (goto-char (point-min))
    (while (re-search-forward org-outline-regexp-bol nil t)
      (save-excursion
       (beginning-of-line)
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
                    (title . ,(substring-no-properties (org-get-heading t t t nil)))
                    (tags . ,(vconcat (mapcar #'substring-no-properties (org-get-tags nil t))))
                    (closed . ,(or (org-entry-get nil "CLOSED") ""))
                    (properties . ,(vconcat (mapcar (lambda (p) (vector (car p) (substring-no-properties (cdr p)))) props)))))
                 "\n")))))))
(setq command-line-args-left nil)
"#;

#[derive(Debug, Deserialize, PartialEq)]
pub(crate) struct Heading {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) level: usize,
    pub(crate) todo: String,
    pub(crate) priority: String,
    pub(crate) title: String,
    pub(crate) tags: Vec<String>,
    pub(crate) closed: String,
    pub(crate) properties: Vec<(String, String)>,
}

/// Whether Emacs can run here; without it, a test says it was skipped, unless CI requires
/// Emacs (`MSG_REQUIRE_EMACS`, set by `.ci/run`), where a missing Emacs fails.
pub(crate) fn available() -> bool {
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

/// Runs `script` in a batch Emacs with `files` as its arguments and `env` set (`dir` holds
/// the script), and returns what it printed.
pub(crate) fn run(dir: &Path, script: &str, files: &[PathBuf], env: &[(&str, &Path)]) -> String {
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

/// How Emacs reads every heading of `files`, in one Emacs run (`dir` holds the script).
pub(crate) fn read(dir: &Path, files: &[PathBuf]) -> Vec<Heading> {
    let stdout = run(dir, SCRIPT, files, &[]);
    let mut headings: Vec<Heading> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_yaml::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for heading in &mut headings {
        heading.properties.sort();
    }
    headings
}

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

/// What our scanner reads, in the same shape as Emacs's output.
///
/// Emacs reads as keywords those the file declares, or, when it declares none, the
/// script's `org-todo-keywords` (our states). We read the file's united with the caller's
/// states on purpose (a file missing a `#+TODO:` line for a state still reads right, and
/// `msg doctor` reports the line missing); here the keywords are Emacs's, so that the rest
/// of the reading is compared exactly.
pub(crate) fn ours(path: &Path) -> Vec<Heading> {
    let bytes = fs::read(path).unwrap();
    let declares = !Document::parse(bytes.clone(), &TodoKeywords::empty())
        .declared_keywords()
        .sequences()
        .is_empty();
    let keywords = if declares {
        TodoKeywords::empty()
    } else {
        states()
    };
    let doc = Document::parse(bytes, &keywords);
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
