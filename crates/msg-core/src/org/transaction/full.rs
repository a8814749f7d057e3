//! The full path: the whole file scanned and indexed, any number of changes.

use std::io::Read;
use std::path::Path;

use super::redo::{Redo, RedoEdit, section_id};
use super::{edit_section, joined, mixed_cut_and_edit, not_found, poisoned, writable, write_back};
use crate::durable::{self, ReadFile};
use crate::org::edit::EntryEditor;
use crate::org::emacs_lock;
use crate::org::error::OrgError;
use crate::org::file::OrgFile;
use crate::org::guard::{self, Rewrite};
use crate::org::outline::Outline;
use crate::org::ranges::{Entry, Span};
use crate::org::scan::Document;
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
    /// Subtrees taken out of the file, in original coordinates, with their IDs.
    pub(super) cuts: Vec<(Span, String)>,
    /// Every keyword an edit or an append wrote, which the header must declare.
    keywords: Vec<String>,
    /// [`Transaction::outline`](super::Transaction::outline) of the file with this transaction's changes.
    pub(super) view: Option<Outline>,
}

/// One edited section, not yet applied to the bytes.
#[derive(Debug)]
pub(super) struct Staged {
    pub(super) index: usize,
    /// The section as read: where it was, and its bytes.
    pub(super) section: Span,
    pub(super) old: Vec<u8>,
    /// Its new bytes, and their one entry scanned from offset 0.
    pub(super) bytes: Vec<u8>,
    pub(super) scanned: Entry,
    /// Keywords the edit wrote.
    pub(super) written: Vec<String>,
}

/// Where a full transaction's file came from.
#[derive(Debug)]
pub(super) enum Origin {
    /// The file was missing; the transaction creates it with the header.
    Created,
    /// The file was read, through this descriptor.
    Read(ReadFile),
    /// Bytes another program wrote, to redo the transaction's changes on.
    Theirs,
}

impl Full {
    /// Reads and scans the whole file; a missing file becomes the header of a new one.
    pub(super) fn load(file: &OrgFile) -> Result<Full, OrgError> {
        let path = file.path();
        let busy = || emacs_lock::holder(path).is_some();
        let read_all = |handle: &mut std::fs::File| {
            let mut bytes = Vec::with_capacity(handle.metadata()?.len() as usize);
            handle.read_to_end(&mut bytes).map(|_| bytes)
        };
        let Some((read, bytes)) = ReadFile::read_stable(path, busy, read_all)? else {
            let doc = Document::parse(file.header().into_bytes(), file.states());
            return Ok(Full::new(doc, Origin::Created, Vec::new()));
        };
        let doc = Document::parse(bytes, file.states());
        let original = doc.bytes().to_vec();
        Ok(Full::new(doc, Origin::Read(read), original))
    }

    pub(super) fn new(doc: Document, origin: Origin, original: Vec<u8>) -> Full {
        Full {
            original_sections: doc.entries().map(|e| e.ranges().section).collect(),
            doc,
            origin,
            original,
            edited: Vec::new(),
            header_insert: None,
            appended: Vec::new(),
            cuts: Vec::new(),
            keywords: Vec::new(),
            view: None,
        }
    }

    /// The fast path's state as the full document, its `staged` section applied as
    /// [`Transaction::edit_at`](super::Transaction::edit_at) would have.
    pub(super) fn from_fast(
        file: &OrgFile,
        read: ReadFile,
        outline: Outline,
        staged: Option<Staged>,
    ) -> Result<Full, OrgError> {
        let eol = outline.eol_mode();
        let doc = Document::parse_as(outline.into_bytes(), file.states(), eol);
        let original = doc.bytes().to_vec();
        let mut full = Full::new(doc, Origin::Read(read), original);
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
        writable(path, self.doc.invalid_utf8(), self.doc.eol_mode())
    }

    pub(super) fn index_of(&self, path: &Path, id: &str) -> Result<usize, OrgError> {
        match self.doc.find_by_id(id) {
            Ok(Some(entry)) => Ok(entry.index()),
            Ok(None) => Err(not_found(path, id)),
            Err(dup) => Err(dup.in_file(path)),
        }
    }

