//! [`Door`]: the agent the server serves, and what that agent may see.
//!
//! The agent is named once, when the server starts (`identity.name` + `-claude` from the
//! settings, or `msg mcp --agent NAME` for another local agent); nothing a session sends
//! changes it. What it may see:
//!
//! - messages addressed to it (in `inbox.org`: `TO` is the agent) and messages it sent
//!   (`FROM` is the agent, in `inbox.org` when sent to its owner, else in `outbox.org`);
//! - its own tasks (its file under `agents/`).
//!
//! Never the person's own mail: a message between the person and someone else is neither
//! listed nor found by ID (an ID of one is "not found", exactly like an ID that does not
//! exist), and no ID prefix resolves against it.

use msg_inbox::Task;
use msg_store::Message;

use crate::context::Context;
use crate::desk::lookup;
use crate::error::HooksError;
use msg_core::config::OWNER_TIER;

/// Where a message the agent may see is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folder {
    /// `inbox.org`: addressed to the agent, or sent by it to its owner.
    Inbox,
    /// `outbox.org`: sent by the agent to someone else.
    Outbox,
}

/// The agent a server serves, in its space.
#[derive(Debug, Clone)]
pub(crate) struct Door {
    ctx: Context,
    agent: String,
}

impl Door {
    /// The door of `agent` (default: the user's agent, `<user>-claude`). The caller has
    /// checked that `agent` is an agent of this machine ([`Context::local_agents`]).
    pub(crate) fn new(ctx: Context, agent: Option<&str>) -> Result<Door, HooksError> {
        let agent = agent.unwrap_or(ctx.agent()).to_owned();
        msg_core::validate::path_component("agent", &agent)?;
        Ok(Door { ctx, agent })
    }

    /// Who runs the server, where.
    pub(crate) fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The agent.
    pub(crate) fn agent(&self) -> &str {
        &self.agent
    }

    /// Whether the agent may see `message`: addressed to it, or sent by it.
    pub(crate) fn may_see(&self, message: &Message) -> bool {
        message.from == self.agent || message.to.as_deref() == Some(self.agent.as_str())
    }

    /// Every message the agent may see, with where it is kept: the inbox's in file order,
    /// then the outbox's.
    pub(crate) fn messages(&self) -> Result<Vec<(Folder, Message)>, HooksError> {
        let Some(store) = self.ctx.existing_store()? else {
            return Ok(Vec::new());
        };
        let inbox = store.all()?.into_iter().map(|m| (Folder::Inbox, m));
        let outbox = store.sent()?.into_iter().map(|m| (Folder::Outbox, m));
        Ok(inbox
            .chain(outbox)
            .filter(|(_, m)| self.may_see(m))
            .collect())
    }

    /// The agent's tasks, in file order (none when it has no task file yet).
    pub(crate) fn tasks(&self) -> Result<Vec<Task>, HooksError> {
        match self.ctx.existing_agent_inbox(Some(&self.agent))? {
            Some(inbox) => Ok(inbox.tasks()?),
            None => Ok(Vec::new()),
        }
    }

    /// The message the agent may see whose ID is `given`, or the only one starting or
    /// ending with it; messages it may not see do not count.
    pub(crate) fn find_message(&self, given: &str) -> Result<(Folder, Message), HooksError> {
        let messages = self.messages()?;
        let id = lookup::resolve(
            given,
            messages.iter().map(|(_, m)| m.id.as_str()),
            "message of yours",
            &self.ctx.inbox_file()?,
        )?;
        Ok(messages
            .into_iter()
            .find(|(_, m)| m.id == id)
            .expect("resolved among these messages"))
    }

    /// Whether text from `actor` may be read as the owner's instructions.
    pub(crate) fn trusts(&self, actor: &str) -> bool {
        !actor.is_empty() && self.ctx.is_owner(actor)
    }

    /// The tier that decides how far a task's text is trusted, and whether it is the
    /// owner's: the sender's tier now, unless the task was submitted with a lower one.
    pub(crate) fn task_standing(&self, task: &Task) -> (String, bool) {
        let from = task.from().unwrap_or("");
        let tier_now = self.ctx.trust_tier(from);
        let trusted = self.trusts(from) && task.trust_tier().is_none_or(|tier| tier == OWNER_TIER);
        match task.trust_tier() {
            Some(recorded) if recorded != tier_now && !trusted => {
                (format!("{tier_now}, submitted as {recorded}"), false)
            }
            _ => (tier_now, trusted),
        }
    }
}

/// bob's agent in a root at `root`, bob the owner and alice of tier team: the unit tests'.
#[cfg(test)]
pub(crate) fn test_door(root: &std::path::Path) -> Door {
    let settings = msg_core::config::Settings::from_yaml_str(
        "identity: {name: bob}\nmessaging: {trust_overrides: {bob: owner, alice: team}}\n",
        std::path::Path::new("settings.local.yaml"),
    )
    .unwrap();
    let paths = msg_core::paths::Paths::new(root);
    Door::new(Context::new(paths, settings, None).unwrap(), None).unwrap()
}

#[cfg(test)]
mod tests {
    use super::test_door as door;
    use super::*;
    use msg_store::Incoming;

    fn deliver(door: &Door, from: &str, to: &str, id: &str) {
        door.ctx()
            .store()
            .unwrap()
            .receive(&Incoming {
                from: from.into(),
                to: to.into(),
                content: format!("text of {id}"),
                id: id.into(),
                ..Incoming::default()
            })
            .unwrap();
    }

    #[test]
    fn the_persons_own_mail_is_neither_listed_nor_found() {
        let dir = assert_fs::TempDir::new().unwrap();
        let door = door(dir.path());
        deliver(&door, "alice", "bob-claude", "msg-20261207-100000-aaaa1111");
        deliver(&door, "alice", "bob", "msg-20261207-100001-bbbb2222");
        let ids: Vec<String> = door
            .messages()
            .unwrap()
            .into_iter()
            .map(|(_, m)| m.id)
            .collect();
        assert_eq!(ids, ["msg-20261207-100000-aaaa1111"]);
        // Not by its whole ID, and a prefix both share resolves to the agent's only.
        let err = door
            .find_message("msg-20261207-100001-bbbb2222")
            .unwrap_err();
        assert!(err.to_string().starts_with("no message of yours"), "{err}");
        assert_eq!(
            door.find_message("msg-20261207-1000").unwrap().1.id,
            "msg-20261207-100000-aaaa1111"
        );
    }
}
