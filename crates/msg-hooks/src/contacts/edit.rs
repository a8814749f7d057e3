//! Edits of `contacts.yaml` as a person would make them: only the lines of the actor
//! concerned change; comments, blank lines, key order, quoting and the other actors stay
//! byte for byte.
//!
//! The editor knows the shapes the template and people write: a top-level `actors:` key
//! holding a block sequence (`- id: …` items, at any indentation, each a block mapping
//! or a one-line flow mapping `- {id: …}`), or `actors: []`, or nothing yet. Anything else
//! (a flow sequence with items, anchors) is refused with the line, never guessed at. The
//! caller ([`super::update`]) checks that the result reads back as the intended change.

use std::fmt;

/// A value to write for a key of an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A scalar, quoted when YAML would read it as something else.
    Text(String),
    /// A list of scalars, written `[a, "@b"]` on one line.
    List(Vec<String>),
}

/// Why an edit cannot be made safely; the caller names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditError {
    /// The 1-based line concerned, when there is one.
    pub(crate) line: Option<usize>,
    /// What is in the way.
    pub(crate) message: String,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn refuse(line: Option<usize>, message: impl Into<String>) -> EditError {
    EditError {
        line,
        message: message.into(),
    }
}

/// `text` as lines, each with its own line ending (the last one may have none).
struct Lines<'a> {
    lines: Vec<&'a str>,
    /// The ending new lines get: the file's first one, else `\n`.
    ending: &'static str,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let ending = match lines.first() {
            Some(first) if first.ends_with("\r\n") => "\r\n",
            _ => "\n",
        };
        Lines { lines, ending }
    }

    /// The line without its ending.
    fn content(&self, index: usize) -> &'a str {
        self.lines[index].trim_end_matches(['\n', '\r'])
    }

    /// The text with `lines[from..to]` replaced by `new` (each without an ending).
    fn splice(&self, from: usize, to: usize, new: &[String]) -> String {
        let mut out = String::new();
        for line in &self.lines[..from] {
            out.push_str(line);
        }
        if !new.is_empty() && !out.is_empty() && !out.ends_with('\n') {
            out.push_str(self.ending);
        }
        for line in new {
            out.push_str(line);
            out.push_str(self.ending);
        }
        for line in &self.lines[to..] {
            out.push_str(line);
        }
        out
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// The value part of `key: value  # comment` split from its comment (which keeps its
/// leading blanks); quotes are respected.
fn split_comment(value: &str) -> (&str, &str) {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (at, c) in value.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous == ' ' || previous == '\t' => {
                let start = value[..at].trim_end().len();
                return (&value[..start], &value[start..]);
            }
            _ => {}
        }
        previous = c;
    }
    (value.trim_end(), "")
}

/// One item of the `actors` sequence.
#[derive(Debug)]
struct Item {
    /// Its `- ` line.
    start: usize,
    /// After its last line of content (trailing comments and blank lines are not its own).
    end: usize,
    /// Where its keys start: after `- ` on the first line, and on the lines below.
    key_column: usize,
    /// The actor's `id`, as YAML reads it.
    id: Option<String>,
    /// A one-line flow mapping (`- {id: a}`).
    flow: bool,
}

/// The `actors` sequence as the file has it.
#[derive(Debug)]
struct Actors {
    /// The `actors:` line, if there is one.
    key_line: Option<usize>,
    /// The column of the items' dashes.
    dash_column: Option<usize>,
    items: Vec<Item>,
}

