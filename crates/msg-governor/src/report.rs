//! Read-only views of the state: one sender's usage, the day's summary, active admissions.

use std::collections::BTreeMap;
use std::fmt;

use msg_core::config::TierConfig;
use msg_core::figures::grouped;
use time::{Date, OffsetDateTime};

use crate::rules::format_time;

/// An admission that is still active: admitted, not yet completed or released.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActiveAdmission {
    /// The admission ID.
    pub id: String,
    /// The sender.
    pub actor: String,
    /// The tokens reserved for it.
    pub reserved_tokens: u64,
    /// Its effort estimate.
    pub effort: u64,
    /// When it was admitted.
    pub admitted_at: OffsetDateTime,
    /// Imported from the original's `budget-<date>.json` (an active task there); it reserves
    /// nothing and expires at that day's midnight.
    pub legacy: bool,
}

/// One sender's standing on the current budget day.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Usage {
    /// The sender.
    pub actor: String,
    /// The budget day.
    pub date: Date,
    /// The sender's trust tier name.
    pub trust_tier: String,
    /// The tier's limits; `tier.daily_token_limit` is the sender's budget (0 = unlimited).
    pub tier: TierConfig,
    /// Tokens reported used today (completions and `record_usage`): the original's
    /// `tokens_today`.
    pub tokens_used: u64,
    /// Tokens reserved by the sender's active admissions.
    pub tokens_reserved: u64,
    /// Tasks admitted today.
    pub tasks_today: u64,
    /// Tasks admitted in the last hour (what the tasks-per-hour rule counts).
    pub tasks_this_hour: u64,
    /// The sender's active admissions, oldest first.
    pub active: Vec<ActiveAdmission>,
}

impl Usage {
    /// Tokens the sender may still reserve or use today; `None` when unlimited.
    pub fn tokens_remaining(&self) -> Option<u64> {
        (self.tier.daily_token_limit > 0).then(|| {
            self.tier
                .daily_token_limit
                .saturating_sub(self.tokens_used.saturating_add(self.tokens_reserved))
        })
    }
}

/// One sender's line of the [`DailySummary`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderSummary {
    /// Tokens used today.
    pub tokens_used: u64,
    /// Tokens reserved by active admissions.
    pub tokens_reserved: u64,
    /// Tasks admitted today.
    pub tasks_today: u64,
    /// Active admissions.
    pub active_tasks: u64,
}

/// Everyone's usage on the current budget day, reserved against used.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DailySummary {
    /// The budget day.
    pub date: Date,
    /// Tokens used today by everyone: the original's `total_tokens`.
    pub total_tokens_used: u64,
    /// Tokens reserved by all active admissions.
    pub total_tokens_reserved: u64,
    /// The global daily budget; `None` when unlimited.
    pub daily_budget_tokens: Option<u64>,
    /// Active admissions of all senders.
    pub active_tasks: u64,
    /// The queue depth limit.
    pub max_queue_depth: u64,
    /// Every sender with usage today or an active admission.
    pub by_sender: BTreeMap<String, SenderSummary>,
}

impl fmt::Display for DailySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let budget = self
            .daily_budget_tokens
            .map_or_else(|| "unlimited".to_owned(), grouped);
        writeln!(
            f,
            "{}: {} used + {} reserved of {budget} tokens; {}/{} active tasks",
            self.date,
            grouped(self.total_tokens_used),
            grouped(self.total_tokens_reserved),
            self.active_tasks,
            self.max_queue_depth
        )?;
        for (actor, sender) in &self.by_sender {
            writeln!(
                f,
                "  {actor}: {} used + {} reserved, admitted today: {}, active: {}",
                grouped(sender.tokens_used),
                grouped(sender.tokens_reserved),
                sender.tasks_today,
                sender.active_tasks
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ActiveAdmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} reserves {} tokens, admitted {}{}",
            self.id,
            self.actor,
            grouped(self.reserved_tokens),
            format_time(self.admitted_at),
            if self.legacy {
                " (from the original's budget file)"
            } else {
                ""
            }
        )
    }
}
