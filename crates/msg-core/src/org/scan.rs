//! The lossless scanner: one pass over a file's bytes that indexes every entry by byte ranges.
//!
//! Nothing is copied or normalised. A [`Document`] keeps the bytes it was given and answers
//! questions by slicing them, so writing it back is writing those bytes back, and an edit is a
//! splice of a few bytes (see `edit.rs`). The rules are Emacs's (Org 9.5):
//!
//! - a heading is a line that starts with one or more `*` followed by a space;
//! - the keyword is the heading's first word when the file's `#+TODO:` family of lines or the
//!   caller declares it; a priority cookie `[#A]` may follow; tags are a trailing
//!   `:a:b:` group of `[[:alnum:]_@#%]` preceded by whitespace;
//! - a planning line (`CLOSED:`, `SCHEDULED:`, `DEADLINE:`) counts only directly after the
//!   heading; a property drawer counts only directly after the heading or planning line, and
//!   only if every line up to `:END:` is a property line `:KEY:` or `:KEY: value` (Emacs
//!   ignores the whole drawer otherwise; we report it, see [`Document::ignored_drawers`]);
//! - the LOGBOOK is the first `:LOGBOOK:` … `:END:` drawer in the section after that meta data.
//!
//! Lines end in LF or CRLF; a CR before LF is never part of a line's content.

use std::borrow::Cow;
use std::ops::Range;

use super::keywords::{KeywordSequence, TodoKeywords, keyword_line_value};

/// A byte range in a document. `Copy`, unlike `Range<usize>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub(crate) fn range(self) -> Range<usize> {
        self.start..self.end
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }

    fn shift(&mut self, delta: isize) {
        self.start = self.start.wrapping_add_signed(delta);
        self.end = self.end.wrapping_add_signed(delta);
    }
}

/// One property line of a drawer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    /// The whole line, line ending included.
    pub(crate) line: Span,
    /// The key, without its colons.
    pub(crate) key: Span,
    /// The value, without surrounding whitespace (empty for `:KEY:`).
    pub(crate) value: Span,
}

/// The planning line and the timestamps on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planning {
    /// The whole line, line ending included.
    pub(crate) line: Span,
    /// `CLOSED: [ts]`, from the word to the end of the timestamp.
    pub(crate) closed: Option<Span>,
    /// `SCHEDULED: <ts>`.
    pub(crate) scheduled: Option<Span>,
    /// `DEADLINE: <ts>`.
    pub(crate) deadline: Option<Span>,
}

/// A drawer: its opening line, contents and `:END:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Drawer {
    /// From the start of the opening line to the end of the `:END:` line (ending included).
    pub(crate) whole: Span,
    /// The opening line (`:PROPERTIES:` or `:LOGBOOK:`), line ending included.
    pub(crate) begin: Span,
    /// The `:END:` line, line ending included.
    pub(crate) end: Span,
}

impl Drawer {
    pub(crate) fn contents(&self) -> Span {
        Span::new(self.begin.end, self.end.start)
    }
}

/// One heading and its section (up to the next heading of any level), as byte ranges into the
/// [`Document`] it came from. Read it through [`EntryRef`]; edit it through `Transaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub(crate) line: usize,
    pub(crate) level: usize,
    /// The section: heading line start up to the next heading (children excluded).
    pub(crate) section: Span,
    /// End of the subtree (children included).
    pub(crate) subtree_end: usize,
    /// The heading line without its line ending.
    pub(crate) heading: Span,
    pub(crate) stars: Span,
    pub(crate) keyword: Option<Span>,
    pub(crate) priority: Option<Span>,
    pub(crate) title: Span,
    pub(crate) tags: Option<Span>,
    /// Boxed: most entries have none, and the index should stay small.
    pub(crate) planning: Option<Box<Planning>>,
    pub(crate) drawer: Option<Drawer>,
    pub(crate) properties: Vec<Property>,
    pub(crate) logbook: Option<Box<Drawer>>,
    /// After the heading, planning line and property drawer, up to the section's end.
    pub(crate) body: Span,
    /// A `:PROPERTIES:` line where Emacs would expect the drawer, that does not form one.
    pub(crate) ignored_drawer: Option<IgnoredAt>,
}

/// Where an ignored property drawer begins, and the first line that keeps it from being
/// one (`None`: no `:END:` before the section ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IgnoredAt {
    pub(crate) begin: usize,
    pub(crate) culprit: Option<Span>,
}

/// A `:PROPERTIES:` drawer that Emacs ignores, and why: [`Document::drawer_problems`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredDrawer {
    /// The 1-based line of its `:PROPERTIES:`.
    pub line: usize,
    /// The 1-based line of the entry's heading.
    pub entry_line: usize,
    /// What keeps it from being a drawer.
    pub problem: DrawerProblem,
}

/// Why Emacs ignores a property drawer. Its `Display` is a sentence part for a report:
/// `line 4 is blank`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DrawerProblem {
    /// No `:END:` line before the next heading, or before the end of the file.
    NoEnd {
        /// Whether a heading follows (else the file ends).
        before_heading: bool,
    },
    /// A blank line inside.
    BlankLine {
        /// Its 1-based line.
        line: usize,
    },
    /// A continuation line `:   …`, as org-workspace 0.4 writes multi-line values.
    ContinuationLine {
        /// Its 1-based line.
        line: usize,
    },
    /// A line that is not `:KEY: value` (or `:KEY:`).
    NotAProperty {
        /// Its 1-based line.
        line: usize,
    },
}

