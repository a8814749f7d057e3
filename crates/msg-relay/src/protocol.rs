//! The wire protocol: JSON text frames with a `type` field, in both directions.
//!
//! The v0.2.0 frames (`auth`, `send`, `status_change`, `ping` from the client; `auth_ok`,
//! `error`, `message`, `presence`, `pong` from the relay) keep their fields and meaning, so a
//! v0.2.0 client works unchanged. Additions are new optional fields (`token` in `auth`,
//! `username` in `auth_ok`, `code`, `retry_after_ms`, `id` and `max_bytes` in `error`) and new
//! frame types (`watch`, `unwatch`); `docs/relay.md` is the reference for every frame.
//!
//! Store-and-forward (issue 7) adds `acks` to `auth`, the `ack` frame in both directions,
//! `synced` after a login's backlog, `to` and `limit` in `error`, and the codes `queue_full`
//! and `expired`.
//!
//! Both enums derive `Serialize` and `Deserialize`, so a Rust client (`msg-hooks`) speaks the
//! protocol through these types instead of hand-written JSON.

use serde::{Deserialize, Serialize};

pub(crate) mod fast;

/// A frame sent by a client.
///
/// Unknown fields are ignored (newer clients may send more); an unknown `type` is answered
/// with an `error` frame of code [`ErrorCode::InvalidFrame`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Log in as `username`, proving it with a per-user `token` (issued by
    /// `msg-relay token <username>`) or, when the operator allows it, the v0.2.0 shared
    /// `secret`.
    Auth {
        /// The name to log in as.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The per-user token (64 hex digits).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The v0.2.0 shared secret; accepted only with `--allow-shared-secret`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
        /// `true`: this client sends an `ack` for each `message` once it has stored it, and
        /// messages it has not acknowledged are delivered again at its next login
        /// (at-least-once). Absent or `false` (v0.2.0 clients): a message counts as delivered
        /// once written to the socket (unless the relay runs with
        /// `--legacy-delivery ack-required`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acks: Option<bool>,
        /// `true` (new): this client wants a `delivered` frame when a message it sent that
        /// the relay queued later reaches its recipient. Absent or `false`: no such frame is
        /// ever sent to it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipts: Option<bool>,
    },
    /// Deliver a message to the user `to`. The relay sets `from` to the authenticated name.
    Send {
        /// The recipient's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        /// The message text (`""` when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// The client's message ID: at most 128 bytes, no control characters. Absent or empty:
        /// the relay generates one (`relay-<hex>`) and returns it in the `ack`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The thread the message belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<String>,
        /// The ID of the message this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        /// The client's timestamp, forwarded as given; the relay's local time when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// Change the sender's status (`online`, `busy`, `away`, `focusing`, or another short
    /// word); watchers receive a `presence` frame.
    StatusChange {
        /// The new status (`online` when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
    },
    /// Ask for `presence` frames about these users (new). The relay answers at once with one
    /// `presence` frame per name giving its current status (`offline` when not connected).
    Watch {
        /// The names to watch.
        users: Vec<String>,
    },
    /// Stop receiving `presence` frames about these users (new).
    Unwatch {
        /// The names to stop watching.
        users: Vec<String>,
    },
    /// The recipient has stored the message with this `id` (new). Unknown and already
    /// acknowledged IDs are ignored: acknowledgements are idempotent.
    Ack {
        /// The `id` of the `message` frame.
        id: String,
        /// The `from` of the `message` frame. IDs are chosen by senders, so two senders may
        /// use the same one: with `from`, only that sender's message is acknowledged; without
        /// it (clients of before this field), every message with this `id` written to this
        /// client is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// Application-level liveness check; answered with `pong`.
    Ping {},
}

/// A frame sent by the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    /// The login succeeded. `username` (new) is the name the connection now speaks as.
    AuthOk {
        /// The authenticated name.
        username: String,
    },
    /// Something was refused. `message` is for people (v0.2.0); `code` is for programs.
    Error {
        /// What went wrong, machine-readable (new).
        code: ErrorCode,
        /// What went wrong, in words (v0.2.0 texts where v0.2.0 had one).
        message: String,
        /// When a retry can succeed, in milliseconds (rate limits, a full relay).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// The `id` of the `send` this error is about, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The frame size limit, on [`ErrorCode::FrameTooLarge`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_bytes: Option<usize>,
        /// The recipient of the `send` this error is about (`queue_full`, `expired`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        /// Which bound refused the message, on [`ErrorCode::QueueFull`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<QueueLimit>,
    },
    /// A message for this connection's user.
    Message {
        /// The sender's authenticated name: never what the sender claimed.
        from: String,
        /// The recipient, as the sender wrote it.
        to: String,
        /// The message text.
        content: String,
        /// The sender's message ID (`""` when the sender gave none).
        id: String,
        /// The thread, or `null`.
        thread: Option<String>,
        /// The message this one answers, or `null`.
        reply_to: Option<String>,
        /// The sender's timestamp, or the relay's local time (`YYYY-MM-DDTHH:MM:SS`).
        timestamp: String,
    },
    /// A watched user connected, disconnected or changed status.
    Presence {
        /// The user the frame is about.
        username: String,
        /// `online`, `offline` or the status the user set.
        status: String,
    },
    /// The answer to `ping`.
    Pong {},
    /// The relay took responsibility for a `send` (new): it reached the recipient or waits
    /// in the recipient's queue.
    Ack {
        /// The message ID: the sender's, or the one the relay generated.
        id: String,
        /// The recipient.
        to: String,
        /// What happened to the message.
        status: AckStatus,
        /// `true` when the same (sender, `id`) was accepted before within the dedupe window:
        /// the message was not delivered again and `status` repeats the first outcome.
        duplicate: bool,
    },
    /// Sent once after `auth_ok`, when the `backlog` queued and unacknowledged messages of
    /// this user have been written (new); live messages follow.
    Synced {
        /// How many backlog messages came before this frame.
        backlog: u64,
        /// The epoch of this user's queue on a relay of several nodes (`--redis`): it
        /// changes only when the relay's store lost the queue's state, so a client that saw
        /// another epoch before knows that messages queued for it may be gone. Absent on a
        /// single node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    /// A message this user sent, which the relay had queued (`ack` status `queued`), has
    /// reached its recipient (new): acknowledged by it, or written to a client without
    /// `acks`. Only for clients that logged in with `receipts: true`: sent to each such
    /// session of the sender online at that moment; a sender offline then gets it at its
    /// next such login, before `synced` (kept in memory, so a relay restart loses it and the
    /// sender's copy stays `queued`: the weaker claim, never a false one).
    Delivered {
        /// The message ID, as in the `ack`.
        id: String,
        /// The recipient.
        to: String,
    },
}

/// What the relay did with an accepted `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AckStatus {
    /// Handed to at least one of the recipient's connections; the relay keeps it until that
    /// connection has written it to its socket (a client without `acks`) or the client has
    /// acknowledged it, and delivers it again at the next login otherwise.
    Delivered,
    /// The recipient is offline; the message is in its queue (with `--spool`, on disk).
    Queued,
    /// A status this version does not know (sent by a newer relay).
    #[serde(other)]
    Unknown,
}

