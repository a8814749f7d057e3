//! The task ↔ admission links of earlier builds, read for the tasks they created.
//!
//! The governor hands out an admission ID when it admits a task and wants it back when the
//! task completes (to replace the reservation by the tokens used) or is rejected or cancelled
//! (to release it). The task now carries it (`ADMISSION`, written with the task by
//! [`TaskDesk::submit`](crate::TaskDesk::submit)). Earlier builds kept it here instead: one
//! JSON line per submitted task in `<root>/.datacore/state/messaging/task-admissions.jsonl`,
//! `{"task":"task-…","admission":"adm-…"}`. The file is no longer written; it is read for a
//! task without `ADMISSION`, so the reservations of tasks submitted before are still
//! completed or released. Tasks without either (written by the Python original or by hand)
//! have no admission; their tokens are recorded as the sender's usage instead.

use std::path::{Path, PathBuf};

use msg_core::durable::{DEFAULT_LOCK_TIMEOUT, FileLock};
use serde::Deserialize;

use crate::error::HooksError;

/// The file name below the governor's state directory.
const FILE_NAME: &str = "task-admissions.jsonl";

#[derive(Debug, Deserialize)]
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
        let state = dir.path().join("state");
        let links = AdmissionLinks::new(&state);
        assert_eq!(links.admission_of("task-1").unwrap(), None);
        // The file as earlier builds wrote it (the latest line of a task wins).
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(
            state.join(FILE_NAME),
            "{\"task\":\"task-1\",\"admission\":\"adm-0\"}\n\
             {\"task\":\"task-2\",\"admission\":\"adm-2\"}\n\
             \n\
             {\"task\":\"task-1\",\"admission\":\"adm-1\"}\n",
        )
        .unwrap();
        assert_eq!(
            links.admission_of("task-1").unwrap().as_deref(),
            Some("adm-1")
        );
        assert_eq!(links.admission_of("task-3").unwrap(), None);
        std::fs::write(state.join(FILE_NAME), "{\"task\":1}\n").unwrap();
        let err = links.admission_of("task-1").unwrap_err().to_string();
        assert!(
            err.contains("task-admissions.jsonl, line 1: not a task admission link"),
            "{err}"
        );
    }
}
