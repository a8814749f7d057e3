//! Man pages (`msg man [PROGRAM]`, `msg man --dir DIR`), generated from the argh definitions
//! the programs parse with ([`super::programs`]), as the completions are: one page per
//! program in section 1, `msg`'s with a subsection per command (`msg task approve`).

use argh::{CommandInfoWithArgs, FlagInfoKind, Optionality};

/// Text for roff: backslashes escaped, characters beyond ASCII as `\[uXXXX]` (groff reads
/// its input as Latin-1 otherwise), a line starting with `.` or `'` protected, hyphens in
/// words left as they are (only option names get `\-`).
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\e"),
            c if c.is_ascii() => escaped.push(c),
            c => escaped.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    escaped
        .lines()
        .map(|line| {
            let line = line.trim();
            if line.starts_with(['.', '\'']) {
                format!("\\&{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--reply-to` as roff: `\-\-reply\-to`.
fn flag(name: &str) -> String {
    name.replace('-', "\\-")
}

/// The flags of a command worth a line: not hidden, not `--help` (every page says it once).
fn listed_flags(info: &CommandInfoWithArgs) -> impl Iterator<Item = &argh::FlagInfo<'static>> {
    info.flags
        .iter()
        .filter(|f| !f.hidden && !f.long.is_empty() && f.long != "--help")
}

/// The usage line of a command: its flags and positionals.
fn synopsis(command: &str, info: &CommandInfoWithArgs) -> String {
    let mut out = format!(".B {}\n", text(command));
    for f in listed_flags(info) {
        let item = match f.kind {
            FlagInfoKind::Switch => format!("\\fB{}\\fR", flag(f.long)),
            FlagInfoKind::Option { arg_name } => {
                format!("\\fB{}\\fR \\fI{}\\fR", flag(f.long), text(arg_name))
            }
        };
        out.push_str(&match f.optionality {
            Optionality::Required => format!("{item}\n"),
            Optionality::Repeating => format!("[{item}]...\n"),
            _ => format!("[{item}]\n"),
        });
    }
    for p in info.positionals.iter().filter(|p| !p.hidden) {
        out.push_str(&match p.optionality {
            Optionality::Required => format!("\\fI{}\\fR\n", text(p.name)),
            Optionality::Repeating | Optionality::Greedy => {
                format!("[\\fI{}\\fR]...\n", text(p.name))
            }
            Optionality::Optional => format!("[\\fI{}\\fR]\n", text(p.name)),
        });
    }
    if !info.commands.is_empty() {
        out.push_str("\\fICOMMAND\\fR\n");
    }
    out
}

/// The flags and positionals of a command, as `.TP` paragraphs.
fn arguments(info: &CommandInfoWithArgs) -> String {
    let mut out = String::new();
    for p in info.positionals.iter().filter(|p| !p.hidden) {
        out.push_str(&format!(
            ".TP\n\\fI{}\\fR\n{}\n",
            text(p.name),
            text(p.description)
        ));
    }
    for f in listed_flags(info) {
        let head = match f.kind {
            FlagInfoKind::Switch => format!("\\fB{}\\fR", flag(f.long)),
            FlagInfoKind::Option { arg_name } => {
                format!("\\fB{}\\fR \\fI{}\\fR", flag(f.long), text(arg_name))
            }
        };
        out.push_str(&format!(".TP\n{head}\n{}\n", text(f.description)));
    }
    out
}

fn commands(prefix: &str, info: &CommandInfoWithArgs, out: &mut String) {
    for sub in &info.commands {
        let command = format!("{prefix} {}", sub.name);
        out.push_str(&format!(".SS \"{}\"\n", text(&command)));
        out.push_str(&synopsis(&command, &sub.command));
        out.push_str(&format!(".PP\n{}\n", text(sub.command.description)));
        out.push_str(&arguments(&sub.command));
        commands(&command, &sub.command, out);
    }
}

/// The man page of one program.
pub(crate) fn page(info: &CommandInfoWithArgs) -> String {
    let name = info.name;
    let summary = info
        .description
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    let mut out = format!(
        ".TH {} 1 \"\" \"datacore-messaging {}\" \"User Commands\"\n.SH NAME\n{} \\- {}\n.SH SYNOPSIS\n{}.SH DESCRIPTION\n{}\n.SH OPTIONS\n{}.TP\n\\fB\\-\\-help\\fR\ndisplay usage information\n.TP\n\\fB\\-\\-version\\fR\nprint the version and exit\n",
        name.to_uppercase(),
        super::VERSION,
        text(name),
        text(summary),
        synopsis(name, info),
        text(info.description),
        arguments(info),
    );
    if !info.commands.is_empty() {
        out.push_str(".SH COMMANDS\n");
        commands(name, info, &mut out);
    }
    out.push_str(&format!(
        ".SH EXIT STATUS\n0: done; 1: failure, with one line on standard error; 2: a usage mistake{}.\n.SH SEE ALSO\n{}\n",
        if name == "inbox-watcher" {
            " (never: Claude Code would block the prompt, so a usage mistake exits 1)"
        } else {
            ""
        },
        super::programs()
            .iter()
            .filter(|p| p.name != name)
            .map(|p| format!("\\fB{}\\fR(1)", text(p.name)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_names_every_command_and_flag() {
        fn check(page: &str, info: &CommandInfoWithArgs, prefix: &str) {
            for f in info.flags.iter().filter(|f| !f.long.is_empty()) {
                assert!(page.contains(&flag(f.long)), "{prefix}: {}", f.long);
            }
            for sub in &info.commands {
                let command = format!("{prefix} {}", sub.name);
                assert!(page.contains(&format!(".SS \"{command}\"")), "{command}");
                check(page, &sub.command, &command);
            }
        }
        for program in super::super::programs() {
            let page = page(&program);
            assert!(page.starts_with(&format!(".TH {} 1", program.name.to_uppercase())));
            check(&page, &program, program.name);
        }
        assert_eq!(text(".hidden\n'quote\\"), "\\&.hidden\n\\&'quote\\e");
        assert_eq!(text("a → b"), "a \\[u2192] b");
    }
}
