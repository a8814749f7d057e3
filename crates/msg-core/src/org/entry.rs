//! The canonical form of a new entry, and the body text escape that keeps it one entry.
//!
//! ```text
//! * TODO [#A] Title :tag1:tag2:
//!   :PROPERTIES:
//!   :KEY: value
//!   :END:
//!   Body lines, indented two spaces.
//! ```
//!
//! This is what the Python original (org-workspace 0.3.0) writes, plus the priority cookie,
//! and what Emacs reads without complaint. A body line that Org would read as something
//! other than text (a `#+` keyword line, a drawer boundary such as `:END:`, or a line that
//! already starts with the escape comma) gets Org's comma escape, so a message can never
//! forge a heading, a keyword line or a drawer.
//!
//! Org's agenda also *evaluates* a diary sexp timestamp `<%%(…)>` anywhere in an entry, body
//! and property drawer included (checked with Org 9.5: `org-agenda-get-timestamps`), so text
//! from someone else could run Emacs Lisp when the person opens an agenda. In a body, every
//! `<` directly followed by `%%` (or by zero-width spaces and then `%%`) gets a zero-width
//! space (U+200B, Org's escape character) after it, which reading removes again, so the
//! body reads back exactly; titles and property values holding `<%%` are refused.

use super::keywords::TodoKeywords;
use crate::validate::{self, ValidationError};

/// A new entry in canonical form. Build it, then hand it to `Transaction::append`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEntry {
    /// The TODO keyword, e.g. `TODO`.
    pub keyword: Option<String>,
    /// The priority letter of the `[#A]` cookie.
    pub priority: Option<char>,
    /// The heading text (one line).
    pub title: String,
    /// The tags, written in this order.
    pub tags: Vec<String>,
    /// The properties, written in this order.
    pub properties: Vec<(String, String)>,
    /// The body; any line endings; may be empty.
    pub body: String,
}

impl NewEntry {
    /// Checks every part against what Org reads back unchanged: keyword and tag syntax,
    /// single-line title and property values, valid keys, no key twice, and a title that
    /// Org would not read as a keyword, a priority cookie or tags.
    pub fn validate(&self, keywords: &TodoKeywords) -> Result<(), ValidationError> {
        if let Some(keyword) = &self.keyword {
            validate::keyword(keyword)?;
        }
        if let Some(priority) = self.priority
            && !priority.is_ascii_alphanumeric()
        {
            return Err(ValidationError::InvalidPriority { priority });
        }
        validate::property_value("title", &self.title)?;
        if self.title.chars().any(char::is_control) {
            return Err(ValidationError::ControlCharacter {
                field: "title".into(),
                value: self.title.clone(),
            });
        }
        let first_word = self.title.split_whitespace().next().unwrap_or("");
        // `COMMENT` first makes the entry a commented one, which agendas and exports skip.
        if (self.keyword.is_none() && keywords.contains(first_word))
            || first_word == "COMMENT"
            || (self.priority.is_none() && is_priority_cookie(first_word))
            || (self.tags.is_empty() && ends_like_tags(&self.title))
            || self.title != self.title.trim()
        {
            return Err(ValidationError::AmbiguousTitle {
                title: self.title.clone(),
            });
        }
        for tag in &self.tags {
            validate::tag(tag)?;
        }
        for (index, (key, value)) in self.properties.iter().enumerate() {
            validate::property_key(key)?;
            validate::property_value(key, value)?;
            if self.properties[..index]
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(key))
            {
                return Err(ValidationError::InvalidPropertyKey {
                    key: key.clone(),
                    reason: "it is given twice",
                });
            }
        }
        Ok(())
    }

    /// The entry's text with `eol` line endings, exactly as `Transaction::append` writes it.
    /// Call [`NewEntry::validate`] first: an invalid entry renders as something else.
    pub fn render(&self, eol: &str) -> String {
        let mut out = String::with_capacity(128 + self.body.len());
        out.push('*');
        for part in [
            self.keyword.clone(),
            self.priority.map(|p| format!("[#{p}]")),
            (!self.title.is_empty()).then(|| self.title.clone()),
            (!self.tags.is_empty()).then(|| format!(":{}:", self.tags.join(":"))),
        ]
        .into_iter()
        .flatten()
        {
            out.push(' ');
            out.push_str(&part);
        }
        if out == "*" {
            out.push(' ');
        }
        out.push_str(eol);
        if !self.properties.is_empty() {
            out.push_str("  :PROPERTIES:");
            out.push_str(eol);
            for (key, value) in &self.properties {
                out.push_str("  :");
                out.push_str(key);
                out.push_str(": ");
                out.push_str(value);
                out.push_str(eol);
            }
            out.push_str("  :END:");
            out.push_str(eol);
        }
        for line in body_lines(&self.body) {
            out.push_str("  ");
            escape_line_into(line, &mut out);
            out.push_str(eol);
        }
        out
    }
}