impl std::fmt::Display for DrawerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrawerProblem::NoEnd {
                before_heading: true,
            } => write!(f, "no :END: before the next heading"),
            DrawerProblem::NoEnd {
                before_heading: false,
            } => write!(f, "no :END:"),
            DrawerProblem::BlankLine { line } => write!(f, "line {line} is blank"),
            DrawerProblem::ContinuationLine { line } => write!(
                f,
                "line {line} is a continuation line `:   …`, as org-workspace 0.4 writes multi-line values; put the value on one line"
            ),
            DrawerProblem::NotAProperty { line } => {
                write!(f, "line {line} is not a `:KEY: value` line")
            }
        }
    }
}

impl Entry {
    /// The 1-based line number of the heading.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The number of stars.
    pub fn level(&self) -> usize {
        self.level
    }

    /// The entry's own section: the heading line up to the next heading of any level.
    pub fn section_range(&self) -> Range<usize> {
        self.section.range()
    }

    /// The subtree: the section plus every deeper heading below it.
    pub fn subtree_range(&self) -> Range<usize> {
        self.section.start..self.subtree_end
    }

    /// The heading line, without its line ending.
    pub fn heading_range(&self) -> Range<usize> {
        self.heading.range()
    }

    /// The stars.
    pub fn stars_range(&self) -> Range<usize> {
        self.stars.range()
    }

    /// The TODO keyword, if the heading has one.
    pub fn keyword_range(&self) -> Option<Range<usize>> {
        self.keyword.map(Span::range)
    }

    /// The priority cookie `[#A]`, if any.
    pub fn priority_range(&self) -> Option<Range<usize>> {
        self.priority.map(Span::range)
    }

    /// The title (may be empty), without surrounding whitespace.
    pub fn title_range(&self) -> Range<usize> {
        self.title.range()
    }

    /// The tag group `:a:b:`, if any.
    pub fn tags_range(&self) -> Option<Range<usize>> {
        self.tags.map(Span::range)
    }

    /// The planning line (ending included), if any.
    pub fn planning_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref().map(|p| p.line.range())
    }

    /// `CLOSED: [ts]` on the planning line, if any.
    pub fn closed_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref()?.closed.map(Span::range)
    }

    /// `SCHEDULED: <ts>` on the planning line, if any.
    pub fn scheduled_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref()?.scheduled.map(Span::range)
    }

    /// `DEADLINE: <ts>` on the planning line, if any.
    pub fn deadline_range(&self) -> Option<Range<usize>> {
        self.planning.as_ref()?.deadline.map(Span::range)
    }

    /// The property drawer from `:PROPERTIES:` to `:END:` (ending included), if valid.
    pub fn drawer_range(&self) -> Option<Range<usize>> {
        self.drawer.as_ref().map(|d| d.whole.range())
    }

    /// Each property's key range and value range, in file order.
    pub fn property_ranges(&self) -> impl Iterator<Item = (Range<usize>, Range<usize>)> + '_ {
        self.properties
            .iter()
            .map(|p| (p.key.range(), p.value.range()))
    }

    /// The LOGBOOK drawer from `:LOGBOOK:` to `:END:` (ending included), if any.
    pub fn logbook_range(&self) -> Option<Range<usize>> {
        self.logbook.as_ref().map(|d| d.whole.range())
    }

    /// Everything after the meta data (heading, planning, properties) up to the next heading,
    /// LOGBOOK and other drawers included.
    pub fn body_range(&self) -> Range<usize> {
        self.body.range()
    }

    fn shift(&mut self, delta: isize) {
        for span in [
            &mut self.section,
            &mut self.heading,
            &mut self.stars,
            &mut self.title,
            &mut self.body,
        ] {
            span.shift(delta);
        }
        self.subtree_end = self.subtree_end.wrapping_add_signed(delta);
        for span in [&mut self.keyword, &mut self.priority, &mut self.tags]
            .into_iter()
            .flatten()
        {
            span.shift(delta);
        }
        if let Some(p) = &mut self.planning {
            p.line.shift(delta);
            for span in [&mut p.closed, &mut p.scheduled, &mut p.deadline]
                .into_iter()
                .flatten()
            {
                span.shift(delta);
            }
        }
        for d in [self.drawer.as_mut(), self.logbook.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            d.whole.shift(delta);
            d.begin.shift(delta);
            d.end.shift(delta);
        }
        for p in &mut self.properties {
            p.line.shift(delta);
            p.key.shift(delta);
            p.value.shift(delta);
        }
        if let Some(at) = &mut self.ignored_drawer {
            at.begin = at.begin.wrapping_add_signed(delta);
            if let Some(culprit) = &mut at.culprit {
                culprit.shift(delta);
            }
        }
    }
}

/// The first byte sequence that is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Its byte offset.
    pub offset: usize,
    /// Its 1-based line.
    pub line: usize,
}

/// Two entries of one file that carry the same `:ID:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ID {id:?} is on two entries (lines {first_line} and {second_line})")]
pub struct DuplicateId {
    /// The ID.
    pub id: String,
    /// The heading line of the first entry with it.
    pub first_line: usize,
    /// The heading line of the later entry with it.
    pub second_line: usize,
}

