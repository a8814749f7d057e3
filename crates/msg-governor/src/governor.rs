//! [`TaskGovernor`]: the operations, each one lock (or none) around one read of the state.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use msg_core::config::{Settings, TierConfig};
use msg_core::timestamp::format_compact;
use msg_core::validate;
use time::{OffsetDateTime, UtcOffset};

use crate::clock::{Clock, SystemClock};
use crate::decision::{Admission, Decision, Rejection};
use crate::error::GovernorError;
use crate::journal::Op;
use crate::report::{ActiveAdmission, DailySummary, SenderSummary, Usage};
use crate::rules::{Explanation, Request, evaluate};
use crate::state::{AdmissionRecord, State, from_unix_seconds, unix_seconds};
use crate::store::StateStore;

/// Decides which tasks a sender may hand an agent, and keeps count of what they cost.
///
/// Any number of governors in any number of processes (and threads) may share one state
/// directory. Operations that change the state (`admit`, `complete`, `release`,
/// `record_usage`) take the exclusive lock, bring their copy of the state up to date with
/// everything written before (the journal lines added since their last call), decide, and
/// append their change before releasing it; they return once the change is on disk.
/// Read-only ones (`explain`, `usage`, `daily_summary`, `active_admissions`) do the same under
/// the shared lock and write nothing.
#[derive(Debug)]
pub struct TaskGovernor {
    store: StateStore,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl TaskGovernor {
    /// A governor keeping its state in `state_dir` (normally
    /// `msg_core::paths::Paths::governor_state_dir()`), with the trust tiers, overrides and
    /// compute limits of `settings`.
    ///
    /// A relative `state_dir` is made absolute now, so a later change of the current
    /// directory cannot move the state. The clock is the system's, in the offset of
    /// `messaging.utc_offset` when set, else the process's local offset. Existing state is
    /// read once, so that a corrupt file is reported at once; the directory is created by the
    /// first change.
    pub fn open(
        state_dir: impl Into<PathBuf>,
        settings: Settings,
    ) -> Result<TaskGovernor, GovernorError> {
        let state_dir = state_dir.into();
        let state_dir = std::path::absolute(&state_dir).map_err(|source| GovernorError::Read {
            path: state_dir.clone(),
            source,
        })?;
        let clock = match settings
            .utc_offset_seconds()
            .and_then(|seconds| UtcOffset::from_whole_seconds(seconds).ok())
        {
            Some(offset) => SystemClock::new(offset),
            None => SystemClock::local(),
        };
        let governor = TaskGovernor {
            store: StateStore::new(state_dir),
            settings,
            clock: Arc::new(clock),
        };
        if governor.store.exists() {
            governor.store.read(governor.clock.now().date(), |_| ())?;
        }
        Ok(governor)
    }

    /// The same governor with another clock (a [`ManualClock`](crate::ManualClock) in
    /// tests). The clock's offset decides the budget day.
    pub fn with_clock(self, clock: impl Clock + 'static) -> TaskGovernor {
        TaskGovernor {
            clock: Arc::new(clock),
            ..self
        }
    }

    /// The same governor waiting at most `timeout` for the state file's lock (default
    /// `msg_core::durable::DEFAULT_LOCK_TIMEOUT`).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> TaskGovernor {
        self.store.set_lock_timeout(timeout);
        self
    }

    /// The state directory (absolute).
    pub fn state_dir(&self) -> &Path {
        self.store.dir()
    }

    /// The snapshot, `<state_dir>/governor.json`, continued by `governor.journal`. Its lock is
    /// `governor.json.lock`.
    pub fn state_file(&self) -> &Path {
        self.store.file()
    }

