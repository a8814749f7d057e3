//! `msg init`: a settings file and a space from the templates, without touching anything that
//! exists.

use std::path::{Path, PathBuf};

use msg_core::config::Settings;
use msg_core::durable;
use msg_core::paths::Paths;

use crate::context::Context;
use crate::error::HooksError;

/// `templates/settings.local.yaml.example`: every setting with its default.
pub(crate) const SETTINGS_TEMPLATE: &str =
    include_str!("../../../../templates/settings.local.yaml.example");
/// `templates/inbox.org`: the header of a new inbox or outbox (the store writes the same).
pub(crate) const INBOX_TEMPLATE: &str = include_str!("../../../../templates/inbox.org");

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Created from a template (or with its header).
    Created(PathBuf),
    /// It existed and was left as it was.
    Kept(PathBuf),
}

impl Step {
    /// `created <path>` or `kept <path> (it exists)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Step::Created(path) => format!("created {}", path.display()),
            Step::Kept(path) => format!("kept    {} (it exists)", path.display()),
        }
    }
}

/// What `msg init` did.
#[derive(Debug, Clone)]
pub(crate) struct InitReport {
    /// One step per file, in order.
    pub(crate) steps: Vec<Step>,
    /// The context the space was made for.
    pub(crate) context: Context,
    /// A note for the person (for example: the settings file names someone else).
    pub(crate) notes: Vec<String>,
}

/// Creates what is missing below `paths`: the settings file (with `identity.name` = `name`,
/// default `$USER`, who is made `owner`, and `default_space` = `space` when given), then
/// the space's `contacts.yaml`, `inbox.org`, `outbox.org` and the agent's task file.
pub(crate) fn init(
    paths: &Paths,
    space: Option<&str>,
    name: Option<&str>,
) -> Result<InitReport, HooksError> {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let settings_path = paths.settings_file();
    if settings_path.exists() {
        let settings = Settings::load(paths.root())?;
        if let Some(name) = name.filter(|name| *name != settings.username()) {
            notes.push(format!(
                "the settings file names you {:?}, not {name:?}; edit identity.name in {} to change it",
                settings.username(),
                settings_path.display()
            ));
        }
        steps.push(Step::Kept(settings_path));
    } else {
        let name = match name {
            Some(name) => name.to_owned(),
            None => Settings::default().username(),
        };
        let text = settings_text(&name, space)?;
        create(&settings_path, text.as_bytes())?;
        steps.push(Step::Created(settings_path));
    }
    let context = Context::load(Some(paths.root()), space)?;
    let space_dir = context.paths().space_dir(context.space())?;
    let contacts = context.paths().contacts_file(context.space())?;
    if contacts.exists() {
        steps.push(Step::Kept(contacts));
    } else {
        std::fs::create_dir_all(&space_dir).map_err(HooksError::io("create", &space_dir))?;
        create(&contacts, crate::contacts::TEMPLATE.as_bytes())?;
        steps.push(Step::Created(contacts));
    }
    let inbox = context.inbox_file()?;
    let outbox = context.paths().outbox_file(context.space())?;
    let agent = context.agent_file(None)?;
    let existed: Vec<bool> = [&inbox, &outbox, &agent]
        .iter()
        .map(|p| p.exists())
        .collect();
    for path in [&inbox, &outbox] {
        if !path.exists() {
            create(path, INBOX_TEMPLATE.as_bytes())?;
        }
    }
    context.store()?;
    context.agent_inbox(None)?;
    for (path, existed) in [inbox, outbox, agent].into_iter().zip(existed) {
        steps.push(if existed {
            Step::Kept(path)
        } else {
            Step::Created(path)
        });
    }
    Ok(InitReport {
        steps,
        context,
        notes,
    })
}

/// The settings template with `identity.name`, the owner override and the space filled in.
fn settings_text(name: &str, space: Option<&str>) -> Result<String, HooksError> {
    msg_core::validate::actor("name", name)?;
    msg_core::validate::path_component(
        "agent",
        &format!("{name}{}", crate::context::AGENT_SUFFIX),
    )?;
    if let Some(space) = space {
        msg_core::validate::path_component("space", space)?;
    }
    // JSON strings are YAML double-quoted scalars: any name stays one value.
    let quoted = serde_json::to_string(name).expect("strings serialise");
    let mut text = String::with_capacity(SETTINGS_TEMPLATE.len() + 64);
    for line in SETTINGS_TEMPLATE.lines() {
        let replaced = match line {
            "  #name: yourname" => format!("  name: {quoted}"),
            "    #yourname: owner" => format!(
                "    {quoted}: owner    # you: your own tasks are accepted, your text trusted"
            ),
            "  #default_space: 0-personal" => match space {
                Some(space) => format!(
                    "  default_space: {}",
                    serde_json::to_string(space).expect("strings serialise")
                ),
                None => line.to_owned(),
            },
            _ => line.to_owned(),
        };
        text.push_str(&replaced);
        text.push('\n');
    }
    Ok(text)
}

/// Creates `path` (and its directory) with `bytes`, durably; never overwrites.
fn create(path: &Path, bytes: &[u8]) -> Result<(), HooksError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(HooksError::io("create the directory of", path))?;
    }
    durable::create_new(path, bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_name_the_user_as_owner() {
        let text = settings_text("o'neil\"x", Some("1-team")).unwrap();
        let settings = Settings::from_yaml_str(&text, Path::new("s.yaml")).unwrap();
        assert_eq!(settings.username(), "o'neil\"x");
        assert_eq!(settings.trust_tier("o'neil\"x"), "owner");
        assert_eq!(settings.default_space(), "1-team");
        assert!(settings.unknown_tiers_in_overrides().is_empty());
        // Everything else keeps its default.
        assert_eq!(settings.compute(), Settings::default().compute());
        let text = settings_text("gregor", None).unwrap();
        let settings = Settings::from_yaml_str(&text, Path::new("s.yaml")).unwrap();
        assert_eq!(settings.default_space(), "0-personal");
        assert!(settings_text("a/b", None).is_err());
        assert!(settings_text("a\nb", None).is_err());
    }

    #[test]
    fn the_inbox_template_is_the_header_the_store_writes() {
        assert_eq!(INBOX_TEMPLATE, format!("#+TODO: {}\n", msg_store::STATES));
    }
}
