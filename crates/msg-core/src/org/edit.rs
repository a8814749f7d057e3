//! Edits of one entry, each a byte splice of its section.
//!
//! An [`EntryEditor`] owns a copy of one entry's section (heading to the next heading) and
//! re-scans it after every splice, so each operation sees exact ranges and a mistake shows up
//! at once as a section that no longer scans as the same single entry. The transaction
//! splices the finished section back into the file; nothing outside it is touched.

use std::path::Path;

use time::OffsetDateTime;

use super::entry_ref::EntryRef;
use super::eol::Eol;
use super::error::OrgError;
use super::keywords::TodoKeywords;
use super::ranges::{Entry, Span};
use super::scan::Document;
use crate::timestamp;
use crate::validate;

/// Edits one entry. Obtained from `Transaction::edit`.
#[derive(Debug)]
pub struct EntryEditor<'a> {
    path: &'a Path,
    /// The section alone, scanned with the file's keywords; entry 0 is the one being edited.
    section: Document,
    keywords: &'a TodoKeywords,
    eol: &'static str,
    line: usize,
    /// Keywords written by this edit, which the file header must declare.
    pub(crate) written_keywords: Vec<String>,
}

impl<'a> EntryEditor<'a> {
    pub(crate) fn new(
        path: &'a Path,
        section: &[u8],
        keywords: &'a TodoKeywords,
        eol: &'static str,
        line: usize,
    ) -> Result<EntryEditor<'a>, OrgError> {
        let editor = EntryEditor {
            path,
            section: Document::parse_as(section.to_vec(), keywords, Eol::of_ending(eol)),
            keywords,
            eol,
            line,
            written_keywords: Vec::new(),
        };
        editor.check_single_entry(None)?;
        Ok(editor)
    }

    /// The entry as it reads now, edits so far included.
    pub fn entry(&self) -> EntryRef<'_> {
        self.section.entry(0)
    }

    /// The 1-based line of the entry's heading in the file, as read in this transaction.
    /// ([`EntryEditor::entry`] reads the section alone, so its `line()` is 1.)
    pub fn line(&self) -> usize {
        self.line
    }

    /// The keywords in force in the file.
    pub fn keywords(&self) -> &TodoKeywords {
        self.keywords
    }

    fn ranges(&self) -> &Entry {
        self.section.entry(0).ranges()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.section.bytes()
    }

    pub(crate) fn into_parts(self) -> (Vec<u8>, Entry, Vec<String>) {
        let entry = self.section.entry(0).ranges().clone();
        (self.section.into_bytes(), entry, self.written_keywords)
    }

    /// The guard: the section must still be exactly one entry, of the same level, with the
    /// same ID, and must still end with a line ending if it did.
    fn check_single_entry(&self, before: Option<(usize, Option<String>)>) -> Result<(), OrgError> {
        let guard = |reason: String| OrgError::Guard {
            path: self.path.to_owned(),
            line: self.line,
            reason,
        };
        if self.section.len() != 1 || self.section.entry(0).ranges().section.start != 0 {
            return Err(guard(format!(
                "the entry would become {} entries",
                self.section.len()
            )));
        }
        if let Some((level, id)) = before {
            let entry = self.entry();
            if entry.level() != level {
                return Err(guard(format!("the level would change from {level}")));
            }
            if entry.id().map(|s| s.into_owned()) != id {
                return Err(guard("the ID would change".to_owned()));
            }
        }
        Ok(())
    }

    /// Replaces `span` of the section with `text` and re-scans, checking the guard.
    fn splice(&mut self, span: Span, text: &str) -> Result<(), OrgError> {
        self.splice_expecting_id(span, text, self.current_id())
    }

    fn current_id(&self) -> Option<String> {
        self.entry().id().map(|s| s.into_owned())
    }

    /// [`EntryEditor::splice`] for the one edit that may change the ID: setting it.
    fn splice_expecting_id(
        &mut self,
        span: Span,
        text: &str,
        id: Option<String>,
    ) -> Result<(), OrgError> {
        let before = (self.entry().level(), id);
        let mut bytes = std::mem::take(&mut self.section).into_bytes();
        bytes.splice(span.range(), text.bytes());
        self.section = Document::parse_as(bytes, self.keywords, Eol::of_ending(self.eol));
        self.check_single_entry(Some(before))
    }

    /// Inserts whole lines at `at`, a line start or the section's end; adds a line ending
    /// first when the section ends without one (a file with no final newline).
    fn insert_lines(&mut self, at: usize, lines: &str, id: Option<String>) -> Result<(), OrgError> {
        let bytes = self.bytes();
        let needs_eol = at == bytes.len() && !bytes.ends_with(b"\n");
        let text = if needs_eol {
            format!("{}{lines}", self.eol)
        } else {
            lines.to_owned()
        };
        self.splice_expecting_id(Span::new(at, at), &text, id)
    }

    /// The end of the heading line, line ending included.
    fn after_heading(&self) -> usize {
        let heading = self.ranges().heading;
        let bytes = self.bytes();
        let mut end = heading.end;
        if bytes[end..].starts_with(b"\r\n") {
            end += 2;
        } else if bytes[end..].starts_with(b"\n") {
            end += 1;
        }
        end
    }

    /// Where a new drawer goes: after the planning line, else after the heading.
    fn after_planning(&self) -> usize {
        match &self.ranges().planning {
            Some(planning) => planning.line.end,
            None => self.after_heading(),
        }
    }

    fn indent_of(&self, line_start: usize) -> String {
        let bytes = self.bytes();
        let n = bytes[line_start..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        String::from_utf8_lossy(&bytes[line_start..line_start + n]).into_owned()
    }

    fn refuse_ignored_drawer(&self) -> Result<(), OrgError> {
        if let Some(at) = self.ranges().ignored_drawer {
            return Err(OrgError::IgnoredDrawer {
                path: self.path.to_owned(),
                line: self.line,
                drawer_line: self.line + self.section.line_of(at.begin) - 1,
            });
        }
        Ok(())
    }

    /// Sets property `key` to `value`: rewrites the value in place when the key exists
    /// (keeping the line's alignment), else adds `:KEY: value` before `:END:` with the
    /// drawer's indentation, else creates a two-space-indented drawer.
    pub fn set_property(&mut self, key: &str, value: &str) -> Result<(), OrgError> {
        validate::property_key(key)?;
        validate::property_value(key, value)?;
        self.refuse_ignored_drawer()?;
        // Setting the ID is the one edit after which the entry may carry another ID.
        let id = if key.eq_ignore_ascii_case("ID") {
            Some(value.to_owned()).filter(|v| !v.is_empty())
        } else {
            self.current_id()
        };
        let entry = self.ranges();
        let existing = entry
            .properties
            .iter()
            .find(|p| self.bytes()[p.key.range()].eq_ignore_ascii_case(key.as_bytes()));
        if let Some(property) = existing {
            if &self.bytes()[property.value.range()] == value.as_bytes() {
                return Ok(());
            }
            // `:KEY:` with no value has no blank to keep; give it one.
            let (span, text) = if property.value.is_empty() {
                (
                    Span::new(property.key.end + 1, property.value.end),
                    format!(" {value}"),
                )
            } else if value.is_empty() {
                (
                    Span::new(property.key.end + 1, property.value.end),
                    String::new(),
                )
            } else {
                (property.value, value.to_owned())
            };
            return self.splice_expecting_id(span, &text, id);
        }
        match &entry.drawer {
            Some(drawer) => {
                let indent = match entry.properties.last() {
                    Some(last) => self.indent_of(last.line.start),
                    None => self.indent_of(drawer.end.start),
                };
                let at = drawer.end.start;
                let line = format!("{indent}:{key}: {value}{}", self.eol);
                self.insert_lines(at, &line, id)
            }
            None => {
                let eol = self.eol;
                let lines = format!("  :PROPERTIES:{eol}  :{key}: {value}{eol}  :END:{eol}");
                self.insert_lines(self.after_planning(), &lines, id)
            }
        }
    }

    /// Removes property `key` (its first occurrence). Returns whether it was there.
    pub fn remove_property(&mut self, key: &str) -> Result<bool, OrgError> {
        let Some(property) = self
            .ranges()
            .properties
            .iter()
            .find(|p| self.bytes()[p.key.range()].eq_ignore_ascii_case(key.as_bytes()))
        else {
            return Ok(false);
        };
        let line = property.line;
        self.splice(line, "")?;
        Ok(true)
    }

    /// Changes the TODO keyword to `keyword` at time `at`, as Org does with state logging
    /// into a drawer: adds `CLOSED: [at]` when entering a done-class keyword from a
    /// not-done one (or when no CLOSED is there), removes it when leaving the done class,
    /// and puts a line `- State "NEW"        from "OLD"        [at]` at the top of the
    /// `:LOGBOOK:` drawer (created after the property drawer when missing). Setting the
    /// keyword the entry already has changes nothing.
    pub fn set_keyword(&mut self, keyword: &str, at: OffsetDateTime) -> Result<(), OrgError> {
        validate::keyword(keyword)?;
        if !self.keywords.contains(keyword) {
            return Err(OrgError::UnknownKeyword {
                path: self.path.to_owned(),
                keyword: keyword.to_owned(),
            });
        }
        let old = self.entry().keyword().map(|k| k.into_owned());
        if old.as_deref() == Some(keyword) {
            return Ok(());
        }
        self.refuse_ignored_drawer()?;
        // 1. The keyword itself.
        let entry = self.ranges();
        match entry.keyword {
            Some(span) => self.splice(span, keyword)?,
            None => {
                let at_title = entry.stars.end + 1;
                let followed = at_title < entry.heading.end;
                let text = if followed {
                    format!("{keyword} ")
                } else {
                    keyword.to_owned()
                };
                self.splice(Span::new(at_title, at_title), &text)?;
            }
        }
        self.written_keywords.push(keyword.to_owned());
        let stamp = timestamp::format_inactive(at);
        // 2. CLOSED.
        let now_done = self.keywords.is_done(keyword);
        let closed = self.ranges().planning.as_ref().and_then(|p| p.closed);
        match (now_done, closed) {
            (true, None) => self.add_closed(&stamp)?,
            (false, Some(span)) => self.remove_closed(span)?,
            _ => {}
        }
        // 3. The state change note.
        let quote = |k: &str| format!("\"{k}\"");
        let note = format!(
            "- State {:<12} from {:<12} {stamp}",
            quote(keyword),
            old.as_deref().map(quote).unwrap_or_default()
        );
        self.add_logbook_line(&note)
    }

    fn add_closed(&mut self, stamp: &str) -> Result<(), OrgError> {
        match &self.ranges().planning {
            Some(planning) => {
                let start = planning.line.start + self.indent_of(planning.line.start).len();
                self.splice(Span::new(start, start), &format!("CLOSED: {stamp} "))
            }
            None => {
                let line = format!("CLOSED: {stamp}{}", self.eol);
                self.insert_lines(self.after_heading(), &line, self.current_id())
            }
        }
    }

    fn remove_closed(&mut self, closed: Span) -> Result<(), OrgError> {
        let planning = self
            .ranges()
            .planning
            .as_deref()
            .cloned()
            .expect("CLOSED is on the planning line");
        let bytes = self.bytes();
        let mut end = closed.end;
        while end < bytes.len() && (bytes[end] == b' ' || bytes[end] == b'\t') {
            end += 1;
        }
        let rest_of_line_is_blank = {
            let line = &bytes[planning.line.range()];
            let before = &bytes[planning.line.start..closed.start];
            let after = &bytes[end..planning.line.end];
            before.iter().chain(after).all(|b| b.is_ascii_whitespace()) && !line.is_empty()
        };
        if rest_of_line_is_blank {
            self.splice(planning.line, "")
        } else {
            self.splice(Span::new(closed.start, end), "")
        }
    }

    fn add_logbook_line(&mut self, note: &str) -> Result<(), OrgError> {
        let eol = self.eol;
        match self.ranges().logbook.as_deref().cloned() {
            Some(logbook) => {
                let contents = logbook.contents();
                let indent = if contents.is_empty() {
                    self.indent_of(logbook.begin.start)
                } else {
                    self.indent_of(contents.start)
                };
                let line = format!("{indent}{note}{eol}");
                self.insert_lines(logbook.begin.end, &line, self.current_id())
            }
            None => {
                let entry = self.ranges();
                let (at, indent) = match &entry.drawer {
                    Some(drawer) => (drawer.whole.end, self.indent_of(drawer.begin.start)),
                    None => (self.after_planning(), String::new()),
                };
                let lines = format!("{indent}:LOGBOOK:{eol}{indent}{note}{eol}{indent}:END:{eol}");
                self.insert_lines(at, &lines, self.current_id())
            }
        }
    }

    /// Replaces the tags. When the old tags were aligned to a column (as Emacs does), the new
    /// ones end at the same column; an empty list removes the group.
    ///
    /// New tags must be ASCII ([`validate::tag`]); a tag the entry already has is kept as it
    /// is, whatever Org letters it holds (`:größe:`), since Org read it as a tag.
    pub fn set_tags(&mut self, tags: &[&str]) -> Result<(), OrgError> {
        let existing = self.entry().tags();
        for tag in tags {
            if !existing.iter().any(|t| t == tag) {
                validate::tag(tag)?;
            }
        }
        let group = if tags.is_empty() {
            String::new()
        } else {
            format!(":{}:", tags.join(":"))
        };
        let entry = self.ranges();
        let heading = entry.heading;
        let bytes = self.bytes();
        match entry.tags {
            Some(old) => {
                if bytes[old.range()] == *group.as_bytes() {
                    return Ok(());
                }
                let before = bytes[heading.start..old.start]
                    .iter()
                    .rposition(|&b| b != b' ' && b != b'\t')
                    .map_or(heading.start, |p| heading.start + p + 1);
                if group.is_empty() {
                    return self.splice(Span::new(before, old.end), "");
                }
                let padding = old.start - before;
                let width = |range: std::ops::Range<usize>| {
                    String::from_utf8_lossy(&bytes[range]).chars().count()
                };
                let pad = if padding <= 1 {
                    1
                } else {
                    let end_column = width(heading.start..old.end);
                    let before_column = width(heading.start..before);
                    end_column
                        .saturating_sub(group.chars().count())
                        .saturating_sub(before_column)
                        .max(1)
                };
                let text = format!("{}{group}", " ".repeat(pad));
                self.splice(Span::new(before, old.end), &text)
            }
            None if group.is_empty() => Ok(()),
            None => {
                let end = bytes[heading.range()]
                    .iter()
                    .rposition(|&b| b != b' ' && b != b'\t')
                    .map_or(heading.start, |p| heading.start + p + 1);
                self.splice(Span::new(end, end), &format!(" {group}"))
            }
        }
    }
}
