//! TODO keyword sets: what `#+TODO:` lines declare, united with what a store needs.

use super::ranges::Span;
use crate::validate::{self, ValidationError};

/// One `#+TODO:` sequence: the not-done keywords, then the done keywords (right of `|`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordSequence {
    todo: Vec<String>,
    done: Vec<String>,
}

impl KeywordSequence {
    /// Parses the value of a `#+TODO:` line the way Org does: words separated by whitespace,
    /// `|` splits not-done from done, and without a `|` the last word is the done keyword.
    /// Fast-access suffixes such as `TODO(t)` or `DONE(d!)` are dropped.
    pub fn parse(value: &str) -> KeywordSequence {
        let words: Vec<&str> = value
            .split_whitespace()
            .map(|w| w.find('(').map_or(w, |i| &w[..i]))
            .filter(|w| !w.is_empty())
            .collect();
        let bar = words.iter().position(|w| *w == "|");
        let (todo, done): (&[&str], &[&str]) = match bar {
            Some(i) => (&words[..i], &words[i + 1..]),
            None if words.is_empty() => (&[], &[]),
            None => words.split_at(words.len() - 1),
        };
        let owned = |ws: &[&str]| {
            ws.iter()
                .filter(|w| **w != "|")
                .map(|w| (*w).to_owned())
                .collect()
        };
        KeywordSequence {
            todo: owned(todo),
            done: owned(done),
        }
    }

