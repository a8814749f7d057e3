//! The conventions every program shares, through the real binaries: `--version`, `msg help`,
//! "did you mean", usage errors pointing to the subcommand's `--help`, and completions and
//! man pages that know every command and flag the programs' own `--help` lists.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{Env, PROGRAMS, exe};

#[test]
fn every_program_has_a_version() {
    let env = Env::new();
    for program in PROGRAMS {
        for flag in ["--version", "-V"] {
            let out = env.run(program, &[flag]).ok().to_owned();
            assert_eq!(out, format!("{program} {}\n", env!("CARGO_PKG_VERSION")));
        }
    }
    let help = env.run("msg", &["--help"]).ok().to_owned();
    assert!(
        help.contains("-V, --version     print the version and exit"),
        "{help}"
    );
}

#[test]
fn help_is_a_command_and_mistakes_point_to_the_right_help() {
    let env = Env::new();
    let direct = env.run("msg", &["send", "--help"]).ok().to_owned();
    assert_eq!(env.run("msg", &["help", "send"]).ok(), direct);
    assert_eq!(
        env.run("msg", &["help", "task", "approve"]).ok(),
        env.run("msg", &["task", "approve", "--help"]).ok()
    );
    assert_eq!(
        env.run("msg", &["help"]).ok(),
        env.run("msg", &["--help"]).ok()
    );
    for (args, expected) in [
        (
            vec!["sned", "bob", "hi"],
            "msg: unknown command \"sned\" (did you mean `msg send`?); run `msg --help` for usage",
        ),
        (
            vec!["help", "sned"],
            "msg: unknown command \"sned\" (did you mean `msg send`?); run `msg --help` for usage",
        ),
        (
            vec!["task", "aprove", "x"],
            "msg: `msg task` has no command \"aprove\" (did you mean `msg task approve`?); run `msg task --help` for usage",
        ),
        (
            vec!["send"],
            "msg: Required positional arguments not provided: to, text; run `msg send --help` for usage",
        ),
        (
            vec!["inbox", "--jsn"],
            "msg: Unrecognized argument: --jsn (did you mean `--json`?); run `msg inbox --help` for usage",
        ),
        (
            vec!["--space", "x", "task", "--agent", "a", "approve"],
            "msg: Required positional arguments not provided: id; run `msg task approve --help` for usage",
        ),
    ] {
        assert_eq!(env.run("msg", &args).fails(2, "msg"), expected, "{args:?}");
    }
    let line = env
        .run("task-queue", &["aprove", "x"])
        .fails(2, "task-queue")
        .to_owned();
    assert!(
        line.contains("unknown action \"aprove\" (did you mean `approve`?)"),
        "{line}"
    );
    // No run of spaces in any usage line.
    let line = env.run("msg", &[]).fails(2, "msg").to_owned();
    assert!(!line.contains("  "), "{line}");
    assert!(line.contains("help, send, broadcast, inbox"), "{line}");
}

/// Every command path and flag a program's `--help` lists, found by walking the help
/// texts (independently of how the completions are generated).
fn walk_help(program: &str, path: &[String], found: &mut BTreeSet<(String, String)>) {
    let mut command = Command::new(exe(program));
    command.args(path).arg("--help");
    let output = command.output().unwrap();
    assert!(output.status.success(), "{program} {path:?} --help");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut section = "";
    let key = format!("{program} {}", path.join(" ")).trim().to_owned();
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        let Some(word) = line
            .strip_prefix("  ")
            .and_then(|l| l.split_whitespace().next())
        else {
            continue;
        };
        if line.starts_with("   ") {
            continue; // a wrapped description
        }
        match section {
            "Options:" => {
                let flag = line
                    .split_whitespace()
                    .find(|w| w.starts_with("--"))
                    .unwrap();
                found.insert((key.clone(), flag.trim_end_matches(',').to_owned()));
            }
            "Commands:" => {
                found.insert((key.clone(), word.to_owned()));
                let mut sub = path.to_vec();
                sub.push(word.to_owned());
                walk_help(program, &sub, found);
            }
            _ => {}
        }
    }
}

