//! A file read without indexing every entry: where each heading starts, and nothing more until
//! an entry is asked for.
//!
//! [`Document::parse`](super::Document::parse) builds an index of every entry (about 300 bytes each, plus a property
//! list), which in a fresh process means faulting in more new memory than the file itself.
//! Most operations look at a few entries: an edit by ID, "which task is queued", "which
//! messages are unread". An [`Outline`] keeps the bytes, the start and line number of every
//! heading (16 bytes per entry) and the keywords the file declares; an entry is scanned when
//! it is asked for, by the same code that [`Document::parse`](super::Document::parse) runs on it, so it reads exactly
//! as it does there. Finding an entry by ID is a byte search for the ID ([`memchr::memmem`])
//! over the whole file; each hit on a `:ID:` property line is confirmed by scanning the
//! section it is in, so an ID on two entries is still found and reported.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};

use memchr::{memchr, memchr_iter, memchr2, memmem, memrchr};

use super::entry_ref::EntryRef;
use super::eol::{Eol, bom_len, mac_as_unix};
use super::keywords::{KeywordLines, TodoKeywords};
use super::ranges::{Entry, Span};
use super::scan::{
    DuplicateId, InvalidUtf8, heading_level, is_id_line, line_at, scan_heading, scan_section,
};

thread_local! {
    /// The buffer of the last [`Outline`] dropped on this thread, for the next read to fill.
    /// A fresh process (a hook) pays about 0.6 ms per MB to fault in new memory, and reads
    /// one file after another (the task file twice when it claims): reusing the first
    /// buffer saves faulting in the second. Only capacity is kept; `clear` makes the old
    /// bytes unreachable.
    static SPARE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Buffers above this are given back to the allocator instead of kept for reuse.
const SPARE_MAX: usize = 64 << 20;

/// Reads `file` (of about `len` bytes) into the spare buffer when there is one, with
/// `slack` bytes of room to grow in place.
pub(crate) fn read_into_spare(file: &mut File, len: usize, slack: usize) -> io::Result<Vec<u8>> {
    let mut bytes = SPARE
        .try_with(|spare| std::mem::take(&mut *spare.borrow_mut()))
        .unwrap_or_default();
    bytes.clear();
    bytes.reserve(len + slack);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Keeps `bytes`' memory for the next [`read_into_spare`] (the larger buffer wins).
pub(crate) fn recycle(bytes: Vec<u8>) {
    if bytes.capacity() > SPARE_MAX {
        return;
    }
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut()
            && bytes.capacity() > spare.capacity()
        {
            *spare = bytes;
        }
    });
}

/// An org file's bytes with the position of every heading; entries are scanned on demand.
/// Entry indices are the same as in [`Document::entries`](super::Document::entries).
#[derive(Debug, Clone, Default)]
pub struct Outline {
    bytes: Vec<u8>,
    /// The start of every heading line, in file order.
    starts: Vec<usize>,
    /// The 1-based line number of every heading.
    lines: Vec<usize>,
    declared: TodoKeywords,
    keywords: TodoKeywords,
    /// How Emacs ends the file's lines (CR endings are read as LF, see `Document::parse`).
    eol: Eol,
}

/// One entry of an [`Outline`], scanned: read it through [`OutlineEntry::get`].
#[derive(Debug, Clone)]
pub struct OutlineEntry<'a> {
    bytes: &'a [u8],
    index: usize,
    entry: Entry,
}

impl OutlineEntry<'_> {
    /// The entry, read as [`Document::entry`](super::Document::entry) reads it.
    pub fn get(&self) -> EntryRef<'_> {
        EntryRef::new(self.bytes, self.index, &self.entry)
    }
}

impl Drop for Outline {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.bytes));
    }
}

