//! The limits that keep one client from hurting the relay or other clients, and their
//! defaults: [`Limits::default`] is the one place where each default is written (the
//! `msg-relay serve --help` text shows them from there).
//!
//! They are enforced where they apply: the connection count and the handshake deadline in
//! `accept.rs`, the frame size in the WebSocket codec (`upgrade.rs`), the frame rate with the
//! token buckets of `rate.rs`, sessions per user and watches in the registry, queue bounds in
//! `queue.rs`, timeouts and the outbound queue in `connection.rs` and `session.rs`.

use std::time::Duration;

/// Limits that keep one client from hurting the relay or other clients. Each breach is
/// answered with an `error` frame carrying a `code`. The defaults are those of
/// [`Limits::default`]; `msg-relay serve --help` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest WebSocket message a client may send. A larger one is answered with
    /// `frame_too_large` and the socket is closed with 1009, because the rest of the
    /// oversized frame cannot be skipped safely.
    pub max_frame_bytes: usize,
    /// Sustained frames per second per connection.
    pub messages_per_second: u32,
    /// Frames a connection may send in a burst above the sustained rate.
    pub burst: u32,
    /// Connections the relay holds at once, WebSockets and the TCP connections not upgraded
    /// yet (HTTP requests, handshakes in progress); a WebSocket beyond it is answered with
    /// `too_many_connections` and closed with 1013.
    pub max_connections: usize,
    /// Concurrent sessions per user name. A login beyond it replaces the oldest session, which is closed with `session_replaced` (close code 4000): refusing the new
    /// login instead would lock a user out behind a dead connection.
    pub max_sessions_per_user: usize,
    /// Users one connection may watch.
    pub max_watches: usize,
    /// Time from the TCP connection to a completed WebSocket upgrade. A connection that is
    /// still not upgraded then (it sends nothing, or its request one byte at a time) is
    /// closed; it counted against [`Limits::max_connections`] until then. A plain HTTP
    /// connection (`/status`, `/metrics`) is closed then too, after its requests.
    pub handshake_timeout: Duration,
    /// Time from the upgrade to a successful `auth`.
    pub auth_timeout: Duration,
    /// Interval of the relay's WebSocket pings.
    pub heartbeat_interval: Duration,
    /// A connection from which nothing (not even a pong) arrives for this long is closed
    /// with `idle_timeout` (the default allows three missed pings).
    pub idle_timeout: Duration,
    /// Frames waiting to be written to one connection. When a reader falls this far behind
    /// it is disconnected (`slow_consumer`), so it cannot hold up senders or make the relay
    /// buffer without bound.
    pub outbound_queue_frames: usize,
    /// Bytes waiting to be written to one connection; the same rule.
    pub outbound_queue_bytes: usize,
    /// A write (or the closing handshake) that does not finish in this time disconnects the
    /// connection.
    pub write_timeout: Duration,
    /// On shutdown, how long open connections get to receive what is queued for them and
    /// the close frame.
    pub shutdown_grace: Duration,
    /// Messages one recipient's offline queue holds, unacknowledged ones included. A `send`
    /// beyond it is refused with `queue_full` and `limit: count`.
    pub queue_max_messages: usize,
    /// Bytes (of `message` frames) one recipient's queue holds; beyond it: `queue_full`,
    /// `limit: bytes`.
    pub queue_max_bytes: usize,
    /// Bytes all queues together hold, so that writing to many names cannot exhaust
    /// memory; beyond it: `queue_full`, `limit: total_bytes`.
    pub queue_total_bytes: usize,
    /// Messages of one sender waiting in all queues together (unacknowledged ones
    /// included), so that one user cannot fill the relay for everyone; beyond it:
    /// `queue_full`, `limit: sender_count`.
    pub sender_queue_max_messages: usize,
    /// Bytes of one sender's messages in all queues together; beyond it: `queue_full`,
    /// `limit: sender_bytes`.
    pub sender_queue_max_bytes: usize,
    /// How long a message waits for its recipient. Then it is dropped and the sender, if
    /// online, gets an `expired` error.
    pub queue_ttl: Duration,
    /// How long a (sender, id) is remembered to recognise a repeated `send`.
    pub dedupe_window: Duration,
    /// How many (sender, id) pairs are remembered at most, relay-wide; the oldest are
    /// forgotten first.
    pub dedupe_max_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_bytes: crate::protocol::MAX_FRAME_BYTES,
            messages_per_second: 20,
            burst: 60,
            max_connections: 10_000,
            max_sessions_per_user: 1,
            max_watches: 1_000,
            handshake_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            outbound_queue_frames: 256,
            outbound_queue_bytes: 1024 * 1024,
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            queue_max_messages: 1_000,
            queue_max_bytes: 4 * 1024 * 1024,
            queue_total_bytes: 256 * 1024 * 1024,
            sender_queue_max_messages: 2_000,
            sender_queue_max_bytes: 16 * 1024 * 1024,
            queue_ttl: Duration::from_secs(7 * 24 * 3600),
            dedupe_window: Duration::from_secs(3600),
            dedupe_max_entries: 100_000,
        }
    }
}

