//! Task files written by the Python original (`fixtures/python-v0.2.0/`) and then edited by a
//! person in Emacs (`fixtures/emacs/agent-edited-in-emacs.org`): every task reads with its
//! true state, including the ones the person moved by hand, and every operation changes its
//! own entry and not one byte elsewhere.

use std::fs;

use msg_core::config::Settings;
use msg_inbox::{AgentInbox, InboxError, Task, TaskState};

use crate::{Root, SPACE, TestClock, assert_only_entry_changed, python_root, scan};

const AGENT: &str = "gregor-claude";
const EMACS_FIXTURE: &str = "emacs/agent-edited-in-emacs.org";

const RESEARCH: &str = "org-20261124-070853-3e136109";
const ODD: &str = "org-20261124-070853-7025823a";
const DRAFT: &str = "org-20261124-070853-ef173c07";
const SUMMARISE: &str = "org-20261124-070853-adc87158";
const REFACTOR: &str = "org-20261124-070853-687a1253";
const RELEASE_NOTES: &str = "org-20261124-070853-36392fa8";
const TRANSLATE: &str = "org-20261124-070853-eb12d258";

/// The inbox on a copy of the original's root, with its settings, at 2026-11-24 10:02.
fn python_inbox() -> (Root, AgentInbox) {
    let root = python_root();
    let settings = Settings::load(root.path()).unwrap();
    let inbox = AgentInbox::open(&root.paths(), SPACE, AGENT, &settings).unwrap();
    let inbox = TestClock::new().drive(inbox);
    (root, inbox)
}

/// The inbox on a copy of the Emacs-edited file, at 2026-11-24 10:02.
fn emacs_inbox() -> (Root, AgentInbox) {
    let root = Root::new().with_agent_fixture(EMACS_FIXTURE, AGENT);
    let inbox = TestClock::new().drive(root.inbox(AGENT));
    (root, inbox)
}

fn states(inbox: &AgentInbox) -> Vec<(String, TaskState)> {
    inbox
        .tasks()
        .unwrap()
        .into_iter()
        .map(|t| (t.id().to_owned(), t.state()))
        .collect()
}

fn expect(pairs: &[(&str, TaskState)]) -> Vec<(String, TaskState)> {
    pairs.iter().map(|(id, s)| ((*id).to_owned(), *s)).collect()
}

/// Runs `operation` on the task `id` and checks that only its entry changed.
fn step(
    inbox: &AgentInbox,
    id: &str,
    operation: impl FnOnce() -> Result<Task, InboxError>,
) -> Task {
    let before = fs::read(inbox.path()).unwrap();
    let task = operation().unwrap();
    assert_eq!(task.id(), id);
    assert_only_entry_changed(&before, &fs::read(inbox.path()).unwrap(), id);
    task
}

/// Runs `operation`, expects it to be refused for the task's state, and checks that the
/// file did not change.
fn refused(inbox: &AgentInbox, operation: impl FnOnce() -> Result<Task, InboxError>) -> InboxError {
    let before = fs::read(inbox.path()).unwrap();
    let err = operation().unwrap_err();
    assert!(matches!(err, InboxError::WrongState { .. }), "{err:?}");
    assert_eq!(fs::read(inbox.path()).unwrap(), before);
    err
}

#[test]
fn python_tasks_read_with_the_originals_meaning() {
    let (_root, inbox) = python_inbox();
    use TaskState::*;
    assert_eq!(
        states(&inbox),
        expect(&[
            (RESEARCH, Done),
            (ODD, Cancelled),
            (DRAFT, Waiting),
            (SUMMARISE, Queued),
            (REFACTOR, Working),
            (RELEASE_NOTES, Queued),
            (TRANSLATE, Cancelled),
        ])
    );
    let counts = inbox.counts().unwrap();
    assert_eq!(
        [
            counts.done,
            counts.cancelled,
            counts.waiting,
            counts.queued,
            counts.working,
            counts.archived,
            counts.total
        ],
        [1, 2, 1, 2, 1, 0, 7]
    );
    let awaiting: Vec<String> = inbox
        .find_awaiting_approval()
        .unwrap()
        .iter()
        .map(|t| t.id().to_owned())
        .collect();
    assert_eq!(awaiting, [DRAFT]);
    let research = inbox.find_by_id(RESEARCH).unwrap().unwrap();
    assert_eq!(research.title(), "Research competitor pricing");
    assert_eq!(research.tags(), ["AI", "research"]);
    assert_eq!(research.retry_count(), 1);
    assert_eq!(research.from(), Some("gregor"));
    assert_eq!(research.property("QUALITY_SCORE"), Some("0.87"));
    let notes = inbox.find_by_id(RELEASE_NOTES).unwrap().unwrap();
    assert_eq!(notes.revision_count(), 1);
    assert_eq!(notes.revision_feedback(), ["Mention the relay fix"]);
    let odd = inbox.find_by_id(ODD).unwrap().unwrap();
    assert_eq!(odd.closed(), Some("[2026-11-24 Tue 07:08]"));
}

