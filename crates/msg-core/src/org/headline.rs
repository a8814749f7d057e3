//! The heading title of a new message or task, saying who and what:
//! `[2026-12-07 Mon 10:48] alice: Can you review PR #24?` (a sent message says
//! `[2026-12-07 Mon 10:48] to bob: …`).
//!
//! The title is a summary for people: agenda views and folded outlines list headings, and a
//! heading that is only a timestamp tells nothing. The entry's body keeps the whole text and
//! its properties (`FROM`, `TO`, `CREATED`, …) stay the record programs read, so the summary
//! may shorten and escape freely. Its rules:
//!
//! - **First line only.** The subject is the text's first non-blank line. Runs of blanks
//!   become one space; control characters become spaces; bidirectional-formatting characters
//!   (which reorder what is displayed), zero-width spaces and byte-order marks are removed.
//! - **Truncated.** A subject longer than [`SUBJECT_CHARS`] characters (Unicode scalar values)
//!   is cut to `SUBJECT_CHARS - 1` and ends with `…`; the cut goes at the last blank in that
//!   span when one leaves at least two thirds of it, so words stay whole. A name longer than
//!   [`NAME_CHARS`] is cut the same way (without the word rule). A name's blanks and colons
//!   become `_`, so `alice: ` always ends the name.
//! - **Nothing Org would read as structure.** Org reads some text inside a heading: a
//!   priority cookie `[#A]` anywhere (agenda sorting), statistics cookies `[1/3]` `[50%]`
//!   (rewritten when children change), links `[[target][description]]` (which show the
//!   description and hide the target), footnotes `[fn:…]`, citations `[cite:…]`, timestamps
//!   `<2026-12-08 Tue>` (agenda entries) and `[2026-…]`, diary sexps `<%%(…)>` (Emacs Lisp
//!   that the agenda *evaluates*), targets `<<…>>`, and a trailing `:word:` group (tags).
//!   Each of these openings in the name or the subject gets Org's own escape character, a
//!   zero-width space (U+200B), after its `[` or `<`, and a trailing tag group gets one before
//!   its last colon. A keyword, a priority cookie or `COMMENT` cannot start the title, which
//!   always starts with the timestamp, and a single line cannot start a heading, a drawer or
//!   a list item with a checkbox.
//!
//! [`headline_prefix`] is the part before the subject: a reader that knows the timestamp and
//! the sender can tell a heading written this way from a heading that is a task's first line
//! (the Python original's tasks, and this crate's before 0.3).

/// The most characters of a subject that a heading shows, `…` included.
pub const SUBJECT_CHARS: usize = 60;

/// The most characters of a name that a heading shows, `…` included.
pub const NAME_CHARS: usize = 32;

