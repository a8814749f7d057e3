//! Where the state lives that a relay shares between its connections: [`Broker`], one
//! interface inside msg-relay with two engines chosen at start (DESIGN.md §11).
//!
//! - **single node** ([`Broker::Local`], the default, no dependency): the registry and its
//!   queues in this process (`registry.rs`, `queue.rs`), made durable by the spool
//!   (`spool.rs`) when given one;
//! - **Redis** ([`Broker::Redis`], `serve --redis URL`, [`redis`]): several nodes behind a
//!   load balancer share the queues, dedupe, sessions, presence, rate limits, quotas and
//!   token generations in one Redis; each node keeps only its own connections.
//!
//! What a connection asks of either engine: log a user in (take over its sessions, write
//! its backlog, then go live), log it out, accept a `send` (dedupe, bounds, quotas, route or
//! queue), take an `ack`, take the writer's report of what it flushed, set a status, watch
//! and unwatch users. Both promise the same things to clients (docs/relay.md). Where the
//! single node cannot fail, the Redis engine can: every such call returns
//! [`BrokerError::Unavailable`] when Redis does not answer, and the caller refuses with a
//! retryable `unavailable` error instead of acknowledging anything.

pub(crate) mod redis;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use self::redis::node::{LoginError, RedisNode};
use self::redis::store::{Bound, Sent};
use crate::protocol::{AckStatus, ErrorCode, QueueLimit};
pub(crate) use crate::redis_engine::BrokerError;
use crate::registry::{Kicked, LoginStep, Registry, SendOutcome};
use crate::session::{ConnId, OutboxPermit, QueuedAt, SessionHandle};

/// The engine a relay runs on.
#[expect(
    clippy::large_enum_variant,
    reason = "one per relay, inside `Shared`: boxing would only add an indirection"
)]
pub(crate) enum Broker {
    Local(Registry),
    Redis(RedisNode),
}

/// A login that went through.
#[derive(Debug, Default)]
pub(crate) struct Login {
    /// Sessions the login replaced (on this node).
    pub(crate) replaced: Vec<ConnId>,
    /// Connections disconnected for being too slow meanwhile.
    pub(crate) kicked: Kicked,
    /// Messages written before `synced`.
    pub(crate) backlog: u64,
    /// Of them, written to a connection before (and not acknowledged).
    pub(crate) redelivered: u64,
}

/// Why a login did not go through.
#[derive(Debug)]
pub(crate) enum LoginFailure {
    /// The name's tokens were revoked while it logged in.
    Revoked,
    /// The client did not read its backlog within the write timeout.
    SlowConsumer,
    /// The connection closed (or was replaced) meanwhile.
    Closed,
    /// The shared store did not answer; nothing is registered.
    Unavailable(BrokerError),
}

impl Broker {
    /// Distinct users with a session here (on this node, for Redis).
    pub(crate) fn users_online(&self) -> usize {
        match self {
            Broker::Local(registry) => registry.users_online(),
            Broker::Redis(node) => node.users_online(),
        }
    }

    /// Messages and bytes in all queues (for Redis: the whole relay's, as last read).
    pub(crate) fn queue_totals(&self) -> (usize, usize) {
        match self {
            Broker::Local(registry) => registry.queue_totals(),
            Broker::Redis(node) => node.queue_totals(),
        }
    }

