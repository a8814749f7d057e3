//! `msg hooks install`: registers `inbox-watcher` in Claude Code's `settings.json`.
//!
//! The entry is the one Claude Code documents for command hooks, under both events the
//! watcher answers:
//!
//! ```json
//! {
//!   "hooks": {
//!     "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "/home/me/.cargo/bin/inbox-watcher"}]}],
//!     "SessionStart": [{"hooks": [{"type": "command", "command": "/home/me/.cargo/bin/inbox-watcher"}]}]
//!   }
//! }
//! ```
//!
//! Installing is idempotent: an entry whose command runs `inbox-watcher` is kept (its path
//! updated when it differs), the Python original's `inbox-watcher.py` entries are replaced
//! (both would claim tasks), and everything else in the file, key order included, stays as
//! it was. Before a change the file is copied to `settings.json.backup` (or `.backup.2`, …,
//! never overwriting an earlier backup) and then replaced atomically.

use std::path::{Path, PathBuf};

use msg_core::durable;
use serde_json::{Map, Value, json};

use crate::error::HooksError;

/// The events the watcher is registered for.
pub(crate) const EVENTS: [&str; 2] = ["UserPromptSubmit", "SessionStart"];

/// What [`install`] did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstallReport {
    /// The settings file.
    pub(crate) path: PathBuf,
    /// Whether the file changed (or, in a dry run, would change).
    pub(crate) changed: bool,
    /// The copy made before the change.
    pub(crate) backup: Option<PathBuf>,
    /// One line per change: `UserPromptSubmit: added /…/inbox-watcher`.
    pub(crate) changes: Vec<String>,
    /// The file's new text.
    pub(crate) text: String,
}

/// The command Claude Code runs: `executable` as a shell word.
pub(crate) fn hook_command(executable: &Path) -> String {
    crate::hook::shell_word(&executable.display().to_string())
}

/// Registers `command` for [`EVENTS`] in the Claude Code settings file `path`; with
/// `dry_run`, only says what would change.
pub(crate) fn install(
    path: &Path,
    command: &str,
    dry_run: bool,
) -> Result<InstallReport, HooksError> {
    let bad = |message: String| HooksError::BadFile {
        path: path.to_owned(),
        line: None,
        message,
    };
    let original = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(HooksError::io("read", path)(err)),
    };
    let mut root = match original.as_deref().map(str::trim) {
        None | Some("") => Value::Object(Map::new()),
        Some(text) => serde_json::from_str::<Value>(text).map_err(|err| HooksError::BadFile {
            path: path.to_owned(),
            line: Some(err.line()),
            message: format!("not valid JSON ({err}); fix it by hand, nothing was changed"),
        })?,
    };
    let Some(settings) = root.as_object_mut() else {
        return Err(bad(
            "not a JSON object; fix it by hand, nothing was changed".into(),
        ));
    };
    let hooks = settings
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(hooks) = hooks.as_object_mut() else {
        return Err(bad(
            "\"hooks\" is not an object; fix it by hand, nothing was changed".into(),
        ));
    };
    let mut changes = Vec::new();
    for event in EVENTS {
        let groups = hooks
            .entry(event)
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(groups) = groups.as_array_mut() else {
            return Err(bad(format!(
                "\"hooks.{event}\" is not a list; fix it by hand, nothing was changed"
            )));
        };
        register(event, groups, command, &mut changes);
    }
    let mut text = serde_json::to_string_pretty(&root).expect("JSON values serialise");
    text.push('\n');
    let changed = !changes.is_empty() || original.is_none();
    let mut backup = None;
    if changed && !dry_run {
        if let Some(original) = &original {
            let copy = backup_path(path);
            durable::create_new(&copy, original.as_bytes())?;
            backup = Some(copy);
        } else if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(HooksError::io("create", dir))?;
        }
        durable::write_atomically(path, text.as_bytes())?;
    }
    Ok(InstallReport {
        path: path.to_owned(),
        changed,
        backup,
        changes,
        text,
    })
}

