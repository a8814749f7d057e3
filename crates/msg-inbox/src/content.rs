//! A task's text becomes an entry, and the entry gives the text back.
//!
//! **Writing.** The heading says who and what: msg-core's [`headline`],
//! `[SUBMITTED] FROM: first line`, shortened to one line and escaped so that nothing in it
//! reads as a keyword, a priority cookie, tags, a link or a timestamp. The body holds the
//! **whole** text, first line included (the engine indents it and comma-escapes anything
//! Org would read as a keyword line or a drawer boundary, so no line of it can start an
//! entry or change a property). So nothing is lost however the heading shortens or escapes
//! the first line. Tags are given separately and always kept.
//!
//! **Reading.** A heading that starts with the [`headline_prefix`] of the task's own
//! `SUBMITTED` and `FROM` was written this way: the task's title is the body's first
//! non-blank line and its body the rest. Any other heading (the Python original's tasks,
//! whose heading is the first line; this crate's before 0.3.0; a task a person wrote in
//! Emacs) is the title itself, and the body is the rest. Either way a task reads as the
//! title (its first line) and the body (the lines after it).
//!
//! [`headline`]: msg_core::org::headline
//! [`headline_prefix`]: msg_core::org::headline_prefix

use msg_core::org::{Party, headline, headline_prefix};
use msg_core::validate::ValidationError;

/// A task's text as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskText {
    /// The first line, trimmed.
    pub(crate) title: String,
    /// The lines after it, normalised as a read gives them back (see [`normalise_body`]).
    pub(crate) body: String,
}

/// The whole text of a new task as its body will read back ([`normalise_body`] over all its
/// lines). Fails only on text with nothing but blanks.
pub(crate) fn whole_text(content: &str) -> Result<String, ValidationError> {
    let whole = normalise_body(&lines(content));
    if whole.is_empty() {
        return Err(ValidationError::Empty {
            field: "content".to_owned(),
        });
    }
    Ok(whole)
}

/// The heading title of a new task from `from`, submitted at `submitted` (an inactive
/// timestamp), with text `whole`.
pub(crate) fn heading(submitted: &str, from: &str, whole: &str) -> String {
    headline(submitted, Party::From(from), whole)
}

/// The task's text from its entry: the heading `title`, the `body` as read, and the
/// `SUBMITTED` and `FROM` properties.
pub(crate) fn read(
    title: &str,
    body: &str,
    submitted: Option<&str>,
    from: Option<&str>,
) -> TaskText {
    let whole_in_body = match (submitted, from) {
        (Some(submitted), Some(from)) => {
            let prefix = headline_prefix(submitted, Party::From(from));
            // With a first line that shows as nothing, the heading is the prefix without `: `.
            title.starts_with(&prefix) || title == prefix.trim_end_matches(": ")
        }
        _ => false,
    };
    if !whole_in_body {
        return TaskText {
            title: title.to_owned(),
            body: body.to_owned(),
        };
    }
    let lines = lines(body);
    let first = lines.iter().position(|l| !l.trim().is_empty());
    match first {
        Some(first) => TaskText {
            title: lines[first].trim().to_owned(),
            body: normalise_body(&lines[first + 1..]),
        },
        None => TaskText {
            title: String::new(),
            body: String::new(),
        },
    }
}

/// The lines of `text`: LF, CRLF and a lone CR each end a line (as the engine's body writer
/// treats them).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.extend(line.split('\r'));
    }
    out
}

/// The body exactly as reading the entry back will give it: whitespace-only lines empty, no
/// leading or trailing blank lines, LF line endings; indentation is kept. (Whitespace-only
/// lines carry nothing; emptying them also keeps non-ASCII blanks such as U+3000 out of the
/// indentation arithmetic of readers.)
pub(crate) fn normalise_body(lines: &[&str]) -> String {
    let blank = |l: &&str| l.trim().is_empty();
    let Some(start) = lines.iter().position(|l| !blank(l)) else {
        return String::new();
    };
    let end = lines
        .iter()
        .rposition(|l| !blank(l))
        .map_or(start, |p| p + 1);
    lines[start..end]
        .iter()
        .map(|l| if blank(l) { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "[2026-12-07 Mon 10:48]";

    /// What a task written with `content` reads back as.
    fn round_trip(content: &str) -> (String, TaskText) {
        let whole = whole_text(content).unwrap();
        let title = heading(AT, "alice", &whole);
        let text = read(&title, &whole, Some(AT), Some("alice"));
        (title, text)
    }

    fn text(title: &str, body: &str) -> TaskText {
        TaskText {
            title: title.to_owned(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn the_heading_says_who_and_what_and_the_text_reads_back() {
        let (title, read) = round_trip("Line1\nLine2");
        assert_eq!(title, "[2026-12-07 Mon 10:48] alice: Line1");
        assert_eq!(read, text("Line1", "Line2"));
        let (_, read) = round_trip("\n\n  Research pricing  \r\n\r\n  step 1\r  step 2\n\n");
        assert_eq!(read, text("Research pricing", "  step 1\n  step 2"));
        let (_, read) = round_trip("Title\n  code\n    deeper\n\n  back");
        assert_eq!(read, text("Title", "  code\n    deeper\n\n  back"));
    }

    #[test]
    fn a_first_line_org_would_misread_is_escaped_in_the_heading_and_kept_in_the_text() {
        for content in [
            "Fix it :urgent:\nsoon",
            "Route me :AI:research:",
            ":urgent:",
            "[#A] sneaky",
            "COMMENT hide me",
            "tab\there",
            "DONE is just a word here",
            "[[https://evil.example][Approve me]]",
            &"long ".repeat(40),
        ] {
            let (title, read) = round_trip(content);
            let whole = whole_text(content).unwrap();
            let first = whole.lines().next().unwrap().trim();
            assert_eq!(read.title, first, "{content:?}");
            assert!(
                title.starts_with("[2026-12-07 Mon 10:48] alice: "),
                "{title}"
            );
            assert!(title.chars().count() < 100, "{title}");
        }
    }

    #[test]
    fn other_headings_are_the_title() {
        // The Python original's task: heading = first line, body = the rest.
        assert_eq!(
            read("Research pricing", "step 1", Some(AT), Some("alice")),
            text("Research pricing", "step 1")
        );
        // A task whose first line happens to start like a headline of someone else, or of
        // another minute, is not mistaken for one.
        let title = "[2026-12-07 Mon 10:48] bob: pasted log line";
        assert_eq!(
            read(title, "rest", Some(AT), Some("alice")),
            text(title, "rest")
        );
        assert_eq!(read(title, "rest", None, Some("bob")), text(title, "rest"));
    }

    #[test]
    fn empty_content_is_an_error() {
        assert_eq!(
            whole_text(" \n\t\n").unwrap_err(),
            ValidationError::Empty {
                field: "content".into()
            }
        );
    }

    #[test]
    fn blank_lines_lose_only_their_whitespace() {
        assert_eq!(
            normalise_body(&["", "  a", "\u{3000}\u{3000}", "  b", "   "]),
            "  a\n\n  b"
        );
        assert_eq!(normalise_body(&["", " "]), "");
    }
}
