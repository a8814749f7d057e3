//! The per-connection frame rate limit ([`Limits::messages_per_second`] and
//! [`Limits::burst`](crate::Limits::burst)): a token bucket.
//!
//! [`Limits::messages_per_second`]: crate::Limits::messages_per_second

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `burst` frames at once, refilled at `per_second`. Time is passed in, so
/// the bucket follows tokio's clock (and `tokio::time::pause` in tests).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last_refill: Instant,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32, burst: u32, now: Instant) -> RateLimiter {
        // A burst below one frame would refuse everything; `Limits::check` forbids zero.
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst,
            tokens: burst,
            last_refill: now,
        }
    }

    /// Takes one token, or says how long until one is available.
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            // Round up to the next millisecond, so a client that waits exactly
            // `retry_after_ms` is not refused again.
            let wait_ms = (missing / self.per_second * 1000.0).ceil() as u64;
            Err(Duration::from_millis(wait_ms.max(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 3, start);
        for _ in 0..3 {
            assert_eq!(limiter.try_take(start), Ok(()));
        }
        let wait = limiter.try_take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // Waiting what it said is enough, and not more than one frame's worth refills.
        let later = start + wait;
        assert_eq!(limiter.try_take(later), Ok(()));
        assert!(limiter.try_take(later).is_err());
    }

    #[test]
    fn idle_time_refills_up_to_the_burst_only() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(100, 2, start);
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(limiter.try_take(much_later), Ok(()));
        assert_eq!(limiter.try_take(much_later), Ok(()));
        assert!(limiter.try_take(much_later).is_err());
    }
}