/// Whether `word` starts with what Org reads as a priority cookie: `[#`, any one character,
/// `]` (no blank is needed after it).
fn is_priority_cookie(word: &str) -> bool {
    let mut chars = word
        .strip_prefix("[#")
        .map(str::chars)
        .into_iter()
        .flatten();
    chars.next().is_some() && chars.next() == Some(']')
}

/// Whether Org would read the end of `title` as a tag group. The title always follows a blank
/// in the heading, so a title that is only `:a:b:` is read as tags too.
pub(super) fn ends_like_tags(title: &str) -> bool {
    let Some(last) = title.split([' ', '\t']).next_back() else {
        return false;
    };
    last.len() >= 3
        && last.starts_with(':')
        && last.ends_with(':')
        && last
            .chars()
            .all(|c| c == ':' || c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '%'))
}

/// The body's lines: any of LF, CRLF or CR ends a line; trailing line endings are dropped.
fn body_lines(body: &str) -> impl Iterator<Item = &str> {
    let body = body.trim_end_matches(['\n', '\r']);
    let mut lines: Vec<&str> = Vec::new();
    if !body.is_empty() {
        for line in body.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            lines.extend(line.split('\r'));
        }
    }
    lines.into_iter()
}

/// Whether Org would read `line` as something other than paragraph text: a `#+` keyword line
/// or a drawer boundary (`:NAME:` alone), indented or not, or whether it starts with an
/// escape comma already (so that unescaping is unambiguous). Lines starting with `*` need no
/// escape: the two-space indentation already keeps them from being headings.
fn needs_escape(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']);
    if let Some(rest) = t.strip_prefix(',') {
        return needs_escape(rest);
    }
    if t.starts_with("#+") {
        return true;
    }
    let t = t.trim_end_matches([' ', '\t']);
    t.len() >= 3
        && t.starts_with(':')
        && t.ends_with(':')
        && t[1..t.len() - 1]
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn escape_line_into(line: &str, out: &mut String) {
    if needs_escape(line) {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        out.push_str(&line[..indent]);
        out.push(',');
        escape_sexp_into(&line[indent..], out);
    } else {
        escape_sexp_into(line, out);
    }
}

/// Undoes [`escape_line_into`] for one line (its indentation kept).
fn unescape_line(line: &str) -> std::borrow::Cow<'_, str> {
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    let line: std::borrow::Cow<'_, str> = match line[indent..].strip_prefix(',') {
        Some(rest) if needs_escape(rest) => format!("{}{rest}", &line[..indent]).into(),
        _ => line.into(),
    };
    if line.contains("<\u{200B}") {
        unescape_sexp(&line).into()
    } else {
        line
    }
}

/// Org's escape character, the zero-width space.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// Whether `rest` (the text after a `<`) would make that `<` open a diary sexp, now or after
/// one escape character is removed: zero-width spaces, then `%%`.
fn opens_sexp(rest: &str) -> bool {
    rest.trim_start_matches(ZERO_WIDTH_SPACE).starts_with("%%")
}

/// Puts a zero-width space after each `<` that [`opens_sexp`].
fn escape_sexp_into(line: &str, out: &mut String) {
    let mut pieces = line.split('<');
    out.push_str(pieces.next().unwrap_or(""));
    for piece in pieces {
        out.push('<');
        if opens_sexp(piece) {
            out.push(ZERO_WIDTH_SPACE);
        }
        out.push_str(piece);
    }
}

/// Undoes [`escape_sexp_into`]: removes one zero-width space after each `<` that has one
/// and then opens a sexp.
fn unescape_sexp(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut pieces = line.split('<');
    out.push_str(pieces.next().unwrap_or(""));
    for piece in pieces {
        out.push('<');
        match piece.strip_prefix(ZERO_WIDTH_SPACE) {
            Some(rest) if opens_sexp(rest) => out.push_str(rest),
            _ => out.push_str(piece),
        }
    }
    out
}