impl Outline {
    /// Finds the headings and `#+TODO:`-family lines of `bytes`; `states` are the caller's
    /// keywords, as for [`Document::parse`](super::Document::parse)(super::Document::parse).
    ///
    /// Three vectorised passes instead of a walk over every line: `memmem` for `\n*` (a
    /// heading starts a line with a star), `memmem` for `#+` (a keyword line has only blanks
    /// before it) and a `memchr` count of the newlines before each heading for its line.
    pub fn parse(bytes: Vec<u8>, states: &TodoKeywords) -> Outline {
        let eol = Eol::of(&bytes);
        let bytes = if eol == Eol::Mac {
            mac_as_unix(bytes)
        } else {
            bytes
        };
        let content_start = bom_len(&bytes);
        let mut starts = Vec::new();
        let mut lines = Vec::new();
        let mut line_no = 1;
        let mut counted_to = 0;
        let first = (bytes.get(content_start) == Some(&b'*')).then_some(content_start);
        let after_newlines = memmem::find_iter(&bytes, b"\n*").map(|at| at + 1);
        for start in first.into_iter().chain(after_newlines) {
            if heading_level(&bytes, start) > 0 {
                line_no += memchr_iter(b'\n', &bytes[counted_to..start]).count();
                counted_to = start;
                starts.push(start);
                lines.push(line_no);
            }
        }
        let mut keyword_lines = KeywordLines::default();
        let mut next_heading = 0;
        // Each line is looked at once, from its first hit: a hostile line with many `#+`
        // costs its length, not its length times its hits.
        let mut line_end = 0;
        for at in memmem::find_iter(&bytes, b"#+") {
            if at < line_end {
                continue;
            }
            let newline = memchr(b'\n', &bytes[at..]).map(|p| at + p);
            line_end = newline.map_or(bytes.len(), |nl| nl + 1);
            let line_start = memrchr(b'\n', &bytes[..at]).map_or(content_start, |p| p + 1);
            if !bytes[line_start..at]
                .iter()
                .all(|&b| b == b' ' || b == b'\t')
            {
                continue;
            }
            while starts.get(next_heading).is_some_and(|&h| h < at) {
                keyword_lines.heading();
                next_heading += 1;
            }
            // The same line content as the scanner's: without `\n`, or a DOS `\r\n`.
            let content_end = match newline {
                Some(nl) if eol == Eol::Dos && bytes[nl - 1] == b'\r' => nl - 1,
                Some(nl) => nl,
                None => bytes.len(),
            };
            keyword_lines.line(
                &bytes[line_start..content_end],
                Span::new(line_start, line_end),
            );
        }
        let (declared, _) = keyword_lines.finish();
        let keywords = declared.union(states);
        Outline {
            bytes,
            starts,
            lines,
            declared,
            keywords,
            eol,
        }
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Gives the bytes back.
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// The number of entries (headings of any level).
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the file has no heading.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The keywords the file itself declares in `#+TODO:`-family lines.
    pub fn declared_keywords(&self) -> &TodoKeywords {
        &self.declared
    }

    /// The keywords in force: the file's united with the caller's.
    pub fn keywords(&self) -> &TodoKeywords {
        &self.keywords
    }

    /// The line ending new lines get: the file's own, as Emacs decides it.
    pub fn eol(&self) -> &'static str {
        self.eol.as_str()
    }

    /// How Emacs ends this file's lines.
    pub(crate) fn eol_mode(&self) -> Eol {
        self.eol
    }

    /// The first invalid UTF-8 sequence, if any (checked over the whole file on each call).
    pub fn invalid_utf8(&self) -> Option<InvalidUtf8> {
        std::str::from_utf8(&self.bytes).err().map(|e| {
            let offset = e.valid_up_to();
            InvalidUtf8 {
                offset,
                line: line_at(&self.bytes, offset),
            }
        })
    }

    /// The 1-based line number of the heading of entry `index`.
    ///
    /// # Panics
    ///
    /// Panics if `index >= self.len()`, as every method taking an index does.
    pub fn line(&self, index: usize) -> usize {
        self.lines[index]
    }

    /// The entry whose section holds byte `offset` (from its heading line to the next
    /// heading), or `None` for the text before the first heading.
    pub fn entry_at(&self, offset: usize) -> Option<usize> {
        self.starts
            .partition_point(|&start| start <= offset)
            .checked_sub(1)
    }

    /// Where the section of entry `index` ends: the next heading's start, else the file's end.
    pub fn section_end(&self, index: usize) -> usize {
        self.section(index).end
    }

    pub(crate) fn section(&self, index: usize) -> Span {
        let end = self
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        Span::new(self.starts[index], end)
    }

    /// The heading alone (keyword, priority, title, tags); no allocation.
    fn heading(&self, index: usize) -> Entry {
        scan_heading(
            &self.bytes,
            self.starts[index],
            self.lines[index],
            &self.keywords,
            self.eol == Eol::Dos,
        )
    }

