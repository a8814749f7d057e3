//! The Claude Code plugin (`.claude-plugin/marketplace.json`, `plugins/`) and the Datacore
//! manifest (`module.yaml`) against the programs they call, without Claude Code (which
//! `claude_code.rs` runs): every file parses, every program and `msg` command they name
//! exists with the options they use (asked of `msg … --help`), the plugin's hooks are the
//! ones `msg hooks install` writes, and `today` is the digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Env, PROGRAMS, json, repo};

fn read_json(path: &Path) -> Value {
    json(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Each plugin of the marketplace: its name and directory.
fn plugins() -> Vec<(String, PathBuf)> {
    let marketplace = read_json(&repo().join(".claude-plugin/marketplace.json"));
    assert_eq!(marketplace["name"], "datacore-messaging");
    marketplace["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let name = entry["name"].as_str().unwrap().to_owned();
            let source = entry["source"].as_str().unwrap();
            let dir = repo().join(source);
            let manifest = read_json(&dir.join(".claude-plugin/plugin.json"));
            assert_eq!(manifest["name"], name.as_str());
            assert_eq!(manifest["version"], entry["version"], "{name}");
            (name, dir)
        })
        .collect()
}

/// The hooks of a plugin as (event, matcher, command) rows.
fn hook_rows(hooks: &Value) -> Vec<(String, Option<String>, String)> {
    let mut rows = Vec::new();
    for (event, groups) in hooks.as_object().unwrap() {
        for group in groups.as_array().unwrap() {
            for handler in group["hooks"].as_array().unwrap() {
                rows.push((
                    event.clone(),
                    group["matcher"].as_str().map(str::to_owned),
                    handler["command"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    rows.sort();
    rows
}

/// The YAML front matter of a skill or agent file, as key → value lines.
fn front_matter(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let rest = text
        .strip_prefix("---\n")
        .unwrap_or_else(|| panic!("{}: no front matter", path.display()));
    let end = rest.find("\n---\n").unwrap();
    let value: serde_yaml::Value =
        serde_yaml::from_str(&rest[..end]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    value
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other).unwrap().trim().to_owned(),
            };
            (k.as_str().unwrap().to_owned(), v)
        })
        .collect()
}

/// The body of a skill or agent file, after its front matter.
fn body(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let rest = &text[4..];
    rest[rest.find("\n---\n").unwrap() + 5..].to_owned()
}

/// The `msg …` commands a Markdown text shows: each line of a fenced block and each inline
/// code span (which may go over a line break) that starts with `msg `.
fn msg_commands(markdown: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut prose = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            commands.push(line.trim().to_owned());
        } else {
            prose.push_str(line.trim());
            prose.push(' ');
        }
    }
    commands.extend(prose.split('`').skip(1).step_by(2).map(str::to_owned));
    commands.retain(|c| c.starts_with("msg "));
    commands
}

/// `msg`'s help texts, each asked for once.
struct MsgHelp<'a> {
    env: &'a Env,
    texts: BTreeMap<Vec<String>, String>,
}

impl MsgHelp<'_> {
    /// The `--help` text of `msg <words>`, or a panic naming `of`.
    fn text(&mut self, words: &[String], of: &str) -> &str {
        let env = self.env;
        self.texts.entry(words.to_vec()).or_insert_with(|| {
            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
            args.push("--help");
            let run = env.run("msg", &args);
            assert_eq!(
                run.code,
                0,
                "{of}: `msg {}` does not exist",
                words.join(" ")
            );
            run.stdout
        })
    }

    /// Checks that `command` (`msg` and its words) names a command of `msg` and that every
    /// option it uses is one of that command's; returns the command's words.
    fn check(&mut self, command: &str, of: &str) -> Vec<String> {
        let mut tokens = command.split_whitespace().skip(1).peekable();
        let mut words: Vec<String> = Vec::new();
        while let Some(&token) = tokens.peek() {
            let help = self.text(&words, of);
            // The `Commands:` section lists each subcommand, indented by two spaces.
            let known = help
                .lines()
                .skip_while(|line| *line != "Commands:")
                .filter_map(|line| line.strip_prefix("  "))
                .filter(|line| !line.starts_with(' '))
                .any(|line| line.split_whitespace().next() == Some(token));
            if !known {
                break;
            }
            words.push(token.to_owned());
            tokens.next();
        }
        assert!(!words.is_empty(), "{of}: `{command}` names no msg command");
        let help = self.text(&words, of).to_owned();
        for token in tokens {
            let option = token.split('=').next().unwrap();
            if option.len() > 2 && option.starts_with("--") {
                assert!(
                    help.contains(&format!("  {option} ")) || help.contains(&format!("[{option}")),
                    "{of}: `{command}`: `msg {}` has no {option}",
                    words.join(" ")
                );
            }
        }
        words
    }
}

