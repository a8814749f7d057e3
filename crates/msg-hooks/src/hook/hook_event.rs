//! The event Claude Code sends a hook on stdin, read tolerantly.
//!
//! For `UserPromptSubmit` Claude Code sends `{"session_id", "transcript_path", "cwd",
//! "hook_event_name", "prompt"}`; for `SessionStart` also `source` (`startup`, `resume`,
//! `clear`, `compact`); for `Stop`, `stop_hook_active` (true when the agent is already
//! going on because a Stop hook said so). Fields may be missing or new ones added, the hook
//! may be run by hand with nothing on stdin, or from a terminal: none of that is an error,
//! the hook just knows less.

use std::io::{IsTerminal, Read};

use serde_json::Value;

/// The largest event read from stdin (the prompt is in it); the rest is ignored.
const MAX_EVENT_BYTES: u64 = 8 * 1024 * 1024;

/// Which hook event is being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `UserPromptSubmit` (also assumed when the event does not say).
    UserPromptSubmit,
    /// `SessionStart`: a new, resumed, cleared or compacted session. The agent may have lost
    /// what it was shown before, so the task in progress is shown again.
    SessionStart,
    /// `Stop`: the agent is about to stop; the hook may keep it working on an urgent task.
    Stop,
}

impl EventKind {
    /// The name Claude Code uses, which the output's `hookEventName` must repeat.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::UserPromptSubmit => "UserPromptSubmit",
            EventKind::SessionStart => "SessionStart",
            EventKind::Stop => "Stop",
        }
    }
}

/// What the hook learned from stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookEvent {
    /// `session_id`.
    pub session_id: Option<String>,
    /// `hook_event_name`.
    pub hook_event_name: Option<String>,
    /// `prompt` (UserPromptSubmit).
    pub prompt: Option<String>,
    /// `cwd`.
    pub cwd: Option<String>,
    /// `source` (SessionStart).
    pub source: Option<String>,
    /// `stop_hook_active` (Stop): the agent already goes on because a Stop hook said so.
    pub stop_hook_active: bool,
}

impl HookEvent {
    /// Reads the event from stdin: nothing when stdin is a terminal, closed or not a JSON
    /// object.
    pub fn from_stdin() -> HookEvent {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return HookEvent::default();
        }
        let mut bytes = Vec::new();
        if stdin
            .lock()
            .take(MAX_EVENT_BYTES)
            .read_to_end(&mut bytes)
            .is_err()
        {
            return HookEvent::default();
        }
        HookEvent::parse(&bytes)
    }

    /// Reads an event from JSON bytes; anything unreadable gives an empty event.
    pub fn parse(bytes: &[u8]) -> HookEvent {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
            return HookEvent::default();
        };
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        HookEvent {
            session_id: text("session_id"),
            hook_event_name: text("hook_event_name"),
            prompt: text("prompt"),
            cwd: text("cwd"),
            source: text("source"),
            stop_hook_active: map.get("stop_hook_active") == Some(&Value::Bool(true)),
        }
    }

    /// The event being answered: `SessionStart` or `Stop` when the event says so, else
    /// `UserPromptSubmit`.
    pub fn kind(&self) -> EventKind {
        match self.hook_event_name.as_deref() {
            Some("SessionStart") => EventKind::SessionStart,
            Some("Stop") => EventKind::Stop,
            _ => EventKind::UserPromptSubmit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_it_knows_and_ignores_the_rest() {
        let event = HookEvent::parse(
            br#"{"session_id":"s1","transcript_path":"/t","cwd":"/w","hook_event_name":"UserPromptSubmit","prompt":"hi","extra":{"a":1}}"#,
        );
        assert_eq!(event.session_id.as_deref(), Some("s1"));
        assert_eq!(event.prompt.as_deref(), Some("hi"));
        assert_eq!(event.kind(), EventKind::UserPromptSubmit);
        let event = HookEvent::parse(
            br#"{"hook_event_name":"SessionStart","source":"resume","session_id":5}"#,
        );
        assert_eq!(event.kind(), EventKind::SessionStart);
        assert_eq!(event.session_id, None);
        let event = HookEvent::parse(br#"{"hook_event_name":"Stop","stop_hook_active":true}"#);
        assert_eq!(
            (event.kind(), event.stop_hook_active),
            (EventKind::Stop, true)
        );
        // Anything but the JSON `true` is false.
        let event = HookEvent::parse(br#"{"hook_event_name":"Stop","stop_hook_active":"true"}"#);
        assert!(!event.stop_hook_active);
    }

    #[test]
    fn anything_else_is_an_empty_event() {
        for bytes in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"null",
            b"{\"session_id\":",
            b"\xff",
        ] {
            assert_eq!(HookEvent::parse(bytes), HookEvent::default(), "{bytes:?}");
        }
        assert_eq!(HookEvent::default().kind(), EventKind::UserPromptSubmit);
    }
}
