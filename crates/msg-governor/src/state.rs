//! The state as it is kept in memory and in the snapshot `governor.json`: its shape, the
//! journal operations applied to it, pruning, and strict reading.
//!
//! ```json
//! {
//!   "format": 1,
//!   "generation": 7,
//!   "next_admission": 3,
//!   "days": {
//!     "2026-11-24": {
//!       "tex@team.example.com": { "tokens_used": 4200, "tasks": 2 }
//!     }
//!   },
//!   "admissions": {
//!     "adm-20261124-100259-2": {
//!       "actor": "tex@team.example.com",
//!       "reserved_tokens": 5000,
//!       "effort": 3,
//!       "admitted_at": 1795511379.0
//!     }
//!   },
//!   "hourly": {
//!     "tex@team.example.com": [1795504133.1889367, 1795511379.0]
//!   }
//! }
//! ```
//!
//! Daily usage is keyed by the calendar day, so a new day starts from zero by construction
//! while admissions (active tasks and their reservations) and the hourly window are not keyed
//! by day at all and carry over midnight. Times are Unix seconds, as in the original's
//! `tasks_this_hour`. `generation` pairs the snapshot with its journal (see `store.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

use crate::journal::Op;
use crate::{FORMAT, GovernorError};

/// Days of usage kept in the file (for people reading it; the checks need only today).
const HISTORY_DAYS: i64 = 7;
/// The length of the hourly window, in seconds.
pub(crate) const HOUR_SECONDS: f64 = 3600.0;

/// Everything the governor knows, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Required, so that some other JSON file in its place is not read as an empty state.
    pub(crate) format: u64,
    /// Which journal continues this snapshot: the one whose header has the same number.
    #[serde(default)]
    pub(crate) generation: u64,
    /// The number in the next admission ID.
    #[serde(default)]
    pub(crate) next_admission: u64,
    /// Day (`YYYY-MM-DD`) to actor to what the actor used that day.
    #[serde(default)]
    pub(crate) days: BTreeMap<String, BTreeMap<String, DayUsage>>,
    /// Active admissions by ID: admitted, not yet completed or released.
    #[serde(default)]
    pub(crate) admissions: BTreeMap<String, AdmissionRecord>,
    /// Actor to the times of its admissions in the last hour.
    #[serde(default)]
    pub(crate) hourly: BTreeMap<String, Vec<f64>>,
}

/// One actor's usage on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DayUsage {
    /// Tokens reported used (completions and `record_usage`).
    pub(crate) tokens_used: u64,
    /// Tasks admitted.
    pub(crate) tasks: u64,
}

/// One active admission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AdmissionRecord {
    pub(crate) actor: String,
    pub(crate) reserved_tokens: u64,
    #[serde(default)]
    pub(crate) effort: u64,
    /// Unix seconds.
    pub(crate) admitted_at: f64,
    /// Set on active tasks imported from the original's `budget-<day>.json`. The original
    /// forgot its active tasks at midnight, and these carry no ID that any caller holds, so
    /// they expire at the end of that day instead of filling the queue for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) legacy_day: Option<String>,
}

impl State {
    pub(crate) fn empty() -> State {
        State {
            format: FORMAT,
            generation: 0,
            next_admission: 1,
            days: BTreeMap::new(),
            admissions: BTreeMap::new(),
            hourly: BTreeMap::new(),
        }
    }

    /// What `actor` used on `day`.
    pub(crate) fn day_usage(&self, day: &str, actor: &str) -> DayUsage {
        self.days
            .get(day)
            .and_then(|senders| senders.get(actor))
            .copied()
            .unwrap_or_default()
    }

    /// The usage record of `actor` on `day`, created when missing.
    pub(crate) fn day_usage_mut(&mut self, day: &str, actor: &str) -> &mut DayUsage {
        self.days
            .entry(day.to_owned())
            .or_default()
            .entry(actor.to_owned())
            .or_default()
    }

    /// Tokens used by everyone on `day`.
    pub(crate) fn total_used(&self, day: &str) -> u64 {
        self.days.get(day).map_or(0, |senders| {
            senders
                .values()
                .fold(0, |sum, usage| sum.saturating_add(usage.tokens_used))
        })
    }

    /// Tokens reserved by the active admissions of `actor`.
    pub(crate) fn reserved_by(&self, actor: &str) -> u64 {
        self.admissions
            .values()
            .filter(|admission| admission.actor == actor)
            .fold(0, |sum, a| sum.saturating_add(a.reserved_tokens))
    }

