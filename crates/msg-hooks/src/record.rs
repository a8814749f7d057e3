//! The small JSON records a program keeps of what it told an agent (the hook's
//! `hook/seen.rs`, `msg mcp`'s `mcp/pushed.rs`): versioned by a `format` field, and never
//! data anyone needs, so a missing file is an empty record and a file that is not one of
//! this format is read as empty too, with the reason for the caller to report.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::HooksError;

/// A record kept in a JSON file.
pub(crate) trait Record: DeserializeOwned + Default {
    /// The format written; a file with another is read as empty.
    const FORMAT: u64;
    /// What a file of it is, for the warning when it is not one: `a record of pushes`.
    const WHAT: &'static str;
    /// The format of the record as read.
    fn format(&self) -> u64;

    /// Reads the record at `path`: empty when missing; a file that is not a record of this
    /// format is read as empty too, with the reason in the second value.
    fn load(path: &Path) -> Result<(Self, Option<String>), HooksError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Self::default(), None));
            }
            Err(err) => return Err(HooksError::io("read", path)(err)),
        };
        Ok(match serde_json::from_slice::<Self>(&bytes) {
            Ok(record) if record.format() == Self::FORMAT => (record, None),
            Ok(record) => (
                Self::default(),
                Some(format!(
                    "{} has format {}, not {}; starting afresh",
                    path.display(),
                    record.format(),
                    Self::FORMAT
                )),
            ),
            Err(err) => (
                Self::default(),
                Some(format!(
                    "{} is not {} ({err}); starting afresh",
                    path.display(),
                    Self::WHAT
                )),
            ),
        })
    }
}

/// Creates the directory of the record at `path` when missing.
pub(crate) fn create_dir_of(path: &Path) -> Result<(), HooksError> {
    match path.parent() {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(HooksError::io("create the directory of", path))
        }
        None => Ok(()),
    }
}
