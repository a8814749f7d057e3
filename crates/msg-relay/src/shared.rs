//! What every connection and route shares: the configuration, the broker (sessions and
//! queues, in this process or in Redis), metrics, the logger and the shutdown signal, plus
//! the background task of the broker: the expiry of queued messages on a single node; on
//! Redis, the events published to this node and the heartbeat with its sweeps.
//!
//! Its own module so that `server.rs` (which creates it) and `connection.rs` (which uses it)
//! both depend on it and not on each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::broker::redis::events::{KickReason, NodeEvent};
use crate::broker::redis::node::Report;
use crate::broker::{Broker, BrokerError};
use crate::config::RelayConfig;
use crate::log::Logger;
use crate::metrics::Metrics;
use crate::protocol::ErrorCode;
use crate::registry::Kicked;
use crate::session::{ConnId, QueuedAt};

/// How often the expiry task looks for messages at the end of their time to live, at most.
const EXPIRY_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// What every connection and route shares.
pub(crate) struct Shared {
    pub(crate) config: RelayConfig,
    pub(crate) broker: Broker,
    pub(crate) metrics: Metrics,
    pub(crate) log: Logger,
    /// One permit per WebSocket connection: the connection limit.
    pub(crate) connections: Arc<Semaphore>,
    /// Turns `true` when the relay shuts down; the sender is held by [`run`].
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Held by a token revocation (`admin.rs`) from reading the generations to applying
    /// them, so that two revocations cannot lose one another's generation.
    pub(crate) revoking: tokio::sync::Mutex<()>,
    next_conn: AtomicU64,
    /// Keys the IDs the relay generates for sends without one: different for every process
    /// (start time and pid), so IDs do not repeat across restarts.
    id_key: [u8; 32],
    next_id: AtomicU64,
    /// Never sent on: [`run`] holds the receiver and learns that every connection has ended
    /// when the last `Shared` (and so the last sender) is dropped.
    _alive: mpsc::Sender<()>,
}

impl Shared {
    /// `shutdown` turns `true` to close every connection; `alive` is dropped with the last
    /// `Shared`, which tells its receiver that every connection has ended.
    pub(crate) fn new(
        config: RelayConfig,
        broker: Broker,
        shutdown: watch::Receiver<bool>,
        alive: mpsc::Sender<()>,
    ) -> Shared {
        Shared {
            broker,
            metrics: Metrics::default(),
            log: Logger::new(config.log_level),
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            shutdown,
            revoking: tokio::sync::Mutex::new(()),
            next_conn: AtomicU64::new(1),
            id_key: {
                let mut hasher = blake3::Hasher::new_derive_key(
                    "datacore-messaging msg-relay generated message ids v1",
                );
                let since_epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                hasher.update(&since_epoch.as_nanos().to_le_bytes());
                hasher.update(&std::process::id().to_le_bytes());
                *hasher.finalize().as_bytes()
            },
            next_id: AtomicU64::new(0),
            _alive: alive,
            config,
        }
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// A new message ID, `relay-` and 24 hex digits, for a `send` without one.
    pub(crate) fn generate_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let hash = blake3::keyed_hash(&self.id_key, &n.to_le_bytes());
        let mut id = String::with_capacity(6 + 24);
        id.push_str("relay-");
        for byte in &hash.as_bytes()[..12] {
            use std::fmt::Write as _;
            let _ = write!(id, "{byte:02x}");
        }
        id
    }

    /// Drops the queued messages whose time to live ended at `now`, counting and logging
    /// each (senders that are online are told by the registry). On Redis the nodes' sweep
    /// does it, and a login's read skips what is too old.
    pub(crate) fn expire_due(&self, now: Instant) {
        let Broker::Local(registry) = &self.broker else {
            return;
        };
        let (reports, kicked) = registry.expire(now);
        for report in reports {
            self.metrics.message_expired();
            if report.sender_told {
                self.metrics.rejected(ErrorCode::Expired);
            }
            let expired = &report.expired;
            self.log.warn(
                "expired",
                &[
                    ("from", (&*expired.sender).into()),
                    ("to", (&*expired.to).into()),
                    ("id", (&*expired.id).into()),
                    ("delivered_unacked", u64::from(expired.written).into()),
                ],
            );
        }
        self.log_kicked(&kicked);
    }

