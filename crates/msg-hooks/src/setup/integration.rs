//! `msg doctor`'s report of how the machine is wired: whether Claude Code runs the hook
//! (without it the agent never sees its tasks), whether a relay is configured (without it
//! messages to other machines wait in `outbox.org`), and what waits in the outbox.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::context::Context;

/// What the report says, one line each: how serious, about what, and the line.
pub(crate) type Line = (Seriousness, String, String);

/// How a line counts in `msg doctor`'s totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seriousness {
    /// Wired.
    Ok,
    /// Not wired, and it matters for what the person expects.
    Warning,
    /// Not wired, which may be intended (no relay on a single machine).
    Note,
}

/// Claude Code's user settings: `~/.claude/settings.json`.
pub(crate) fn claude_settings_file() -> Option<PathBuf> {
    std::env::home_dir().map(|home| home.join(".claude").join("settings.json"))
}

/// Whether `path` (Claude Code's settings) runs `inbox-watcher` on `UserPromptSubmit`.
fn hook_registered(path: &Path) -> Result<bool, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    let value: Value = serde_json::from_str(&text).map_err(|err| format!("not JSON: {err}"))?;
    let groups = value
        .pointer("/hooks/UserPromptSubmit")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(groups.iter().any(|group| {
        group
            .get("hooks")
            .and_then(Value::as_array)
            .is_some_and(|handlers| {
                handlers.iter().any(|handler| {
                    handler
                        .get("command")
                        .and_then(Value::as_str)
                        .is_some_and(|command| {
                            command.split_whitespace().any(|word| {
                                Path::new(word.trim_matches(['\'', '"']))
                                    .file_name()
                                    .is_some_and(|name| name == "inbox-watcher")
                            })
                        })
                })
            })
    }))
}

/// The lines of the report for `ctx`.
pub(crate) fn report(ctx: &Context) -> Vec<Line> {
    let mut lines = Vec::new();
    match claude_settings_file() {
        Some(path) => {
            let subject = format!("Claude Code ({})", path.display());
            match hook_registered(&path) {
                Ok(true) => lines.push((
                    Seriousness::Ok,
                    subject,
                    "runs inbox-watcher before each prompt".to_owned(),
                )),
                Ok(false) => lines.push((
                    Seriousness::Warning,
                    subject,
                    "does not run inbox-watcher, so your agent does not see its tasks: `msg hooks install` registers it (a Claude Code plugin that runs it is fine too)".to_owned(),
                )),
                Err(err) => lines.push((Seriousness::Warning, subject, err)),
            }
        }
        None => lines.push((
            Seriousness::Warning,
            "Claude Code".to_owned(),
            "no home directory: cannot tell whether it runs inbox-watcher".to_owned(),
        )),
    }
    let settings = ctx.settings();
    let relay = settings.relay_url().to_owned();
    let mut names = Vec::new();
    if settings.relay_token().is_some() || settings.relay_secret().is_some() {
        names.push(ctx.user().to_owned());
    }
    names.extend(settings.relay_agent_tokens().keys().cloned());
    if names.is_empty() {
        lines.push((
            Seriousness::Note,
            "relay".to_owned(),
            "not configured (no messaging.relay.token): messages to other machines wait in outbox.org; docs/relay.md says how to connect".to_owned(),
        ));
    } else {
        lines.push((
            Seriousness::Ok,
            "relay".to_owned(),
            format!(
                "{relay} as {}; `msg relay connect` sends and receives",
                names.join(", ")
            ),
        ));
    }
    if let Ok(Some(store)) = ctx.existing_store()
        && let Ok(sent) = store.sent()
    {
        let count = |state: &str| {
            sent.iter()
                .filter(|m| m.property("DELIVERY") == Some(state))
                .count()
        };
        let (pending, failed) = (count("pending"), count("failed"));
        if pending > 0 {
            lines.push((
                Seriousness::Note,
                store.outbox_path().display().to_string(),
                format!(
                    "{} the relay connection to send (`msg sent` lists them)",
                    msg_core::figures::counted(pending, "message waits for", "messages wait for")
                ),
            ));
        }
        if failed > 0 {
            lines.push((
                Seriousness::Warning,
                store.outbox_path().display().to_string(),
                format!(
                    "{} (`msg sent --failed` says why; `msg resend ID` tries again)",
                    msg_core::figures::counted(failed, "message failed", "messages failed")
                ),
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_is_found_in_any_form() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("settings.json");
        assert_eq!(hook_registered(&path), Ok(false));
        std::fs::write(&path, r#"{"hooks":{"UserPromptSubmit":[{"hooks":[{"type":"command","command":"'/a b/inbox-watcher' --plain"}]}]}}"#).unwrap();
        assert_eq!(hook_registered(&path), Ok(true));
        std::fs::write(&path, r#"{"hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"inbox-watcher"}]}]}}"#).unwrap();
        assert_eq!(hook_registered(&path), Ok(false));
        std::fs::write(&path, "{").unwrap();
        assert!(hook_registered(&path).unwrap_err().starts_with("not JSON"));
    }
}
