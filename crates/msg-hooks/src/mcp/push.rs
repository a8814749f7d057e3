//! Push: new work for the agent, told to its session as it arrives.
//!
//! [`Watch::run`] blocks on file notifications for the messaging directory and `agents/`
//! ([`FileWatch`]: inotify, FSEvents or kqueue; no polling), and after each change makes a
//! round ([`Pusher::round`]):
//!
//! 1. task intake, when an unread message is addressed to the agent (as the hook does), so
//!    the message is told as the task it became;
//! 2. what is there for the agent now: QUEUED tasks (new, approved, or back for a
//!    revision), tasks WAITING for the owner's approval, and unread messages to it that
//!    intake left (it failed, or they are not for intake);
//! 3. each item not there when the server started ([`Watch::new`], before the handshake:
//!    what was there is the SessionStart hook's to show) and not pushed before by a server of this agent ([`super::pushed`]) is
//!    remembered, then becomes a [`Push`] handed to the caller's `send`: at most once.
//!
//! A round's first [`MAX_PUSHES`] items go one by one; the rest as one line saying how
//! many more arrived.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use msg_core::durable::FileLock;
use msg_inbox::{Task, TaskState};
use msg_store::Message;

use super::door::Door;
use super::pushed::{Pushed, record_file};
use super::text::framed;
use crate::desk::arrivals::{FileWatch, watched_dirs};
use crate::desk::intake;
use crate::desk::messages::clip;
use crate::error::HooksError;
use crate::hook::untrusted::Boundary;
use crate::record::Record as _;

/// The most items pushed one by one in a round; more are summed up in one push.
pub(crate) const MAX_PUSHES: usize = 5;
/// The most of a task's or message's text a push carries; `read` shows the rest.
const PUSH_TEXT_CHARS: usize = 1_000;
/// How long a round waits for another server of the same agent to finish its round.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// One channel notification: the text for the model and the attributes Claude Code shows
/// with it (`<channel source="msg" kind="task" id="…">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Push {
    /// The text.
    pub(crate) content: String,
    /// `kind` (`task`, `revision`, `approval`, `message`, `more`), `id`, `from`, `tier`.
    pub(crate) meta: Vec<(&'static str, String)>,
}

/// What a round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// This many pushes were sent.
    Pushed(usize),
    /// `send` said the client is gone.
    ClientGone,
}

/// What is there for the agent now.
struct Snapshot {
    /// Each item with its key, in order: tasks, then messages.
    items: Vec<(String, Item)>,
    /// The IDs of the open tasks and unread messages (what the record keeps keys of).
    open: HashSet<String>,
}

/// One thing the agent may hear of.
enum Item {
    Queued(Task),
    Waiting(Task),
    Message(Message),
}

/// The rounds of one server.
pub(crate) struct Pusher {
    door: Door,
    record: PathBuf,
    /// The keys that were there when the server started.
    known: HashSet<String>,
}

impl Pusher {
    /// Starts remembering: what is there now is known, not pushed (intake runs first).
    pub(crate) fn start(door: Door) -> Result<Pusher, HooksError> {
        let record = record_file(
            &door.ctx().paths().governor_state_dir(),
            door.ctx().space(),
            door.agent(),
        );
        let mut pusher = Pusher {
            door,
            record,
            known: HashSet::new(),
        };
        let (snapshot, _) = pusher.snapshot()?;
        pusher.known = snapshot.items.into_iter().map(|(key, _)| key).collect();
        Ok(pusher)
    }

    /// One round: intake, then each new item to `send` (which returns whether the client
    /// still listens). Warnings (an unreadable record, a failed intake) go to `warn`.
    ///
    /// The items are remembered before they are sent, under the record's lock, so no item
    /// is ever pushed twice, whichever servers run; a session that ends in the middle of a
    /// round does not get the rest (the hooks still show them).
    pub(crate) fn round(
        &mut self,
        send: &mut dyn FnMut(&Push) -> bool,
        warn: &mut dyn FnMut(String),
    ) -> Result<Round, HooksError> {
        let pushes = {
            // Held while deciding and remembering: one step across servers.
            let _lock = FileLock::exclusive(&self.record, LOCK_TIMEOUT)?;
            let (mut pushed, warning) = Pushed::load(&self.record)?;
            warning.into_iter().for_each(&mut *warn);
            let (snapshot, warning) = self.snapshot()?;
            warning.into_iter().for_each(&mut *warn);
            let fresh: Vec<&(String, Item)> = snapshot
                .items
                .iter()
                .filter(|(key, _)| !self.known.contains(key) && !pushed.contains(key))
                .collect();
            let boundary = Boundary::random();
            let (singles, rest) = fresh.split_at(fresh.len().min(MAX_PUSHES));
            let mut pushes: Vec<Push> = singles
                .iter()
                .map(|(_, item)| self.push_of(item, &boundary))
                .collect();
            if !rest.is_empty() {
                // One push stands for all the rest.
                pushes.push(more(rest.len()));
            }
            fresh.iter().for_each(|(key, _)| pushed.insert(key));
            pushed.keep_open(&snapshot.open);
            pushed.save(&self.record)?;
            pushes
        };
        for push in &pushes {
            if !send(push) {
                return Ok(Round::ClientGone);
            }
        }
        Ok(Round::Pushed(pushes.len()))
    }

