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

use super::entry_ref::EntryRef;
use super::eol::{Eol, bom_len, mac_as_unix};
use super::keywords::{KeywordLines, TodoKeywords};
use super::ranges::{Drawer, Entry, IgnoredAt, Span};
use super::syntax::{
    NotAProperty, is_blank, parse_heading, planning_line, property_line, why_not_a_property,
};

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
    /// A TAB right after the first colon (`:\tKEY: value`).
    TabAfterColon {
        /// Its 1-based line.
        line: usize,
    },
    /// A TAB instead of a space between `:KEY:` and the value (`:ID:\tmsg-1`).
    TabBeforeValue {
        /// Its 1-based line.
        line: usize,
    },
    /// A CR or other whitespace inside the key.
    WhitespaceInKey {
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
            DrawerProblem::TabAfterColon { line } => write!(
                f,
                "line {line} has a TAB right after the first colon; the key must follow it directly"
            ),
            DrawerProblem::TabBeforeValue { line } => write!(
                f,
                "line {line} has a TAB between `:KEY:` and the value; Org needs a space there"
            ),
            DrawerProblem::WhitespaceInKey { line } => {
                write!(f, "line {line} has a CR or other whitespace inside the key")
            }
            DrawerProblem::NotAProperty { line } => {
                write!(f, "line {line} is not a `:KEY: value` line")
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
    /// How Emacs ends its lines (a file with CR endings is kept with LF instead, see
    /// [`Document::parse`]).
    eol: Eol,
    /// Where the first line starts: after a UTF-8 byte order mark, if any.
    content_start: usize,
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
    /// Whether a CR before LF belongs to the line ending (Emacs's DOS decoding); otherwise
    /// it is part of the line.
    dos: bool,
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let start = self.pos;
        if start >= self.bytes.len() {
            return None;
        }
        let (content_end, full_end) = match find_newline(self.bytes, start) {
            Some(nl) if self.dos && nl > start && self.bytes[nl - 1] == b'\r' => (nl - 1, nl + 1),
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
        let mut entry = Entry::empty_at(heading.content);
        entry.line = line_no;
        entry.section = heading.full;
        entry.subtree_end = 0;
        entry.body = Span::new(heading.full.end, heading.full.end);
        Open {
            entry,
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
                    if let Some(planning) = planning_line(bytes, line.content, line.full) {
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
                    if let Some(property) = property_line(bytes, line.content, line.full) {
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

impl Document {
    /// Scans `bytes`. `states` are the caller's keywords (a store's states); they are united
    /// with the keywords the file declares. Never fails: anything that is not a heading,
    /// planning line or drawer is body text.
    ///
    /// Lines end as Emacs decides for the whole file (see `eol.rs`): with Unix line endings
    /// a CR before LF is part of the line, as Emacs shows it (`^M`). A file whose lines end
    /// in CR only is read with every CR as LF (the same length, so every range holds), and
    /// is never written. A UTF-8 byte order mark is not part of the first line.
    pub fn parse(bytes: Vec<u8>, states: &TodoKeywords) -> Document {
        let eol = Eol::of(&bytes);
        Document::parse_as(bytes, states, eol)
    }

    /// [`Document::parse`] of part of a file whose line endings are `eol`.
    pub(crate) fn parse_as(bytes: Vec<u8>, states: &TodoKeywords, eol: Eol) -> Document {
        let bytes = if eol == Eol::Mac {
            mac_as_unix(bytes)
        } else {
            bytes
        };
        let content_start = bom_len(&bytes);
        let mut keyword_lines = KeywordLines::default();
        let mut sections: Vec<Entry> = Vec::new();
        let mut open: Option<Open> = None;
        let lines = Lines {
            bytes: &bytes,
            pos: content_start,
            dos: eol == Eol::Dos,
        };
        for (index, line) in lines.enumerate() {
            let content = &bytes[line.content.range()];
            let first = content.first().copied();
            if first == Some(b'*') && is_heading(&bytes, line.content) {
                if let Some(done) = open.take() {
                    sections.push(done.close(&bytes, line.full.start));
                }
                keyword_lines.heading();
                open = Some(Open::new(line, index + 1));
                continue;
            }
            if matches!(first, Some(b'#' | b' ' | b'\t'))
                && content[content.iter().take_while(|&&b| is_blank(b)).count()..]
                    .starts_with(b"#+")
            {
                keyword_lines.line(content, line.full);
            }
            if let Some(section) = &mut open {
                section.push(&bytes, line);
            }
        }
        if let Some(done) = open.take() {
            sections.push(done.close(&bytes, bytes.len()));
        }
        let (declared, keyword_lines) = keyword_lines.finish();
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
            eol,
            content_start,
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

    /// Whether Emacs reads this file with DOS line endings (CRLF).
    pub fn is_crlf(&self) -> bool {
        self.eol == Eol::Dos
    }

    /// The line ending new lines get: the file's own, as Emacs decides it.
    pub fn eol(&self) -> &'static str {
        self.eol.as_str()
    }

    /// How Emacs ends this file's lines.
    pub(crate) fn eol_mode(&self) -> Eol {
        self.eol
    }

    /// How Emacs ends this file's lines (see [`Eol`]).
    pub fn line_endings(&self) -> Eol {
        self.eol
    }

    /// The 1-based lines that end in CR LF although Emacs reads the file with Unix line
    /// endings (because another line ends in LF alone): Emacs shows their CR as `^M`, so a
    /// drawer line among them is no drawer line. Empty for any other file.
    pub fn lines_ending_in_cr(&self) -> Vec<usize> {
        if self.eol != Eol::Unix {
            return Vec::new();
        }
        let mut lines = Vec::new();
        let mut counted = (0, 1);
        for at in memchr::memmem::find_iter(&self.bytes, b"\r\n") {
            counted.1 += count_newlines(&self.bytes[counted.0..at]);
            counted.0 = at;
            lines.push(counted.1);
        }
        lines
    }

    /// Where the first line starts: after a UTF-8 byte order mark, if any.
    pub(crate) fn content_start(&self) -> usize {
        self.content_start
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
        EntryRef::new(&self.bytes, index, &self.entries[index])
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
                        match why_not_a_property(&self.bytes[content.range()]) {
                            NotAProperty::Blank => DrawerProblem::BlankLine { line },
                            NotAProperty::Continuation => DrawerProblem::ContinuationLine { line },
                            NotAProperty::TabAfterColon => DrawerProblem::TabAfterColon { line },
                            NotAProperty::TabBeforeValue => DrawerProblem::TabBeforeValue { line },
                            NotAProperty::WhitespaceInKey => {
                                DrawerProblem::WhitespaceInKey { line }
                            }
                            NotAProperty::Other => DrawerProblem::NotAProperty { line },
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
    dos: bool,
) -> Entry {
    let mut lines = Lines {
        bytes: &bytes[..section.end],
        pos: section.start,
        dos,
    };
    let Some(heading) = lines.next() else {
        return Entry::empty_at(section);
    };
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
    dos: bool,
) -> Entry {
    let Some(heading) = (Lines {
        bytes,
        pos: start,
        dos,
    })
    .next() else {
        return Entry::empty_at(Span::new(start, start));
    };
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
    let line = Line {
        content: Span::new(content.start, content.end),
        full: Span::new(content.start, full_end),
    };
    property_line(bytes, line.content, line.full).is_some_and(|p| {
        bytes[p.key.range()].eq_ignore_ascii_case(b"ID") && &bytes[p.value.range()] == id
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
        let line3 = |text: &str| problems(text)[0].2.clone();
        assert!(line3("* a\n :PROPERTIES:\n :ID:\tmsg-1\n :END:\n").contains("a TAB between"));
        assert!(
            line3("* a\n :PROPERTIES:\n :\tFROM: ana\n :END:\n")
                .contains("right after the first colon")
        );
        assert!(line3("* a\n :PROPERTIES:\n :FR\rOM: x\n :END:\n").contains("inside the key"));
        assert!(line3("* a\n :PROPERTIES:\n : note: x\n :END:\n").contains("continuation"));
    }
}
