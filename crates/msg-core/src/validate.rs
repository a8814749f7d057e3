//! Validation of everything that becomes part of an org file or a path.
//!
//! The Python original let a newline in a sender field forge a second message, and a name like
//! `../x` escape the messaging directory. Every value is checked here, before any file is
//! touched, and the error names the field so the caller can say what to fix.

use thiserror::Error;

/// A value that cannot be written as given. Each variant names the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A single-line field (a property value, a heading, an actor) contains CR or LF.
    #[error("{field} must not contain line breaks (CR or LF), got {value:?}")]
    LineBreak {
        /// The field, e.g. `from_actor` or a property key such as `CUSTOM`.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// A required field is empty or only whitespace.
    #[error("{field} must not be empty")]
    Empty {
        /// The field that was empty.
        field: String,
    },
    /// A field contains a control character other than tab.
    #[error("{field} must not contain control characters, got {value:?}")]
    ControlCharacter {
        /// The field.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// An agent, space or actor name that would not stay inside its directory.
    #[error("{field} {value:?} cannot be used as a file name: {reason}")]
    UnsafeName {
        /// The field, e.g. `agent` or `space`.
        field: String,
        /// The rejected value.
        value: String,
        /// Why it is unsafe.
        reason: &'static str,
    },
    /// A tag with characters org does not accept in tags.
    #[error(
        "tag {tag:?} is invalid: tags may contain only ASCII letters, digits, `_`, `@`, `#` and `%`"
    )]
    InvalidTag {
        /// The rejected tag.
        tag: String,
    },
    /// A property key that org would not read back as the same key.
    #[error("property key {key:?} is invalid: {reason}")]
    InvalidPropertyKey {
        /// The rejected key.
        key: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A priority cookie letter other than an ASCII letter or digit.
    #[error("priority {priority:?} is invalid: use a letter such as `A`, `B` or `C`")]
    InvalidPriority {
        /// The rejected priority.
        priority: char,
    },
    /// A heading title that Org would read back differently: starting with a TODO keyword
    /// or a priority cookie, ending in a `:tag:` group, or with surrounding blanks.
    #[error(
        "title {title:?} would not read back as written: it starts with a TODO keyword, `[#A]` or COMMENT, ends with `:word:` (read as tags), or has surrounding blanks"
    )]
    AmbiguousTitle {
        /// The rejected title.
        title: String,
    },
    /// A TODO keyword that org would not read back as a keyword.
    #[error(
        "keyword {keyword:?} is invalid: keywords are non-empty and contain no whitespace, `|`, `(` or `)`"
    )]
    InvalidKeyword {
        /// The rejected keyword.
        keyword: String,
    },
    /// A single-line field holding `<%%`: Org's agenda evaluates `<%%(…)>` anywhere in an
    /// entry as Emacs Lisp (a diary sexp timestamp), so a value from someone else could run
    /// code in the person's Emacs.
    #[error(
        "{field} must not contain `<%%`: Org's agenda would evaluate `<%%(…)>` as Emacs Lisp, got {value:?}"
    )]
    DiarySexp {
        /// The field, e.g. a property key or `title`.
        field: String,
        /// The rejected value.
        value: String,
    },
}

