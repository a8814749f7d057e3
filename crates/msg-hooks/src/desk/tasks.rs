//! [`TaskDesk`]: an agent's tasks, the governor and the links between them, for the commands
//! that submit and move tasks (`msg task …`, `task-queue`, `send-reply --complete-task`).
//!
//! The wiring the original documented but never did (reference D-GOV-1): a task is
//! submitted through the governor, which admits it (reserving its estimated tokens) or refuses
//! it with the rule and figures; completing it reconciles the reservation with the tokens
//! used; rejecting or cancelling it releases the reservation. The task carries its admission
//! ID ([`ADMISSION_PROPERTY`]) from its first write; tasks submitted by earlier builds have
//! theirs in `task-admissions.jsonl`, which is still read (never written any more).

use msg_governor::{ActiveAdmission, Decision, TaskGovernor};
use msg_inbox::{AgentInbox, InboxError, NewTask, Task};

use super::ADMISSION_PROPERTY;
use super::admission_links::AdmissionLinks;
use super::lookup;
use super::task_news::{TaskEvent, tell_sender};
use crate::context::Context;
use crate::error::HooksError;

/// A task to submit.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The sender (default for `msg task submit`: the local user).
    pub from: String,
    /// The task text: the first line becomes the heading, the rest the body.
    pub text: String,
    /// Tags for the heading.
    pub tags: Vec<String>,
    /// The sender's effort estimate.
    pub effort: Option<u32>,
    /// The sender's token estimate, reserved by the governor until the task ends.
    pub estimated_tokens: Option<u64>,
}

/// What the governor did alongside a task operation.
#[derive(Debug, Clone, PartialEq)]
pub enum GovernorNote {
    /// Nothing: the operation does not concern it, or nothing was to be recorded.
    Nothing,
    /// The task's admission was completed: its reservation replaced by the tokens used.
    Completed {
        /// The admission.
        admission: ActiveAdmission,
        /// The tokens recorded.
        tokens: u64,
    },
    /// The task has no active admission; its tokens were recorded as its sender's usage.
    UsageRecorded {
        /// The sender charged.
        actor: String,
        /// The tokens recorded.
        tokens: u64,
    },
    /// The task's admission was released: its reservation dropped.
    Released(ActiveAdmission),
}

/// The tasks of one agent, with the governor.
#[derive(Debug, Clone)]
pub struct TaskDesk {
    ctx: Context,
    agent: String,
    links: AdmissionLinks,
}

impl TaskDesk {
    /// The desk of `agent` (default: the user's agent). The name is checked now; the task
    /// file is opened (and created when missing) only by an operation that needs it, after
    /// its arguments were checked.
    pub fn open(ctx: &Context, agent: Option<&str>) -> Result<TaskDesk, HooksError> {
        let agent = agent.unwrap_or(ctx.agent()).to_owned();
        ctx.agent_file(Some(&agent))?;
        Ok(TaskDesk {
            agent,
            links: AdmissionLinks::new(&ctx.paths().governor_state_dir()),
            ctx: ctx.clone(),
        })
    }

    /// The agent's task file, created when missing.
    pub fn inbox(&self) -> Result<AgentInbox, HooksError> {
        self.ctx.agent_inbox(Some(&self.agent))
    }

    fn governor(&self) -> Result<TaskGovernor, HooksError> {
        self.ctx.governor()
    }

    /// The task whose ID is `given`, or the only one starting or ending with it.
    ///
    /// An entry with the ID whose keyword is no task state (mistyped in Emacs) is found too,
    /// and is an error that names its line and the fix.
    pub fn find(&self, given: &str) -> Result<Task, HooksError> {
        let path = self.ctx.agent_file(Some(&self.agent))?;
        let (tasks, strays) = match self.ctx.existing_agent_inbox(Some(&self.agent))? {
            Some(inbox) => {
                // An exact ID wins (see `lookup`), and it is what programs give: a byte
                // search for it scans one section instead of a snapshot of every entry.
                let exact = match given.trim() {
                    "" => None,
                    id => inbox.find_by_id(id)?,
                };
                if let Some(task) = exact {
                    return Ok(task);
                }
                (inbox.tasks()?, inbox.stray_entries()?)
            }
            None => (Vec::new(), Vec::new()),
        };
        let ids = tasks
            .iter()
            .map(Task::id)
            .chain(strays.iter().map(|s| s.id.as_str()));
        let id = lookup::resolve(given, ids, "task", &path)?;
        if let Some(task) = tasks.into_iter().find(|task| task.id() == id) {
            return Ok(task);
        }
        let stray = strays.into_iter().find(|s| s.id == id);
        Err(stray.map_or_else(
            || HooksError::NotFound {
                what: "task",
                given: given.to_owned(),
                path: path.clone(),
                also: Vec::new(),
            },
            |stray| stray.into_error(&path).into(),
        ))
    }

