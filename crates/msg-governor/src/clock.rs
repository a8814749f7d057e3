//! Where the governor's "now" comes from.
//!
//! Daily budgets follow the calendar day of the clock's offset, and the hourly window and
//! `retry_after` are computed from the same instant. Tests and simulations swap in a
//! [`ManualClock`] so that a run can cross midnight without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime, UtcOffset};

/// A source of the current time.
///
/// The returned value's offset decides the calendar day of the daily budgets, so a clock
/// should return local time (as [`SystemClock`] does), not UTC.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, in the offset whose midnight starts a new budget day.
    fn now(&self) -> OffsetDateTime;
}

/// The system time in a fixed local offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemClock {
    offset: UtcOffset,
}

impl SystemClock {
    /// The system time seen at `offset`.
    pub fn new(offset: UtcOffset) -> SystemClock {
        SystemClock { offset }
    }

    /// The system time at the process's local offset, as `msg_core::timestamp::local_offset`
    /// decides it (once per process: see that module for why).
    pub fn local() -> SystemClock {
        SystemClock::new(msg_core::timestamp::local_offset())
    }

    /// The offset this clock reports times in.
    pub fn offset(&self) -> UtcOffset {
        self.offset
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc().to_offset(self.offset)
    }
}

/// A clock that stands still until it is moved: for tests and simulations.
///
/// Clones share the same time, so a test keeps one clone and hands another to the governor.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: OffsetDateTime) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(at)),
        }
    }

    /// Sets the time to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.lock() = at;
    }

    /// Moves the time forward by `by` (backward when negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // The guarded value is a plain timestamp that no code path leaves half-written, so a
        // panic elsewhere while holding the lock cannot make it invalid: ignore poisoning.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn manual_clock_clones_share_one_time() {
        let clock = ManualClock::new(datetime!(2026-11-24 23:59 +01:00));
        let handed_out = clock.clone();
        clock.advance(Duration::minutes(2));
        assert_eq!(handed_out.now(), datetime!(2026-11-25 00:01 +01:00));
        clock.set(datetime!(2026-01-01 00:00 UTC));
        assert_eq!(handed_out.now(), datetime!(2026-01-01 00:00 UTC));
    }

    #[test]
    fn system_clock_reports_in_its_offset() {
        let clock = SystemClock::new(offset!(+05:30));
        assert_eq!(clock.now().offset(), offset!(+05:30));
        assert_eq!(clock.offset(), offset!(+05:30));
    }
}
