//! One WebSocket connection: a reader that handles the client's frames and a writer that
//! drains the connection's outbox into the socket, joined in one task.
//!
//! The reader never writes to the socket and nobody else waits for the writer: replies,
//! messages and presence are pushed to the bounded [`Outbox`], so a client that stops
//! reading fills only its own queue and is then disconnected (`slow_consumer`). Both halves
//! watch the connection's [`Closer`]; whichever side ends the connection sets the reason,
//! and the writer sends the matching `error` and close frames within the write timeout.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;

use crate::broker::{BrokerError, LoginFailure};
use crate::config::LegacyDelivery;
use crate::protocol::fast::{self, HotFrame, SendFields};
use crate::protocol::{AckStatus, ClientFrame, ErrorCode, QueueLimit, ServerFrame, close};
use crate::rate::RateLimiter;
use crate::registry::{Kicked, SendOutcome};
use crate::session::{
    CloseReason, Closer, ConnId, Outbox, Outgoing, Push, QueuedAt, SessionHandle, close_message,
};
use crate::shared::Shared;
use crate::token::{MAX_USERNAME_BYTES, UsernameError, validate_username};

/// Statuses are short words (`online`, `busy`, `away`, `focusing`).
const MAX_STATUS_BYTES: usize = 64;
/// Message IDs are short (the clients' are about 30 bytes); the dedupe window keeps them.
const MAX_ID_BYTES: usize = 128;

/// Frames a connection handles in a row when they are already read, before it looks at its
/// timers again.
const READY_FRAMES: usize = 32;
/// Frames the writer sends in one batch before it flushes.
const WRITE_BATCH: usize = 64;
/// What a client refused because the relay's store is not answering is told to wait.
const UNAVAILABLE_RETRY_AFTER_MS: u64 = 1_000;
/// How many earlier token generations a refused login is compared with, to say
/// `token_revoked` rather than `auth_failed`.
const REVOKED_GENERATIONS_RECOGNISED: u32 = 8;
/// What a client refused for a full relay is told to wait.
const FULL_RETRY_AFTER_MS: u64 = 5_000;

/// An upgraded connection: tungstenite over the connection's TCP stream (or, should hyper
/// not hand that back, its upgraded I/O); see `server.rs` for why the relay upgrades itself.
pub(crate) type WebSocket<S> = tokio_tungstenite::WebSocketStream<S>;

/// Whether the reader goes on after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

struct Connection {
    id: ConnId,
    shared: Arc<Shared>,
    outbox: Outbox,
    closer: Closer,
    /// The authenticated name, once `auth` succeeded: one allocation per login, shared by
    /// every message of this sender that waits in a queue.
    user: Option<Arc<str>>,
    /// The frame rate of text and binary frames: over it, a frame is refused with
    /// `rate_limited` and the connection goes on.
    limiter: RateLimiter,
    /// The same rate for control frames (pings and pongs), kept apart so that a client's
    /// keepalive ping never competes with its messages. Over it the connection is closed:
    /// the WebSocket library answers every ping with a pong, so a ping cannot be refused,
    /// and no client has a reason to ping faster.
    control_limiter: RateLimiter,
    /// When the frame being handled arrived.
    frame_time: Instant,
}

/// Serves an accepted WebSocket until it closes. `permit` is this connection's place in the
/// connection limit, released when this returns.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    socket: WebSocket<S>,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
    peer: Option<SocketAddr>,
) {
    let (sink, stream) = socket.split();
    serve_halves(stream, sink, shared, permit, peer).await;
}

/// [`serve`] over any stream and sink of WebSocket messages: the socket's halves, or
/// channels in the unit tests below (which run on a paused clock without any I/O).
async fn serve_halves<R, W, E>(
    stream: R,
    sink: W,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
    peer: Option<SocketAddr>,
) where
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::error::Error + 'static,
    W: Sink<Message> + Unpin,
{
    let id = shared.next_conn_id();
    let limits = shared.config.limits.clone();
    shared.metrics.connection_opened();
    let peer = peer.map_or_else(|| "unknown".to_owned(), |addr| addr.to_string());
    shared
        .log
        .info("connect", &[("conn", id.into()), ("peer", (&peer).into())]);

    let (outbox, frames, queued_bytes) =
        Outbox::new(limits.outbound_queue_frames, limits.outbound_queue_bytes);
    let closer = Closer::new();
    // Both receivers exist before anything can close the connection, so neither misses it.
    let reader_closed = closer.subscribe();
    let writer_closed = closer.subscribe();

    let mut connection = Connection {
        id,
        shared: Arc::clone(&shared),
        outbox,
        closer: closer.clone(),
        user: None,
        limiter: RateLimiter::new(limits.messages_per_second, limits.burst, Instant::now()),
        control_limiter: RateLimiter::new(limits.messages_per_second, limits.burst, Instant::now()),
        frame_time: Instant::now(),
    };
    let writer = write_loop(
        sink,
        frames,
        queued_bytes,
        closer.clone(),
        writer_closed,
        Arc::clone(&shared),
    );
    let ((), ()) = tokio::join!(connection.read_loop(stream, reader_closed), writer);

    // The slot is free before the gauge says so: whoever sees the gauge drop can connect.
    drop(permit);
    shared.metrics.connection_closed();
    let reason = closer
        .subscribe()
        .borrow()
        .as_ref()
        .map_or("closed", |reason| reason.label);
    shared.log.info(
        "disconnect",
        &[("conn", id.into()), ("reason", reason.into())],
    );
}

