//! The behaviours of the Python original's 20 inbox tests (reference §9.3,
//! `tests/test_agent_inbox.py`), in its order. Where the original only looked at the
//! in-memory node, these also read the file back through a second `AgentInbox`, as another
//! process would.

use msg_core::validate::ValidationError;
use msg_inbox::{AgentInbox, InboxError, Operation, TaskState};

use crate::Root;

const AGENT: &str = "test-claude";

fn setup() -> (Root, AgentInbox) {
    let root = Root::new();
    let inbox = root.inbox(AGENT);
    (root, inbox)
}

/// The task as another process reads it from the file.
fn reread(root: &Root, id: &str) -> msg_inbox::Task {
    root.inbox(AGENT).find_by_id(id).unwrap().unwrap()
}

// TestTaskCreation

#[test]
fn t01_owner_task_is_queued_and_auto_accepted() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task(
            "gregor",
            "Research competitors",
            "owner",
            &["AI"],
            None,
            None,
        )
        .unwrap();
    assert_eq!(task.state(), TaskState::Queued);
    assert_eq!(task.from(), Some("gregor"));
    assert_eq!(task.trust_tier(), Some("owner"));
    assert_eq!(task.property("APPROVAL"), Some("auto_accepted"));
    assert_eq!(reread(&root, task.id()), task);
}

#[test]
fn t02_unknown_task_waits_for_the_owner() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task(
            "stranger@x.com",
            "Do something",
            "unknown",
            &["AI"],
            None,
            None,
        )
        .unwrap();
    assert_eq!(task.state(), TaskState::Waiting);
    assert_eq!(task.property("AWAITING"), Some("owner-approval"));
    assert_eq!(task.property("APPROVAL"), None);
    assert_eq!(reread(&root, task.id()), task);
}

#[test]
fn t03_team_task_is_auto_accepted() {
    let (_root, inbox) = setup();
    let task = inbox
        .create_task(
            "tex@team.example.com",
            "Review PR",
            "team",
            &["AI"],
            None,
            None,
        )
        .unwrap();
    assert_eq!(task.state(), TaskState::Queued);
}

// TestTaskLifecycle

#[test]
fn t04_approve_moves_waiting_to_queued() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("stranger@x.com", "Task", "unknown", &["AI"], None, None)
        .unwrap();
    let approved = inbox.approve(task.id()).unwrap();
    assert_eq!(approved.state(), TaskState::Queued);
    assert_eq!(reread(&root, task.id()).state(), TaskState::Queued);
}

#[test]
fn t05_reject_moves_waiting_to_cancelled() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("stranger@x.com", "Task", "unknown", &["AI"], None, None)
        .unwrap();
    let rejected = inbox.reject(task.id(), "Not relevant").unwrap();
    assert_eq!(rejected.state(), TaskState::Cancelled);
    assert_eq!(rejected.property("REJECTION_REASON"), Some("Not relevant"));
    assert_eq!(reread(&root, task.id()), rejected);
}

#[test]
fn t06_claim_then_complete() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    let claimed = inbox.claim(task.id()).unwrap();
    assert_eq!(claimed.state(), TaskState::Working);
    assert!(!claimed.property("STARTED").unwrap().is_empty());
    let done = inbox
        .complete(
            task.id(),
            Some(5000),
            "$0.08",
            "0-inbox/result.md",
            Some(0.85),
        )
        .unwrap();
    assert_eq!(done.state(), TaskState::Done);
    assert_eq!(done.property("TOKENS_USED"), Some("5000"));
    assert_eq!(done.property("QUALITY_SCORE"), Some("0.85"));
    assert_eq!(done.property("COST"), Some("$0.08"));
    assert_eq!(done.property("RESULT_PATH"), Some("0-inbox/result.md"));
    assert_eq!(reread(&root, task.id()), done);
}

#[test]
fn t07_request_revision_returns_done_to_queued() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    inbox.claim(task.id()).unwrap();
    inbox.complete(task.id(), Some(100), "", "", None).unwrap();
    let revised = inbox
        .request_revision(task.id(), "Needs more detail")
        .unwrap();
    assert_eq!(revised.state(), TaskState::Queued);
    assert_eq!(
        revised.property("REVISION_FEEDBACK"),
        Some("Needs more detail")
    );
    assert_eq!(reread(&root, task.id()).state(), TaskState::Queued);
}

#[test]
fn t08_cancel_a_queued_task() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    let cancelled = inbox.cancel(task.id(), "No longer needed").unwrap();
    assert_eq!(cancelled.state(), TaskState::Cancelled);
    assert_eq!(
        cancelled.property("CANCELLATION_REASON"),
        Some("No longer needed")
    );
    assert_eq!(reread(&root, task.id()), cancelled);
}

#[test]
fn t09_retry_returns_to_queued_with_reason_and_count() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    inbox.claim(task.id()).unwrap();
    let retried = inbox.retry(task.id(), "Agent crashed").unwrap();
    assert_eq!(retried.state(), TaskState::Queued);
    assert_eq!(retried.property("RETRY_REASON"), Some("Agent crashed"));
    assert_eq!(retried.property("RETRY_COUNT"), Some("1"));
    assert_eq!(reread(&root, task.id()), retried);
}

