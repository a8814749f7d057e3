//! The frames the client reads and writes, on top of [`msg_relay::protocol`].
//!
//! Frames the v0.2.0 protocol already has are parsed with the relay's own
//! [`ServerFrame`]; the store-and-forward additions (docs/relay.md: `ack`, `synced`, and the
//! `acks` flag of `auth`) are read and written here from their documented JSON, so this
//! client works with relays that have them and with relays that do not (an unknown frame
//! type is skipped, never an error).

use msg_relay::protocol::{ErrorCode, ServerFrame};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::mailroom::Incoming;

/// The largest frame this client sends: the relay's default `max_frame_bytes`. A message
/// that does not fit is marked failed here instead of being refused (and the connection
/// closed) by the relay on every attempt.
pub(crate) const MAX_FRAME_BYTES: usize = 64 * 1024;

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
        /// `delivered` or `queued`.
        status: String,
        /// Whether it was a duplicate of one accepted before.
        duplicate: bool,
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

#[derive(Deserialize)]
struct AckFrame {
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    duplicate: bool,
}

#[derive(Deserialize)]
struct SyncedFrame {
    #[serde(default)]
    backlog: u64,
}

/// Reads one text frame. `None`: not JSON or not a frame this client understands the shape
/// of (a hostile or broken relay); the caller skips it.
pub(crate) fn parse(text: &str) -> Option<FromRelay> {
    let value: Value = serde_json::from_str(text).ok()?;
    let kind = value.get("type")?.as_str()?.to_owned();
    match kind.as_str() {
        "ack" => {
            let ack: AckFrame = serde_json::from_value(value).ok()?;
            Some(FromRelay::Ack {
                id: ack.id,
                status: ack.status,
                duplicate: ack.duplicate,
            })
        }
        "synced" => {
            let synced: SyncedFrame = serde_json::from_value(value).ok()?;
            Some(FromRelay::Synced {
                backlog: synced.backlog,
            })
        }
        "error" => {
            let code_text = value
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned();
            match serde_json::from_value::<ServerFrame>(value).ok()? {
                ServerFrame::Error {
                    code,
                    message,
                    retry_after_ms,
                    id,
                    ..
                } => Some(FromRelay::Error {
                    code,
                    code_text,
                    message,
                    id,
                    retry_after_ms,
                }),
                _ => None,
            }
        }
        "auth_ok" | "message" | "presence" => match serde_json::from_value(value).ok()? {
            ServerFrame::AuthOk { .. } => Some(FromRelay::AuthOk),
            ServerFrame::Message {
                from,
                to,
                content,
                id,
                thread,
                reply_to,
                timestamp,
            } => Some(FromRelay::Message(Incoming {
                from,
                to,
                content,
                id,
                thread,
                reply_to,
                timestamp,
            })),
            ServerFrame::Presence { username, status } => {
                Some(FromRelay::Presence { username, status })
            }
            _ => None,
        },
        _ => Some(FromRelay::Other),
    }
}

/// `auth` with a token (or the v0.2.0 shared secret) and `acks: true`.
pub(crate) fn auth(username: &str, token: Option<&str>, secret: Option<&str>) -> String {
    let mut frame = json!({"type": "auth", "username": username, "acks": true});
    if let Some(token) = token {
        frame["token"] = json!(token);
    }
    if let Some(secret) = secret {
        frame["secret"] = json!(secret);
    }
    frame.to_string()
}

/// `ack` of a received message, once it is on disk.
pub(crate) fn ack(id: &str) -> String {
    json!({"type": "ack", "id": id}).to_string()
}

/// `status_change`.
pub(crate) fn status(status: &str) -> String {
    json!({"type": "status_change", "status": status}).to_string()
}

/// `watch` of these users' presence.
pub(crate) fn watch(users: &[String]) -> String {
    json!({"type": "watch", "users": users}).to_string()
}

/// `send` of a message from the outbox.
pub(crate) fn send(message: &msg_store::Message) -> String {
    let mut frame = json!({
        "type": "send",
        "to": message.to.as_deref().unwrap_or_default(),
        "content": message.body,
        "id": message.id,
    });
    if let Some(thread) = &message.thread {
        frame["thread"] = json!(thread);
    }
    if let Some(reply_to) = &message.reply_to {
        frame["reply_to"] = json!(reply_to);
    }
    if let Some(created) = &message.created {
        frame["timestamp"] = json!(created);
    }
    frame.to_string()
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
                status: "queued".into(),
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
            (ErrorCode::Unknown, "queue_full", Some("m3"))
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
            json!({"type":"auth","username":"bob","token":"t0k","acks":true})
        );
    }
}