    /// Whether anything but appends is staged: the file must be rewritten.
    pub(super) fn rewrites(&self) -> bool {
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
        for keyword in keywords {
            if !self.keywords.iter().any(|k| k == keyword) {
                self.keywords.push((*keyword).to_owned());
            }
        }
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
        if at > doc.content_start() && bytes[at - 1] != b'\n' {
            line.insert_str(0, eol);
        }
        let first_line = doc.line_of(at) + usize::from(line.starts_with(eol));
        let mut new = bytes.to_vec();
        new.splice(at..at, line.bytes());
        let (old_at, old_len) = self.header_insert.unwrap_or((at, 0));
        self.header_insert = Some((old_at, old_len + line.len()));
        *doc = Document::parse_as(new, file.states(), doc.eol_mode());
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
        self.put_section(index, &bytes, scanned);
        let written: Vec<&str> = written.iter().map(String::as_str).collect();
        self.declare(file, &written)?;
        Ok(value)
    }

    /// Replaces the section of entry `index` with `bytes` (whose one entry is `scanned`).
    fn put_section(&mut self, index: usize, bytes: &[u8], scanned: crate::org::Entry) {
        self.doc.replace_section(index, bytes, scanned);
        if !self.edited.contains(&index) {
            self.edited.push(index);
        }
    }

    /// The section of entry `index` as it is now.
    pub(super) fn section(&self, index: usize) -> &[u8] {
        &self.doc.bytes()[self.doc.entry(index).ranges().section_range()]
    }

    /// Puts `new` in place of the section of the entry with `id`, if that section is `old`
    /// now; for redoing an edit on bytes another program wrote.
    pub(super) fn redo_edit(&mut self, path: &Path, edit: &RedoEdit<'_>) -> Option<()> {
        let index = self.index_of(path, &edit.id).ok()?;
        if self.section(index) != edit.old {
            return None;
        }
        let scanned =
            Document::parse_as(edit.new.to_vec(), self.doc.keywords(), self.doc.eol_mode());
        if scanned.len() != 1 {
            return None;
        }
        let entry = scanned.entry(0).ranges().clone();
        self.put_section(index, edit.new, entry);
        Some(())
    }

    /// Cuts the subtrees of `ids` out of the document (see [`Transaction::take`](super::Transaction::take)).
    pub(super) fn take(&mut self, file: &OrgFile, ids: &[&str]) -> Result<Vec<Subtree>, OrgError> {
        let path = file.path();
        self.check_writable(path)?;
        if !self.edited.is_empty()
            || self.header_insert.is_some()
            || !self.appended.is_empty()
            || !self.cuts.is_empty()
        {
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
        let new_doc = Document::parse_as(kept, file.states(), doc.eol_mode());
        if new_doc.len() + removed != doc.len() {
            return Err(OrgError::Guard {
                path: path.to_owned(),
                line: taken.first().map_or(0, |t| t.line),
                reason: "cutting the entries would change the others".into(),
            });
        }
        self.cuts = ranges
            .into_iter()
            .map(|(span, _, id)| (span, id.to_owned()))
            .collect();
        self.doc = new_doc;
        Ok(taken)
    }

    /// The file's new bytes: the document with the appended entries, checked by the guard.
    fn checked_bytes(&self, path: &Path) -> Result<Vec<u8>, OrgError> {
        if !matches!(self.origin, Origin::Created) {
            let cuts: Vec<Span> = self.cuts.iter().map(|(span, _)| *span).collect();
            guard::rewrite(
                path,
                &Rewrite {
                    original: &self.original,
                    original_sections: &self.original_sections,
                    edited: &self.edited,
                    header_insert: self.header_insert,
                    cuts: &cuts,
                },
                &self.doc,
            )?;
        }
        let mut bytes = self.doc.bytes().to_vec();
        if !self.appended.is_empty() && !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.extend_from_slice(self.doc.eol().as_bytes());
        }
        for text in &self.appended {
            bytes.extend_from_slice(text.as_bytes());
        }
        guard::keeps_line_endings(path, self.doc.eol_mode(), &bytes)?;
        Ok(bytes)
    }