    /// The TODO keyword of entry `index`, read from the start of its heading line only.
    pub fn keyword(&self, index: usize) -> Option<Cow<'_, str>> {
        self.keyword_bytes(index).map(String::from_utf8_lossy)
    }

    /// The heading's keyword as `parse_heading` reads it (after the stars and spaces, the
    /// first word, followed by a space, the end of the line or only blanks, if the file's
    /// keywords include it), without splitting the rest of the heading: queries filter every
    /// heading by keyword.
    fn keyword_bytes(&self, index: usize) -> Option<&[u8]> {
        let bytes = &self.bytes[..];
        let start = self.starts[index];
        let stars = start + heading_level(bytes, start);
        let mut pos = stars;
        while bytes.get(pos) == Some(&b' ') {
            pos += 1;
        }
        let line_end = match memchr(b'\n', &bytes[pos..]).map(|p| pos + p) {
            // The line's content ends before a DOS `\r\n`.
            Some(nl) if self.eol == Eol::Dos && nl > pos && bytes[nl - 1] == b'\r' => nl - 1,
            Some(nl) => nl,
            None => bytes.len(),
        };
        let line = &bytes[..line_end];
        let end = memchr2(b' ', b'\t', &line[pos..]).map_or(line_end, |p| pos + p);
        let followed = end == line_end
            || line[end] == b' '
            || line[end..].iter().all(|&b| b == b' ' || b == b'\t');
        let word = &line[pos..end];
        (pos > stars && followed && !word.is_empty() && self.keywords.contains_bytes(word))
            .then_some(word)
    }

    /// Whether entry `index` has `tag` (case-sensitive), read from its heading line only.
    pub fn has_tag(&self, index: usize, tag: &str) -> bool {
        let heading = self.heading(index);
        EntryRef::new(&self.bytes, index, &heading).has_tag(tag)
    }

    /// Scans entry `index`: the same [`Entry`] that [`Document::parse`](super::Document::parse)(super::Document::parse)
    /// indexes for it.
    pub fn entry(&self, index: usize) -> OutlineEntry<'_> {
        OutlineEntry {
            bytes: &self.bytes,
            index,
            entry: self.scan(index),
        }
    }

    /// Every entry, scanned one after the other.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = OutlineEntry<'_>> + '_ {
        (0..self.len()).map(|index| self.entry(index))
    }

    pub(crate) fn scan(&self, index: usize) -> Entry {
        let mut entry = scan_section(
            &self.bytes,
            self.section(index),
            self.lines[index],
            &self.keywords,
            self.eol == Eol::Dos,
        );
        // The subtree ends at the next heading of this level or higher.
        let after = self.starts[index + 1..]
            .iter()
            .position(|&start| heading_level(&self.bytes, start) <= entry.level)
            .map_or(self.bytes.len(), |n| self.starts[index + 1 + n]);
        entry.subtree_end = after;
        entry
    }

    /// The index of the entry whose `:ID:` is `id`, found by searching the file for the ID's
    /// bytes: every hit on a `:ID:` property line is confirmed by scanning its section (the
    /// entry's first `ID` property must be `id`). An ID on two entries is an error naming
    /// both lines, exactly as [`Document::find_by_id`](super::Document::find_by_id) reports it.
    pub fn find_by_id(&self, id: &str) -> Result<Option<usize>, DuplicateId> {
        let Some(&first_heading) = self.starts.first() else {
            return Ok(None);
        };
        if id.is_empty() {
            return Ok(None);
        }
        let needle = id.as_bytes();
        let bytes = &self.bytes[..];
        let mut found: Option<usize> = None;
        let mut scanned: Option<usize> = None;
        // Hits before this are on a line already looked at: each line is searched for its
        // ends once, so a hostile line repeating the ID costs its length, not length × hits.
        let mut line_end = 0;
        for hit in memmem::find_iter(bytes, needle) {
            if hit < first_heading || hit < line_end {
                continue; // the text before the first heading belongs to no entry
            }
            let index = self.starts.partition_point(|&start| start <= hit) - 1;
            if scanned == Some(index) {
                continue; // an entry has one ID: the first ID property, read already
            }
            let newline = memchr(b'\n', &bytes[hit..]).map(|p| hit + p);
            line_end = newline.map_or(bytes.len(), |nl| nl + 1);
            let line_start = memrchr(b'\n', &bytes[..hit]).map_or(0, |p| p + 1);
            let (content_end, full_end) = match newline {
                Some(nl) if self.eol == Eol::Dos && nl > line_start && bytes[nl - 1] == b'\r' => {
                    (nl - 1, nl + 1)
                }
                Some(nl) => (nl, nl + 1),
                None => (bytes.len(), bytes.len()),
            };
            if !is_id_line(bytes, line_start..content_end, full_end, needle) {
                continue;
            }
            let entry = self.scan(index);
            scanned = Some(index);
            if EntryRef::new(bytes, index, &entry).id_bytes() != Some(needle) {
                continue;
            }
            match found {
                Some(first) => {
                    return Err(DuplicateId {
                        id: id.to_owned(),
                        first_line: self.lines[first],
                        second_line: self.lines[index],
                    });
                }
                None => found = Some(index),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_buffer_holds_only_the_new_file() {
        let dir = std::env::temp_dir().join(format!("msg-core-spare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let long = dir.join("long.org");
        let short = dir.join("short.org");
        std::fs::write(&long, "* TODO long\n".repeat(1000)).unwrap();
        std::fs::write(&short, "* DONE short\n").unwrap();
        let states = TodoKeywords::parse("TODO | DONE");
        let read = |path: &std::path::Path| {
            let mut file = File::open(path).unwrap();
            let len = file.metadata().unwrap().len() as usize;
            Outline::parse(read_into_spare(&mut file, len, 0).unwrap(), &states)
        };
        let first = read(&long);
        assert_eq!(first.len(), 1000);
        let capacity = first.bytes.capacity();
        drop(first); // its buffer becomes the spare
        let second = read(&short);
        assert_eq!(second.bytes(), b"* DONE short\n");
        assert_eq!(second.len(), 1);
        assert!(second.bytes.capacity() >= capacity, "the spare was reused");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