impl DuplicateId {
    /// The error for an operation on `path` that needed this ID to name one entry.
    pub fn in_file(self, path: &std::path::Path) -> super::error::OrgError {
        super::error::OrgError::DuplicateId {
            path: path.to_owned(),
            id: self.id,
            first_line: self.first_line,
            second_line: self.second_line,
        }
    }
}

/// A scanned org file: its exact bytes plus an index of entries.
#[derive(Debug, Clone, Default)]
pub struct Document {
    bytes: Vec<u8>,
    /// The keywords the file declares itself.
    declared: TodoKeywords,
    /// `declared` united with the caller's states: what is read as a keyword.
    keywords: TodoKeywords,
    /// Each `#+TODO:`-family line (ending included).
    keyword_lines: Vec<Span>,
    entries: Vec<Entry>,
    invalid_utf8: Option<InvalidUtf8>,
    crlf: bool,
}

/// Finds the next `\n` at or after `from`, eight bytes at a time.
fn find_newline(bytes: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = from;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let x = word ^ NL;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| b == b'\n').map(|p| i + p)
}

/// One line: `content` excludes the line ending, `full` includes it.
#[derive(Debug, Clone, Copy)]
struct Line {
    content: Span,
    full: Span,
}

struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let start = self.pos;
        if start >= self.bytes.len() {
            return None;
        }
        let (content_end, full_end) = match find_newline(self.bytes, start) {
            Some(nl) if nl > start && self.bytes[nl - 1] == b'\r' => (nl - 1, nl + 1),
            Some(nl) => (nl, nl + 1),
            None => (self.bytes.len(), self.bytes.len()),
        };
        self.pos = full_end;
        Some(Line {
            content: Span::new(start, content_end),
            full: Span::new(start, full_end),
        })
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The line's content without leading and trailing blanks.
fn trimmed(bytes: &[u8], content: Span) -> Span {
    let s = &bytes[content.range()];
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(start, |p| p + 1);
    Span::new(content.start + start, content.start + end)
}

fn is_heading(bytes: &[u8], content: Span) -> bool {
    let s = &bytes[content.range()];
    let stars = s.iter().take_while(|&&b| b == b'*').count();
    stars > 0 && s.get(stars) == Some(&b' ')
}

fn trimmed_is(bytes: &[u8], content: Span, word: &[u8]) -> bool {
    let t = trimmed(bytes, content);
    bytes[t.range()].eq_ignore_ascii_case(word)
}

/// Parses a property line `:KEY: value` as Emacs's `org-property-re` does: the key is the
/// shortest non-blank run followed by `:` and then a blank or the end of the line.
// Inlined into `Document::parse`'s loop, as it was before `scan_section` became a
// second caller (measured: the full scan 15–20 % slower without).
#[inline(always)]
fn property_line(bytes: &[u8], line: Line) -> Option<Property> {
    let t = trimmed(bytes, line.content);
    let s = &bytes[t.start..line.content.end];
    if s.first() != Some(&b':') {
        return None;
    }
    let mut i = 2; // the key has at least one byte
    while i < s.len() {
        let b = s[i];
        if is_blank(b) {
            return None;
        }
        if b == b':' && (i + 1 == s.len() || is_blank(s[i + 1])) {
            let key = Span::new(t.start + 1, t.start + i);
            let value_region = Span::new(t.start + i + 1, line.content.end);
            let value = trimmed(bytes, value_region);
            let value = if value.is_empty() {
                Span::new(value_region.start.min(t.end), value_region.start.min(t.end))
            } else {
                value
            };
            return Some(Property {
                line: line.full,
                key,
                value,
            });
        }
        i += 1;
    }
    None
}

fn planning_line(bytes: &[u8], line: Line) -> Option<Planning> {
    let t = trimmed(bytes, line.content);
    let s = &bytes[t.range()];
    const WORDS: [&[u8]; 3] = [b"CLOSED:", b"SCHEDULED:", b"DEADLINE:"];
    if !WORDS.iter().any(|w| s.starts_with(w)) {
        return None;
    }
    let mut planning = Planning {
        line: line.full,
        closed: None,
        scheduled: None,
        deadline: None,
    };
    let mut i = 0;
    while i < s.len() {
        let Some(word) = WORDS.iter().position(|w| s[i..].starts_with(w)) else {
            i += 1;
            continue;
        };
        let mut j = i + WORDS[word].len();
        while j < s.len() && is_blank(s[j]) {
            j += 1;
        }
        let close = match s.get(j) {
            Some(b'[') => b']',
            Some(b'<') => b'>',
            _ => {
                i = j;
                continue;
            }
        };
        let Some(len) = s[j..].iter().position(|&b| b == close) else {
            break;
        };
        let mut end = j + len + 1;
        // A range `<a>--<b>` belongs to the same timestamp.
        if s[end..].starts_with(b"--")
            && let Some(more) = s[end + 2..].iter().position(|&b| b == close)
        {
            end += 2 + more + 1;
        }
        let span = Some(Span::new(t.start + i, t.start + end));
        match word {
            0 => planning.closed = planning.closed.or(span),
            1 => planning.scheduled = planning.scheduled.or(span),
            _ => planning.deadline = planning.deadline.or(span),
        }
        i = end;
    }
    Some(planning)
}

