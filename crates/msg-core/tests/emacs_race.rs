//! Real Emacs saving a file in place while our transactions edit other entries of it: no
//! save of Emacs is ever reverted.
//!
//! Emacs (batch, backups off, so every save truncates and rewrites the same file, as Emacs
//! does after the first save of a session) toggles one entry's keyword a few hundred times:
//! revert the buffer, check that the entry still has the keyword it saved last round, toggle
//! it, save. Meanwhile this process edits the other entries as fast as it can. A save of
//! Emacs that lands while a transaction is writing must be kept: either our edit is redone
//! on it, or our edit is reported as a conflict. When Emacs itself refuses to save because
//! we wrote meanwhile ("changed on disk"), it reverts and tries again, as a careful person
//! would; that is Emacs protecting our write, not a revert.
//!
//! Needs `emacs` on the PATH (see `emacs_oracle.rs`).

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use assert_fs::TempDir;
use msg_core::org::{OrgError, OrgFile, TodoKeywords};

const STATES: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";
/// Emacs's rounds: a few hundred saves, a few seconds.
const ROUNDS: usize = 300;

const SCRIPT: &str = r#"
(require 'org)
(setq make-backup-files nil auto-save-default nil create-lockfiles t)
(let* ((file (nth 0 command-line-args-left))
       (rounds (string-to-number (nth 1 command-line-args-left)))
       (expected nil) (saved 0) (reverted 0) (refused 0))
  (setq command-line-args-left nil)
  (find-file file)
  (dotimes (round rounds)
    (condition-case err
        (progn
          (revert-buffer t t t)
          (goto-char (point-min))
          (re-search-forward "^\\* \\(TODO\\|DONE\\) Emacs's own entry")
          (let ((now (match-string 1)))
            (when (and expected (not (equal now expected)))
              (setq reverted (1+ reverted))
              (princ (format "REVERTED round %d: saved %s, found %s\n" round expected now)))
            (setq expected nil)
            (let ((next (if (equal now "TODO") "DONE" "TODO")))
              (replace-match next t t nil 1)
              (save-buffer)
              (setq expected next saved (1+ saved)))))
      (error
       ;; "changed on disk": we wrote meanwhile. Start over from the file.
       (setq refused (1+ refused))
       (set-buffer-modified-p nil))))
  (princ (format "END saved=%d reverted=%d refused=%d\n" saved reverted refused)))
"#;

fn entries() -> String {
    let mut text = format!("#+TODO: {STATES}\n");
    for i in 0..40 {
        if i == 20 {
            text.push_str("* TODO Emacs's own entry\n  :PROPERTIES:\n  :ID: emacs\n  :END:\n");
        }
        text.push_str(&format!(
            "* TODO message {i}\n  :PROPERTIES:\n  :ID: race-{i}\n  :FROM: tex\n  :END:\n  Body of message {i}, long enough to make the file a few kilobytes.\n"
        ));
    }
    text
}

#[test]
fn emacs_saves_in_place_during_our_edits_are_never_reverted() {
    if Command::new("emacs").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("MSG_REQUIRE_EMACS").is_none(),
            "MSG_REQUIRE_EMACS is set but emacs is not installed (apt-get install emacs-nox)"
        );
        eprintln!("skipped: emacs is not installed (apt-get install emacs-nox to run this check)");
        return;
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("inbox.org");
    fs::write(&path, entries()).unwrap();
    let script = dir.path().join("race.el");
    fs::write(&script, SCRIPT).unwrap();
    let mut emacs = Command::new("emacs")
        .args(["-Q", "--batch", "-l"])
        .arg(&script)
        .arg(&path)
        .arg(ROUNDS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = emacs.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                lines_tx.send(line.unwrap()).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let file =
        OrgFile::new(&path, TodoKeywords::parse(STATES)).with_lock_timeout(Duration::from_secs(20));
    let (mut written, mut conflicts) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut round = 0usize;
    while !done.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "emacs did not finish in time");
        round += 1;
        let id = format!("race-{}", round % 40);
        let value = round.to_string();
        match file.transaction(|txn| txn.edit(&id, |e| e.set_property("ROUND", &value))) {
            Ok(()) => written += 1,
            Err(OrgError::ChangedMeanwhile { .. }) => conflicts += 1,
            Err(err) => panic!("{err}"),
        }
    }
    reader.join().unwrap();
    assert!(emacs.wait().unwrap().success());
    let lines: Vec<String> = lines.try_iter().collect();
    // Emacs's "changed since visited; save anyway?" prompts (answered by the error that
    // makes the script start over) are printed without a line break before it.
    let end = lines
        .iter()
        .find_map(|l| l.find("END saved=").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("emacs said: {lines:?}"));
    let figure = |name: &str| -> usize {
        end.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
            .parse()
            .unwrap()
    };
    eprintln!(
        "emacs: {end}; ours: {written} edits written, {conflicts} reported as conflicts, in {round} rounds"
    );
    let reverts: Vec<&String> = lines.iter().filter(|l| l.contains("REVERTED")).collect();
    assert!(reverts.is_empty(), "saves of Emacs reverted: {reverts:?}");
    assert_eq!(figure("reverted"), 0);
    assert!(figure("saved") >= ROUNDS / 3, "Emacs hardly saved: {end}");
    assert!(written >= 50, "we hardly wrote: {written}");
    // The last save of Emacs is in the file.
    let doc = file.read().unwrap();
    let entry = doc.find_by_id("emacs").unwrap().unwrap();
    assert!(matches!(entry.keyword().as_deref(), Some("TODO" | "DONE")));
}