    /// Submits a task: the governor admits it (reserving its estimated tokens) or refuses
    /// it ([`HooksError::Rejected`], nothing written); an admitted task is created QUEUED
    /// when the sender's tier auto-accepts, else WAITING for the owner, with its admission
    /// ID as [`ADMISSION_PROPERTY`] in the same append.
    pub fn submit(&self, submission: &Submission) -> Result<Submitted, HooksError> {
        self.submit_with(submission, &[])
    }

    /// [`TaskDesk::submit`] with properties of the caller's (e.g. `MESSAGE_ID`), written in
    /// the task's first append: the task never exists without them. They are checked as
    /// msg-inbox checks them (not one of its own, nor [`ADMISSION_PROPERTY`]) before the
    /// governor counts an admission.
    pub fn submit_with(
        &self,
        submission: &Submission,
        properties: &[(&str, &str)],
    ) -> Result<Submitted, HooksError> {
        // What the inbox would refuse is refused before the governor counts an admission
        // (a released admission still counts against the hourly limit).
        msg_core::validate::actor("from", &submission.from)?;
        if submission.text.trim().is_empty() {
            return Err(msg_core::validate::ValidationError::Empty {
                field: "content".into(),
            }
            .into());
        }
        for tag in &submission.tags {
            msg_core::validate::tag(tag)?;
        }
        for (index, (key, value)) in properties.iter().enumerate() {
            let given_before = properties[..index]
                .iter()
                .any(|(earlier, _)| earlier.eq_ignore_ascii_case(key));
            let refused = if key.eq_ignore_ascii_case(ADMISSION_PROPERTY) {
                Some("the task desk writes the governor's admission itself; give another name")
            } else if given_before {
                Some("it is given twice; give each property once")
            } else {
                None
            };
            if let Some(reason) = refused {
                return Err(InboxError::InvalidArgument {
                    field: "property",
                    value: (*key).to_owned(),
                    reason,
                }
                .into());
            }
            NewTask::check_property(key, value)?;
        }
        let governor = self.governor()?;
        let tokens = submission.estimated_tokens.unwrap_or(0);
        let effort = submission.effort.map_or(0, u64::from);
        let admission = match governor.admit(&submission.from, tokens, effort)? {
            Decision::Admitted(admission) => admission,
            Decision::Rejected(rejection) => return Err(HooksError::Rejected(Box::new(rejection))),
        };
        let tags: Vec<&str> = submission.tags.iter().map(String::as_str).collect();
        let mut new_task =
            NewTask::new(&submission.from, &submission.text, &admission.trust_tier).tags(&tags);
        if let Some(effort) = submission.effort {
            new_task = new_task.effort(effort);
        }
        if let Some(tokens) = submission.estimated_tokens {
            new_task = new_task.estimated_tokens(tokens);
        }
        for (key, value) in properties {
            new_task = new_task.property(*key, *value);
        }
        let new_task = new_task.property(ADMISSION_PROPERTY, &admission.id);
        let task = match self
            .inbox()
            .and_then(|inbox| inbox.create(&new_task).map_err(HooksError::from))
        {
            Ok(task) => task,
            Err(err) => {
                // Nothing was written: give the reservation back. Should that fail too (a
                // disk full for the governor as well), say so: `msg doctor` finds the
                // admission without a task and `--fix` releases it.
                return Err(match governor.release(&admission.id) {
                    Ok(_) => err,
                    Err(release) => err.after(
                        format!("admission {} was reserved", admission.id),
                        format!(
                            "the task was not written and releasing the admission failed too ({release}; `msg doctor --fix` releases it)"
                        ),
                    ),
                });
            }
        };
        Ok(Submitted {
            task,
            admission: admission.id,
        })
    }

    /// Applies `change` (a transition of msg-inbox, which checks the task's state in its
    /// transaction) to the task `given`. An exact ID, which is what programs give, goes
    /// straight to the transaction: one read of the file under its lock. Anything else (a
    /// prefix or suffix, a mistake) is resolved by [`TaskDesk::find`] first, for its
    /// messages.
    fn transition(
        &self,
        given: &str,
        change: impl Fn(&AgentInbox, &str) -> Result<Task, InboxError>,
    ) -> Result<Task, HooksError> {
        let exact = given.trim();
        if !exact.is_empty()
            && let Some(inbox) = self.ctx.existing_agent_inbox(Some(&self.agent))?
        {
            match change(&inbox, exact) {
                Err(InboxError::NotFound { .. }) => {}
                done => return Ok(done?),
            }
        }
        let id = self.find(given)?.id().to_owned();
        Ok(change(&self.inbox()?, &id)?)
    }

