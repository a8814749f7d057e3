//! The `usage` tool: the governor's figures for today, one sender's, or a dry run of its
//! rules for a task of some size (`msg usage`, `msg usage explain`). Nothing is recorded.

use msg_core::figures::grouped;

use super::door::Door;
use super::input::ToolError;

/// `usage`: today's summary; with `sender`, that sender's figures; with `tokens` too,
/// whether the governor would admit a task of that size from them now.
pub(crate) fn usage(
    door: &Door,
    sender: Option<&str>,
    tokens: Option<u64>,
) -> Result<String, ToolError> {
    let governor = door.ctx().governor()?;
    let Some(sender) = sender else {
        if tokens.is_some() {
            return Err(ToolError::new(
                "`tokens`: a dry run needs the task's `sender` too; give both, or leave `tokens` out",
            ));
        }
        let summary = governor.daily_summary()?;
        return Ok(summary.to_string().trim_end().to_owned());
    };
    msg_core::validate::actor("sender", sender)?;
    if let Some(tokens) = tokens {
        let explanation = governor.explain(sender, tokens, 0)?;
        return Ok(explanation.to_string().trim_end().to_owned());
    }
    let usage = governor.usage(sender)?;
    let limit = match usage.tier.daily_token_limit {
        0 => "no daily limit".to_owned(),
        limit => format!("a daily limit of {}", grouped(limit)),
    };
    Ok(format!(
        "{} (tier {}) on {}: {} tokens used and {} reserved, {limit}; {} tasks today, {} in the last hour, {} active.",
        usage.actor,
        usage.trust_tier,
        usage.date,
        grouped(usage.tokens_used),
        grouped(usage.tokens_reserved),
        usage.tasks_today,
        usage.tasks_this_hour,
        usage.active.len()
    ))
}
