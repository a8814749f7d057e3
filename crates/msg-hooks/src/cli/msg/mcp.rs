//! `msg mcp`: the MCP server for your agent, on stdin/stdout.

use anyhow::Context as _;
use argh::{ArgsInfo, FromArgs};

use crate::cli;
use crate::context::Context;
use crate::mcp::{self, Door};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Serve the Model Context Protocol on stdin/stdout for your agent (<you>-claude): tools to
/// read its messages and tasks, send, claim, complete and return tasks, and see the
/// governor's figures; new tasks and messages are pushed as Claude Code channel
/// notifications. Claude Code starts it (plugin .mcp.json, or `claude mcp add msg -- msg
/// mcp`); it runs until stdin closes.
#[argh(subcommand, name = "mcp", help_triggers("-h", "--help"))]
pub(super) struct Mcp {
    /// the agent to serve, if not yours: one with a token in messaging.relay.agent_tokens
    #[argh(option)]
    agent: Option<String>,
}

/// Problems the running server reports: one line on stderr, which MCP clients keep in
/// their logs (stdout is the protocol's).
fn log(line: &str) {
    eprintln!("{line}");
}

impl Mcp {
    pub(super) fn run(self, ctx: Context) -> anyhow::Result<()> {
        if let Some(agent) = &self.agent {
            let local = ctx.local_agents();
            if !local.contains(agent) {
                return Err(cli::usage(format!(
                    "msg mcp: --agent {agent:?} is not an agent of this machine; give {} (yours{}), or add its relay token to messaging.relay.agent_tokens",
                    local[0],
                    if local.len() > 1 {
                        format!("; the others: {}", local[1..].join(", "))
                    } else {
                        String::new()
                    }
                )));
            }
        }
        let door = Door::new(ctx, self.agent.as_deref())?;
        // One thread serves the protocol; the tools run on blocking threads and push on
        // its own: an idle server sleeps in epoll and inotify.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(mcp::serve(door, log))?;
        Ok(())
    }
}
