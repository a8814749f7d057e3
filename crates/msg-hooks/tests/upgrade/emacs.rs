//! Emacs as the reader of what we wrote, as in `crates/msg-core/tests/emacs_oracle.rs`, but
//! with Org's default keywords: each file must declare its own (`#+TODO:`), as it must for a
//! person who opens it.
//!
//! `.ci/run` installs emacs-nox and sets `MSG_REQUIRE_EMACS=1`, so in CI a missing Emacs
//! fails; elsewhere the check says it was skipped.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

const SCRIPT: &str = r#"
(require 'org)
(require 'json)
(dolist (file command-line-args-left)
  (with-current-buffer (find-file-noselect file)
    (org-mode)
    (org-map-entries
     (lambda ()
       (princ (concat
               (json-encode
                `((line . ,(line-number-at-pos))
                  (todo . ,(or (substring-no-properties (or (org-get-todo-state) "")) ""))
                  (done . ,(if (member (org-get-todo-state) org-done-keywords) t :json-false))
                  (title . ,(substring-no-properties (org-get-heading t t t t)))
                  (tags . ,(vconcat (mapcar #'substring-no-properties (org-get-tags nil t))))
                  (id . ,(or (org-entry-get nil "ID") ""))
                  (from . ,(or (org-entry-get nil "FROM") ""))))
               "\n"))))))
(setq command-line-args-left nil)
"#;

/// One heading as Emacs reads it.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Heading {
    pub(crate) line: usize,
    pub(crate) todo: String,
    pub(crate) done: bool,
    pub(crate) title: String,
    pub(crate) tags: Vec<String>,
    pub(crate) id: String,
    pub(crate) from: String,
}

/// Whether Emacs can run here; panics when it is required (CI) and missing.
pub(crate) fn available() -> bool {
    if Command::new("emacs").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("MSG_REQUIRE_EMACS").is_none(),
        "MSG_REQUIRE_EMACS is set but emacs is not installed (apt-get install emacs-nox)"
    );
    eprintln!("skipped the Emacs check: emacs is not installed (apt-get install emacs-nox)");
    false
}

/// The headings of `file` as Emacs reads them; `None` when Emacs is not installed.
pub(crate) fn read(file: &Path) -> Option<Vec<Heading>> {
    run_elisp(SCRIPT, &[file]).map(|stdout| {
        stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    })
}

/// Runs `script` in `emacs -Q --batch` with `args`; its stdout, or `None` without Emacs.
pub(crate) fn run_elisp(script: &str, args: &[&Path]) -> Option<String> {
    if !available() {
        return None;
    }
    let dir = assert_fs::TempDir::new().unwrap();
    let path = dir.path().join("script.el");
    std::fs::write(&path, script).unwrap();
    let output = Command::new("emacs")
        .args(["-Q", "--batch", "-l"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "emacs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}