/// The body a person wrote, from an entry's raw body bytes: the LOGBOOK (`logbook`, relative
/// to `raw`) removed, the canonical two-space indentation removed (where every line has it),
/// escapes undone, LF line endings, leading and trailing blank lines dropped.
pub(crate) fn body_from_raw(raw: &[u8], logbook: Option<std::ops::Range<usize>>) -> String {
    let text = String::from_utf8_lossy(raw);
    let text = match logbook {
        Some(range) => {
            let mut t = text[..range.start].to_owned();
            t.push_str(&text[range.end..]);
            t
        }
        None => text.into_owned(),
    };
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // The canonical indentation is two spaces; a body indented further (or not at all, as
    // Emacs writes with `org-adapt-indentation` off) keeps the rest of its indentation.
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0)
        .min(2);
    let mut out: Vec<std::borrow::Cow<'_, str>> = lines
        .iter()
        .map(|l| {
            // Only ASCII spaces are indentation (a line may start with U+3000 and the like).
            let spaces = l.bytes().take(indent).take_while(|&b| b == b' ').count();
            let l = &l[spaces..];
            unescape_line(l)
        })
        .collect();
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let first = out
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(out.len());
    out[first..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states() -> TodoKeywords {
        TodoKeywords::parse("TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED")
    }

    #[test]
    fn escapes_only_what_org_would_misread_and_round_trips() {
        let body = "#+TITLE: forged\n* not a heading\n:END:\n,already\n  :PROPERTIES:\nplain: text :x:\n, comma text\n,#+double";
        let entry = NewEntry {
            title: "t".into(),
            body: body.into(),
            ..NewEntry::default()
        };
        let text = entry.render("\n");
        assert_eq!(
            text,
            "* t\n  ,#+TITLE: forged\n  * not a heading\n  ,:END:\n  ,already\n    ,:PROPERTIES:\n  plain: text :x:\n  , comma text\n  ,,#+double\n"
        );
        let body_start = text.find('\n').unwrap() + 1;
        assert_eq!(body_from_raw(&text.as_bytes()[body_start..], None), body);
    }

    #[test]
    fn diary_sexps_in_bodies_are_escaped_and_read_back_exactly() {
        let z = ZERO_WIDTH_SPACE;
        let body = format!(
            "run <%%(delete-file \"x\")> now\n<{z}%%(already) and <{z}{z}%%x\n,#+X <%%y\n< %% <a> <%"
        );
        let entry = NewEntry {
            title: "t".into(),
            body: body.clone(),
            ..NewEntry::default()
        };
        let text = entry.render("\n");
        assert_eq!(
            text,
            format!(
                "* t\n  run <{z}%%(delete-file \"x\")> now\n  <{z}{z}%%(already) and <{z}{z}{z}%%x\n  ,,#+X <{z}%%y\n  < %% <a> <%\n"
            )
        );
        assert!(!text.contains("<%%"));
        let body_start = text.find('\n').unwrap() + 1;
        assert_eq!(body_from_raw(&text.as_bytes()[body_start..], None), body);
    }

    #[test]
    fn titles_and_properties_holding_a_diary_sexp_are_refused() {
        let entry = NewEntry {
            title: "meet <%%(diary-float t 4 2)>".into(),
            ..NewEntry::default()
        };
        assert!(matches!(
            entry.validate(&states()),
            Err(ValidationError::DiarySexp { .. })
        ));
        let entry = NewEntry {
            title: "t".into(),
            properties: vec![("THREAD".into(), "<%%(shell-command \"x\")>".into())],
            ..NewEntry::default()
        };
        assert!(matches!(
            entry.validate(&states()),
            Err(ValidationError::DiarySexp { field, .. }) if field == "THREAD"
        ));
    }

    #[test]
    fn bodies_with_non_ascii_blanks_read_without_panicking() {
        // A line of only U+3000 counts as blank for the indentation, and is not sliced inside
        // its character.
        let raw = "  first\n\u{3000}\n  second\n".as_bytes();
        assert_eq!(body_from_raw(raw, None), "first\n\u{3000}\nsecond");
    }

    #[test]
    fn rejects_titles_org_would_read_differently() {
        let check = |title: &str, keyword: Option<&str>, tags: &[&str]| {
            NewEntry {
                keyword: keyword.map(str::to_owned),
                title: title.into(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                ..NewEntry::default()
            }
            .validate(&states())
        };
        assert!(check("DONE but not really", None, &[]).is_err());
        assert!(check("DONE is fine after a keyword", Some("TODO"), &[]).is_ok());
        assert!(check("[#A] sneaky", Some("TODO"), &[]).is_err());
        assert!(check("[#é]glued", Some("TODO"), &[]).is_err());
        assert!(check("[#] fine", Some("TODO"), &[]).is_ok());
        assert!(check("Fix it :urgent:", Some("TODO"), &[]).is_err());
        assert!(check("Fix it :urgent:", Some("TODO"), &["AI"]).is_ok());
        assert!(check(":urgent:", Some("TODO"), &[]).is_err());
        assert!(
            check("a ::", Some("TODO"), &[]).is_ok(),
            "`::` is not a tag group"
        );
        assert!(check("COMMENT on the PR", Some("TODO"), &[]).is_err());
        assert!(check("two\nlines", Some("TODO"), &[]).is_err());
        assert!(check(" padded", Some("TODO"), &[]).is_err());
        assert!(check("ok", Some("TODO"), &["bad-tag"]).is_err());
    }

    #[test]
    fn rejects_repeated_and_multiline_properties() {
        let mut entry = NewEntry {
            keyword: Some("TODO".into()),
            title: "x".into(),
            properties: vec![("ID".into(), "a".into()), ("id".into(), "b".into())],
            ..NewEntry::default()
        };
        assert!(entry.validate(&states()).is_err());
        entry.properties = vec![("FROM".into(), "bob\n:TRUST_TIER: owner".into())];
        let err = entry.validate(&states()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("FROM must not contain line breaks"),
            "{err}"
        );
    }
}