#[test]
fn emacs_edited_tasks_read_with_the_state_the_person_gave_them() {
    let (_root, inbox) = emacs_inbox();
    use TaskState::*;
    assert_eq!(
        states(&inbox),
        expect(&[
            (RESEARCH, Archived), // accepted in Emacs (no CLOSED line added by hand)
            (ODD, Cancelled),
            (DRAFT, Queued),   // approved in Emacs: AWAITING is still there
            (SUMMARISE, Done), // completed in Emacs, with CLOSED and a LOGBOOK
            (REFACTOR, Working),
            (RELEASE_NOTES, Queued),
            (TRANSLATE, Cancelled),
        ])
    );
    assert!(inbox.find_awaiting_approval().unwrap().is_empty());
    let draft = inbox.find_by_id(DRAFT).unwrap().unwrap();
    assert_eq!(
        draft.tags(),
        ["AI", "content"],
        "aligned tags read the same"
    );
    assert_eq!(draft.property("AWAITING"), Some("owner-approval"));
    let summarise = inbox.find_by_id(SUMMARISE).unwrap().unwrap();
    assert_eq!(summarise.closed(), Some("[2026-11-24 Tue 07:09]"));
    assert_eq!(summarise.body(), "", "the LOGBOOK is not body text");
    let counts = inbox.counts().unwrap();
    assert_eq!((counts.archived, counts.done, counts.total), (1, 1, 7));
}

#[test]
fn operations_on_the_python_file_change_only_their_entry() {
    let (_root, inbox) = python_inbox();
    let header = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";
    refused(&inbox, || inbox.reject(ODD, "again"));
    refused(&inbox, || inbox.claim(DRAFT));

    step(&inbox, DRAFT, || inbox.approve(DRAFT));
    // Team tasks outrank the approved trusted one; equal age, so file order.
    let claimed = step(&inbox, SUMMARISE, || Ok(inbox.claim_next()?.unwrap()));
    assert_eq!(claimed.trust_tier(), Some("team"));
    step(&inbox, REFACTOR, || {
        inbox.complete(REFACTOR, Some(8000), "$0.12", "0-inbox/relay.md", Some(0.9))
    });
    step(&inbox, RESEARCH, || {
        inbox.request_revision(RESEARCH, "Add 2027 prices")
    });
    step(&inbox, RELEASE_NOTES, || inbox.claim(RELEASE_NOTES));
    step(&inbox, RELEASE_NOTES, || {
        inbox.complete(RELEASE_NOTES, None, "", "", None)
    });
    let notes = step(&inbox, RELEASE_NOTES, || {
        inbox.request_revision(RELEASE_NOTES, "Also the changelog")
    });
    assert_eq!(notes.revision_count(), 2);
    assert_eq!(
        notes.revision_feedback(),
        ["Mention the relay fix", "Also the changelog"],
        "the original's feedback becomes the first entry of the history"
    );
    step(&inbox, DRAFT, || inbox.cancel(DRAFT, "Not this quarter"));
    step(&inbox, SUMMARISE, || {
        inbox.complete(SUMMARISE, Some(900), "", "", None)
    });
    step(&inbox, SUMMARISE, || inbox.accept(SUMMARISE));
    step(&inbox, REFACTOR, || inbox.accept(REFACTOR));

    use TaskState::*;
    assert_eq!(
        states(&inbox),
        expect(&[
            (RESEARCH, Queued),
            (ODD, Cancelled),
            (DRAFT, Cancelled),
            (SUMMARISE, Archived),
            (REFACTOR, Archived),
            (RELEASE_NOTES, Queued),
            (TRANSLATE, Cancelled),
        ])
    );
    let text = fs::read_to_string(inbox.path()).unwrap();
    assert!(text.starts_with(header));
    assert_eq!(text.matches("#+TODO").count(), 1);
    assert!(scan(inbox.path()).duplicate_ids().is_empty());
}

#[test]
fn operations_on_the_emacs_file_change_only_their_entry() {
    let (_root, inbox) = emacs_inbox();
    let err = refused(&inbox, || inbox.approve(DRAFT));
    assert!(err.to_string().contains("it is QUEUED"), "{err}");
    let err = refused(&inbox, || inbox.accept(RESEARCH));
    assert!(err.to_string().contains("ARCHIVED is final"), "{err}");

    // Refactor has been WORKING since 07:08; at 10:02 it is long past the 30 minutes.
    let stale: Vec<String> = inbox
        .stale_tasks()
        .unwrap()
        .iter()
        .map(|t| t.id().to_owned())
        .collect();
    assert_eq!(stale, [REFACTOR]);
    let before = fs::read(inbox.path()).unwrap();
    let requeued = inbox.requeue_stale().unwrap();
    assert_only_entry_changed(&before, &fs::read(inbox.path()).unwrap(), REFACTOR);
    assert_eq!(requeued.len(), 1);
    assert_eq!(requeued[0].retry_count(), 1);

    // The owner's re-queued task first, then team, then the one approved in Emacs.
    let order: Vec<String> = (0..3)
        .map(|_| {
            let before = fs::read(inbox.path()).unwrap();
            let task = inbox.claim_next().unwrap().unwrap();
            assert_only_entry_changed(&before, &fs::read(inbox.path()).unwrap(), task.id());
            task.id().to_owned()
        })
        .collect();
    assert_eq!(order, [REFACTOR, RELEASE_NOTES, DRAFT]);
    assert_eq!(inbox.claim_next().unwrap(), None);

    let revised = step(&inbox, SUMMARISE, || {
        inbox.request_revision(SUMMARISE, "Include the action items")
    });
    assert_eq!(revised.closed(), None);
    let doc = scan(inbox.path());
    let entry = doc.find_by_id(SUMMARISE).unwrap().unwrap();
    assert_eq!(
        entry.logbook().as_deref(),
        Some(
            "- State \"QUEUED\"     from \"DONE\"       [2026-11-24 Tue 10:02]\n\
             - State \"DONE\"       from \"WORKING\"    [2026-11-24 Tue 07:09]\n\
             - State \"WORKING\"    from \"QUEUED\"     [2026-11-24 Tue 07:09]\n"
        ),
        "the new line goes on top, with the drawer's own (zero) indentation"
    );
}
