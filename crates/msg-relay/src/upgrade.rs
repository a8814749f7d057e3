//! The WebSocket upgrade of `GET /ws`: the handshake checks of RFC 6455 §4.2, the `101`
//! answer, and the WebSocket that follows, with buffers sized by the relay.
//!
//! The relay upgrades by itself rather than with warp's `ws()` filter: warp 0.4 offers no way
//! to set tungstenite's buffers, whose defaults would cost every idle connection 128 KiB of
//! resident memory and let a client that does not read make the relay buffer without bound.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use crate::accept::Slot;
use crate::connection;
use crate::shared::Shared;

/// The read buffer of each WebSocket: most frames fit, and an idle connection keeps little.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The write buffer is flushed at this size (tungstenite's default).
const WRITE_BUFFER_BYTES: usize = 128 * 1024;

/// What the relay adds around a client's text when it writes a `message`: `from` and `to`
/// (user names of at most 128 bytes, each escaped character at most 6), the field names, a
/// generated ID and a timestamp, with room to spare; and a close or pong frame besides.
const ENVELOPE_BYTES: usize = 8 * 1024;

/// Answers a request for `/ws`: `101 Switching Protocols` and a task that serves the
/// WebSocket once hyper hands the connection over, or why the request is not a handshake.
/// The WebSocket keeps the connection's place in the limit (`slot`); a connection beyond
/// the limit is upgraded only to be told `too_many_connections`.
pub(crate) fn websocket(
    headers: &HeaderMap,
    on_upgrade: Option<OnUpgrade>,
    slot: Option<Slot>,
    peer: Option<SocketAddr>,
    shared: Arc<Shared>,
) -> Response {
    let accept = match accept_key(headers) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(on_upgrade) = on_upgrade else {
        return Refusal::BadRequest("the connection cannot be upgraded").into_response();
    };
    let permit = slot.as_ref().and_then(Slot::take);
    let config = websocket_config(shared.config.limits.max_frame_bytes);
    tokio::spawn(async move {
        // The client may give up between the 101 and the upgrade: nothing to do.
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                // Bytes the client sent right behind its upgrade request (a client may
                // pipeline its `auth`). Copied and released at once: `read_buf` shares
                // hyper's read buffer, which would otherwise stay allocated for the life of
                // the connection.
                let pipelined = parts.read_buf.to_vec();
                drop(parts.read_buf);
                let socket = WebSocketStream::from_partially_read(
                    parts.io.into_inner(),
                    pipelined,
                    Role::Server,
                    Some(config),
                )
                .await;
                serve_or_refuse(socket, shared, permit, peer).await;
            }
            Err(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                serve_or_refuse(socket, shared, permit, peer).await;
            }
        }
    });
    let mut response =
        warp::reply::with_status(warp::reply(), StatusCode::SWITCHING_PROTOCOLS).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

async fn serve_or_refuse<S: AsyncRead + AsyncWrite + Unpin>(
    socket: WebSocketStream<S>,
    shared: Arc<Shared>,
    permit: Option<OwnedSemaphorePermit>,
    peer: Option<SocketAddr>,
) {
    match permit {
        Some(permit) => connection::serve(socket, shared, permit, peer).await,
        None => connection::refuse_full(socket, shared).await,
    }
}

/// Why a request for `/ws` is not a WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `400`: what is wrong with it.
    BadRequest(&'static str),
    /// `426`: a WebSocket version other than 13 (RFC 6455 §4.2.2).
    UnsupportedVersion,
}

impl Refusal {
    /// Both answers name the version the relay speaks, so a client can retry with it.
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::BadRequest(what) => (StatusCode::BAD_REQUEST, what),
            Refusal::UnsupportedVersion => (
                StatusCode::UPGRADE_REQUIRED,
                "only WebSocket version 13 is supported",
            ),
        };
        let body = format!("{}: {text}\n", status.canonical_reason().unwrap_or("error"));
        let mut response = warp::reply::with_status(body, status).into_response();
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        response
    }
}