    /// Intake for the agent, then what is there for it; a failed intake is a warning (the
    /// messages it left are told as messages).
    fn snapshot(&self) -> Result<(Snapshot, Option<String>), HooksError> {
        let ctx = self.door.ctx();
        let agent = self.door.agent();
        let mut warning = None;
        let mut unread = match ctx.existing_store()? {
            Some(store) => store.unread()?,
            None => Vec::new(),
        };
        if intake::any_for(&unread, agent) {
            let mine: Vec<Message> = unread
                .iter()
                .filter(|m| m.to.as_deref() == Some(agent))
                .cloned()
                .collect();
            if let Err(err) = intake::run_on(ctx, &mine) {
                warning = Some(format!("task intake: {err}"));
            }
            unread = ctx.store()?.unread()?;
        }
        let tasks = match ctx.existing_agent_inbox(Some(agent))? {
            Some(inbox) => {
                inbox.find_by_state(&[TaskState::Waiting, TaskState::Queued, TaskState::Working])?
            }
            None => Vec::new(),
        };
        let mut snapshot = Snapshot {
            items: Vec::new(),
            open: tasks.iter().map(|t| t.id().to_owned()).collect(),
        };
        for task in tasks {
            match task.state() {
                TaskState::Queued => snapshot.items.push((
                    format!("queued:{}:{}", task.id(), task.revision_count()),
                    Item::Queued(task),
                )),
                TaskState::Waiting if task.is_awaiting_approval() => snapshot
                    .items
                    .push((format!("waiting:{}", task.id()), Item::Waiting(task))),
                _ => {}
            }
        }
        for message in unread {
            if message.to.as_deref() == Some(agent) && message.from != agent {
                snapshot.open.insert(message.id.clone());
                snapshot
                    .items
                    .push((format!("message:{}", message.id), Item::Message(message)));
            }
        }
        Ok((snapshot, warning))
    }

    /// The push that tells `item`.
    fn push_of(&self, item: &Item, boundary: &Boundary) -> Push {
        let door = &self.door;
        let (kind, id, from, tier, content) = match item {
            Item::Queued(task) => {
                let from = task.from().unwrap_or("?");
                let (tier, trusted) = door.task_standing(task);
                let revision = task.revision_count();
                let content = if revision == 0 {
                    format!(
                        "New task {} from {from} (tier {tier}). Start it with claim_task when you are ready.\n{}",
                        task.id(),
                        framed(&task_text(task), trusted, from, &tier, boundary)
                    )
                } else {
                    let feedback = task.revision_feedback().last().copied().unwrap_or("");
                    format!(
                        "Task {} from {from} is back for revision {revision}. Your owner's feedback: {}\nClaim it again with claim_task.",
                        task.id(),
                        clip(feedback, PUSH_TEXT_CHARS)
                    )
                };
                let kind = if revision == 0 { "task" } else { "revision" };
                (kind, task.id(), from, tier, content)
            }
            Item::Waiting(task) => {
                let from = task.from().unwrap_or("?");
                let (tier, trusted) = door.task_standing(task);
                let content = format!(
                    "Task {id} from {from} (tier {tier}) waits for your owner's approval; it is not yours to start. Your owner decides with `msg task approve {id}` or `msg task reject {id}`.\n{}",
                    framed(
                        &clip(task.title(), PUSH_TEXT_CHARS),
                        trusted,
                        from,
                        &tier,
                        boundary
                    ),
                    id = task.id(),
                );
                ("approval", task.id(), from, tier, content)
            }
            Item::Message(message) => {
                let from = message.from.as_str();
                let tier = door.ctx().trust_tier(from);
                let content = format!(
                    "Message {id} from {from} (tier {tier}) to you: `read` shows it all and marks it read; answer with `send` (reply_to {id}).\n{}",
                    framed(
                        &clip(&message.body, PUSH_TEXT_CHARS),
                        door.trusts(from),
                        from,
                        &tier,
                        boundary
                    ),
                    id = message.id,
                );
                ("message", message.id.as_str(), from, tier, content)
            }
        };
        Push {
            content,
            meta: vec![
                ("kind", kind.to_owned()),
                ("id", id.to_owned()),
                ("from", from.to_owned()),
                ("tier", tier),
            ],
        }
    }
}

