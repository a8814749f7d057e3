//! `msg contacts add|remove|trust` through the real binary: the person's own file keeps its
//! comments, order and layout; bad values change nothing; concurrent adds all land.

use crate::support::{Env, json};

/// A contacts file as a person keeps it: comments, a flow-style actor, a group.
const MINE: &str = "\
# My address book. Keep it tidy.
actors:
  # work
  - id: ann@work.example.com   # since 2025
    name: Ann
    handles: [ann]

  - {id: bob, handles: [bobby]}
# -- end of actors --

groups:
  team: [\"@ann\", bob, carol]
";

fn contacts_path(env: &Env) -> std::path::PathBuf {
    env.root().join("0-personal/contacts.yaml")
}

#[test]
fn add_trust_and_remove_change_only_their_lines() {
    let env = Env::new();
    let path = contacts_path(&env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, MINE).unwrap();

    let out = env
        .run(
            "msg",
            &[
                "contacts",
                "add",
                "tex@team.example.com",
                "--handle",
                "@tex",
                "--tier",
                "trusted",
                "--name",
                "Tex T.",
            ],
        )
        .ok()
        .to_owned();
    assert!(
        out.starts_with("[messaging] Added tex@team.example.com to "),
        "{out}"
    );
    // The settings give tex the team tier, which wins: said, not hidden.
    assert!(
        out.contains(
            "messaging.trust_overrides in the settings gives tex@team.example.com the tier team"
        ),
        "{out}"
    );
    let text = env.read(&path);
    let added = "  - id: tex@team.example.com\n    name: \"Tex T.\"\n    handles: [\"@tex\"]\n    trust_tier: trusted\n    added: \"";
    assert!(
        text.starts_with(&format!(
            "{}{added}",
            &MINE[..MINE.find("# -- end").unwrap()]
        )),
        "{text}"
    );
    assert!(
        text.ends_with("# -- end of actors --\n\ngroups:\n  team: [\"@ann\", bob, carol]\n"),
        "{text}"
    );

    env.run("msg", &["contacts", "trust", "@ann", "team"]).ok();
    let text = env.read(&path);
    assert!(
        text.contains("  - id: ann@work.example.com   # since 2025\n    name: Ann\n    handles: [ann]\n    trust_tier: team\n\n  - {id: bob"),
        "{text}"
    );

    let listed = json(env.run("msg", &["contacts", "--json"]).ok());
    assert_eq!(listed[0]["id"], "ann@work.example.com");
    assert_eq!(listed[0]["trust_tier"], "team");
    assert_eq!(listed[0]["groups"], serde_json::json!(["team"]));
    assert_eq!(listed[1]["handles"], serde_json::json!(["bobby"]));
    let shown = env.run("msg", &["contacts"]).ok().to_owned();
    assert!(shown.contains("bobby"), "handles are shown: {shown}");
    assert!(shown.contains("group team: @ann, bob, carol"), "{shown}");

    let out = env
        .run("msg", &["contacts", "remove", "bob"])
        .ok()
        .to_owned();
    assert!(out.contains("still a member of group team"), "{out}");
    let text = env.read(&path);
    assert!(!text.contains("{id: bob"), "{text}");
    assert!(text.contains("# work\n") && text.contains("# My address book. Keep it tidy.\n"));

    // A flow-style actor is refused for an edit of a field, with the line, and nothing changes.
    std::fs::write(&path, MINE).unwrap();
    let line = env
        .run("msg", &["contacts", "trust", "bob", "team"])
        .fails(1, "msg")
        .to_owned();
    assert!(
        line.contains("contacts.yaml, line 8: the actor \"bob\" is written as `{…}`"),
        "{line}"
    );
    assert_eq!(env.read(&path), MINE);
}

#[test]
fn bad_values_are_refused_and_change_nothing() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    let path = contacts_path(&env);
    env.run("msg", &["contacts", "add", "ann"]).ok();
    let before = env.read(&path);
    // The template's comments stay and the actor goes under `actors:`.
    assert!(
        before.contains("# Groups name several recipients"),
        "{before}"
    );
    assert!(
        before.contains("actors:\n  - id: ann\n    added: \""),
        "{before}"
    );
    let long = "x".repeat(300);
    for (args, says) in [
        (vec!["contacts", "add", "ann"], "already in"),
        (vec!["contacts", "add", long.as_str()], "the limit is 128"),
        (
            vec!["contacts", "add", "bob", "--tier", "tem"],
            "not a tier: use owner, team, trusted, unknown",
        ),
        (vec!["contacts", "trust", "nobody", "team"], "no contact"),
        (vec!["contacts", "remove", "@nobody"], "no contact"),
    ] {
        let line = env.run("msg", &args).fails(1, "msg").to_owned();
        assert!(line.contains(says), "{args:?}: {line}");
    }
    let line = env
        .run("msg", &["contacts", "trust", "ann"])
        .fails(2, "msg")
        .to_owned();
    assert!(line.contains("run `msg contacts trust --help`"), "{line}");
    assert_eq!(env.read(&path), before);
}

#[test]
fn concurrent_adds_all_land() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    let children: Vec<_> = (0..6)
        .map(|n| env.spawn("msg", &["contacts", "add", &format!("peer{n}")]))
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let listed = json(env.run("msg", &["contacts", "--json"]).ok());
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["id"].as_str())
        .filter(|id| id.starts_with("peer"))
        .collect();
    assert_eq!(ids.len(), 6, "{listed}");
}
