//! What the rest of the relay holds of one connection: its bounded outbox and its closer.
//!
//! A connection is two halves in one task (`connection.rs`): the reader handles the client's
//! frames, the writer drains the outbox into the socket. Everyone else (the registry routing
//! messages and presence, the reader answering) only ever *pushes* to the outbox without
//! waiting. A full outbox means the client stopped reading; the pusher then closes that
//! connection instead of waiting for it, so one stalled reader cannot slow anybody down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::protocol::{ErrorCode, ServerFrame, close};

/// A close frame with `code` and `reason`.
pub(crate) fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

/// A connection's number, unique for the life of the process. The registry compares it so
/// that an old connection's cleanup never removes a newer session under the same name.
pub(crate) type ConnId = u64;

/// A frame in a connection's outbox.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) frame: Message,
    /// Set for a message that counts as delivered once written to this socket: it waits in
    /// its recipient's queue until the writer has flushed it, so a connection that dies with
    /// it unsent leaves it queued for the next login.
    pub(crate) on_write: Option<QueuedAt>,
}

/// Where a message waits in its recipient's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuedAt {
    pub(crate) recipient: Arc<str>,
    /// Its sequence number in the queue (`queue::Seq`).
    pub(crate) seq: u64,
}

/// The sending side of a connection's outbound queue, bounded in frames and in bytes.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    /// The receiver is held by this connection's writer (`connection::write_loop`).
    frames: mpsc::Sender<Outgoing>,
    /// Bytes pushed and not yet taken by the writer; shared with the writer, which subtracts.
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// In the queue; the writer will send it.
    Queued,
    /// The queue is at its limit: the client is not reading.
    Full,
    /// The connection is ending; its writer is gone.
    Closed,
}

impl Outbox {
    /// A new outbox and the writer's end of it.
    pub(crate) fn new(
        max_frames: usize,
        max_bytes: usize,
    ) -> (Outbox, mpsc::Receiver<Outgoing>, Arc<AtomicUsize>) {
        let (frames, receiver) = mpsc::channel(max_frames);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let outbox = Outbox {
            frames,
            queued_bytes: Arc::clone(&queued_bytes),
            max_bytes,
        };
        (outbox, receiver, queued_bytes)
    }

    /// Waits for room for one frame; `None` when the connection's writer is gone.
    pub(crate) async fn reserve(&self) -> Option<OutboxPermit> {
        let permit = self.frames.clone().reserve_owned().await.ok()?;
        Some(OutboxPermit {
            permit,
            queued_bytes: Arc::clone(&self.queued_bytes),
        })
    }

    /// Queues a frame without waiting.
    pub(crate) fn push(&self, frame: Message) -> Push {
        self.push_message(frame, None)
    }

    /// Queues a frame without waiting; `on_write` tells the writer which queued message it
    /// delivers (see [`Outgoing::on_write`]).
    pub(crate) fn push_message(&self, frame: Message, on_write: Option<QueuedAt>) -> Push {
        let len = frame.len();
        // Reserve the bytes first, so concurrent pushers cannot both slip under the limit.
        // A single frame larger than the limit still passes when the queue is empty:
        // otherwise a maximal message plus its envelope could never be delivered.
        let before = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > self.max_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return Push::Full;
        }
        match self.frames.try_send(Outgoing { frame, on_write }) {
            Ok(()) => Push::Queued,
            Err(err) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                match err {
                    mpsc::error::TrySendError::Full(_) => Push::Full,
                    mpsc::error::TrySendError::Closed(_) => Push::Closed,
                }
            }
        }
    }
}

/// Room for one frame in an outbox, taken by waiting ([`Outbox::reserve`]): how a login
/// writes its backlog at the pace the client reads instead of overflowing the outbox.
#[derive(Debug)]
pub(crate) struct OutboxPermit {
    permit: mpsc::OwnedPermit<Outgoing>,
    queued_bytes: Arc<AtomicUsize>,
}

impl OutboxPermit {
    /// Queues `frame` in the reserved place (`on_write` as for [`Outbox::push_message`]).
    /// The byte bound is not checked: the frame count bounds a backlog, and waiting for room
    /// is already how a slow reader is handled.
    pub(crate) fn send(self, frame: Message, on_write: Option<QueuedAt>) {
        self.queued_bytes.fetch_add(frame.len(), Ordering::AcqRel);
        self.permit.send(Outgoing { frame, on_write });
    }
}

