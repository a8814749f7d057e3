//! Every command the documentation shows is run, so the docs cannot drift from the code.
//!
//! # The convention
//!
//! - Only fenced code blocks whose info string is exactly `sh` are run. Blocks fenced
//!   ```` ```text ````, ```` ```console ````, ```` ```json ````, ```` ```yaml ````,
//!   ```` ```elisp ```` (and any other info string, or none) are shown, not run.
//! - Each document runs in its own fresh Datacore root (`DATACORE_ROOT`), with `HOME` a
//!   temporary directory too, its `sh` blocks in order, so earlier commands set up later
//!   ones (`msg init` first, then `msg task submit`, …).
//! - In a `sh` block, a line (with its `\` continuations and `<<'EOF'` here-document) is run
//!   by `bash -o pipefail -c` when it calls one of this crate's programs: `msg`,
//!   `inbox-watcher`, `send-reply`, `mark-message`, `task-queue` (first word, or after a
//!   `|`). The freshly built programs come first on the `PATH`. Every other line is an
//!   installation or server step (`cargo`, `docker`, `openssl`, `sudo`, `systemctl`,
//!   `export`, `msg-relay`, …) and is not run; the test lists what it skipped.
//! - A line is expected to exit 0, unless its comment says `# exits 1` (or `# exits 2`).
//! - `<you>` stands for the person's name and is replaced by `alice`. A line with any other
//!   placeholder (`<ID>`, `<to>`, `'<text>'`) or with `[optional]` parts is a synopsis: it is
//!   not run, but `<program> [subcommand…] --help` must succeed and list every `--flag` and
//!   every literal word the line shows.
//! - `<!-- docs-test: fixture NAME -->` in a document copies `fixtures/NAME/` into its root at
//!   that point (`v0.1.0` for the migration, `python-v0.2.0/root` for the switch).
//! - Without `jq` installed, a `| jq …` tail is dropped (the command before it still runs).
//!
//! The Emacs agenda configuration the guide shows (its first ```` ```elisp ```` block) is
//! checked separately: Emacs loads it unchanged and its custom agenda commands list the
//! entries of a real Datacore root.

use std::path::Path;
use std::process::Command;

use crate::emacs;
use crate::support::{Env, PROGRAMS, copy_tree, exe, fixtures, repo};

/// One thing to do, in document order.
#[derive(Debug)]
enum Step {
    /// A command line (continuations joined, here-document included), with its 1-based line.
    Command(usize, String),
    /// A `docs-test:` directive.
    Directive(usize, String),
}

/// The `sh` blocks' commands and the directives of `markdown`, in order.
fn steps(markdown: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = markdown.lines().enumerate().peekable();
    let mut in_block: Option<bool> = None; // Some(run?) inside a fence
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_block = match in_block {
                Some(_) => None,
                None => Some(info.trim() == "sh"),
            };
            continue;
        }
        if in_block.is_none() {
            if let Some(rest) = trimmed.strip_prefix("<!-- docs-test:") {
                steps.push(Step::Directive(
                    n + 1,
                    rest.trim_end_matches("-->").trim().to_owned(),
                ));
            }
            continue;
        }
        if in_block != Some(true) || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut command = line.trim().to_owned();
        while command.ends_with('\\') {
            command.pop();
            match lines.next() {
                Some((_, next)) => command.push_str(next.trim()),
                None => break,
            }
        }
        if let Some(at) = command.find("<<") {
            let marker = command[at + 2..]
                .trim_start_matches('-')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['\'', '"'])
                .to_owned();
            for (_, body) in lines.by_ref() {
                command.push('\n');
                command.push_str(body);
                if body.trim() == marker {
                    break;
                }
            }
        }
        steps.push(Step::Command(n + 1, command));
    }
    steps
}

/// The program a command line calls, if it is one of ours.
fn our_program(command: &str) -> Option<&'static str> {
    let first_line = command.lines().next().unwrap_or("");
    let code = strip_comment(first_line);
    code.split('|').find_map(|part| {
        let word = part.split_whitespace().next()?;
        PROGRAMS.iter().copied().find(|p| *p == word)
    })
}

/// The line without its `# comment` (a `#` after a blank, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        previous = c;
    }
    line
}

fn comment(line: &str) -> &str {
    let code = strip_comment(line);
    line[code.len()..].trim()
}

/// Whether the line shows placeholders (other than `<you>`) or optional parts.
fn is_synopsis(command: &str) -> bool {
    let first = strip_comment(command.lines().next().unwrap_or("")).replace("<<", "");
    let without_you = first.replace("<you>", "");
    without_you.contains('[') || (without_you.contains('<') && without_you.contains('>'))
}