/// What the scanner knows about the section it is in.
enum State {
    /// Right after the heading: a planning line or a drawer may follow.
    AfterHeading,
    /// After the planning line: a property drawer may follow.
    AfterPlanning,
    /// Inside a candidate property drawer that began at `begin`.
    InDrawer { begin: Line },
    /// In the body.
    Body,
}

/// A section under construction during the pass.
struct Open {
    entry: Entry,
    state: State,
    /// `:LOGBOOK:` (true) and `:END:` (false) lines seen after the meta data.
    drawer_marks: Vec<(bool, Line)>,
}

impl Open {
    fn new(heading: Line, line_no: usize) -> Open {
        Open {
            entry: Entry {
                line: line_no,
                level: 0,
                section: Span::new(heading.full.start, heading.full.end),
                subtree_end: 0,
                heading: heading.content,
                stars: Span::default(),
                keyword: None,
                priority: None,
                title: Span::default(),
                tags: None,
                planning: None,
                drawer: None,
                properties: Vec::new(),
                logbook: None,
                body: Span::new(heading.full.end, heading.full.end),
                ignored_drawer: None,
            },
            state: State::AfterHeading,
            drawer_marks: Vec::new(),
        }
    }

    /// Takes one line of the section (not a heading).
    // Inlined into `Document::parse`'s loop, as it was before `scan_section` became a
    // second caller (measured: the full scan 15–20 % slower without).
    #[inline(always)]
    fn push(&mut self, bytes: &[u8], line: Line) {
        loop {
            match self.state {
                State::AfterHeading => {
                    self.state = State::AfterPlanning;
                    if let Some(planning) = planning_line(bytes, line) {
                        self.entry.planning = Some(Box::new(planning));
                        self.entry.body.start = line.full.end;
                        return;
                    }
                }
                State::AfterPlanning => {
                    if trimmed_is(bytes, line.content, b":PROPERTIES:") {
                        self.state = State::InDrawer { begin: line };
                        return;
                    }
                    self.state = State::Body;
                    self.entry.body.start = line.full.start;
                }
                State::InDrawer { begin } => {
                    if trimmed_is(bytes, line.content, b":END:") {
                        self.entry.drawer = Some(Drawer {
                            whole: Span::new(begin.full.start, line.full.end),
                            begin: begin.full,
                            end: line.full,
                        });
                        self.entry.body.start = line.full.end;
                        self.state = State::Body;
                        return;
                    }
                    if let Some(property) = property_line(bytes, line) {
                        self.entry.properties.push(property);
                        return;
                    }
                    self.abandon_drawer(bytes, begin, Some(line.content));
                }
                State::Body => {
                    let t = trimmed(bytes, line.content);
                    if bytes.get(t.start) == Some(&b':') {
                        let s = &bytes[t.range()];
                        if s.eq_ignore_ascii_case(b":LOGBOOK:") {
                            self.drawer_marks.push((true, line));
                        } else if s.eq_ignore_ascii_case(b":END:") {
                            self.drawer_marks.push((false, line));
                        }
                    }
                    return;
                }
            }
        }
    }

    /// The candidate property drawer is not one (because of the line `culprit`, or no
    /// `:END:`): Emacs reads its lines as body text.
    fn abandon_drawer(&mut self, bytes: &[u8], begin: Line, culprit: Option<Span>) {
        self.entry.ignored_drawer = Some(IgnoredAt {
            begin: begin.full.start,
            culprit,
        });
        self.entry.body.start = begin.full.start;
        self.state = State::Body;
        let properties = std::mem::take(&mut self.entry.properties);
        for property in properties {
            let line = Line {
                content: trimmed(bytes, Span::new(property.line.start, property.line.end)),
                full: property.line,
            };
            if trimmed_is(bytes, line.content, b":LOGBOOK:") {
                self.drawer_marks.push((true, line));
            }
        }
    }