    /// The settings the rules come from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks a task from `actor` against every rule, in the original's order, and if all
    /// pass, records it: one more task this hour and today, one more active task, and
    /// `estimated_tokens` reserved for it until [`complete`](TaskGovernor::complete) or
    /// [`release`](TaskGovernor::release). Check and record are one step under one lock, so
    /// concurrent admissions in any number of processes never exceed a limit together.
    ///
    /// A rejection is a [`Decision`], not an error, and records nothing.
    pub fn admit(
        &self,
        actor: &str,
        estimated_tokens: u64,
        effort: u64,
    ) -> Result<Decision, GovernorError> {
        validate::actor("actor", actor)?;
        // The budget day is decided here, before the lock: the whole step then works on one
        // day, and crossing midnight never needs a second lock (the original nested them).
        let now = self.clock.now();
        let (trust_tier, tier) = self.tier_of(actor);
        let compute = self.settings.compute();
        let today = now.date();
        self.store.update(today, now, |state| {
            let request = Request {
                actor,
                estimated_tokens,
                effort,
                tier: &tier,
                compute: &compute,
                now,
            };
            if let Some(failed) = evaluate(state, &request)
                .into_iter()
                .find(|check| !check.passed)
            {
                let rejection = Rejection {
                    actor: actor.to_owned(),
                    trust_tier,
                    tier,
                    reason: failed.reason(),
                    check: failed,
                };
                return Ok((Decision::Rejected(rejection), None));
            }
            let (id, next) = next_admission_id(state, now);
            let op = Op::Admit {
                id: id.clone(),
                actor: actor.to_owned(),
                tokens: estimated_tokens,
                effort,
                at: unix_seconds(now),
                day: today.to_string(),
                next,
            };
            let admission = Admission {
                id,
                actor: actor.to_owned(),
                trust_tier,
                tier,
                reserved_tokens: estimated_tokens,
                effort,
                admitted_at: now,
            };
            Ok((Decision::Admitted(admission), Some(op)))
        })
    }

    /// Ends an admitted task that ran: its reservation is dropped and `actual_tokens` are
    /// recorded as the sender's usage on the current budget day (the day of completion, also
    /// when the task was admitted the day before). Returns the admission as it was.
    pub fn complete(
        &self,
        admission_id: &str,
        actual_tokens: u64,
    ) -> Result<ActiveAdmission, GovernorError> {
        let now = self.clock.now();
        self.store.update(now.date(), now, |state| {
            let admission = self.active(state, admission_id, now)?;
            let op = Op::Complete {
                id: admission.id.clone(),
                tokens: actual_tokens,
                day: now.date().to_string(),
            };
            Ok((admission, Some(op)))
        })
    }

    /// Ends an admitted task that did not run (rejected by the owner, cancelled): its
    /// reservation is dropped and nothing is charged. It still counts as a task admitted
    /// this hour and today, so admitting and releasing cannot get around the hourly limit.
    pub fn release(&self, admission_id: &str) -> Result<ActiveAdmission, GovernorError> {
        let now = self.clock.now();
        self.store.update(now.date(), now, |state| {
            let admission = self.active(state, admission_id, now)?;
            let op = Op::Release {
                id: admission.id.clone(),
            };
            Ok((admission, Some(op)))
        })
    }

    /// Adds `tokens` to what `actor` used on the current budget day, for usage outside
    /// admitted tasks.
    pub fn record_usage(&self, actor: &str, tokens: u64) -> Result<(), GovernorError> {
        validate::actor("actor", actor)?;
        let now = self.clock.now();
        let op = Op::Usage {
            actor: actor.to_owned(),
            tokens,
            day: now.date().to_string(),
        };
        self.store.update(now.date(), now, |_| Ok(((), Some(op))))
    }

    /// A dry run of [`admit`](TaskGovernor::admit): every rule's figures and verdict,
    /// recording nothing.
    pub fn explain(
        &self,
        actor: &str,
        estimated_tokens: u64,
        effort: u64,
    ) -> Result<Explanation, GovernorError> {
        validate::actor("actor", actor)?;
        let now = self.clock.now();
        let (trust_tier, tier) = self.tier_of(actor);
        let compute = self.settings.compute();
        let request = Request {
            actor,
            estimated_tokens,
            effort,
            tier: &tier,
            compute: &compute,
            now,
        };
        let checks = self
            .store
            .read(now.date(), |state| evaluate(state, &request))?;
        Ok(Explanation {
            actor: actor.to_owned(),
            trust_tier,
            tier,
            date: now.date(),
            at: now,
            checks,
        })
    }