fn find_actors(lines: &Lines<'_>) -> Result<Actors, EditError> {
    let key_line = (0..lines.lines.len()).find(|&i| {
        let line = lines.content(i);
        line.starts_with("actors:") || line.starts_with("\"actors\":")
    });
    let Some(key_line) = key_line else {
        return Ok(Actors {
            key_line: None,
            dash_column: None,
            items: Vec::new(),
        });
    };
    let line = lines.content(key_line);
    let (value, _) = split_comment(&line[line.find(':').expect("found above") + 1..]);
    let value = value.trim();
    if !value.is_empty() && value != "[]" {
        return Err(refuse(
            Some(key_line + 1),
            "`actors:` is written on one line; write its actors one per `- id: …` item to let msg edit it",
        ));
    }
    let mut items: Vec<Item> = Vec::new();
    let mut dash_column = None;
    for i in key_line + 1..lines.lines.len() {
        let line = lines.content(i);
        if is_blank_or_comment(line) {
            continue;
        }
        let column = indent(line);
        let rest = &line[column..];
        let is_dash = rest == "-" || rest.starts_with("- ");
        match dash_column {
            None if is_dash => dash_column = Some(column),
            None => break,
            Some(dash) if is_dash && column == dash => {}
            Some(dash) if column > dash => {
                if let Some(item) = items.last_mut() {
                    item.end = i + 1;
                }
                continue;
            }
            Some(_) => break,
        }
        if !value.is_empty() {
            return Err(refuse(
                Some(i + 1),
                "`actors: []` is followed by items; remove the `[]`",
            ));
        }
        let after_dash = rest[1..].trim_start_matches(' ');
        items.push(Item {
            start: i,
            end: i + 1,
            key_column: column + (rest.len() - after_dash.len()),
            id: None,
            flow: after_dash.starts_with('{'),
        });
    }
    for item in &mut items {
        item.id = item_id(lines, item);
    }
    Ok(Actors {
        key_line: Some(key_line),
        dash_column,
        items,
    })
}

/// The `id` of an item, read by YAML from its own lines.
fn item_id(lines: &Lines<'_>, item: &Item) -> Option<String> {
    let dash = lines.content(item.start).len() - lines.content(item.start).trim_start().len();
    let text: String = (item.start..item.end)
        .map(|i| {
            let line = lines.content(i);
            let cut = indent(line).min(dash);
            format!("{}\n", &line[cut..])
        })
        .collect();
    let parsed: Vec<serde_yaml::Value> = serde_yaml::from_str(&text).ok()?;
    match parsed.first()?.get("id")? {
        serde_yaml::Value::String(id) => Some(id.clone()),
        _ => None,
    }
}

/// The item of actor `id`.
fn find_item<'s>(actors: &'s Actors, id: &str) -> Result<&'s Item, EditError> {
    actors
        .items
        .iter()
        .find(|item| item.id.as_deref() == Some(id))
        .ok_or_else(|| refuse(None, format!("no actor has the id {id:?}")))
}

