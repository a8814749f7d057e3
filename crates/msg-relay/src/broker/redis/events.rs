//! What the other nodes (through the scripts) tell this node: the events published on its
//! channel, `<prefix>node:<node id>`, and, on a relay that broadcasts presence, on
//! `<prefix>presence`; and the task that listens for them on a pub/sub connection of its
//! own, reconnecting whenever Redis goes away.
//!
//! An event is one kind byte, then fields written as `<length>:<bytes>`, the last one raw
//! (`common.lua` writes them): so names, IDs and frames may hold any byte, a newline
//! included, without escaping.
//!
//! Pub/sub delivers at most once: what is published while the connection is down is lost.
//! The listener says so with [`NodeEvent::Resubscribed`], and the node then reads again what
//! matters: messages are in the streams, sessions and statuses in their keys.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};

use super::StreamId;
use crate::session::ConnId;

/// Something this node must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeEvent {
    /// A message for `user`, who has a session on this node. It is in `user`'s stream
    /// already (under `sid`), so a node that misses this event loses nothing.
    Message {
        user: String,
        sid: StreamId,
        sender: String,
        id: String,
        frame: String,
    },
    /// Close the session of `user` on connection `conn`.
    Kick {
        conn: ConnId,
        user: String,
        reason: KickReason,
    },
    /// `user`'s status changed (`online`, `offline`, or one the user set).
    Presence { user: String, status: String },
    /// The statuses connection `conn` asked for with `watch`, in the order asked.
    Snapshot {
        conn: ConnId,
        statuses: Vec<(String, String)>,
    },
    /// A message from `sender` (who has a session on this node) to `to` reached the end of
    /// its time to live without being handed to any node.
    Expired {
        sender: String,
        to: String,
        id: String,
    },
    /// Messages of `user` (who has a session on this node) that it was told were `queued`
    /// reached their recipients: receipts are kept for it in Redis.
    Receipts { user: String },
    /// The pub/sub connection was lost and is back: events published meanwhile are lost.
    Resubscribed,
}

/// Why a session is closed from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KickReason {
    /// The same name logged in again (on this node or another) beyond the session limit.
    SessionReplaced,
    /// `msg-relay token --revoke` invalidated the user's tokens.
    TokenRevoked,
}

impl NodeEvent {
    /// Reads an event as `common.lua` writes it; `None` for anything else.
    pub(crate) fn decode(payload: &[u8]) -> Option<NodeEvent> {
        let (&kind, rest) = payload.split_first()?;
        let mut fields = Fields(rest);
        let event = match kind {
            b'm' => NodeEvent::Message {
                user: fields.text()?,
                sid: fields.text()?.parse().ok()?,
                sender: fields.text()?,
                id: fields.text()?,
                frame: fields.rest()?,
            },
            b'k' => NodeEvent::Kick {
                conn: fields.text()?.parse().ok()?,
                user: fields.text()?,
                reason: match fields.rest()?.as_str() {
                    "session_replaced" => KickReason::SessionReplaced,
                    "token_revoked" => KickReason::TokenRevoked,
                    _ => return None,
                },
            },
            b'p' => NodeEvent::Presence {
                user: fields.text()?,
                status: fields.rest()?,
            },
            b'w' => {
                let conn = fields.text()?.parse().ok()?;
                let mut statuses = Vec::new();
                while !fields.0.is_empty() {
                    statuses.push((fields.text()?, fields.text()?));
                }
                NodeEvent::Snapshot { conn, statuses }
            }
            b'x' => NodeEvent::Expired {
                sender: fields.text()?,
                to: fields.text()?,
                id: fields.rest()?,
            },
            b'r' => NodeEvent::Receipts {
                user: fields.rest()?,
            },
            _ => return None,
        };
        Some(event)
    }
}

/// The fields of an event after its kind byte.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    /// The next `<length>:<bytes>` field, as text.
    fn text(&mut self) -> Option<String> {
        let colon = self.0.iter().position(|&byte| byte == b':')?;
        let digits = std::str::from_utf8(&self.0[..colon]).ok()?;
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let len: usize = digits.parse().ok()?;
        let start = colon + 1;
        let bytes = self.0.get(start..start.checked_add(len)?)?;
        self.0 = &self.0[start + len..];
        String::from_utf8(bytes.to_vec()).ok()
    }

    /// Everything left, as text.
    fn rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.0);
        String::from_utf8(rest.to_vec()).ok()
    }
}

