//! The five rules, in the original's order (reference §6.6), and their figures.
//!
//! Every rule compares one sum with one limit: `used + reserved + requested <= limit`.
//!
//! | rule | used | reserved | requested | limit |
//! |---|---|---|---|---|
//! | effort | 0 | 0 | the task's effort | tier `max_task_effort`, 0 = unlimited |
//! | sender budget | the sender's tokens today | the sender's active reservations | estimated tokens | tier `daily_token_limit`, 0 = unlimited |
//! | global budget | everyone's tokens today | all active reservations | estimated tokens | `daily_budget_tokens`, 0 = unlimited |
//! | tasks per hour | the sender's admissions in the last hour | 0 | 1 | `rate_limits.tasks_per_hour` |
//! | queue depth | active admissions (all senders) | 0 | 1 | `max_queue_depth` |
//!
//! This is the original's arithmetic (`>` for budgets, `>=` for rate and queue) with
//! reservations added. As in the original, a tasks-per-hour or queue-depth limit of 0 rejects
//! every task, while 0 means unlimited for the other three.

use std::fmt;

use msg_core::config::{ComputeConfig, TierConfig};
use msg_core::figures::grouped;
use time::{Date, Duration, OffsetDateTime};

use crate::state::{State, from_unix_seconds, unix_seconds};

/// One of the governor's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// The task's effort against the sender's tier limit.
    Effort,
    /// The sender's tokens today (used and reserved) against the tier's daily limit.
    SenderBudget,
    /// Everyone's tokens today against the global daily budget.
    GlobalBudget,
    /// The sender's admissions in the last hour against `tasks_per_hour`.
    TasksPerHour,
    /// Active tasks of all senders against `max_queue_depth`.
    QueueDepth,
}

impl Rule {
    /// Every rule, in the order they are checked.
    pub const ALL: [Rule; 5] = [
        Rule::Effort,
        Rule::SenderBudget,
        Rule::GlobalBudget,
        Rule::TasksPerHour,
        Rule::QueueDepth,
    ];

    /// A stable key for machine-readable output: `effort`, `sender_budget`, `global_budget`,
    /// `tasks_per_hour`, `queue_depth`.
    pub fn key(self) -> &'static str {
        match self {
            Rule::Effort => "effort",
            Rule::SenderBudget => "sender_budget",
            Rule::GlobalBudget => "global_budget",
            Rule::TasksPerHour => "tasks_per_hour",
            Rule::QueueDepth => "queue_depth",
        }
    }

    /// What the rule counts, for messages: `tokens today`, `tasks this hour`, ...
    fn unit(self) -> &'static str {
        match self {
            Rule::Effort => "",
            Rule::SenderBudget | Rule::GlobalBudget => "tokens today",
            Rule::TasksPerHour => "tasks this hour",
            Rule::QueueDepth => "active tasks",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Effort => "effort",
            Rule::SenderBudget => "sender budget",
            Rule::GlobalBudget => "global budget",
            Rule::TasksPerHour => "tasks per hour",
            Rule::QueueDepth => "queue depth",
        })
    }
}

/// One rule applied to one task: the figures and the verdict.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuleCheck {
    /// The rule.
    pub rule: Rule,
    /// What already counts against the limit, apart from reservations (see the table in the
    /// crate docs): tokens used today, admissions in the last hour, active tasks; 0 for effort.
    pub used: u64,
    /// Tokens reserved by active admissions (budget rules only, else 0).
    pub reserved: u64,
    /// What this task adds: its effort, its estimated tokens, or 1 task.
    pub requested: u64,
    /// The limit; `None` when the rule is unlimited (a limit of 0 for effort and budgets).
    pub limit: Option<u64>,
    /// Whether the task passes this rule.
    pub passed: bool,
    /// For a failed rule, the earliest time at which the same request could pass on its own
    /// account: the next local midnight for the budgets, the time the oldest admission leaves
    /// the hourly window for tasks per hour. `None` when waiting cannot help (effort, a task
    /// larger than the whole daily limit, a limit of 0) or depends on other tasks completing
    /// (queue depth).
    pub retry_after: Option<OffsetDateTime>,
}

impl RuleCheck {
    /// `used + reserved`: what counts against the limit before this task.
    pub fn committed(&self) -> u64 {
        self.used.saturating_add(self.reserved)
    }

    /// The original's reason text (reference §6.6), with the figures behind it: `Budget
    /// exceeded: 48,000/50,000 tokens today (40,000 used, 8,000 reserved, 5,000 requested)`.
    /// Meant for failed checks; a passed check gets the same figures.
    pub fn reason(&self) -> String {
        let limit = self.limit.map_or_else(|| "unlimited".to_owned(), grouped);
        match self.rule {
            Rule::Effort => format!("Effort {} exceeds tier limit {limit}", self.requested),
            Rule::SenderBudget | Rule::GlobalBudget => format!(
                "{} exceeded: {}/{limit} tokens today ({} used, {} reserved, {} requested)",
                if self.rule == Rule::SenderBudget {
                    "Budget"
                } else {
                    "Global budget"
                },
                grouped(self.committed()),
                grouped(self.used),
                grouped(self.reserved),
                grouped(self.requested),
            ),
            Rule::TasksPerHour => format!("Rate limit: {}/{limit} tasks this hour", self.used),
            Rule::QueueDepth => format!("Queue full: {}/{limit} active tasks", self.used),
        }
    }
}

