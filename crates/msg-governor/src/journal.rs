//! The journal `governor.journal`: one line of JSON per change since the snapshot.
//!
//! ```text
//! {"format":1,"generation":7}
//! {"op":"admit","id":"adm-20261124-100259-3","actor":"tex@team.example.com","tokens":5000,"effort":3,"at":1795510979.0,"day":"2026-11-24","next":4}
//! {"op":"usage","actor":"stranger@other.org","tokens":120,"day":"2026-11-24"}
//! {"op":"complete","id":"adm-20261124-100259-3","tokens":4200,"day":"2026-11-24"}
//! {"op":"release","id":"adm-20261124-100759-4"}
//! ```
//!
//! The first line names the snapshot generation the journal continues. Each further line is
//! a decision already taken under the lock (not a request), so replaying the lines on the
//! snapshot gives the same state in every process. A line counts once it ends in a newline:
//! a reader may see the first part of a line that is still being appended, and a crash may
//! leave one; neither was ever acknowledged, so an unfinished last line is ignored (and
//! dropped by the next writer, which then starts a new journal).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{FORMAT, GovernorError};

/// The first line of a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) format: u64,
    pub(crate) generation: u64,
}

impl Header {
    pub(crate) fn new(generation: u64) -> Header {
        Header {
            format: FORMAT,
            generation,
        }
    }

    /// The header as a journal line, newline included.
    pub(crate) fn line(self) -> Vec<u8> {
        let mut line = serde_json::to_vec(&self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// One change to the state, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Op {
    /// A task admitted: it reserves `tokens`, counts as a task of `day` and of the hour.
    Admit {
        id: String,
        actor: String,
        tokens: u64,
        effort: u64,
        /// Unix seconds.
        at: f64,
        day: String,
        /// The admission counter after this ID.
        next: u64,
    },
    /// An admission ended with `tokens` used on `day`.
    Complete {
        id: String,
        tokens: u64,
        day: String,
    },
    /// An admission ended without use.
    Release { id: String },
    /// Tokens used outside an admission.
    Usage {
        actor: String,
        tokens: u64,
        day: String,
    },
}

impl Op {
    /// The operation as a journal line, newline included.
    pub(crate) fn line(&self) -> Vec<u8> {
        // Serialising a plain enum of strings and numbers cannot fail; the floats are finite
        // (they come from `unix_seconds`).
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// The complete lines at the start of `bytes`: each line's bytes without the newline, and
/// how many bytes they take with their newlines. Bytes after the last newline are an
/// unfinished line.
pub(crate) fn complete_lines(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
        return (Vec::new(), 0);
    };
    let complete = &bytes[..=last_newline];
    let lines = complete[..last_newline].split(|&b| b == b'\n').collect();
    (lines, complete.len())
}

/// Parses one line of `path` (line number `line`, 1-based) as `T`.
pub(crate) fn parse_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    line: u64,
    bytes: &[u8],
) -> Result<T, GovernorError> {
    serde_json::from_slice(bytes).map_err(|err| {
        let message = err.to_string();
        let message = message.replacen(&format!(" at line 1 column {}", err.column()), "", 1);
        GovernorError::Corrupt {
            path: path.to_owned(),
            line: usize::try_from(line).ok(),
            column: (err.column() > 0).then_some(err.column()),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lines_ending_in_a_newline_count() {
        assert_eq!(complete_lines(b""), (vec![], 0));
        assert_eq!(complete_lines(b"{\"a\""), (vec![], 0));
        let (lines, used) = complete_lines(b"one\ntwo\nthr");
        assert_eq!(lines, [&b"one"[..], b"two"]);
        assert_eq!(used, 8);
        let (lines, used) = complete_lines(b"one\n\n");
        assert_eq!(lines, [&b"one"[..], b""]);
        assert_eq!(used, 5);
    }

    #[test]
    fn operations_round_trip_as_single_lines() {
        let ops = [
            Op::Admit {
                id: "adm-20261124-100259-3".into(),
                actor: "tex".into(),
                tokens: 5000,
                effort: 3,
                at: 1795510979.25,
                day: "2026-11-24".into(),
                next: 4,
            },
            Op::Complete {
                id: "adm-1".into(),
                tokens: 1,
                day: "2026-11-24".into(),
            },
            Op::Release { id: "a\nb".into() },
            Op::Usage {
                actor: "x".into(),
                tokens: 0,
                day: "2026-11-24".into(),
            },
        ];
        for op in ops {
            let line = op.line();
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            let back: Op = parse_line(Path::new("j"), 2, &line[..line.len() - 1]).unwrap();
            assert_eq!(back, op);
        }
        let err = parse_line::<Op>(Path::new("j"), 5, br#"{"op":"explode"}"#).unwrap_err();
        assert!(err.to_string().contains("j, line 5 column"), "{err}");
        assert_eq!(
            Header::new(7).line(),
            b"{\"format\":1,\"generation\":7}\n".to_vec()
        );
    }
}