    fn close(mut self, bytes: &[u8], end: usize) -> Entry {
        if let State::InDrawer { begin } = self.state {
            self.abandon_drawer(bytes, begin, None);
        }
        self.entry.section.end = end;
        self.entry.body.end = end;
        if self.entry.body.start > end {
            self.entry.body.start = end;
        }
        // The first `:LOGBOOK:` that an `:END:` closes (drawers do not nest).
        let mut open_at = None;
        for (is_logbook, line) in self.drawer_marks {
            match (is_logbook, open_at) {
                (true, None) => open_at = Some(line),
                (false, Some(begin)) => {
                    self.entry.logbook = Some(Box::new(Drawer {
                        whole: Span::new(begin.full.start, line.full.end),
                        begin: begin.full,
                        end: line.full,
                    }));
                    break;
                }
                _ => {}
            }
        }
        self.entry
    }
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

/// Splits the heading line into stars, keyword, priority, title and tags.
// Inlined into `Document::parse`'s loop, as it was before `scan_section` became a
// second caller (measured: the full scan 15–20 % slower without).
#[inline(always)]
fn parse_heading(bytes: &[u8], entry: &mut Entry, keywords: &TodoKeywords) {
    let h = entry.heading;
    let s = &bytes[h.range()];
    let stars = s.iter().take_while(|&&b| b == b'*').count();
    entry.level = stars;
    entry.stars = Span::new(h.start, h.start + stars);
    let mut pos = stars;
    let skip_blanks = |mut p: usize| {
        while p < s.len() && is_blank(s[p]) {
            p += 1;
        }
        p
    };
    pos = skip_blanks(pos);
    // Org 9.5 reads a keyword only when a space or the end of the line follows it.
    let end = s[pos..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(s.len(), |n| pos + n);
    if end > pos && keywords.contains_bytes(&s[pos..end]) {
        entry.keyword = Some(Span::new(h.start + pos, h.start + end));
        pos = skip_blanks(end);
    }
    // `\[#.\][ \t]*`: any one character, and no blank is needed after the cookie.
    if s[pos..].starts_with(b"[#") {
        let width = s.get(pos + 2).map_or(0, |&b| utf8_width(b));
        let close = pos + 2 + width;
        if width > 0
            && s.get(close) == Some(&b']')
            && std::str::from_utf8(&s[pos + 2..close]).is_ok()
        {
            entry.priority = Some(Span::new(h.start + pos, h.start + close + 1));
            pos = skip_blanks(close + 1);
        }
    }
    // Tags: a trailing `:…:` group preceded by a blank.
    let mut title_end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |p| p + 1);
    if title_end > pos && s[title_end - 1] == b':' {
        let mut start = title_end - 1;
        while start > 0 {
            let b = s[start - 1];
            if b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'@' | b'#' | b'%' | b':')
                || b >= 0x80
            {
                start -= 1;
            } else {
                break;
            }
        }
        // Walk forward to the first `:` (non-ASCII bytes before it are title text).
        while start < title_end && s[start] != b':' {
            start += 1;
        }
        let group = &s[start..title_end];
        let valid = start > stars
            && is_blank(s[start - 1])
            && group.len() >= 3
            && std::str::from_utf8(group).is_ok_and(|g| {
                g.chars()
                    .all(|c| c == ':' || c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '%'))
            });
        if valid {
            entry.tags = Some(Span::new(h.start + start, h.start + title_end));
            title_end = s[..start]
                .iter()
                .rposition(|&b| !is_blank(b))
                .map_or(0, |p| p + 1);
        }
    }
    let title_end = title_end.max(pos);
    entry.title = Span::new(h.start + pos, h.start + title_end);
}