/// The shortest and longest wait between two attempts to reconnect.
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// Listens on `channels` until `stop` turns `true` or `events`' receiver is dropped, sending
/// every event there. `ready` is answered once the first subscription is confirmed; a
/// failed or lost connection is retried with a growing pause, and
/// [`NodeEvent::Resubscribed`] follows each recovery.
///
/// `events` is bounded: a node that falls behind stops reading, Redis buffers for it up to
/// its `client-output-buffer-limit pubsub` and then drops the connection, which this task
/// turns into a `Resubscribed`, after which the node reads again what it missed.
pub(super) async fn listen(
    client: redis::Client,
    channels: Vec<String>,
    events: mpsc::Sender<NodeEvent>,
    ready: oneshot::Sender<()>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ready = Some(ready);
    let mut pause = RECONNECT_MIN;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            subscribed = subscribed => subscribed,
        };
        let pubsub = match (pubsub, ready.take()) {
            (Ok(pubsub), Some(ready)) => {
                let _ = ready.send(());
                pubsub
            }
            (Ok(pubsub), None) => {
                pause = RECONNECT_MIN;
                if events.send(NodeEvent::Resubscribed).await.is_err() {
                    return;
                }
                pubsub
            }
            (Err(_), not_yet) => {
                // Not answered yet: the first success then counts as a recovery too, since
                // whoever waited for it went on without it.
                if not_yet.is_some() {
                    ready = not_yet;
                }
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(RECONNECT_MAX);
                continue;
            }
        };
        let mut messages = pubsub.into_on_message();
        loop {
            let message = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                message = messages.next() => message,
            };
            // The stream ends when the connection does: reconnect.
            let Some(message) = message else { break };
            // Anything else on the channel is not from the engine's scripts: ignored.
            if let Some(event) = NodeEvent::decode(message.get_payload_bytes())
                && events.send(event).await.is_err()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str) -> String {
        format!("{}:{text}", text.len())
    }

    #[test]
    fn events_decode_whatever_bytes_their_fields_hold() {
        let user = "a:b\n5:c";
        let payload = format!(
            "m{}{}{}{}{{\"x\":1}}\n",
            field(user),
            field("17-3"),
            field("eve"),
            field("m:1")
        );
        assert_eq!(
            NodeEvent::decode(payload.as_bytes()),
            Some(NodeEvent::Message {
                user: user.to_owned(),
                sid: "17-3".parse().unwrap(),
                sender: "eve".to_owned(),
                id: "m:1".to_owned(),
                frame: "{\"x\":1}\n".to_owned(),
            })
        );
        let payload = format!(
            "w{}{}{}{}{}",
            field("9"),
            field("a"),
            field("online"),
            field(""),
            field("offline")
        );
        assert_eq!(
            NodeEvent::decode(payload.as_bytes()),
            Some(NodeEvent::Snapshot {
                conn: 9,
                statuses: vec![
                    ("a".to_owned(), "online".to_owned()),
                    (String::new(), "offline".to_owned())
                ],
            })
        );
        assert_eq!(
            NodeEvent::decode(b"ral:ice\n"),
            Some(NodeEvent::Receipts {
                user: "al:ice\n".to_owned()
            })
        );
        let payload = format!("k{}{}token_revoked", field("12"), field("alice"));
        assert_eq!(
            NodeEvent::decode(payload.as_bytes()),
            Some(NodeEvent::Kick {
                conn: 12,
                user: "alice".to_owned(),
                reason: KickReason::TokenRevoked,
            })
        );
    }

    #[test]
    fn anything_else_is_not_an_event() {
        for payload in [
            &b""[..],
            b"z",
            b"m5:alice",
            b"m99:alice",
            b"m:alice",
            b"m-1:a",
            b"m+5:alice4:1-2x",
            b"k1:x5:alicesession_replaced",
            b"k1:75:alicebored",
            b"w1:71:a",
            b"m5:alice3:1-x{}",
            b"p5:al\xffcee",
        ] {
            assert_eq!(NodeEvent::decode(payload), None, "{payload:?}");
        }
    }
}