/// Checks that `value` holds no CR or LF, so it stays one line (a property value, a heading).
pub fn single_line(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.contains(['\n', '\r']) {
        return Err(ValidationError::LineBreak {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Checks a property value (or any single-line field of an entry): one line, and no `<%%`,
/// which Org's agenda would evaluate as Emacs Lisp.
pub fn property_value(field: &str, value: &str) -> Result<(), ValidationError> {
    single_line(field, value)?;
    if value.contains("<%%") {
        return Err(ValidationError::DiarySexp {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Checks an actor identifier (`gregor`, `tex@team.example.com`): non-empty, one line, no
/// control characters, no `<%%` (see [`property_value`]). Actors are free-form otherwise and
/// compared exactly.
pub fn actor(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::Empty {
            field: field.to_owned(),
        });
    }
    property_value(field, value)?;
    if value.chars().any(char::is_control) {
        return Err(ValidationError::ControlCharacter {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Checks a name that becomes a path component (an agent name, a space name): it must stay
/// inside its directory, so no `/`, `\`, NUL or other control character, not `.` or `..`, no
/// leading dot (hidden files, `..` prefixes) and at most 200 bytes.
pub fn path_component(field: &str, value: &str) -> Result<(), ValidationError> {
    let unsafe_name = |reason| ValidationError::UnsafeName {
        field: field.to_owned(),
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(ValidationError::Empty {
            field: field.to_owned(),
        });
    }
    if value.contains(['/', '\\']) {
        return Err(unsafe_name("it contains a path separator"));
    }
    if value.chars().any(char::is_control) {
        return Err(unsafe_name("it contains a control character"));
    }
    if value.starts_with('.') {
        return Err(unsafe_name("it starts with a dot"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(unsafe_name("it contains whitespace"));
    }
    if value.len() > 200 {
        return Err(unsafe_name("it is longer than 200 bytes"));
    }
    Ok(())
}

/// Checks a tag we are about to write. Org reads `[[:alnum:]_@#%]`; we write only the ASCII
/// part of that set so every reader agrees (the Python original accepted only
/// `[A-Za-z0-9_@]`, and reads ours fine as long as `#` and `%` are not used).
pub fn tag(value: &str) -> Result<(), ValidationError> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'#' | b'%'))
    {
        return Err(ValidationError::InvalidTag {
            tag: value.to_owned(),
        });
    }
    Ok(())
}

/// Checks a property key we are about to write: ASCII letters, digits, `_` and `-`, so that
/// org reads `:KEY: value` back as exactly this key.
pub fn property_key(key: &str) -> Result<(), ValidationError> {
    let invalid = |reason| ValidationError::InvalidPropertyKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    {
        return Err(invalid(
            "use only ASCII letters, digits, `_` and `-` (no spaces or colons)",
        ));
    }
    if key.eq_ignore_ascii_case("END") || key.eq_ignore_ascii_case("PROPERTIES") {
        return Err(invalid("it would end or restart the property drawer"));
    }
    Ok(())
}

/// Checks a TODO keyword: non-empty, no whitespace and none of the characters `#+TODO:` lines
/// give meaning to (`|` separates done states, `(...)` holds fast-access keys).
pub fn keyword(value: &str) -> Result<(), ValidationError> {
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '|' | '(' | ')'))
    {
        return Err(ValidationError::InvalidKeyword {
            keyword: value.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_are_rejected_with_the_field_name() {
        let err = single_line("from_actor", "bob\n* TODO forged").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("from_actor must not contain line breaks")
        );
        assert!(single_line("CUSTOM", "a\rb").is_err());
        assert!(single_line("CUSTOM", "a: b :c:").is_ok());
    }

    #[test]
    fn actors_must_be_non_empty_single_line_and_printable() {
        assert!(actor("from_actor", "tex@team.example.com").is_ok());
        assert_eq!(
            actor("to_actor", "  ").unwrap_err(),
            ValidationError::Empty {
                field: "to_actor".into()
            }
        );
        assert!(actor("from_actor", "a\u{0}b").is_err());
        assert!(actor("from_actor", "a\nb").is_err());
        assert!(matches!(
            actor("from_actor", "<%%(shell-command \"x\")>"),
            Err(ValidationError::DiarySexp { .. })
        ));
        assert!(property_value("CUSTOM", "< %% <%").is_ok());
    }

    #[test]
    fn path_components_cannot_escape_their_directory() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a\0b", "a b", "a\nb",
        ] {
            assert!(path_component("agent", bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "gregor-claude",
            "0-personal",
            "tex@team.example.com",
            "a..b",
        ] {
            assert!(path_component("agent", good).is_ok(), "{good:?} rejected");
        }
        assert!(path_component("space", &"x".repeat(201)).is_err());
    }

    #[test]
    fn tags_keys_and_keywords_follow_org_syntax() {
        assert!(tag("unread").is_ok());
        assert!(tag("file_delivery").is_ok());
        assert!(tag("a@b#c%d").is_ok());
        for bad in ["", "has-dash", "has space", "a:b", "é"] {
            assert!(tag(bad).is_err(), "{bad:?} accepted");
        }
        assert!(property_key("REPLY_TO").is_ok());
        for bad in ["", "A B", "A:B", "END", "properties"] {
            assert!(property_key(bad).is_err(), "{bad:?} accepted");
        }
        assert!(keyword("QUEUED").is_ok());
        for bad in ["", "A B", "|", "T(t)"] {
            assert!(keyword(bad).is_err(), "{bad:?} accepted");
        }
    }
}