impl Document {
    /// Scans `bytes`. `states` are the caller's keywords (a store's states); they are united
    /// with the keywords the file declares. Never fails: anything that is not a heading,
    /// planning line or drawer is body text.
    pub fn parse(bytes: Vec<u8>, states: &TodoKeywords) -> Document {
        let mut declared = TodoKeywords::empty();
        let mut keyword_lines = Vec::new();
        let mut sections: Vec<Entry> = Vec::new();
        let mut open: Option<Open> = None;
        let mut crlf = None;
        let lines = Lines {
            bytes: &bytes,
            pos: 0,
        };
        for (index, line) in lines.enumerate() {
            if crlf.is_none() && line.full.end > line.content.end {
                crlf = Some(line.full.end - line.content.end == 2);
            }
            let first = bytes[line.content.start..line.content.end].first().copied();
            if first == Some(b'*') && is_heading(&bytes, line.content) {
                if let Some(done) = open.take() {
                    sections.push(done.close(&bytes, line.full.start));
                }
                open = Some(Open::new(line, index + 1));
                continue;
            }
            if matches!(first, Some(b'#' | b' ' | b'\t'))
                && let Some(value) = keyword_line_value(&bytes[line.content.range()])
            {
                declared.push(KeywordSequence::parse(&String::from_utf8_lossy(value)));
                keyword_lines.push(line.full);
            }
            if let Some(section) = &mut open {
                section.push(&bytes, line);
            }
        }
        if let Some(done) = open.take() {
            sections.push(done.close(&bytes, bytes.len()));
        }
        let keywords = declared.union(states);
        for entry in &mut sections {
            parse_heading(&bytes, entry, &keywords);
        }
        set_subtree_ends(&mut sections, bytes.len());
        let invalid_utf8 = std::str::from_utf8(&bytes).err().map(|e| {
            let offset = e.valid_up_to();
            InvalidUtf8 {
                offset,
                line: line_at(&bytes, offset),
            }
        });
        Document {
            bytes,
            declared,
            keywords,
            keyword_lines,
            entries: sections,
            invalid_utf8,
            crlf: crlf.unwrap_or(false),
        }
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Gives the bytes back.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The text in `range`, lossily decoded if it is not UTF-8 (see [`Document::invalid_utf8`]).
    pub fn text(&self, range: Range<usize>) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes[range])
    }

    /// The keywords the file itself declares in `#+TODO:`-family lines.
    pub fn declared_keywords(&self) -> &TodoKeywords {
        &self.declared
    }

    /// The keywords in force: the file's united with the caller's.
    pub fn keywords(&self) -> &TodoKeywords {
        &self.keywords
    }

    /// Whether lines end in CRLF (judged by the first line ending).
    pub fn is_crlf(&self) -> bool {
        self.crlf
    }

    /// The line ending new lines get: the file's own.
    pub fn eol(&self) -> &'static str {
        if self.crlf { "\r\n" } else { "\n" }
    }

    /// The first invalid UTF-8 sequence, if any. Such a file is read lossily but never written.
    pub fn invalid_utf8(&self) -> Option<InvalidUtf8> {
        self.invalid_utf8
    }

    /// The text before the first heading.
    pub fn preamble_range(&self) -> Range<usize> {
        0..self
            .entries
            .first()
            .map_or(self.bytes.len(), |e| e.section.start)
    }

    /// The number of entries (headings of any level).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file has no heading.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, in file order, children after their parent.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = EntryRef<'_>> + '_ {
        (0..self.entries.len()).map(|index| self.entry(index))
    }

    /// The entry at `index` (file order).
    ///
    /// # Panics
    ///
    /// Panics if `index >= self.len()`.
    pub fn entry(&self, index: usize) -> EntryRef<'_> {
        EntryRef {
            bytes: &self.bytes,
            index,
            entry: &self.entries[index],
        }
    }

    /// The entry whose `:ID:` is `id`. An ID carried by two entries is an error that names
    /// both lines: an edit must never guess which one was meant.
    pub fn find_by_id(&self, id: &str) -> Result<Option<EntryRef<'_>>, DuplicateId> {
        let mut found: Option<EntryRef<'_>> = None;
        for entry in self.entries() {
            if !id.is_empty() && entry.id_bytes() == Some(id.as_bytes()) {
                if let Some(first) = &found {
                    return Err(DuplicateId {
                        id: id.to_owned(),
                        first_line: first.line(),
                        second_line: entry.line(),
                    });
                }
                found = Some(entry);
            }
        }
        Ok(found)
    }

    /// Every ID that more than one entry carries, with the lines of the first two.
    pub fn duplicate_ids(&self) -> Vec<DuplicateId> {
        let mut seen: std::collections::HashMap<Cow<'_, str>, usize> =
            std::collections::HashMap::with_capacity(self.entries.len());
        let mut duplicates = Vec::new();
        for entry in self.entries() {
            let Some(id) = entry.id() else { continue };
            match seen.get(&id) {
                Some(&first_line) => duplicates.push(DuplicateId {
                    id: id.into_owned(),
                    first_line,
                    second_line: entry.line(),
                }),
                None => {
                    seen.insert(id, entry.line());
                }
            }
        }
        duplicates
    }

    /// Lines holding a `:PROPERTIES:` drawer that Emacs ignores (a blank or non-property line
    /// inside it, or no `:END:`), for `msg doctor`. Their properties are not read.
    pub fn ignored_drawers(&self) -> Vec<usize> {
        self.entries
            .iter()
            .filter_map(|e| e.ignored_drawer)
            .map(|at| line_at(&self.bytes, at.begin))
            .collect()
    }

    /// Every `:PROPERTIES:` drawer that Emacs ignores, with the reason: the first line inside
    /// it that is not a property line, or the missing `:END:`. Their properties are not read.
    pub fn drawer_problems(&self) -> Vec<IgnoredDrawer> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let at = entry.ignored_drawer?;
                let problem = match at.culprit {
                    None => DrawerProblem::NoEnd {
                        before_heading: entry.section.end < self.bytes.len(),
                    },
                    Some(content) => {
                        let line = line_at(&self.bytes, content.start);
                        let text = &self.bytes[trimmed(&self.bytes, content).range()];
                        if text.is_empty() {
                            DrawerProblem::BlankLine { line }
                        } else if text == b":" || text.starts_with(b": ") {
                            DrawerProblem::ContinuationLine { line }
                        } else {
                            DrawerProblem::NotAProperty { line }
                        }
                    }
                };
                Some(IgnoredDrawer {
                    line: line_at(&self.bytes, at.begin),
                    entry_line: entry.line,
                    problem,
                })
            })
            .collect()
    }

    /// The 1-based line number of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        line_at(&self.bytes, offset)
    }

    /// Where a `#+TODO:` line for new keywords goes: after the last one the file has, else at
    /// the end of the text before the first heading.
    pub(crate) fn keyword_insert_point(&self) -> usize {
        match self
            .keyword_lines
            .iter()
            .rfind(|l| self.preamble_range().contains(&l.start))
        {
            Some(line) => line.end,
            None => self.preamble_range().end,
        }
    }

    /// Replaces the section of entry `index` with `section` (whose single entry `scanned`
    /// was scanned from it at offset 0) and shifts everything after it. The caller has
    /// checked that `section` scans as exactly one entry of the same level.
    pub(crate) fn replace_section(&mut self, index: usize, section: &[u8], mut scanned: Entry) {
        let old = self.entries[index].section;
        let delta = section.len() as isize - (old.end - old.start) as isize;
        let added_lines =
            count_newlines(section) as isize - count_newlines(&self.bytes[old.range()]) as isize;
        self.bytes.splice(old.range(), section.iter().copied());
        scanned.shift(old.start as isize);
        scanned.line = self.entries[index].line;
        scanned.subtree_end = self.entries[index].subtree_end.wrapping_add_signed(delta);
        self.entries[index] = scanned;
        for entry in &mut self.entries[index + 1..] {
            let line = entry.line;
            entry.shift(delta);
            entry.line = line.wrapping_add_signed(added_lines);
        }
        for entry in &mut self.entries[..index] {
            if entry.subtree_end >= old.end && entry.subtree_end > old.start {
                entry.subtree_end = entry.subtree_end.wrapping_add_signed(delta);
            }
        }
        for line in &mut self.keyword_lines {
            if line.start >= old.end {
                line.shift(delta);
            }
        }
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

pub(crate) fn line_at(bytes: &[u8], offset: usize) -> usize {
    count_newlines(&bytes[..offset.min(bytes.len())]) + 1
}

/// Scans one section alone: `section` runs from a heading line's start to the next heading
/// line's start (or the end of `bytes`), and `line` is its heading's line number. The entry is
/// exactly the one [`Document::parse`] indexes for that heading, except `subtree_end`, which
/// depends on the headings that follow and is set to the section's end.
pub(crate) fn scan_section(
    bytes: &[u8],
    section: Span,
    line: usize,
    keywords: &TodoKeywords,
) -> Entry {
    let mut lines = Lines {
        bytes: &bytes[..section.end],
        pos: section.start,
    };
    let heading = lines
        .next()
        .expect("a section starts with its heading line");
    let mut open = Open::new(heading, line);
    for line in lines {
        open.push(bytes, line);
    }
    let mut entry = open.close(bytes, section.end);
    parse_heading(bytes, &mut entry, keywords);
    entry.subtree_end = section.end;
    entry
}

/// The heading line at `start` alone, split into stars, keyword, priority, title and tags;
/// everything else in the entry is left empty.
pub(crate) fn scan_heading(
    bytes: &[u8],
    start: usize,
    line: usize,
    keywords: &TodoKeywords,
) -> Entry {
    let heading = Lines { bytes, pos: start }
        .next()
        .expect("a heading line starts here");
    let mut entry = Open::new(heading, line).entry;
    parse_heading(bytes, &mut entry, keywords);
    entry
}

/// The number of stars of the heading line starting at `start` (0 if it is not one).
pub(crate) fn heading_level(bytes: &[u8], start: usize) -> usize {
    let stars = bytes[start..].iter().take_while(|&&b| b == b'*').count();
    if stars > 0 && bytes.get(start + stars) == Some(&b' ') {
        stars
    } else {
        0
    }
}

/// Whether the line `content` (without its line ending) is a property line whose key is
/// `ID` (any case) and whose value is `id`: a cheap test before scanning a whole section.
pub(crate) fn is_id_line(bytes: &[u8], content: Range<usize>, full_end: usize, id: &[u8]) -> bool {
    is_property_line(bytes, content, full_end, b"ID", id)
}

/// Whether the line at `content` (ending at `full_end` with its line break) is a property
/// line `:KEY: value` with `key` (any case) and exactly `value`, as the scanner reads one.
pub(crate) fn is_property_line(
    bytes: &[u8],
    content: Range<usize>,
    full_end: usize,
    key: &[u8],
    value: &[u8],
) -> bool {
    let line = Line {
        content: Span::new(content.start, content.end),
        full: Span::new(content.start, full_end),
    };
    property_line(bytes, line).is_some_and(|p| {
        bytes[p.key.range()].eq_ignore_ascii_case(key) && &bytes[p.value.range()] == value
    })
}

fn set_subtree_ends(entries: &mut [Entry], len: usize) {
    // A stack of open ancestors: each closes at the next heading of its level or higher.
    let mut stack: Vec<usize> = Vec::new();
    for index in 0..entries.len() {
        let level = entries[index].level;
        let start = entries[index].section.start;
        while let Some(&top) = stack.last() {
            if entries[top].level >= level {
                entries[top].subtree_end = start;
                stack.pop();
            } else {
                break;
            }
        }
        stack.push(index);
    }
    for index in stack {
        entries[index].subtree_end = len;
    }
}

/// An entry together with the document it belongs to: the reading API.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    bytes: &'a [u8],
    index: usize,
    entry: &'a Entry,
}

