//! The line rules of Org 9.5, as Emacs applies them: a heading's keyword, priority, title and
//! tags, a planning line, a property line. Each function mirrors the regular expression or
//! parser Emacs uses for what the person sees (named in its comment), including where Org's
//! own functions disagree with each other; `tests/emacs_fuzz.rs` holds them to Emacs.
//!
//! "Blank" is a space or a TAB (`[ \t]`); "whitespace" is Emacs's `\s-` in an Org buffer:
//! blanks, LF, CR, form feed, no-break space, U+2000–U+200B, U+202F, U+205F and U+3000.

use super::alnum::is_tag_char;
use super::keywords::TodoKeywords;
use super::ranges::{Entry, Planning, Property, Span};

pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The byte length of the whitespace character at `s[i]`, or 0 if there is none.
fn whitespace_len(s: &[u8], i: usize) -> usize {
    match s[i] {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0C => 1,
        0xC2 if s.get(i + 1) == Some(&0xA0) => 2,
        0xE2 => match (s.get(i + 1), s.get(i + 2)) {
            (Some(0x80), Some(0x80..=0x8B | 0xAF)) | (Some(0x81), Some(0x9F)) => 3,
            _ => 0,
        },
        0xE3 if s.get(i + 1) == Some(&0x80) && s.get(i + 2) == Some(&0x80) => 3,
        _ => 0,
    }
}

/// The first index at or after `from` where `s` has whitespace (or `s.len()`).
fn whitespace_from(s: &[u8], from: usize) -> usize {
    (from..s.len())
        .find(|&i| whitespace_len(s, i) > 0)
        .unwrap_or(s.len())
}

fn skip(s: &[u8], mut i: usize, what: impl Fn(u8) -> bool) -> usize {
    while i < s.len() && what(s[i]) {
        i += 1;
    }
    i
}

/// A property line of a drawer Emacs accepts, `org-property-drawer-re`'s line
/// `[ \t]*:\S-+:\(?: .*\)?[ \t]*$`, read as `org-property-re` reads it: the key is the run of
/// non-whitespace after the first colon, up to its last character, which must be a colon
/// (so `:a:b: x` has the key `a:b`); after it comes the end of the line, a space, or only
/// blanks (a TAB before a value is not accepted). The value is the rest without its leading
/// and trailing blanks. `content` is the line without its ending, `full` with it.
// Inlined into `Document::parse`'s loop (measured: the full scan 15–20 % slower without).
#[inline(always)]
pub(crate) fn property_line(bytes: &[u8], content: Span, full: Span) -> Option<Property> {
    let start = content.start + skip(&bytes[content.range()], 0, is_blank);
    let s = &bytes[start..content.end];
    if s.first() != Some(&b':') {
        return None;
    }
    let run_end = whitespace_from(s, 1);
    // At least one character of key, then the colon that ends it.
    if run_end < 3 || s[run_end - 1] != b':' {
        return None;
    }
    let rest = &s[run_end..];
    let accepted = rest.first().is_none_or(|&b| b == b' ') || rest.iter().all(|&b| is_blank(b));
    if !accepted {
        return None;
    }
    let value_start = skip(rest, 0, is_blank);
    let value_end = rest
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(value_start, |p| p + 1)
        .max(value_start);
    Some(Property {
        line: full,
        key: Span::new(start + 1, start + run_end - 1),
        value: Span::new(start + run_end + value_start, start + run_end + value_end),
    })
}

/// Why a line inside a property drawer is not a property line (see [`property_line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotAProperty {
    /// Only blanks.
    Blank,
    /// `:` followed by a space or nothing: a continuation line `:   …`.
    Continuation,
    /// `:` followed by a TAB.
    TabAfterColon,
    /// `:KEY:` followed by a TAB and a value.
    TabBeforeValue,
    /// The key holds a CR or other whitespace that is not a blank.
    WhitespaceInKey,
    /// Anything else.
    Other,
}

