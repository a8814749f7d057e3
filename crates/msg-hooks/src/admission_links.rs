//! Which governor admission belongs to which task.
//!
//! The governor hands out an admission ID when it admits a task and wants it back when the
//! task completes (to replace the reservation by the tokens used) or is rejected or cancelled
//! (to release it). `AgentInbox::create_task` has no place for extra properties, so the link
//! is kept here: one JSON line per submitted task in
//! `<root>/.datacore/state/messaging/task-admissions.jsonl`,
//! `{"task":"task-…","admission":"adm-…"}`, appended durably under the file's lock. Tasks
//! without a line (written by the Python original, by hand, or before this file existed)
//! have no admission; their tokens are recorded as the sender's usage instead.

use std::path::{Path, PathBuf};

use msg_core::durable::{self, DEFAULT_LOCK_TIMEOUT, FileLock};
use serde::{Deserialize, Serialize};

use crate::error::HooksError;

/// The file name below the governor's state directory.
const FILE_NAME: &str = "task-admissions.jsonl";

#[derive(Debug, Serialize, Deserialize)]
struct Link {
    task: String,
    admission: String,
}

/// The task ↔ admission links of one Datacore root.
#[derive(Debug, Clone)]
pub(crate) struct AdmissionLinks {
    path: PathBuf,
}

impl AdmissionLinks {
    /// The links kept in `state_dir` (the governor's).
    pub(crate) fn new(state_dir: &Path) -> AdmissionLinks {
        AdmissionLinks {
            path: state_dir.join(FILE_NAME),
        }
    }

    /// Records that `task` was admitted as `admission`, durably.
    pub(crate) fn record(&self, task: &str, admission: &str) -> Result<(), HooksError> {
        let mut line = serde_json::to_vec(&Link {
            task: task.to_owned(),
            admission: admission.to_owned(),
        })
        .expect("a link serialises");
        line.push(b'\n');
        let _lock = FileLock::exclusive(&self.path, DEFAULT_LOCK_TIMEOUT)?;
        if !self.path.exists() {
            durable::create_new(&self.path, b"")?;
        }
        durable::append(&self.path, &line)?;
        Ok(())
    }

    /// The admission of `task`, if one was recorded (the latest, should there be several).
    pub(crate) fn admission_of(&self, task: &str) -> Result<Option<String>, HooksError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let _lock = FileLock::shared(&self.path, DEFAULT_LOCK_TIMEOUT)?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(HooksError::io("read", &self.path)(err)),
        };
        let mut found = None;
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let link: Link = serde_json::from_str(line).map_err(|err| HooksError::BadFile {
                path: self.path.clone(),
                line: Some(number + 1),
                message: format!(
                    "not a task admission link ({err}); correct or delete the line (its task is then completed without its admission)"
                ),
            })?;
            if link.task == task {
                found = Some(link.admission);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_by_task() {
        let dir = assert_fs::TempDir::new().unwrap();
        let links = AdmissionLinks::new(&dir.path().join("state"));
        assert_eq!(links.admission_of("task-1").unwrap(), None);
        links.record("task-1", "adm-1").unwrap();
        links.record("task-2", "adm-2").unwrap();
        assert_eq!(
            links.admission_of("task-1").unwrap().as_deref(),
            Some("adm-1")
        );
        assert_eq!(links.admission_of("task-3").unwrap(), None);
        std::fs::write(dir.path().join("state").join(FILE_NAME), "{\"task\":1}\n").unwrap();
        let err = links.admission_of("task-1").unwrap_err().to_string();
        assert!(
            err.contains("task-admissions.jsonl, line 1: not a task admission link"),
            "{err}"
        );
    }
}
