//! What `admit` decides: an [`Admission`] that holds a reservation, or a [`Rejection`] that
//! says which rule failed, with its figures and when to retry.

use std::fmt;

use msg_core::config::TierConfig;
use time::OffsetDateTime;

use crate::rules::{Rule, RuleCheck, format_time};

/// The outcome of [`TaskGovernor::admit`](crate::TaskGovernor::admit).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every rule passed; the task is recorded and its tokens reserved.
    Admitted(Admission),
    /// A rule failed; nothing was recorded.
    Rejected(Rejection),
}

impl Decision {
    /// Whether the task was admitted.
    pub fn is_admitted(&self) -> bool {
        matches!(self, Decision::Admitted(_))
    }

    /// The admission, if the task was admitted.
    pub fn admission(&self) -> Option<&Admission> {
        match self {
            Decision::Admitted(admission) => Some(admission),
            Decision::Rejected(_) => None,
        }
    }

    /// The rejection, if the task was rejected.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Decision::Admitted(_) => None,
            Decision::Rejected(rejection) => Some(rejection),
        }
    }

    /// The sender's trust tier name.
    pub fn trust_tier(&self) -> &str {
        match self {
            Decision::Admitted(admission) => &admission.trust_tier,
            Decision::Rejected(rejection) => &rejection.trust_tier,
        }
    }

    /// The sender's tier limits. `tier().auto_accept` says whether an admitted task may be
    /// queued at once or waits for the owner's approval.
    pub fn tier(&self) -> &TierConfig {
        match self {
            Decision::Admitted(admission) => &admission.tier,
            Decision::Rejected(rejection) => &rejection.tier,
        }
    }
}

/// An admitted task. Its ID is what [`complete`](crate::TaskGovernor::complete) and
/// [`release`](crate::TaskGovernor::release) take; keep it with the task (an org property,
/// for example).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Admission {
    /// `adm-YYYYMMDD-HHMMSS-<n>`: unique within the state file.
    pub id: String,
    /// The sender.
    pub actor: String,
    /// The sender's trust tier name.
    pub trust_tier: String,
    /// The tier's limits (`auto_accept`, `priority_boost`, ...).
    pub tier: TierConfig,
    /// The tokens reserved for the task: its estimate.
    pub reserved_tokens: u64,
    /// The task's effort estimate.
    pub effort: u64,
    /// When it was admitted.
    pub admitted_at: OffsetDateTime,
}

/// A rejected task: which rule failed, its figures, and when to retry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rejection {
    /// The sender.
    pub actor: String,
    /// The sender's trust tier name.
    pub trust_tier: String,
    /// The tier's limits.
    pub tier: TierConfig,
    /// The first rule that failed, with its figures.
    pub check: RuleCheck,
    /// The reason in the original's wording with the figures: `Budget exceeded:
    /// 48,000/50,000 tokens today (...)`. It contains "budget", "rate" or "effort" where the
    /// original's did.
    pub reason: String,
}

impl Rejection {
    /// The rule that failed.
    pub fn rule(&self) -> Rule {
        self.check.rule
    }

    /// When the same request could pass, as far as this rule is concerned (see
    /// [`RuleCheck::retry_after`]).
    pub fn retry_after(&self) -> Option<OffsetDateTime> {
        self.check.retry_after
    }
}

impl fmt::Display for Rejection {
    /// `Rate limit: 5/5 tasks this hour; retry after 2026-11-24 11:02 +01:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.check.retry_after {
            Some(at) => write!(f, "{}; retry after {}", self.reason, format_time(at)),
            None => write!(f, "{}; {}", self.reason, self.check.hint()),
        }
    }
}