impl fmt::Display for RuleCheck {
    /// One line of [`Explanation`]: `sender budget: 12,000 used + 3,000 reserved + 5,000
    /// requested = 20,000 of 100,000 tokens today: ok`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.rule)?;
        let total = self.committed().saturating_add(self.requested);
        match self.rule {
            Rule::Effort => write!(f, "{}", self.requested)?,
            Rule::SenderBudget | Rule::GlobalBudget => write!(
                f,
                "{} used + {} reserved + {} requested = {}",
                grouped(self.used),
                grouped(self.reserved),
                grouped(self.requested),
                grouped(total)
            )?,
            Rule::TasksPerHour => write!(f, "{} in the last hour + 1 = {total}", self.used)?,
            Rule::QueueDepth => write!(f, "{} active + 1 = {total}", self.used)?,
        }
        match self.limit {
            None => write!(f, " (unlimited)")?,
            Some(limit) if self.rule == Rule::Effort => write!(f, " of at most {limit}")?,
            Some(limit) => write!(f, " of {} {}", grouped(limit), self.rule.unit())?,
        }
        if self.passed {
            return write!(f, ": ok");
        }
        write!(f, ": rejected")?;
        match self.retry_after {
            Some(at) => write!(f, ", retry after {}", format_time(at)),
            None => write!(f, ", {}", self.hint()),
        }
    }
}

impl RuleCheck {
    /// What to do about a failed rule when waiting alone does not help.
    pub(crate) fn hint(&self) -> &'static str {
        match self.rule {
            Rule::Effort => "split the task or give the sender a higher trust tier",
            Rule::SenderBudget | Rule::GlobalBudget => {
                "the task alone needs more than the daily limit"
            }
            Rule::TasksPerHour => "the limit of 0 blocks every task",
            Rule::QueueDepth if self.limit == Some(0) => "the limit of 0 blocks every task",
            Rule::QueueDepth => "retry when an active task completes or is released",
        }
    }
}

/// A dry run of the rules for one task: every rule's figures and verdict.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Explanation {
    /// The sender.
    pub actor: String,
    /// The sender's trust tier name (from `messaging.trust_overrides`, else `unknown`).
    pub trust_tier: String,
    /// The tier's limits, as resolved from the settings.
    pub tier: TierConfig,
    /// The budget day: the calendar day of [`Explanation::at`].
    pub date: Date,
    /// When the rules were evaluated.
    pub at: OffsetDateTime,
    /// Every rule, in the order they are checked.
    pub checks: Vec<RuleCheck>,
}

impl Explanation {
    /// Whether every rule passes, i.e. `admit` would admit the task now.
    pub fn allowed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// The first rule that fails: the one `admit` would report.
    pub fn first_failure(&self) -> Option<&RuleCheck> {
        self.checks.iter().find(|check| !check.passed)
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (tier {}{}), budget day {}: {}",
            self.actor,
            self.trust_tier,
            if self.tier.auto_accept {
                ", auto-accept"
            } else {
                ", needs approval"
            },
            self.date,
            match self.first_failure() {
                None => "would be admitted".to_owned(),
                Some(check) => format!("would be rejected by {}", check.rule),
            }
        )?;
        for check in &self.checks {
            writeln!(f, "  {check}")?;
        }
        Ok(())
    }
}

/// What the rules need to know about one task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) actor: &'a str,
    pub(crate) estimated_tokens: u64,
    pub(crate) effort: u64,
    pub(crate) tier: &'a TierConfig,
    pub(crate) compute: &'a ComputeConfig,
    pub(crate) now: OffsetDateTime,
}

