//! `AgentInbox` against real files: the Python original's 20 inbox tests, the whole state
//! machine, files written by the original and edited in Emacs, several processes at once, and
//! snapshots of the entry forms.
//!
//! Every test works in its own temporary `DATACORE_ROOT` (`assert_fs`); fixtures are copied
//! there first. The multi-process tests re-run this test binary as worker processes (see
//! `processes.rs`).

mod fixtures;
mod lifecycle;
mod original;
mod processes;
mod snapshots;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use assert_fs::TempDir;
use msg_core::config::Settings;
use msg_core::org::{Document, TodoKeywords};
use msg_core::paths::Paths;
use msg_inbox::{AgentInbox, TASK_KEYWORDS};
use time::OffsetDateTime;
use time::macros::datetime;

/// The space every test uses.
const SPACE: &str = "0-personal";

/// A temporary `DATACORE_ROOT`; removed when dropped.
struct Root {
    dir: TempDir,
}

impl Root {
    fn new() -> Root {
        Root {
            dir: TempDir::new().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn paths(&self) -> Paths {
        Paths::new(self.dir.path())
    }

    /// The inbox of `agent` with the default settings and the local clock.
    fn inbox(&self, agent: &str) -> AgentInbox {
        AgentInbox::open(&self.paths(), SPACE, agent, &Settings::default()).unwrap()
    }

    fn agent_file(&self, agent: &str) -> PathBuf {
        self.paths().agent_file(SPACE, agent).unwrap()
    }

    /// Copies a fixture agent file in as `agent`'s task file.
    fn with_agent_fixture(self, fixture: &str, agent: &str) -> Root {
        let target = self.agent_file(agent);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(fixtures_dir().join(fixture), &target).unwrap();
        self
    }
}

/// A copy of the Python original's whole `DATACORE_ROOT` (settings included).
fn python_root() -> Root {
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let root = Root::new();
    copy_tree(&fixtures_dir().join("python-v0.2.0/root"), root.path());
    root
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A clock the test moves by hand: 2026-11-24 10:02 +01:00 plus the minutes added.
#[derive(Clone)]
struct TestClock {
    minutes: Arc<AtomicI64>,
}

impl TestClock {
    fn new() -> TestClock {
        TestClock {
            minutes: Arc::new(AtomicI64::new(0)),
        }
    }

    fn advance(&self, minutes: i64) {
        self.minutes.fetch_add(minutes, Ordering::SeqCst);
    }

    fn now(&self) -> OffsetDateTime {
        datetime!(2026-11-24 10:02:00 +01:00)
            + time::Duration::minutes(self.minutes.load(Ordering::SeqCst))
    }

    /// `inbox` reading this clock.
    fn drive(&self, inbox: AgentInbox) -> AgentInbox {
        let clock = self.clone();
        inbox.with_clock(move || clock.now())
    }
}

/// The file scanned with the task keywords.
fn scan(path: &Path) -> Document {
    Document::parse(
        std::fs::read(path).unwrap(),
        &TodoKeywords::parse(TASK_KEYWORDS),
    )
}

/// Asserts that `after` differs from `before` only inside the section of the entry with
/// `id` (heading to next heading): every other byte identical, in place.
fn assert_only_entry_changed(before: &[u8], after: &[u8], id: &str) {
    let doc = Document::parse(before.to_vec(), &TodoKeywords::parse(TASK_KEYWORDS));
    let section = doc
        .find_by_id(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no entry {id}"))
        .ranges()
        .section_range();
    let (head, tail) = (&before[..section.start], &before[section.end..]);
    assert!(
        after.len() >= head.len() + tail.len() && after.starts_with(head) && after.ends_with(tail),
        "bytes outside {id} changed:\n--- before\n{}\n--- after\n{}",
        String::from_utf8_lossy(before),
        String::from_utf8_lossy(after)
    );
}