impl AckStatus {
    /// The status as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AckStatus::Delivered => "delivered",
            AckStatus::Queued => "queued",
            AckStatus::Unknown => "unknown",
        }
    }
}

/// The bound that refused a message with [`ErrorCode::QueueFull`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QueueLimit {
    /// The recipient's queue holds `--queue-max-messages` messages.
    Count,
    /// The recipient's queue holds `--queue-max-bytes` bytes.
    Bytes,
    /// All queues together hold `--queue-total-bytes` bytes.
    TotalBytes,
    /// The sender's messages waiting in all queues number `--sender-queue-max-messages`
    /// (new): one user cannot fill the relay for everyone by writing to many names.
    SenderCount,
    /// The sender's messages waiting in all queues hold `--sender-queue-max-bytes` bytes
    /// (new).
    SenderBytes,
    /// A bound this version does not know (sent by a newer relay).
    #[serde(other)]
    Unknown,
}

impl QueueLimit {
    /// The bound as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueLimit::Count => "count",
            QueueLimit::Bytes => "bytes",
            QueueLimit::TotalBytes => "total_bytes",
            QueueLimit::SenderCount => "sender_count",
            QueueLimit::SenderBytes => "sender_bytes",
            QueueLimit::Unknown => "unknown",
        }
    }
}