    /// The changes in a form that can be redone on bytes another program wrote. `None` when
    /// an edited entry has no ID to find it by.
    fn redo_plan(&self) -> Option<Redo<'_>> {
        let mut edits = Vec::with_capacity(self.edited.len());
        for &index in &self.edited {
            let old = &self.original[self.original_sections[index].range()];
            edits.push(RedoEdit {
                id: section_id(old, self.doc.keywords(), self.doc.eol_mode())?,
                old,
                new: self.section(index),
            });
        }
        Some(Redo {
            edits,
            keywords: self.keywords.iter().map(String::as_str).collect(),
            appended: &self.appended,
            cuts: self
                .cuts
                .iter()
                .map(|(span, id)| (id.as_str(), &self.original[span.range()]))
                .collect(),
        })
    }

    /// Writes the changes: appends only, a new file, or a guarded rewrite that keeps what
    /// another program writes meanwhile.
    pub(super) fn commit(mut self, file: &OrgFile) -> Result<(), OrgError> {
        let path = file.path();
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
            let Origin::Read(read) = &self.origin else {
                return Ok(durable::append(path, text.as_bytes())?);
            };
            if read.unchanged(path, &[&self.original])? {
                return Ok(durable::append(path, text.as_bytes())?);
            }
            // Another program wrote the file since it was read: redo the appends on what
            // it wrote, as a rewrite.
        }
        let new = self.checked_bytes(path)?;
        let origin = std::mem::replace(&mut self.origin, Origin::Theirs);
        let plan = self.redo_plan();
        let rebase = |theirs: &[u8]| Full::redo(file, theirs, plan.as_ref()?);
        match origin {
            Origin::Read(read) => write_back(file, read, &[&self.original], &new, rebase),
            Origin::Created => match durable::create_new(path, &new) {
                Err(durable::DurableError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    // Created meanwhile by another program: redo on what it wrote.
                    let Some(mut read) = ReadFile::open(path)? else {
                        return Err(OrgError::ChangedMeanwhile {
                            path: path.to_owned(),
                        });
                    };
                    let mut theirs = Vec::new();
                    read.file()
                        .read_to_end(&mut theirs)
                        .map_err(durable::io_error("read", path))?;
                    let Some(new) = rebase(&theirs) else {
                        return Err(OrgError::ChangedMeanwhile {
                            path: path.to_owned(),
                        });
                    };
                    write_back(file, read, &[&theirs], &new, rebase)
                }
                other => Ok(other?),
            },
            Origin::Theirs => Err(poisoned(path)),
        }
    }

    /// `theirs` with `plan` redone on it and checked by the guard; `None` when it cannot be.
    pub(super) fn redo(file: &OrgFile, theirs: &[u8], plan: &Redo<'_>) -> Option<Vec<u8>> {
        let path = file.path();
        let doc = Document::parse(theirs.to_vec(), file.states());
        doc.invalid_utf8().is_none().then_some(())?;
        let mut full = Full::new(doc, Origin::Theirs, theirs.to_vec());
        if !plan.cuts.is_empty() {
            let ids: Vec<&str> = plan.cuts.iter().map(|(id, _)| *id).collect();
            for subtree in full.take(file, &ids).ok()? {
                let (_, bytes) = plan.cuts.iter().find(|(id, _)| *id == subtree.id())?;
                (subtree.bytes() == *bytes).then_some(())?;
            }
        }
        for edit in &plan.edits {
            full.redo_edit(path, edit)?;
        }
        full.declare(file, &plan.keywords).ok()?;
        full.appended = plan.appended.to_vec();
        full.into_bytes(path)
    }

    /// The bytes [`Full::commit`] would write, for redoing changes on another version.
    pub(super) fn into_bytes(self, path: &Path) -> Option<Vec<u8>> {
        self.checked_bytes(path).ok()
    }
}
