//! How the tools and the pushes write for the model: short lines, IDs in full, and text
//! from anyone but the owner framed as data (the hook's frame with its label,
//! [`crate::hook::untrusted::wrap_labelled`]: a label naming the sender and tags with a
//! boundary the sender cannot guess; a tool result cannot count on the hook's note).

use crate::desk::messages::clip;
use crate::hook::untrusted::{Boundary, wrap_labelled};

/// The most of one message's or task's text a tool shows; the rest is cut with a note.
pub(crate) const MAX_TEXT_CHARS: usize = 16_000;

/// The first non-blank line of `text`, trimmed and cut to `max` characters.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    clip(line, max)
}

/// `text` cut to `max` characters with a note saying how much was left out and where the
/// rest is.
pub(crate) fn at_most(text: &str, max: usize, rest: &str) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    format!(
        "{}\n[{} more characters; {rest}]",
        clip(text, max),
        total - max + 1
    )
}

/// `text` as it goes in front of the model: as it is when `trusted` (the owner's), else
/// framed as data from `sender` of tier `tier`.
pub(crate) fn framed(
    text: &str,
    trusted: bool,
    sender: &str,
    tier: &str,
    boundary: &Boundary,
) -> String {
    if trusted {
        text.trim_end_matches('\n').to_owned()
    } else {
        wrap_labelled(text, sender, tier, boundary)
    }
}

/// One line of a list and whose text it carries.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The line.
    pub(crate) text: String,
    /// Who wrote the text in it.
    pub(crate) sender: String,
    /// Their tier.
    pub(crate) tier: String,
    /// Whether that is the owner.
    pub(crate) trusted: bool,
}

/// A list: the lines of the owner's text as they are, then the others' in one frame that
/// names their senders and tiers (each once).
pub(crate) fn listing(lines: &[Line], boundary: &Boundary) -> String {
    let (owners, others): (Vec<&Line>, Vec<&Line>) = lines.iter().partition(|l| l.trusted);
    let mut out: Vec<String> = owners.iter().map(|l| l.text.clone()).collect();
    if !others.is_empty() {
        let text: Vec<&str> = others.iter().map(|l| l.text.as_str()).collect();
        out.push(wrap_labelled(
            &text.join("\n"),
            &each_once(others.iter().map(|l| l.sender.as_str())),
            &each_once(others.iter().map(|l| l.tier.as_str())),
            boundary,
        ));
    }
    out.join("\n")
}

/// Names joined by `, `, each once, in order.
fn each_once<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_a_note_and_only_others_text_is_framed() {
        assert_eq!(at_most("abcdef", 10, "x"), "abcdef");
        assert_eq!(
            at_most("abcdef", 4, "read it with `read`"),
            "abc…\n[3 more characters; read it with `read`]"
        );
        assert_eq!(first_line("\n  \n hello there \nmore", 5), "hell…");
        let boundary = Boundary::random();
        assert_eq!(framed("do it\n", true, "bob", "owner", &boundary), "do it");
        let wrapped = framed("do it", false, "eve", "unknown", &boundary);
        assert!(wrapped.contains("not from your owner"), "{wrapped}");
        let line = |text: &str, sender: &str, trusted: bool| Line {
            text: text.into(),
            sender: sender.into(),
            tier: if trusted { "owner" } else { "unknown" }.into(),
            trusted,
        };
        let list = listing(
            &[
                line("- eve's", "eve", false),
                line("- bob's", "bob", true),
                line("- mallory's", "mallory", false),
                line("- eve's again", "eve", false),
            ],
            &boundary,
        );
        let (owners, others) = list.split_once('\n').unwrap();
        assert_eq!(owners, "- bob's");
        assert!(
            others.contains("comes from eve, mallory (trust tier unknown)"),
            "{others}"
        );
        assert!(
            others.contains("- eve's\n- mallory's\n- eve's again\n</untrusted"),
            "{others}"
        );
    }
}