/// Why the line `content` is not a property line.
pub(crate) fn why_not_a_property(content: &[u8]) -> NotAProperty {
    let s = &content[skip(content, 0, is_blank)..];
    if s.iter().all(|&b| is_blank(b)) {
        return NotAProperty::Blank;
    }
    match s {
        [b':'] | [b':', b' ', ..] => return NotAProperty::Continuation,
        [b':', b'\t', ..] => return NotAProperty::TabAfterColon,
        [b':', ..] => {}
        _ => return NotAProperty::Other,
    }
    let run_end = whitespace_from(s, 1);
    if run_end < s.len() && !is_blank(s[run_end]) {
        return NotAProperty::WhitespaceInKey;
    }
    if run_end >= 3 && s[run_end - 1] == b':' && s.get(run_end) == Some(&b'\t') {
        return NotAProperty::TabBeforeValue;
    }
    NotAProperty::Other
}

/// Whether `s` at `i` starts with `word`, ignoring ASCII case.
fn starts_with_ignore_case(s: &[u8], i: usize, word: &[u8]) -> bool {
    s.len() >= i + word.len() && s[i..i + word.len()].eq_ignore_ascii_case(word)
}

/// The planning line, `org-planning-line-re`: `[ \t]*` and then `CLOSED:`, `SCHEDULED:` or
/// `DEADLINE:` in any case (Org searches with `case-fold-search`). Each time is read as
/// `org-entry-properties` reads it: the last occurrence of its word on the line, blanks, then
/// a timestamp `[[<]YYYY-MM-DD( .*?)?[]>]` (a span from the word to the timestamp's end).
pub(crate) fn planning_line(bytes: &[u8], content: Span, full: Span) -> Option<Planning> {
    const WORDS: [&[u8]; 3] = [b"CLOSED:", b"SCHEDULED:", b"DEADLINE:"];
    let start = content.start + skip(&bytes[content.range()], 0, is_blank);
    let s = &bytes[start..content.end];
    if !WORDS.iter().any(|w| starts_with_ignore_case(s, 0, w)) {
        return None;
    }
    let time = |word: &[u8]| -> Option<Span> {
        let at = (0..s.len())
            .rev()
            .find(|&i| starts_with_ignore_case(s, i, word))?;
        let ts = skip(s, at + word.len(), is_blank);
        let len = timestamp_len(&s[ts..])?;
        Some(Span::new(start + at, start + ts + len))
    };
    Some(Planning {
        line: full,
        closed: time(WORDS[0]),
        scheduled: time(WORDS[1]),
        deadline: time(WORDS[2]),
    })
}

/// The length of a timestamp at the start of `s`, `org-ts-regexp-both`:
/// `[[<]` four digits, `-`, two, `-`, two, then optionally a space and anything, up to the
/// first `]` or `>`.
fn timestamp_len(s: &[u8]) -> Option<usize> {
    let digits = |range: std::ops::Range<usize>| {
        s.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let date = matches!(s.first(), Some(b'[' | b'<'))
        && digits(1..5)
        && s.get(5) == Some(&b'-')
        && digits(6..8)
        && s.get(8) == Some(&b'-')
        && digits(9..11);
    if !date {
        return None;
    }
    match s.get(11) {
        Some(b']' | b'>') => Some(12),
        Some(b' ') => s[12..]
            .iter()
            .position(|&b| b == b']' || b == b'>')
            .map(|p| 12 + p + 1),
        _ => None,
    }
}

/// The keyword word that starts at `s[at]` if it is one of `keywords`: `org-todo-line-regexp`
/// wants it followed by a space, the end of the line, or only blanks.
fn todo_keyword(s: &[u8], at: usize, keywords: &TodoKeywords) -> Option<usize> {
    let end = (at..s.len()).find(|&i| is_blank(s[i])).unwrap_or(s.len());
    let followed = end == s.len() || s[end] == b' ' || s[end..].iter().all(|&b| is_blank(b));
    (end > at && followed && keywords.contains_bytes(&s[at..end])).then_some(end)
}

/// The length of a priority cookie `[#.]` (any one character) at the start of `s`.
fn cookie_len(s: &[u8]) -> Option<usize> {
    if !s.starts_with(b"[#") {
        return None;
    }
    let width = s.get(2).map_or(0, |&b| utf8_width(b));
    (width > 0 && s.get(2 + width) == Some(&b']') && std::str::from_utf8(&s[2..2 + width]).is_ok())
        .then_some(width + 3)
}

/// The length of the UTF-8 sequence that starts with `first` (0 for a continuation byte).
fn utf8_width(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 0,
    }
}

