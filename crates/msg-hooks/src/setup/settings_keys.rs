//! `msg doctor`'s check of the settings' keys: a key under `identity:` or `messaging:` that
//! this module does not know is most likely a typo (`show_in_todya`), and a typo silently
//! means the default. The known keys are read from the settings template
//! (`templates/settings.local.yaml.example`, which documents every key: its own test says
//! so), keys commented out included, so a key added there is known here without a change.
//! Other top-level sections belong to other Datacore modules and are not looked at.

/// A key path of the template: `messaging.compute.max_queue_depth`, or with `*` for a level
/// whose keys are the person's own (actor IDs, tier names, agent names).
fn known_keys() -> Vec<String> {
    let mut keys = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in crate::setup::init::SETTINGS_TEMPLATE.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let text = trimmed.strip_prefix('#').unwrap_or(trimmed);
        let Some((key, value)) = text.split_once(':') else {
            continue;
        };
        let is_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '"')
            && !key.contains(' ')
            && (value.is_empty() || value.starts_with(' '));
        if !is_key {
            continue;
        }
        while stack.last().is_some_and(|(at, _)| *at >= indent) {
            stack.pop();
        }
        let parent = stack.last().map(|(_, path)| path.clone());
        let name = match parent.as_deref() {
            Some(p) if free(p) => "*".to_owned(),
            _ => key.trim_matches('"').to_owned(),
        };
        let path = match &parent {
            Some(parent) => format!("{parent}.{name}"),
            None => name,
        };
        // `{priority_boost: 2.0, …}`: the keys of a flow mapping on the line.
        if let Some(flow) = value.trim().strip_prefix('{') {
            for part in flow.trim_end_matches('}').split(',') {
                if let Some((inner, _)) = part.split_once(':') {
                    keys.push(format!("{path}.{}", inner.trim()));
                }
            }
        }
        keys.push(path.clone());
        stack.push((indent, path));
    }
    keys
}

/// Maps whose keys the person chooses.
fn free(path: &str) -> bool {
    matches!(
        path,
        "messaging.trust_overrides" | "messaging.trust_tiers" | "messaging.relay.agent_tokens"
    )
}

/// The keys of `settings` (YAML text) under `identity` and `messaging` that the template
/// does not know, each with the closest known key of the same level when there is one.
pub(crate) fn unknown_keys(settings: &str) -> Vec<(String, Option<String>)> {
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(settings) else {
        return Vec::new(); // a file that does not parse is reported by the settings check
    };
    let known = known_keys();
    let mut unknown = Vec::new();
    for section in ["identity", "messaging"] {
        if let Some(value) = value.get(section) {
            walk(section, section, value, &known, &mut unknown);
        }
    }
    unknown
}

/// `path` is the key's path in the template's terms (`*` for the person's own keys),
/// `shown` the same as the file has it.
fn walk(
    path: &str,
    shown: &str,
    value: &serde_yaml::Value,
    known: &[String],
    unknown: &mut Vec<(String, Option<String>)>,
) {
    let serde_yaml::Value::Mapping(map) = value else {
        return;
    };
    for (key, child) in map {
        let Some(key) = key.as_str() else {
            continue;
        };
        let name = if free(path) { "*" } else { key };
        let child_path = format!("{path}.{name}");
        let child_shown = format!("{shown}.{key}");
        if known.contains(&child_path) {
            walk(&child_path, &child_shown, child, known, unknown);
            continue;
        }
        let prefix = format!("{path}.");
        let siblings = known
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('.') && *rest != "*");
        let suggestion = crate::suggest::closest(key, siblings).map(|s| format!("{shown}.{s}"));
        unknown.push((child_shown, suggestion));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_keys_are_known_and_typos_are_found() {
        let known = known_keys();
        for key in [
            "identity.name",
            "messaging.show_in_today",
            "messaging.relay.agent_tokens",
            "messaging.trust_tiers.*.auto_accept",
            "messaging.compute.rate_limits.tasks_per_hour",
        ] {
            assert!(known.iter().any(|k| k == key), "{key}: {known:?}");
        }
        let found = unknown_keys(
            "identity: {name: a, nmae: b}\nmessaging:\n  show_in_todya: false\n  trust_overrides: {anyone: team}\n  trust_tiers: {gold: {auto_accept: true, auto_acept: false}}\n  relay: {url: x, agent_tokens: {a-claude: t}}\n  compute: {max_queue_depht: 3}\nother_module: {anything: 1}\n",
        );
        assert_eq!(
            found,
            [
                ("identity.nmae".into(), Some("identity.name".into())),
                (
                    "messaging.show_in_todya".into(),
                    Some("messaging.show_in_today".into())
                ),
                (
                    "messaging.trust_tiers.gold.auto_acept".into(),
                    Some("messaging.trust_tiers.gold.auto_accept".into())
                ),
                (
                    "messaging.compute.max_queue_depht".into(),
                    Some("messaging.compute.max_queue_depth".into())
                ),
            ]
        );
    }
}
