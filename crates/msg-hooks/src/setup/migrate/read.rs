//! Reading a v0.1.0 org file: level-1 `MESSAGE` headings with an ID, each as it was written.

use std::path::Path;

use msg_core::org::{Document, TodoKeywords};

use crate::error::HooksError;

/// One v0.1.0 entry as read.
#[derive(Debug, Clone)]
pub(super) struct OldEntry {
    pub(super) line: usize,
    pub(super) id: String,
    pub(super) timestamp: String,
    pub(super) tags: Vec<String>,
    pub(super) properties: Vec<(String, String)>,
    pub(super) body: String,
    pub(super) marker: String,
}

/// Reads the v0.1.0 entries of `path`: level-1 `MESSAGE` headings with an ID. Anything
/// else is returned as a note (it stays in the backup).
pub(super) fn read_old(path: &Path, rel: &str) -> Result<(Vec<OldEntry>, Vec<String>), HooksError> {
    let bytes = std::fs::read(path).map_err(HooksError::io("read", path))?;
    let doc = Document::parse(bytes, &TodoKeywords::parse("MESSAGE"));
    if let Some(bad) = doc.invalid_utf8() {
        return Err(HooksError::BadFile {
            path: path.to_owned(),
            line: Some(bad.line),
            message: "not valid UTF-8; re-save it as UTF-8 and run `msg migrate` again".into(),
        });
    }
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for entry in doc.entries() {
        let is_message = entry.keyword().as_deref() == Some("MESSAGE");
        let id = entry.id().map(|id| id.into_owned());
        match (entry.level(), is_message, id) {
            (1, true, Some(id)) if !id.is_empty() => entries.push(OldEntry {
                line: entry.line(),
                id,
                timestamp: entry.title().into_owned(),
                tags: entry.tags().into_iter().map(|t| t.into_owned()).collect(),
                properties: entry
                    .properties()
                    .map(|(k, v)| (k.to_ascii_uppercase(), v.into_owned()))
                    .collect(),
                body: entry.body_text(),
                marker: format!("v0.1.0 {rel}:{}", entry.line()),
            }),
            _ => notes.push(format!(
                "line {}: {:?} is not a v0.1.0 message with an ID; it is kept in the backup only",
                entry.line(),
                entry.title()
            )),
        }
    }
    Ok((entries, notes))
}
