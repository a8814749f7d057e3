//! `msg usage`: the governor's figures, and `msg usage explain`: a dry run of its rules.

use argh::{ArgsInfo, FromArgs};
use msg_core::figures::grouped;

use crate::cli::{json, print};
use crate::context::Context;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Show the governor's figures for today: tokens used and reserved, active tasks.
#[argh(subcommand, name = "usage", help_triggers("-h", "--help"))]
pub(super) struct Usage {
    /// one sender's figures instead
    #[argh(option)]
    actor: Option<String>,
    /// print JSON
    #[argh(switch)]
    json: bool,
    #[argh(subcommand)]
    command: Option<UsageCommand>,
}

// An enum, not `Option<Explain>`: argh's `ArgsInfo` lists the subcommands of an enum only
// (the completions and man pages are built from it).
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum UsageCommand {
    Explain(Explain),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Say whether the governor would admit a task from ACTOR now, rule by rule, without
/// recording anything. Exit 0 when it would, 1 when it would refuse.
#[argh(subcommand, name = "explain", help_triggers("-h", "--help"))]
struct Explain {
    /// the sender
    #[argh(positional)]
    actor: String,
    /// estimated tokens of the task (default 0)
    #[argh(option, default = "0")]
    tokens: u64,
    /// estimated effort of the task (default 0)
    #[argh(option, default = "0")]
    effort: u64,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Usage {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let governor = ctx.governor()?;
        if let Some(UsageCommand::Explain(explain)) = &self.command {
            let explanation = governor.explain(&explain.actor, explain.tokens, explain.effort)?;
            if explain.json || self.json {
                print(&json::to_text(&json::explanation(&explanation)))?;
            } else {
                print(&explanation.to_string())?;
            }
            // Like `msg doctor`: a refusal is exit 1, so a script can test it.
            if !explanation.allowed() {
                return Err(anyhow::anyhow!(
                    "the governor would refuse a task from {} now",
                    explain.actor
                ));
            }
            return Ok(());
        }
        if let Some(actor) = &self.actor {
            let usage = governor.usage(actor)?;
            if self.json {
                return print(&json::to_text(&json::usage(&usage)));
            }
            let limit = match usage.tier.daily_token_limit {
                0 => "unlimited".to_owned(),
                limit => grouped(limit),
            };
            let mut out = format!(
                "{} (tier {}), {}:\n  tokens: {} used + {} reserved of {limit}{}\n  tasks: {} today, {} in the last hour, {} active\n",
                usage.actor,
                usage.trust_tier,
                usage.date,
                grouped(usage.tokens_used),
                grouped(usage.tokens_reserved),
                usage
                    .tokens_remaining()
                    .map(|left| format!(" ({} left)", grouped(left)))
                    .unwrap_or_default(),
                usage.tasks_today,
                usage.tasks_this_hour,
                usage.active.len(),
            );
            for admission in &usage.active {
                out.push_str(&format!("  {admission}\n"));
            }
            return print(&out);
        }
        let summary = governor.daily_summary()?;
        let active = governor.active_admissions()?;
        if self.json {
            return print(&json::to_text(&json::summary(&summary, &active)));
        }
        let mut out = summary.to_string();
        if !active.is_empty() {
            out.push_str("Active admissions:\n");
            for admission in &active {
                out.push_str(&format!("  {admission}\n"));
            }
        }
        print(&out)
    }
}
