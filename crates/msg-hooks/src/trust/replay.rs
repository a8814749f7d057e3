//! The replay window: a signed message is taken once per sender and ID, and only when it
//! was created within the window.
//!
//! The inbox already stores a message once per (sender, ID), but only while the message is
//! in it: once archived or deleted, a relay that sends an old signed message again would
//! have it stored anew, and a task auto-accepted anew. So each root remembers, per sender,
//! the IDs of the signed messages it took in during the window, in
//! `<state>/trust/seen.log` (one `<unix seconds> <sender> <id>` line each, under
//! `seen.log.lock`); a message created before the window (or more than a day in the future,
//! which no clock drift explains) cannot be told from a replay and counts as one.
//!
//! The window is 8 days: the relay keeps a message for its recipient 7 days by default
//! (`--queue-ttl-secs`), and a day more covers clocks and time zones (org timestamps carry
//! no zone).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use msg_core::durable::{self, FileLock};
use msg_core::paths::Paths;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::error::HooksError;

/// How far back a signed message may have been created.
pub(crate) const WINDOW: time::Duration = time::Duration::days(8);
/// How far ahead of this clock a message's creation time may be.
const AHEAD: time::Duration = time::Duration::days(1);
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a message does not pass the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its (sender, ID) was taken before.
    Replayed,
    /// Created outside the window, or at a time that cannot be read.
    Stale,
}

/// The window, locked for one batch of received messages.
pub(crate) struct Window {
    path: PathBuf,
    _lock: FileLock,
    /// (sender, ID) → when it was taken, for the lines still in the window.
    seen: Vec<(i64, String, String)>,
    index: HashSet<(String, String)>,
    /// Lines dropped (out of the window) or added since reading.
    changed: bool,
    now: OffsetDateTime,
}

/// `<state>/trust/seen.log`.
fn seen_file(paths: &Paths) -> PathBuf {
    paths.governor_state_dir().join("trust").join("seen.log")
}

impl Window {
    /// Locks and reads the window of `paths`' root.
    pub(crate) fn open(paths: &Paths, now: OffsetDateTime) -> Result<Window, HooksError> {
        let path = seen_file(paths);
        let dir = path.parent().expect("a directory");
        std::fs::create_dir_all(dir).map_err(HooksError::io("create", dir))?;
        let lock = FileLock::exclusive(&path, LOCK_TIMEOUT)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(HooksError::io("read", &path)(err)),
        };
        let oldest = (now - WINDOW).unix_timestamp();
        let mut seen = Vec::new();
        let mut changed = false;
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            let parsed = (|| {
                let at: i64 = parts.next()?.parse().ok()?;
                Some((at, parts.next()?.to_owned(), parts.next()?.to_owned()))
            })();
            match parsed {
                Some((at, from, id)) if at >= oldest => seen.push((at, from, id)),
                // Out of the window, or a line this version did not write: dropped at the
                // next write (a damaged line can only make a replay pass that is also out
                // of the inbox, never stop a message).
                _ => changed = true,
            }
        }
        let index = seen
            .iter()
            .map(|(_, from, id)| (from.clone(), id.clone()))
            .collect();
        Ok(Window {
            path,
            _lock: lock,
            seen,
            index,
            changed,
            now,
        })
    }

    /// Whether a message of `from` with `id`, created at `created` (the sender's local time,
    /// read as this machine's), passes.
    pub(crate) fn check(&self, from: &str, id: &str, created: &str) -> Result<(), Refusal> {
        let Some(created) = parse_created(created) else {
            return Err(Refusal::Stale);
        };
        let created = created.assume_offset(self.now.offset());
        if created < self.now - WINDOW || created > self.now + AHEAD {
            return Err(Refusal::Stale);
        }
        if self.index.contains(&(from.to_owned(), id.to_owned())) {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }

    /// Remembers that the message of `from` with `id` was taken in.
    pub(crate) fn remember(&mut self, from: &str, id: &str) {
        if from.contains([' ', '\n']) || id.contains([' ', '\n']) {
            return; // never the case for stored senders and IDs; a line must stay a line
        }
        if self.index.insert((from.to_owned(), id.to_owned())) {
            self.seen
                .push((self.now.unix_timestamp(), from.to_owned(), id.to_owned()));
            self.changed = true;
        }
    }

    /// Writes what changed, durably, and releases the lock.
    pub(crate) fn close(self) -> Result<(), HooksError> {
        if !self.changed {
            return Ok(());
        }
        let mut text = String::with_capacity(self.seen.len() * 48);
        for (at, from, id) in &self.seen {
            text.push_str(&format!("{at} {from} {id}\n"));
        }
        write(&self.path, &text)
    }
}

fn write(path: &Path, text: &str) -> Result<(), HooksError> {
    Ok(durable::write_atomically(path, text.as_bytes())?)
}

/// An org timestamp (`[2026-11-24 Tue 10:02]`) or the relay's `2026-11-24T10:02:03`.
fn parse_created(text: &str) -> Option<PrimitiveDateTime> {
    msg_core::timestamp::parse_org_timestamp(text).or_else(|| {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        PrimitiveDateTime::parse(text, &format).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_message_passes_once_within_the_window() {
        let dir = assert_fs::TempDir::new().unwrap();
        let paths = Paths::new(dir.path());
        let now = datetime!(2026-11-24 10:00 UTC);
        let mut window = Window::open(&paths, now).unwrap();
        assert_eq!(
            window.check("alice", "m1", "[2026-11-24 Tue 09:58]"),
            Ok(())
        );
        window.remember("alice", "m1");
        assert_eq!(
            window.check("alice", "m1", "[2026-11-24 Tue 09:58]"),
            Err(Refusal::Replayed)
        );
        assert_eq!(window.check("bob", "m1", "[2026-11-24 Tue 09:58]"), Ok(()));
        assert_eq!(window.check("alice", "m2", "2026-11-20T10:00:00"), Ok(()));
        for stale in [
            "[2026-11-15 Sun 10:00]",
            "[2026-11-26 Thu 10:00]",
            "yesterday",
            "",
        ] {
            assert_eq!(
                window.check("alice", "m3", stale),
                Err(Refusal::Stale),
                "{stale}"
            );
        }
        window.close().unwrap();

        // Remembered across runs, and forgotten once out of the window.
        let window = Window::open(&paths, now + time::Duration::days(1)).unwrap();
        assert_eq!(
            window.check("alice", "m1", "[2026-11-24 Tue 09:58]"),
            Err(Refusal::Replayed)
        );
        drop(window);
        let window = Window::open(&paths, now + time::Duration::days(9)).unwrap();
        assert!(window.changed);
        window.close().unwrap();
        let text = std::fs::read_to_string(seen_file(&paths)).unwrap();
        assert_eq!(text, "");
    }

    #[test]
    fn damaged_lines_are_dropped_not_fatal() {
        let dir = assert_fs::TempDir::new().unwrap();
        let paths = Paths::new(dir.path());
        let path = seen_file(&paths);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "garbage\n1795000000 alice m1\n\u{0}\n").unwrap();
        let window = Window::open(&paths, datetime!(2026-11-24 10:00 UTC)).unwrap();
        assert_eq!(window.seen.len(), 1);
        assert!(window.changed);
    }
}