/// Why and how a connection ends. The first reason given wins.
#[derive(Debug, Clone)]
pub(crate) struct CloseReason {
    /// For the log: `peer_closed`, `session_replaced`, …
    pub(crate) label: &'static str,
    /// An `error` frame to send before the close frame.
    pub(crate) error: Option<ServerFrame>,
    /// The close frame's code and reason; `None` when the peer is gone or closed first
    /// (the WebSocket library answers a peer's close frame itself).
    pub(crate) close: Option<(u16, &'static str)>,
    /// Write what is already queued first (session replaced, shutdown), or drop it
    /// (a reader too slow to take it).
    pub(crate) drain: bool,
}

impl CloseReason {
    /// The client closed the socket or the TCP connection went away.
    pub(crate) fn peer_gone(label: &'static str) -> CloseReason {
        CloseReason {
            label,
            error: None,
            close: None,
            drain: false,
        }
    }

    /// A refusal: an `error` frame with `code`, then a close frame.
    pub(crate) fn refused(
        code: ErrorCode,
        message: impl Into<String>,
        close_code: u16,
        close_reason: &'static str,
    ) -> CloseReason {
        CloseReason {
            label: code.as_str(),
            error: Some(ServerFrame::error(code, message)),
            close: Some((close_code, close_reason)),
            drain: false,
        }
    }

    pub(crate) fn session_replaced() -> CloseReason {
        CloseReason {
            drain: true,
            ..CloseReason::refused(
                ErrorCode::SessionReplaced,
                "This name logged in on another connection; this one is closed",
                close::SESSION_REPLACED,
                "session replaced by a newer login",
            )
        }
    }

    pub(crate) fn slow_consumer() -> CloseReason {
        CloseReason::refused(
            ErrorCode::SlowConsumer,
            "This connection stopped reading its frames and is closed",
            close::POLICY,
            "outbound queue full",
        )
    }

    pub(crate) fn token_revoked() -> CloseReason {
        CloseReason::refused(
            ErrorCode::TokenRevoked,
            "The relay's operator revoked the tokens of this name; ask for the new one",
            close::POLICY,
            "token revoked",
        )
    }

    pub(crate) fn going_away() -> CloseReason {
        CloseReason {
            label: "shutdown",
            error: None,
            close: Some((close::GOING_AWAY, "relay shutting down")),
            drain: true,
        }
    }
}

/// Ends a connection from anywhere: the registry (replaced, too slow), the reader (timeouts,
/// refusals), the writer (a failed write). Clones share one state.
#[derive(Debug, Clone)]
pub(crate) struct Closer {
    /// Receivers are held by this connection's reader and writer, which stop when it is set.
    reason: watch::Sender<Option<CloseReason>>,
}

impl Closer {
    pub(crate) fn new() -> Closer {
        Closer {
            reason: watch::Sender::new(None),
        }
    }

    /// Asks the connection to close. Only the first reason counts; later calls do nothing.
    pub(crate) fn close(&self, reason: CloseReason) {
        self.reason.send_if_modified(|slot| {
            if slot.is_none() {
                *slot = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// A receiver that sees the reason once it is set.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<CloseReason>> {
        self.reason.subscribe()
    }
}

/// What the registry keeps of an authenticated connection.
#[derive(Debug, Clone)]
pub(crate) struct SessionHandle {
    pub(crate) conn: ConnId,
    /// Messages written to this session stay queued until it acknowledges them (an `acks`
    /// client, or any client under `--legacy-delivery ack-required`).
    pub(crate) keeps_pending: bool,
    /// The client asked for `delivered` frames (`auth` with `receipts: true`).
    pub(crate) receipts: bool,
    pub(crate) outbox: Outbox,
    pub(crate) closer: Closer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_bounded_in_frames() {
        let (outbox, mut receiver, _) = Outbox::new(2, 1 << 20);
        assert_eq!(outbox.push(Message::text("a")), Push::Queued);
        assert_eq!(outbox.push(Message::text("b")), Push::Queued);
        assert_eq!(outbox.push(Message::text("c")), Push::Full);
        assert!(receiver.try_recv().is_ok());
        drop(receiver);
        assert_eq!(outbox.push(Message::text("d")), Push::Closed);
    }

    #[test]
    fn the_outbox_is_bounded_in_bytes_but_takes_one_big_frame() {
        let (outbox, _receiver, queued) = Outbox::new(100, 10);
        assert_eq!(outbox.push(Message::text("x".repeat(50))), Push::Queued);
        assert_eq!(outbox.push(Message::text("y")), Push::Full);
        assert_eq!(queued.load(Ordering::Acquire), 50);
    }

    #[test]
    fn the_first_close_reason_wins() {
        let closer = Closer::new();
        let receiver = closer.subscribe();
        closer.close(CloseReason::slow_consumer());
        closer.clone().close(CloseReason::going_away());
        assert_eq!(receiver.borrow().as_ref().unwrap().label, "slow_consumer");
    }
}
