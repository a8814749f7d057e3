//! The full path: the whole file scanned and indexed, any number of changes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::fast::{Fast, FastEdited, Staged};
use super::{
    State, check_unchanged, edit_section, joined, mixed_cut_and_edit, not_found, poisoned,
};
use crate::durable;
use crate::fingerprint::Fingerprint;
use crate::org::edit::EntryEditor;
use crate::org::error::OrgError;
use crate::org::file::OrgFile;
use crate::org::guard::{self, Rewrite};
use crate::org::outline::Outline;
use crate::org::scan::{Document, Span};
use crate::org::subtree::Subtree;

/// The whole file with this transaction's changes.
#[derive(Debug)]
pub(super) struct Full {
    /// The file as read under the lock, with the edits so far.
    pub(super) doc: Document,
    /// Whether the file existed, and its identity when read.
    origin: Origin,
    /// What the file held when read (empty for a file this transaction creates).
    original: Vec<u8>,
    /// The sections of the entries as read (indexed like `doc`'s entries).
    original_sections: Vec<Span>,
    /// Indices of edited entries.
    edited: Vec<usize>,
    /// A `#+TODO:` line inserted at this original offset with this length.
    header_insert: Option<(usize, usize)>,
    /// New entries, rendered, in order.
    pub(super) appended: Vec<String>,
    /// Subtrees taken out of the file, in original coordinates.
    pub(super) cuts: Vec<Span>,
    /// [`Transaction::outline`](super::Transaction::outline) of the file with this transaction's changes.
    pub(super) view: Option<Outline>,
}

/// Where a full transaction's file came from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The file was missing; the transaction creates it with the header.
    Created,
    /// The file was read; its identity then.
    Read(Fingerprint),
}