    /// Builds a sequence from explicit lists, checking that each keyword is writable.
    pub fn new(todo: &[&str], done: &[&str]) -> Result<KeywordSequence, ValidationError> {
        for keyword in todo.iter().chain(done) {
            validate::keyword(keyword)?;
        }
        Ok(KeywordSequence {
            todo: todo.iter().map(|s| (*s).to_owned()).collect(),
            done: done.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// The not-done keywords, in order.
    pub fn todo(&self) -> &[String] {
        &self.todo
    }

    /// The done keywords, in order.
    pub fn done(&self) -> &[String] {
        &self.done
    }

    /// The value of a `#+TODO:` line for this sequence, e.g. `TODO WAITING | DONE`.
    pub fn to_line_value(&self) -> String {
        let mut out = self.todo.join(" ");
        out.push_str(if self.todo.is_empty() { "|" } else { " |" });
        for done in &self.done {
            out.push(' ');
            out.push_str(done);
        }
        out
    }
}

/// The set of TODO keywords in force for a file: the union of its sequences.
///
/// A keyword is "done-class" when any sequence lists it right of `|`; `CLOSED:` is written
/// when an entry enters a done-class keyword and removed when it leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TodoKeywords {
    sequences: Vec<KeywordSequence>,
}

impl TodoKeywords {
    /// The keywords of one `#+TODO:` line value, e.g.
    /// `TodoKeywords::parse("TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED")`.
    pub fn parse(value: &str) -> TodoKeywords {
        TodoKeywords {
            sequences: vec![KeywordSequence::parse(value)],
        }
    }

    /// No keywords at all.
    pub fn empty() -> TodoKeywords {
        TodoKeywords::default()
    }

    /// Adds a sequence.
    pub fn push(&mut self, sequence: KeywordSequence) {
        self.sequences.push(sequence);
    }

    /// The union of `self` and `other`.
    pub fn union(&self, other: &TodoKeywords) -> TodoKeywords {
        let mut sequences = self.sequences.clone();
        sequences.extend(other.sequences.iter().cloned());
        TodoKeywords { sequences }
    }

    /// The sequences, in declaration order.
    pub fn sequences(&self) -> &[KeywordSequence] {
        &self.sequences
    }

    /// Whether `word` is a keyword of any sequence (case-sensitive, as in Org).
    pub fn contains(&self, word: &str) -> bool {
        self.sequences
            .iter()
            .any(|s| s.todo.iter().chain(&s.done).any(|k| k == word))
    }

    /// Same as [`TodoKeywords::contains`] over bytes, for the scanner.
    pub(crate) fn contains_bytes(&self, word: &[u8]) -> bool {
        self.sequences
            .iter()
            .any(|s| s.todo.iter().chain(&s.done).any(|k| k.as_bytes() == word))
    }

    /// Whether `word` is a done-class keyword in any sequence.
    pub fn is_done(&self, word: &str) -> bool {
        self.sequences
            .iter()
            .any(|s| s.done.iter().any(|k| k == word))
    }

    /// The keywords of `wanted` that `self` does not declare, split into not-done and done
    /// (by `wanted`'s classification), for adding them to a file header.
    pub fn missing_from(&self, wanted: &[&str], classes: &TodoKeywords) -> KeywordSequence {
        let mut missing = KeywordSequence::default();
        for word in wanted {
            if self.contains(word) {
                continue;
            }
            let list = if classes.is_done(word) {
                &mut missing.done
            } else {
                &mut missing.todo
            };
            if !list.iter().any(|k| k == word) {
                list.push((*word).to_owned());
            }
        }
        missing
    }
}

/// The `#+TODO:`-family lines of a file as Org reads them: every such line counts, except
/// inside a lesser block (`#+BEGIN_SRC`, `EXAMPLE`, `EXPORT`, `COMMENT` or `VERSE` up to its
/// `#+END_…` before the next heading), whose lines are text to Org. A block that does not
/// close before the next heading is no block, and its lines count after all.
#[derive(Debug, Default)]
pub(crate) struct KeywordLines {
    declared: TodoKeywords,
    lines: Vec<Span>,
    /// An open lesser block.
    open: Option<OpenBlock>,
}

/// A lesser block not closed yet: its name (upper case) and the keyword lines inside it,
/// which count only if it never closes.
#[derive(Debug)]
struct OpenBlock {
    name: Vec<u8>,
    pending: Vec<(KeywordSequence, Span)>,
}

/// The blocks whose contents Org does not parse as elements.
const LESSER_BLOCKS: [&[u8]; 5] = [b"SRC", b"EXAMPLE", b"EXPORT", b"COMMENT", b"VERSE"];

impl KeywordLines {
    /// Takes a line (`content` without its ending, `full` with it) that starts, after
    /// blanks, with `#+`.
    pub(crate) fn line(&mut self, content: &[u8], full: Span) {
        let start = content
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let rest = &content[start..];
        let after = |word: &[u8]| {
            let tail = rest.get(2..)?;
            (tail.len() >= word.len() && tail[..word.len()].eq_ignore_ascii_case(word))
                .then(|| &tail[word.len()..])
        };
        if let Some(OpenBlock { name, pending }) = &mut self.open {
            if let Some(end) = after(b"END_") {
                let end = trim_end_blanks(end);
                if end.eq_ignore_ascii_case(name) {
                    self.open = None;
                }
            } else if let Some(value) = keyword_line_value(content) {
                pending.push((
                    KeywordSequence::parse(&String::from_utf8_lossy(value)),
                    full,
                ));
            }
            return;
        }
        if let Some(begin) = after(b"BEGIN_") {
            let name: Vec<u8> = begin
                .iter()
                .take_while(|&&b| !b.is_ascii_whitespace())
                .map(u8::to_ascii_uppercase)
                .collect();
            if LESSER_BLOCKS.contains(&name.as_slice()) {
                self.open = Some(OpenBlock {
                    name,
                    pending: Vec::new(),
                });
            }
            return;
        }
        if let Some(value) = keyword_line_value(content) {
            self.declared
                .push(KeywordSequence::parse(&String::from_utf8_lossy(value)));
            self.lines.push(full);
        }
    }

    /// A heading: a block still open was none, and its keyword lines count.
    pub(crate) fn heading(&mut self) {
        if let Some(block) = self.open.take() {
            for (sequence, full) in block.pending {
                self.declared.push(sequence);
                self.lines.push(full);
            }
        }
    }

    /// The keywords declared, and the lines declaring them.
    pub(crate) fn finish(mut self) -> (TodoKeywords, Vec<Span>) {
        self.heading();
        (self.declared, self.lines)
    }
}

fn trim_end_blanks(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |p| p + 1);
    &s[..end]
}

/// If `line` (without its line ending) is a `#+TODO:`, `#+SEQ_TODO:` or `#+TYP_TODO:` line,
/// returns its value. Org accepts any case and leading whitespace.
pub(crate) fn keyword_line_value(line: &[u8]) -> Option<&[u8]> {
    let start = line.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    let rest = line[start..].strip_prefix(b"#+")?;
    // Org's keyword element, `#\+\(\S-*\):[ \t]*\(.*\)`: the key runs to the last colon
    // before the first whitespace, so `#+TODO::x: A` has the key `TODO::x`, no TODO line.
    let run = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    let colon = rest[..run].iter().rposition(|&b| b == b':')?;
    let key = &rest[..colon];
    ["TODO", "SEQ_TODO", "TYP_TODO"]
        .iter()
        .any(|name| key.eq_ignore_ascii_case(name.as_bytes()))
        .then(|| &rest[colon + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_parse_like_org() {
        let s = KeywordSequence::parse("TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED");
        assert_eq!(s.todo(), ["TODO", "WAITING", "QUEUED", "WORKING"]);
        assert_eq!(s.done(), ["DONE", "CANCELLED", "ARCHIVED"]);
        let s = KeywordSequence::parse("  NEXT(n) WAIT(w@/!)  DONE(d!) ");
        assert_eq!(s.todo(), ["NEXT", "WAIT"]);
        assert_eq!(s.done(), ["DONE"]);
        let s = KeywordSequence::parse("| ARCHIVED");
        assert!(s.todo().is_empty());
        assert_eq!(s.done(), ["ARCHIVED"]);
        assert_eq!(s.to_line_value(), "| ARCHIVED");
        let s = KeywordSequence::parse("QUEUED |");
        assert_eq!(s.todo(), ["QUEUED"]);
        assert!(s.done().is_empty());
        assert_eq!(s.to_line_value(), "QUEUED |");
    }

    #[test]
    fn union_classifies_and_finds_missing_keywords() {
        let file = TodoKeywords::parse("TODO | DONE");
        let store = TodoKeywords::parse("TODO QUEUED | DONE ARCHIVED");
        let all = file.union(&store);
        assert!(all.contains("QUEUED") && all.is_done("ARCHIVED") && !all.is_done("TODO"));
        let missing = file.missing_from(&["QUEUED", "ARCHIVED", "DONE"], &store);
        assert_eq!(missing.todo(), ["QUEUED"]);
        assert_eq!(missing.done(), ["ARCHIVED"]);
    }

    #[test]
    fn keyword_lines_inside_lesser_blocks_do_not_count() {
        let read = |text: &str| {
            let mut lines = KeywordLines::default();
            for line in text.lines() {
                if line.trim_start().starts_with("#+") {
                    lines.line(line.as_bytes(), Span::default());
                } else if line.starts_with("* ") {
                    lines.heading();
                }
            }
            let (declared, _) = lines.finish();
            let mut words: Vec<String> = declared
                .sequences()
                .iter()
                .flat_map(|s| s.todo().iter().chain(s.done()).cloned())
                .collect();
            words.sort();
            words
        };
        assert_eq!(read("#+TODO: A | B"), ["A", "B"]);
        assert!(read("#+BEGIN_SRC org\n#+TODO: A | B\n#+END_SRC").is_empty());
        assert!(read("  #+begin_example\n#+TODO: A\n  #+end_example  ").is_empty());
        assert_eq!(
            read("#+BEGIN_QUOTE\n#+TODO: Q | D\n#+END_QUOTE"),
            ["D", "Q"]
        );
        assert_eq!(
            read("#+BEGIN_SRC\n#+TODO: U | V\n* heading\n#+END_SRC"),
            ["U", "V"],
            "a block must close before the next heading"
        );
        assert_eq!(
            read("#+BEGIN_SRC\n#+TODO: W | X"),
            ["W", "X"],
            "nor at the end"
        );
        assert_eq!(
            read("#+BEGIN_SRC\n#+END_EXAMPLE\n#+TODO: Y\n#+END_SRC"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn keyword_lines_are_recognised_in_any_case() {
        assert_eq!(keyword_line_value(b"#+TODO: A | B"), Some(&b" A | B"[..]));
        assert_eq!(keyword_line_value(b"  #+seq_todo: X"), Some(&b" X"[..]));
        assert_eq!(keyword_line_value(b"#+TYP_TODO: X"), Some(&b" X"[..]));
        assert_eq!(keyword_line_value(b"#+TITLE: x"), None);
        assert_eq!(keyword_line_value(b"# +TODO: x"), None);
        assert_eq!(keyword_line_value(b"#+TODO:A B"), Some(&b"A B"[..]));
        assert_eq!(
            keyword_line_value(b"#+TODO::tag: NEXT"),
            None,
            "Org's key: TODO::tag"
        );
        assert_eq!(keyword_line_value(b"#+TODO:x:y z"), None);
    }
}