#[test]
fn completions_and_man_pages_know_every_command_and_flag() {
    let env = Env::new();
    let mut found = BTreeSet::new();
    for program in PROGRAMS {
        walk_help(program, &[], &mut found);
    }
    assert!(found.contains(&("msg task".into(), "approve".into())));
    assert!(found.contains(&("msg contacts".into(), "add".into())));
    assert!(found.contains(&("send-reply".into(), "--complete-task".into())));
    assert!(found.len() > 100, "{}", found.len());
    let scripts: Vec<String> = ["bash", "zsh", "fish"]
        .iter()
        .map(|shell| env.run("msg", &["completions", shell]).ok().to_owned())
        .collect();
    let pages: Vec<String> = PROGRAMS
        .iter()
        .map(|p| env.run("msg", &["man", p]).ok().to_owned())
        .collect();
    for (command, word) in &found {
        let program = command.split(' ').next().unwrap();
        let bare = word.trim_start_matches('-');
        for script in &scripts {
            assert!(
                script.contains(bare),
                "completions lack {word} of {command}"
            );
        }
        let page = &pages[PROGRAMS.iter().position(|p| *p == program).unwrap()];
        let roff = word.replace('-', "\\-");
        if word.starts_with('-') {
            assert!(
                page.contains(&roff),
                "the man page of {program} lacks {word} of {command}"
            );
        } else {
            assert!(
                page.contains(&format!(".SS \"{command} {word}\"")),
                "man: {command} {word}"
            );
        }
    }
    // The pages are valid roff: groff reads them without a warning.
    if available("groff", "MSG_REQUIRE_GROFF") {
        for page in &pages {
            let mut groff = Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            groff
                .stdin
                .take()
                .unwrap()
                .write_all(page.as_bytes())
                .unwrap();
            let output = groff.wait_with_output().unwrap();
            assert!(
                output.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let dir = env.dir.path().join("man1");
    env.run("msg", &["man", "--dir", dir.to_str().unwrap()])
        .ok();
    for program in PROGRAMS {
        assert!(dir.join(format!("{program}.1")).is_file());
    }
}

/// Whether `program` can run; when it cannot, the test says so loudly, and fails when
/// `require` is set (CI sets it: `.ci/run` installs the program).
fn available(program: &str, require: &str) -> bool {
    if Command::new(program).arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os(require).is_none(),
        "{program} is not installed and {require} is set"
    );
    eprintln!("SKIPPED: {program} is not installed (set {require}=1 to require it)");
    false
}

#[test]
fn zsh_and_fish_read_their_scripts_and_fish_completes() {
    let env = Env::new();
    let dir = env.dir.path();
    if available("zsh", "MSG_REQUIRE_SHELLS") {
        let script = dir.join("completions.zsh");
        std::fs::write(&script, env.run("msg", &["completions", "zsh"]).ok()).unwrap();
        let output = Command::new("zsh")
            .arg("-c")
            .arg(format!(
                "autoload -U compinit && compinit -u -d {} && source {} && whence -w _datacore_msg",
                dir.join("zcompdump").display(),
                script.display()
            ))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("_datacore_msg: function"),
            "{output:?}"
        );
    }
    if available("fish", "MSG_REQUIRE_SHELLS") {
        let script = dir.join("completions.fish");
        std::fs::write(&script, env.run("msg", &["completions", "fish"]).ok()).unwrap();
        let complete = |line: &str| -> Vec<String> {
            let output = Command::new("fish")
                .arg("-c")
                .arg(format!("source {}; complete -C'{line}'", script.display()))
                .env("HOME", env.home())
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8(output.stdout)
                .unwrap()
                .lines()
                .map(|l| l.split('\t').next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(complete("msg sea"), ["search"]);
        assert_eq!(complete("msg task ap"), ["approve"]);
        assert_eq!(complete("msg --root /d contacts tr"), ["trust"]);
        assert_eq!(complete("task-queue app"), ["approve"]);
        assert!(complete("msg inbox --u").contains(&"--unread".to_owned()));
    }
}

#[test]
fn bash_completes_commands_subcommands_flags_and_actions() {
    let env = Env::new();
    let script = env.dir.path().join("completions.bash");
    std::fs::write(&script, env.run("msg", &["completions", "bash"]).ok()).unwrap();
    let complete = |words: &[&str]| -> String {
        let line = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({line}); COMP_CWORD={}; _datacore_msg; echo \"${{COMPREPLY[*]}}\"",
                script.display(),
                words.len() - 1
            ))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(complete(&["msg", "sen"]), "send sent");
    assert_eq!(complete(&["msg", "sea"]), "search");
    assert_eq!(complete(&["msg", "task", "ap"]), "approve");
    assert_eq!(
        complete(&["msg", "--root", "/d", "contacts", "tr"]),
        "trust"
    );
    assert_eq!(complete(&["msg", "inbox", "--u"]), "--unread");
    assert_eq!(complete(&["task-queue", "app"]), "approve");
    assert_eq!(complete(&["send-reply", "--complete-t"]), "--complete-task");
    assert_eq!(complete(&["msg", "completions", "f"]), "fish");
}
