//! Which queued task goes next, and when a working task counts as stale.
//!
//! Both questions are answered from the file as read inside the transaction that acts on the
//! answer, so the choice and the change are one atomic step across processes.

use std::cmp::Ordering;

use msg_core::config::{Settings, UNKNOWN_TIER};
use msg_core::org::{EntryRef, Outline};
use msg_core::timestamp::parse_org_timestamp;
use time::PrimitiveDateTime;

use crate::property;
use crate::state::TaskState;

/// The `QUEUED` entries of `outline`, from the headings alone.
pub(crate) fn queued(outline: &Outline) -> Vec<usize> {
    let queued = TaskState::Queued.keyword();
    (0..outline.len())
        .filter(|&index| outline.keyword(index).as_deref() == Some(queued))
        .collect()
}

/// Picks the next task to claim among `queued` (`QUEUED` entries, see [`queued`]): the one
/// with the highest `priority_boost` of its `TRUST_TIER` (a missing tier ranks as
/// `unknown`), then the oldest (`SUBMITTED`, else `CREATED`; tasks whose age cannot be read
/// come after those whose age can), then the first in the file. Returns its index in
/// `outline`.
///
/// Only the queued tasks' sections are scanned, for their tier and age (memory for one
/// entry at a time, not an index of the file).
pub(crate) fn next_queued(
    outline: &Outline,
    settings: &Settings,
    queued: &[usize],
) -> Option<usize> {
    // A file holds few distinct tiers: a short list beats hashing every task's tier.
    let mut boosts: Vec<(String, f64)> = Vec::new();
    let mut best: Option<(f64, Option<u64>, usize)> = None;
    for &index in queued {
        let scanned = outline.entry(index);
        let entry = scanned.get();
        let tier = entry.property(property::TRUST_TIER);
        let tier = tier.as_deref().unwrap_or(UNKNOWN_TIER);
        let boost = match boosts.iter().find(|(name, _)| name == tier) {
            Some(&(_, boost)) => boost,
            None => {
                let boost = settings.tier_config(tier).priority_boost;
                boosts.push((tier.to_owned(), boost));
                boost
            }
        };
        let better = match &best {
            None => true,
            Some((best_boost, best_age, _)) => match boost.total_cmp(best_boost) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => match (age(&entry), best_age) {
                    (Some(age), Some(best_age)) => age < *best_age,
                    (Some(_), None) => true,
                    _ => false,
                },
            },
        };
        if better {
            best = Some((boost, age(&entry), entry.index()));
        }
    }
    best.map(|(_, _, index)| index)
}

/// The task's age as a sortable number (`SUBMITTED`, else `CREATED`), see [`minute_key`].
fn age(entry: &EntryRef<'_>) -> Option<u64> {
    [property::SUBMITTED, property::CREATED]
        .into_iter()
        .find_map(|key| entry.property(key).and_then(|v| minute_key(&v)))
}

/// `YYYYMMDDHHMM` of an Org timestamp, a number that sorts as the time does. The form this
/// crate writes, `[2026-11-24 Tue 10:02]`, is read by position (this runs for every queued
/// task on every claim); anything else goes through the general parser.
fn minute_key(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let canonical = b.len() == 22
        && b[0] == b'['
        && b[21] == b']'
        && b[5] == b'-'
        && b[8] == b'-'
        && b[11] == b' '
        && b[15] == b' '
        && b[18] == b':';
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    if canonical
        && let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (
            digits(1..5),
            digits(6..8),
            digits(9..11),
            digits(16..18),
            digits(19..21),
        )
    {
        return Some((((y * 100 + mo) * 100 + d) * 100 + h) * 100 + mi);
    }
    let at = parse_org_timestamp(text)?;
    let (y, mo, d) = (
        at.year() as u64,
        u64::from(u8::from(at.month())),
        u64::from(at.day()),
    );
    Some((((y * 100 + mo) * 100 + d) * 100 + u64::from(at.hour())) * 100 + u64::from(at.minute()))
}

/// Since when a `WORKING` task has been working: the later of its `STARTED` property and the
/// newest LOGBOOK line `- State "WORKING" … [ts]` (a person may have moved it back to
/// WORKING in Emacs). `None` when neither says.
pub(crate) fn working_since(entry: &EntryRef<'_>) -> Option<PrimitiveDateTime> {
    let started = entry
        .property(property::STARTED)
        .and_then(|v| parse_org_timestamp(&v));
    let logged = entry.logbook().and_then(|logbook| {
        logbook
            .lines()
            .filter_map(|line| {
                let rest = line.trim_start().strip_prefix("- State \"WORKING\"")?;
                let open = rest.rfind('[')?;
                let close = open + rest[open..].find(']')?;
                parse_org_timestamp(&rest[open..=close])
            })
            .max()
    });
    started.max(logged)
}