#[test]
fn the_plugins_hooks_are_the_ones_msg_hooks_install_writes() {
    let env = Env::new();
    let plugins = plugins();
    assert_eq!(
        plugins.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["msg", "msg-keep-working"]
    );
    for (stop, (name, dir)) in [false, true].into_iter().zip(&plugins) {
        let plugin_hooks = read_json(&dir.join("hooks/hooks.json"));
        let mut args = vec!["hooks", "install", "--dry-run", "--settings"];
        let settings = env.dir.path().join(format!("{name}.json"));
        let settings = settings.to_str().unwrap().to_owned();
        args.push(&settings);
        args.extend(["--command", crate::support::exe("inbox-watcher")]);
        if stop {
            args.push("--stop");
        }
        let out = env.run("msg", &args).ok().to_owned();
        let written = json(&out[..out.rfind("}\n").unwrap() + 1]);
        // Installed, the command is the absolute path; in the plugin, the program's name.
        let installed: Vec<_> = hook_rows(&written["hooks"])
            .into_iter()
            .map(|(event, matcher, command)| {
                assert!(command.ends_with("/inbox-watcher"), "{command}");
                (event, matcher, "inbox-watcher".to_owned())
            })
            .filter(|(event, _, _)| !stop || event == "Stop")
            .collect();
        assert_eq!(hook_rows(&plugin_hooks["hooks"]), installed, "{name}");
    }
}

#[test]
fn the_plugin_calls_only_programs_and_commands_that_exist() {
    let env = Env::new();
    let (_, dir) = &plugins()[0];
    let mcp = read_json(&dir.join(".mcp.json"));
    let server = &mcp["mcpServers"]["msg"];
    assert_eq!(
        (server["command"].as_str(), &server["args"]),
        (Some("msg"), &serde_json::json!(["mcp"]))
    );
    env.run("msg", &["mcp", "--help"]).ok();

    let mut help = MsgHelp {
        env: &env,
        texts: BTreeMap::new(),
    };
    let mut skills = Vec::new();
    for entry in std::fs::read_dir(dir.join("skills")).unwrap() {
        let skill = entry.unwrap().path().join("SKILL.md");
        let meta = front_matter(&skill);
        let name = meta["name"].clone();
        assert_eq!(skill.parent().unwrap().file_name().unwrap(), name.as_str());
        assert!(
            meta["description"].len() < 250,
            "{name}: keep descriptions short"
        );
        // Skills act on the person's own mail: only the person invokes them.
        assert_eq!(meta["disable-model-invocation"], "true", "{name}");
        // Every command a skill may run is a whole `msg` command (a prefix of one would
        // allow more than meant).
        for tool in meta["allowed-tools"].split(", ") {
            let command = tool
                .strip_prefix("Bash(")
                .and_then(|t| t.strip_suffix(":*)"))
                .unwrap_or_else(|| panic!("{name}: {tool}"));
            assert!(command.starts_with("msg "), "{name}: {command}");
            let words = help.check(command, &name);
            assert_eq!(
                words.len() + 1,
                command.split(' ').count(),
                "{name}: `{command}`"
            );
        }
        // Every command it shows exists, with the options it uses.
        let shown = msg_commands(&body(&skill));
        assert!(!shown.is_empty(), "{name}");
        for command in shown {
            help.check(&command, &name);
        }
        skills.push(name);
    }
    skills.sort();
    assert_eq!(
        skills,
        [
            "broadcast",
            "msg",
            "msg-add-user",
            "my-messages",
            "reply",
            "today"
        ]
    );

    let mut agents: Vec<String> = std::fs::read_dir(dir.join("agents"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let meta = front_matter(&path);
            assert_eq!(meta["tools"], "Bash");
            for command in msg_commands(&body(&path)) {
                help.check(&command, &meta["name"]);
            }
            meta["name"].clone()
        })
        .collect();
    agents.sort();
    assert_eq!(agents, ["message-digest", "message-task-intake"]);
}

#[test]
fn module_yaml_maps_the_original_hook_names_to_our_programs_and_today_to_the_digest() {
    let env = Env::new();
    let text = std::fs::read_to_string(repo().join("module.yaml")).unwrap();
    let module: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let hooks = module["hooks"].as_mapping().unwrap();
    let names: Vec<&str> = hooks.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "today",
            "task_check",
            "send_reply",
            "mark_message",
            "task_queue"
        ]
    );
    for (name, hook) in hooks {
        let handler = hook["handler"].as_str().unwrap();
        assert!(PROGRAMS.contains(&handler), "{name:?}: {handler}");
        assert!(!hook["description"].as_str().unwrap().is_empty());
        let mut args: Vec<&str> = hook["args"]
            .as_sequence()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        args.push("--help");
        env.run(handler, &args).ok();
    }
    assert_eq!(module["hooks"]["task_check"]["handler"], "inbox-watcher");
    // `today` reads: on a root with a queued task it claims nothing.
    let task = crate::support::queue_task(&env, "gregor", "Not to be claimed by a briefing");
    let today = &module["hooks"]["today"];
    let args: Vec<&str> = today["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let out = env
        .run(today["handler"].as_str().unwrap(), &args)
        .ok()
        .to_owned();
    assert!(out.starts_with("Digest for gregor"), "{out}");
    assert_eq!(crate::support::task_state(&env, &task), "QUEUED");
    // The agents and commands it names are the plugin's.
    let (_, dir) = &plugins()[0];
    assert_eq!(module["plugin"], "plugins/msg");
    for agent in module["agents"].as_sequence().unwrap() {
        assert!(
            dir.join(format!("agents/{}.md", agent.as_str().unwrap()))
                .is_file()
        );
    }
    for command in module["commands"].as_sequence().unwrap() {
        assert!(
            dir.join(format!("skills/{}/SKILL.md", command.as_str().unwrap()))
                .is_file()
        );
    }
}