impl Full {
    /// Reads and scans the whole file; a missing file becomes the header of a new one.
    pub(super) fn load(file: &OrgFile) -> Result<Full, OrgError> {
        let path = file.path();
        let (bytes, origin) = match File::open(path) {
            Ok(mut handle) => {
                let meta = handle.metadata().map_err(durable::io_error("stat", path))?;
                let mut bytes = Vec::with_capacity(meta.len() as usize);
                handle
                    .read_to_end(&mut bytes)
                    .map_err(durable::io_error("read", path))?;
                (bytes, Origin::Read(Fingerprint::of_metadata(&meta)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                (file.header().into_bytes(), Origin::Created)
            }
            Err(e) => return Err(durable::io_error("read", path)(e).into()),
        };
        let doc = Document::parse(bytes, file.states());
        let original = match origin {
            Origin::Created => Vec::new(),
            Origin::Read(_) => doc.bytes().to_vec(),
        };
        Ok(Full::new(doc, origin, original))
    }

    fn new(doc: Document, origin: Origin, original: Vec<u8>) -> Full {
        Full {
            original_sections: doc.entries().map(|e| e.ranges().section).collect(),
            doc,
            origin,
            original,
            edited: Vec::new(),
            header_insert: None,
            appended: Vec::new(),
            cuts: Vec::new(),
            view: None,
        }
    }

    /// The full document of a transaction in state `previous`, with what it staged. On an
    /// error, the state to go on with: `previous` when nothing of it was taken apart.
    pub(super) fn from_state(
        file: &OrgFile,
        previous: State,
    ) -> Result<Full, Box<(OrgError, State)>> {
        let failed = |state: State| move |err: OrgError| Box::new((err, state));
        match previous {
            State::Unread => Full::load(file).map_err(failed(State::Unread)),
            State::Appending(appending) => match Full::load(file) {
                Ok(mut full) => {
                    full.appended = appending.appended;
                    Ok(full)
                }
                Err(err) => Err(Box::new((err, State::Appending(appending)))),
            },
            State::Fast(fast) => {
                Full::from_fast(file, *fast, None).map_err(failed(State::Poisoned))
            }
            State::FastEdited(edited) => {
                let FastEdited { fast, staged } = *edited;
                Full::from_fast(file, fast, Some(staged)).map_err(failed(State::Poisoned))
            }
            State::Full(full) => Ok(*full),
            State::Poisoned => Err(Box::new((poisoned(file.path()), State::Poisoned))),
        }
    }

    /// The fast path's state as the full document, its `staged` section applied as
    /// [`Transaction::edit_at`](super::Transaction::edit_at) would have.
    fn from_fast(file: &OrgFile, fast: Fast, staged: Option<Staged>) -> Result<Full, OrgError> {
        let doc = Document::parse(fast.outline.into_bytes(), file.states());
        let original = doc.bytes().to_vec();
        let mut full = Full::new(doc, Origin::Read(fast.stamp), original);
        if let Some(staged) = staged {
            if full.original_sections.get(staged.index) != Some(&staged.section) {
                return Err(OrgError::Guard {
                    path: file.path().to_owned(),
                    line: staged.scanned.line,
                    reason: "the outline and the full scan disagree on the entry's section".into(),
                });
            }
            full.doc
                .replace_section(staged.index, &staged.bytes, staged.scanned);
            full.edited.push(staged.index);
            let written: Vec<&str> = staged.written.iter().map(String::as_str).collect();
            full.declare(file, &written)?;
        }
        Ok(full)
    }

    pub(super) fn check_writable(&self, path: &Path) -> Result<(), OrgError> {
        match self.doc.invalid_utf8() {
            Some(bad) => Err(OrgError::InvalidUtf8 {
                path: path.to_owned(),
                line: bad.line,
            }),
            None => Ok(()),
        }
    }

    pub(super) fn index_of(&self, path: &Path, id: &str) -> Result<usize, OrgError> {
        match self.doc.find_by_id(id) {
            Ok(Some(entry)) => Ok(entry.index()),
            Ok(None) => Err(not_found(path, id)),
            Err(dup) => Err(dup.in_file(path)),
        }
    }

    /// Whether anything but appends is staged: the file must be rewritten.
    fn rewrites(&self) -> bool {
        matches!(self.origin, Origin::Created)
            || !self.edited.is_empty()
            || self.header_insert.is_some()
            || !self.cuts.is_empty()
    }

    /// Adds a `#+TODO:` line declaring those of `keywords` the file does not declare yet;
    /// returns its 1-based line.
    pub(super) fn declare(
        &mut self,
        file: &OrgFile,
        keywords: &[&str],
    ) -> Result<Option<usize>, OrgError> {
        let doc = &mut self.doc;
        let missing = doc
            .declared_keywords()
            .missing_from(keywords, file.states());
        if missing.todo().is_empty() && missing.done().is_empty() {
            return Ok(None);
        }
        // A file that declares nothing gets the caller's whole sequence, because any
        // `#+TODO:` line replaces Emacs's default `TODO | DONE`.
        let value = if doc.declared_keywords().sequences().is_empty() {
            file.header()
        } else {
            format!("#+TODO: {}\n", missing.to_line_value())
        };
        let eol = doc.eol();
        let mut line = value.replace('\n', eol);
        let at = doc.keyword_insert_point();
        let bytes = doc.bytes();
        if at > 0 && bytes[at - 1] != b'\n' {
            line.insert_str(0, eol);
        }
        let first_line = doc.line_of(at) + usize::from(line.starts_with(eol));
        let mut new = bytes.to_vec();
        new.splice(at..at, line.bytes());
        let (old_at, old_len) = self.header_insert.unwrap_or((at, 0));
        self.header_insert = Some((old_at, old_len + line.len()));
        *doc = Document::parse(new, file.states());
        Ok(Some(first_line))
    }

    /// [`Transaction::edit_at`](super::Transaction::edit_at) on the full document.
    pub(super) fn edit_at<T>(
        &mut self,
        file: &OrgFile,
        index: usize,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let path = file.path();
        self.check_writable(path)?;
        if !self.cuts.is_empty() {
            return Err(mixed_cut_and_edit(path));
        }
        let entry = self.doc.entry(index);
        let (value, edited) = edit_section(
            path,
            &self.doc.bytes()[entry.ranges().section.range()],
            self.doc.keywords(),
            self.doc.eol(),
            entry.line(),
            f,
        )?;
        let Some((bytes, scanned, written)) = edited else {
            return Ok(value);
        };
        self.doc.replace_section(index, &bytes, scanned);
        if !self.edited.contains(&index) {
            self.edited.push(index);
        }
        let written: Vec<&str> = written.iter().map(String::as_str).collect();
        self.declare(file, &written)?;
        Ok(value)
    }

    /// Cuts the subtrees of `ids` out of the document (see [`Transaction::take`](super::Transaction::take)).
    pub(super) fn take(&mut self, file: &OrgFile, ids: &[&str]) -> Result<Vec<Subtree>, OrgError> {
        let path = file.path();
        self.check_writable(path)?;
        if self.rewrites() || !self.appended.is_empty() {
            return Err(mixed_cut_and_edit(path));
        }
        let doc = &self.doc;
        let mut ranges: Vec<(Span, usize, &str)> = Vec::with_capacity(ids.len());
        for id in ids {
            let index = self.index_of(path, id)?;
            let range = doc.entry(index).ranges().subtree_range();
            ranges.push((Span::new(range.start, range.end), index, id));
        }
        ranges.sort_by_key(|(span, _, _)| span.start);
        ranges.dedup_by(|later, earlier| later.0.end <= earlier.0.end);
        let bytes = doc.bytes();
        let mut kept = Vec::with_capacity(bytes.len());
        let mut taken = Vec::with_capacity(ranges.len());
        let mut pos = 0;
        for &(span, index, id) in &ranges {
            kept.extend_from_slice(&bytes[pos..span.start]);
            pos = span.end;
            let entry = doc.entry(index);
            let entries = doc
                .entries()
                .skip(index)
                .take_while(|e| e.ranges().section_range().start < span.end)
                .count();
            taken.push(Subtree {
                bytes: bytes[span.range()].to_vec(),
                id: id.to_owned(),
                keyword: entry.keyword().map(|k| k.into_owned()),
                entries,
                section_len: entry.ranges().section_range().len(),
                keywords: doc.keywords().clone(),
                eol: doc.eol(),
                line: entry.line(),
            });
        }
        kept.extend_from_slice(&bytes[pos..]);
        let removed: usize = taken.iter().map(|t| t.entries).sum();
        let new_doc = Document::parse(kept, file.states());
        if new_doc.len() + removed != doc.len() {
            return Err(OrgError::Guard {
                path: path.to_owned(),
                line: taken.first().map_or(0, |t| t.line),
                reason: "cutting the entries would change the others".into(),
            });
        }
        self.cuts = ranges.into_iter().map(|(span, _, _)| span).collect();
        self.doc = new_doc;
        Ok(taken)
    }

    /// Writes the changes: appends only, a new file, or a guarded rewrite.
    pub(super) fn commit(self, path: &Path) -> Result<(), OrgError> {
        if !self.rewrites() {
            if self.appended.is_empty() {
                return Ok(());
            }
            let bytes = self.doc.bytes();
            let ends_with_newline = bytes.last().is_none_or(|&b| b == b'\n');
            let text = joined(
                &self.appended,
                self.doc.eol(),
                ends_with_newline || bytes.is_empty(),
            );
            return Ok(durable::append(path, text.as_bytes())?);
        }
        let stamp = match self.origin {
            Origin::Created => None,
            Origin::Read(stamp) => Some(stamp),
        };
        if let Some(stamp) = stamp {
            guard::rewrite(
                path,
                &Rewrite {
                    original: &self.original,
                    original_sections: &self.original_sections,
                    edited: &self.edited,
                    header_insert: self.header_insert,
                    cuts: &self.cuts,
                },
                &self.doc,
            )?;
            check_unchanged(path, stamp)?;
        }
        // Copy the file only when entries are appended to it.
        let with_appends;
        let bytes = if self.appended.is_empty() {
            self.doc.bytes()
        } else {
            let mut bytes = self.doc.bytes().to_vec();
            if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                bytes.extend_from_slice(self.doc.eol().as_bytes());
            }
            for text in &self.appended {
                bytes.extend_from_slice(text.as_bytes());
            }
            with_appends = bytes;
            &with_appends
        };
        match stamp {
            None => durable::create_new(path, bytes)?,
            Some(_) => durable::write_atomically(path, bytes)?,
        }
        Ok(())
    }
}