/// Whether work that began at `since` (minute precision, as Org writes it) has run longer than
/// `timeout_minutes` at `now`. A timeout of 0 means no timeout. The comparison is on whole
/// minutes, so a task is stale only after at least the full timeout has passed.
pub(crate) fn is_stale(
    since: PrimitiveDateTime,
    now: PrimitiveDateTime,
    timeout_minutes: u64,
) -> bool {
    if timeout_minutes == 0 {
        return false;
    }
    let now = now
        .replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    let elapsed = (now - since).whole_minutes();
    elapsed > 0 && elapsed as u64 > timeout_minutes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TASK_KEYWORDS;
    use msg_core::org::TodoKeywords;
    use time::macros::datetime;

    fn doc(text: &str) -> Outline {
        Outline::parse(
            text.as_bytes().to_vec(),
            &TodoKeywords::parse(TASK_KEYWORDS),
        )
    }

    #[test]
    fn the_highest_tier_goes_first_then_the_oldest_then_file_order() {
        let d = doc("\
* QUEUED unknown, oldest
  :PROPERTIES:
  :TRUST_TIER: unknown
  :SUBMITTED: [2026-11-24 Tue 07:00]
  :END:
* WORKING owner, but working
  :PROPERTIES:
  :TRUST_TIER: owner
  :END:
* QUEUED team, newer
  :PROPERTIES:
  :TRUST_TIER: team
  :SUBMITTED: [2026-11-24 Tue 09:00]
  :END:
* QUEUED team, no age
  :PROPERTIES:
  :TRUST_TIER: team
  :END:
* QUEUED team, older by CREATED
  :PROPERTIES:
  :TRUST_TIER: team
  :CREATED: [2026-11-24 Tue 08:00]
  :END:
* QUEUED team, same minute as the one above
  :PROPERTIES:
  :TRUST_TIER: team
  :SUBMITTED: [2026-11-24 Tue 08:00]
  :END:
* QUEUED no tier at all
");
        let settings = Settings::default();
        let mut candidates = queued(&d);
        let mut order = Vec::new();
        while let Some(index) = next_queued(&d, &settings, &candidates) {
            order.push(d.entry(index).get().title().into_owned());
            candidates.retain(|&i| i != index);
        }
        assert_eq!(
            order,
            [
                "team, older by CREATED",
                "team, same minute as the one above",
                "team, newer",
                "team, no age",
                "unknown, oldest",
                "no tier at all",
            ]
        );
    }

    #[test]
    fn minute_keys_sort_as_time_does_in_any_form_org_writes() {
        assert_eq!(minute_key("[2026-11-24 Tue 10:02]"), Some(202611241002));
        assert_eq!(minute_key("[2026-11-24 Di 10:02]"), Some(202611241002));
        assert_eq!(minute_key("<2026-11-24 Tue>"), Some(202611240000));
        assert_eq!(
            minute_key("[2026-11-24 Tue 1x:02]"),
            Some(202611240000),
            "as msg-core reads it"
        );
        assert_eq!(minute_key("soon"), None);
        assert!(minute_key("[2026-11-24 Tue 23:59]") < minute_key("[2026-11-25 Wed 00:00]"));
    }

    #[test]
    fn working_since_takes_the_latest_claim() {
        let d = doc("\
* WORKING moved back to WORKING in Emacs
  :PROPERTIES:
  :STARTED: [2026-11-24 Tue 07:00]
  :END:
  :LOGBOOK:
  - State \"WORKING\"    from \"QUEUED\"     [2026-11-24 Tue 09:30]
  - State \"QUEUED\"     from \"WORKING\"    [2026-11-24 Tue 09:00]
  - State \"WORKING\"    from \"QUEUED\"     [2026-11-24 Tue 07:00]
  :END:
* WORKING by hand, no trace
");
        assert_eq!(
            working_since(&d.entry(0).get()),
            Some(datetime!(2026-11-24 09:30))
        );
        assert_eq!(working_since(&d.entry(1).get()), None);
    }

    #[test]
    fn stale_means_the_whole_timeout_has_passed() {
        let since = datetime!(2026-11-24 10:02);
        assert!(!is_stale(since, datetime!(2026-11-24 10:32:59), 30));
        assert!(is_stale(since, datetime!(2026-11-24 10:33:00), 30));
        assert!(
            !is_stale(since, datetime!(2026-11-25 10:33), 0),
            "0 = no timeout"
        );
        assert!(
            !is_stale(since, datetime!(2026-11-24 09:00), 30),
            "clock behind"
        );
    }
}
