//! The task states and the operations that move a task between them (DESIGN.md §5).
//!
//! The states are the TODO keywords of an agent's task file, declared by its header
//! `#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED`. The operations are the
//! edges of the state machine; [`Operation::from_states`] is the whole transition table, so
//! the precondition checks and the error messages cannot disagree with it.

use std::fmt;

/// The header line value that declares the task states, done states right of `|`.
pub const TASK_KEYWORDS: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";

/// The state of a task: the TODO keyword of its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// `TODO`: declared for compatibility with the message files; no operation uses it.
    Todo,
    /// `WAITING`: awaiting the owner's approval.
    Waiting,
    /// `QUEUED`: accepted, waiting for the agent.
    Queued,
    /// `WORKING`: claimed by the agent.
    Working,
    /// `DONE`: finished, awaiting the owner's review (it can still be revised).
    Done,
    /// `CANCELLED`: rejected or cancelled. Final.
    Cancelled,
    /// `ARCHIVED`: result accepted. Final.
    Archived,
}

impl TaskState {
    /// Every state, in the order of the header.
    pub const ALL: [TaskState; 7] = [
        TaskState::Todo,
        TaskState::Waiting,
        TaskState::Queued,
        TaskState::Working,
        TaskState::Done,
        TaskState::Cancelled,
        TaskState::Archived,
    ];

    /// The keyword written in the file, e.g. `QUEUED`.
    pub fn keyword(self) -> &'static str {
        match self {
            TaskState::Todo => "TODO",
            TaskState::Waiting => "WAITING",
            TaskState::Queued => "QUEUED",
            TaskState::Working => "WORKING",
            TaskState::Done => "DONE",
            TaskState::Cancelled => "CANCELLED",
            TaskState::Archived => "ARCHIVED",
        }
    }

    /// The state a keyword names (case-sensitive, as in Org); `None` for any other word.
    pub fn from_keyword(keyword: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|s| s.keyword() == keyword)
    }

    /// The operations that start from this state, in the order of [`Operation::ALL`].
    pub fn operations(self) -> Vec<Operation> {
        Operation::ALL
            .into_iter()
            .filter(|op| op.from_states().contains(&self))
            .collect()
    }

    /// Whether no operation leaves this state (`CANCELLED`, `ARCHIVED`).
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Cancelled | TaskState::Archived)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// An operation on one task: an edge of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `WAITING → QUEUED`: the owner approves.
    Approve,
    /// `WAITING → CANCELLED`: the owner rejects.
    Reject,
    /// `QUEUED | WORKING → CANCELLED`: the owner cancels.
    Cancel,
    /// `QUEUED → WORKING`: the agent claims.
    Claim,
    /// `WORKING → DONE`: the agent finished.
    Complete,
    /// `WORKING → QUEUED`: the attempt failed (or went stale); try again.
    Retry,
    /// `DONE → ARCHIVED`: the owner accepts the result.
    Accept,
    /// `DONE → QUEUED`: the owner asks for a revision.
    RequestRevision,
}

impl Operation {
    /// Every operation, in the order of the lifecycle.
    pub const ALL: [Operation; 8] = [
        Operation::Approve,
        Operation::Reject,
        Operation::Claim,
        Operation::Complete,
        Operation::Retry,
        Operation::Cancel,
        Operation::Accept,
        Operation::RequestRevision,
    ];

    /// The operation as people call it, the word of `msg task …` and `task-queue …`:
    /// `approve`, …, and `revise` for [`AgentInbox::request_revision`](crate::AgentInbox::request_revision).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Approve => "approve",
            Operation::Reject => "reject",
            Operation::Cancel => "cancel",
            Operation::Claim => "claim",
            Operation::Complete => "complete",
            Operation::Retry => "retry",
            Operation::Accept => "accept",
            Operation::RequestRevision => "revise",
        }
    }

    /// The states the operation starts from.
    pub fn from_states(self) -> &'static [TaskState] {
        match self {
            Operation::Approve | Operation::Reject => &[TaskState::Waiting],
            Operation::Cancel => &[TaskState::Queued, TaskState::Working],
            Operation::Claim => &[TaskState::Queued],
            Operation::Complete | Operation::Retry => &[TaskState::Working],
            Operation::Accept | Operation::RequestRevision => &[TaskState::Done],
        }
    }

    /// The state the operation ends in.
    pub fn to_state(self) -> TaskState {
        match self {
            Operation::Approve | Operation::Retry | Operation::RequestRevision => TaskState::Queued,
            Operation::Reject | Operation::Cancel => TaskState::Cancelled,
            Operation::Claim => TaskState::Working,
            Operation::Complete => TaskState::Done,
            Operation::Accept => TaskState::Archived,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_design_section_5() {
        let edges: Vec<(TaskState, Vec<(Operation, TaskState)>)> = TaskState::ALL
            .into_iter()
            .map(|s| {
                let ops = s.operations();
                (s, ops.into_iter().map(|op| (op, op.to_state())).collect())
            })
            .collect();
        use Operation::*;
        use TaskState::*;
        assert_eq!(
            edges,
            [
                (Todo, vec![]),
                (Waiting, vec![(Approve, Queued), (Reject, Cancelled)]),
                (Queued, vec![(Claim, Working), (Cancel, Cancelled)]),
                (
                    Working,
                    vec![(Complete, Done), (Retry, Queued), (Cancel, Cancelled)]
                ),
                (Done, vec![(Accept, Archived), (RequestRevision, Queued)]),
                (Cancelled, vec![]),
                (Archived, vec![]),
            ]
        );
        for state in TaskState::ALL {
            assert_eq!(TaskState::from_keyword(state.keyword()), Some(state));
            assert_eq!(
                state.is_final(),
                state.operations().is_empty() && state != Todo
            );
        }
        assert_eq!(TaskState::from_keyword("queued"), None);
    }

    #[test]
    fn the_header_declares_every_state_with_the_done_ones_right_of_the_bar() {
        let (todo, done) = TASK_KEYWORDS.split_once(" | ").unwrap();
        let words: Vec<&str> = todo.split(' ').chain(done.split(' ')).collect();
        let keywords: Vec<&str> = TaskState::ALL.iter().map(|s| s.keyword()).collect();
        assert_eq!(words, keywords);
        assert_eq!(done, "DONE CANCELLED ARCHIVED");
    }
}