/// The `Sec-WebSocket-Accept` value for a valid opening handshake (RFC 6455 §4.2.1: a
/// `Host`, `Upgrade: websocket`, `Connection: upgrade`, version 13, and a key that is 16
/// bytes in base64), or why it is not one.
fn accept_key(headers: &HeaderMap) -> Result<HeaderValue, Refusal> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err(Refusal::BadRequest(
            "a WebSocket upgrade is expected here (Upgrade: websocket, Connection: upgrade)",
        ));
    }
    if headers.get(header::HOST).is_none() {
        return Err(Refusal::BadRequest("the request has no Host header"));
    }
    match headers.get(header::SEC_WEBSOCKET_VERSION) {
        Some(version) if version.as_bytes() == b"13" => {}
        Some(_) => return Err(Refusal::UnsupportedVersion),
        None => return Err(Refusal::BadRequest("Sec-WebSocket-Version is missing")),
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(Refusal::BadRequest(
            "the request needs exactly one Sec-WebSocket-Key",
        ));
    };
    if !is_websocket_key(key.as_bytes()) {
        return Err(Refusal::BadRequest(
            "Sec-WebSocket-Key is not 16 bytes in base64",
        ));
    }
    HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| Refusal::BadRequest("Sec-WebSocket-Key is not valid"))
}

/// Whether `key` is 16 bytes in base64: 22 characters of the alphabet, the last of them
/// carrying no bits past the 128th, then `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let Some((chars, b"==")) = key.split_last_chunk::<2>() else {
        return false;
    };
    let values: Option<Vec<usize>> = chars
        .iter()
        .map(|byte| ALPHABET.iter().position(|a| a == byte))
        .collect();
    // 22 characters hold 132 bits: the last one's low 4 bits are padding and must be zero.
    values.is_some_and(|values| values.len() == 22 && values[21] & 0b1111 == 0)
}

/// tungstenite's settings for one connection: frames and messages up to the frame limit, and
/// a read buffer sized for chat messages instead of its bulk-transfer default (128 KiB,
/// zero-filled at the first read). A larger message still arrives: the buffer grows to the
/// frame's size while reading it.
///
/// The write buffer lets a batch of frames leave in one write (writing each frame on its own
/// would meet Nagle's algorithm and delayed ACKs); it is flushed at [`WRITE_BUFFER_BYTES`].
/// Its maximum bounds what a connection that does not read can make the relay hold: the
/// writer flushes before it adds a frame to a full buffer, so one frame (a `message` is at
/// most the frame limit plus its envelope) on top of a full buffer is the most it ever holds.
/// What the library adds on its own while reading (a pong for each ping) is dropped, not
/// buffered, beyond it: tungstenite's default maximum is unbounded, and a client that sent
/// pings without reading once made the relay grow by 60 MB/s.
fn websocket_config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(WRITE_BUFFER_BYTES + max_frame_bytes + ENVELOPE_BYTES)
        .max_frame_size(Some(max_frame_bytes))
        .max_message_size(Some(max_frame_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const VALID: [(&str, &str); 5] = [
        ("host", "relay.example"),
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn only_a_complete_version_13_handshake_with_a_real_key_is_accepted() {
        // RFC 6455's own example.
        assert_eq!(
            accept_key(&headers(&VALID)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        for missing in 0..VALID.len() {
            let mut partial = VALID.to_vec();
            partial.remove(missing);
            assert!(
                matches!(accept_key(&headers(&partial)), Err(Refusal::BadRequest(_))),
                "{partial:?}"
            );
        }
        let with = |name: &'static str, value: &'static str| {
            let mut changed = VALID.to_vec();
            changed.retain(|(key, _)| *key != name);
            changed.push((name, value));
            accept_key(&headers(&changed))
        };
        assert_eq!(
            with("sec-websocket-version", "8"),
            Err(Refusal::UnsupportedVersion)
        );
        assert!(with("upgrade", "h2c").is_err());
        for key in [
            "abc",
            "",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZR==",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "dGhlIHNhbXBsZSBub25jZQ===",
            "dGhlIHNhbXBsZSBub25j*Q==",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(with("sec-websocket-key", key).is_err(), "{key:?}");
        }
        assert!(with("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA==").is_ok());
        let mut two_keys = VALID.to_vec();
        two_keys.push(("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="));
        assert!(accept_key(&headers(&two_keys)).is_err());
    }

    #[test]
    fn refusals_name_the_version_the_relay_speaks() {
        for refusal in [Refusal::BadRequest("x"), Refusal::UnsupportedVersion] {
            let response = refusal.into_response();
            assert_eq!(response.headers()[header::SEC_WEBSOCKET_VERSION], "13");
        }
        assert_eq!(
            Refusal::UnsupportedVersion.into_response().status(),
            StatusCode::UPGRADE_REQUIRED
        );
    }

    #[test]
    fn the_write_buffer_is_bounded_above_one_full_buffer_and_one_message() {
        let config = websocket_config(64 * 1024);
        assert!(config.max_write_buffer_size < 1024 * 1024);
        assert!(config.max_write_buffer_size > config.write_buffer_size + 64 * 1024 + 1024);
    }
}
