//! A task's text becomes a heading title and a body, and nothing in it can become structure.
//!
//! The first non-blank line is the title, the rest is the body (the engine indents it and
//! comma-escapes anything Org would read as a keyword line or a drawer boundary, so no line of
//! it can start an entry or change a property). Tags are given separately and always kept.
//!
//! A title must also read back as itself. Org would misread a first line that ends in a
//! `:word:` group (as tags, which route tasks), starts with a priority cookie `[#A]`, starts
//! with `COMMENT` (a commented-out subtree), or contains control characters. Such a task is
//! not refused, because the text usually comes from someone else (over the relay) who cannot
//! easily fix it, and nothing may be lost: the **whole** text, first line included, goes into
//! the body, and the title is the part of the first line Org reads as the title (tags, cookie
//! and `COMMENT` removed, control characters as spaces), or `(untitled task)` when nothing
//! is left.

use msg_core::org::{Document, NewEntry, TodoKeywords};
use msg_core::validate::{self, ValidationError};

/// The title given to a task whose first line has nothing Org would read as a title.
pub(crate) const UNTITLED: &str = "(untitled task)";

/// A task's text split for the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskText {
    /// The heading title: one line that reads back as itself.
    pub(crate) title: String,
    /// The body, normalised as a read gives it back (see [`normalise_body`]).
    pub(crate) body: String,
}

/// Splits `content` for a task with `keyword` and `tags` in a file with `keywords`.
/// Fails only on empty content or an invalid tag.
pub(crate) fn split(
    content: &str,
    keyword: &str,
    tags: &[String],
    keywords: &TodoKeywords,
) -> Result<TaskText, ValidationError> {
    for tag in tags {
        validate::tag(tag)?;
    }
    let lines = lines(content);
    let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
        return Err(ValidationError::Empty {
            field: "content".to_owned(),
        });
    };
    let candidate = lines[first].trim();
    if reads_back(candidate, keyword, tags, keywords) {
        return Ok(TaskText {
            title: candidate.to_owned(),
            body: normalise_body(&lines[first + 1..]),
        });
    }
    Ok(TaskText {
        title: safe_title(candidate, keyword, tags, keywords),
        body: normalise_body(&lines[first..]),
    })
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

/// Whether a heading `* KEYWORD title :tags:` reads back with exactly this keyword, title
/// and tags, no priority cookie, and is not commented out.
fn reads_back(title: &str, keyword: &str, tags: &[String], keywords: &TodoKeywords) -> bool {
    let entry = NewEntry {
        keyword: Some(keyword.to_owned()),
        title: title.to_owned(),
        tags: tags.to_vec(),
        ..NewEntry::default()
    };
    if title.is_empty() || entry.validate(keywords).is_err() || starts_with_comment(title) {
        return false;
    }
    let doc = Document::parse(heading_line(keyword, title, tags).into_bytes(), keywords);
    doc.len() == 1 && {
        let read = doc.entry(0);
        read.keyword().as_deref() == Some(keyword)
            && read.priority().is_none()
            && read.title() == title
            && read.tags() == tags
    }
}

fn heading_line(keyword: &str, title: &str, tags: &[String]) -> String {
    let mut line = format!("* {keyword} {title}");
    if !tags.is_empty() {
        line.push_str(" :");
        line.push_str(&tags.join(":"));
        line.push(':');
    }
    line.push('\n');
    line
}

/// Org's `org-comment-string`: a heading whose title starts with `COMMENT` is commented out.
fn starts_with_comment(title: &str) -> bool {
    title.split_whitespace().next() == Some("COMMENT")
}

/// `title` without a priority cookie `[#.]` at its start, if it has one.
fn strip_cookie(title: &str) -> Option<&str> {
    let mut rest = title.strip_prefix("[#")?.chars();
    rest.next()?;
    rest.as_str().strip_prefix(']')
}

/// What Org reads as the title of `candidate`, repeatedly, until it reads back as itself.
fn safe_title(candidate: &str, keyword: &str, tags: &[String], keywords: &TodoKeywords) -> String {
    let mut title: String = candidate
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned();
    // Each round removes at least one character or stops, so this ends.
    loop {
        if reads_back(&title, keyword, tags, keywords) {
            return title;
        }
        let doc = Document::parse(heading_line(keyword, &title, &[]).into_bytes(), keywords);
        let mut next = if doc.len() == 1 {
            doc.entry(0).title().trim().to_owned()
        } else {
            String::new()
        };
        if starts_with_comment(&next) {
            next = next["COMMENT".len()..].trim().to_owned();
        }
        // A cookie glued to the word after it (`[#A]glued`) stays in Org's title but is still
        // read as the priority: drop it.
        if let Some(rest) = strip_cookie(&next) {
            next = rest.trim().to_owned();
        }
        if next.is_empty() || next.len() >= title.len() {
            return UNTITLED.to_owned();
        }
        title = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TASK_KEYWORDS;

    fn split_task(content: &str, tags: &[&str]) -> Result<TaskText, ValidationError> {
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        split(
            content,
            "QUEUED",
            &tags,
            &TodoKeywords::parse(TASK_KEYWORDS),
        )
    }

    fn text(title: &str, body: &str) -> TaskText {
        TaskText {
            title: title.to_owned(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn the_first_line_is_the_title_and_the_rest_the_body() {
        assert_eq!(
            split_task("Line1\nLine2", &[]).unwrap(),
            text("Line1", "Line2")
        );
        assert_eq!(
            split_task(
                "\n\n  Research pricing  \r\n\r\n  step 1\r  step 2\n\n",
                &["AI"]
            )
            .unwrap(),
            text("Research pricing", "  step 1\n  step 2")
        );
        assert_eq!(
            split_task("Title\n  code\n    deeper\n\n  back", &[]).unwrap(),
            text("Title", "  code\n    deeper\n\n  back")
        );
        assert_eq!(
            split_task("DONE is just a word here", &[]).unwrap(),
            text("DONE is just a word here", "")
        );
        assert_eq!(
            split_task("Fix it :urgent:", &["AI"]).unwrap(),
            text("Fix it :urgent:", ""),
            "with tags of its own, Org reads only the last group as tags"
        );
    }

    #[test]
    fn empty_content_and_bad_tags_are_errors() {
        assert_eq!(
            split_task(" \n\t\n", &[]).unwrap_err(),
            ValidationError::Empty {
                field: "content".into()
            }
        );
        assert!(matches!(
            split_task("x", &["has-dash"]).unwrap_err(),
            ValidationError::InvalidTag { .. }
        ));
    }

    #[test]
    fn a_title_org_would_misread_moves_into_the_body_whole() {
        let cases = [
            ("Fix it :urgent:\nsoon", &[][..], "Fix it"),
            ("Route me :AI:research:", &[], "Route me"),
            (":urgent:", &[], UNTITLED),
            (":urgent:", &["AI"], ":urgent:"),
            ("[#A] sneaky", &[], "sneaky"),
            ("[#A]glued", &[], "glued"),
            ("COMMENT hide me", &[], "hide me"),
            ("tab\there", &[], "tab here"),
            ("[#A] COMMENT x :t:", &[], "x"),
        ];
        for (content, tags, title) in cases {
            let got = split_task(content, tags).unwrap();
            assert_eq!(got.title, title, "{content:?}");
            if title != content {
                let whole = normalise_body(&lines(content));
                assert_eq!(got.body, whole, "{content:?}: nothing may be lost");
            }
        }
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
