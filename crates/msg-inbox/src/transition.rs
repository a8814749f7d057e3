//! One transition: the arguments of an operation, checked before any lock is taken, and the
//! property changes it makes, computed from the task as the file has it inside the lock.
//!
//! The keyword change itself (with `CLOSED:` and the LOGBOOK line) is the engine's
//! `set_keyword`; this module says which properties change with it, in the order they are
//! written.

use msg_core::validate::{self, ValidationError};

use crate::cost::two_decimals;
use crate::error::InboxError;
use crate::property;
use crate::state::Operation;
use crate::task::Task;

/// An operation with its arguments: one transition of one task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transition<'a> {
    Approve,
    Reject {
        reason: &'a str,
    },
    Cancel {
        reason: &'a str,
    },
    Claim,
    Complete {
        tokens_used: Option<u64>,
        cost: &'a str,
        result_path: &'a str,
        quality_score: Option<f64>,
    },
    Retry {
        reason: &'a str,
    },
    Accept,
    RequestRevision {
        feedback: &'a str,
    },
}

/// One property change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Set(String, String),
    Remove(&'static str),
}

fn set(key: impl Into<String>, value: impl Into<String>) -> Change {
    Change::Set(key.into(), value.into())
}

/// A counter property holds something that is not a whole number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadCount {
    pub(crate) key: &'static str,
    pub(crate) value: String,
}

impl Transition<'_> {
    pub(crate) fn operation(&self) -> Operation {
        match self {
            Transition::Approve => Operation::Approve,
            Transition::Reject { .. } => Operation::Reject,
            Transition::Cancel { .. } => Operation::Cancel,
            Transition::Claim => Operation::Claim,
            Transition::Complete { .. } => Operation::Complete,
            Transition::Retry { .. } => Operation::Retry,
            Transition::Accept => Operation::Accept,
            Transition::RequestRevision { .. } => Operation::RequestRevision,
        }
    }

    /// Checks the arguments: free text must stay one line without control characters, a
    /// quality score must be a finite number.
    pub(crate) fn validate(&self) -> Result<(), InboxError> {
        match self {
            Transition::Reject { reason }
            | Transition::Cancel { reason }
            | Transition::Retry { reason } => text("reason", reason)?,
            Transition::RequestRevision { feedback } => text("feedback", feedback)?,
            Transition::Complete {
                cost,
                result_path,
                quality_score,
                ..
            } => {
                text("cost", cost)?;
                text("result_path", result_path)?;
                if let Some(score) = quality_score
                    && !score.is_finite()
                {
                    return Err(InboxError::InvalidArgument {
                        field: "quality_score",
                        value: score.to_string(),
                        reason: "it must be a finite number such as 0.85",
                    });
                }
            }
            Transition::Approve | Transition::Claim | Transition::Accept => {}
        }
        Ok(())
    }

    /// The property changes for `task` (as read under the lock) at timestamp `stamp`.
    pub(crate) fn changes(&self, task: &Task, stamp: &str) -> Result<Vec<Change>, BadCount> {
        let count = |key: &'static str| task.count(key).map_err(|value| BadCount { key, value });
        let mut changes = Vec::new();
        // A task a person approved in Emacs (WAITING → QUEUED by hand) still says it awaits
        // approval; the first operation after that records the approval as `approve` would
        // have (the task counts as approved from the moment it is QUEUED: see
        // `Task::is_awaiting_approval`).
        if !matches!(self, Transition::Approve | Transition::Reject { .. })
            && task.property(property::AWAITING).is_some()
        {
            changes.push(set(property::APPROVAL, property::OWNER_APPROVED));
            changes.push(Change::Remove(property::AWAITING));
        }
        match self {
            Transition::Approve => {
                changes.push(set(property::APPROVAL, property::OWNER_APPROVED));
                changes.push(Change::Remove(property::AWAITING));
            }
            Transition::Reject { reason } => {
                if !reason.is_empty() {
                    changes.push(set(property::REJECTION_REASON, *reason));
                }
            }
            Transition::Cancel { reason } => {
                if !reason.is_empty() {
                    changes.push(set(property::CANCELLATION_REASON, *reason));
                }
            }
            Transition::Claim => changes.push(set(property::STARTED, stamp)),
            Transition::Complete {
                tokens_used,
                cost,
                result_path,
                quality_score,
            } => {
                // The result fields describe the latest completion only: one that a
                // revision's completion does not report is removed, not left from before.
                changes.push(set(property::COMPLETED, stamp));
                let mut result = |key: &'static str, value: Option<String>| {
                    changes.push(match value {
                        Some(value) => set(key, value),
                        None => Change::Remove(key),
                    })
                };
                result(property::TOKENS_USED, tokens_used.map(|t| t.to_string()));
                result(property::COST, non_empty(cost));
                result(property::RESULT_PATH, non_empty(result_path));
                result(property::QUALITY_SCORE, quality_score.map(two_decimals));
            }
            Transition::Retry { reason } => {
                let retries = count(property::RETRY_COUNT)? + 1;
                changes.push(set(property::RETRY_COUNT, retries.to_string()));
                if !reason.is_empty() {
                    changes.push(set(property::RETRY_REASON, *reason));
                }
            }
            Transition::Accept => {}
            Transition::RequestRevision { feedback } => {
                let previous = count(property::REVISION_COUNT)?;
                // A task revised by the Python original has its one feedback only in
                // REVISION_FEEDBACK; keep it as the first entry of the history.
                if task.property(property::REVISION_COUNT).is_none()
                    && let Some(legacy) = task.property(property::REVISION_FEEDBACK)
                    && task.property(&property::revision_feedback(1)).is_none()
                {
                    changes.push(set(property::revision_feedback(1), legacy));
                }
                let revision = previous + 1;
                changes.push(set(property::REVISION_COUNT, revision.to_string()));
                if !feedback.is_empty() {
                    changes.push(set(property::revision_feedback(revision), *feedback));
                    changes.push(set(property::REVISION_FEEDBACK, *feedback));
                }
            }
        }
        Ok(changes)
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A free-text argument: one line, no control characters except tab.
fn text(field: &str, value: &str) -> Result<(), ValidationError> {
    validate::property_value(field, value)?;
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ValidationError::ControlCharacter {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}
