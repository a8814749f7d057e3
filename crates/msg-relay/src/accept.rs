//! The accept loop: each TCP connection holds a place in the connection limit from the moment
//! it is accepted until it closes, and has [`Limits::handshake_timeout`] to become a
//! WebSocket.
//!
//! warp's own accept loop counted nothing before the upgrade and had no deadline: 1,100
//! connections that sent nothing (or their request one byte a second) exhausted the file
//! descriptors, and real logins and `/healthz` timed out. Here a connection first takes a
//! permit of the connection semaphore; the WebSocket route takes that permit over
//! ([`Slot::take`]) and the socket keeps it for its whole life, while a plain HTTP connection
//! gives it back when it closes. A connection still not upgraded at its deadline is closed.
//!
//! When every place is taken, a few connections more ([`OVERFLOW_CONNECTIONS`], each for at
//! most [`OVERFLOW_DEADLINE`]) are still served, so that a WebSocket client learns why it is
//! refused (`too_many_connections`, close 1013) and `/healthz` answers; beyond those the
//! connection is closed at once.
//!
//! [`Limits::handshake_timeout`]: crate::Limits::handshake_timeout

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::filters::BoxedFilter;
use warp::http::Request;
use warp::reply::Response;

use crate::protocol::ErrorCode;
use crate::shared::Shared;

/// Connections served beyond the connection limit, only to be refused.
pub(crate) const OVERFLOW_CONNECTIONS: usize = 64;

/// How long a connection beyond the limit is served.
pub(crate) const OVERFLOW_DEADLINE: Duration = Duration::from_secs(2);

/// How long the loop waits after a failed `accept` (out of file descriptors, say) before it
/// tries again, instead of spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The most an HTTP connection buffers of a request before it is upgraded: the upgrade
/// request is a few hundred bytes, and hyper's default (about 400 KiB) would let each slow
/// connection hold that much.
const HTTP_BUFFER_BYTES: usize = 16 * 1024;

/// The routes, as the accept loop serves them.
pub(crate) type Routes = BoxedFilter<(Response,)>;

/// A connection's place in the connection limit, in each of its requests' extensions: the
/// WebSocket route takes it over; otherwise it is given back when the connection closes.
/// `None` inside for a connection beyond the limit.
#[derive(Clone)]
pub(crate) struct Slot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl Slot {
    /// The permit, for the one request that becomes a WebSocket.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        // Nothing panics while holding this lock; a poisoned one still holds a valid Option.
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The address a connection came from, in each of its requests' extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// Accepts connections on `listener` and serves `routes` on each until the relay shuts down.
pub(crate) async fn accept_loop(listener: TcpListener, routes: Routes, shared: Arc<Shared>) {
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let handshake_timeout = shared.config.limits.handshake_timeout;
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            // The watch guard is dropped inside: it must not live across an await.
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                shared
                    .log
                    .warn("accept_failed", &[("error", (&err.to_string()).into())]);
                tokio::select! {
                    () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        let (place, deadline) = match Arc::clone(&shared.connections).try_acquire_owned() {
            Ok(permit) => (Place::Slot(permit), handshake_timeout),
            Err(_) => match Arc::clone(&overflow).try_acquire_owned() {
                Ok(permit) => (
                    Place::Overflow(permit),
                    OVERFLOW_DEADLINE.min(handshake_timeout),
                ),
                Err(_) => {
                    shared.metrics.rejected(ErrorCode::TooManyConnections);
                    drop(stream);
                    continue;
                }
            },
        };
        tokio::spawn(serve_http(
            stream,
            peer,
            place,
            deadline,
            routes.clone(),
            Arc::clone(&shared),
        ));
    }
}

/// What a connection holds while it is served.
enum Place {
    /// A place in the connection limit.
    Slot(OwnedSemaphorePermit),
    /// One of the places beyond it, for refusing.
    Overflow(OwnedSemaphorePermit),
}

/// Serves HTTP on one connection until it closes, is upgraded, or reaches `deadline`.
async fn serve_http(
    stream: TcpStream,
    peer: SocketAddr,
    place: Place,
    deadline: Duration,
    routes: Routes,
    shared: Arc<Shared>,
) {
    // A chat message is one small write, and waiting for the peer's delayed ACK (Nagle's
    // algorithm) added up to 40 ms.
    let _ = stream.set_nodelay(true);
    let (slot, _overflow) = match place {
        Place::Slot(permit) => (Slot(Arc::new(Mutex::new(Some(permit)))), None),
        Place::Overflow(permit) => (Slot(Arc::new(Mutex::new(None))), Some(permit)),
    };
    shared.metrics.http_connection_opened();
    let routes = TowerToHyperService::new(warp::service(routes));
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(slot.clone());
        request.extensions_mut().insert(Peer(peer));
        hyper::service::Service::call(&routes, request)
    });
    let connection = http1::Builder::new()
        .max_buf_size(HTTP_BUFFER_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut shutdown = shared.shutdown.clone();
    let timer = tokio::time::sleep(deadline);
    tokio::pin!(timer);
    tokio::select! {
        // Closed, or upgraded: the WebSocket task has the socket (and the slot) now.
        _ = &mut connection => {}
        () = &mut timer => {
            // Dropping the connection closes the socket.
            shared.metrics.handshake_timed_out();
        }
        () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
            // Finish the request in progress, within what is left of the deadline.
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = &mut connection => {}
                () = &mut timer => {}
            }
        }
    }
    shared.metrics.http_connection_closed();
}
