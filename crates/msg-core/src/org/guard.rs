//! The guard: before anything is written, the new bytes are compared with the bytes read
//! under the lock. Every byte outside the touched entries (and the header line added for a
//! new keyword) must be identical, every edited section must still scan as one entry with
//! its ID, and appended text must scan as exactly the entries it was meant to be. A guard
//! failure is a bug in the engine, never in the file: nothing is written.

use std::path::Path;

use super::eol::Eol;
use super::error::OrgError;
use super::keywords::TodoKeywords;
use super::ranges::Span;
use super::scan::Document;

fn refuse(path: &Path, line: usize, reason: impl Into<String>) -> OrgError {
    OrgError::Guard {
        path: path.to_owned(),
        line,
        reason: reason.into(),
    }
}

/// An edited section that ended with a line ending must still end with one (the next
/// heading would otherwise join its last line).
pub(super) fn keeps_final_line_ending(
    path: &Path,
    old: &[u8],
    new: &[u8],
    line: usize,
) -> Result<(), OrgError> {
    if old.ends_with(b"\n") && !new.ends_with(b"\n") {
        return Err(refuse(
            path,
            line,
            "the entry would lose its final line ending",
        ));
    }
    Ok(())
}

/// The new bytes must leave Emacs reading the file with the line endings it read it with
/// (`eol`): a line written with another ending would make Emacs decode every line
/// differently.
pub(super) fn keeps_line_endings(path: &Path, eol: Eol, new: &[u8]) -> Result<(), OrgError> {
    let now = Eol::of(new);
    if now != eol {
        return Err(refuse(
            path,
            0,
            format!(
                "the write would make Emacs read the file with {} line endings instead of {}",
                now.name(),
                eol.name()
            ),
        ));
    }
    Ok(())
}

/// `text` to be appended must scan as exactly `entries` entries, the first one carrying
/// `id`. Returns the text.
pub(super) fn appended_text(
    path: &Path,
    text: String,
    keywords: &TodoKeywords,
    eol: &str,
    entries: usize,
    id: Option<&str>,
) -> Result<String, OrgError> {
    let scanned = Document::parse_as(text.into_bytes(), keywords, Eol::of_ending(eol));
    if scanned.len() != entries || scanned.entry(0).id().as_deref() != id {
        return Err(refuse(
            path,
            0,
            format!(
                "the appended text would scan as {} entries instead of {entries}",
                scanned.len()
            ),
        ));
    }
    String::from_utf8(scanned.into_bytes()).map_err(|_| refuse(path, 0, "not UTF-8"))
}

/// The fast path's write: `bytes` (the file as read) with `section` replaced by `new` in
/// place. The guard holds by construction: the bytes before the section are never written
/// to, the bytes after it move as a block, and the length must come out as the old length
/// minus the old section plus the new one.
pub(super) fn splice_in_place(
    path: &Path,
    bytes: &mut Vec<u8>,
    section: Span,
    new: &[u8],
    line: usize,
) -> Result<(), OrgError> {
    let expected = bytes.len() - section.range().len() + new.len();
    bytes.splice(section.range(), new.iter().copied());
    if bytes.len() != expected {
        return Err(refuse(
            path,
            line,
            "the file would not be the old one with the entry replaced",
        ));
    }
    Ok(())
}

/// What a rewrite changed: the sections of edited entries (as read, and as they are now),
/// an inserted `#+TODO:` line, or subtrees cut out.
pub(super) struct Rewrite<'a> {
    /// The file as read under the lock.
    pub(super) original: &'a [u8],
    /// The sections of every entry as read.
    pub(super) original_sections: &'a [Span],
    /// Indices of the edited entries.
    pub(super) edited: &'a [usize],
    /// A `#+TODO:` line inserted at this original offset with this length.
    pub(super) header_insert: Option<(usize, usize)>,
    /// Subtrees taken out, in original coordinates and file order.
    pub(super) cuts: &'a [Span],
}

/// Checks the new document against the old: identical outside the edited sections and the
/// inserted header line, or exactly the old bytes without the cut subtrees.
pub(super) fn rewrite(path: &Path, change: &Rewrite<'_>, doc: &Document) -> Result<(), OrgError> {
    let original = change.original;
    let new = doc.bytes();
    if !change.cuts.is_empty() {
        let mut expected = Vec::with_capacity(original.len());
        let mut pos = 0;
        for cut in change.cuts {
            expected.extend_from_slice(&original[pos..cut.start]);
            pos = cut.end;
        }
        expected.extend_from_slice(&original[pos..]);
        if expected != new {
            return Err(refuse(
                path,
                0,
                "bytes outside the taken entries would change",
            ));
        }
        return Ok(());
    }
    // (original range, new range) of every change, in file order.
    let mut changes: Vec<(Span, Span)> = Vec::new();
    if let Some((at, len)) = change.header_insert {
        changes.push((Span::new(at, at), Span::new(at, at + len)));
    }
    let mut edited = change.edited.to_vec();
    edited.sort_unstable();
    for index in edited {
        let old = change.original_sections[index];
        let now = doc.entry(index).ranges().section;
        changes.push((old, now));
    }
    let mut old_pos = 0;
    let mut new_pos = 0;
    for (old, now) in changes {
        let same = old.start >= old_pos
            && now.start >= new_pos
            && original[old_pos..old.start] == new[new_pos..now.start];
        if !same {
            return Err(refuse(
                path,
                doc.line_of(now.start),
                "bytes outside the edited entries would change",
            ));
        }
        old_pos = old.end;
        new_pos = now.end;
    }
    if original[old_pos..] != new[new_pos..] {
        return Err(refuse(
            path,
            doc.line_of(new_pos),
            "bytes after the edited entries would change",
        ));
    }
    Ok(())
}
