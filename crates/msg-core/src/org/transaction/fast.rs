//! The fast path: an edit of one entry that scans only its section.

use super::full::{Full, Staged};
use super::redo::{Redo, RedoEdit, section_id};
use super::write_back;
use super::{edit_section, writable};
use crate::durable::ReadFile;
use crate::org::edit::EntryEditor;
use crate::org::emacs_lock;
use crate::org::error::OrgError;
use crate::org::file::OrgFile;
use crate::org::guard;
use crate::org::outline::{Outline, read_into_spare, recycle};

/// The fast path: the file read under the lock as an [`Outline`]. Anything but one edit (a
/// second edit, [`Transaction::document`](super::Transaction::document), an append, a new keyword to declare) turns it
/// into the full [`Document`](crate::org::Document) first, an edited section applied.
#[derive(Debug)]
pub(super) struct Fast {
    /// The descriptor the file was read through, and its fingerprint then: to notice a
    /// program that writes it without our lock (an editor saving it).
    pub(super) read: ReadFile,
    pub(super) outline: Outline,
}

/// The fast path with its one edit.
#[derive(Debug)]
pub(super) struct FastEdited {
    pub(super) fast: Fast,
    pub(super) staged: Staged,
}

impl Fast {
    /// Reads the file at `file`'s path as an outline; `None` when it is missing (the full
    /// load creates it).
    pub(super) fn read(file: &OrgFile) -> Result<Option<Box<Fast>>, OrgError> {
        let path = file.path();
        let busy = || emacs_lock::holder(path).is_some();
        let read_all = |handle: &mut std::fs::File| {
            let len = handle.metadata()?.len() as usize;
            // Room for the edited section to grow in place, so that splicing it in moves
            // the tail instead of copying the whole file to new memory; the memory of an
            // earlier read on this thread is reused (see `outline::read_into_spare`).
            read_into_spare(handle, len, 64 * 1024)
        };
        let Some((read, bytes)) = ReadFile::read_stable(path, busy, read_all)? else {
            return Ok(None);
        };
        Ok(Some(Box::new(Fast {
            read,
            outline: Outline::parse(bytes, file.states()),
        })))
    }

    /// [`Transaction::edit_at`](super::Transaction::edit_at) on the outline: the section is edited as in the full path.
    /// Returns the edited section (none when `f` changed nothing) and whether the edit
    /// wrote a keyword the file does not declare yet (the full path then adds the
    /// `#+TODO:` line).
    pub(super) fn edit<T>(
        &self,
        file: &OrgFile,
        index: usize,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<(T, Option<(Staged, bool)>), OrgError> {
        let path = file.path();
        let outline = &self.outline;
        // The full path refuses any file with invalid UTF-8, not only the entry's section:
        // the same rule here, so that both paths always agree (the check is one pass of
        // `from_utf8`, about a tenth of a full scan).
        writable(path, outline.invalid_utf8(), outline.eol_mode())?;
        let section = outline.section(index);
        let (value, edited) = edit_section(
            path,
            &outline.bytes()[section.range()],
            outline.keywords(),
            outline.eol(),
            outline.line(index),
            f,
        )?;
        let Some((bytes, mut scanned, written)) = edited else {
            return Ok((value, None));
        };
        let missing = {
            let written: Vec<&str> = written.iter().map(String::as_str).collect();
            let missing = outline
                .declared_keywords()
                .missing_from(&written, file.states());
            !missing.todo().is_empty() || !missing.done().is_empty()
        };
        scanned.line = outline.line(index);
        let staged = Staged {
            index,
            old: outline.bytes()[section.range()].to_vec(),
            section,
            bytes,
            scanned,
            written,
        };
        Ok((value, Some((staged, missing))))
    }

    /// The fast path's write: the bytes as read, with the one edited section replaced in
    /// place ([`guard::splice_in_place`]), keeping what an editor saves meanwhile.
    pub(super) fn commit(self, file: &OrgFile, staged: Staged) -> Result<(), OrgError> {
        let path = file.path();
        let Fast { read, outline } = self;
        let eol = outline.eol_mode();
        let id = section_id(&staged.old, outline.keywords(), eol);
        let mut bytes = outline.into_bytes();
        guard::splice_in_place(
            path,
            &mut bytes,
            staged.section,
            &staged.bytes,
            staged.scanned.line,
        )?;
        guard::keeps_line_endings(path, eol, &bytes)?;
        let after = staged.section.start + staged.bytes.len();
        let held = [
            &bytes[..staged.section.start],
            &staged.old[..],
            &bytes[after..],
        ];
        let plan = id.map(|id| Redo {
            edits: vec![RedoEdit {
                id,
                old: &staged.old,
                new: &staged.bytes,
            }],
            keywords: staged.written.iter().map(String::as_str).collect(),
            appended: &[],
            cuts: Vec::new(),
        });
        write_back(file, read, &held, &bytes, |theirs| {
            Full::redo(file, theirs, plan.as_ref()?)
        })?;
        recycle(bytes);
        Ok(())
    }
}
