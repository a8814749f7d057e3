//! Entry IDs: reading every shape the original and older versions wrote, and making new ones.
//!
//! New IDs keep the readable shape `msg-20261124-100259-<12 hex>` (`file-`, `task-` alike). The
//! hex part is a blake3 hash over the caller's content, the clock in nanoseconds, the process
//! ID and a per-process counter, so two IDs made in the same nanosecond by the same process
//! for the same content still differ (the original hashed only content and time, and could
//! write duplicate IDs that made the whole file unloadable).

use std::sync::atomic::{AtomicU64, Ordering};

use time::{OffsetDateTime, PrimitiveDateTime};

use crate::timestamp;

/// What kind of entry an ID names, judged by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    /// `msg-…`: a message (v0.2.0 `msg-YYYYMMDD-HHMMSS-hex`, v0.1.0 `msg-…-<sender>`).
    Message,
    /// `file-…`: a file delivery notice.
    FileDelivery,
    /// `task-…`: a task created by this version.
    Task,
    /// `org-…`: an ID made by org-workspace (v0.2.0 tasks).
    OrgWorkspace,
    /// `thread-…`: a v0.1.0 thread ID.
    Thread,
    /// Anything else (for example a UUID written by `org-id`).
    Other,
}

impl IdKind {
    /// The prefix new IDs of this kind get, for the kinds this version creates.
    fn prefix(self) -> Option<&'static str> {
        match self {
            IdKind::Message => Some("msg"),
            IdKind::FileDelivery => Some("file"),
            IdKind::Task => Some("task"),
            _ => None,
        }
    }
}

/// An ID taken apart. Every field borrows from the ID text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedId<'a> {
    /// The kind, from the prefix.
    pub kind: IdKind,
    /// The creation time encoded in the ID, when it has the `YYYYMMDD-HHMMSS` part.
    pub created: Option<PrimitiveDateTime>,
    /// What follows the time: a hash, or a v0.1.0 sender name.
    pub suffix: &'a str,
}

/// Reads an ID of any known shape. Unknown shapes are [`IdKind::Other`], never an error.
pub fn parse_id(id: &str) -> ParsedId<'_> {
    let (prefix, rest) = id.split_once('-').unwrap_or(("", id));
    let kind = match prefix {
        "msg" => IdKind::Message,
        "file" => IdKind::FileDelivery,
        "task" => IdKind::Task,
        "org" => IdKind::OrgWorkspace,
        "thread" => IdKind::Thread,
        _ => IdKind::Other,
    };
    if kind == IdKind::Thread || kind == IdKind::Other {
        return ParsedId {
            kind,
            created: None,
            suffix: rest,
        };
    }
    let created = rest.get(..15).and_then(parse_compact);
    let suffix = match created {
        Some(_) => rest.get(16..).unwrap_or(""),
        None => rest,
    };
    ParsedId {
        kind,
        created,
        suffix,
    }
}

fn parse_compact(text: &str) -> Option<PrimitiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 15 || bytes[8] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = time::Date::from_calendar_date(
        digits(0..4)? as i32,
        time::Month::try_from(digits(4..6)? as u8).ok()?,
        digits(6..8)? as u8,
    )
    .ok()?;
    let time = time::Time::from_hms(
        digits(9..11)? as u8,
        digits(11..13)? as u8,
        digits(13..15)? as u8,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// Makes a new ID of `kind` (message, file delivery or task) at local time `at`, hashing
/// `content` (the caller's distinguishing input, e.g. `from:to:body`).
///
/// # Panics
///
/// Panics when `kind` is not one this version creates (`Message`, `FileDelivery`, `Task`):
/// that is a programming error, not an input error.
pub fn new_id(kind: IdKind, content: &[u8], at: OffsetDateTime) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = kind
        .prefix()
        .expect("new_id is only called for message, file delivery and task IDs");
    let mut hasher = blake3::Hasher::new();
    hasher.update(content);
    hasher.update(
        &OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_le_bytes(),
    );
    hasher.update(&at.unix_timestamp_nanos().to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let hash = hasher.finalize().to_hex();
    format!("{prefix}-{}-{}", timestamp::format_compact(at), &hash[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn reads_every_known_shape() {
        let v2 = parse_id("msg-20261124-070853-f0089658");
        assert_eq!(v2.kind, IdKind::Message);
        assert_eq!(v2.created, Some(datetime!(2026-11-24 07:08:53)));
        assert_eq!(v2.suffix, "f0089658");
        let v1 = parse_id("msg-20251212-143100-tex");
        assert_eq!((v1.kind, v1.suffix), (IdKind::Message, "tex"));
        assert_eq!(
            parse_id("file-20261124-070853-68f03cf7").kind,
            IdKind::FileDelivery
        );
        assert_eq!(
            parse_id("org-20261124-070853-3e136109").kind,
            IdKind::OrgWorkspace
        );
        let thread = parse_id("thread-msg-20251212-142500-tex");
        assert_eq!(
            (thread.kind, thread.suffix),
            (IdKind::Thread, "msg-20251212-142500-tex")
        );
        let uuid = parse_id("5f2c9a1e-77a0-4c1b-9a57-0d3f2c1e8b11");
        assert_eq!((uuid.kind, uuid.created), (IdKind::Other, None));
        assert_eq!(parse_id("msg-garbage").created, None);
        assert_eq!(parse_id("").kind, IdKind::Other);
    }

    #[test]
    fn new_ids_are_readable_and_unique() {
        let at = datetime!(2026-11-24 10:02:59 +01:00);
        let a = new_id(IdKind::Message, b"gregor:tex:hi", at);
        let b = new_id(IdKind::Message, b"gregor:tex:hi", at);
        assert_ne!(a, b);
        assert!(a.starts_with("msg-20261124-100259-"), "{a}");
        assert_eq!(a.len(), "msg-20261124-100259-".len() + 12);
        let parsed = parse_id(&a);
        assert_eq!(parsed.created, Some(datetime!(2026-11-24 10:02:59)));
        assert!(new_id(IdKind::Task, b"x", at).starts_with("task-"));
        assert!(new_id(IdKind::FileDelivery, b"x", at).starts_with("file-"));
    }
}
