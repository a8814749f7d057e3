//! The HTTP side: [`run`] with its graceful shutdown, and the routes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use warp::Filter;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Reply;

use crate::accept::{Peer, Routes, Slot, accept_loop};
use crate::admin;
use crate::broker::Broker;
use crate::broker::redis::node::RedisNode;
use crate::broker::redis::store::{RedisSettings, RedisStore};
use crate::config::{PresenceMode, RelayConfig};
use crate::limits::LimitsError;
use crate::log::Logger;
use crate::registry::Registry;
use crate::shared::{Shared, broker_loop};
use crate::upgrade;

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
    let (broker, events) = match &config.redis {
        None => {
            let registry = Registry::new(config.presence, &config.limits, config.spool.clone());
            (Broker::Local(registry), None)
        }
        Some(engine) => {
            let broadcast = config.presence == PresenceMode::Broadcast;
            let settings = RedisSettings::new(&config.limits, broadcast);
            let (store, events) = RedisStore::start(engine, settings, shutdown_rx.clone()).await;
            log.info(
                "redis",
                &[("url", engine.url().into()), ("node", store.node().into())],
            );
            let node = RedisNode::new(
                store,
                config.limits.max_watches,
                config.limits.outbound_queue_frames,
            );
            (Broker::Redis(node), Some(events))
        }
    };
    let shared = Arc::new(Shared::new(config, broker, shutdown_rx, alive_tx));
    if let Some(spool) = &shared.config.spool {
        let (messages, bytes) = shared.broker.queue_totals();
        log.info(
            "spool",
            &[
                ("dir", (&spool.dir().display().to_string()).into()),
                ("recovered_messages", (messages as u64).into()),
                ("recovered_bytes", (bytes as u64).into()),
            ],
        );
    }

    // Ends at shutdown (it watches the same signal as every connection).
    let server = tokio::spawn(accept_loop(
        listener,
        routes(Arc::clone(&shared)),
        Arc::clone(&shared),
    ));
    // Ends at shutdown, so it does not keep `Shared` alive past the connections.
    let expiry = tokio::spawn(broker_loop(Arc::clone(&shared), events));
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
    // The accept loop stops, HTTP connections finish their request, and every WebSocket
    // closes with 1001 after writing what is queued.
    let _ = shutdown_tx.send(true);
    let finished = async {
        // The channel closes when the last connection (HTTP or WebSocket) drops its
        // `Shared`.
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

/// `GET` (and `HEAD`) `/status`, `/healthz`, `/metrics` and `/ws`, `POST /admin/revoke`;
/// anything else 404.
fn routes(shared: Arc<Shared>) -> Routes {
    let with_shared = {
        let shared = Arc::clone(&shared);
        warp::any().map(move || Arc::clone(&shared))
    };
    // HEAD gets the headers of GET and no body (hyper leaves it out).
    let get_or_head = || warp::get().or(warp::head()).unify();

    // v0.2.0: {"status":"ok","connected":N}, the number of names online and never the names.
    let status = warp::path!("status")
        .and(get_or_head())
        .and(with_shared.clone())
        .map(|shared: Arc<Shared>| {
            warp::reply::json(&serde_json::json!({
                "status": "ok",
                "connected": shared.broker.users_online(),
            }))
            .into_response()
        });

    let healthz = warp::path!("healthz").and(get_or_head()).map(|| {
        warp::reply::with_header("ok\n", "content-type", "text/plain; charset=utf-8")
            .into_response()
    });

    let metrics = warp::path!("metrics")
        .and(get_or_head())
        .and(with_shared.clone())
        .map(|shared: Arc<Shared>| {
            warp::reply::with_header(
                shared
                    .metrics
                    .render(shared.broker.users_online(), shared.broker.queue_totals()),
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .into_response()
        });

    // The operator's revocation of one name's tokens (`msg-relay token --revoke`).
    let revoke = warp::path!("admin" / "revoke")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::content_length_limit(admin::MAX_BODY_BYTES))
        .and(warp::body::bytes())
        .and(with_shared.clone())
        .then(
            |authorization: Option<String>, body: hyper::body::Bytes, shared: Arc<Shared>| {
                admin::revoke(shared, authorization, body)
            },
        );

    let ws = warp::path!("ws")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .and(warp::ext::optional::<Slot>())
        .and(warp::ext::optional::<Peer>())
        .and(with_shared)
        .map(
            |headers: HeaderMap,
             on_upgrade: Option<hyper::upgrade::OnUpgrade>,
             slot: Option<Slot>,
             peer: Option<Peer>,
             shared: Arc<Shared>| {
                let peer: Option<SocketAddr> = peer.map(|Peer(addr)| addr);
                upgrade::websocket(&headers, on_upgrade, slot, peer, shared)
            },
        );

    status
        .or(healthz)
        .unify()
        .or(metrics)
        .unify()
        .or(revoke)
        .unify()
        .or(ws)
        .unify()
        .recover(not_found)
        .unify()
        .boxed()
}

/// Every other request: a plain 404 (a method other than GET or HEAD on a route: 405).
async fn not_found(rejection: warp::Rejection) -> Result<warp::reply::Response, Infallible> {
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
    )
    .into_response())
}
