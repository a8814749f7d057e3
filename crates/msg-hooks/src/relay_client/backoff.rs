//! When to reconnect: exponential backoff with jitter.
//!
//! Each failed attempt doubles the ceiling (0.5 s, 1 s, 2 s, … up to 30 s) and the wait is
//! drawn between half the ceiling and the ceiling ("equal jitter"), so many clients cut off
//! by one relay restart do not all come back in the same instant, yet none retries at once
//! in a tight loop. A login that succeeded starts the sequence again.

use std::time::Duration;

/// The first ceiling.
const BASE: Duration = Duration::from_millis(500);
/// The largest ceiling.
const MAX: Duration = Duration::from_secs(30);

/// The reconnect schedule of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    attempt: u32,
    seed: u64,
}

impl Backoff {
    /// A schedule whose jitter starts from `seed` (a per-connection value: the process ID,
    /// the time and the name hashed, so two clients draw different waits).
    pub(crate) fn new(seed: u64) -> Backoff {
        Backoff { attempt: 0, seed }
    }

    /// The wait before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = BASE
            .saturating_mul(1u32.checked_shl(self.attempt.min(16)).unwrap_or(u32::MAX))
            .min(MAX);
        self.attempt = self.attempt.saturating_add(1);
        // A splitmix64 step: enough randomness for spreading retries, no dependency.
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let half = ceiling / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_millis(z % spread)
    }

    /// After a successful login: the next failure waits the shortest time again.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A seed for [`Backoff::new`] from the process, the time and `name`.
pub(crate) fn seed(name: &str) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(name.as_bytes());
    let bytes = hasher.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_ceiling_with_jitter_and_reset() {
        let mut backoff = Backoff::new(7);
        let waits: Vec<Duration> = (0..12).map(|_| backoff.next_delay()).collect();
        for (attempt, wait) in waits.iter().enumerate() {
            let ceiling = (BASE * 2u32.pow(attempt as u32)).min(MAX);
            assert!(
                *wait >= ceiling / 2 && *wait <= ceiling,
                "{attempt}: {wait:?}"
            );
        }
        assert!(waits[11] >= MAX / 2);
        backoff.reset();
        assert!(backoff.next_delay() <= BASE);
        // Two schedules with different seeds do not wait in lockstep.
        let mut a = Backoff::new(1);
        let mut b = Backoff::new(2);
        let a: Vec<Duration> = (0..6).map(|_| a.next_delay()).collect();
        let b: Vec<Duration> = (0..6).map(|_| b.next_delay()).collect();
        assert_ne!(a, b);
    }
}