/// The machine-readable reason carried by every `error` frame.
///
/// Each code is of one class, which tells a client what to do about the frame refused:
///
/// - **permanent** ([`ErrorCode::is_permanent`]): the same frame would be refused again,
///   or the message is gone; a client gives the message up (or, at login, stops);
/// - **retryable** ([`ErrorCode::is_retryable`]): a limit that passes; the same frame can
///   succeed later unchanged (after `retry_after_ms` when the relay gives it);
/// - **neither**: the connection ends or the frame came at the wrong time; what to do is
///   the client's decision (reconnect, log in first). [`ErrorCode::Unknown`] is of this
///   class: a client cannot know more of a code it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The token (or shared secret) does not prove the name. The socket is closed.
    /// Permanent.
    AuthFailed,
    /// The operator revoked this name's tokens (`msg-relay token --revoke`): a login with
    /// an old token, or a session that was open at that moment, is closed (new). Ask the
    /// operator for the new token. Permanent: the same token is refused again.
    TokenRevoked,
    /// A v0.2.0 shared-secret login on a relay that accepts tokens only. The socket is closed.
    /// Permanent.
    SharedSecretDisabled,
    /// `auth` without a username. The socket is closed. Permanent.
    UsernameRequired,
    /// A username with line breaks or control characters, or too long. The socket is closed.
    /// Permanent.
    InvalidUsername,
    /// No `auth` arrived within the authentication timeout. The socket is closed. Neither.
    AuthTimeout,
    /// `send`, `status_change`, `watch` or `unwatch` before `auth`. Neither: the same frame
    /// succeeds after a login.
    AuthRequired,
    /// The recipient is not connected (v0.2.0: `User <to> not online`). No longer sent:
    /// messages for offline users are queued. Retryable.
    NotOnline,
    /// `send` without a recipient. Permanent.
    RecipientRequired,
    /// `send` to a name nobody can log in as (line breaks, control characters, only
    /// whitespace, over 128 bytes): refused rather than queued for nobody (new). Permanent.
    InvalidRecipient,
    /// The recipient stopped reading and was disconnected. No longer sent: the message is
    /// queued for the recipient's next login instead. Retryable.
    RecipientTooSlow,
    /// The frame is larger than the limit; the socket is closed with 1009. Permanent.
    FrameTooLarge,
    /// Too many frames per second; retry after `retry_after_ms`. Retryable.
    RateLimited,
    /// The relay holds as many connections as it may; the socket is closed with 1013.
    /// Retryable.
    TooManyConnections,
    /// Watching more users than the limit allows. Permanent.
    TooManyWatches,
    /// A status that is empty, too long, or has control characters. Permanent.
    InvalidStatus,
    /// Text that is not JSON. Permanent.
    InvalidJson,
    /// JSON that is not a known frame (unknown `type`, a field of the wrong type), or a
    /// `send` whose `id` is longer than 128 bytes or has control characters. Permanent.
    InvalidFrame,
    /// A binary WebSocket message; the protocol is JSON text. Permanent.
    BinaryNotSupported,
    /// The same name logged in elsewhere; this socket is closed with 4000. Neither (and a
    /// client should not reconnect on its own: see [`close::SESSION_REPLACED`]).
    SessionReplaced,
    /// This connection stopped reading its frames; the socket is closed with 1008. Neither.
    SlowConsumer,
    /// Nothing arrived (not even a pong) within the idle timeout; the socket is closed.
    /// Neither.
    IdleTimeout,
    /// The recipient's offline queue, the sender's messages in all queues, or the relay's
    /// total queue memory is at the bound named in `limit`; the message was not accepted
    /// (new). Retryable.
    QueueFull,
    /// A queued message passed its time to live before the recipient came online; it was
    /// dropped (new). Sent to the sender if it is online at that moment. Permanent: the
    /// message is gone.
    Expired,
    /// The relay's shared store (Redis, for a relay of several nodes) did not answer: the
    /// frame was not acted on and nothing was acknowledged; retry after `retry_after_ms`
    /// (new). A login refused for it is closed with 1013. Retryable.
    Unavailable,
    /// A code this version does not know (sent by a newer relay). Neither.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire (`rate_limited`), also the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::TokenRevoked => "token_revoked",
            ErrorCode::SharedSecretDisabled => "shared_secret_disabled",
            ErrorCode::UsernameRequired => "username_required",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::AuthTimeout => "auth_timeout",
            ErrorCode::AuthRequired => "auth_required",
            ErrorCode::NotOnline => "not_online",
            ErrorCode::RecipientRequired => "recipient_required",
            ErrorCode::InvalidRecipient => "invalid_recipient",
            ErrorCode::RecipientTooSlow => "recipient_too_slow",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::TooManyWatches => "too_many_watches",
            ErrorCode::InvalidStatus => "invalid_status",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::BinaryNotSupported => "binary_not_supported",
            ErrorCode::SessionReplaced => "session_replaced",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::IdleTimeout => "idle_timeout",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::Expired => "expired",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// Whether the refused frame would be refused again, or its message is gone: a client
    /// gives the message up (a `send`) or stops (a login) instead of trying again.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            ErrorCode::AuthFailed
                | ErrorCode::TokenRevoked
                | ErrorCode::SharedSecretDisabled
                | ErrorCode::UsernameRequired
                | ErrorCode::InvalidUsername
                | ErrorCode::RecipientRequired
                | ErrorCode::InvalidRecipient
                | ErrorCode::FrameTooLarge
                | ErrorCode::TooManyWatches
                | ErrorCode::InvalidStatus
                | ErrorCode::InvalidJson
                | ErrorCode::InvalidFrame
                | ErrorCode::BinaryNotSupported
                | ErrorCode::Expired
        )
    }

    /// Whether the refusal passes: the same frame can succeed later unchanged (after
    /// `retry_after_ms` when the relay gives it).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::NotOnline
                | ErrorCode::RecipientTooSlow
                | ErrorCode::RateLimited
                | ErrorCode::TooManyConnections
                | ErrorCode::QueueFull
                | ErrorCode::Unavailable
        )
    }

    /// Every code the relay sends, in a stable order (the metrics list them all, even at 0).
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::AuthFailed,
        ErrorCode::TokenRevoked,
        ErrorCode::SharedSecretDisabled,
        ErrorCode::UsernameRequired,
        ErrorCode::InvalidUsername,
        ErrorCode::AuthTimeout,
        ErrorCode::AuthRequired,
        ErrorCode::NotOnline,
        ErrorCode::RecipientRequired,
        ErrorCode::InvalidRecipient,
        ErrorCode::RecipientTooSlow,
        ErrorCode::FrameTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::TooManyConnections,
        ErrorCode::TooManyWatches,
        ErrorCode::InvalidStatus,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidFrame,
        ErrorCode::BinaryNotSupported,
        ErrorCode::SessionReplaced,
        ErrorCode::SlowConsumer,
        ErrorCode::IdleTimeout,
        ErrorCode::QueueFull,
        ErrorCode::Expired,
        ErrorCode::Unavailable,
    ];
}