    /// What `actor` used and holds on the current budget day.
    pub fn usage(&self, actor: &str) -> Result<Usage, GovernorError> {
        validate::actor("actor", actor)?;
        let now = self.clock.now();
        let (trust_tier, tier) = self.tier_of(actor);
        self.store.read(now.date(), |state| {
            let day = state.day_usage(&now.date().to_string(), actor);
            Usage {
                actor: actor.to_owned(),
                date: now.date(),
                trust_tier,
                tier,
                tokens_used: day.tokens_used,
                tokens_reserved: state.reserved_by(actor),
                tasks_today: day.tasks,
                tasks_this_hour: state.recent_admissions(actor, unix_seconds(now)).len() as u64,
                active: active_admissions(state, now)
                    .into_iter()
                    .filter(|admission| admission.actor == actor)
                    .collect(),
            }
        })
    }

    /// Everyone's usage on the current budget day, reserved against used.
    pub fn daily_summary(&self) -> Result<DailySummary, GovernorError> {
        let now = self.clock.now();
        let compute = self.settings.compute();
        self.store.read(now.date(), |state| {
            let today = now.date().to_string();
            let mut by_sender = std::collections::BTreeMap::<String, SenderSummary>::new();
            if let Some(senders) = state.days.get(&today) {
                for (actor, usage) in senders {
                    let sender = by_sender.entry(actor.clone()).or_default();
                    sender.tokens_used = usage.tokens_used;
                    sender.tasks_today = usage.tasks;
                }
            }
            for admission in state.admissions.values() {
                let sender = by_sender.entry(admission.actor.clone()).or_default();
                sender.tokens_reserved = sender
                    .tokens_reserved
                    .saturating_add(admission.reserved_tokens);
                sender.active_tasks += 1;
            }
            DailySummary {
                date: now.date(),
                total_tokens_used: state.total_used(&today),
                total_tokens_reserved: state.total_reserved(),
                daily_budget_tokens: (compute.daily_budget_tokens > 0)
                    .then_some(compute.daily_budget_tokens),
                active_tasks: state.admissions.len() as u64,
                max_queue_depth: compute.max_queue_depth,
                by_sender,
            }
        })
    }

    /// Every active admission, oldest first.
    pub fn active_admissions(&self) -> Result<Vec<ActiveAdmission>, GovernorError> {
        let now = self.clock.now();
        self.store
            .read(now.date(), |state| active_admissions(state, now))
    }

    /// The tier name and limits of `actor`.
    fn tier_of(&self, actor: &str) -> (String, TierConfig) {
        let name = self.settings.trust_tier(actor);
        let tier = self.settings.tier_config(&name);
        (name, tier)
    }

    /// The active admission `admission_id`.
    fn active(
        &self,
        state: &State,
        admission_id: &str,
        now: OffsetDateTime,
    ) -> Result<ActiveAdmission, GovernorError> {
        state
            .admissions
            .get(admission_id)
            .map(|record| active_admission(admission_id.to_owned(), record.clone(), now))
            .ok_or_else(|| GovernorError::UnknownAdmission {
                id: admission_id.to_owned(),
                path: self.store.file().to_owned(),
            })
    }
}

/// A new admission ID, `adm-<local YYYYMMDD-HHMMSS>-<n>`, and the counter after it. `n` is
/// counted in the state (so the ID is unique there); the time makes a clash with an ID handed
/// out before the state was reset unlikely.
fn next_admission_id(state: &State, now: OffsetDateTime) -> (String, u64) {
    let stamp = format_compact(now);
    let mut number = state.next_admission.max(1);
    loop {
        let id = format!("adm-{stamp}-{number}");
        number = number.saturating_add(1);
        if !state.admissions.contains_key(&id) {
            return (id, number);
        }
    }
}

fn active_admission(id: String, record: AdmissionRecord, now: OffsetDateTime) -> ActiveAdmission {
    ActiveAdmission {
        id,
        actor: record.actor,
        reserved_tokens: record.reserved_tokens,
        effort: record.effort,
        admitted_at: from_unix_seconds(record.admitted_at, now),
        legacy: record.legacy_day.is_some(),
    }
}

fn active_admissions(state: &State, now: OffsetDateTime) -> Vec<ActiveAdmission> {
    let mut active: Vec<ActiveAdmission> = state
        .admissions
        .iter()
        .map(|(id, record)| active_admission(id.clone(), record.clone(), now))
        .collect();
    active.sort_by(|a, b| {
        a.admitted_at
            .cmp(&b.admitted_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    active
}
