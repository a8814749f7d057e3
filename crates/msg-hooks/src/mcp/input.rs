//! A tool call's arguments, read and checked, and what a call that cannot be done says.
//!
//! The model reads the errors and tries again, so each one names the argument and says
//! what to give instead (`` `limit`: 500 is too large; give 1 to 50 ``). An argument the tool
//! does not take is an error too, never silently ignored: a misspelt `reply_to` must not
//! send a message outside its thread.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::HooksError;

/// Why a tool call did nothing (or, for [`HooksError::Partial`], what it did before it
/// failed): one paragraph for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ToolError(String);

impl ToolError {
    /// An error with this text.
    pub(crate) fn new(text: impl Into<String>) -> ToolError {
        ToolError(text.into())
    }

    /// A mistake in argument `name`: what is wrong and what to give instead.
    fn argument(name: &str, problem: impl fmt::Display) -> ToolError {
        ToolError(format!("`{name}`: {problem}"))
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: Into<HooksError>> From<E> for ToolError {
    fn from(err: E) -> ToolError {
        ToolError(err.into().to_string())
    }
}

/// The arguments of one call.
#[derive(Debug)]
pub(crate) struct Args<'a> {
    given: Option<&'a Map<String, Value>>,
}

impl<'a> Args<'a> {
    /// The arguments `given` to a tool that takes `known`: any other name is an error
    /// listing the ones it takes.
    pub(crate) fn new(
        given: Option<&'a Map<String, Value>>,
        known: &[&str],
    ) -> Result<Args<'a>, ToolError> {
        if let Some(unknown) = given
            .into_iter()
            .flat_map(Map::keys)
            .find(|name| !known.contains(&name.as_str()))
        {
            let takes = if known.is_empty() {
                "this tool takes no arguments".to_owned()
            } else {
                format!(
                    "this tool takes {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(ToolError::argument(
                unknown,
                format!("unknown argument; {takes}"),
            ));
        }
        Ok(Args { given })
    }

    /// The value of `name`, unless absent or `null`.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.given
            .and_then(|map| map.get(name))
            .filter(|v| !v.is_null())
    }

    /// Text `name`, if given; blank text is a mistake (`what` says what to give).
    pub(crate) fn text(&self, name: &str, what: &str) -> Result<Option<String>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Err(ToolError::argument(
                name,
                format!("is empty; give {what}, or leave it out"),
            )),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(ToolError::argument(
                name,
                format!("{} is not text; give {what} as a string", kind(other)),
            )),
        }
    }

    /// Text `name`, which must be given (`what` says what to give).
    pub(crate) fn required_text(&self, name: &str, what: &str) -> Result<String, ToolError> {
        match self.text(name, what)? {
            Some(text) => Ok(text),
            None => Err(ToolError::argument(name, format!("missing; give {what}"))),
        }
    }

    /// One line of text `name` (an ID, an actor), trimmed, if given.
    pub(crate) fn line(&self, name: &str, what: &str) -> Result<Option<String>, ToolError> {
        let line = self.text(name, what)?;
        if line
            .as_deref()
            .is_some_and(|line| line.contains(['\n', '\r']))
        {
            return Err(ToolError::argument(
                name,
                format!("has a line break; give {what} on one line"),
            ));
        }
        Ok(line.map(|line| line.trim().to_owned()))
    }

    /// [`Args::line`], which must be given.
    pub(crate) fn required_line(&self, name: &str, what: &str) -> Result<String, ToolError> {
        self.line(name, what)?
            .ok_or_else(|| ToolError::argument(name, format!("missing; give {what}")))
    }

    /// `true` or `false`; `default` when absent.
    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool, ToolError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(ToolError::argument(
                name,
                format!("{} is not a boolean; give true or false", kind(other)),
            )),
        }
    }

    /// A whole number from `min` to `max`, if given.
    pub(crate) fn number(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ToolError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let range = format!("give a whole number from {min} to {max}");
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Some(n) if n < min => Err(ToolError::argument(
                name,
                format!("{n} is too small; {range}"),
            )),
            Some(n) => Err(ToolError::argument(
                name,
                format!("{n} is too large; {range}"),
            )),
            None => Err(ToolError::argument(
                name,
                format!(
                    "{} is not a whole number of 0 or more; {range}",
                    kind(value)
                ),
            )),
        }
    }

    /// One of `choices`, if given.
    pub(crate) fn choice(
        &self,
        name: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, ToolError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let chosen = value
            .as_str()
            .and_then(|text| choices.iter().find(|c| c.eq_ignore_ascii_case(text.trim())));
        match chosen {
            Some(choice) => Ok(Some(choice)),
            None => Err(ToolError::argument(
                name,
                format!("{} is not one of {}", kind(value), choices.join(", ")),
            )),
        }
    }

    /// A list of `choices` (each at most once), if given; an empty list is a mistake.
    pub(crate) fn choices(
        &self,
        name: &str,
        choices: &[&'static str],
    ) -> Result<Option<Vec<&'static str>>, ToolError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
            return Err(ToolError::argument(
                name,
                format!(
                    "{} is not a list of some of {}; give e.g. [\"{}\"]",
                    kind(value),
                    choices.join(", "),
                    choices[0]
                ),
            ));
        };
        let mut chosen = Vec::new();
        for item in items {
            let choice = item
                .as_str()
                .and_then(|text| choices.iter().find(|c| c.eq_ignore_ascii_case(text.trim())))
                .ok_or_else(|| {
                    ToolError::argument(
                        name,
                        format!("{} is not one of {}", kind(item), choices.join(", ")),
                    )
                })?;
            if !chosen.contains(choice) {
                chosen.push(*choice);
            }
        }
        Ok(Some(chosen))
    }
}