/// A task's text for a push: the title and the body, cut.
fn task_text(task: &Task) -> String {
    let mut text = task.title().to_owned();
    if !task.body().trim().is_empty() {
        text.push('\n');
        text.push_str(task.body());
    }
    clip(&text, PUSH_TEXT_CHARS)
}

/// The push that stands for `count` items beyond the round's first ones.
fn more(count: usize) -> Push {
    Push {
        content: format!(
            "{count} more {} arrived for you: `tasks` and `inbox` list them.",
            if count == 1 { "item" } else { "items" }
        ),
        meta: vec![("kind", "more".to_owned()), ("count", count.to_string())],
    }
}

/// Push, ready to run: the directories watched and what was there when it was made.
pub(crate) struct Watch {
    dirs: Vec<PathBuf>,
    files: FileWatch,
    pusher: Pusher,
}

impl Watch {
    /// Starts watching the messaging directory and `agents/` of `door`'s agent (created
    /// when missing, so that they can be watched), then takes in what is there now: made
    /// before the client is told the server is ready, so that whatever the client writes
    /// after that is pushed. Watching starts before the look, so nothing written in
    /// between is missed.
    pub(crate) fn new(door: Door) -> Result<Watch, HooksError> {
        let dirs = watched_dirs(door.ctx())?;
        for dir in &dirs {
            std::fs::create_dir_all(dir).map_err(HooksError::io("create", dir))?;
        }
        let files = FileWatch::new(&dirs)?;
        let pusher = Pusher::start(door)?;
        Ok(Watch {
            dirs,
            files,
            pusher,
        })
    }