/// The tag group at the end of a heading line `s` (without its ending): a run of
/// `[[:alnum:]_@#%:]` characters from a colon to a colon with at least one character between,
/// preceded by a blank and followed only by blanks (`org-tag-line-re`). Returns its start
/// and end.
fn tag_group(s: &[u8]) -> Option<(usize, usize)> {
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |p| p + 1);
    if end == 0 || s[end - 1] != b':' {
        return None;
    }
    let mut start = end;
    while start > 0 {
        let mut char_start = start - 1;
        while char_start > 0 && s[char_start] & 0xC0 == 0x80 {
            char_start -= 1;
        }
        let in_group = std::str::from_utf8(&s[char_start..start])
            .ok()
            .and_then(|c| c.chars().next())
            .is_some_and(|c| c == ':' || is_tag_char(c));
        if !in_group {
            break;
        }
        start = char_start;
    }
    let group = start > 0 && is_blank(s[start - 1]) && s[start] == b':' && end - start >= 3;
    group.then_some((start, end))
}

/// Splits the heading line of `entry` into stars, keyword, priority, title and tags, as the
/// functions Emacs uses for each read them:
///
/// - keyword: `org-get-todo-state` (`org-todo-line-regexp`): spaces (not TABs) after the
///   stars, a keyword, then a space, the end of the line or only blanks;
/// - priority: `org-element`'s headline parser: blanks after the stars, optionally a keyword
///   and a space and blanks, then `[#.]`;
/// - title: `org-get-heading` (`org-complex-heading-regexp`), without keyword, cookie and
///   tags; it starts after the spaces that follow them, so a TAB there is part of the title.
///   A leading `COMMENT` stays (it is text of the title, which callers carry over);
/// - tags: `org-tag-line-re`, the group at the end of the line (see `tag_group`).
// Inlined into `Document::parse`'s loop (measured: the full scan 15–20 % slower without).
#[inline(always)]
pub(crate) fn parse_heading(bytes: &[u8], entry: &mut Entry, keywords: &TodoKeywords) {
    let h = entry.heading;
    let s = &bytes[h.range()];
    let stars = s.iter().take_while(|&&b| b == b'*').count();
    entry.level = stars;
    entry.stars = Span::new(h.start, h.start + stars);
    let at = |i: usize| h.start + i;
    // The keyword.
    let word = skip(s, stars, |b| b == b' ');
    entry.keyword = (word > stars)
        .then(|| todo_keyword(s, word, keywords))
        .flatten()
        .map(|end| Span::new(at(word), at(end)));
    // The priority, as org-element finds it.
    let mut q = skip(s, stars, is_blank);
    let element_keyword = (q..s.len())
        .find(|&i| s[i] == b' ')
        .filter(|&end| end > q && keywords.contains_bytes(&s[q..end]));
    if let Some(end) = element_keyword {
        q = skip(s, end + 1, is_blank);
    }
    entry.priority = cookie_len(&s[q..]).map(|len| Span::new(at(q), at(q + len)));
    // The tags, and the title between what comes before and them.
    let tags = tag_group(s);
    entry.tags = tags.map(|(start, end)| Span::new(at(start), at(end)));
    let (start, end) = title(s, stars, tags, keywords);
    entry.title = Span::new(at(start), at(end));
}

