//! What the integration tests share: where the fixtures are.
//!
//! Each test binary compiles this module and uses part of it.

#![allow(dead_code)]

pub(crate) mod emacs;
pub(crate) mod fuzz;

use std::fs;
use std::path::{Path, PathBuf};

/// The keywords every messaging file declares.
pub(crate) const STATES: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";

/// The repository's `fixtures/` directory (read-only inputs: copy before writing).
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every `.org` fixture, recursively, sorted.
pub(crate) fn org_fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("fixtures directory") {
            let path = entry.expect("directory entry").path();
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
