//! The Python original's budget files, `budget-<YYYY-MM-DD>.json` (reference §6.3).
//!
//! ```json
//! {
//!   "date": "2026-11-24",
//!   "senders": {
//!     "tex@team.example.com": {
//!       "tokens_today": 4200,
//!       "tasks_this_hour": [1795504133.1889367],
//!       "tasks_today": 1,
//!       "active_tasks": 1
//!     }
//!   }
//! }
//! ```
//!
//! They are only read, never written or deleted: the first time the state file meets a day,
//! that day's budget file (if any) seeds it. Tokens and tasks become the day's usage, the
//! hourly timestamps join the hourly window, and active tasks become admissions with IDs
//! `adm-legacy-<YYYYMMDD>-<n>` that reserve no tokens and expire at that day's midnight, as
//! they did in the original. Missing keys count as 0 or `[]`, as in the original; anything
//! else that does not read as the original wrote it is an error naming the file.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use time::Date;

use crate::GovernorError;
use crate::state::{AdmissionRecord, State, json_error, unix_seconds, valid_time};

/// The name of the original's budget file of `day`.
pub(crate) fn file_name(day: Date) -> String {
    format!("budget-{day}.json")
}

#[derive(Debug, Deserialize)]
struct BudgetFile {
    /// Objects are required here: serde would also read a JSON array as a struct.
    #[serde(default)]
    senders: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SenderState {
    #[serde(deserialize_with = "count")]
    tokens_today: u64,
    tasks_this_hour: Vec<f64>,
    #[serde(deserialize_with = "count")]
    tasks_today: u64,
    #[serde(deserialize_with = "count")]
    active_tasks: u64,
}

/// Seeds `state` with the original's budget file of `day` in `dir`, when there is one.
pub(crate) fn seed(state: &mut State, dir: &Path, day: Date) -> Result<(), GovernorError> {
    let path = dir.join(file_name(day));
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(GovernorError::Read { path, source }),
    };
    let budget: BudgetFile =
        serde_json::from_slice(&bytes).map_err(|err| json_error(&path, &err))?;
    let day_key = day.to_string();
    let compact_day = day_key.replace('-', "");
    let midnight = unix_seconds(day.midnight().assume_utc());
    let mut legacy_number = 0;
    for (actor, sender) in budget.senders {
        let corrupt = |message: String| GovernorError::Corrupt {
            path: path.clone(),
            line: None,
            column: None,
            message,
        };
        let sender = SenderState::deserialize(serde_json::Value::Object(sender))
            .map_err(|err| corrupt(format!("senders.{actor}: {err}")))?;
        if let Some(bad) = sender.tasks_this_hour.iter().find(|t| !valid_time(**t)) {
            return Err(corrupt(format!(
                "senders.{actor}.tasks_this_hour: {bad} is not a time in Unix seconds"
            )));
        }
        let usage = state.day_usage_mut(&day_key, &actor);
        usage.tokens_used = usage.tokens_used.saturating_add(sender.tokens_today);
        usage.tasks = usage.tasks.saturating_add(sender.tasks_today);
        let admitted_at = sender
            .tasks_this_hour
            .iter()
            .copied()
            .fold(midnight, f64::max);
        let hourly = state.hourly.entry(actor.clone()).or_default();
        for time in sender.tasks_this_hour {
            if !hourly.contains(&time) {
                hourly.push(time);
            }
        }
        for _ in 0..sender.active_tasks.min(10_000) {
            legacy_number += 1;
            state.admissions.insert(
                format!("adm-legacy-{compact_day}-{legacy_number}"),
                AdmissionRecord {
                    actor: actor.clone(),
                    reserved_tokens: 0,
                    effort: 0,
                    admitted_at,
                    legacy_day: Some(day_key.clone()),
                },
            );
        }
    }
    Ok(())
}

/// A count as Python wrote it: an integer, or a float where a caller passed one. Negative
/// values (the original never validated `record_usage`) count as 0, fractions round up; both
/// err on the side of the budget.
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Count;
    impl Visitor<'_> for Count {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
            Ok(value)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
            Ok(u64::try_from(value).unwrap_or(0))
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
            if !value.is_finite() {
                return Err(E::invalid_value(de::Unexpected::Float(value), &self));
            }
            // Saturating float-to-int conversion is what `as` does, and what is wanted here.
            Ok(value.max(0.0).ceil() as u64)
        }
    }
    deserializer.deserialize_any(Count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn counts_read_as_python_may_have_written_them() {
        let sender = |text: &str| {
            SenderState::deserialize(serde_json::from_str::<serde_json::Value>(text).unwrap())
        };
        let a = sender(r#"{"tokens_today": -5, "tasks_today": 2.2}"#).unwrap();
        assert_eq!((a.tokens_today, a.tasks_today, a.active_tasks), (0, 3, 0));
        assert!(sender(r#"{"tokens_today": "x"}"#).is_err());
        assert!(serde_json::from_str::<BudgetFile>(r#"{"senders": {"a": []}}"#).is_err());
    }

    #[test]
    fn file_names_follow_the_original() {
        assert_eq!(file_name(date!(2026 - 03 - 11)), "budget-2026-03-11.json");
    }
}