/// A value as the model wrote it, for an error: `"x"`, `12`, `a list`.
fn kind(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let short: String = text.chars().take(40).collect();
            format!("{short:?}")
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    /// The error's text.
    fn err<T>(result: Result<T, ToolError>) -> String {
        match result {
            Ok(_) => panic!("no error"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn each_mistake_names_the_argument_and_the_fix() {
        let given = map(json!({"to": "", "limit": 500, "states": ["queued", "nope"],
            "archive": "yes", "id": "a\nb", "priority": 3}));
        let args = Args::new(
            Some(&given),
            &["to", "limit", "states", "archive", "id", "priority"],
        )
        .unwrap();
        assert_eq!(
            err(args.required_text("to", "the recipient")),
            "`to`: is empty; give the recipient, or leave it out"
        );
        assert_eq!(
            err(args.number("limit", 1, 50)),
            "`limit`: 500 is too large; give a whole number from 1 to 50"
        );
        assert_eq!(
            err(args.choices("states", &["QUEUED", "WORKING"])),
            "`states`: \"nope\" is not one of QUEUED, WORKING"
        );
        assert_eq!(
            err(args.flag("archive", false)),
            "`archive`: \"yes\" is not a boolean; give true or false"
        );
        assert!(err(args.line("id", "a task ID")).contains("has a line break"));
        assert_eq!(
            err(args.choice("priority", &["high", "normal", "low"])),
            "`priority`: 3 is not one of high, normal, low"
        );
        assert_eq!(
            err(args.required_text("text", "the text")),
            "`text`: missing; give the text"
        );
        let unknown = map(json!({"reply-to": "x"}));
        assert_eq!(
            err(Args::new(Some(&unknown), &["to", "reply_to"])),
            "`reply-to`: unknown argument; this tool takes `to`, `reply_to`"
        );
    }

    #[test]
    fn good_arguments_are_read_and_absent_ones_take_their_default() {
        let given = map(
            json!({"states": ["queued", "QUEUED", "working"], "limit": 5,
            "id": " 3f2a ", "priority": "High", "thread": null}),
        );
        let args = Args::new(
            Some(&given),
            &["states", "limit", "id", "priority", "thread"],
        )
        .unwrap();
        assert_eq!(
            args.choices("states", &["QUEUED", "WORKING"]).unwrap(),
            Some(vec!["QUEUED", "WORKING"])
        );
        assert_eq!(args.number("limit", 1, 50).unwrap(), Some(5));
        assert_eq!(
            args.line("id", "a task ID").unwrap().as_deref(),
            Some("3f2a")
        );
        assert_eq!(
            args.choice("priority", &["high", "normal"]).unwrap(),
            Some("high")
        );
        assert_eq!(args.text("thread", "an ID").unwrap(), None);
        assert!(args.flag("archive", true).unwrap());
        assert!(Args::new(None, &[]).is_ok());
    }
}