    /// Tokens reserved by all active admissions.
    pub(crate) fn total_reserved(&self) -> u64 {
        self.admissions
            .values()
            .fold(0, |sum, a| sum.saturating_add(a.reserved_tokens))
    }

    /// The times of `actor`'s admissions within the hour before `now` (strictly after
    /// `now - 3600 s`, as in the original), oldest first.
    pub(crate) fn recent_admissions(&self, actor: &str, now: f64) -> Vec<f64> {
        let mut recent: Vec<f64> = self
            .hourly
            .get(actor)
            .map(|times| {
                times
                    .iter()
                    .copied()
                    .filter(|&t| t > now - HOUR_SECONDS)
                    .collect()
            })
            .unwrap_or_default();
        recent.sort_by(f64::total_cmp);
        recent
    }

    /// Drops what no check will look at again: days older than the history, hourly entries
    /// older than an hour.
    pub(crate) fn prune(&mut self, today: Date, now: f64) {
        if let Some(oldest_kept) = today.checked_sub(Duration::days(HISTORY_DAYS)) {
            let oldest_kept = oldest_kept.to_string();
            self.days.retain(|day, _| *day >= oldest_kept);
        }
        for times in self.hourly.values_mut() {
            times.retain(|&t| t > now - HOUR_SECONDS);
        }
        self.hourly.retain(|_, times| !times.is_empty());
    }
}

impl State {
    /// Applies one journal operation. The governor produces only operations that apply (it
    /// decided them on this very state under the lock); an error here means a journal that
    /// does not belong to its snapshot, and names what does not fit.
    pub(crate) fn apply(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Admit {
                id,
                actor,
                tokens,
                effort,
                at,
                day,
                next,
            } => {
                check_day(day)?;
                if !valid_time(*at) {
                    return Err(format!("admit {id}: {at} is not a time in Unix seconds"));
                }
                if self.admissions.contains_key(id) {
                    return Err(format!("admit {id}: the admission exists already"));
                }
                self.admissions.insert(
                    id.clone(),
                    AdmissionRecord {
                        actor: actor.clone(),
                        reserved_tokens: *tokens,
                        effort: *effort,
                        admitted_at: *at,
                        legacy_day: None,
                    },
                );
                let usage = self.day_usage_mut(day, actor);
                usage.tasks = usage.tasks.saturating_add(1);
                self.hourly.entry(actor.clone()).or_default().push(*at);
                self.next_admission = self.next_admission.max(*next);
            }
            Op::Complete { id, tokens, day } => {
                check_day(day)?;
                let admission = self
                    .admissions
                    .remove(id)
                    .ok_or_else(|| format!("complete {id}: no such active admission"))?;
                let usage = self.day_usage_mut(day, &admission.actor);
                usage.tokens_used = usage.tokens_used.saturating_add(*tokens);
            }
            Op::Release { id } => {
                self.admissions
                    .remove(id)
                    .ok_or_else(|| format!("release {id}: no such active admission"))?;
            }
            Op::Usage { actor, tokens, day } => {
                check_day(day)?;
                let usage = self.day_usage_mut(day, actor);
                usage.tokens_used = usage.tokens_used.saturating_add(*tokens);
            }
        }
        Ok(())
    }
}

fn check_day(day: &str) -> Result<(), String> {
    parse_day(day)
        .map(drop)
        .ok_or_else(|| format!("{day:?} is not a date (YYYY-MM-DD)"))
}

/// Unix seconds, the unit of every time in the file.
pub(crate) fn unix_seconds(at: OffsetDateTime) -> f64 {
    // `as` is the intended conversion: i128 nanoseconds to the nearest f64 (sub-microsecond
    // precision for present-day times).
    at.unix_timestamp_nanos() as f64 / 1e9
}

/// The instant `seconds` after the Unix epoch, shown at `offset_of`'s offset.
pub(crate) fn from_unix_seconds(seconds: f64, offset_of: OffsetDateTime) -> OffsetDateTime {
    // Values were validated as finite and in range when the file was read.
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset_of.offset())
}