/// The largest frame a relay accepts unless its operator says otherwise (`msg-relay serve
/// --max-frame-bytes`): 64 KiB. A client keeps its frames below it; a larger one closes
/// the connection with 1009 ([`ErrorCode::FrameTooLarge`]).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// WebSocket close codes the relay uses, with the reason text it sends.
pub mod close {
    /// The client's login failed (v0.2.0 closed with 1000 too).
    pub const AUTH_FAILED: u16 = 1000;
    /// The relay is shutting down (SIGTERM, Ctrl-C).
    pub const GOING_AWAY: u16 = 1001;
    /// A frame that breaks RFC 6455 (reserved bits, an unknown opcode, a fragmented or
    /// oversized control frame, an unmasked frame, a continuation without a start).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame or a close reason that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Authentication timeout, idle timeout, a flood of pings, or a reader too slow for its
    /// queue.
    pub const POLICY: u16 = 1008;
    /// A frame over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The relay holds its maximum number of connections; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The same name logged in on another connection. Clients should not reconnect
    /// automatically on this code, or two clients under one name replace each other forever.
    pub const SESSION_REPLACED: u16 = 4000;
}

impl ServerFrame {
    /// An `error` frame with only a code and a message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerFrame {
        ServerFrame::Error {
            code,
            message: message.into(),
            retry_after_ms: None,
            id: None,
            max_bytes: None,
            to: None,
            limit: None,
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a string, a number or an
        // Option of one, and every map key is a string.
        serde_json::to_string(self).expect("server frames always serialise")
    }
}

impl ClientFrame {
    /// Parses a text frame. The error tells a syntax error (not JSON) from JSON that is not a
    /// known frame.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        serde_json::from_str(text).map_err(|err| {
            if err.is_syntax() || err.is_eof() {
                FrameError::NotJson(err.to_string())
            } else {
                FrameError::UnknownFrame(err.to_string())
            }
        })
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialise")
    }
}

