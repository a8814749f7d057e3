//! [`Context`]: who is running the command, against which Datacore root and space.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_core::validate;
use msg_governor::TaskGovernor;
use msg_inbox::AgentInbox;
use msg_store::MessageStore;
use time::UtcOffset;

use crate::contacts::{self, ContactBook, ContactRow};
use crate::error::HooksError;
use crate::sighting::Sighting;
use msg_core::config::OWNER_TIER;

/// The suffix that makes a person's agent name: `gregor` → `gregor-claude`.
pub const AGENT_SUFFIX: &str = "-claude";

/// Everything a command needs to find its files and its identity: the Datacore root, the
/// settings loaded from it, the space, the local user (`identity.name`) and the user's agent
/// (`<user>-claude`).
#[derive(Debug, Clone)]
pub struct Context {
    paths: Paths,
    settings: Settings,
    space: String,
    user: String,
    agent: String,
    /// The settings file's fingerprint, taken before it was read (for the watcher): `None`
    /// when unknown (settings given to [`Context::new`]), `Some(None)` when there was no file.
    settings_print: Option<Option<Sighting>>,
    /// The settings with the tiers of `contacts.yaml` added (read on first use), and the
    /// problem with the contacts file if it could not be read. Shared by clones.
    effective: Arc<OnceLock<(Settings, Option<String>)>>,
}

impl Context {
    /// The context of `root` (else `$DATACORE_ROOT`, else `~/Data`) and `space` (else
    /// `messaging.default_space`, else `0-personal`). A malformed settings file is an error
    /// naming its line; a missing one gives the defaults.
    pub fn load(root: Option<&Path>, space: Option<&str>) -> Result<Context, HooksError> {
        let paths = match root {
            Some(root) => Paths::new(root),
            None => Paths::from_env(),
        };
        // Taken before reading, so that a change made while reading shows as a change later.
        let settings_print = Sighting::of(&paths.settings_file());
        let settings = Settings::load(paths.root())?;
        let mut ctx = Context::new(paths, settings, space)?;
        ctx.settings_print = Some(settings_print);
        Ok(ctx)
    }

    /// The context of already loaded settings.
    pub fn new(
        paths: Paths,
        settings: Settings,
        space: Option<&str>,
    ) -> Result<Context, HooksError> {
        let space = space
            .filter(|space| !space.is_empty())
            .unwrap_or(settings.default_space())
            .to_owned();
        validate::path_component("space", &space)?;
        let user = settings.username();
        validate::actor("identity.name", &user)?;
        let agent = format!("{user}{AGENT_SUFFIX}");
        Ok(Context {
            paths,
            settings,
            space,
            user,
            agent,
            settings_print: None,
            effective: Arc::new(OnceLock::new()),
        })
    }

    /// The settings file's fingerprint when it was loaded: `None` when unknown (settings
    /// given to [`Context::new`]), `Some(None)` when there was no file.
    pub(crate) fn settings_print(&self) -> Option<Option<Sighting>> {
        self.settings_print
    }

    /// The layout below the Datacore root.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The space.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// The local user: `identity.name`, else `$USER`, else `unknown`.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The local user's agent: `<user>-claude`.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// `messaging.utc_offset`, for `msg_core::timestamp::init_local_offset`.
    pub fn utc_offset(&self) -> Option<UtcOffset> {
        utc_offset(&self.settings)
    }

    /// The trust tier of `actor`: its `messaging.trust_overrides` entry, else its
    /// `trust_tier` in the space's `contacts.yaml`, else `unknown`.
    pub fn trust_tier(&self, actor: &str) -> String {
        self.effective_settings().trust_tier(actor)
    }

    /// Whether `actor` is an owner: its text may be read as instructions.
    pub fn is_owner(&self, actor: &str) -> bool {
        self.trust_tier(actor) == OWNER_TIER
    }

    /// This context with other settings (the cache of [`Context::effective_settings`] is
    /// not carried over).
    pub(crate) fn with_settings(&self, settings: Settings) -> Context {
        Context {
            settings,
            effective: Arc::new(OnceLock::new()),
            ..self.clone()
        }
    }

