//! The fast path: an edit of one entry that scans only its section.

use std::fs::File;
use std::io;
use std::path::Path;

use super::{check_unchanged, edit_section};
use crate::durable;
use crate::fingerprint::Fingerprint;
use crate::org::edit::EntryEditor;
use crate::org::error::OrgError;
use crate::org::file::OrgFile;
use crate::org::guard;
use crate::org::outline::{Outline, read_into_spare, recycle};
use crate::org::scan::{Entry, Span};

/// The fast path: the file read under the lock as an [`Outline`]. Anything but one edit (a
/// second edit, [`Transaction::document`](super::Transaction::document), an append, a new keyword to declare) turns it
/// into the full [`Document`](crate::org::Document) first, an edited section applied.
#[derive(Debug)]
pub(super) struct Fast {
    /// The file's identity when it was read, to notice a program that writes it without our
    /// lock (an editor saving it) before we replace it.
    pub(super) stamp: Fingerprint,
    pub(super) outline: Outline,
}

/// The fast path with its one edit.
#[derive(Debug)]
pub(super) struct FastEdited {
    pub(super) fast: Fast,
    pub(super) staged: Staged,
}

/// One edited section, not yet applied to the bytes.
#[derive(Debug)]
pub(super) struct Staged {
    pub(super) index: usize,
    /// The section as read.
    pub(super) section: Span,
    /// Its new bytes, and their one entry scanned from offset 0.
    pub(super) bytes: Vec<u8>,
    pub(super) scanned: Entry,
    /// Keywords the edit wrote.
    pub(super) written: Vec<String>,
}

impl Fast {
    /// Reads the file at `file`'s path as an outline; `None` when it is missing (the full
    /// load creates it).
    pub(super) fn read(file: &OrgFile) -> Result<Option<Box<Fast>>, OrgError> {
        let path = file.path();
        let mut handle = match File::open(path) {
            Ok(handle) => handle,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(durable::io_error("read", path)(e).into()),
        };
        let meta = handle.metadata().map_err(durable::io_error("stat", path))?;
        // Room for the edited section to grow in place, so that splicing it in moves the
        // tail instead of copying the whole file to new memory; the memory of an earlier
        // read on this thread is reused (see `outline::read_into_spare`).
        let bytes = read_into_spare(&mut handle, meta.len() as usize, 64 * 1024)
            .map_err(durable::io_error("read", path))?;
        Ok(Some(Box::new(Fast {
            stamp: Fingerprint::of_metadata(&meta),
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
        if let Some(bad) = outline.invalid_utf8() {
            return Err(OrgError::InvalidUtf8 {
                path: path.to_owned(),
                line: bad.line,
            });
        }
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
            section,
            bytes,
            scanned,
            written,
        };
        Ok((value, Some((staged, missing))))
    }

    /// The fast path's write: the bytes as read, with the one edited section replaced in
    /// place ([`guard::splice_in_place`]).
    pub(super) fn commit(self, path: &Path, staged: Staged) -> Result<(), OrgError> {
        check_unchanged(path, self.stamp)?;
        let mut bytes = self.outline.into_bytes();
        guard::splice_in_place(
            path,
            &mut bytes,
            staged.section,
            &staged.bytes,
            staged.scanned.line,
        )?;
        durable::write_atomically(path, &bytes)?;
        recycle(bytes);
        Ok(())
    }
}