impl Limits {
    /// Checks that every limit can work: counts and durations above zero, an idle timeout
    /// longer than the heartbeat interval. [`run`](crate::run) refuses limits that fail it.
    pub fn check(&self) -> Result<(), LimitsError> {
        let counts = [
            ("max_frame_bytes", self.max_frame_bytes),
            ("messages_per_second", self.messages_per_second as usize),
            ("burst", self.burst as usize),
            ("max_connections", self.max_connections),
            ("max_sessions_per_user", self.max_sessions_per_user),
            ("outbound_queue_frames", self.outbound_queue_frames),
            ("outbound_queue_bytes", self.outbound_queue_bytes),
            ("queue_max_messages", self.queue_max_messages),
            ("queue_max_bytes", self.queue_max_bytes),
            ("queue_total_bytes", self.queue_total_bytes),
            ("sender_queue_max_messages", self.sender_queue_max_messages),
            ("sender_queue_max_bytes", self.sender_queue_max_bytes),
        ];
        let durations = [
            ("handshake_timeout", self.handshake_timeout),
            ("auth_timeout", self.auth_timeout),
            ("heartbeat_interval", self.heartbeat_interval),
            ("idle_timeout", self.idle_timeout),
            ("write_timeout", self.write_timeout),
            ("queue_ttl", self.queue_ttl),
        ];
        let zero = counts
            .iter()
            .find(|(_, value)| *value == 0)
            .map(|(field, _)| *field)
            .or_else(|| {
                durations
                    .iter()
                    .find(|(_, value)| value.is_zero())
                    .map(|(field, _)| *field)
            });
        if let Some(field) = zero {
            return Err(LimitsError::Zero { field });
        }
        if self.idle_timeout <= self.heartbeat_interval {
            return Err(LimitsError::IdleNotAboveHeartbeat {
                idle_timeout: self.idle_timeout,
                heartbeat_interval: self.heartbeat_interval,
            });
        }
        Ok(())
    }
}

/// A [`Limits`] value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A count or a duration of zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The field of [`Limits`].
        field: &'static str,
    },
    /// An idle timeout that a connection answering every ping could still hit.
    #[error(
        "idle_timeout ({idle_timeout:?}) must be longer than heartbeat_interval \
         ({heartbeat_interval:?}), or connections time out between two pings"
    )]
    IdleNotAboveHeartbeat {
        /// The idle timeout given.
        idle_timeout: Duration,
        /// The heartbeat interval given.
        heartbeat_interval: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Limits::default().check(), Ok(()));
    }

    #[test]
    fn zero_limits_and_short_idle_timeouts_are_refused() {
        let zero = Limits {
            burst: 0,
            ..Limits::default()
        };
        assert_eq!(zero.check(), Err(LimitsError::Zero { field: "burst" }));
        let idle = Limits {
            idle_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        assert!(matches!(
            idle.check(),
            Err(LimitsError::IdleNotAboveHeartbeat { .. })
        ));
    }
}