    /// The settings as the governor applies them: `messaging.trust_overrides` extended by
    /// the tiers `contacts.yaml` notes for actors the settings do not name (the settings
    /// win). A contacts file that cannot be read adds nothing: every sender it would have
    /// raised stays `unknown`, the lowest tier ([`Context::contacts_problem`] says why).
    pub fn effective_settings(&self) -> &Settings {
        &self.effective.get_or_init(|| self.with_contacts()).0
    }

    /// Why `contacts.yaml` could not be used for trust tiers, if it could not.
    pub fn contacts_problem(&self) -> Option<&str> {
        self.effective_settings();
        self.effective
            .get()
            .and_then(|(_, problem)| problem.as_deref())
    }

    fn with_contacts(&self) -> (Settings, Option<String>) {
        let mut settings = self.settings.clone();
        let contacts = self
            .paths
            .contacts_file(&self.space)
            .map_err(HooksError::from)
            .and_then(|path| contacts::load(&path));
        match contacts {
            Ok(contacts) => {
                let overrides = &mut settings.messaging.trust_overrides;
                for contact in contacts {
                    if let Some(tier) = contact.trust_tier.filter(|t| !t.trim().is_empty()) {
                        overrides.entry(contact.id).or_insert(tier);
                    }
                }
                (settings, None)
            }
            Err(err) => (settings, Some(err.to_string())),
        }
    }

    /// The local agents: the user's (`<user>-claude`) and each agent with a relay token
    /// (`messaging.relay.agent_tokens`), without duplicates, in that order.
    pub(crate) fn local_agents(&self) -> Vec<String> {
        let mut agents = vec![self.agent.clone()];
        for agent in self.settings.relay_agent_tokens().keys() {
            if !agents.contains(agent) && msg_core::validate::path_component("agent", agent).is_ok()
            {
                agents.push(agent.clone());
            }
        }
        agents
    }

    /// The actor a recipient names: `@handle` resolved through the space's `contacts.yaml`
    /// ([`contacts::resolve`]); anything else is taken as the actor ID it is (no file is
    /// read). A malformed contacts file is an error only for a `@handle`, which needs it.
    pub(crate) fn recipient(&self, given: &str) -> Result<String, HooksError> {
        if !given.starts_with('@') {
            return Ok(given.to_owned());
        }
        let path = self.paths.contacts_file(&self.space)?;
        contacts::resolve(&contacts::load(&path)?, given, &path)
    }

    /// The space's contacts, then the actors only the settings name, with the tier of each
    /// (`msg contacts`).
    pub(crate) fn contact_rows(&self) -> Result<(Vec<ContactRow>, ContactBook), HooksError> {
        let path = self.contacts_file()?;
        let book = contacts::load_book(&path)?;
        // Each group's members as actor IDs (a member no handle resolves stays as written).
        let groups: Vec<(&String, Vec<String>)> = book
            .groups
            .iter()
            .map(|(name, members)| {
                let ids = members
                    .iter()
                    .map(|m| {
                        contacts::resolve(&book.actors, m, &path).unwrap_or_else(|_| m.clone())
                    })
                    .collect();
                (name, ids)
            })
            .collect();
        let groups_of = |id: &str| -> Vec<String> {
            groups
                .iter()
                .filter(|(_, ids)| ids.iter().any(|m| m == id))
                .map(|(name, _)| (*name).clone())
                .collect()
        };
        let mut rows: Vec<ContactRow> = book
            .actors
            .iter()
            .map(|contact| ContactRow {
                id: contact.id.clone(),
                name: contact.name.clone(),
                handles: contact.handles.clone(),
                tier: self.trust_tier(&contact.id),
                noted_tier: contact.trust_tier.clone(),
                added: contact.added.clone(),
                in_contacts_file: true,
                groups: groups_of(&contact.id),
            })
            .collect();
        for (actor, tier) in &self.settings.messaging.trust_overrides {
            if book.actor(actor).is_none() {
                rows.push(ContactRow {
                    id: actor.clone(),
                    name: None,
                    handles: Vec::new(),
                    tier: tier.clone(),
                    noted_tier: None,
                    added: None,
                    in_contacts_file: false,
                    groups: groups_of(actor),
                });
            }
        }
        Ok((rows, book))
    }