#[test]
fn t10_two_retries_count_two() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    for _ in 0..2 {
        inbox.claim(task.id()).unwrap();
        inbox.retry(task.id(), "").unwrap();
    }
    let task = reread(&root, task.id());
    assert_eq!(task.retry_count(), 2);
    assert_eq!(task.state(), TaskState::Queued);
}

#[test]
fn t11_reject_on_a_queued_task_says_it_needs_waiting() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    let before = std::fs::read(inbox.path()).unwrap();
    let err = inbox.reject(task.id(), "").unwrap_err();
    assert!(
        matches!(&err, InboxError::WrongState { operation: Operation::Reject, keyword, .. } if keyword.as_deref() == Some("QUEUED")),
        "{err:?}"
    );
    assert!(err.to_string().contains("reject needs WAITING"), "{err}");
    assert_eq!(std::fs::read(root.agent_file(AGENT)).unwrap(), before);
}

#[test]
fn t12_claim_on_a_waiting_task_says_it_needs_queued() {
    let (_root, inbox) = setup();
    let task = inbox
        .create_task("stranger@x.com", "Task", "unknown", &["AI"], None, None)
        .unwrap();
    let err = inbox.claim(task.id()).unwrap_err();
    assert_eq!(err.found_state(), Some(TaskState::Waiting));
    assert!(err.to_string().contains("claim needs QUEUED"), "{err}");
}

// TestInputValidation

#[test]
fn t13_a_newline_in_from_actor_is_rejected_by_name() {
    let (_root, inbox) = setup();
    let err = inbox
        .create_task("bad\nactor", "Task", "owner", &["AI"], None, None)
        .unwrap_err();
    assert!(
        matches!(&err, InboxError::Invalid(ValidationError::LineBreak { field, .. }) if field == "from_actor"),
        "{err:?}"
    );
    assert!(err.to_string().contains("from_actor"), "{err}");
    assert_eq!(inbox.counts().unwrap().total, 0);
}

#[test]
fn t14_a_newline_in_trust_tier_is_rejected_by_name() {
    let (_root, inbox) = setup();
    let err = inbox
        .create_task("gregor", "Task", "own\ner", &["AI"], None, None)
        .unwrap_err();
    assert!(err.to_string().contains("trust_tier"), "{err}");
    assert_eq!(inbox.counts().unwrap().total, 0);
}

#[test]
fn t15_a_newline_in_content_makes_a_heading_and_a_body() {
    let (root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Line1\nLine2", "owner", &["AI"], None, None)
        .unwrap();
    assert_eq!(task.state(), TaskState::Queued);
    // Unlike the original, the tags survive and the second line is body, not a stray line.
    assert_eq!((task.title(), task.body()), ("Line1", "Line2"));
    assert_eq!(task.tags(), ["AI"]);
    assert_eq!(reread(&root, task.id()), task);
}

// TestFindById

#[test]
fn t16_find_by_id_finds_a_created_task() {
    let (_root, inbox) = setup();
    let task = inbox
        .create_task("gregor", "Task", "owner", &["AI"], None, None)
        .unwrap();
    assert!(task.id().starts_with("task-"), "{}", task.id());
    assert_eq!(inbox.find_by_id(task.id()).unwrap().unwrap(), task);
}

#[test]
fn t17_find_by_id_of_an_unknown_id_is_none() {
    let (_root, inbox) = setup();
    assert_eq!(inbox.find_by_id("nonexistent-id-xyz").unwrap(), None);
}

// TestQueries

#[test]
fn t18_find_by_state() {
    let (_root, inbox) = setup();
    for content in ["Task 1", "Task 2"] {
        inbox
            .create_task("gregor", content, "owner", &["AI"], None, None)
            .unwrap();
    }
    let queued = inbox.find_by_state(&[TaskState::Queued]).unwrap();
    let titles: Vec<&str> = queued.iter().map(|t| t.title()).collect();
    assert_eq!(titles, ["Task 1", "Task 2"]);
}

#[test]
fn t19_find_awaiting_approval() {
    let (_root, inbox) = setup();
    inbox
        .create_task("a@x.com", "Task 1", "unknown", &["AI"], None, None)
        .unwrap();
    inbox
        .create_task("b@x.com", "Task 2", "trusted", &["AI"], None, None)
        .unwrap();
    assert_eq!(inbox.find_awaiting_approval().unwrap().len(), 2);
}

#[test]
fn t20_counts() {
    let (_root, inbox) = setup();
    inbox
        .create_task("gregor", "Task 1", "owner", &["AI"], None, None)
        .unwrap();
    inbox
        .create_task("x@y.com", "Task 2", "unknown", &["AI"], None, None)
        .unwrap();
    let counts = inbox.counts().unwrap();
    assert_eq!((counts.queued, counts.waiting, counts.total), (1, 1, 2));
    assert_eq!(
        (
            counts.working,
            counts.done,
            counts.cancelled,
            counts.archived
        ),
        (0, 0, 0, 0)
    );
}
