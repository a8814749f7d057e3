//! The property names and fixed values of a task entry: the on-disk vocabulary, in one place.
//!
//! The names and values are the Python original's (reference §3.6), so files written by either
//! version read the same. New in this version: `REVISION_COUNT` and the numbered
//! `REVISION_FEEDBACK_<n>` history.

/// Submitting actor.
pub(crate) const FROM: &str = "FROM";
/// The tier name the caller gave.
pub(crate) const TRUST_TIER: &str = "TRUST_TIER";
/// When the task was submitted.
pub(crate) const SUBMITTED: &str = "SUBMITTED";
/// `auto_accepted` or `owner_approved`.
pub(crate) const APPROVAL: &str = "APPROVAL";
/// `owner-approval` while the task waits for the owner.
pub(crate) const AWAITING: &str = "AWAITING";
/// The sender's effort estimate.
pub(crate) const EFFORT: &str = "EFFORT";
/// The sender's token estimate.
pub(crate) const ESTIMATED_TOKENS: &str = "ESTIMATED_TOKENS";
/// `$` cost of the token estimate.
pub(crate) const ESTIMATED_COST: &str = "ESTIMATED_COST";
/// The task ID.
pub(crate) const ID: &str = "ID";
/// When the entry was created.
pub(crate) const CREATED: &str = "CREATED";
/// When the task was last claimed.
pub(crate) const STARTED: &str = "STARTED";
/// How often the task went back from WORKING to QUEUED.
pub(crate) const RETRY_COUNT: &str = "RETRY_COUNT";
/// The latest retry's reason.
pub(crate) const RETRY_REASON: &str = "RETRY_REASON";
/// When the task was last completed.
pub(crate) const COMPLETED: &str = "COMPLETED";
/// Tokens the task used.
pub(crate) const TOKENS_USED: &str = "TOKENS_USED";
/// What the task cost (free text, e.g. `$0.08`).
pub(crate) const COST: &str = "COST";
/// Where the result is.
pub(crate) const RESULT_PATH: &str = "RESULT_PATH";
/// The result's quality, two decimals.
pub(crate) const QUALITY_SCORE: &str = "QUALITY_SCORE";
/// How often the owner asked for a revision.
pub(crate) const REVISION_COUNT: &str = "REVISION_COUNT";
/// The latest revision feedback (as the original wrote it).
pub(crate) const REVISION_FEEDBACK: &str = "REVISION_FEEDBACK";
/// Why the owner rejected the task.
pub(crate) const REJECTION_REASON: &str = "REJECTION_REASON";
/// Why the owner cancelled the task.
pub(crate) const CANCELLATION_REASON: &str = "CANCELLATION_REASON";

/// `APPROVAL` of a task whose tier auto-accepts.
pub(crate) const AUTO_ACCEPTED: &str = "auto_accepted";
/// `APPROVAL` after the owner approved.
pub(crate) const OWNER_APPROVED: &str = "owner_approved";
/// `AWAITING` of a task waiting for the owner.
pub(crate) const OWNER_APPROVAL: &str = "owner-approval";

/// `REVISION_FEEDBACK_<n>`: the feedback of revision `n` (1-based), kept for good.
pub(crate) fn revision_feedback(n: u64) -> String {
    format!("{REVISION_FEEDBACK}_{n}")
}

/// The properties the inbox sets itself: a caller may not give them when creating a task.
const RESERVED: [&str; 22] = [
    FROM,
    TRUST_TIER,
    SUBMITTED,
    APPROVAL,
    AWAITING,
    EFFORT,
    ESTIMATED_TOKENS,
    ESTIMATED_COST,
    ID,
    CREATED,
    STARTED,
    RETRY_COUNT,
    RETRY_REASON,
    COMPLETED,
    TOKENS_USED,
    COST,
    RESULT_PATH,
    QUALITY_SCORE,
    REVISION_COUNT,
    REVISION_FEEDBACK,
    REJECTION_REASON,
    CANCELLATION_REASON,
];

/// Whether `key` (compared as Org does, ignoring case) is one the inbox sets itself,
/// `REVISION_FEEDBACK_<n>` included, or `PRIORITY`, which Org reads from the heading.
pub(crate) fn is_reserved(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    RESERVED.contains(&upper.as_str())
        || upper == "PRIORITY"
        || upper
            .strip_prefix(REVISION_FEEDBACK)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
