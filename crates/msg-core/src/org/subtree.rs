//! An entry with its children, moved whole from one file to another (archiving).

use std::path::Path;

use super::edit::EntryEditor;
use super::error::OrgError;
use super::keywords::TodoKeywords;

/// An entry with its children, cut out of one file by
/// [`Transaction::take`](super::Transaction::take) to be appended to another by
/// [`Transaction::append_subtree`](super::Transaction::append_subtree).
#[derive(Debug, Clone)]
pub struct Subtree {
    pub(super) bytes: Vec<u8>,
    pub(super) id: String,
    pub(super) keyword: Option<String>,
    /// The number of entries (the top one and its children).
    pub(super) entries: usize,
    /// The length of the top entry's own section.
    pub(super) section_len: usize,
    pub(super) keywords: TodoKeywords,
    pub(super) eol: &'static str,
    /// The top entry's heading line in the file it was taken from.
    pub(super) line: usize,
}

impl Subtree {
    /// The top entry's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bytes as they were in the file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Edits the top entry (for example to add `ARCHIVE_TIME`); children are untouched.
    pub fn edit<T>(
        &mut self,
        path: &Path,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let keywords = self.keywords.clone();
        let mut editor = EntryEditor::new(
            path,
            &self.bytes[..self.section_len],
            &keywords,
            self.eol,
            self.line,
        )?;
        let value = f(&mut editor)?;
        let (section, _, written) = editor.into_parts();
        let mut bytes = section;
        bytes.extend_from_slice(&self.bytes[self.section_len..]);
        self.section_len = bytes.len() - (self.bytes.len() - self.section_len);
        self.bytes = bytes;
        if let Some(keyword) = written.last() {
            self.keyword = Some(keyword.clone());
        }
        Ok(value)
    }
}
