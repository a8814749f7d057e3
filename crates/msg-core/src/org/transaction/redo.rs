//! Redoing a transaction's changes on bytes another program wrote meanwhile.
//!
//! When an editor saves the file while a transaction writes it, [`crate::durable::replace`]
//! hands over what the editor wrote. The changes are then redone on those bytes, found by
//! ID: an edited entry must still read exactly as it did before the edit, a taken subtree
//! exactly as it was taken; new entries are appended again and keywords declared again.
//! When any of that does not hold (the person changed the same entry), the change cannot be
//! redone and the editor's version stays as it is.

use super::full::{Full, Origin};
use crate::org::eol::Eol;
use crate::org::file::OrgFile;
use crate::org::keywords::TodoKeywords;
use crate::org::scan::Document;

/// A transaction's changes, as they can be redone on another version of the file.
#[derive(Debug)]
pub(super) struct Redo<'a> {
    /// Edited entries.
    pub(super) edits: Vec<RedoEdit<'a>>,
    /// Keywords the header must declare.
    pub(super) keywords: Vec<&'a str>,
    /// New entries, rendered.
    pub(super) appended: &'a [String],
    /// Subtrees taken out: the top entry's ID and the bytes taken.
    pub(super) cuts: Vec<(&'a str, &'a [u8])>,
}

/// One edited entry: its ID, its section before the edit and after it.
#[derive(Debug)]
pub(super) struct RedoEdit<'a> {
    pub(super) id: String,
    pub(super) old: &'a [u8],
    pub(super) new: &'a [u8],
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

/// The ID of the one entry in `section`, if it has one.
pub(super) fn section_id(section: &[u8], keywords: &TodoKeywords, eol: Eol) -> Option<String> {
    let doc = Document::parse_as(section.to_vec(), keywords, eol);
    if doc.len() != 1 {
        return None;
    }
    doc.entry(0).id().map(|id| id.into_owned())
}