impl<'a> EntryRef<'a> {
    /// An entry of a file read as `bytes` (for readers other than [`Document`]).
    pub(crate) fn new(bytes: &'a [u8], index: usize, entry: &'a Entry) -> EntryRef<'a> {
        EntryRef {
            bytes,
            index,
            entry,
        }
    }

    /// The byte ranges.
    pub fn ranges(&self) -> &'a Entry {
        self.entry
    }

    /// Its position in [`Document::entries`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// The 1-based line number of the heading.
    pub fn line(&self) -> usize {
        self.entry.line
    }

    /// The number of stars.
    pub fn level(&self) -> usize {
        self.entry.level
    }

    fn text(&self, span: Span) -> Cow<'a, str> {
        String::from_utf8_lossy(&self.bytes[span.range()])
    }

    /// The TODO keyword, if any.
    pub fn keyword(&self) -> Option<Cow<'a, str>> {
        self.entry.keyword.map(|s| self.text(s))
    }

    /// The priority letter of the `[#A]` cookie, if any.
    pub fn priority(&self) -> Option<char> {
        let span = self.entry.priority?;
        self.text(Span::new(span.start + 2, span.end - 1))
            .chars()
            .next()
    }

    /// The title, trimmed.
    pub fn title(&self) -> Cow<'a, str> {
        self.text(self.entry.title)
    }

    /// The entry's own tags, in file order (empty tags in `::` are skipped).
    pub fn tags(&self) -> Vec<Cow<'a, str>> {
        let Some(span) = self.entry.tags else {
            return Vec::new();
        };
        self.bytes[span.range()]
            .split(|&b| b == b':')
            .filter(|t| !t.is_empty())
            .map(String::from_utf8_lossy)
            .collect()
    }

    /// Whether the entry has `tag` (case-sensitive, as in Org).
    pub fn has_tag(&self, tag: &str) -> bool {
        // Compared as bytes, without building the tag list: queries call this per entry.
        !tag.is_empty()
            && self.entry.tags.is_some_and(|span| {
                self.bytes[span.range()]
                    .split(|&b| b == b':')
                    .any(|t| t == tag.as_bytes())
            })
    }

    /// The value of property `key` (keys compare case-insensitively); the first one wins
    /// when a drawer repeats a key.
    pub fn property(&self, key: &str) -> Option<Cow<'a, str>> {
        self.entry
            .properties
            .iter()
            .find(|p| self.bytes[p.key.range()].eq_ignore_ascii_case(key.as_bytes()))
            .map(|p| self.text(p.value))
    }

    /// Every property as `(key, value)`, in file order.
    pub fn properties(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        let bytes = self.bytes;
        self.entry.properties.iter().map(move |p| {
            (
                String::from_utf8_lossy(&bytes[p.key.range()]),
                String::from_utf8_lossy(&bytes[p.value.range()]),
            )
        })
    }

    /// The `:ID:` property, if present and non-empty.
    pub fn id(&self) -> Option<Cow<'a, str>> {
        self.property("ID").filter(|id| !id.is_empty())
    }

    /// The `:ID:` value's bytes (the first ID property, as [`EntryRef::property`] reads it),
    /// without decoding: lookups by ID run over every entry.
    pub(crate) fn id_bytes(&self) -> Option<&'a [u8]> {
        let bytes = self.bytes;
        self.entry
            .properties
            .iter()
            .find(|p| bytes[p.key.range()].eq_ignore_ascii_case(b"ID"))
            .map(|p| &bytes[p.value.range()])
    }

    /// The `CLOSED:` timestamp text, e.g. `[2026-11-24 Tue 10:02]`.
    pub fn closed(&self) -> Option<Cow<'a, str>> {
        self.planning_timestamp(self.entry.planning.as_ref()?.closed?)
    }

    /// The `SCHEDULED:` timestamp text.
    pub fn scheduled(&self) -> Option<Cow<'a, str>> {
        self.planning_timestamp(self.entry.planning.as_ref()?.scheduled?)
    }

    /// The `DEADLINE:` timestamp text.
    pub fn deadline(&self) -> Option<Cow<'a, str>> {
        self.planning_timestamp(self.entry.planning.as_ref()?.deadline?)
    }

    fn planning_timestamp(&self, span: Span) -> Option<Cow<'a, str>> {
        let text = self.text(span);
        let start = text.find(['[', '<'])?;
        Some(match text {
            Cow::Borrowed(t) => Cow::Borrowed(&t[start..]),
            Cow::Owned(t) => Cow::Owned(t[start..].to_owned()),
        })
    }

    /// The LOGBOOK lines (between `:LOGBOOK:` and `:END:`), raw.
    pub fn logbook(&self) -> Option<Cow<'a, str>> {
        self.entry.logbook.as_ref().map(|d| self.text(d.contents()))
    }

    /// The body as written: everything after the meta data up to the next heading.
    pub fn raw_body(&self) -> Cow<'a, str> {
        self.text(self.entry.body)
    }

    /// The body as the text a person wrote: the LOGBOOK dropped, the canonical two-space
    /// indentation removed, comma escapes undone, line endings as LF, leading and trailing
    /// blank lines removed. Exactly the body given to `NewEntry` for entries we wrote.
    pub fn body_text(&self) -> String {
        super::entry::body_from_raw(
            &self.bytes[self.entry.body.range()],
            self.entry.logbook.as_ref().map(|d| {
                let base = self.entry.body.start;
                (d.whole.start - base)..(d.whole.end - base)
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawer_problems_name_the_line_that_breaks_the_drawer() {
        let problems = |text: &str| {
            Document::parse(text.as_bytes().to_vec(), &TodoKeywords::empty())
                .drawer_problems()
                .into_iter()
                .map(|d| (d.line, d.entry_line, d.problem.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            problems("* a\n  :PROPERTIES:\n  :ID: x\n  :   more\n  :END:\n"),
            [(2, 1, "line 4 is a continuation line `:   …`, as org-workspace 0.4 writes multi-line values; put the value on one line".to_owned())]
        );
        assert_eq!(
            problems("* a\n  :PROPERTIES:\n\n  :END:\n"),
            [(2, 1, "line 3 is blank".to_owned())]
        );
        assert_eq!(
            problems("* a\n  :PROPERTIES:\n  :ID: x\n* b\n"),
            [(2, 1, "no :END: before the next heading".to_owned())]
        );
        assert_eq!(
            problems("#+TODO: A | B\n* a\n:PROPERTIES:\n:ID: x"),
            [(3, 2, "no :END:".to_owned())]
        );
        assert_eq!(
            problems("* a\n  :PROPERTIES:\n  ID: x\n  :END:\n* b\n"),
            [(2, 1, "line 3 is not a `:KEY: value` line".to_owned())]
        );
        assert!(problems("* a\n  :PROPERTIES:\n  :ID: x\n  :END:\n").is_empty());
    }
}