    /// `WAITING → QUEUED`.
    pub fn approve(&self, given: &str) -> Result<Task, HooksError> {
        self.transition(given, AgentInbox::approve)
    }

    /// `WAITING → CANCELLED`, releasing the task's admission.
    pub fn reject(&self, given: &str, reason: &str) -> Result<(Task, GovernorNote), HooksError> {
        let task = self.transition(given, |inbox, id| inbox.reject(id, reason))?;
        let id = task.id();
        let note = self.release(&task).map_err(|err| {
            err.after(
                format!("task {id} is rejected"),
                "releasing its admission failed",
            )
        })?;
        self.tell(&task, &TaskEvent::Rejected(reason.to_owned()))?;
        Ok((task, note))
    }

    /// `QUEUED | WORKING → CANCELLED`, releasing the task's admission.
    pub fn cancel(&self, given: &str, reason: &str) -> Result<(Task, GovernorNote), HooksError> {
        let task = self.transition(given, |inbox, id| inbox.cancel(id, reason))?;
        let id = task.id();
        let note = self.release(&task).map_err(|err| {
            err.after(
                format!("task {id} is cancelled"),
                "releasing its admission failed",
            )
        })?;
        self.tell(&task, &TaskEvent::Cancelled(reason.to_owned()))?;
        Ok((task, note))
    }

    /// `QUEUED → WORKING`: the task `given`, or the next one (`None` when nothing is queued).
    pub fn claim(&self, given: Option<&str>) -> Result<Option<Task>, HooksError> {
        match given {
            Some(given) => self.transition(given, AgentInbox::claim).map(Some),
            None => Ok(self.inbox()?.claim_next()?),
        }
    }

    /// `WORKING → DONE`, then the governor: the task's admission is completed with `tokens`,
    /// or, without an active admission, `tokens` (when more than 0) are recorded as the
    /// sender's usage.
    pub fn complete(
        &self,
        given: &str,
        tokens: Option<u64>,
        cost: &str,
        result_path: &str,
    ) -> Result<(Task, GovernorNote), HooksError> {
        let task = self.transition(given, |inbox, id| {
            inbox.complete(id, tokens, cost, result_path, None)
        })?;
        let id = task.id();
        let note = self.reconcile(&task, tokens.unwrap_or(0)).map_err(|err| {
            err.after(format!("task {id} is DONE"), "updating the governor failed")
        })?;
        self.tell(&task, &TaskEvent::Completed)?;
        Ok((task, note))
    }

    /// `WORKING → QUEUED`.
    pub fn retry(&self, given: &str, reason: &str) -> Result<Task, HooksError> {
        self.transition(given, |inbox, id| inbox.retry(id, reason))
    }

    /// `DONE → QUEUED` with the owner's feedback. The governor is not asked again: the new
    /// attempt's tokens are recorded as the sender's usage when it completes.
    pub fn revise(&self, given: &str, feedback: &str) -> Result<Task, HooksError> {
        let task = self.transition(given, |inbox, id| inbox.request_revision(id, feedback))?;
        self.tell(&task, &TaskEvent::RevisionRequested(feedback.to_owned()))?;
        Ok(task)
    }

    /// `DONE → ARCHIVED`.
    pub fn accept(&self, given: &str) -> Result<Task, HooksError> {
        let task = self.transition(given, AgentInbox::accept)?;
        self.tell(&task, &TaskEvent::Accepted)?;
        Ok(task)
    }

    /// Tells the task's sender what happened, when the task came in as a message from
    /// someone else; a failure says the task's change is done.
    fn tell(&self, task: &Task, event: &TaskEvent) -> Result<(), HooksError> {
        tell_sender(&self.ctx, &self.agent, task, event).map_err(|err| {
            err.after(
                format!("task {} is {}", task.id(), task.state()),
                format!("telling its sender {} failed", task.from().unwrap_or("?")),
            )
        })?;
        Ok(())
    }

    /// The task's active admission, if it has one.
    fn active_admission(
        &self,
        governor: &TaskGovernor,
        task: &Task,
    ) -> Result<Option<String>, HooksError> {
        // Written with the task now; tasks submitted by earlier builds have their admission
        // only in the links file.
        let admission = match task.property(ADMISSION_PROPERTY) {
            Some(admission) => admission.to_owned(),
            None => match self.links.admission_of(task.id())? {
                Some(admission) => admission,
                None => return Ok(None),
            },
        };
        let active = governor.active_admissions()?;
        Ok(active
            .iter()
            .any(|active| active.id == admission)
            .then_some(admission))
    }