/// Answers a connection beyond the connection limit and closes it.
pub(crate) async fn refuse_full<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: WebSocket<S>,
    shared: Arc<Shared>,
) {
    shared.metrics.rejected(ErrorCode::TooManyConnections);
    shared.log.warn(
        "refused",
        &[("reason", ErrorCode::TooManyConnections.as_str().into())],
    );
    let frame = ServerFrame::Error {
        code: ErrorCode::TooManyConnections,
        message: "The relay holds as many connections as it may; try again later".to_owned(),
        retry_after_ms: Some(FULL_RETRY_AFTER_MS),
        id: None,
        max_bytes: None,
        to: None,
        limit: None,
    };
    let refuse = async {
        socket.feed(Message::text(frame.to_json())).await?;
        socket
            .feed(close_message(close::TRY_AGAIN_LATER, "relay full"))
            .await?;
        SinkExt::close(&mut socket).await
    };
    // Best effort: the client may already be gone.
    let _ = tokio::time::timeout(shared.config.limits.write_timeout, refuse).await;
}

impl Connection {
    async fn read_loop<R, E>(
        &mut self,
        mut stream: R,
        mut closed: watch::Receiver<Option<CloseReason>>,
    ) where
        R: Stream<Item = Result<Message, E>> + Unpin,
        E: std::error::Error + 'static,
    {
        let limits = self.shared.config.limits.clone();
        let mut shutdown = self.shared.shutdown.clone();
        let start = Instant::now();
        let auth_deadline = tokio::time::sleep_until(start + limits.auth_timeout);
        tokio::pin!(auth_deadline);
        let mut heartbeat =
            tokio::time::interval_at(start + limits.heartbeat_interval, limits.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = start;

        loop {
            tokio::select! {
                // Closing wins over more input: once a reason is set, nothing else is read.
                biased;
                _ = closed.changed() => break,
                // Also ends the connection if `run` went away without signalling.
                // The watch guard is dropped inside: it must not live across the awaits in
                // the frame handlers (it is not `Send`).
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                    self.closer.close(CloseReason::going_away());
                    break;
                }
                () = &mut auth_deadline, if self.user.is_none() => {
                    // An `auth` may have arrived in time and not been read yet (the relay was
                    // stopped or busy): what is already there is read first. Yielding once
                    // lets the runtime poll the socket's readiness, which the timer can
                    // otherwise beat after a pause.
                    tokio::task::yield_now().await;
                    let mut flow = Flow::Continue;
                    for _ in 0..READY_FRAMES {
                        if flow == Flow::Stop || self.user.is_some() {
                            break;
                        }
                        let Some(item) = stream.next().now_or_never() else {
                            break;
                        };
                        flow = self.on_item(item, &mut last_heard).await;
                    }
                    if flow == Flow::Stop {
                        break;
                    }
                    if self.user.is_some() {
                        continue;
                    }
                    self.refuse(
                        ErrorCode::AuthTimeout,
                        format!(
                            "No successful auth within {} s; this connection is closed",
                            limits.auth_timeout.as_secs_f64()
                        ),
                        close::POLICY,
                        "authentication timeout",
                    );
                    break;
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= limits.idle_timeout {
                        self.refuse(
                            ErrorCode::IdleTimeout,
                            "Nothing received within the idle timeout; this connection is closed",
                            close::POLICY,
                            "idle timeout",
                        );
                        break;
                    }
                    // A client's WebSocket library answers with a pong, which counts as
                    // hearing from it.
                    if self.push(Message::Ping(Default::default())) == Flow::Stop {
                        break;
                    }
                }
                item = stream.next() => {
                    let mut flow = self.on_item(item, &mut last_heard).await;
                    // Frames that are already read (a client writes several at once) are
                    // handled without going back through the `select!`, whose other branches
                    // register and drop waiters on every pass. Closing and shutdown still win:
                    // they are checked before each further frame.
                    let mut more = 0;
                    while flow == Flow::Continue
                        && more < READY_FRAMES
                        && !closed.has_changed().unwrap_or(true)
                        && !shutdown.has_changed().unwrap_or(true)
                    {
                        let Some(item) = stream.next().now_or_never() else {
                            break;
                        };
                        flow = self.on_item(item, &mut last_heard).await;
                        more += 1;
                    }
                    if flow == Flow::Stop {
                        break;
                    }
                }
            }
        }
        // Leave the registry before the writer drains, so nothing new is routed here.
        self.logout().await;
    }

    /// One item of the WebSocket stream: a message, its end, or a read error.
    async fn on_item<E>(
        &mut self,
        item: Option<Result<Message, E>>,
        last_heard: &mut Instant,
    ) -> Flow
    where
        E: std::error::Error + 'static,
    {
        match item {
            None => {
                self.closer.close(CloseReason::peer_gone("peer_gone"));
                Flow::Stop
            }
            Some(Err(err)) => {
                self.read_error(&err);
                Flow::Stop
            }
            Some(Ok(message)) => {
                // One clock reading per frame: the rate limit and the queues use it.
                *last_heard = Instant::now();
                self.frame_time = *last_heard;
                self.on_message(message).await
            }
        }
    }

    fn read_error(&mut self, err: &(dyn std::error::Error + 'static)) {
        // warp wraps tungstenite's error; look at it and at its source.
        let tungstenite_error = err
            .downcast_ref::<tungstenite::Error>()
            .or_else(|| err.source()?.downcast_ref::<tungstenite::Error>());
        let (size, max_size) = match tungstenite_error {
            Some(tungstenite::Error::Capacity(
                tungstenite::error::CapacityError::MessageTooLong { size, max_size },
            )) => (*size, *max_size),
            // The peer went away without a close frame: nothing to answer.
            Some(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )) => {
                self.closer.close(CloseReason::peer_gone("peer_gone"));
                return;
            }
            // RFC 6455 §7.1.7: fail the connection with the code that says why.
            Some(tungstenite::Error::Protocol(violation)) => {
                self.protocol_failure(
                    "protocol_error",
                    &violation.to_string(),
                    close::PROTOCOL_ERROR,
                    "protocol error",
                );
                return;
            }
            Some(tungstenite::Error::Utf8(reason)) => {
                self.protocol_failure(
                    "invalid_utf8",
                    reason,
                    close::INVALID_PAYLOAD,
                    "invalid UTF-8",
                );
                return;
            }
            _ => {
                self.closer.close(CloseReason::peer_gone("read_error"));
                return;
            }
        };
        self.shared.metrics.rejected(ErrorCode::FrameTooLarge);
        self.shared.log.warn(
            "refused",
            &[
                ("conn", self.id.into()),
                ("reason", ErrorCode::FrameTooLarge.as_str().into()),
                ("bytes", (size as u64).into()),
            ],
        );
        // The rest of the oversized frame is still in the stream and cannot be skipped, so
        // the connection ends; the client learns why instead of being dropped silently.
        self.closer.close(CloseReason {
            label: ErrorCode::FrameTooLarge.as_str(),
            error: Some(ServerFrame::Error {
                code: ErrorCode::FrameTooLarge,
                message: format!(
                    "Frame of {size} bytes is larger than the limit of {max_size} bytes; \
                     it was not delivered and this connection is closed"
                ),
                retry_after_ms: None,
                id: None,
                max_bytes: Some(max_size),
                to: None,
                limit: None,
            }),
            close: Some((close::TOO_BIG, "frame too large")),
            drain: false,
        });
    }