/// Checks a synopsis against the program's `--help`.
fn check_synopsis(doc: &str, line: usize, command: &str, program: &str, env: &Env) {
    let first = strip_comment(command.lines().next().unwrap());
    let first = first.split("<<").next().unwrap();
    let tokens: Vec<&str> = first.split_whitespace().collect();
    let start = tokens.iter().position(|t| *t == program).unwrap();
    let mut words = Vec::new();
    for token in &tokens[start + 1..] {
        if token.starts_with(['<', '[', '-', '\'', '"'])
            || token.chars().any(|c| c.is_ascii_uppercase())
        {
            break;
        }
        words.push(*token);
    }
    let flags: Vec<String> = tokens
        .iter()
        .filter_map(|t| t.trim_start_matches('[').strip_prefix("--"))
        .map(|f| {
            let name: String = f
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            format!("--{name}")
        })
        .collect();
    let mut help = env.command(program, &[]);
    if program == "msg" {
        help.args(&words);
    }
    let output = help.arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{doc}:{line}: `{program} {} --help` failed: {}",
        words.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    for flag in &flags {
        assert!(
            text.contains(flag.as_str()),
            "{doc}:{line}: {program} has no {flag} (shown in `{first}`)\n{text}"
        );
    }
    if program != "msg" {
        for word in &words {
            assert!(
                text.contains(word),
                "{doc}:{line}: {program}'s help does not mention {word:?} (shown in `{first}`)"
            );
        }
    }
}

