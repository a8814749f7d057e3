//! Where everything lives under `$DATACORE_ROOT` (DESIGN.md §2).
//!
//! [`Paths`] holds an absolute root, fixed when it is built: the Python original kept governor
//! state at a path relative to whatever the current directory happened to be. Every space and
//! agent name is checked with [`validate::path_component`] before it is joined, so a name like
//! `../x` cannot leave its directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::validate::{self, ValidationError};

/// The settings file below `root` (shared with [`crate::config::Settings::load`]).
pub(crate) fn settings_file_under(root: &Path) -> PathBuf {
    root.join(".datacore").join("settings.local.yaml")
}

/// The on-disk layout below one Datacore root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    /// The root from `$DATACORE_ROOT`, else `$HOME/Data`, made absolute against the current
    /// directory now, so that a later `chdir` cannot move it.
    pub fn from_env() -> Paths {
        let home = std::env::home_dir().map(OsString::from);
        Paths::from_vars(std::env::var_os("DATACORE_ROOT"), home, &current_dir())
    }

    /// [`Paths::from_env`] with the environment passed in. Empty values count as unset. A
    /// relative root is joined to `cwd`, which should be absolute. Without a root or a home
    /// directory, the root is `<cwd>/Data`.
    pub fn from_vars(datacore_root: Option<OsString>, home: Option<OsString>, cwd: &Path) -> Paths {
        let set = |value: Option<OsString>| value.filter(|value| !value.is_empty());
        let root = match (set(datacore_root), set(home)) {
            (Some(root), _) => PathBuf::from(root),
            (None, Some(home)) => Path::new(&home).join("Data"),
            (None, None) => PathBuf::from("Data"),
        };
        // `join` keeps an absolute root as it is.
        Paths {
            root: cwd.join(root),
        }
    }

    /// The layout below `root`; a relative root is made absolute against the current
    /// directory now.
    pub fn new(root: impl Into<PathBuf>) -> Paths {
        let root = root.into();
        if root.is_absolute() {
            return Paths { root };
        }
        Paths {
            root: current_dir().join(root),
        }
    }

    /// The root (`$DATACORE_ROOT`), always absolute.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/.datacore/settings.local.yaml`.
    pub fn settings_file(&self) -> PathBuf {
        settings_file_under(&self.root)
    }

    /// `<root>/.datacore/state/messaging`: the governor's budget files.
    pub fn governor_state_dir(&self) -> PathBuf {
        self.root.join(".datacore").join("state").join("messaging")
    }

    /// `<root>/<space>`.
    pub fn space_dir(&self, space: &str) -> Result<PathBuf, ValidationError> {
        validate::path_component("space", space)?;
        Ok(self.root.join(space))
    }

    /// `<root>/<space>/org/messaging`.
    pub fn messaging_dir(&self, space: &str) -> Result<PathBuf, ValidationError> {
        Ok(self.space_dir(space)?.join("org").join("messaging"))
    }

    /// `<root>/<space>/org/messaging/inbox.org`: the universal inbox.
    pub fn inbox_file(&self, space: &str) -> Result<PathBuf, ValidationError> {
        Ok(self.messaging_dir(space)?.join("inbox.org"))
    }

    /// `<root>/<space>/org/messaging/outbox.org`: the sent log.
    pub fn outbox_file(&self, space: &str) -> Result<PathBuf, ValidationError> {
        Ok(self.messaging_dir(space)?.join("outbox.org"))
    }

    /// `<root>/<space>/org/messaging/agents`.
    pub fn agents_dir(&self, space: &str) -> Result<PathBuf, ValidationError> {
        Ok(self.messaging_dir(space)?.join("agents"))
    }

    /// `<root>/<space>/org/messaging/agents/<agent>.org`: one agent's task file.
    pub fn agent_file(&self, space: &str, agent: &str) -> Result<PathBuf, ValidationError> {
        validate::path_component("agent", agent)?;
        Ok(self.agents_dir(space)?.join(format!("{agent}.org")))
    }

    /// `<root>/<space>/contacts.yaml`: the space's actors and their trust tiers.
    pub fn contacts_file(&self, space: &str) -> Result<PathBuf, ValidationError> {
        Ok(self.space_dir(space)?.join("contacts.yaml"))
    }
}

/// The current directory. When it has been deleted there is nothing to resolve against; `/`
/// at least keeps the root absolute (and matters only for a relative root).
fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths::new("/data")
    }

    #[test]
    fn layout_matches_the_design() {
        let paths = paths();
        assert_eq!(paths.root(), Path::new("/data"));
        assert_eq!(
            paths.settings_file(),
            Path::new("/data/.datacore/settings.local.yaml")
        );
        assert_eq!(
            paths.governor_state_dir(),
            Path::new("/data/.datacore/state/messaging")
        );
        let space = "0-personal";
        assert_eq!(
            paths.space_dir(space).unwrap(),
            Path::new("/data/0-personal")
        );
        assert_eq!(
            paths.messaging_dir(space).unwrap(),
            Path::new("/data/0-personal/org/messaging")
        );
        assert_eq!(
            paths.inbox_file(space).unwrap(),
            Path::new("/data/0-personal/org/messaging/inbox.org")
        );
        assert_eq!(
            paths.outbox_file(space).unwrap(),
            Path::new("/data/0-personal/org/messaging/outbox.org")
        );
        assert_eq!(
            paths.agents_dir(space).unwrap(),
            Path::new("/data/0-personal/org/messaging/agents")
        );
        assert_eq!(
            paths.agent_file(space, "gregor-claude").unwrap(),
            Path::new("/data/0-personal/org/messaging/agents/gregor-claude.org")
        );
        assert_eq!(
            paths.contacts_file(space).unwrap(),
            Path::new("/data/0-personal/contacts.yaml")
        );
    }

    #[test]
    fn traversal_in_space_or_agent_names_is_rejected() {
        let paths = paths();
        for bad in ["..", "../etc", "a/b", ".datacore", "", "a\nb"] {
            let err = paths.inbox_file(bad).unwrap_err();
            assert!(err.to_string().starts_with("space"), "{bad:?}: {err}");
            assert!(paths.contacts_file(bad).is_err(), "{bad:?}");
            let err = paths.agent_file("0-personal", bad).unwrap_err();
            assert!(err.to_string().starts_with("agent"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn root_comes_from_datacore_root_then_home() {
        let cwd = Path::new("/work");
        let root = |dc: Option<&str>, home: Option<&str>| {
            Paths::from_vars(dc.map(Into::into), home.map(Into::into), cwd).root
        };
        assert_eq!(root(Some("/srv/dc"), Some("/home/g")), Path::new("/srv/dc"));
        assert_eq!(root(None, Some("/home/g")), Path::new("/home/g/Data"));
        assert_eq!(root(Some(""), Some("/home/g")), Path::new("/home/g/Data"));
        assert_eq!(root(None, None), Path::new("/work/Data"));
    }

    #[test]
    fn relative_root_is_resolved_once_against_cwd() {
        let paths = Paths::from_vars(Some("dc".into()), None, Path::new("/work"));
        assert_eq!(paths.root(), Path::new("/work/dc"));
        assert!(paths.governor_state_dir().is_absolute());
        assert_eq!(
            paths.governor_state_dir(),
            Path::new("/work/dc/.datacore/state/messaging")
        );
        assert!(Paths::new("relative").governor_state_dir().is_absolute());
    }
}
