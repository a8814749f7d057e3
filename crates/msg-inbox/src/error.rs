//! What can go wrong with an agent inbox. Every error names the task, field or state.

use std::path::PathBuf;

use msg_core::org::OrgError;
use msg_core::validate::ValidationError;
use thiserror::Error;

use crate::state::{Operation, TaskState};

/// Why an inbox operation failed. Nothing was written when this is returned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InboxError {
    /// No task in the file has the ID.
    #[error("{path}: no task has ID {id:?}")]
    NotFound {
        /// The agent's task file.
        path: PathBuf,
        /// The ID looked for.
        id: String,
    },
    /// The task is not in a state the operation starts from (as the file says now: a
    /// person may have moved it in Emacs, or another process may have got there first).
    #[error("cannot {operation} task {id}: {}", wrong_state(*.operation, .keyword.as_deref()))]
    WrongState {
        /// The task.
        id: String,
        /// What was attempted.
        operation: Operation,
        /// The task's keyword as the file has it (`None`: no keyword).
        keyword: Option<String>,
    },
    /// The entry with the ID has no task keyword (mistyped or removed in Emacs): Emacs, the
    /// task list and the hook do not see it as a task.
    #[error(
        "{path}:{line}: task {id} has no task keyword{}: set it to one of TODO, WAITING, QUEUED, WORKING, DONE, CANCELLED or ARCHIVED (in Emacs: C-c C-t on the heading)",
        word.as_deref().map(|w| format!(" ({w:?} is not one)")).unwrap_or_default()
    )]
    NoTaskKeyword {
        /// The agent's task file.
        path: PathBuf,
        /// The task.
        id: String,
        /// The heading's line.
        line: usize,
        /// What stands where the keyword should be, if it looks like one.
        word: Option<String>,
    },
    /// A property the inbox counts with does not hold a whole number (a hand edit).
    #[error(
        "{path}: task {id}: {key} is {value:?}, which is not a whole number; correct it in the file"
    )]
    InvalidNumber {
        /// The agent's task file.
        path: PathBuf,
        /// The task.
        id: String,
        /// The property, e.g. `RETRY_COUNT`.
        key: &'static str,
        /// What the file holds.
        value: String,
    },
    /// An argument that cannot be written, e.g. a quality score that is not a number.
    #[error("{field} {value} is invalid: {reason}")]
    InvalidArgument {
        /// The parameter, e.g. `quality_score`.
        field: &'static str,
        /// The rejected value, as text.
        value: String,
        /// What is expected instead.
        reason: &'static str,
    },
    /// A value to be written is invalid (the error names the field).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A caller's property on a new task would overwrite one the inbox sets itself.
    #[error(
        "property {key:?} is set by the inbox and cannot be given with a new task (reserved: ID, FROM, TRUST_TIER, SUBMITTED, APPROVAL, AWAITING, EFFORT, ESTIMATED_TOKENS, ESTIMATED_COST, CREATED, PRIORITY and the properties of later transitions); give it another name"
    )]
    ReservedProperty {
        /// The key as given.
        key: String,
    },
    /// Reading, locking or writing the task file failed.
    #[error(transparent)]
    Org(#[from] OrgError),
}

impl InboxError {
    /// The state the task was found in, for [`InboxError::WrongState`] with a task keyword.
    pub fn found_state(&self) -> Option<TaskState> {
        match self {
            InboxError::WrongState { keyword, .. } => {
                keyword.as_deref().and_then(TaskState::from_keyword)
            }
            _ => None,
        }
    }
}

/// `it is WAITING, but claim needs QUEUED; from WAITING you can approve (→ QUEUED) or reject
/// (→ CANCELLED)`.
fn wrong_state(operation: Operation, keyword: Option<&str>) -> String {
    let needs = operation
        .from_states()
        .iter()
        .map(|s| s.keyword())
        .collect::<Vec<_>>()
        .join(" or ");
    let Some(keyword) = keyword else {
        return format!(
            "it has no task keyword, but {operation} needs {needs}; give its heading a state first"
        );
    };
    let Some(state) = TaskState::from_keyword(keyword) else {
        return format!(
            "it is {keyword}, which is not a task state, but {operation} needs {needs}; task states are TODO, WAITING, QUEUED, WORKING, DONE, CANCELLED and ARCHIVED"
        );
    };
    let allowed: Vec<String> = state
        .operations()
        .into_iter()
        .map(|op| format!("{op} (→ {})", op.to_state()))
        .collect();
    let next = match allowed.as_slice() {
        [] if state.is_final() => format!("{state} is final, no operation leaves it"),
        [] => format!("no operation starts from {state}; move it to another state in Emacs"),
        [only] => format!("from {state} you can {only}"),
        [rest @ .., last] => format!("from {state} you can {} or {last}", rest.join(", ")),
    };
    format!("it is {state}, but {operation} needs {needs}; {next}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(operation: Operation, keyword: Option<&str>) -> String {
        InboxError::WrongState {
            id: "task-1".into(),
            operation,
            keyword: keyword.map(str::to_owned),
        }
        .to_string()
    }

    #[test]
    fn a_wrong_state_says_the_task_its_state_and_the_way_on() {
        assert_eq!(
            message(Operation::Claim, Some("WAITING")),
            "cannot claim task task-1: it is WAITING, but claim needs QUEUED; from WAITING you can approve (→ QUEUED) or reject (→ CANCELLED)"
        );
        assert_eq!(
            message(Operation::Approve, Some("WORKING")),
            "cannot approve task task-1: it is WORKING, but approve needs WAITING; from WORKING you can complete (→ DONE), retry (→ QUEUED) or cancel (→ CANCELLED)"
        );
        assert_eq!(
            message(Operation::Cancel, Some("ARCHIVED")),
            "cannot cancel task task-1: it is ARCHIVED, but cancel needs QUEUED or WORKING; ARCHIVED is final, no operation leaves it"
        );
        assert_eq!(
            message(Operation::Claim, Some("TODO")),
            "cannot claim task task-1: it is TODO, but claim needs QUEUED; no operation starts from TODO; move it to another state in Emacs"
        );
        assert!(message(Operation::Claim, None).contains("it has no task keyword"));
        assert!(
            message(Operation::Claim, Some("NEXT")).contains("NEXT, which is not a task state")
        );
    }
}