/// Whether `command` runs our watcher (any path), or the Python original's.
fn runs(command: &str, name: &str) -> bool {
    Path::new(program(command))
        .file_name()
        .is_some_and(|file| file == name)
}

/// Whether a hook command runs the Python original's watcher, in any form: the script as
/// the program (`~/.datacore/hooks/inbox-watcher.py`) or given to an interpreter (`python3
/// ~/.datacore/hooks/inbox-watcher.py`, `uv run …/inbox-watcher.py`).
fn runs_python_watcher(command: &str) -> bool {
    command.split_whitespace().any(|word| {
        Path::new(word.trim_matches(['\'', '"']))
            .file_name()
            .is_some_and(|file| file == "inbox-watcher.py")
    })
}

/// The program a hook command runs: its first word, or its first quoted string.
fn program(command: &str) -> &str {
    let command = command.trim_start();
    for quote in ['\'', '"'] {
        if let Some(rest) = command.strip_prefix(quote) {
            return rest.split(quote).next().unwrap_or("");
        }
    }
    command.split_whitespace().next().unwrap_or("")
}

/// Makes `groups` (the matcher groups of `event`) run `command` once, replacing Python
/// entries and updating the path of an existing one.
fn register(event: &str, groups: &mut Vec<Value>, command: &str, changes: &mut Vec<String>) {
    let mut present = false;
    for group in groups.iter_mut() {
        let Some(handlers) = group.get_mut("hooks").and_then(Value::as_array_mut) else {
            continue;
        };
        handlers.retain(|handler| {
            let python = handler
                .get("command")
                .and_then(Value::as_str)
                .is_some_and(runs_python_watcher);
            if python {
                changes.push(format!(
                    "{event}: removed the Python hook {}",
                    handler["command"].as_str().unwrap_or("")
                ));
            }
            !python
        });
        for handler in handlers.iter_mut() {
            let Some(existing) = handler.get("command").and_then(Value::as_str) else {
                continue;
            };
            if !runs(existing, "inbox-watcher") {
                continue;
            }
            if present {
                continue;
            }
            present = true;
            if existing != command {
                changes.push(format!("{event}: changed {existing} to {command}"));
                handler["command"] = Value::String(command.to_owned());
            }
        }
    }
    groups.retain(|group| {
        group
            .get("hooks")
            .and_then(Value::as_array)
            .is_none_or(|handlers| !handlers.is_empty())
    });
    if !present {
        groups.push(json!({"hooks": [{"type": "command", "command": command}]}));
        changes.push(format!("{event}: added {command}"));
    }
}

/// `settings.json.backup`, or the first of `.backup.2`, `.backup.3`, … that does not exist.
fn backup_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let first = path.with_file_name(format!("{name}.backup"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| path.with_file_name(format!("{name}.backup.{n}")))
        .find(|candidate| !candidate.exists())
        .expect("some backup name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_by_program_name() {
        assert!(runs("/home/me/.cargo/bin/inbox-watcher", "inbox-watcher"));
        assert!(runs("'/a b/inbox-watcher' --plain", "inbox-watcher"));
        assert!(runs("inbox-watcher", "inbox-watcher"));
        assert!(!runs("/x/inbox-watcher.py", "inbox-watcher"));
        assert!(runs_python_watcher("/x/hooks/inbox-watcher.py"));
        assert!(runs_python_watcher(
            "python3 ~/.datacore/hooks/inbox-watcher.py"
        ));
        assert!(runs_python_watcher("uv run '/a b/inbox-watcher.py' --x"));
        assert!(!runs_python_watcher("/x/inbox-watcher --plain"));
        assert!(!runs("/x/other", "inbox-watcher"));
    }

    #[test]
    fn paths_with_spaces_are_quoted() {
        assert_eq!(
            hook_command(Path::new("/a b/inbox-watcher")),
            "'/a b/inbox-watcher'"
        );
        assert_eq!(
            hook_command(Path::new("/usr/bin/inbox-watcher")),
            "/usr/bin/inbox-watcher"
        );
    }
}