/// Parses and checks a snapshot: JSON syntax and types, the format version, day keys,
/// finite times.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<State, GovernorError> {
    let corrupt = |message: String| GovernorError::Corrupt {
        path: path.to_owned(),
        line: None,
        column: None,
        message,
    };
    let state: State = serde_json::from_slice(bytes).map_err(|err| json_error(path, &err))?;
    if state.format > FORMAT {
        return Err(GovernorError::UnsupportedFormat {
            path: path.to_owned(),
            found: state.format,
            supported: FORMAT,
        });
    }
    if state.format != FORMAT {
        return Err(corrupt(format!(
            "format: {} is not a known format (expected {FORMAT})",
            state.format
        )));
    }
    for day in state.days.keys() {
        parse_day(day)
            .ok_or_else(|| corrupt(format!("days: {day:?} is not a date (YYYY-MM-DD)")))?;
    }
    for (id, admission) in &state.admissions {
        if !valid_time(admission.admitted_at) {
            return Err(corrupt(format!(
                "admissions.{id}.admitted_at: {} is not a time in Unix seconds",
                admission.admitted_at
            )));
        }
        if let Some(day) = &admission.legacy_day
            && parse_day(day).is_none()
        {
            return Err(corrupt(format!(
                "admissions.{id}.legacy_day: {day:?} is not a date (YYYY-MM-DD)"
            )));
        }
    }
    for (actor, times) in &state.hourly {
        if let Some(bad) = times.iter().find(|t| !valid_time(**t)) {
            return Err(corrupt(format!(
                "hourly.{actor}: {bad} is not a time in Unix seconds"
            )));
        }
    }
    Ok(state)
}

/// A JSON error as a `Corrupt` error, with the position next to the file name (serde_json
/// appends " at line L column C" to its message; it is shown once).
pub(crate) fn json_error(path: &Path, err: &serde_json::Error) -> GovernorError {
    let (line, column) = (err.line(), err.column());
    let message = err
        .to_string()
        .replacen(&format!(" at line {line} column {column}"), "", 1);
    GovernorError::Corrupt {
        path: path.to_owned(),
        line: (line > 0).then_some(line),
        column: (column > 0).then_some(column),
        message,
    }
}

/// A time the file may hold: finite, not before 1970, before the year 10000.
pub(crate) fn valid_time(seconds: f64) -> bool {
    seconds.is_finite() && (0.0..253_402_300_800.0).contains(&seconds)
}

/// `YYYY-MM-DD` as a date.
pub(crate) fn parse_day(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .ok()
        .filter(|date| date.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn days_parse_only_in_their_canonical_form() {
        assert_eq!(parse_day("2026-11-24"), Some(date!(2026 - 11 - 24)));
        for bad in ["2026-11-31", "24.11.2026", "2026-1-4", "", "yesterday"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn pruning_keeps_a_week_of_days_and_an_hour_of_admissions() {
        let mut state = State::empty();
        for day in ["2026-11-16", "2026-11-17", "2026-11-24"] {
            state.day_usage_mut(day, "a").tokens_used = 1;
        }
        state
            .hourly
            .insert("a".into(), vec![1000.0, 4599.0, 4601.0]);
        state.hourly.insert("b".into(), vec![10.0]);
        state.prune(date!(2026 - 11 - 24), 8200.0);
        assert_eq!(
            state.days.keys().collect::<Vec<_>>(),
            ["2026-11-17", "2026-11-24"]
        );
        assert_eq!(state.hourly.get("a").unwrap(), &[4601.0]);
        assert!(!state.hourly.contains_key("b"));
    }

    #[test]
    fn strict_reading_names_the_problem() {
        let path = Path::new("/state/governor.json");
        let err = |text: &str| parse(path, text.as_bytes()).unwrap_err().to_string();
        assert!(err("").contains("governor.json, line 1, is corrupt: EOF while parsing"));
        assert!(err("{}").contains("missing field `format`"));
        assert!(err(r#"{"format": 1, "days": {"x": {}}}"#).contains(r#"days: "x" is not a date"#));
        let wrong_type =
            err(r#"{"format": 1, "days": {"2026-11-24": {"a": {"tokens_used": "lots"}}}}"#);
        assert!(wrong_type.contains("line 1 column"), "{wrong_type}");
        assert!(wrong_type.contains("invalid type: string"), "{wrong_type}");
        assert!(err(r#"{"format": 2}"#).contains("has format 2"));
        assert!(err(r#"{"format": 1, "hourly": {"a": [-5.0]}}"#).contains("hourly.a"));
    }
}
