//! The HTTP side: routes, the connection limit, and [`run`] with its graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Reply;

use crate::config::{PresenceMode, RelayConfig};
use crate::connection;
use crate::limits::LimitsError;
use crate::log::Logger;
use crate::shared::{Shared, expire_loop};

/// The read buffer of each WebSocket: most frames fit, and an idle connection keeps little.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Serves the relay on `listener` until `shutdown` completes, then shuts down gracefully:
/// stops accepting, closes every WebSocket with 1001 after writing what was queued for it
/// (at most [`Limits::shutdown_grace`](crate::Limits::shutdown_grace)), and returns.
///
/// With a [`Spool`](crate::Spool) in the config, the relay starts with the messages it
/// recovered, and a spool write failure shuts the relay down as above (it can no longer
/// promise durability); [`Spool::failure`](crate::Spool::failure) then says why.
///
/// The listener is bound by the caller, so tests bind `127.0.0.1:0` and the binary reports
/// bind errors itself. Limits that fail [`Limits::check`](crate::Limits::check) are refused
/// before anything is served.
pub async fn run(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LimitsError> {
    config.limits.check()?;
    let log = Logger::new(config.log_level);
    let grace = config.limits.shutdown_grace + config.limits.write_timeout;
    let local = listener
        .local_addr()
        .map_or_else(|_| "unknown".to_owned(), |addr| addr.to_string());
    log.info(
        "listening",
        &[
            ("addr", (&local).into()),
            (
                "presence",
                match config.presence {
                    PresenceMode::Watchers => "watchers",
                    PresenceMode::Broadcast => "broadcast",
                }
                .into(),
            ),
            (
                "max_frame_bytes",
                (config.limits.max_frame_bytes as u64).into(),
            ),
            (
                "max_connections",
                (config.limits.max_connections as u64).into(),
            ),
        ],
    );
    if config.allow_shared_secret {
        log.warn(
            "shared_secret_enabled",
            &[(
                "note",
                "anyone holding the shared secret can log in under any name".into(),
            )],
        );
    }

    let config_spool = config.spool.clone();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let shared = Arc::new(Shared::new(config, shutdown_rx, alive_tx));
    if let Some(spool) = &shared.config.spool {
        let (messages, bytes) = shared.registry.queue_totals();
        log.info(
            "spool",
            &[
                ("dir", (&spool.dir().display().to_string()).into()),
                ("recovered_messages", (messages as u64).into()),
                ("recovered_bytes", (bytes as u64).into()),
            ],
        );
    }

    // The receiver is held by warp's accept loop, which stops accepting when it fires.
    let (stop_accepting, stop_accepting_rx) = oneshot::channel::<()>();
    let server = warp::serve(routes(Arc::clone(&shared)))
        .incoming(listener)
        .graceful(async {
            let _ = stop_accepting_rx.await;
        })
        .run();
    let server = tokio::spawn(server);
    // Ends at shutdown, so it does not keep `Shared` alive past the connections.
    let expiry = tokio::spawn(expire_loop(Arc::clone(&shared)));
    // From here on only the routes, the connections and the expiry task hold `Shared`.
    drop(shared);

    let spool = config_spool;
    let spool_failed = async {
        match &spool {
            Some(spool) => spool.failed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = spool_failed => {
            let error = spool.as_ref().and_then(crate::Spool::failure).unwrap_or_default();
            log.warn("spool_failed", &[("error", (&error).into())]);
        }
    }
    log.info("shutdown", &[("phase", "begin".into())]);
    let _ = stop_accepting.send(());
    // Every connection sees this and closes with 1001 after writing what is queued.
    let _ = shutdown_tx.send(true);
    let finished = async {
        // The accept loop ends once in-flight HTTP requests are answered, dropping the routes'
        // `Shared`; then the channel closes when the last connection drops its own.
        let _ = server.await;
        let _ = expiry.await;
        let _ = alive_rx.recv().await;
    };
    let phase = match tokio::time::timeout(grace, finished).await {
        Ok(()) => "complete",
        Err(_) => "grace_expired",
    };
    // The last `done` records (acks, deliveries) reach the disk before the process ends.
    if let Some(spool) = &spool {
        spool.sync().await;
    }
    log.info("shutdown", &[("phase", phase.into())]);
    Ok(())
}

fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
    let with_shared = {
        let shared = Arc::clone(&shared);
        warp::any().map(move || Arc::clone(&shared))
    };

    // v0.2.0: {"status":"ok","connected":N}, the number of names online and never the names.
    let status = warp::path!("status")
        .and(warp::get())
        .and(with_shared.clone())
        .map(|shared: Arc<Shared>| {
            warp::reply::json(&serde_json::json!({
                "status": "ok",
                "connected": shared.registry.users_online(),
            }))
        });

    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::with_header("ok\n", "content-type", "text/plain; charset=utf-8"));

    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_shared.clone())
        .map(|shared: Arc<Shared>| {
            warp::reply::with_header(
                shared.metrics.render(
                    shared.registry.users_online(),
                    shared.registry.queue_totals(),
                ),
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
        });

    // The WebSocket upgrade, done here rather than with warp's `ws()` filter: warp 0.4 offers
    // no way to set tungstenite's read buffer, whose default (128 KiB, zero-filled on the first
    // read) would cost every idle connection 128 KiB of resident memory.
    let ws = warp::path!("ws")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::addr::remote())
        .and(with_shared)
        .map(
            |headers: HeaderMap,
             on_upgrade: Option<hyper::upgrade::OnUpgrade>,
             peer: Option<SocketAddr>,
             shared: Arc<Shared>| {
                let (Some(key), Some(on_upgrade)) = (websocket_key(&headers), on_upgrade) else {
                    return warp::reply::with_status(
                        "Bad Request: a WebSocket upgrade is expected here\n",
                        StatusCode::BAD_REQUEST,
                    )
                    .into_response();
                };
                // Taken before the upgrade completes, so the limit holds however many
                // handshakes race; a refused client still gets a frame saying why.
                let permit = Arc::clone(&shared.connections).try_acquire_owned().ok();
                let config = websocket_config(shared.config.limits.max_frame_bytes);
                tokio::spawn(async move {
                    // The client may give up between the 101 and the upgrade: nothing to do.
                    let Ok(upgraded) = on_upgrade.await else {
                        return;
                    };
                    // The TCP stream itself, to turn Nagle's algorithm off: a chat message is
                    // one small write, and waiting for the peer's delayed ACK added up to 40 ms.
                    match hyper_util::server::conn::auto::upgrade::downcast::<TokioIo<TcpStream>>(
                        upgraded,
                    ) {
                        Ok(parts) => {
                            let stream = parts.io.into_inner();
                            let _ = stream.set_nodelay(true);
                            // Bytes the client sent right behind its upgrade request (a
                            // client may pipeline its `auth`). Copied and released at once:
                            // `read_buf` shares hyper's 8 KiB read buffer, which would
                            // otherwise stay allocated for the life of the connection.
                            let pipelined = parts.read_buf.to_vec();
                            drop(parts.read_buf);
                            let socket = WebSocketStream::from_partially_read(
                                stream,
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
                    warp::reply::with_status(warp::reply(), StatusCode::SWITCHING_PROTOCOLS)
                        .into_response();
                let headers = response.headers_mut();
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
                    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
                }
                response
            },
        );

    status.or(healthz).or(metrics).or(ws).recover(not_found)
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

/// The `Sec-WebSocket-Key` of a valid upgrade request (RFC 6455 §4.2.1: `Upgrade:
/// websocket`, `Connection: upgrade`, version 13), or `None`.
fn websocket_key(headers: &HeaderMap) -> Option<&HeaderValue> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|text| {
                text.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    let version_13 = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|version| version.as_bytes() == b"13");
    (has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade")
        && version_13)
        .then(|| headers.get(header::SEC_WEBSOCKET_KEY))
        .flatten()
}

/// tungstenite's settings for one connection: frames and messages up to the frame limit, and
/// a read buffer sized for chat messages instead of its bulk-transfer default (128 KiB,
/// zero-filled at the first read). A larger message still arrives: the buffer grows to the
/// frame's size while reading it. The write buffer keeps its default: it is an empty `Vec`
/// that grows with what one flush sends, and it lets a batch of frames leave in one write
/// (writing each frame on its own would meet Nagle's algorithm and delayed ACKs).
fn websocket_config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(Some(max_frame_bytes))
        .max_message_size(Some(max_frame_bytes))
}

/// Every other request: a plain 404 (a `GET /ws` without upgrade headers: 400).
async fn not_found(rejection: warp::Rejection) -> Result<impl Reply, Infallible> {
    let status = if rejection.is_not_found() {
        StatusCode::NOT_FOUND
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(warp::reply::with_status(
        status.canonical_reason().unwrap_or("error").to_owned() + "\n",
        status,
    ))
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

    #[test]
    fn only_a_complete_version_13_upgrade_is_a_websocket_handshake() {
        let valid = [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert_eq!(
            websocket_key(&headers(&valid)).unwrap(),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        for missing in 0..valid.len() {
            let mut partial = valid.to_vec();
            partial.remove(missing);
            assert!(websocket_key(&headers(&partial)).is_none(), "{partial:?}");
        }
        let mut old_version = valid.to_vec();
        old_version[2] = ("sec-websocket-version", "8");
        assert!(websocket_key(&headers(&old_version)).is_none());
        let mut h2c = valid.to_vec();
        h2c[0] = ("upgrade", "h2c");
        assert!(websocket_key(&headers(&h2c)).is_none());
    }
}