/// Applies every rule to `request` against `state`, in order.
pub(crate) fn evaluate(state: &State, request: &Request<'_>) -> Vec<RuleCheck> {
    let today = request.now.date().to_string();
    let next_midnight = next_midnight(request.now);
    let unlimited_if_zero = |limit: u64| (limit > 0).then_some(limit);

    let budget = |rule, used: u64, reserved: u64, limit: u64| {
        let limit = unlimited_if_zero(limit);
        let passed = fits(
            used.saturating_add(reserved),
            request.estimated_tokens,
            limit,
        );
        // Waiting for midnight helps only a task that fits into an empty day.
        let fits_a_day = fits(0, request.estimated_tokens, limit);
        RuleCheck {
            rule,
            used,
            reserved,
            requested: request.estimated_tokens,
            limit,
            passed,
            retry_after: if passed || !fits_a_day {
                None
            } else {
                next_midnight
            },
        }
    };

    let effort_limit = unlimited_if_zero(request.tier.max_task_effort);
    let effort = RuleCheck {
        rule: Rule::Effort,
        used: 0,
        reserved: 0,
        requested: request.effort,
        limit: effort_limit,
        passed: fits(0, request.effort, effort_limit),
        retry_after: None,
    };

    let sender_budget = budget(
        Rule::SenderBudget,
        state.day_usage(&today, request.actor).tokens_used,
        state.reserved_by(request.actor),
        request.tier.daily_token_limit,
    );
    let global_budget = budget(
        Rule::GlobalBudget,
        state.total_used(&today),
        state.total_reserved(),
        request.compute.daily_budget_tokens,
    );

    let recent = state.recent_admissions(request.actor, unix_seconds(request.now));
    let per_hour = request.compute.tasks_per_hour;
    let recent_count = recent.len() as u64;
    let rate_passed = fits(recent_count, 1, Some(per_hour));
    // The slot opens when enough of the oldest admissions have left the window that one
    // more fits: with `n` recent and a limit of `l`, when the (n - l + 1)th oldest leaves.
    let slot_opens = (!rate_passed && per_hour > 0)
        .then(|| usize::try_from(recent_count - per_hour).ok())
        .flatten()
        .and_then(|index| recent.get(index))
        .map(|&oldest| from_unix_seconds(oldest, request.now) + Duration::HOUR);
    let tasks_per_hour = RuleCheck {
        rule: Rule::TasksPerHour,
        used: recent_count,
        reserved: 0,
        requested: 1,
        limit: Some(per_hour),
        passed: rate_passed,
        retry_after: slot_opens,
    };

    let active = state.admissions.len() as u64;
    let queue_depth = RuleCheck {
        rule: Rule::QueueDepth,
        used: active,
        reserved: 0,
        requested: 1,
        limit: Some(request.compute.max_queue_depth),
        passed: fits(active, 1, Some(request.compute.max_queue_depth)),
        retry_after: None,
    };

    vec![
        effort,
        sender_budget,
        global_budget,
        tasks_per_hour,
        queue_depth,
    ]
}

/// `committed + requested <= limit`, where a sum past `u64::MAX` fits no limit; `None` is
/// unlimited.
fn fits(committed: u64, requested: u64, limit: Option<u64>) -> bool {
    limit.is_none_or(|limit| {
        committed
            .checked_add(requested)
            .is_some_and(|total| total <= limit)
    })
}

/// The start of the next calendar day in `now`'s offset.
pub(crate) fn next_midnight(now: OffsetDateTime) -> Option<OffsetDateTime> {
    now.date()
        .next_day()
        .map(|day| day.midnight().assume_offset(now.offset()))
}

/// `2026-11-25 00:00 +01:00`.
pub(crate) fn format_time(at: OffsetDateTime) -> String {
    let (hours, minutes, _) = at.offset().as_hms();
    let sign = if at.offset().is_negative() { '-' } else { '+' };
    format!(
        "{} {:02}:{:02} {sign}{:02}:{:02}",
        at.date(),
        at.hour(),
        at.minute(),
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_show_their_offset() {
        assert_eq!(
            format_time(datetime!(2026-11-25 00:00 +01:00)),
            "2026-11-25 00:00 +01:00"
        );
        assert_eq!(
            format_time(datetime!(2026-11-25 09:05 -05:30)),
            "2026-11-25 09:05 -05:30"
        );
        assert_eq!(
            next_midnight(datetime!(2026-12-31 23:59:59 -05:00)),
            Some(datetime!(2027-01-01 00:00 -05:00))
        );
    }

    #[test]
    fn reasons_keep_the_original_wording() {
        let check = |rule, used, reserved, requested, limit| RuleCheck {
            rule,
            used,
            reserved,
            requested,
            limit,
            passed: false,
            retry_after: None,
        };
        assert_eq!(
            check(Rule::Effort, 0, 0, 5, Some(3)).reason(),
            "Effort 5 exceeds tier limit 3"
        );
        assert_eq!(
            check(Rule::SenderBudget, 40_000, 8_000, 5_000, Some(50_000)).reason(),
            "Budget exceeded: 48,000/50,000 tokens today (40,000 used, 8,000 reserved, 5,000 requested)"
        );
        assert!(
            check(Rule::GlobalBudget, 1, 0, 1, Some(1))
                .reason()
                .starts_with("Global budget exceeded: 1/1 tokens today")
        );
        assert_eq!(
            check(Rule::TasksPerHour, 5, 0, 1, Some(5)).reason(),
            "Rate limit: 5/5 tasks this hour"
        );
        assert_eq!(
            check(Rule::QueueDepth, 20, 0, 1, Some(20)).reason(),
            "Queue full: 20/20 active tasks"
        );
    }

    #[test]
    fn every_limit_compares_like_the_original() {
        // Budgets: rejected only when the sum goes over (`>`); rate and queue when the count
        // reaches the limit (`>=`), which is the same as `count + 1 > limit`.
        assert!(fits(6_000, 4_000, Some(10_000)));
        assert!(!fits(6_001, 4_000, Some(10_000)));
        assert!(fits(4, 1, Some(5)));
        assert!(!fits(5, 1, Some(5)));
        assert!(!fits(0, 1, Some(0)), "a rate or queue limit of 0 blocks");
        assert!(fits(u64::MAX, u64::MAX, None));
        assert!(!fits(u64::MAX, 1, Some(u64::MAX)));
    }
}
