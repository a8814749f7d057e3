//! The Emacs package (`editors/emacs/`) against the real `msg` binary built by this crate:
//! its ERT suite (`editors/emacs/test/datacore-msg-test.el`) runs in `emacs --batch`, each
//! test in a temporary Datacore root of its own; and the package byte-compiles without a
//! warning and passes `checkdoc`.
//!
//! `.ci/run` installs emacs-nox and sets `MSG_REQUIRE_EMACS=1`, so in CI a missing Emacs
//! fails these tests; on a machine without Emacs they say loudly that they were skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use assert_fs::TempDir;

use crate::emacs::available as emacs_available;
use crate::support::{exe, fixtures, repo};

fn editors_emacs() -> PathBuf {
    repo().join("editors/emacs")
}

/// `emacs -Q --batch` with `args`, HOME in a temporary directory (no init file, no
/// ~/.emacs.d, no desktop notifications), stdin closed.
fn emacs(home: &Path, args: &[&str]) -> Output {
    Command::new("emacs")
        .args(["-Q", "--batch"])
        .args(args)
        .env("HOME", home)
        .env_remove("DATACORE_ROOT")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_ert_suite_passes_against_the_real_msg() {
    if !emacs_available() {
        return;
    }
    let home = TempDir::new().unwrap();
    let dir = editors_emacs();
    let output = Command::new("emacs")
        .args(["-Q", "--batch", "-L"])
        .arg(&dir)
        .arg("-L")
        .arg(dir.join("test"))
        .args([
            "-l",
            "datacore-msg-test",
            "-f",
            "ert-run-tests-batch-and-exit",
        ])
        .env("HOME", home.path())
        .env("DATACORE_MSG_PROGRAM", exe("msg"))
        .env("DATACORE_MSG_FIXTURES", fixtures())
        .env_remove("DATACORE_ROOT")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = text(&output);
    assert!(output.status.success(), "ERT failed:\n{log}");
    assert!(
        log.contains(", 0 unexpected"),
        "no ERT summary in the output:\n{log}"
    );
}

#[test]
fn the_package_compiles_without_warnings_and_passes_checkdoc() {
    if !emacs_available() {
        return;
    }
    let home = TempDir::new().unwrap();
    // Compile copies, so no .elc lands next to the sources.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(editors_emacs()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "el") {
            let copy = home.path().join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            files.push(copy.display().to_string());
        }
    }
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let dir = home.path().display().to_string();
    let mut args = vec![
        "-L",
        &dir,
        "--eval",
        "(setq byte-compile-error-on-warn t)",
        "-f",
        "batch-byte-compile",
    ];
    args.extend(files.iter().map(String::as_str));
    let output = emacs(home.path(), &args);
    assert!(
        output.status.success(),
        "byte-compilation failed:\n{}",
        text(&output)
    );
    for file in &files {
        let check = format!("(progn (require 'checkdoc) (checkdoc-file {file:?}))");
        let output = emacs(home.path(), &["--eval", &check]);
        let log = text(&output);
        assert!(
            output.status.success() && !log.contains("Warning"),
            "checkdoc on {file}:\n{log}"
        );
    }
}
