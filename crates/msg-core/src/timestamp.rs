//! Org timestamps (`[2026-11-24 Tue 10:02]`) and the local UTC offset they are written in.
//!
//! Org writes local time with an English weekday abbreviation. Finding the local offset needs
//! libc's `localtime_r`, which the `time` crate refuses to call once a process has several
//! threads (it is unsound there). So the offset is decided once: binaries call
//! [`init_local_offset`] at the top of `main` (before any thread starts), optionally with the
//! `messaging.utc_offset` setting; a library user that never calls it gets the offset detected
//! on first use, or UTC when detection is impossible (see [`local_offset_source`]).

use std::sync::OnceLock;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// Where the process's local offset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSource {
    /// Given explicitly (settings or a test).
    Configured,
    /// Read from the operating system's time zone.
    Detected,
    /// Detection was impossible (multi-threaded process without [`init_local_offset`]): UTC.
    FallbackUtc,
}

static LOCAL_OFFSET: OnceLock<(UtcOffset, OffsetSource)> = OnceLock::new();

/// Decides the local offset for this process: `configured` when given, else the system's.
/// Call it at the start of `main`. Returns the offset in force (the first call wins).
pub fn init_local_offset(configured: Option<UtcOffset>) -> UtcOffset {
    LOCAL_OFFSET
        .get_or_init(|| match configured {
            Some(offset) => (offset, OffsetSource::Configured),
            None => detect(),
        })
        .0
}

fn detect() -> (UtcOffset, OffsetSource) {
    match UtcOffset::current_local_offset() {
        Ok(offset) => (offset, OffsetSource::Detected),
        Err(_) => (UtcOffset::UTC, OffsetSource::FallbackUtc),
    }
}

/// The local offset in force, deciding it now if [`init_local_offset`] was not called.
pub fn local_offset() -> UtcOffset {
    LOCAL_OFFSET.get_or_init(detect).0
}

/// How the local offset was decided (for `msg doctor`).
pub fn local_offset_source() -> OffsetSource {
    LOCAL_OFFSET.get_or_init(detect).1
}

/// The current time in the process's local offset.
pub fn now_local() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(local_offset())
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn weekday_abbrev(weekday: Weekday) -> &'static str {
    WEEKDAYS[weekday.number_days_from_monday() as usize]
}

/// `[2026-11-24 Tue 10:02]`: an inactive Org timestamp, English weekday whatever the locale.
pub fn format_inactive(at: OffsetDateTime) -> String {
    format!(
        "[{:04}-{:02}-{:02} {} {:02}:{:02}]",
        at.year(),
        u8::from(at.month()),
        at.day(),
        weekday_abbrev(at.weekday()),
        at.hour(),
        at.minute()
    )
}

/// `20261124-100259`: the date-time part of IDs.
pub fn format_compact(at: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Parses an Org timestamp, active (`<…>`) or inactive (`[…]`), with or without a time:
/// `[2026-11-24 Tue 10:02]`, `<2026-11-25 Wed>`. The weekday is not checked (Org in another
/// locale writes `Di` or `mar.`); trailing repeaters such as `+1w` are ignored.
pub fn parse_org_timestamp(text: &str) -> Option<PrimitiveDateTime> {
    let text = text.trim();
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .or_else(|| text.strip_prefix('<').and_then(|t| t.strip_suffix('>')))?;
    let mut words = inner.split_whitespace();
    let date = parse_date(words.next()?)?;
    let time = words.find_map(parse_time).unwrap_or(Time::MIDNIGHT);
    Some(PrimitiveDateTime::new(date, time))
}

fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

fn parse_time(text: &str) -> Option<Time> {
    // A time range `10:00-11:00` starts with the time we want.
    let text = text.split('-').next()?;
    let (hour, minute) = text.split_once(':')?;
    Time::from_hms(hour.parse().ok()?, minute.parse().ok()?, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_with_english_weekdays() {
        let at = datetime!(2026-11-24 10:02:59 +01:00);
        assert_eq!(format_inactive(at), "[2026-11-24 Tue 10:02]");
        assert_eq!(format_compact(at), "20261124-100259");
        assert_eq!(
            format_inactive(datetime!(2026-03-15 00:00 UTC)),
            "[2026-03-15 Sun 00:00]"
        );
    }

    #[test]
    fn parses_every_timestamp_shape_org_writes() {
        assert_eq!(
            parse_org_timestamp("[2026-11-24 Tue 10:02]"),
            Some(datetime!(2026-11-24 10:02))
        );
        assert_eq!(
            parse_org_timestamp("<2026-11-25 Wed 09:00 +1w>"),
            Some(datetime!(2026-11-25 09:00))
        );
        assert_eq!(
            parse_org_timestamp("<2026-11-25 Mi>"),
            Some(datetime!(2026-11-25 00:00))
        );
        assert_eq!(
            parse_org_timestamp("[2026-11-25 Wed 10:00-11:30]"),
            Some(datetime!(2026-11-25 10:00))
        );
        assert_eq!(parse_org_timestamp("2026-11-25"), None);
        assert_eq!(parse_org_timestamp("[2026-13-25 Wed]"), None);
    }
}