/// `text` as a YAML scalar: as it is when YAML reads it back as the same text, else
/// double-quoted (a JSON string is a valid YAML double-quoted scalar).
pub(crate) fn scalar(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@+/-".contains(c))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        text.to_owned()
    } else {
        serde_json::to_string(text).expect("strings serialise")
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::Text(text) => scalar(text),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|item| scalar(item)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// `text` with an actor added after the last one: `fields` in order, the first being `id`.
pub(crate) fn add_actor(text: &str, fields: &[(&str, Value)]) -> Result<String, EditError> {
    let lines = Lines::new(text);
    let actors = find_actors(&lines)?;
    let dash = actors.dash_column.unwrap_or(2);
    let mut new = Vec::new();
    for (index, (key, value)) in fields.iter().enumerate() {
        let lead = if index == 0 {
            format!("{}- ", " ".repeat(dash))
        } else {
            " ".repeat(dash + 2)
        };
        new.push(format!("{lead}{key}: {}", render(value)));
    }
    Ok(match (actors.key_line, actors.items.last()) {
        (_, Some(last)) => lines.splice(last.end, last.end, &new),
        (Some(key_line), None) => {
            // `actors: []` or `actors:` becomes `actors:` with the item under it; a comment
            // on the line stays.
            let line = lines.content(key_line);
            let colon = line.find(':').expect("an actors: line");
            let (_, comment) = split_comment(&line[colon + 1..]);
            let mut replaced = vec![format!("{}{comment}", &line[..=colon])];
            replaced.extend(new);
            lines.splice(key_line, key_line + 1, &replaced)
        }
        (None, None) => {
            let mut added = vec!["actors:".to_owned()];
            added.extend(new);
            lines.splice(lines.lines.len(), lines.lines.len(), &added)
        }
    })
}

/// `text` without the lines of actor `id`.
pub(crate) fn remove_actor(text: &str, id: &str) -> Result<String, EditError> {
    let lines = Lines::new(text);
    let actors = find_actors(&lines)?;
    let item = find_item(&actors, id)?;
    // Without its last actor, `actors:` stays with nothing under it: no actors.
    Ok(lines.splice(item.start, item.end, &[]))
}

/// `text` with `key` of actor `id` set to `value`: its line (and the lines of a block value
/// under it) replaced, keeping a comment at its end, or a new line after the actor's last.
pub(crate) fn set_field(
    text: &str,
    id: &str,
    key: &str,
    value: &Value,
) -> Result<String, EditError> {
    let lines = Lines::new(text);
    let actors = find_actors(&lines)?;
    let item = find_item(&actors, id)?;
    if item.flow {
        return Err(refuse(
            Some(item.start + 1),
            format!(
                "the actor {id:?} is written as `{{…}}` on one line; write it one key per line to let msg edit it"
            ),
        ));
    }
    let new_value = render(value);
    // The lines that start a key: the dash line (after `- `) and those at the key column.
    let key_lines: Vec<usize> = (item.start..item.end)
        .filter(|&i| {
            let line = lines.content(i);
            i == item.start || (indent(line) == item.key_column && !is_blank_or_comment(line))
        })
        .collect();
    let position = key_lines.iter().position(|&i| {
        lines.content(i)[item.key_column..]
            .strip_prefix(key)
            .is_some_and(|after| after.starts_with(':'))
    });
    let Some(position) = position else {
        let new = format!("{}{key}: {new_value}", " ".repeat(item.key_column));
        return Ok(lines.splice(item.end, item.end, &[new]));
    };
    let start = key_lines[position];
    // The value's own lines end at the next key of the item.
    let end = key_lines.get(position + 1).copied().unwrap_or(item.end);
    // Trailing comment lines before the next key belong to what follows, not to the value.
    let mut end = end;
    while end > start + 1 && is_blank_or_comment(lines.content(end - 1)) {
        end -= 1;
    }
    let line = lines.content(start);
    let head = &line[..item.key_column + key.len() + 1];
    let (_, comment) = split_comment(&line[item.key_column + key.len() + 1..]);
    let new = format!("{head} {new_value}{comment}");
    Ok(lines.splice(start, end, &[new]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE_TAIL: &str = "# The people of this space.\nactors: []  # none yet\n#  - id: tex@team.example.com\n#    name: Tex\n";

    #[test]
    fn the_first_actor_turns_the_empty_list_into_a_block() {
        let text = add_actor(
            TEMPLATE_TAIL,
            &[
                ("id", Value::Text("tex@team.example.com".into())),
                ("handles", Value::List(vec!["@tex".into(), "t".into()])),
                ("added", Value::Text("2026-12-07".into())),
            ],
        )
        .unwrap();
        assert_eq!(
            text,
            "# The people of this space.\nactors:  # none yet\n  - id: tex@team.example.com\n    handles: [\"@tex\", t]\n    added: \"2026-12-07\"\n#  - id: tex@team.example.com\n#    name: Tex\n"
        );
        let again = add_actor(&text, &[("id", Value::Text("bob".into()))]).unwrap();
        assert!(
            again.contains("    added: \"2026-12-07\"\n  - id: bob\n#  - id: tex"),
            "{again}"
        );
    }

    #[test]
    fn a_file_without_actors_gets_the_key_and_crlf_files_stay_crlf() {
        assert_eq!(
            add_actor("# mine\n", &[("id", Value::Text("a".into()))]).unwrap(),
            "# mine\nactors:\n  - id: a\n"
        );
        assert_eq!(
            add_actor("groups: {}", &[("id", Value::Text("a".into()))]).unwrap(),
            "groups: {}\nactors:\n  - id: a\n"
        );
        let crlf = "actors:\r\n- id: a\r\n  name: A\r\n";
        assert_eq!(
            add_actor(crlf, &[("id", Value::Text("b".into()))]).unwrap(),
            "actors:\r\n- id: a\r\n  name: A\r\n- id: b\r\n"
        );
    }

    #[test]
    fn removing_keeps_the_neighbours_and_their_comments() {
        let text = "actors:\n  # the team\n  - id: a   # first\n    name: A\n\n  # bob next\n  - {id: b, handles: [bb]}\n  - id: c\ngroups:\n  x: [a]\n";
        assert_eq!(
            remove_actor(text, "a").unwrap(),
            "actors:\n  # the team\n\n  # bob next\n  - {id: b, handles: [bb]}\n  - id: c\ngroups:\n  x: [a]\n"
        );
        assert_eq!(
            remove_actor(text, "b").unwrap(),
            "actors:\n  # the team\n  - id: a   # first\n    name: A\n\n  # bob next\n  - id: c\ngroups:\n  x: [a]\n"
        );
        assert_eq!(remove_actor(text, "zz").unwrap_err().line, None);
    }

    #[test]
    fn a_field_is_replaced_in_place_or_added_at_the_end_of_its_actor() {
        let text = "actors:\n- id: a\n  trust_tier: unknown  # for now\n  handles:\n    - x\n    - y\n  # notes\n  added: 2026-01-01\n- id: b\n";
        assert_eq!(
            set_field(text, "a", "trust_tier", &Value::Text("team".into())).unwrap(),
            "actors:\n- id: a\n  trust_tier: team  # for now\n  handles:\n    - x\n    - y\n  # notes\n  added: 2026-01-01\n- id: b\n"
        );
        assert_eq!(
            set_field(text, "a", "handles", &Value::List(vec!["z".into()])).unwrap(),
            "actors:\n- id: a\n  trust_tier: unknown  # for now\n  handles: [z]\n  # notes\n  added: 2026-01-01\n- id: b\n"
        );
        assert_eq!(
            set_field(text, "b", "trust_tier", &Value::Text("team".into())).unwrap(),
            "actors:\n- id: a\n  trust_tier: unknown  # for now\n  handles:\n    - x\n    - y\n  # notes\n  added: 2026-01-01\n- id: b\n  trust_tier: team\n"
        );
        // A key on the dash line.
        assert_eq!(
            set_field(
                "actors:\n  - trust_tier: x\n    id: a\n",
                "a",
                "trust_tier",
                &Value::Text("z".into())
            )
            .unwrap(),
            "actors:\n  - trust_tier: z\n    id: a\n"
        );
        let err = set_field(
            "actors:\n  - {id: a}\n",
            "a",
            "name",
            &Value::Text("A".into()),
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn layouts_it_cannot_edit_are_refused_with_the_line() {
        let err = add_actor(
            "x: 1\nactors: [{id: a}]\n",
            &[("id", Value::Text("b".into()))],
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().contains("one line"), "{err}");
    }

    #[test]
    fn scalars_are_quoted_when_yaml_would_misread_them() {
        assert_eq!(scalar("tex@team.example.com"), "tex@team.example.com");
        assert_eq!(scalar("@tex"), "\"@tex\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("2026-12-07"), "\"2026-12-07\"");
        assert_eq!(scalar("a: b # c"), "\"a: b # c\"");
        assert_eq!(scalar("zoë"), "\"zoë\"");
        assert_eq!(scalar(""), "\"\"");
        for text in [
            "@tex",
            "yes",
            "2026-12-07",
            "a: b # c",
            "zoë",
            "\"q\"\\",
            "1e3",
            "~",
        ] {
            let read: String = serde_yaml::from_str(&scalar(text)).unwrap();
            assert_eq!(read, text);
        }
    }
}
