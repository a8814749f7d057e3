//! The frames the client reads and writes: [`msg_relay::protocol`]'s own types, read
//! tolerantly.
//!
//! A frame of a type this version does not know (a newer relay's) is skipped, never an error,
//! and so is a frame that is not JSON or has fields of the wrong type; the client works with
//! relays that have store-and-forward (`ack`, `synced`) and with v0.2.0 relays that have
//! not.

use msg_relay::protocol::{AckStatus, ClientFrame, ErrorCode, ServerFrame};
use serde_json::Value;

use super::mailroom::Incoming;

/// The frame types of [`ServerFrame`] this client reads.
const KNOWN: [&str; 8] = [
    "auth_ok",
    "message",
    "ack",
    "synced",
    "error",
    "presence",
    "pong",
    "delivered",
];

/// A frame from the relay, as far as the client cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FromRelay {
    /// The login succeeded.
    AuthOk,
    /// A message for this connection's user.
    Message(Incoming),
    /// The relay accepted a sent message.
    Ack {
        /// The message ID.
        id: String,
        /// `delivered` or `queued` (or a status of a newer relay).
        status: AckStatus,
        /// Whether it was a duplicate of one accepted before.
        duplicate: bool,
    },
    /// A message this identity sent, queued by the relay, has reached its recipient.
    Delivered {
        /// The message ID.
        id: String,
    },
    /// The backlog was sent: `backlog` messages.
    Synced {
        /// How many.
        backlog: u64,
    },
    /// A refusal.
    Error {
        /// The code.
        code: ErrorCode,
        /// The code as the relay wrote it (for codes this version does not know).
        code_text: String,
        /// The relay's words.
        message: String,
        /// The message it is about, if any.
        id: Option<String>,
        /// When a retry can succeed.
        retry_after_ms: Option<u64>,
    },
    /// A watched user's status.
    Presence {
        /// Who.
        username: String,
        /// `online`, `offline` or another word.
        status: String,
    },
    /// Anything else (`pong`, frames of newer relays).
    Other,
}

/// Reads one text frame. `None`: not JSON, or a known type with fields of the wrong type
/// (a hostile or broken relay); the caller skips it.
pub(crate) fn parse(text: &str) -> Option<FromRelay> {
    let value: Value = serde_json::from_str(text).ok()?;
    let kind = value.get("type")?.as_str()?;
    if !KNOWN.contains(&kind) {
        return Some(FromRelay::Other);
    }
    // The code as written, for codes newer than this version's ErrorCode.
    let code_text = value
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    Some(match serde_json::from_value::<ServerFrame>(value).ok()? {
        ServerFrame::AuthOk { .. } => FromRelay::AuthOk,
        ServerFrame::Message {
            from,
            to,
            content,
            id,
            thread,
            reply_to,
            timestamp,
        } => FromRelay::Message(Incoming {
            from,
            to,
            content,
            id,
            thread,
            reply_to,
            timestamp,
        }),
        ServerFrame::Ack {
            id,
            status,
            duplicate,
            ..
        } => FromRelay::Ack {
            id,
            status,
            duplicate,
        },
        ServerFrame::Synced { backlog, .. } => FromRelay::Synced { backlog },
        ServerFrame::Delivered { id, .. } => FromRelay::Delivered { id },
        ServerFrame::Error {
            code,
            message,
            retry_after_ms,
            id,
            ..
        } => FromRelay::Error {
            code,
            code_text,
            message,
            id,
            retry_after_ms,
        },
        ServerFrame::Presence { username, status } => FromRelay::Presence { username, status },
        _ => FromRelay::Other,
    })
}

fn to_text(frame: &ClientFrame) -> String {
    serde_json::to_string(frame).expect("a client frame serialises")
}

