//! Counters for `GET /metrics`, in the Prometheus text exposition format.
//!
//! Plain atomics: the hot path (a routed message) costs a few relaxed increments, and no
//! metrics crate is needed for a dozen series.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::ErrorCode;

/// The relay's counters. Relaxed ordering throughout: each counter is independent and a
/// scrape only needs each value to be recent, not a consistent snapshot across them.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    connections_open: AtomicU64,
    connections_total: AtomicU64,
    http_connections_open: AtomicU64,
    handshake_timeouts: AtomicU64,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    messages_routed: AtomicU64,
    auth_failures: AtomicU64,
    messages_queued: AtomicU64,
    messages_acked: AtomicU64,
    messages_expired: AtomicU64,
    messages_redelivered: AtomicU64,
    messages_duplicate: AtomicU64,
    rejected: [AtomicU64; ErrorCode::ALL.len()],
}

impl Metrics {
    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn http_connection_opened(&self) {
        self.http_connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn http_connection_closed(&self) {
        self.http_connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn handshake_timed_out(&self) {
        self.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn frame_in(&self) {
        self.frames_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn frames_out(&self, count: u64) {
        self.frames_out.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn message_routed(&self) {
        self.messages_routed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn message_queued(&self) {
        self.messages_queued.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn messages_acked(&self, count: u64) {
        self.messages_acked.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn message_expired(&self) {
        self.messages_expired.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn message_redelivered(&self) {
        self.messages_redelivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn message_duplicate(&self) {
        self.messages_duplicate.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refusal under its error code (every `error` frame the relay sends, and
    /// every disconnection for a limit).
    pub(crate) fn rejected(&self, code: ErrorCode) {
        if let Some(index) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.rejected[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text format. `users_online` and the queue totals (messages, bytes)
    /// come from the registry at scrape time.
    pub(crate) fn render(&self, users_online: usize, queued: (usize, usize)) -> String {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let mut series = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        series(
            "msg_relay_connections",
            "gauge",
            "Open WebSocket connections, authenticated or not.",
            get(&self.connections_open),
        );
        series(
            "msg_relay_users_online",
            "gauge",
            "Distinct user names with at least one authenticated session.",
            users_online as u64,
        );
        series(
            "msg_relay_connections_total",
            "counter",
            "WebSocket connections accepted since start.",
            get(&self.connections_total),
        );
        series(
            "msg_relay_http_connections",
            "gauge",
            "TCP connections not upgraded to a WebSocket: HTTP requests and handshakes in \
             progress (they count against the connection limit too).",
            get(&self.http_connections_open),
        );
        series(
            "msg_relay_handshake_timeouts_total",
            "counter",
            "Connections closed for not completing their upgrade (or HTTP exchange) in time.",
            get(&self.handshake_timeouts),
        );
        series(
            "msg_relay_frames_in_total",
            "counter",
            "Text and binary frames received from clients.",
            get(&self.frames_in),
        );
        series(
            "msg_relay_frames_out_total",
            "counter",
            "Frames written to clients (replies, messages, presence, pings).",
            get(&self.frames_out),
        );
        series(
            "msg_relay_messages_routed_total",
            "counter",
            "Messages handed to a recipient's connection, live or from its queue at login.",
            get(&self.messages_routed),
        );
        series(
            "msg_relay_queue_messages",
            "gauge",
            "Messages in offline queues: not yet delivered, or delivered and not acknowledged.",
            queued.0 as u64,
        );
        series(
            "msg_relay_queue_bytes",
            "gauge",
            "Bytes of the messages in offline queues.",
            queued.1 as u64,
        );
        series(
            "msg_relay_messages_queued_total",
            "counter",
            "Messages accepted for a recipient who was offline.",
            get(&self.messages_queued),
        );
        series(
            "msg_relay_messages_acked_total",
            "counter",
            "Queued messages removed by the recipient's ack.",
            get(&self.messages_acked),
        );
        series(
            "msg_relay_messages_expired_total",
            "counter",
            "Queued messages dropped at the end of their time to live.",
            get(&self.messages_expired),
        );
        series(
            "msg_relay_messages_redelivered_total",
            "counter",
            "Messages written again at a login because the recipient had not acknowledged them.",
            get(&self.messages_redelivered),
        );
        series(
            "msg_relay_messages_duplicate_total",
            "counter",
            "Sends of a (sender, id) already accepted: acknowledged again, not delivered.",
            get(&self.messages_duplicate),
        );
        series(
            "msg_relay_auth_failures_total",
            "counter",
            "Logins refused (bad token or secret, missing or invalid name, disabled shared secret).",
            get(&self.auth_failures),
        );
        let _ = writeln!(
            out,
            "# HELP msg_relay_rejected_total Frames refused and connections closed, by error code."
        );
        let _ = writeln!(out, "# TYPE msg_relay_rejected_total counter");
        for (code, counter) in ErrorCode::ALL.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "msg_relay_rejected_total{{reason=\"{}\"}} {}",
                code.as_str(),
                get(counter)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_series_and_reason() {
        let metrics = Metrics::default();
        metrics.connection_opened();
        metrics.rejected(ErrorCode::RateLimited);
        metrics.rejected(ErrorCode::RateLimited);
        let text = metrics.render(1, (0, 0));
        assert!(text.contains("msg_relay_connections 1\n"));
        assert!(text.contains("msg_relay_users_online 1\n"));
        assert!(text.contains("msg_relay_rejected_total{reason=\"rate_limited\"} 2\n"));
        assert!(text.contains("msg_relay_rejected_total{reason=\"frame_too_large\"} 0\n"));
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.split(' ').count() == 2,
                "not a sample: {line}"
            );
        }
    }
}