    /// Closes the connection after a frame that breaks the WebSocket protocol: a close frame
    /// with `code`, no `error` frame (the client's WebSocket library is at fault, not its
    /// JSON).
    fn protocol_failure(
        &mut self,
        label: &'static str,
        detail: &str,
        code: u16,
        reason: &'static str,
    ) {
        self.shared.log.warn(
            label,
            &[("conn", self.id.into()), ("detail", detail.into())],
        );
        self.closer.close(CloseReason {
            label,
            error: None,
            close: Some((code, reason)),
            drain: false,
        });
    }

    async fn on_message(&mut self, message: Message) -> Flow {
        if message.is_close() {
            self.closer.close(CloseReason::peer_gone("peer_closed"));
            return Flow::Stop;
        }
        if message.is_ping() || message.is_pong() {
            // The WebSocket library answers pings itself; either counts as a sign of life,
            // within the rate (a flood of pings once kept the relay writing pongs).
            if self.control_limiter.try_take(self.frame_time).is_err() {
                let limits = &self.shared.config.limits;
                let text = format!(
                    "Too many WebSocket pings or pongs: at most {} per second (bursts of {}); \
                     this connection is closed",
                    limits.messages_per_second, limits.burst
                );
                self.refuse(ErrorCode::RateLimited, text, close::POLICY, "ping flood");
                return Flow::Stop;
            }
            return Flow::Continue;
        }
        self.shared.metrics.frame_in();
        if let Err(wait) = self.limiter.try_take(self.frame_time) {
            let retry_after_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            return self.reply_error(ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: format!(
                    "Too many frames: at most {} per second (bursts of {}); this frame was dropped",
                    self.shared.config.limits.messages_per_second, self.shared.config.limits.burst
                ),
                retry_after_ms: Some(retry_after_ms),
                id: None,
                max_bytes: None,
                to: None,
                limit: None,
            });
        }
        let Message::Text(text) = &message else {
            return self.reject(
                ErrorCode::BinaryNotSupported,
                "Binary frames are not supported; send JSON text",
            );
        };
        // The two frames a busy relay reads most, without serde; anything else (or anything
        // unusual in them) goes to serde, which has the last word on what a frame is.
        match fast::parse_hot(text) {
            Some(HotFrame::Send(fields)) => return self.on_send_fields(fields).await,
            Some(HotFrame::Ack { id, from }) => {
                return self.on_ack(&id, from.as_deref()).await;
            }
            None => {}
        }
        match ClientFrame::parse(text) {
            Err(err) => self.reject(err.code(), err.to_string()),
            Ok(frame) => self.on_frame(frame).await,
        }
    }

    async fn on_ack(&mut self, id: &str, from: Option<&str>) -> Flow {
        let Some(user) = self.user.clone() else {
            return self.auth_required();
        };
        match self.shared.broker.ack(self.id, &user, from, id).await {
            Ok(removed) => self.shared.metrics.messages_acked(removed),
            // Not removed: the message comes again at the next login, and is acknowledged
            // then (at-least-once). Nothing to tell the client.
            Err(err) => self.shared.log_broker_error(&err),
        }
        Flow::Continue
    }

    /// A `send`: checks its `id` (or generates one), writes the `message` frame and routes it.
    async fn on_send_fields(&mut self, fields: SendFields<'_>) -> Flow {
        let Some(from) = self.user.clone() else {
            return self.auth_required();
        };
        let id: Cow<'_, str> = match fields.id.filter(|id| !id.is_empty()) {
            Some(id) => {
                if id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
                    return self.reject(
                        ErrorCode::InvalidFrame,
                        format!(
                            "A message id is at most {MAX_ID_BYTES} bytes without line \
                             breaks or control characters"
                        ),
                    );
                }
                id
            }
            None => Cow::Owned(self.shared.generate_id()),
        };
        let to = fields.to.unwrap_or_default();
        if to.is_empty() {
            return self.reply_error(ServerFrame::Error {
                code: ErrorCode::RecipientRequired,
                message: "send needs a recipient in `to`".to_owned(),
                retry_after_ms: None,
                id: Some(id.into_owned()),
                max_bytes: None,
                to: None,
                limit: None,
            });
        }
        // A name nobody can log in as would wait in a queue for nobody until it expires.
        // The name itself is not repeated: it may be the size of a frame.
        if validate_username(&to).is_err() {
            return self.reply_error(ServerFrame::Error {
                code: ErrorCode::InvalidRecipient,
                message: format!(
                    "`to` must be a user name: one line, not only whitespace, no control \
                     characters, at most {MAX_USERNAME_BYTES} bytes; the message was not \
                     accepted"
                ),
                retry_after_ms: None,
                id: Some(id.into_owned()),
                max_bytes: None,
                to: None,
                limit: None,
            });
        }
        let write = |timestamp: &str| {
            fast::message_json(
                &from,
                &to,
                fields.content.as_deref().unwrap_or_default(),
                &id,
                fields.thread.as_deref(),
                fields.reply_to.as_deref(),
                timestamp,
            )
        };
        let json = match fields.timestamp.as_deref() {
            Some(timestamp) => write(timestamp),
            None => with_local_timestamp(write),
        };
        self.on_send(&from, &to, &id, Message::text(json)).await
    }

    async fn on_frame(&mut self, frame: ClientFrame) -> Flow {
        match frame {
            ClientFrame::Auth {
                username,
                token,
                secret,
                acks,
                receipts,
            } => {
                self.on_auth(
                    username.unwrap_or_default(),
                    token,
                    secret,
                    acks.unwrap_or(false),
                    receipts.unwrap_or(false),
                )
                .await
            }
            ClientFrame::Send {
                to,
                content,
                id,
                thread,
                reply_to,
                timestamp,
            } => {
                self.on_send_fields(SendFields {
                    to: to.map(Cow::Owned),
                    content: content.map(Cow::Owned),
                    id: id.map(Cow::Owned),
                    thread: thread.map(Cow::Owned),
                    reply_to: reply_to.map(Cow::Owned),
                    timestamp: timestamp.map(Cow::Owned),
                })
                .await
            }
            ClientFrame::Ack { id, from } => self.on_ack(&id, from.as_deref()).await,
            ClientFrame::StatusChange { status } => {
                if self.user.is_none() {
                    return self.auth_required();
                }
                let status = status.unwrap_or_else(|| "online".to_owned());
                if status.trim().is_empty()
                    || status.len() > MAX_STATUS_BYTES
                    || status.chars().any(char::is_control)
                {
                    return self.reject(
                        ErrorCode::InvalidStatus,
                        format!(
                            "A status is a non-empty word of at most {MAX_STATUS_BYTES} bytes \
                             without control characters"
                        ),
                    );
                }
                match self.shared.broker.set_status(self.id, &status).await {
                    Ok(kicked) => {
                        self.log_kicked(&kicked);
                        Flow::Continue
                    }
                    Err(err) => self.unavailable(&err, None, None),
                }
            }
            ClientFrame::Watch { users } => {
                if self.user.is_none() {
                    return self.auth_required();
                }
                match self.shared.broker.watch(self.id, &users).await {
                    Err(err) => self.unavailable(&err, None, None),
                    Ok(Ok(kicked)) => {
                        self.log_kicked(&kicked);
                        Flow::Continue
                    }
                    Ok(Err(code)) => self.reject(
                        code,
                        format!(
                            "A connection may watch at most {} users",
                            self.shared.config.limits.max_watches
                        ),
                    ),
                }
            }
            ClientFrame::Unwatch { users } => {
                if self.user.is_none() {
                    return self.auth_required();
                }
                match self.shared.broker.unwatch(self.id, &users).await {
                    Ok(()) => Flow::Continue,
                    Err(err) => self.unavailable(&err, None, None),
                }
            }
            // Answered before authentication too, as v0.2.0 did: it costs nothing, the rate
            // limit applies, and the auth timeout still closes an unauthenticated socket.
            ClientFrame::Ping {} => self.reply(&ServerFrame::Pong {}),
        }
    }

    async fn on_auth(
        &mut self,
        username: String,
        token: Option<String>,
        secret: Option<String>,
        acks: bool,
        receipts: bool,
    ) -> Flow {
        // A second `auth` on one socket starts over: the earlier name is removed first, so
        // no stale name stays mapped to this socket whatever the outcome.
        if let Some(previous) = &self.user {
            self.shared.log.info(
                "reauth",
                &[("conn", self.id.into()), ("previous", (&**previous).into())],
            );
            self.logout().await;
        }
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let generation = match shared.broker.token_generation(&username).await {
            Ok(generation) => generation,
            Err(err) => return self.login_unavailable(&err, &username),
        };
        let shared_secret_login = match (token, secret) {
            (Some(token), _) => {
                if let Some(flow) = self.check_username(&username) {
                    return flow;
                }
                if !config.secret.verify_token_at(&username, &token, generation) {
                    // A token of an earlier generation: revoked, and saying so helps its
                    // owner (who holds it anyway) more than it tells anyone else. Only the
                    // last few generations are tried, so a failed login costs a few hashes
                    // however often a name was revoked.
                    let recent = generation.saturating_sub(REVOKED_GENERATIONS_RECOGNISED);
                    if (recent..generation)
                        .any(|old| config.secret.verify_token_at(&username, &token, old))
                    {
                        return self.auth_failed(
                            ErrorCode::TokenRevoked,
                            "This token was revoked; ask the relay's operator for the new one",
                            &username,
                        );
                    }
                    return self.auth_failed(ErrorCode::AuthFailed, "Invalid token", &username);
                }
                false
            }
            (None, Some(secret)) => {
                if !config.allow_shared_secret {
                    return self.auth_failed(
                        ErrorCode::SharedSecretDisabled,
                        "Shared-secret login is disabled on this relay; ask its operator for a \
                         token (msg-relay token <username>) and send it as auth.token",
                        &username,
                    );
                }
                // v0.2.0 order: the secret first, then the name.
                if !config.secret.verify_shared_secret(&secret) {
                    return self.auth_failed(ErrorCode::AuthFailed, "Invalid secret", &username);
                }
                if let Some(flow) = self.check_username(&username) {
                    return flow;
                }
                true
            }
            (None, None) => {
                return self.auth_failed(
                    ErrorCode::AuthFailed,
                    "Token required: send auth with username and token",
                    &username,
                );
            }
        };
        // auth_ok goes into the queue before the session is registered, so no message
        // routed to the new session can arrive ahead of it.
        if self.reply(&ServerFrame::AuthOk {
            username: username.clone(),
        }) == Flow::Stop
        {
            return Flow::Stop;
        }
        let keeps_pending =
            acks || self.shared.config.legacy_delivery == LegacyDelivery::AckRequired;
        let handle = SessionHandle {
            conn: self.id,
            keeps_pending,
            receipts,
            outbox: self.outbox.clone(),
            closer: self.closer.clone(),
        };
        // Nothing expired may be in the backlog, even between two runs of the expiry task.
        self.shared.expire_due(Instant::now());
        let write_timeout = self.shared.config.limits.write_timeout;
        let login = match self
            .shared
            .broker
            .login(&username, generation, handle, write_timeout)
            .await
        {
            Ok(login) => login,
            Err(LoginFailure::Revoked) => {
                return self.auth_failed(
                    ErrorCode::TokenRevoked,
                    "The relay's operator revoked the tokens of this name while it logged in; \
                     ask for the new one",
                    &username,
                );
            }
            Err(LoginFailure::SlowConsumer) => {
                self.shared.metrics.rejected(ErrorCode::SlowConsumer);
                self.shared
                    .log
                    .warn("slow_consumer", &[("conn", self.id.into())]);
                self.closer.close(CloseReason::slow_consumer());
                return Flow::Stop;
            }
            Err(LoginFailure::Closed) => return Flow::Stop,
            Err(LoginFailure::Unavailable(err)) => {
                return self.login_unavailable(&err, &username);
            }
        };
        for _ in 0..login.backlog {
            self.shared.metrics.message_routed();
        }
        for _ in 0..login.redelivered {
            self.shared.metrics.message_redelivered();
        }
        let (replaced, kicked) = (login.replaced, login.kicked);
        let log = &self.shared.log;
        if shared_secret_login {
            log.warn(
                "shared_secret_login",
                &[("conn", self.id.into()), ("user", (&username).into())],
            );
        }
        log.info(
            "login",
            &[("conn", self.id.into()), ("user", (&username).into())],
        );
        for old in replaced {
            self.shared.metrics.rejected(ErrorCode::SessionReplaced);
            log.info(
                "session_replaced",
                &[
                    ("conn", old.into()),
                    ("user", (&username).into()),
                    ("by", self.id.into()),
                ],
            );
        }
        self.log_kicked(&kicked);
        self.user = Some(Arc::from(username));
        Flow::Continue
    }

    /// `None` when `username` may log in; otherwise the refusal.
    fn check_username(&mut self, username: &str) -> Option<Flow> {
        let err = validate_username(username).err()?;
        let code = match err {
            UsernameError::Empty => ErrorCode::UsernameRequired,
            _ => ErrorCode::InvalidUsername,
        };
        Some(self.auth_failed(code, err.to_string(), username))
    }

    /// Routes the `message` frame `frame` from `from` to `to` (not empty) and answers the
    /// sender.
    async fn on_send(&mut self, from: &Arc<str>, to: &str, id: &str, frame: Message) -> Flow {
        let sent = self
            .shared
            .broker
            .send(from, to, id, frame, self.frame_time)
            .await;
        let (outcome, kicked) = match sent {
            Ok(sent) => sent,
            Err(err) => return self.unavailable(&err, Some(id), Some(to)),
        };
        self.shared.log_kicked(&kicked);
        match outcome {
            SendOutcome::Accepted { status, duplicate } => {
                if duplicate {
                    self.shared.metrics.message_duplicate();
                } else if status == AckStatus::Delivered {
                    self.shared.metrics.message_routed();
                } else {
                    self.shared.metrics.message_queued();
                }
                let ack = Message::text(fast::ack_json(id, to, status, duplicate));
                match &self.shared.config.spool {
                    // Accepted means durable: every ack (`queued` and `delivered`: the message
                    // stays in its queue until written or acknowledged) goes out after the
                    // sync of the message's record, so a relay killed before the recipient
                    // had it still has it. A duplicate waits too: its first copy may not be
                    // on disk yet.
                    Some(spool) => {
                        spool.after_sync(self.outbox.clone(), ack);
                        Flow::Continue
                    }
                    None => self.push(ack),
                }
            }
            SendOutcome::RateLimited { retry_after_ms } => self.reply_error(ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: format!(
                    "Too many messages from {from} across the relay's nodes: at most {} per \
                     second (bursts of {}); this message was not accepted",
                    self.shared.config.limits.messages_per_second, self.shared.config.limits.burst
                ),
                retry_after_ms: Some(retry_after_ms),
                id: Some(id.to_owned()),
                max_bytes: None,
                to: Some(to.to_owned()),
                limit: None,
            }),
            SendOutcome::Refused(limit) => {
                let limits = &self.shared.config.limits;
                let text = match limit {
                    QueueLimit::Count => format!(
                        "The queue of {to} holds {} messages, its limit; the message was not \
                         accepted",
                        limits.queue_max_messages
                    ),
                    QueueLimit::Bytes => format!(
                        "The queue of {to} would exceed {} bytes, its limit; the message was \
                         not accepted",
                        limits.queue_max_bytes
                    ),
                    QueueLimit::SenderCount => format!(
                        "Your messages waiting in the relay's queues number {}, the limit for \
                         one sender; the message to {to} was not accepted",
                        limits.sender_queue_max_messages
                    ),
                    QueueLimit::SenderBytes => format!(
                        "Your messages waiting in the relay's queues would exceed {} bytes, the \
                         limit for one sender; the message to {to} was not accepted",
                        limits.sender_queue_max_bytes
                    ),
                    _ => format!(
                        "The relay's queues hold {} bytes, their limit; the message to {to} was \
                         not accepted",
                        limits.queue_total_bytes
                    ),
                };
                let frame = ServerFrame::Error {
                    code: ErrorCode::QueueFull,
                    message: text,
                    retry_after_ms: None,
                    id: Some(id.to_owned()),
                    max_bytes: None,
                    to: Some(to.to_owned()),
                    limit: Some(limit),
                };
                self.reply_error(frame)
            }
        }
    }

    /// The shared store did not answer: a retryable `unavailable` error about the frame
    /// (`id` and `to` of a `send`), and nothing acknowledged.
    fn unavailable(&mut self, err: &BrokerError, id: Option<&str>, to: Option<&str>) -> Flow {
        self.shared.log_broker_error(err);
        self.reply_error(ServerFrame::Error {
            code: ErrorCode::Unavailable,
            message: "The relay's store is not answering; nothing was done, try again".to_owned(),
            retry_after_ms: Some(UNAVAILABLE_RETRY_AFTER_MS),
            id: id.map(str::to_owned),
            max_bytes: None,
            to: to.map(str::to_owned),
            limit: None,
        })
    }

    /// A login the shared store could not take: `unavailable`, and the socket closed with
    /// 1013 (try again later), so the client reconnects, perhaps to another node.
    fn login_unavailable(&mut self, err: &BrokerError, username: &str) -> Flow {
        self.shared.log_broker_error(err);
        self.shared.log.warn(
            "login_unavailable",
            &[("conn", self.id.into()), ("user", username.into())],
        );
        self.refuse(
            ErrorCode::Unavailable,
            "The relay's store is not answering; log in again in a moment",
            close::TRY_AGAIN_LATER,
            "store unavailable",
        );
        Flow::Stop
    }

    fn auth_required(&mut self) -> Flow {
        self.reject(
            ErrorCode::AuthRequired,
            "Authenticate first: send auth with username and token",
        )
    }

    /// A failed login: the v0.2.0 behaviour (an `error` frame, then the socket is closed).
    fn auth_failed(&mut self, code: ErrorCode, message: impl Into<String>, username: &str) -> Flow {
        self.shared.metrics.auth_failure();
        self.shared.log.warn(
            "auth_failed",
            &[
                ("conn", self.id.into()),
                ("user", username.into()),
                ("reason", code.as_str().into()),
            ],
        );
        self.refuse(code, message, close::AUTH_FAILED, "authentication failed");
        Flow::Stop
    }

    /// Ends the connection with an `error` frame and a close frame.
    fn refuse(
        &mut self,
        code: ErrorCode,
        message: impl Into<String>,
        close_code: u16,
        close_reason: &'static str,
    ) {
        self.shared.metrics.rejected(code);
        self.closer.close(CloseReason::refused(
            code,
            message,
            close_code,
            close_reason,
        ));
    }

    /// Answers with an `error` frame and goes on.
    fn reject(&mut self, code: ErrorCode, message: impl Into<String>) -> Flow {
        self.reply_error(ServerFrame::error(code, message))
    }

    fn reply_error(&mut self, frame: ServerFrame) -> Flow {
        if let ServerFrame::Error { code, .. } = &frame {
            self.shared.metrics.rejected(*code);
        }
        self.reply(&frame)
    }

    fn reply(&mut self, frame: &ServerFrame) -> Flow {
        self.push(Message::text(frame.to_json()))
    }

    /// Queues a frame for this connection. A full queue means the client is not reading
    /// what it asked for (a flood of pings, say): it is disconnected like any slow reader.
    fn push(&mut self, frame: Message) -> Flow {
        match self.outbox.push(frame) {
            Push::Queued => Flow::Continue,
            Push::Full => {
                self.shared.metrics.rejected(ErrorCode::SlowConsumer);
                self.shared
                    .log
                    .warn("slow_consumer", &[("conn", self.id.into())]);
                self.closer.close(CloseReason::slow_consumer());
                Flow::Stop
            }
            Push::Closed => Flow::Stop,
        }
    }

    async fn logout(&mut self) {
        if let Some(user) = self.user.take() {
            let kicked = match self.shared.broker.logout(self.id).await {
                Ok(kicked) => kicked,
                // Still registered in Redis: replaced by the user's next login, or swept
                // with this node.
                Err(err) => {
                    self.shared.log_broker_error(&err);
                    Kicked::new()
                }
            };
            self.shared.log.info(
                "logout",
                &[("conn", self.id.into()), ("user", (&*user).into())],
            );
            self.log_kicked(&kicked);
        }
    }

    fn log_kicked(&self, kicked: &Kicked) {
        self.shared.log_kicked(kicked);
    }
}

