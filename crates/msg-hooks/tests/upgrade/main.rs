//! Integration tests for moving to this version and keeping files healthy: files written by
//! the Python v0.2.0 work as they are (`v020`), `msg migrate` from the v0.1.0 layout
//! (`migrate`), `msg doctor` and `--fix` (`doctor`), headings that say who and what, read by
//! the original (`headings`), the templates `msg init` uses (`templates`), every command the
//! documentation shows (`docs`), and the Emacs package against the real `msg`
//! (`emacs_package`). The real executables run in temporary Datacore roots; Emacs reads what
//! they wrote where it is installed.

mod emacs;
#[path = "../support/mod.rs"]
#[allow(dead_code, reason = "each test binary uses part of the shared harness")]
mod support;

mod docs;
mod doctor;
mod emacs_package;
mod headings;
mod migrate;
mod templates;
mod v020;
