//! `msg-governor`: which tasks an agent accepts, and what they may cost.
//!
//! People and their AI agents hand each other tasks through org files (`msg-inbox`). Before
//! a task from a sender is queued for an agent, the [`TaskGovernor`] decides whether to admit
//! it, from the sender's trust tier (`owner`, `team`, `trusted`, `unknown`, or a custom tier
//! from the settings) and the compute limits. The rules are the Python original's, in its
//! order, with its defaults (reference §6.6):
//!
//! 1. **effort**: the task's effort estimate against the tier's `max_task_effort`;
//! 2. **sender budget**: the sender's tokens today against the tier's `daily_token_limit`;
//! 3. **global budget**: everyone's tokens today against `compute.daily_budget_tokens`;
//! 4. **tasks per hour**: the sender's admissions in the last hour against
//!    `compute.rate_limits.tasks_per_hour`;
//! 5. **queue depth**: active tasks of all senders against `compute.max_queue_depth`.
//!
//! Main types: [`TaskGovernor`] (every operation); [`Decision`], either an [`Admission`] or a
//! [`Rejection`]; [`Explanation`] and [`RuleCheck`] (a rule's figures and verdict); [`Usage`],
//! [`DailySummary`] and [`ActiveAdmission`] (reports); [`Clock`], with [`SystemClock`] and
//! [`ManualClock`] for tests; [`GovernorError`].
//!
//! What is new compared with the original (DESIGN.md §6):
//!
//! - [`TaskGovernor::admit`] checks and records in **one step under one lock**, reading
//!   everything written before it inside that lock, so any number of processes admitting at
//!   once never push a budget or the queue past its limit. An admitted task **reserves** its estimated tokens; the
//!   reservation counts against both budgets until [`TaskGovernor::complete`] replaces it by
//!   the tokens actually used, or [`TaskGovernor::release`] drops it.
//! - A [`Rejection`] names the [`Rule`] that failed, its figures (`Budget exceeded:
//!   48,000/50,000 tokens today (...)`, keeping the original's wording) and `retry_after`: the
//!   next local midnight for a budget, the moment a slot opens for the hourly limit.
//!   [`TaskGovernor::explain`] shows every rule's figures and verdict without recording
//!   anything.
//! - The budget day is the calendar day of the [`Clock`] (local time, or
//!   `messaging.utc_offset`). It is decided before the lock is taken; active tasks, their
//!   reservations and the hourly window carry over midnight, and only the daily token counts
//!   start again from zero.
//! - The state lives in `<state_dir>` (`$DATACORE_ROOT/.datacore/state/messaging`, always
//!   absolute): a JSON snapshot, `governor.json`, and a journal of the changes since,
//!   `governor.journal`, one JSON line each, under the permanent lock `governor.json.lock`.
//!   A change is appended under the lock and `fdatasync`ed after it, so concurrent processes
//!   share disk flushes (group commit) and a call returns only once its change is on disk;
//!   every 1,000 lines, and on the first change of a day, the journal is folded into a new
//!   snapshot, written atomically (temporary file, fsync, rename, directory fsync). A file
//!   that cannot be read or parsed is an error naming it (and the line), never an empty
//!   state (which would lift every budget), and nothing is written over it. The original's
//!   `budget-<YYYY-MM-DD>.json` files are read, never written: the first time the state meets
//!   a day, that day's budget file seeds it.
//!
//! # State files
//!
//! `governor.json`, the snapshot:
//!
//! ```json
//! {
//!   "format": 1,
//!   "generation": 4,
//!   "next_admission": 3,
//!   "days": {
//!     "2026-11-24": { "tex@team.example.com": { "tokens_used": 4200, "tasks": 2 } }
//!   },
//!   "admissions": {
//!     "adm-20261124-100259-2": {
//!       "actor": "tex@team.example.com",
//!       "reserved_tokens": 5000,
//!       "effort": 3,
//!       "admitted_at": 1795511379.0
//!     }
//!   },
//!   "hourly": { "tex@team.example.com": [1795504133.1889367, 1795511379.0] }
//! }
//! ```
//!
//! `days` keeps a week of daily usage by sender; `admissions` are the active tasks with their
//! reservations; `hourly` holds each sender's admission times of the last hour (Unix seconds,
//! as the original's `tasks_this_hour`). `governor.journal` continues the snapshot of the same
//! `generation`:
//!
//! ```text
//! {"format":1,"generation":4}
//! {"op":"admit","id":"adm-20261124-100759-3","actor":"tex@team.example.com","tokens":2000,"effort":1,"at":1795511279.0,"day":"2026-11-24","next":4}
//! {"op":"usage","actor":"stranger@other.org","tokens":120,"day":"2026-11-24"}
//! {"op":"complete","id":"adm-20261124-100259-2","tokens":4200,"day":"2026-11-24"}
//! {"op":"release","id":"adm-20261124-100759-3"}
//! ```
//!
//! The crate README describes every key.
//!
//! # Example
//!
//! ```
//! use msg_core::config::Settings;
//! use msg_governor::{Decision, Rule, TaskGovernor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let state_dir = std::env::temp_dir().join(format!("msg-governor-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&state_dir);
//! // Normally: Settings::load(paths.root())? and paths.governor_state_dir().
//! let settings = Settings::from_yaml_str(
//!     "messaging:\n  trust_overrides:\n    tex@team.example.com: team\n",
//!     "settings.local.yaml".as_ref(),
//! )?;
//! let governor = TaskGovernor::open(&state_dir, settings)?;
//!
//! // A team member may ask for up to 100,000 tokens a day.
//! let admission = match governor.admit("tex@team.example.com", 60_000, 3)? {
//!     Decision::Admitted(admission) => admission,
//!     Decision::Rejected(rejection) => panic!("{rejection}"),
//! };
//! assert!(admission.tier.auto_accept);
//!
//! // The 60,000 reserved tokens count until the task completes, so this one does not fit.
//! let decision = governor.admit("tex@team.example.com", 50_000, 3)?;
//! let rejection = decision.rejection().expect("over budget");
//! assert_eq!(rejection.rule(), Rule::SenderBudget);
//! assert!(rejection.reason.starts_with("Budget exceeded: 60,000/100,000 tokens today"));
//! assert!(rejection.retry_after().is_some()); // the next local midnight
//!
//! // The task used less than estimated: the difference is free again.
//! governor.complete(&admission.id, 42_000)?;
//! assert!(governor.explain("tex@team.example.com", 50_000, 3)?.allowed());
//! assert_eq!(governor.usage("tex@team.example.com")?.tokens_used, 42_000);
//! # std::fs::remove_dir_all(&state_dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: depends on `msg-core` alone among the workspace crates (settings,
//! paths, locks and durable writes come from there) and never on an async runtime:
//! `cargo tree -p msg-governor -e normal` shows no tokio. It knows nothing of org files,
//! stores or the relay; callers (the hooks) wire an admission to a task.

mod clock;
mod decision;
mod error;
mod governor;
mod journal;
mod legacy;
mod report;
mod rules;
mod state;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use decision::{Admission, Decision, Rejection};
pub use error::GovernorError;
pub use governor::TaskGovernor;
pub use report::{ActiveAdmission, DailySummary, SenderSummary, Usage};
pub use rules::{Explanation, Rule, RuleCheck};

/// The format of `governor.json` and of `governor.journal`'s header that this version reads
/// and writes.
const FORMAT: u64 = 1;