/// Drains the outbox into the socket until the connection closes, then sends the closing
/// frames the reason asks for. After each flush it tells the broker which messages it
/// wrote (those that count as delivered on write then leave their queues); what it fed and
/// did not flush stays queued.
async fn write_loop<W: Sink<Message> + Unpin>(
    mut sink: W,
    mut frames: mpsc::Receiver<Outgoing>,
    queued_bytes: Arc<AtomicUsize>,
    closer: Closer,
    mut closed: watch::Receiver<Option<CloseReason>>,
    shared: Arc<Shared>,
) {
    let write_timeout = shared.config.limits.write_timeout;
    // Messages fed since the last flush that are delivered once written.
    let mut written: Vec<QueuedAt> = Vec::new();
    let feed = |outgoing: Outgoing, written: &mut Vec<QueuedAt>| {
        queued_bytes.fetch_sub(outgoing.frame.len(), Ordering::AcqRel);
        written.extend(outgoing.on_write);
        outgoing.frame
    };
    loop {
        let first = tokio::select! {
            biased;
            _ = closed.changed() => break,
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
        };
        // Take what else is queued and flush once: fewer syscalls under load.
        let batch = async {
            let mut count = 0u64;
            let mut next = Some(first);
            while let Some(outgoing) = next.take() {
                sink.feed(feed(outgoing, &mut written)).await?;
                count += 1;
                if count < WRITE_BATCH as u64 {
                    next = frames.try_recv().ok();
                }
            }
            sink.flush().await?;
            Ok::<u64, W::Error>(count)
        };
        tokio::select! {
            biased;
            // A kick (replaced, too slow, shutdown) interrupts a write stuck on a full socket.
            _ = closed.changed() => break,
            result = tokio::time::timeout(write_timeout, batch) => match result {
                Ok(Ok(count)) => {
                    shared.metrics.frames_out(count);
                    if !written.is_empty() {
                        shared.written(std::mem::take(&mut written));
                    }
                }
                Ok(Err(_)) => {
                    closer.close(CloseReason::peer_gone("write_error"));
                    break;
                }
                Err(_) => {
                    shared.metrics.rejected(ErrorCode::SlowConsumer);
                    closer.close(CloseReason::peer_gone("write_timeout"));
                    break;
                }
            },
        }
    }
    // Fed and perhaps not written: those stay queued (delivered again at the next login).
    written.clear();
    let reason = closed
        .borrow()
        .clone()
        .unwrap_or_else(|| CloseReason::peer_gone("closed"));
    let closing = async {
        let mut count = 0u64;
        if reason.drain {
            while let Ok(outgoing) = frames.try_recv() {
                sink.feed(feed(outgoing, &mut written)).await?;
                count += 1;
            }
        }
        if let Some(error) = &reason.error {
            sink.feed(Message::text(error.to_json())).await?;
            count += 1;
        }
        if let Some((code, text)) = reason.close {
            sink.feed(close_message(code, text)).await?;
        }
        // Flushes, and completes the closing handshake a client started.
        sink.close().await?;
        Ok::<u64, W::Error>(count)
    };
    // Best effort within the write timeout: a client that is gone or not reading does not
    // keep the connection (and its slot in the connection limit) for longer.
    if let Ok(Ok(count)) = tokio::time::timeout(write_timeout, closing).await {
        shared.metrics.frames_out(count);
        if !written.is_empty() {
            shared.written(written);
        }
    }
}

