//! Structured log lines on stderr: `ts=… level=info event=login user="alice" conn=7`.
//!
//! One line per event, `key=value` pairs, values quoted when they hold anything but plain
//! characters, so journald, `docker logs` and grep all read them. No logging framework: the
//! relay logs a handful of events and nothing else in the workspace would share one.

use std::fmt::{self, Write as _};

use crate::config::LogLevel;

/// Writes log lines at or above a level.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Logger {
    level: LogLevel,
}

/// One value in a log line.
pub(crate) enum Field<'a> {
    /// Text from outside (names, addresses, error messages): always quoted and escaped.
    Text(&'a str),
    /// A number.
    Number(u64),
}

impl From<u64> for Field<'_> {
    fn from(value: u64) -> Self {
        Field::Number(value)
    }
}

impl<'a> From<&'a str> for Field<'a> {
    fn from(value: &'a str) -> Self {
        Field::Text(value)
    }
}

impl<'a> From<&'a String> for Field<'a> {
    fn from(value: &'a String) -> Self {
        Field::Text(value)
    }
}

/// The most of one text value a log line keeps, in bytes. Text comes from clients (a user
/// name refused for being 60 KB long was once logged whole, once per attempt); the rest is
/// replaced by its length.
const MAX_TEXT_BYTES: usize = 200;

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Text(text) if text.len() > MAX_TEXT_BYTES => {
                let mut end = MAX_TEXT_BYTES;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let kept = format!("{}…(+{} bytes)", &text[..end], text.len() - end);
                write!(f, "{kept:?}")
            }
            Field::Text(text) if is_plain(text) => f.write_str(text),
            // Debug escapes quotes, backslashes and control characters: a hostile user name
            // cannot forge a second log line or a field.
            Field::Text(text) => write!(f, "{text:?}"),
            Field::Number(number) => write!(f, "{number}"),
        }
    }
}

/// Text that needs no quotes: non-empty, only characters that cannot end a field.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+[]".contains(&b))
}

impl Logger {
    pub(crate) fn new(level: LogLevel) -> Logger {
        Logger { level }
    }

    pub(crate) fn info(&self, event: &str, fields: &[(&str, Field<'_>)]) {
        self.write(LogLevel::Info, "info", event, fields);
    }

    pub(crate) fn warn(&self, event: &str, fields: &[(&str, Field<'_>)]) {
        self.write(LogLevel::Warn, "warn", event, fields);
    }

    fn write(&self, level: LogLevel, label: &str, event: &str, fields: &[(&str, Field<'_>)]) {
        if self.level < level {
            return;
        }
        let mut line = format!("ts={} level={label} event={event}", timestamp());
        for (key, value) in fields {
            let _ = write!(line, " {key}={value}");
        }
        // One `eprintln!` per line: the stderr lock keeps lines from concurrent connections
        // whole.
        eprintln!("{line}");
    }
}

/// UTC, RFC 3339 with milliseconds.
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_not_quoted() {
        assert_eq!(Field::Text("127.0.0.1:8080").to_string(), "127.0.0.1:8080");
        assert_eq!(
            Field::Text("tex@team.example.com").to_string(),
            "tex@team.example.com"
        );
        assert_eq!(Field::Text("").to_string(), "\"\"");
        assert_eq!(Field::Text("a b").to_string(), "\"a b\"");
    }

    #[test]
    fn hostile_text_stays_on_one_line_and_in_its_field() {
        let field = Field::Text("eve\" level=error\nforged");
        assert_eq!(field.to_string(), r#""eve\" level=error\nforged""#);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_says_how_much_is_left_out() {
        let long = "é".repeat(30_000);
        let shown = Field::Text(&long).to_string();
        assert!(shown.len() < MAX_TEXT_BYTES + 40, "{}", shown.len());
        assert!(
            shown.ends_with(&format!("…(+{} bytes)\"", 60_000 - 200)),
            "{shown}"
        );
        let hostile = format!("{}\nlevel=error", "x".repeat(300));
        assert!(!Field::Text(&hostile).to_string().contains('\n'));
    }

    #[test]
    fn timestamps_look_like_rfc3339() {
        let ts = timestamp();
        assert_eq!(ts.len(), "2026-01-02T03:04:05.678Z".len());
        assert!(ts.ends_with('Z'));
    }
}
