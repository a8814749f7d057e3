//! [`TaskDesk`]: an agent's tasks, the governor and the links between them, for the commands
//! that submit and move tasks (`msg task …`, `task-queue`, `send-reply --complete-task`).
//!
//! The wiring the original documented but never did (reference D-GOV-1): a task is
//! submitted through the governor, which admits it (reserving its estimated tokens) or refuses
//! it with the rule and figures; completing it reconciles the reservation with the tokens
//! used; rejecting or cancelling it releases the reservation.

use msg_governor::{ActiveAdmission, Decision, TaskGovernor};
use msg_inbox::{AgentInbox, Task};

use crate::admission_links::AdmissionLinks;
use crate::context::Context;
use crate::error::HooksError;
use crate::lookup;
use crate::reply::{TaskEvent, tell_sender};

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
    pub fn find(&self, given: &str) -> Result<Task, HooksError> {
        let path = self.ctx.agent_file(Some(&self.agent))?;
        let tasks = match self.ctx.existing_agent_inbox(Some(&self.agent))? {
            Some(inbox) => inbox.tasks()?,
            None => Vec::new(),
        };
        let id = lookup::resolve(given, tasks.iter().map(Task::id), "task", &path)?;
        Ok(tasks
            .into_iter()
            .find(|task| task.id() == id)
            .expect("resolved among these tasks"))
    }

    /// Submits a task: the governor admits it (reserving its estimated tokens) or refuses
    /// it ([`HooksError::Rejected`], nothing written); an admitted task is created QUEUED
    /// when the sender's tier auto-accepts, else WAITING for the owner.
    pub fn submit(&self, submission: &Submission) -> Result<Submitted, HooksError> {
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
        let governor = self.governor()?;
        let tokens = submission.estimated_tokens.unwrap_or(0);
        let effort = submission.effort.map_or(0, u64::from);
        let admission = match governor.admit(&submission.from, tokens, effort)? {
            Decision::Admitted(admission) => admission,
            Decision::Rejected(rejection) => return Err(HooksError::Rejected(Box::new(rejection))),
        };
        let tags: Vec<&str> = submission.tags.iter().map(String::as_str).collect();
        let task = match self.inbox().and_then(|inbox| {
            inbox
                .create_task(
                    &submission.from,
                    &submission.text,
                    &admission.trust_tier,
                    &tags,
                    submission.effort,
                    submission.estimated_tokens,
                )
                .map_err(HooksError::from)
        }) {
            Ok(task) => task,
            Err(err) => {
                // Nothing was written: give the reservation back. Should that fail too, the
                // error that matters is still the task's.
                let _ = governor.release(&admission.id);
                return Err(err);
            }
        };
        self.links.record(task.id(), &admission.id).map_err(|err| {
            err.after(
                format!("task {} was created", task.id()),
                format!("recording its admission {} failed", admission.id),
            )
        })?;
        Ok(Submitted {
            task,
            admission: admission.id,
        })
    }

    /// `WAITING → QUEUED`.
    pub fn approve(&self, given: &str) -> Result<Task, HooksError> {
        let id = self.find(given)?.id().to_owned();
        Ok(self.inbox()?.approve(&id)?)
    }

    /// `WAITING → CANCELLED`, releasing the task's admission.
    pub fn reject(&self, given: &str, reason: &str) -> Result<(Task, GovernorNote), HooksError> {
        let id = self.find(given)?.id().to_owned();
        let task = self.inbox()?.reject(&id, reason)?;
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
        let id = self.find(given)?.id().to_owned();
        let task = self.inbox()?.cancel(&id, reason)?;
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
            Some(given) => {
                let id = self.find(given)?.id().to_owned();
                Ok(Some(self.inbox()?.claim(&id)?))
            }
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
        let id = self.find(given)?.id().to_owned();
        self.complete_exact(&id, tokens, cost, result_path)
    }

    /// [`TaskDesk::complete`] for an exact ID.
    fn complete_exact(
        &self,
        id: &str,
        tokens: Option<u64>,
        cost: &str,
        result_path: &str,
    ) -> Result<(Task, GovernorNote), HooksError> {
        let task = self
            .inbox()?
            .complete(id, tokens, cost, result_path, None)?;
        let note = self.reconcile(&task, tokens.unwrap_or(0)).map_err(|err| {
            err.after(format!("task {id} is DONE"), "updating the governor failed")
        })?;
        self.tell(&task, &TaskEvent::Completed)?;
        Ok((task, note))
    }

    /// `WORKING → QUEUED`.
    pub fn retry(&self, given: &str, reason: &str) -> Result<Task, HooksError> {
        let id = self.find(given)?.id().to_owned();
        Ok(self.inbox()?.retry(&id, reason)?)
    }

    /// `DONE → QUEUED` with the owner's feedback. The governor is not asked again: the new
    /// attempt's tokens are recorded as the sender's usage when it completes.
    pub fn revise(&self, given: &str, feedback: &str) -> Result<Task, HooksError> {
        let id = self.find(given)?.id().to_owned();
        let task = self.inbox()?.request_revision(&id, feedback)?;
        self.tell(&task, &TaskEvent::RevisionRequested(feedback.to_owned()))?;
        Ok(task)
    }

    /// `DONE → ARCHIVED`.
    pub fn accept(&self, given: &str) -> Result<Task, HooksError> {
        let id = self.find(given)?.id().to_owned();
        let task = self.inbox()?.accept(&id)?;
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
        let Some(admission) = self.links.admission_of(task.id())? else {
            return Ok(None);
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