/// The relay's local time as v0.2.0 wrote it when a `send` had no timestamp:
/// `YYYY-MM-DDTHH:MM:SS`, no zone.
/// Formatted once per second per thread: a flood of sends without timestamps would otherwise
/// spend a noticeable part of the relay's time on the calendar.
fn with_local_timestamp<R>(use_it: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((u64::MAX, String::new()))
        };
    }
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    LAST.with_borrow_mut(|(cached_second, text)| {
        if *cached_second != second {
            let now = msg_core::timestamp::now_local();
            *text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            );
            *cached_second = second;
        }
        use_it(text)
    })
}

/// The connection logic fed by channels instead of a socket, on a paused clock: timeouts
/// and the heartbeat are checked to the millisecond without any real waiting or I/O.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::config::{LogLevel, RelayConfig};
    use crate::limits::Limits;
    use crate::token::ServerSecret;

    const SECRET: &str = "unit-test-secret-0123456789";

    fn close_code(message: &Message) -> Option<u16> {
        match message {
            Message::Close(Some(frame)) => Some(u16::from(frame.code)),
            _ => None,
        }
    }

    struct Harness {
        to_relay: UnboundedSender<Result<Message, std::io::Error>>,
        from_relay: UnboundedReceiver<Message>,
        _shutdown: watch::Sender<bool>,
    }

    impl Harness {
        fn start(limits: Limits) -> Harness {
            let (shared, shutdown) = shared(limits);
            Harness::connect(shared, shutdown)
        }

        /// Another connection to the same relay state.
        fn connect(shared: Arc<Shared>, shutdown: watch::Sender<bool>) -> Harness {
            let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
            let (to_relay, incoming) = unbounded();
            let (outgoing, from_relay) = unbounded();
            tokio::spawn(serve_halves(incoming, outgoing, shared, permit, None));
            Harness {
                to_relay,
                from_relay,
                _shutdown: shutdown,
            }
        }

        fn send(&self, message: Message) {
            self.to_relay.unbounded_send(Ok(message)).unwrap();
        }

        fn send_json(&self, json: &str) {
            self.send(Message::text(json));
        }

        fn login(&self, username: &str) {
            let token = ServerSecret::new(SECRET).unwrap().token_for(username);
            self.send_json(&format!(
                r#"{{"type":"auth","username":"{username}","token":"{token}"}}"#
            ));
        }

        async fn next(&mut self) -> Message {
            self.from_relay
                .next()
                .await
                .expect("the relay wrote nothing more")
        }

        async fn next_text(&mut self) -> String {
            let message = self.next().await;
            message.to_text().expect("a text frame").to_owned()
        }

        /// The next text frame, the relay's heartbeat pings skipped (and answered).
        async fn next_text_answering_pings(&mut self) -> String {
            loop {
                let message = self.next().await;
                if message.is_ping() {
                    self.send(Message::Pong(Default::default()));
                    continue;
                }
                return message.to_text().expect("a text frame").to_owned();
            }
        }

        async fn expect_closed(&mut self, code: u16) {
            let message = self.next().await;
            assert_eq!(close_code(&message), Some(code));
            assert!(self.from_relay.next().await.is_none(), "frames after close");
        }
    }

    fn shared(limits: Limits) -> (Arc<Shared>, watch::Sender<bool>) {
        let config = RelayConfig {
            limits,
            log_level: LogLevel::Off,
            ..RelayConfig::new(ServerSecret::new(SECRET).unwrap())
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (alive, _) = mpsc::channel(1);
        let broker = crate::broker::Broker::Local(crate::registry::Registry::new(
            config.presence,
            &config.limits,
            None,
        ));
        (
            Arc::new(Shared::new(config, broker, shutdown_rx, alive)),
            shutdown,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_message_expires_at_its_ttl_and_its_online_sender_is_told() {
        let start = Instant::now();
        let (shared, shutdown) = shared(Limits {
            queue_ttl: Duration::from_secs(45),
            ..Limits::default()
        });
        tokio::spawn(crate::shared::broker_loop(Arc::clone(&shared), None));
        let mut alice = Harness::connect(Arc::clone(&shared), shutdown.clone());
        alice.login("alice");
        assert!(alice.next_text().await.contains("auth_ok"));
        assert_eq!(alice.next_text().await, r#"{"type":"synced","backlog":0}"#);
        alice.send_json(r#"{"type":"send","to":"bob","content":"hi","id":"m1"}"#);
        assert_eq!(
            alice.next_text().await,
            r#"{"type":"ack","id":"m1","to":"bob","status":"queued","duplicate":false}"#
        );
        // A second message 10 s later expires 10 s later.
        tokio::time::sleep(Duration::from_secs(10)).await;
        alice.send_json(r#"{"type":"send","to":"bob","content":"hi","id":"m2"}"#);
        assert!(alice.next_text().await.contains(r#""status":"queued""#));

        let expired = alice.next_text_answering_pings().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(45) && waited <= Duration::from_secs(46),
            "{waited:?}"
        );
        assert!(expired.contains(r#""code":"expired""#), "{expired}");
        assert!(expired.contains(r#""id":"m1""#), "{expired}");
        assert!(expired.contains(r#""to":"bob""#), "{expired}");

        // Bob logs in before m2's time is up: only m2 is left.
        tokio::time::sleep_until(start + Duration::from_secs(50)).await;
        let mut bob = Harness::connect(Arc::clone(&shared), shutdown.clone());
        bob.login("bob");
        assert!(bob.next_text().await.contains("auth_ok"));
        assert!(bob.next_text().await.contains(r#""id":"m2""#));
        assert_eq!(bob.next_text().await, r#"{"type":"synced","backlog":1}"#);
        assert_eq!(shared.broker.queue_totals(), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_that_expired_is_not_in_the_backlog_even_between_expiry_runs() {
        // No expiry task at all: the login itself drops what is past its time to live.
        let (shared, shutdown) = shared(Limits {
            queue_ttl: Duration::from_secs(30),
            ..Limits::default()
        });
        let mut alice = Harness::connect(Arc::clone(&shared), shutdown.clone());
        alice.login("alice");
        alice.send_json(r#"{"type":"send","to":"bob","content":"hi","id":"m1"}"#);
        for _ in 0..3 {
            alice.next_text().await; // auth_ok, synced, ack
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        let mut bob = Harness::connect(Arc::clone(&shared), shutdown);
        bob.login("bob");
        assert!(bob.next_text().await.contains("auth_ok"));
        assert_eq!(bob.next_text().await, r#"{"type":"synced","backlog":0}"#);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unauthenticated_connection_is_closed_exactly_at_the_auth_timeout() {
        let start = Instant::now();
        let mut relay = Harness::start(Limits::default());
        relay.send_json(r#"{"type":"ping"}"#);
        assert_eq!(relay.next_text().await, r#"{"type":"pong"}"#);
        let error = relay.next_text().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert!(error.contains(r#""code":"auth_timeout""#), "{error}");
        relay.expect_closed(close::POLICY).await;
    }

    #[tokio::test(start_paused = true)]
    async fn pongs_keep_a_connection_and_silence_closes_it_after_the_idle_timeout() {
        let start = Instant::now();
        let mut relay = Harness::start(Limits::default());
        relay.login("alice");
        assert!(relay.next_text().await.contains("auth_ok"));
        assert_eq!(relay.next_text().await, r#"{"type":"synced","backlog":0}"#);
        // Pings every 30 s; answering keeps the connection open.
        for round in 1..=3u64 {
            assert!(relay.next().await.is_ping());
            assert_eq!(start.elapsed(), Duration::from_secs(30 * round));
            relay.send(Message::Pong(Default::default()));
        }
        // Then silence: two more pings, and the connection closes 90 s after the last pong.
        assert!(relay.next().await.is_ping());
        assert!(relay.next().await.is_ping());
        let error = relay.next_text().await;
        assert_eq!(start.elapsed(), Duration::from_secs(90 + 90));
        assert!(error.contains(r#""code":"idle_timeout""#), "{error}");
        relay.expect_closed(close::POLICY).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_client_that_waits_retry_after_ms_is_served() {
        let mut relay = Harness::start(Limits {
            messages_per_second: 10,
            burst: 2,
            ..Limits::default()
        });
        relay.login("alice"); // first token
        assert!(relay.next_text().await.contains("auth_ok"));
        assert_eq!(relay.next_text().await, r#"{"type":"synced","backlog":0}"#);
        relay.send_json(r#"{"type":"ping"}"#); // second token
        assert_eq!(relay.next_text().await, r#"{"type":"pong"}"#);
        relay.send_json(r#"{"type":"ping"}"#);
        let error = relay.next_text().await;
        assert!(error.contains(r#""code":"rate_limited""#), "{error}");
        assert!(error.contains(r#""retry_after_ms":100"#), "{error}");
        tokio::time::sleep(Duration::from_millis(99)).await;
        relay.send_json(r#"{"type":"ping"}"#);
        assert!(relay.next_text().await.contains("rate_limited"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        relay.send_json(r#"{"type":"ping"}"#);
        assert_eq!(relay.next_text().await, r#"{"type":"pong"}"#);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_closes_with_1001_and_run_learns_that_every_connection_ended() {
        let config = RelayConfig {
            log_level: LogLevel::Off,
            ..RelayConfig::new(ServerSecret::new(SECRET).unwrap())
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (alive, mut all_ended) = mpsc::channel::<()>(1);
        let broker = crate::broker::Broker::Local(crate::registry::Registry::new(
            config.presence,
            &config.limits,
            None,
        ));
        let shared = Arc::new(Shared::new(config, broker, shutdown_rx, alive));
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let (to_relay, incoming) = unbounded::<Result<Message, std::io::Error>>();
        let (outgoing, mut from_relay) = unbounded();
        tokio::spawn(serve_halves(incoming, outgoing, shared, permit, None));
        to_relay
            .unbounded_send(Ok(Message::text(r#"{"type":"ping"}"#)))
            .unwrap();
        assert_eq!(
            from_relay.next().await.unwrap().to_text().unwrap(),
            r#"{"type":"pong"}"#
        );
        shutdown.send(true).unwrap();
        let close = from_relay.next().await.unwrap();
        assert_eq!(close_code(&close), Some(close::GOING_AWAY));
        assert!(all_ended.recv().await.is_none());
    }
}