    /// Tells the governor that `task` completed with `tokens`: its active admission is
    /// completed, or else the tokens (when more than 0) are recorded as its sender's usage.
    pub(crate) fn reconcile(&self, task: &Task, tokens: u64) -> Result<GovernorNote, HooksError> {
        let governor = self.governor()?;
        if let Some(admission) = self.active_admission(&governor, task)? {
            let admission = governor.complete(&admission, tokens)?;
            return Ok(GovernorNote::Completed { admission, tokens });
        }
        match task.from() {
            Some(actor) if tokens > 0 => {
                governor.record_usage(actor, tokens)?;
                Ok(GovernorNote::UsageRecorded {
                    actor: actor.to_owned(),
                    tokens,
                })
            }
            _ => Ok(GovernorNote::Nothing),
        }
    }

    fn release(&self, task: &Task) -> Result<GovernorNote, HooksError> {
        let governor = self.governor()?;
        match self.active_admission(&governor, task)? {
            Some(admission) => Ok(GovernorNote::Released(governor.release(&admission)?)),
            None => Ok(GovernorNote::Nothing),
        }
    }
}

/// A task the governor admitted and the inbox created.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The task, QUEUED or WAITING.
    pub task: Task,
    /// The governor's admission ID, which holds the task's reservation.
    pub admission: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
    use msg_core::paths::Paths;

    fn ctx(root: &std::path::Path) -> Context {
        let settings = Settings::from_yaml_str(
            "identity: {name: bob}\nmessaging: {trust_overrides: {alice: team}}\n",
            std::path::Path::new("settings.local.yaml"),
        )
        .unwrap();
        Context::new(Paths::new(root), settings, None).unwrap()
    }

    fn submission(text: &str) -> Submission {
        Submission {
            from: "alice".into(),
            text: text.into(),
            estimated_tokens: Some(500),
            ..Submission::default()
        }
    }

    #[test]
    fn the_admission_is_a_property_of_the_task_and_the_links_file_is_not_written() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        let desk = TaskDesk::open(&ctx, None).unwrap();
        let submitted = desk
            .submit_with(&submission("Write it"), &[("CHANNEL", "review")])
            .unwrap();
        assert_eq!(
            submitted.task.property(ADMISSION_PROPERTY),
            Some(submitted.admission.as_str())
        );
        assert_eq!(submitted.task.property("CHANNEL"), Some("review"));
        let links = ctx
            .paths()
            .governor_state_dir()
            .join("task-admissions.jsonl");
        assert!(!links.exists());
        desk.claim(Some(submitted.task.id())).unwrap();
        let (_, note) = desk
            .complete(submitted.task.id(), Some(300), "", "")
            .unwrap();
        assert!(
            matches!(&note, GovernorNote::Completed { admission, tokens: 300 } if admission.id == submitted.admission),
            "{note:?}"
        );
        // A caller cannot give the admission, nor a property the inbox owns, nor one twice;
        // such a call is refused before the governor counts an admission.
        let usage = || ctx.governor().unwrap().usage("alice").unwrap();
        let before = usage();
        for properties in [
            &[("admission", "x")][..],
            &[("TRUST_TIER", "owner")],
            &[("MESSAGE_ID", "a"), ("message_id", "b")],
        ] {
            let err = desk
                .submit_with(&submission("Other"), properties)
                .unwrap_err();
            let err = err.to_string();
            assert!(
                err.contains("admission itself")
                    || err.contains("set by the inbox")
                    || err.contains("given twice"),
                "{err}"
            );
        }
        assert_eq!(usage(), before);
        assert_eq!(ctx.agent_inbox(None).unwrap().tasks().unwrap().len(), 1);
    }

    #[test]
    fn a_task_of_an_earlier_build_finds_its_admission_in_the_links_file() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(dir.path());
        let governor = ctx.governor().unwrap();
        let Decision::Admitted(admission) = governor.admit("alice", 500, 0).unwrap() else {
            panic!("admitted")
        };
        // What an earlier build wrote: the task without ADMISSION, the link in the file.
        let task = ctx
            .agent_inbox(None)
            .unwrap()
            .create_task("alice", "Old task", "team", &[], None, Some(500))
            .unwrap();
        let state = ctx.paths().governor_state_dir();
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(
            state.join("task-admissions.jsonl"),
            format!(
                "{{\"task\":\"{}\",\"admission\":\"{}\"}}\n",
                task.id(),
                admission.id
            ),
        )
        .unwrap();
        let desk = TaskDesk::open(&ctx, None).unwrap();
        let (_, note) = desk.cancel(task.id(), "not needed").unwrap();
        assert!(
            matches!(&note, GovernorNote::Released(released) if released.id == admission.id),
            "{note:?}"
        );
        assert!(governor.active_admissions().unwrap().is_empty());
    }
}