/// Org's escape character (the Org manual, "Escape Character"): a zero-width space.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// Who a heading names: the sender of what was received or submitted, or the recipient of
/// what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party<'a> {
    /// `alice: …`: from alice.
    From(&'a str),
    /// `to bob: …`: sent to bob.
    To(&'a str),
}

/// The title `STAMP NAME: SUBJECT` of a new entry: `stamp` is an inactive timestamp as
/// [`crate::timestamp::format_inactive`] writes it, `text` the message or task (only its
/// first non-blank line is used). The result always passes [`super::NewEntry::validate`],
/// with or without tags after it. With no subject it is `STAMP NAME`.
///
/// ```
/// use msg_core::org::{headline, Party};
///
/// let title = headline("[2026-12-07 Mon 10:48]", Party::From("alice"), "Can you review PR #24?\n\nThanks");
/// assert_eq!(title, "[2026-12-07 Mon 10:48] alice: Can you review PR #24?");
/// let forged = headline("[2026-12-07 Mon 10:48]", Party::From("mallory"), "[[https://x.example][Approve]] :urgent:");
/// assert_eq!(forged, "[2026-12-07 Mon 10:48] mallory: [\u{200B}[https://x.example][Approve]] :urgent\u{200B}:");
/// ```
pub fn headline(stamp: &str, party: Party<'_>, text: &str) -> String {
    let subject = subject(text);
    let mut title = name_part(stamp, party);
    if !subject.is_empty() {
        title.push_str(": ");
        title.push_str(&escape(&subject));
    }
    disarm_trailing_tags(&mut title);
    title
}

/// What [`headline`] writes before the subject: `STAMP NAME: ` (with the trailing `: `).
pub fn headline_prefix(stamp: &str, party: Party<'_>) -> String {
    let mut prefix = name_part(stamp, party);
    prefix.push_str(": ");
    prefix
}

/// `STAMP NAME` or `STAMP to NAME`, the name cleaned, cut and escaped.
fn name_part(stamp: &str, party: Party<'_>) -> String {
    let (to, name) = match party {
        Party::From(name) => ("", name),
        Party::To(name) => ("to ", name),
    };
    let name: String = clean(name)
        .chars()
        .map(|c| if c == ' ' || c == ':' { '_' } else { c })
        .collect();
    format!("{stamp} {to}{}", escape(&cut(&name, NAME_CHARS, false)))
}

/// The first non-blank line of `text`, cleaned and cut to [`SUBJECT_CHARS`].
fn subject(text: &str) -> String {
    let first = text
        .split(['\n', '\r'])
        .map(clean)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    cut(&first, SUBJECT_CHARS, true)
}

/// One line of display text: control characters and blanks as single spaces, invisible
/// formatting characters removed, no blanks at either end.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_invisible_format(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// Characters that change how text around them is displayed without being seen: bidirectional
/// marks, embeddings, overrides and isolates, the zero-width space (our escape) and the word
/// joiner, and the byte-order mark. (Zero-width joiners stay: emoji sequences need them.)
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` if it has at most `max` characters, else its first `max - 1` and `…`; with
/// `words`, the cut goes at the last blank when that keeps at least two thirds of the span.
fn cut(text: &str, max: usize, words: bool) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max - 1;
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let mut head = &text[..end];
    if words
        && let Some(blank) = head.rfind(' ')
        && head[..blank].chars().count() >= keep * 2 / 3
    {
        head = &head[..blank];
    }
    format!("{}…", head.trim_end())
}

/// `text` with a zero-width space after each `[` or `<` that opens something Org reads in a
/// heading (see the module documentation).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        out.push(c);
        let opens = match c {
            '[' => {
                rest.starts_with(['[', '#', '%', '/'])
                    || rest.starts_with(|d: char| d.is_ascii_digit())
                    || rest.starts_with("fn:")
                    || rest.starts_with("cite")
            }
            '<' => rest.starts_with(['<', '%']) || rest.starts_with(|d: char| d.is_ascii_digit()),
            _ => false,
        };
        if opens {
            out.push(ZERO_WIDTH_SPACE);
        }
    }
    out
}

/// If `title` ends in a group Org would read as tags (`:word:` with Org's tag characters),
/// puts a zero-width space before its last colon.
fn disarm_trailing_tags(title: &mut String) {
    if super::entry::ends_like_tags(title) {
        title.insert(title.len() - 1, ZERO_WIDTH_SPACE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::{Document, NewEntry, TodoKeywords};

    const AT: &str = "[2026-12-07 Mon 10:48]";

    fn from(text: &str) -> String {
        headline(AT, Party::From("alice"), text)
    }

    #[test]
    fn says_who_and_the_first_line() {
        assert_eq!(
            from("Can you review PR #24?\nThe OAuth part is tricky."),
            "[2026-12-07 Mon 10:48] alice: Can you review PR #24?"
        );
        assert_eq!(
            from("\n  \r\n\t  Hello\t\tthere  \nrest"),
            "[2026-12-07 Mon 10:48] alice: Hello there"
        );
        assert_eq!(
            headline(AT, Party::To("bob"), "hi"),
            "[2026-12-07 Mon 10:48] to bob: hi"
        );
        assert_eq!(from(" \n\n"), "[2026-12-07 Mon 10:48] alice");
        assert_eq!(
            headline_prefix(AT, Party::From("tex@team.example.com")),
            "[2026-12-07 Mon 10:48] tex@team.example.com: "
        );
    }

    #[test]
    fn long_subjects_are_cut_at_a_word_and_names_at_a_character() {
        let long = "Please summarise the standup notes from Monday and Tuesday and send them round";
        let title = from(long);
        let subject = title
            .strip_prefix("[2026-12-07 Mon 10:48] alice: ")
            .unwrap();
        assert_eq!(
            subject,
            "Please summarise the standup notes from Monday and Tuesday…"
        );
        assert!(subject.chars().count() <= SUBJECT_CHARS);
        // No blank late enough: cut inside the word.
        let word = "x".repeat(100);
        let subject = from(&word);
        assert!(subject.ends_with(&format!("{}…", "x".repeat(SUBJECT_CHARS - 1))));
        // Exactly the limit is kept whole.
        let exact = "y".repeat(SUBJECT_CHARS);
        assert!(from(&exact).ends_with(&exact));
        // Multi-byte characters are counted as characters and never split.
        let wide = "日本語のテキスト".repeat(10);
        let subject = from(&wide);
        assert_eq!(
            subject.split(": ").nth(1).unwrap().chars().count(),
            SUBJECT_CHARS
        );
        let name = "n".repeat(40);
        assert_eq!(
            headline(AT, Party::From(&name), "x"),
            format!("{AT} {}…: x", "n".repeat(NAME_CHARS - 1))
        );
    }

    #[test]
    fn names_cannot_fake_the_separator() {
        assert_eq!(
            headline(AT, Party::From("bob: urgent from alice"), "x"),
            "[2026-12-07 Mon 10:48] bob__urgent_from_alice: x"
        );
    }

    #[test]
    fn org_constructs_get_the_escape_character() {
        let z = '\u{200B}';
        let cases = [
            ("[#A] urgent", format!("[{z}#A] urgent")),
            (
                "done [2/3] [50%] [%] [/]",
                format!("done [{z}2/3] [{z}50%] [{z}%] [{z}/]"),
            ),
            (
                "[[https://evil.example][Approve]]",
                format!("[{z}[https://evil.example][Approve]]"),
            ),
            (
                "see [fn:1] and [cite:@x]",
                format!("see [{z}fn:1] and [{z}cite:@x]"),
            ),
            (
                "meet <2026-12-08 Tue 09:00>",
                format!("meet <{z}2026-12-08 Tue 09:00>"),
            ),
            ("when [2026-12-08 Tue]", format!("when [{z}2026-12-08 Tue]")),
            (
                "<%%(delete-file \"x\")>",
                format!("<{z}%%(delete-file \"x\")>"),
            ),
            (
                "<<target>> <<<radio>>>",
                format!("<{z}<target>> <{z}<{z}<radio>>>"),
            ),
            ("Fix it :urgent:", format!("Fix it :urgent{z}:")),
            ("Route :AI:research:", format!("Route :AI:research{z}:")),
            // Ordinary brackets and comparisons stay as they are.
            (
                "a [draft] with x < y and [ok]",
                "a [draft] with x < y and [ok]".to_owned(),
            ),
            // A zero-width space in the text is dropped, so every one in a title is ours.
            (&format!("[{z}[x]]"), format!("[{z}[x]]")),
            (
                "bidi \u{202E}txt.exe\u{202C} mark",
                "bidi txt.exe mark".to_owned(),
            ),
        ];
        for (text, subject) in cases {
            assert_eq!(from(text), format!("{AT} alice: {subject}"), "{text:?}");
        }
    }

    /// Every headline is a valid title and reads back as itself, with and without tags.
    #[test]
    fn every_headline_reads_back_as_itself() {
        let keywords = TodoKeywords::parse("TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED");
        let texts = [
            "plain",
            ":urgent:",
            "[#A]",
            "COMMENT x",
            "DONE x",
            "* TODO heading?",
            "a :b: :c:",
            "tab\there",
            "x\u{7}y",
            ":",
            "::",
            "[",
            "<",
            "trailing :a#b%c@d_e:",
            "",
        ];
        for text in texts {
            for tags in [vec![], vec!["unread".to_owned(), "message".to_owned()]] {
                let entry = NewEntry {
                    keyword: Some("TODO".into()),
                    title: from(text),
                    tags: tags.clone(),
                    ..NewEntry::default()
                };
                entry
                    .validate(&keywords)
                    .unwrap_or_else(|e| panic!("{text:?}: {e}"));
                let doc = Document::parse(entry.render("\n").into_bytes(), &keywords);
                let read = doc.entry(0);
                assert_eq!(read.title(), entry.title, "{text:?}");
                assert_eq!(read.tags(), tags, "{text:?}");
                assert_eq!(read.priority(), None, "{text:?}");
            }
        }
    }
}