/// Runs every command of `doc` (relative to the repository) as the convention says; returns
/// the skipped lines.
fn run_document(doc: &str) -> Vec<String> {
    let markdown = std::fs::read_to_string(repo().join(doc)).unwrap();
    let env = Env::empty();
    let bin_dir = Path::new(exe("msg")).parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let have_jq = Command::new("jq").arg("--version").output().is_ok();
    let mut skipped = Vec::new();
    let mut ran = 0;
    for step in steps(&markdown) {
        let (line, command) = match step {
            Step::Directive(line, directive) => {
                match directive.strip_prefix("fixture ") {
                    Some(name) if !name.contains("..") => {
                        copy_tree(&fixtures().join(name), &env.root())
                    }
                    _ => panic!("{doc}:{line}: unknown directive {directive:?}"),
                }
                continue;
            }
            Step::Command(line, command) => (line, command),
        };
        let Some(program) = our_program(&command) else {
            skipped.push(format!("{doc}:{line}: {command}"));
            continue;
        };
        if is_synopsis(&command) {
            check_synopsis(doc, line, &command, program, &env);
            ran += 1;
            continue;
        }
        let expected = match comment(command.lines().next().unwrap()) {
            c if c.contains("exits 1") => 1,
            c if c.contains("exits 2") => 2,
            _ => 0,
        };
        let mut script = command.replace("<you>", "alice");
        if !have_jq && let Some(at) = script.find("| jq") {
            script.truncate(at);
        }
        let output = Command::new("bash")
            .args(["-o", "pipefail", "-c", &script])
            .env("PATH", &path)
            .env("DATACORE_ROOT", env.root())
            .env("HOME", env.home())
            .env("USER", "alice")
            .env_remove("RELAY_SECRET")
            .current_dir(env.dir.path())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{doc}:{line}: `{command}` exited {:?}, expected {expected}\nstdout: {}\nstderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if expected == 0 {
            assert!(
                output.stderr.is_empty(),
                "{doc}:{line}: `{command}` wrote to stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        ran += 1;
    }
    assert!(ran > 0, "{doc}: no command of ours was run");
    eprintln!("{doc}: {ran} commands run or checked");
    skipped
}

#[test]
fn the_user_guide_commands_run() {
    let skipped = run_document("docs/guide.md");
    eprintln!("not run: {skipped:#?}");
}

#[test]
fn the_upgrading_commands_run() {
    let skipped = run_document("UPGRADING.md");
    eprintln!("not run: {skipped:#?}");
}

#[test]
fn the_readme_commands_run() {
    let skipped = run_document("README.md");
    eprintln!("not run: {skipped:#?}");
}

#[test]
fn the_claude_code_commands_run() {
    let skipped = run_document("docs/claude-code.md");
    eprintln!("not run: {skipped:#?}");
}

#[test]
fn the_relay_guide_runs_nothing_it_should_not() {
    // The relay guide's commands are docker, systemd, openssl and msg-relay steps: none is
    // run. Any `msg …` line it gains is.
    let markdown = std::fs::read_to_string(repo().join("docs/relay.md")).unwrap();
    let ours: Vec<Step> = steps(&markdown)
        .into_iter()
        .filter(|s| matches!(s, Step::Command(_, c) if our_program(c).is_some()))
        .collect();
    if !ours.is_empty() {
        run_document("docs/relay.md");
    }
    assert!(
        steps(&markdown)
            .iter()
            .any(|s| matches!(s, Step::Command(_, c) if c.starts_with("docker"))),
        "the relay guide's docker commands are read (and skipped)"
    );
}

#[test]
fn the_convention_reads_blocks_as_documented() {
    let markdown = "\
```sh
msg init --name <you>        # you, as owner
cargo install --path crates/msg-hooks
msg show nothing             # exits 1
echo '{}' | inbox-watcher | jq .x
send-reply <to> - --tokens N <<'EOF'
body line
EOF
docker run \\
  msg-relay
```

```text
msg never-run
```
<!-- docs-test: fixture v0.1.0 -->
";
    let steps = steps(markdown);
    let commands: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::Command(n, c) => format!("{n}: {c}"),
            Step::Directive(n, d) => format!("{n}: directive {d}"),
        })
        .collect();
    assert_eq!(
        commands,
        [
            "2: msg init --name <you>        # you, as owner",
            "3: cargo install --path crates/msg-hooks",
            "4: msg show nothing             # exits 1",
            "5: echo '{}' | inbox-watcher | jq .x",
            "6: send-reply <to> - --tokens N <<'EOF'\nbody line\nEOF",
            "9: docker run msg-relay",
            "16: directive fixture v0.1.0",
        ]
    );
    assert_eq!(our_program("msg init --name <you>"), Some("msg"));
    assert_eq!(
        our_program("cargo install --path crates/msg-hooks # msg"),
        None
    );
    assert_eq!(
        our_program("echo '{}' | inbox-watcher | jq .x"),
        Some("inbox-watcher")
    );
    assert_eq!(our_program("docker run msg-relay"), None);
    assert!(!is_synopsis("msg init --name <you>"));
    assert!(is_synopsis(
        "send-reply <to> - --tokens N <<'EOF'\nbody\nEOF"
    ));
    assert!(is_synopsis("msg inbox [--unread]"));
    assert!(!is_synopsis("send-reply alice - <<'EOF'\nx\nEOF"));
    assert_eq!(comment("msg show nothing   # exits 1"), "# exits 1");
    assert_eq!(
        strip_comment("echo '# not a comment' | msg"),
        "echo '# not a comment' | msg"
    );
}

/// The guide's first ```` ```elisp ```` block.
fn guide_elisp() -> String {
    let guide = std::fs::read_to_string(repo().join("docs/guide.md")).unwrap();
    let start = guide
        .find("```elisp\n")
        .expect("the guide shows its agenda configuration")
        + 9;
    let end = guide[start..].find("```").unwrap() + start;
    guide[start..end].to_owned()
}

#[test]
fn the_agenda_configuration_in_the_guide_lists_the_entries() {
    if !emacs::available() {
        return;
    }
    // The guide's configuration, unchanged, over a root where the guide says it is (~/Data):
    // the Python v0.2.0 fixture, with unread messages and tasks in every state.
    let env = Env::empty();
    copy_tree(
        &fixtures().join("python-v0.2.0/root"),
        &env.home().join("Data"),
    );
    let config = env.dir.path().join("datacore-agenda.el");
    std::fs::write(&config, guide_elisp()).unwrap();
    let agenda = |key: &str| -> String {
        let output = Command::new("emacs")
            .args(["-Q", "--batch", "-l"])
            .arg(&config)
            // `org-batch-agenda` reads a key longer than one letter as a tags match, so
            // the view is built as `C-c a m u` builds it and its buffer printed.
            .args([
                "--eval",
                &format!(
                    "(progn (require 'org-agenda) (org-agenda nil \"{key}\") (princ (buffer-string)))"
                ),
            ])
            .env("HOME", env.home())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "agenda {key}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    // The entry lines of a view: indented, starting with the file's category.
    let entries = |view: &str| -> Vec<String> {
        view.lines()
            .filter(|l| {
                l.starts_with("  ") && (l.contains("inbox:") || l.contains("gregor-claude:"))
            })
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let unread = entries(&agenda("mu"));
    assert_eq!(unread.len(), 3, "{unread:#?}");
    assert!(
        unread
            .iter()
            .all(|l| l.starts_with("inbox: TODO [") && l.contains(":unread:")),
        "{unread:#?}"
    );
    let waiting = entries(&agenda("mw"));
    assert_eq!(
        waiting,
        ["gregor-claude:WAITING Draft blog post about data tokenization :AI:content:"]
    );
    let queue = entries(&agenda("mq"));
    assert_eq!(
        queue,
        [
            "gregor-claude:QUEUED Summarise the standup notes :AI:pm:",
            "gregor-claude:WORKING Refactor the relay :AI:",
            "gregor-claude:QUEUED Write release notes :AI:content:",
        ]
    );
    let review = entries(&agenda("mr"));
    assert_eq!(
        review,
        ["gregor-claude:DONE Research competitor pricing :AI:research:"]
    );
}

#[test]
fn the_readme_links_every_doc_and_no_link_is_broken() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for doc in [
        "docs/guide.md",
        "docs/claude-code.md",
        "docs/relay.md",
        "docs/PERFORMANCE.md",
        "UPGRADING.md",
    ] {
        assert!(
            readme.contains(&format!("]({doc})")),
            "README.md does not link {doc}"
        );
    }
    for doc in [
        "README.md",
        "UPGRADING.md",
        "docs/guide.md",
        "docs/claude-code.md",
    ] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        let base = repo().join(doc).parent().unwrap().to_owned();
        for (at, _) in text.match_indices("](") {
            let target = &text[at + 2..];
            let target = &target[..target.find(')').unwrap()];
            if target.starts_with("http")
                || target.starts_with('#')
                || target.starts_with("mailto:")
            {
                continue;
            }
            let path = target.split('#').next().unwrap();
            assert!(base.join(path).exists(), "{doc}: broken link {target}");
        }
    }
}