/// Why a text frame is not a [`ClientFrame`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The text is not JSON.
    #[error("frame is not JSON: {0}")]
    NotJson(String),
    /// The JSON is not a known frame: unknown `type`, missing `type`, a field of the wrong type.
    #[error("frame is not a known relay frame: {0}")]
    UnknownFrame(String),
}

impl FrameError {
    /// The `error` code that answers this frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::NotJson(_) => ErrorCode::InvalidJson,
            FrameError::UnknownFrame(_) => ErrorCode::InvalidFrame,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v0_2_0_frames_parse() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"auth","secret":"s","username":"alice"}"#).unwrap(),
            ClientFrame::Auth {
                username: Some("alice".into()),
                token: None,
                secret: Some("s".into()),
                acks: None,
                receipts: None,
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"ping"}"#).unwrap(),
            ClientFrame::Ping {}
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"ping","extra":1}"#).unwrap(),
            ClientFrame::Ping {}
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"status_change","status":"busy"}"#).unwrap(),
            ClientFrame::StatusChange {
                status: Some("busy".into())
            }
        );
        let send = ClientFrame::parse(
            r#"{"type":"send","to":"bob","content":"hi","id":"msg-1","thread":null}"#,
        )
        .unwrap();
        assert!(matches!(send, ClientFrame::Send { to: Some(t), thread: None, .. } if t == "bob"));
    }

    #[test]
    fn each_code_is_permanent_retryable_or_neither() {
        for code in ErrorCode::ALL {
            assert!(
                !(code.is_permanent() && code.is_retryable()),
                "{code:?} is of one class"
            );
        }
        // What a client decides on: a message refused for these is given up ...
        for code in [
            ErrorCode::RecipientRequired,
            ErrorCode::InvalidFrame,
            ErrorCode::InvalidJson,
            ErrorCode::FrameTooLarge,
            ErrorCode::Expired,
            ErrorCode::InvalidUsername,
            ErrorCode::AuthFailed,
            ErrorCode::TokenRevoked,
            ErrorCode::InvalidRecipient,
        ] {
            assert!(code.is_permanent(), "{code:?}");
        }
        // ... for these sent again later; a connection ended for these is the client's call.
        for code in [
            ErrorCode::RateLimited,
            ErrorCode::TooManyConnections,
            ErrorCode::QueueFull,
            ErrorCode::Unavailable,
        ] {
            assert!(code.is_retryable(), "{code:?}");
        }
        for code in [
            ErrorCode::SessionReplaced,
            ErrorCode::AuthRequired,
            ErrorCode::IdleTimeout,
            ErrorCode::Unknown,
        ] {
            assert!(!code.is_permanent() && !code.is_retryable(), "{code:?}");
        }
    }

    #[test]
    fn garbage_is_told_apart_from_unknown_frames() {
        assert_eq!(
            ClientFrame::parse("{not json").unwrap_err().code(),
            ErrorCode::InvalidJson
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"teleport"}"#)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"send","to":5}"#)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidFrame
        );
    }

    #[test]
    fn server_frames_keep_the_v0_2_0_shape() {
        assert_eq!(ServerFrame::Pong {}.to_json(), r#"{"type":"pong"}"#);
        let message = ServerFrame::Message {
            from: "alice".into(),
            to: "bob".into(),
            content: "hi".into(),
            id: "".into(),
            thread: None,
            reply_to: None,
            timestamp: "2026-01-02T03:04:05".into(),
        };
        assert_eq!(
            message.to_json(),
            r#"{"type":"message","from":"alice","to":"bob","content":"hi","id":"","thread":null,"reply_to":null,"timestamp":"2026-01-02T03:04:05"}"#
        );
        assert_eq!(
            ServerFrame::error(ErrorCode::NotOnline, "User bob not online").to_json(),
            r#"{"type":"error","code":"not_online","message":"User bob not online"}"#
        );
    }

    #[test]
    fn unknown_error_codes_from_a_newer_relay_still_parse() {
        let frame: ServerFrame =
            serde_json::from_str(r#"{"type":"error","code":"brand_new","message":"x"}"#).unwrap();
        assert!(matches!(
            frame,
            ServerFrame::Error {
                code: ErrorCode::Unknown,
                ..
            }
        ));
    }

    #[test]
    fn every_code_spells_as_serde_does() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
