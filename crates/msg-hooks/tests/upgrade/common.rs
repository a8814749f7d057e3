//! A temporary Datacore root and the real executables run against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_fs::TempDir;

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts exit 0 and no stderr; returns stdout.
    #[track_caller]
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert_eq!(self.stderr, "", "stdout: {}", self.stdout);
        &self.stdout
    }
}

/// A Datacore root (`<tmp>/root`) with its own HOME (`<tmp>/home`).
pub(crate) struct Env {
    pub(crate) dir: TempDir,
}

impl Env {
    /// An empty root.
    pub(crate) fn empty() -> Env {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Env { dir }
    }

    /// A root that is a copy of `fixtures/<name>`.
    pub(crate) fn with_fixture(name: &str) -> Env {
        let env = Env::empty();
        copy_tree(&fixtures().join(name), &env.root());
        env
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub(crate) fn write_settings(&self, text: &str) {
        let path = self.root().join(".datacore/settings.local.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn messaging(&self) -> PathBuf {
        self.root().join("0-personal/org/messaging")
    }

    pub(crate) fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The library's view of this root.
    pub(crate) fn ctx(&self) -> msg_hooks::Context {
        msg_hooks::Context::load(Some(&self.root()), None).unwrap()
    }

    pub(crate) fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(exe(program));
        command
            .args(args)
            .env("DATACORE_ROOT", self.root())
            .env("HOME", self.home())
            .env("USER", "tester")
            .env_remove("RELAY_SECRET")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs `program` with `args`, stdin closed.
    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Run {
        let output = self.command(program, args).output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Every file below the root (lock files aside) with its bytes.
    pub(crate) fn tree(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(&self.root(), &self.root(), &mut out);
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(base, &path, out);
        } else if path.extension().is_none_or(|e| e != "lock") {
            out.insert(
                path.strip_prefix(base).unwrap().to_owned(),
                std::fs::read(&path).unwrap(),
            );
        }
    }
}

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub(crate) fn exe(program: &str) -> &'static str {
    match program {
        "msg" => env!("CARGO_BIN_EXE_msg"),
        "inbox-watcher" => env!("CARGO_BIN_EXE_inbox-watcher"),
        "send-reply" => env!("CARGO_BIN_EXE_send-reply"),
        "mark-message" => env!("CARGO_BIN_EXE_mark-message"),
        "task-queue" => env!("CARGO_BIN_EXE_task-queue"),
        other => panic!("no program {other}"),
    }
}

pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}
