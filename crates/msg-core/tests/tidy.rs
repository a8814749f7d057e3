//! Tidy checks: the architecture of the design card, enforced as ordinary tests.
//!
//! Edges point down only: store, inbox and governor depend on core and not on each other,
//! relay depends on core alone, hooks wire everything. msg-core and msg-governor build
//! without an async runtime.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The names listed under `[dependencies]` (not dev- or build-dependencies).
fn normal_dependencies(krate: &str) -> Vec<String> {
    let manifest =
        fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap().trim();
            deps.push(name.to_owned());
        }
    }
    deps
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn crate_edges_follow_the_design_card() {
    let allowed: &[(&str, &[&str])] = &[
        ("msg-core", &[]),
        ("msg-store", &["msg-core"]),
        ("msg-inbox", &["msg-core"]),
        ("msg-governor", &["msg-core"]),
        ("msg-relay", &["msg-core"]),
        (
            "msg-hooks",
            &[
                "msg-core",
                "msg-store",
                "msg-inbox",
                "msg-governor",
                "msg-relay",
            ],
        ),
    ];
    assert_eq!(crates(), {
        let mut names: Vec<String> = allowed.iter().map(|(n, _)| (*n).to_owned()).collect();
        names.sort();
        names
    });
    for (krate, may_use) in allowed {
        for dep in normal_dependencies(krate) {
            if dep.starts_with("msg-") {
                assert!(
                    may_use.contains(&dep.as_str()),
                    "{krate} must not depend on {dep} (ARCHITECTURE.md)"
                );
            }
        }
    }
}

#[test]
fn core_and_governor_stay_free_of_async_runtimes() {
    for krate in ["msg-core", "msg-governor"] {
        for dep in normal_dependencies(krate) {
            assert!(
                !["tokio", "warp", "futures", "async-std", "hyper"].contains(&dep.as_str()),
                "{krate} must build without an async runtime, but depends on {dep}"
            );
        }
    }
}

#[test]
fn every_crate_documents_itself() {
    for krate in crates() {
        let lib =
            fs::read_to_string(workspace().join("crates").join(&krate).join("src/lib.rs")).unwrap();
        assert!(
            lib.starts_with("//! "),
            "{krate}/src/lib.rs must open with a //! doc"
        );
        let readme = workspace().join("crates").join(&krate).join("README.md");
        assert!(readme.exists(), "{krate} needs a README.md");
    }
}
