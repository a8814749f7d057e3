//! `templates/`: the settings example documents every key of `msg-core`'s settings with its
//! default, and `msg init` writes its files from the templates.

use std::collections::BTreeSet;

use msg_core::config::Settings;

use crate::support::{Env, repo};

fn template(name: &str) -> String {
    std::fs::read_to_string(repo().join("templates").join(name)).unwrap()
}

/// The settings example with every `#key:` line uncommented: what a person gets who removes
/// every `#` in front of a key.
fn uncommented() -> String {
    template("settings.local.yaml.example")
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let rest = &line[indent..];
            match rest.strip_prefix('#') {
                Some(key)
                    if key.split_once(':').is_some_and(|(k, _)| {
                        !k.is_empty()
                            && k.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "_\"@.".contains(c))
                    }) =>
                {
                    format!("{}{key}\n", &line[..indent])
                }
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

fn keys(value: &serde_yaml::Value, out: &mut BTreeSet<String>) {
    if let serde_yaml::Value::Mapping(map) = value {
        for (key, value) in map {
            if let Some(key) = key.as_str() {
                out.insert(key.to_owned());
            }
            keys(value, out);
        }
    }
}

/// The field names of the settings structs in `crates/msg-core/src/config.rs`: every key the
/// settings file can have.
fn settings_fields() -> BTreeSet<String> {
    let source = std::fs::read_to_string(repo().join("crates/msg-core/src/config.rs")).unwrap();
    let structs = [
        "Settings",
        "Identity",
        "Messaging",
        "RelaySettings",
        "TierOverride",
        "ComputeOverride",
        "RateLimits",
    ];
    let mut fields = BTreeSet::new();
    let mut inside = false;
    for line in source.lines() {
        if let Some(name) = line.strip_prefix("pub struct ") {
            let name = name.trim_end_matches(" {").trim();
            inside = structs.contains(&name);
            continue;
        }
        if line == "}" {
            inside = false;
        }
        if inside && let Some(field) = line.trim().strip_prefix("pub ") {
            let name = field.split(':').next().unwrap().trim();
            fields.insert(name.to_owned());
        }
    }
    assert!(fields.len() > 20, "{fields:?}");
    fields
}

#[test]
fn the_settings_example_documents_every_key() {
    let value: serde_yaml::Value = serde_yaml::from_str(&uncommented()).unwrap();
    let mut documented = BTreeSet::new();
    keys(&value, &mut documented);
    let missing: Vec<String> = settings_fields()
        .into_iter()
        .filter(|f| !documented.contains(f))
        .collect();
    assert!(
        missing.is_empty(),
        "templates/settings.local.yaml.example does not document {missing:?}"
    );
}

#[test]
fn the_defaults_the_example_shows_are_the_defaults() {
    let shown = Settings::from_yaml_str(&uncommented(), "example".as_ref()).unwrap();
    let defaults = Settings::default();
    assert_eq!(shown.default_space(), defaults.default_space());
    assert_eq!(
        shown.messaging.show_in_today,
        defaults.messaging.show_in_today
    );
    assert_eq!(
        shown.messaging.auto_mark_read,
        defaults.messaging.auto_mark_read
    );
    assert_eq!(shown.relay_url(), defaults.relay_url());
    assert_eq!(shown.compute(), defaults.compute());
    for tier in ["owner", "team", "trusted", "unknown"] {
        assert_eq!(
            shown.tier_config(tier),
            defaults.tier_config(tier),
            "{tier}"
        );
    }
    // The commented file itself is the defaults (and names nobody).
    let commented =
        Settings::from_yaml_str(&template("settings.local.yaml.example"), "example".as_ref())
            .unwrap();
    assert_eq!(commented.compute(), defaults.compute());
    assert!(commented.messaging.trust_overrides.is_empty());
}

#[test]
fn init_writes_its_files_from_the_templates() {
    let env = Env::empty();
    env.run("msg", &["init", "--name", "gregor"]).ok();
    let settings = env.read(&env.root().join(".datacore/settings.local.yaml"));
    let example = template("settings.local.yaml.example");
    // Every comment line of the example is there; name and owner are filled in.
    for line in example.lines().filter(|l| l.trim_start().starts_with("# ")) {
        assert!(settings.contains(line), "missing {line:?}");
    }
    assert!(settings.contains("\n  name: \"gregor\"\n"), "{settings}");
    assert!(settings.contains("\n    \"gregor\": owner"), "{settings}");
    assert_eq!(
        env.read(&env.root().join("0-personal/contacts.yaml")),
        template("contacts.yaml")
    );
    for file in ["inbox.org", "outbox.org"] {
        assert_eq!(env.read(&env.messaging().join(file)), template("inbox.org"));
    }
}