    /// A connection's writer flushed these messages: those delivered on write leave their
    /// queues. On Redis in a task of its own, so that the writer does not wait for Redis.
    pub(crate) fn written(self: &Arc<Self>, messages: Vec<QueuedAt>) {
        match &self.broker {
            Broker::Local(registry) => {
                registry.written(&messages);
            }
            Broker::Redis(_) => {
                let shared = Arc::clone(self);
                tokio::spawn(async move {
                    // Not removed: delivered again at the next login (at-least-once).
                    if let Err(err) = shared.broker.written(&messages).await {
                        shared.log_broker_error(&err);
                    }
                });
            }
        }
    }

    /// Logs a failed Redis operation.
    pub(crate) fn log_broker_error(&self, err: &BrokerError) {
        self.log
            .warn("redis", &[("error", (&err.to_string()).into())]);
    }

    /// Counts and logs what the Redis node did on an event or a tick.
    fn report(&self, report: &Report) {
        for _ in 0..report.routed {
            self.metrics.message_routed();
        }
        self.log_kicked(&report.kicked);
        for (conn, user, reason) in &report.closed {
            let code = match reason {
                KickReason::SessionReplaced => ErrorCode::SessionReplaced,
                KickReason::TokenRevoked => ErrorCode::TokenRevoked,
            };
            self.metrics.rejected(code);
            self.log.info(
                code.as_str(),
                &[("conn", (*conn).into()), ("user", user.into())],
            );
        }
        for expired in &report.expired {
            self.metrics.message_expired();
            self.log.warn(
                "expired",
                &[
                    ("from", (&expired.sender).into()),
                    ("to", (&expired.to).into()),
                    ("id", (&expired.id).into()),
                    ("delivered_unacked", u64::from(expired.written).into()),
                ],
            );
        }
        for err in &report.errors {
            self.log_broker_error(err);
        }
    }

    /// Counts and logs connections the registry disconnected for a full outbox.
    pub(crate) fn log_kicked(&self, kicked: &Kicked) {
        for (conn, user) in kicked {
            self.metrics.rejected(ErrorCode::SlowConsumer);
            self.log.warn(
                "slow_consumer",
                &[("conn", (*conn).into()), ("user", user.into())],
            );
        }
    }
}

/// The broker's background work until shutdown. A single node drops expired messages: it
/// wakes at the next deadline, and at least every [`EXPIRY_TICK`] to see messages queued
/// meanwhile. A Redis node acts on the events published to it, and ticks (heartbeat, expiry
/// sweep, totals).
pub(crate) async fn broker_loop(shared: Arc<Shared>, events: Option<mpsc::Receiver<NodeEvent>>) {
    let mut shutdown = shared.shutdown.clone();
    match (&shared.broker, events) {
        (Broker::Local(registry), _) => loop {
            let now = Instant::now();
            let wake = registry
                .next_expiry()
                .map_or(now + EXPIRY_TICK, |deadline| {
                    deadline.min(now + EXPIRY_TICK)
                });
            tokio::select! {
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
                () = tokio::time::sleep_until(wake) => shared.expire_due(Instant::now()),
            }
        },
        (Broker::Redis(node), Some(mut events)) => {
            let mut ticks = tokio::time::interval(node.tick_interval());
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // The watch guard is dropped inside: it must not live across the awaits
                // below (it is not `Send`).
                let next = tokio::select! {
                    () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
                    _ = ticks.tick() => None,
                    event = events.recv() => match event {
                        Some(event) => Some(event),
                        None => break,
                    },
                };
                let report = match next {
                    Some(event) => node.on_event(event).await,
                    None => node.tick().await,
                };
                shared.report(&report);
            }
        }
        (Broker::Redis(_), None) => unreachable!("a Redis node starts with its events"),
    }
}