/// `auth` with a token (or the v0.2.0 shared secret), `acks: true` and `receipts: true`.
pub(crate) fn auth(username: &str, token: Option<&str>, secret: Option<&str>) -> String {
    to_text(&ClientFrame::Auth {
        username: Some(username.to_owned()),
        token: token.map(str::to_owned),
        secret: secret.map(str::to_owned),
        acks: Some(true),
        receipts: Some(true),
    })
}

/// `ack` of a received message, once it is on disk, naming its sender: IDs are the
/// senders', and another sender's message with the same ID is another message.
pub(crate) fn ack(id: &str, from: &str) -> String {
    to_text(&ClientFrame::Ack {
        id: id.to_owned(),
        from: Some(from.to_owned()),
    })
}

/// `status_change`.
pub(crate) fn status(status: &str) -> String {
    to_text(&ClientFrame::StatusChange {
        status: Some(status.to_owned()),
    })
}

/// `watch` of these users' presence.
pub(crate) fn watch(users: &[String]) -> String {
    to_text(&ClientFrame::Watch {
        users: users.to_vec(),
    })
}

/// `send` of a message from the outbox.
pub(crate) fn send(message: &msg_store::Message) -> String {
    to_text(&ClientFrame::Send {
        to: Some(message.to.clone().unwrap_or_default()),
        content: Some(message.body.clone()),
        id: Some(message.id.clone()),
        thread: message.thread.clone(),
        reply_to: message.reply_to.clone(),
        timestamp: message.created.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_frames_of_old_and_new_relays() {
        assert_eq!(
            parse(r#"{"type":"auth_ok","username":"bob"}"#),
            Some(FromRelay::AuthOk)
        );
        assert_eq!(
            parse(r#"{"type":"ack","id":"m1","to":"bob","status":"queued","duplicate":true}"#),
            Some(FromRelay::Ack {
                id: "m1".into(),
                status: AckStatus::Queued,
                duplicate: true
            })
        );
        assert_eq!(
            parse(r#"{"type":"synced","backlog":3}"#),
            Some(FromRelay::Synced { backlog: 3 })
        );
        let Some(FromRelay::Message(message)) = parse(
            r#"{"type":"message","from":"alice","to":"bob","content":"hi","id":"m2","thread":null,"reply_to":null,"timestamp":"2026-11-24T10:00:00"}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            (message.from.as_str(), message.id.as_str()),
            ("alice", "m2")
        );
        let Some(FromRelay::Error {
            code,
            code_text,
            id,
            ..
        }) = parse(
            r#"{"type":"error","code":"queue_full","message":"full","id":"m3","limit":"count"}"#,
        )
        else {
            panic!()
        };
        assert_eq!(
            (code, code_text.as_str(), id.as_deref()),
            (ErrorCode::QueueFull, "queue_full", Some("m3"))
        );
        let Some(FromRelay::Error {
            code, code_text, ..
        }) = parse(r#"{"type":"error","code":"brand_new","message":"?"}"#)
        else {
            panic!()
        };
        assert_eq!(
            (code, code_text.as_str()),
            (ErrorCode::Unknown, "brand_new")
        );
        assert_eq!(
            parse(r#"{"type":"delivered","id":"m1","to":"bob"}"#),
            Some(FromRelay::Delivered { id: "m1".into() })
        );
        assert_eq!(parse(r#"{"type":"pong"}"#), Some(FromRelay::Other));
        assert_eq!(parse(r#"{"type":"future","x":1}"#), Some(FromRelay::Other));
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(r#"{"type":"message","from":1}"#), None);
        assert_eq!(parse(r#"[1,2]"#), None);
    }

    #[test]
    fn writes_auth_with_acks() {
        let frame: Value = serde_json::from_str(&auth("bob", Some("t0k"), None)).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type":"auth","username":"bob","token":"t0k","acks":true,"receipts":true})
        );
    }

    #[test]
    fn an_ack_names_the_messages_sender() {
        let frame: Value = serde_json::from_str(&ack("sec-1", "alice")).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type":"ack","id":"sec-1","from":"alice"})
        );
    }
}
