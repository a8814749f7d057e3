//! `msg whoami`: who you are here and where your files are, for people and for programs
//! (the Emacs package watches and lists these files).

use argh::{ArgsInfo, FromArgs};
use serde_json::json;

use crate::cli::{json, print};
use crate::context::Context;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Show who you are (your name, your agents) and where your messaging files are.
#[argh(subcommand, name = "whoami", help_triggers("-h", "--help"))]
pub(super) struct Whoami {
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Whoami {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let paths = ctx.paths();
        let space = ctx.space();
        let agents = ctx.local_agents();
        let mut agent_files = Vec::new();
        for agent in &agents {
            agent_files.push(json!({
                "agent": agent,
                "file": paths.agent_file(space, agent)?,
            }));
        }
        if self.json {
            return print(&json::to_text(&json!({
                "user": ctx.user(),
                "trust_tier": ctx.trust_tier(ctx.user()),
                "agent": ctx.agent(),
                "agents": agents,
                "space": space,
                "root": paths.root(),
                "settings_file": paths.settings_file(),
                "contacts_file": paths.contacts_file(space)?,
                "messaging_dir": paths.messaging_dir(space)?,
                "inbox": paths.inbox_file(space)?,
                "outbox": paths.outbox_file(space)?,
                "agent_files": agent_files,
            })));
        }
        let mut out = format!(
            "You are {} ({}), in space {space} of {}.\nYour agents: {}.\n",
            ctx.user(),
            ctx.trust_tier(ctx.user()),
            paths.root().display(),
            agents.join(", ")
        );
        out.push_str(&format!(
            "Inbox:  {}\nOutbox: {}\n",
            paths.inbox_file(space)?.display(),
            paths.outbox_file(space)?.display()
        ));
        for agent in &agents {
            out.push_str(&format!(
                "Tasks of {agent}: {}\n",
                paths.agent_file(space, agent)?.display()
            ));
        }
        print(&out)
    }
}