/// The title as `org-complex-heading-regexp` finds it:
/// `^\*+(?: +KW)?(?: +\[#.\])?(?: +(.*?))??(?:[ \t]+(:tags:))?[ \t]*$`, trying the optional
/// parts in the order Emacs's backtracking does.
fn title(
    s: &[u8],
    stars: usize,
    tags: Option<(usize, usize)>,
    keywords: &TodoKeywords,
) -> (usize, usize) {
    // Where the rest matches `(?:[ \t]+(:tags:))?[ \t]*$`: only blanks up to the end, or
    // blanks up to the tag group.
    let content_end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |p| p + 1);
    let tail_at = |i: usize| {
        i >= content_end
            || tags.is_some_and(|(start, _)| i < start && s[i..start].iter().all(|&b| is_blank(b)))
    };
    let spaces_after = |i: usize| skip(s, i, |b| b == b' ');
    let mut keyword_ends: Vec<Option<usize>> = Vec::with_capacity(2);
    let word = spaces_after(stars);
    if word > stars {
        for sequence in keywords.sequences() {
            for keyword in sequence.todo().iter().chain(sequence.done()) {
                if s[word..].starts_with(keyword.as_bytes()) {
                    keyword_ends.push(Some(word + keyword.len()));
                }
            }
        }
    }
    keyword_ends.push(None);
    for keyword_end in keyword_ends {
        let after_keyword = keyword_end.unwrap_or(stars);
        let cookie = spaces_after(after_keyword);
        let mut cookie_ends = Vec::with_capacity(2);
        if cookie > after_keyword
            && let Some(len) = cookie_len(&s[cookie..])
        {
            cookie_ends.push(Some(cookie + len));
        }
        cookie_ends.push(None);
        for cookie_end in cookie_ends {
            let pos = cookie_end.unwrap_or(after_keyword);
            if tail_at(pos) {
                return (pos, pos);
            }
            let start = spaces_after(pos);
            if start == pos {
                continue;
            }
            // The shortest title after which the rest matches.
            let end = match tags {
                Some((group, _)) if start < group => {
                    let blanks = s[..group]
                        .iter()
                        .rposition(|&b| !is_blank(b))
                        .map_or(0, |p| p + 1);
                    blanks.max(start)
                }
                _ => start.max(content_end),
            };
            return (start, end);
        }
    }
    (s.len(), s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(line: &str) -> Option<(String, String)> {
        let bytes = line.as_bytes();
        let span = Span::new(0, bytes.len());
        property_line(bytes, span, span).map(|p| {
            (
                line[p.key.range()].to_owned(),
                line[p.value.range()].to_owned(),
            )
        })
    }

    #[test]
    fn property_lines_follow_the_drawer_regexp() {
        let kv = |k: &str, v: &str| Some((k.to_owned(), v.to_owned()));
        assert_eq!(property("  :ID: msg-1"), kv("ID", "msg-1"));
        assert_eq!(property(":EMPTY:"), kv("EMPTY", ""));
        assert_eq!(property(":EMPTY:\t "), kv("EMPTY", ""));
        assert_eq!(property(":a:b: x  "), kv("a:b", "x"));
        assert_eq!(property(":ID: x\r"), kv("ID", "x\r"));
        assert_eq!(property(": note: x"), None, "a blank after the first colon");
        assert_eq!(
            property(":\tFROM: ana"),
            None,
            "a TAB after the first colon"
        );
        assert_eq!(property(":ID:\tmsg-1"), None, "a TAB before the value");
        assert_eq!(property(":FR\rOM: x"), None, "a CR inside the key");
        assert_eq!(property(":ID:x"), None);
        assert_eq!(property(":ID:\r"), None);
        assert_eq!(property("::"), None);
        assert_eq!(
            property(":a\u{a0}b: x"),
            None,
            "a no-break space ends the key"
        );
    }

    fn heading(line: &str) -> (Option<String>, Option<String>, String, Option<String>) {
        let keywords = TodoKeywords::parse("TODO | DONE");
        let mut entry = Entry::empty_at(Span::new(0, line.len()));
        parse_heading(line.as_bytes(), &mut entry, &keywords);
        let text = |span: Option<Span>| span.map(|s| line[s.range()].to_owned());
        (
            text(entry.keyword),
            text(entry.priority),
            line[entry.title.range()].to_owned(),
            text(entry.tags),
        )
    }

    #[test]
    fn headings_split_as_in_emacs() {
        let h = |k: Option<&str>, p: Option<&str>, t: &str, g: Option<&str>| {
            (
                k.map(String::from),
                p.map(String::from),
                t.to_owned(),
                g.map(String::from),
            )
        };
        assert_eq!(heading("* :a:"), h(None, None, "", Some(":a:")));
        assert_eq!(
            heading("* TODO :a:"),
            h(Some("TODO"), None, "", Some(":a:"))
        );
        assert_eq!(
            heading("* TODO x :a:"),
            h(Some("TODO"), None, "x", Some(":a:"))
        );
        assert_eq!(heading("* [#A]x"), h(None, Some("[#A]"), "[#A]x", None));
        assert_eq!(
            heading("* [#A] x :b:"),
            h(None, Some("[#A]"), "x", Some(":b:"))
        );
        assert_eq!(heading("* TODO\t:c:"), h(None, None, "", Some(":c:")));
        assert_eq!(heading("* TODO\tx"), h(None, None, "TODO\tx", None));
        assert_eq!(heading("* \tTODO x"), h(None, None, "\tTODO x", None));
        assert_eq!(heading("* x :a: :b:"), h(None, None, "x :a:", Some(":b:")));
        assert_eq!(
            heading("* COMMENT x :d:"),
            h(None, None, "COMMENT x", Some(":d:"))
        );
        assert_eq!(
            heading("* TODO [#B] COMMENT y :e:"),
            h(Some("TODO"), Some("[#B]"), "COMMENT y", Some(":e:"))
        );
        assert_eq!(heading("* x :größe:"), h(None, None, "x", Some(":größe:")));
        assert_eq!(
            heading("* x :e\u{301}:"),
            h(None, None, "x", Some(":e\u{301}:"))
        );
        assert_eq!(heading("* x :x²:"), h(None, None, "x :x²:", None));
        assert_eq!(
            heading("* TODO [#A]"),
            h(Some("TODO"), Some("[#A]"), "", None)
        );
        assert_eq!(heading("* DONE\t"), h(Some("DONE"), None, "", None));
        assert_eq!(heading("* TODO x\r"), h(Some("TODO"), None, "x\r", None));
    }

    #[test]
    fn planning_words_are_read_in_any_case_and_the_last_one_counts() {
        let line =
            "  closed: [2026-01-01 Thu 10:00] CLOSED: [2026-02-02 Mon] scheduled: <2026-03-03>";
        let span = Span::new(0, line.len());
        let p = planning_line(line.as_bytes(), span, span).unwrap();
        assert_eq!(&line[p.closed.unwrap().range()], "CLOSED: [2026-02-02 Mon]");
        assert_eq!(
            &line[p.scheduled.unwrap().range()],
            "scheduled: <2026-03-03>"
        );
        assert!(
            planning_line(
                b"  clossed: x",
                span_of("  clossed: x"),
                span_of("  clossed: x")
            )
            .is_none()
        );
        assert_eq!(timestamp_len(b"[2026-01-01 Thu>"), Some(16));
        assert_eq!(timestamp_len(b"[2026-01-01x]"), None);
    }

    fn span_of(s: &str) -> Span {
        Span::new(0, s.len())
    }
}