    /// `user`'s token generation: 0 until its tokens are first revoked.
    pub(crate) async fn token_generation(&self, user: &str) -> Result<u32, BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.token_generation(user)),
            Broker::Redis(node) => node.store().token_generation(user).await,
        }
    }

    /// Logs `user` in on `handle`'s connection, its token checked against `generation`:
    /// the backlog (oldest first, waiting up to `write_timeout` for room in the outbox for
    /// each frame), then `synced`, then live messages.
    pub(crate) async fn login(
        &self,
        user: &str,
        generation: u32,
        handle: SessionHandle,
        write_timeout: Duration,
    ) -> Result<Login, LoginFailure> {
        let reserve = || async {
            match tokio::time::timeout(write_timeout, handle.outbox.reserve()).await {
                Ok(Some(permit)) => Ok(permit),
                Ok(None) => Err(LoginFailure::Closed),
                Err(_) => Err(LoginFailure::SlowConsumer),
            }
        };
        match self {
            Broker::Local(registry) => {
                let keeps_pending = handle.keeps_pending;
                // The queue the backlog comes from, named in each frame whose writing
                // delivers it.
                let recipient: Arc<str> = Arc::from(user);
                let mut login = Login::default();
                let mut after = 0;
                loop {
                    let permit: OutboxPermit = reserve().await?;
                    match registry.login(
                        user,
                        generation,
                        handle.clone(),
                        after,
                        login.backlog,
                        permit,
                    ) {
                        LoginStep::Registered { replaced, kicked } => {
                            login.replaced = replaced;
                            login.kicked = kicked;
                            return Ok(login);
                        }
                        LoginStep::Revoked => return Err(LoginFailure::Revoked),
                        LoginStep::Backlog(chunk, permit) => {
                            let mut permit = Some(permit);
                            for pending in chunk {
                                let permit = match permit.take() {
                                    Some(permit) => permit,
                                    None => reserve().await?,
                                };
                                let on_write = (!keeps_pending).then(|| QueuedAt {
                                    recipient: Arc::clone(&recipient),
                                    seq: pending.seq,
                                });
                                permit.send(pending.frame, on_write);
                                after = pending.seq;
                                login.backlog += 1;
                                if pending.delivery.handed_over() {
                                    login.redelivered += 1;
                                }
                            }
                        }
                    }
                }
            }
            Broker::Redis(node) => {
                let done = node
                    .login(user, generation, handle, write_timeout)
                    .await
                    .map_err(|err| match err {
                        LoginError::Unavailable(err) => LoginFailure::Unavailable(err),
                        LoginError::Closed => LoginFailure::Closed,
                        LoginError::SlowConsumer => LoginFailure::SlowConsumer,
                        LoginError::Revoked => LoginFailure::Revoked,
                    })?;
                Ok(Login {
                    replaced: done.replaced,
                    kicked: Kicked::new(),
                    backlog: done.backlog,
                    redelivered: 0,
                })
            }
        }
    }

    /// Logs out connection `conn` (if it is still a session).
    pub(crate) async fn logout(&self, conn: ConnId) -> Result<Kicked, BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.logout(conn)),
            Broker::Redis(node) => node.logout(conn).await.map(|()| Kicked::new()),
        }
    }

    /// Accepts a message from `from` to `to` with `id`; `frame` is the `message` frame.
    pub(crate) async fn send(
        &self,
        from: &Arc<str>,
        to: &str,
        id: &str,
        frame: Message,
        now: Instant,
    ) -> Result<(SendOutcome, Kicked), BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.send(from, to, id, frame, now)),
            Broker::Redis(node) => {
                let text = frame.to_text().unwrap_or_default();
                let outcome = match node.send(from, to, id, text).await? {
                    Sent::Accepted { delivered, .. } => SendOutcome::Accepted {
                        status: status(delivered),
                        duplicate: false,
                    },
                    Sent::Duplicate { delivered } => SendOutcome::Accepted {
                        status: status(delivered),
                        duplicate: true,
                    },
                    Sent::Full(bound) => SendOutcome::Refused(match bound {
                        Bound::Count => QueueLimit::Count,
                        Bound::Bytes => QueueLimit::Bytes,
                        Bound::TotalBytes => QueueLimit::TotalBytes,
                        Bound::SenderCount => QueueLimit::SenderCount,
                        Bound::SenderBytes => QueueLimit::SenderBytes,
                    }),
                    Sent::RateLimited { retry_after_ms } => {
                        SendOutcome::RateLimited { retry_after_ms }
                    }
                };
                Ok((outcome, Kicked::new()))
            }
        }
    }

    /// The recipient `user` on `conn` acknowledged `id` of `from` (of any sender when not
    /// given). Returns how many queued messages that removed.
    pub(crate) async fn ack(
        &self,
        conn: ConnId,
        user: &str,
        from: Option<&str>,
        id: &str,
    ) -> Result<u64, BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.ack(user, from, id) as u64),
            Broker::Redis(node) => node.ack(conn, from, id).await,
        }
    }

    /// A connection's writer flushed these messages: those delivered on write leave their
    /// queues. Returns how many left.
    pub(crate) async fn written(&self, messages: &[QueuedAt]) -> Result<u64, BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.written(messages) as u64),
            Broker::Redis(node) => node.written(messages).await,
        }
    }

    /// Sets the status of `conn`'s user; watchers hear of a change.
    pub(crate) async fn set_status(
        &self,
        conn: ConnId,
        status: &str,
    ) -> Result<Kicked, BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.set_status(conn, status)),
            Broker::Redis(node) => node.set_status(conn, status).await.map(|()| Kicked::new()),
        }
    }

    /// Adds watches for `conn`; each name's current status follows as a `presence` frame.
    /// `Ok(Err(code))` when the watch limit refuses them.
    pub(crate) async fn watch(
        &self,
        conn: ConnId,
        names: &[String],
    ) -> Result<Result<Kicked, ErrorCode>, BrokerError> {
        match self {
            Broker::Local(registry) => Ok(registry.watch(conn, names)),
            Broker::Redis(node) => Ok(if node.watch(conn, names).await? {
                Ok(Kicked::new())
            } else {
                Err(ErrorCode::TooManyWatches)
            }),
        }
    }

    /// Removes watches of `conn`.
    pub(crate) async fn unwatch(&self, conn: ConnId, names: &[String]) -> Result<(), BrokerError> {
        match self {
            Broker::Local(registry) => {
                registry.unwatch(conn, names);
                Ok(())
            }
            Broker::Redis(node) => node.unwatch(conn, names).await,
        }
    }
}

fn status(delivered: bool) -> AckStatus {
    if delivered {
        AckStatus::Delivered
    } else {
        AckStatus::Queued
    }
}
