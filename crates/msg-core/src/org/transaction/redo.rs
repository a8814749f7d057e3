//! Redoing a transaction's changes on bytes another program wrote meanwhile.
//!
//! When an editor saves the file while a transaction writes it, [`crate::durable::replace`]
//! hands over what the editor wrote. The changes are then redone on those bytes, found by
//! ID: an edited entry must still read exactly as it did before the edit, a taken subtree
//! exactly as it was taken; new entries are appended again and keywords declared again.
//! When any of that does not hold (the person changed the same entry), the change cannot be
//! redone and the editor's version stays as it is.

use crate::org::eol::Eol;
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

/// The ID of the one entry in `section`, if it has one.
pub(super) fn section_id(section: &[u8], keywords: &TodoKeywords, eol: Eol) -> Option<String> {
    let doc = Document::parse_as(section.to_vec(), keywords, eol);
    if doc.len() != 1 {
        return None;
    }
    doc.entry(0).id().map(|id| id.into_owned())
}