    /// Pushes what arrives until `send` says the client is gone. Only a failure to watch
    /// ends it with an error; a round that fails is reported to `warn` and the next change
    /// tries again.
    pub(crate) fn run(
        mut self,
        send: &mut dyn FnMut(&Push) -> bool,
        warn: &mut dyn FnMut(String),
    ) -> Result<(), HooksError> {
        loop {
            if !self.files.wait(None)? {
                return Err(HooksError::Io {
                    action: "watch",
                    path: self.dirs[0].clone(),
                    source: std::io::Error::other("the file notifications stopped"),
                });
            }
            match self.pusher.round(send, warn) {
                Ok(Round::ClientGone) => return Ok(()),
                Ok(Round::Pushed(_)) => {}
                Err(err) => warn(format!("push: {err}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::{Submission, TaskDesk};
    use crate::mcp::door::test_door as door;
    use msg_store::{DeliveryState, Incoming};

    fn submit(door: &Door, from: &str, text: &str) -> String {
        TaskDesk::open(door.ctx(), None)
            .unwrap()
            .submit(&Submission {
                from: from.into(),
                text: text.into(),
                ..Submission::default()
            })
            .unwrap()
            .task
            .id()
            .to_owned()
    }

    /// One round; the pushes it sent.
    fn round(pusher: &mut Pusher) -> Vec<Push> {
        let mut sent = Vec::new();
        let outcome = pusher
            .round(
                &mut |push| {
                    sent.push(push.clone());
                    true
                },
                &mut |warning| panic!("{warning}"),
            )
            .unwrap();
        assert_eq!(outcome, Round::Pushed(sent.len()));
        sent
    }

    fn meta(push: &Push, key: &str) -> String {
        push.meta
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    #[test]
    fn what_was_there_at_start_is_not_pushed_and_each_new_item_is_pushed_once() {
        let dir = assert_fs::TempDir::new().unwrap();
        let door = door(dir.path());
        submit(&door, "bob", "Old task");
        let mut pusher = Pusher::start(door.clone()).unwrap();
        assert!(round(&mut pusher).is_empty());

        let task = submit(&door, "alice", "Review PR #24");
        let pushes = round(&mut pusher);
        assert_eq!(pushes.len(), 1, "{pushes:?}");
        assert_eq!(meta(&pushes[0], "kind"), "task");
        assert_eq!(meta(&pushes[0], "id"), task);
        assert_eq!(meta(&pushes[0], "tier"), "team");
        assert!(
            pushes[0].content.contains("untrusted-data-"),
            "alice is not the owner"
        );
        assert!(round(&mut pusher).is_empty(), "pushed once");

        // Another server of the same agent, started before the task came, does not push it
        // again: the record is shared.
        let mut other = Pusher {
            known: HashSet::new(),
            ..Pusher::start(door.clone()).unwrap()
        };
        let again: Vec<Push> = round(&mut other);
        assert!(again.iter().all(|p| meta(p, "id") != task), "{again:?}");

        // Claimed, done, then back for a revision: pushed again, as a revision.
        let desk = TaskDesk::open(door.ctx(), None).unwrap();
        desk.claim(Some(&task)).unwrap();
        desk.complete(&task, Some(10), "", "").unwrap();
        assert!(round(&mut pusher).is_empty());
        desk.revise(&task, "Cover the tests too").unwrap();
        let pushes = round(&mut pusher);
        assert_eq!(meta(&pushes[0], "kind"), "revision");
        assert!(pushes[0].content.contains("Cover the tests too"));
    }

    #[test]
    fn a_message_to_the_agent_is_pushed_as_the_task_it_became_and_waiting_ones_as_approvals() {
        let dir = assert_fs::TempDir::new().unwrap();
        let door = door(dir.path());
        let mut pusher = Pusher::start(door.clone()).unwrap();
        let store = door.ctx().store().unwrap();
        for (from, id) in [("alice", "msg-a1"), ("eve", "msg-e1")] {
            store
                .receive(&Incoming {
                    from: from.into(),
                    to: "bob-claude".into(),
                    content: format!("please, from {from}"),
                    id: id.into(),
                    ..Incoming::default()
                })
                .unwrap();
        }
        // A message to bob himself is not the agent's business.
        store
            .receive(&Incoming {
                from: "alice".into(),
                to: "bob".into(),
                content: "Lunch at 12?".into(),
                id: "msg-a2".into(),
                ..Incoming::default()
            })
            .unwrap();
        let pushes = round(&mut pusher);
        let kinds: Vec<(String, String)> = pushes
            .iter()
            .map(|p| (meta(p, "kind"), meta(p, "from")))
            .collect();
        assert_eq!(
            kinds,
            [
                ("task".to_owned(), "alice".to_owned()),
                ("approval".to_owned(), "eve".to_owned())
            ]
        );
        assert!(pushes.iter().all(|p| !p.content.contains("Lunch")));
        // Both messages were taken in (read now); nothing is left to push.
        assert!(store.unread().unwrap().iter().all(|m| m.id == "msg-a2"));
        assert!(round(&mut pusher).is_empty());
    }

    #[test]
    fn delivery_receipts_on_sent_messages_are_no_news() {
        let dir = assert_fs::TempDir::new().unwrap();
        let door = door(dir.path());
        let mut pusher = Pusher::start(door.clone()).unwrap();
        let store = door.ctx().store().unwrap();
        let mut sent = Vec::new();
        for from in ["bob-claude", "bob"] {
            let outgoing = crate::desk::send::Outgoing {
                from: from.into(),
                to: "alice".into(),
                content: "On it".into(),
                reply_to: None,
                thread: None,
                priority: msg_store::Priority::Normal,
            };
            sent.push(crate::desk::send::send(door.ctx(), &outgoing, None).unwrap());
        }
        assert!(round(&mut pusher).is_empty());
        for state in [DeliveryState::Queued, DeliveryState::Delivered] {
            for message in &sent {
                assert!(store.record_delivery(&message.message.id, &state).unwrap());
            }
            assert!(round(&mut pusher).is_empty(), "{state:?}");
        }
    }

    #[test]
    fn a_burst_is_pushed_as_the_first_few_and_one_line_for_the_rest() {
        let dir = assert_fs::TempDir::new().unwrap();
        let door = door(dir.path());
        let mut pusher = Pusher::start(door.clone()).unwrap();
        // Past the governor's hourly limit: straight into the task file.
        let inbox = door.ctx().agent_inbox(None).unwrap();
        for n in 0..MAX_PUSHES + 3 {
            inbox
                .create_task("bob", &format!("Task {n}"), "owner", &[], None, None)
                .unwrap();
        }
        let pushes = round(&mut pusher);
        assert_eq!(pushes.len(), MAX_PUSHES + 1);
        assert_eq!(meta(&pushes[MAX_PUSHES], "kind"), "more");
        assert!(pushes[MAX_PUSHES].content.starts_with("3 more items"));
        assert!(round(&mut pusher).is_empty());
    }

    #[test]
    fn a_push_is_remembered_before_it_is_sent_so_never_twice() {
        let dir = assert_fs::TempDir::new().unwrap();
        let door = door(dir.path());
        let mut pusher = Pusher::start(door.clone()).unwrap();
        submit(&door, "bob", "Write it");
        let outcome = pusher
            .round(&mut |_| false, &mut |warning| panic!("{warning}"))
            .unwrap();
        assert_eq!(outcome, Round::ClientGone);
        assert!(round(&mut pusher).is_empty());
    }
}