    /// Whether `actor` is someone this root knows of: the user, a local agent, an actor
    /// with a tier in the settings, or a contact. A message to anyone else is sent all the
    /// same, with a warning: the name may be mistyped.
    pub(crate) fn knows(&self, actor: &str) -> bool {
        actor == self.user
            || self.local_agents().iter().any(|a| a == actor)
            || self.settings.messaging.trust_overrides.contains_key(actor)
            || self
                .contacts_file()
                .ok()
                .and_then(|path| contacts::load(&path).ok())
                .is_some_and(|actors| actors.iter().any(|c| c.id == actor))
    }

    /// The space's `contacts.yaml`.
    pub(crate) fn contacts_file(&self) -> Result<PathBuf, HooksError> {
        Ok(self.paths.contacts_file(&self.space)?)
    }

    /// `<space>/org/messaging/inbox.org`.
    pub fn inbox_file(&self) -> Result<PathBuf, HooksError> {
        Ok(self.paths.inbox_file(&self.space)?)
    }

    /// The task file of `agent` (default: the user's agent).
    pub fn agent_file(&self, agent: Option<&str>) -> Result<PathBuf, HooksError> {
        Ok(self
            .paths
            .agent_file(&self.space, agent.unwrap_or(&self.agent))?)
    }

    /// The space's message store (creating `inbox.org` and `outbox.org` when missing).
    pub fn store(&self) -> Result<MessageStore, HooksError> {
        Ok(MessageStore::for_space(&self.paths, &self.space)?)
    }

    /// The task file of `agent` (default: the user's agent), created when missing.
    pub fn agent_inbox(&self, agent: Option<&str>) -> Result<AgentInbox, HooksError> {
        let agent = agent.unwrap_or(&self.agent);
        Ok(AgentInbox::open(
            &self.paths,
            &self.space,
            agent,
            &self.settings,
        )?)
    }

    /// The space's message store, or `None` when it has no `inbox.org` yet: for commands
    /// that only read and should create nothing.
    pub fn existing_store(&self) -> Result<Option<MessageStore>, HooksError> {
        if !self.inbox_file()?.exists() {
            return Ok(None);
        }
        self.store().map(Some)
    }

    /// The task file of `agent` (default: the user's agent), or `None` when it does not
    /// exist: for commands that only read and should create nothing.
    pub fn existing_agent_inbox(
        &self,
        agent: Option<&str>,
    ) -> Result<Option<AgentInbox>, HooksError> {
        if !self.agent_file(agent)?.exists() {
            return Ok(None);
        }
        self.agent_inbox(agent).map(Some)
    }

    /// The governor, with its state in `<root>/.datacore/state/messaging`.
    pub fn governor(&self) -> Result<TaskGovernor, HooksError> {
        Ok(TaskGovernor::open(
            self.paths.governor_state_dir(),
            self.effective_settings().clone(),
        )?)
    }
}

/// `messaging.utc_offset` of `settings`, for `msg_core::timestamp::init_local_offset`.
pub fn utc_offset(settings: &Settings) -> Option<UtcOffset> {
    settings
        .utc_offset_seconds()
        .and_then(|seconds| UtcOffset::from_whole_seconds(seconds).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Settings {
        Settings::from_yaml_str(yaml, Path::new("settings.local.yaml")).unwrap()
    }

    #[test]
    fn identity_space_and_agent_come_from_the_settings() {
        let ctx = Context::new(
            Paths::new("/data"),
            settings("identity: {name: gregor}\nmessaging: {default_space: 1-team}\n"),
            None,
        )
        .unwrap();
        assert_eq!(
            (ctx.user(), ctx.agent(), ctx.space()),
            ("gregor", "gregor-claude", "1-team")
        );
        let ctx = Context::new(
            Paths::new("/data"),
            settings("identity: {name: gregor}\n"),
            Some("2-x"),
        )
        .unwrap();
        assert_eq!(ctx.space(), "2-x");
        assert_eq!(
            ctx.agent_file(None).unwrap(),
            Path::new("/data/2-x/org/messaging/agents/gregor-claude.org")
        );
    }

    #[test]
    fn names_that_would_leave_their_directory_are_refused() {
        let err = Context::new(Paths::new("/data"), settings(""), Some("../x")).unwrap_err();
        assert!(err.to_string().starts_with("space \"../x\""), "{err}");
        let ctx = Context::new(
            Paths::new("/data"),
            settings("identity: {name: a/b}\n"),
            None,
        )
        .unwrap();
        assert!(ctx.agent_file(None).is_err());
    }
}
